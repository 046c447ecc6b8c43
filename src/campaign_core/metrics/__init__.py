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
    DEFAULT_MIN_VALIDATION_IMPRESSIONS,
    AccuracyReport,
    ArmCounts,
    DecisionVerdict,
    WinnerDecisionRecord,
    validate_winner_decision,
    winner_determination_accuracy,
)
from campaign_core.metrics._base import (
    DEFAULT_NAMESPACE,
    MAX_DIMENSIONS,
    STANDARD_UNITS,
    MetricPoint,
    MetricsSink,
    NullMetrics,
    SinkStats,
    validate_namespace,
)
from campaign_core.metrics._catalog import (
    ALL_METRICS,
    DIMENSIONS,
    METRICS,
    OWNER_DIMENSION,
    SEED_METRICS,
    SUPPORTING_METRICS,
    DimensionSpec,
    MetricSpec,
)
from campaign_core.metrics._cloudwatch import (
    MAX_METRICS_PER_REQUEST,
    MAX_REQUEST_BYTES,
    MAX_VALUES_PER_DATUM,
    CloudWatchMetrics,
    estimate_datum_bytes,
    is_retryable_error,
)
from campaign_core.metrics._emf import (
    EMF_MAX_DOCUMENT_BYTES,
    EMF_MAX_METRICS,
    EMF_MAX_VALUES,
    EmfMetrics,
)
from campaign_core.metrics._emitter import EmitterStats, MetricsEmitter
from campaign_core.metrics._memory import InMemoryMetrics
from campaign_core.metrics._provisioning import (
    DEFAULT_DASHBOARD_NAME,
    AlarmThresholds,
    ProvisioningError,
    ProvisionOutcome,
    ProvisionReport,
    alarm_definitions,
    check_dashboard_name,
    dashboard_body,
    provision_alarms,
    provision_all,
    provision_dashboard,
)

__all__ = [
    "ALL_METRICS",
    "DEFAULT_DASHBOARD_NAME",
    "DEFAULT_MIN_VALIDATION_IMPRESSIONS",
    "DEFAULT_NAMESPACE",
    "DIMENSIONS",
    "EMF_MAX_DOCUMENT_BYTES",
    "EMF_MAX_METRICS",
    "EMF_MAX_VALUES",
    "MAX_DIMENSIONS",
    "MAX_METRICS_PER_REQUEST",
    "MAX_REQUEST_BYTES",
    "MAX_VALUES_PER_DATUM",
    "METRICS",
    "OWNER_DIMENSION",
    "SEED_METRICS",
    "STANDARD_UNITS",
    "SUPPORTING_METRICS",
    "AccuracyReport",
    "AlarmThresholds",
    "ArmCounts",
    "CloudWatchMetrics",
    "DecisionVerdict",
    "DimensionSpec",
    "EmfMetrics",
    "EmitterStats",
    "InMemoryMetrics",
    "MetricPoint",
    "MetricSpec",
    "MetricsEmitter",
    "MetricsSink",
    "NullMetrics",
    "ProvisionOutcome",
    "ProvisionReport",
    "ProvisioningError",
    "SinkStats",
    "WinnerDecisionRecord",
    "alarm_definitions",
    "check_dashboard_name",
    "dashboard_body",
    "estimate_datum_bytes",
    "is_retryable_error",
    "provision_alarms",
    "provision_all",
    "provision_dashboard",
    "validate_namespace",
    "validate_winner_decision",
    "winner_determination_accuracy",
]
