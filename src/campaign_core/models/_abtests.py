"""A/B test records: the seed's ``ABTest`` and ``ABTestVariant`` models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from campaign_core.models._common import StrEnum

__all__ = ["ABTest", "ABTestStatus", "ABTestVariant"]


class ABTestStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class ABTest:
    """An A/B(/n) test (table ``ab_tests``).

    ``traffic_split`` maps variant names to percentages summing to 100.
    Additions to the seed: ``campaign_id`` (the campaign tested), ``policy``
    (``fixed_horizon`` or ``always_valid``), ``planned_mde`` (the effect the
    test is sized for), ``version``; and what the decision needs fixed when
    the test is created (migration ``cc0009``): ``metric`` (what it decides
    on), ``baseline_rate`` (the control rate it was planned for),
    ``planned_horizon`` (a fixed-horizon test's planned size, total trials
    over the variants), ``mixing_tau`` (the always-valid test's mixing
    standard deviation), and ``min_p_values`` (each treatment's running
    minimum always-valid p-value over the looks so far); migration ``cc0014``:
    ``guardrails`` (``[{"metric", "margin", "relative"}]``, metrics a winner
    must not degrade by the margin), ``risk_threshold`` and
    ``prob_threshold`` (the ``bayesian`` policy's, ``None`` for the defaults);
    migration ``cc0019``: ``spending`` (a ``group_sequential`` test's spending
    function) and ``looks`` (the information fractions of its recorded looks).
    """

    id: str
    user_id: str
    name: str
    status: ABTestStatus = attrs.field(default=ABTestStatus.RUNNING, converter=ABTestStatus)
    traffic_split: dict[str, Any] = attrs.field(factory=dict)
    min_sample_size: int = 100
    confidence_level: float = 0.95
    winner_id: str | None = None
    significance: float | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    campaign_id: str | None = None
    policy: str = "fixed_horizon"
    planned_mde: float | None = None
    version: int = 1
    metric: str = "conversion_rate"
    baseline_rate: float | None = None
    planned_horizon: int | None = None
    mixing_tau: float | None = None
    min_p_values: dict[str, float] | None = None
    guardrails: list[dict[str, Any]] | None = None
    risk_threshold: float | None = None
    prob_threshold: float | None = None
    spending: str | None = None
    looks: list[float] | None = None


@attrs.frozen(kw_only=True)
class ABTestVariant:
    """One variant of a test with its counters (table ``ab_test_variants``).

    Counters grow with atomic increments. ``revenue_sum_squares`` (an addition)
    lets revenue per impression be tested with Welch's t-test.
    """

    id: str
    test_id: str
    name: str
    is_control: bool = False
    content: dict[str, Any] = attrs.field(factory=dict)
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0
    created_at: datetime
    updated_at: datetime
    revenue_sum_squares: float = 0.0
    version: int = 1
