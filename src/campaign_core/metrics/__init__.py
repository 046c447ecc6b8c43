"""Metrics for CloudWatch: the MetricsSink port, the catalog, the emitter, adapters, provisioning.

Services emit through a :class:`MetricsEmitter`, which applies the catalog
(names, units, dimensions) and hands :class:`MetricPoint` values to a
:class:`MetricsSink`:

- :class:`NullMetrics` (default) discards them;
- :class:`InMemoryMetrics` keeps them, with helpers for tests;
- :class:`EmfMetrics` writes Embedded Metric Format lines (Lambda, containers);
- :class:`CloudWatchMetrics` sends them with ``PutMetricData`` (extra ``cloudwatch``).

:func:`provision_all` creates the seed's alarms and dashboard. Importing this
package never imports boto3: the CloudWatch adapter and provisioning import it
only when they build a client.
"""

from campaign_core.metrics._accuracy import (
    AccuracyReport,
    ArmCounts,
    DecisionVerdict,
    WinnerDecisionRecord,
    winner_determination_accuracy,
)
from campaign_core.metrics._accuracy import (
    validate_winner_decision as validate_winner_decision,
)
from campaign_core.metrics._base import (
    DEFAULT_NAMESPACE,
    MetricPoint,
    NullMetrics,
)
from campaign_core.metrics._base import (
    MetricsSink as MetricsSink,
)
from campaign_core.metrics._catalog import (
    METRICS,
    SEED_METRICS,
    MetricSpec,
)
from campaign_core.metrics._cloudwatch import (
    CloudWatchMetrics,
)
from campaign_core.metrics._emf import (
    EmfMetrics,
)
from campaign_core.metrics._emitter import (
    MetricsEmitter,
)
from campaign_core.metrics._memory import InMemoryMetrics
from campaign_core.metrics._provisioning import (
    AlarmThresholds,
    ProvisioningError,
    ProvisionReport,
    alarm_definitions,
    dashboard_body,
    provision_all,
)
from campaign_core.metrics._provisioning import (
    check_dashboard_name as check_dashboard_name,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "METRICS",
    "SEED_METRICS",
    "AccuracyReport",
    "AlarmThresholds",
    "ArmCounts",
    "CloudWatchMetrics",
    "DecisionVerdict",
    "EmfMetrics",
    "InMemoryMetrics",
    "MetricPoint",
    "MetricSpec",
    "MetricsEmitter",
    "NullMetrics",
    "ProvisionReport",
    "ProvisioningError",
    "WinnerDecisionRecord",
    "alarm_definitions",
    "dashboard_body",
    "provision_all",
    "winner_determination_accuracy",
]
