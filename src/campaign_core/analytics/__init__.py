"""Analytics without storage: metrics, funnels, ROI, comparisons, trends, roll-ups, insights, reports.

Everything here is a pure function over data a service reads from any store:
tracking events as columns (:class:`EventBatch`) or pre-aggregated counts
(:func:`metrics_from_counts`), campaign summaries, A/B decisions and segment
counts. Results are frozen attrs objects, JSON-ready through
:func:`campaign_core.serialization.to_json`, with no NaN or infinity and no
fan identifier anywhere.

The definitions (``docs/reference/metrics-definitions.md``):

* CTR = clicks / impressions; conversion rate = conversions / clicks;
* ROI = (revenue - spent) / spent; CPA = spent / conversions;
* reach = distinct identified fans with an impression;
* a zero denominator gives ``None``; a rate above 1 (raw tracking allows
  more clicks than impressions) is reported as is and flagged.

matplotlib (the ``reports`` extra) is imported only by the PDF and plot functions.
"""

from campaign_core.analytics._aggregate import (
    CampaignMetrics,
    CountsRow,
    PlatformMetrics,
    ReachCounts,
    VariantMetrics,
    compute_metrics,
    metrics_from_counts,
)
from campaign_core.analytics._attribution import (
    DEFAULT_ATTRIBUTION_WINDOW as DEFAULT_ATTRIBUTION_WINDOW,
)
from campaign_core.analytics._attribution import (
    ClickAttribution,
    attribute_last_clicks,
)
from campaign_core.analytics._compare import (
    CampaignSummary,
    ComparedEntry,
    GroupComparison,
    MetricLeader,
    PairwiseTest,
    RankedCampaign,
    compare_campaigns,
    compare_platforms,
    top_campaigns,
)
from campaign_core.analytics._definitions import (
    DataQualityFlag,
    MetricTotals,
)
from campaign_core.analytics._events import (
    EventBatch,
    EventKind,
    TrackingEvent,
)
from campaign_core.analytics._events import (
    epoch_ms as epoch_ms,
)
from campaign_core.analytics._events import (
    from_epoch_ms as from_epoch_ms,
)
from campaign_core.analytics._funnel import (
    Funnel,
    FunnelStep,
    RoiMetrics,
    campaign_roi,
    conversion_funnel,
)
from campaign_core.analytics._goals import GoalProgress, goal_progress
from campaign_core.analytics._pacing import (
    OVERSPEND_ALARM_RATIO as OVERSPEND_ALARM_RATIO,
)
from campaign_core.analytics._pacing import (
    BudgetPacing,
    PacingStatus,
    budget_pacing,
)
from campaign_core.analytics._patterns import (
    Pattern,
    PatternAnalysis,
    SkippedPattern,
    identify_patterns,
)
from campaign_core.analytics._plots import plot_funnel, plot_platforms, plot_trend
from campaign_core.analytics._privacy import (
    PrivacyViolationError,
    assert_no_fan_ids,
    pseudonymize,
)
from campaign_core.analytics._recommendations import (
    ABTestSummary as ABTestSummary,
)
from campaign_core.analytics._recommendations import (
    Priority,
    Recommendation,
    RecommendationKind,
)
from campaign_core.analytics._recommendations import (
    RecommendationInputs as RecommendationInputs,
)
from campaign_core.analytics._recommendations import (
    RecommendationSettings as RecommendationSettings,
)
from campaign_core.analytics._recommendations import (
    SegmentStats as SegmentStats,
)
from campaign_core.analytics._recommendations import (
    get_recommendations as get_recommendations,
)
from campaign_core.analytics._report import (
    REPORT_FORMATS as REPORT_FORMATS,
)
from campaign_core.analytics._report import (
    CsvDialect as CsvDialect,
)
from campaign_core.analytics._report import (
    ReportCampaign,
    ReportData,
    build_report,
    parse_report_csv,
    render_report,
)
from campaign_core.analytics._rollup import (
    hours_to_roll_up as hours_to_roll_up,
)
from campaign_core.analytics._rollup import (
    rollup_hour,
)
from campaign_core.analytics._rollup import (
    snapshot_rows as snapshot_rows,
)
from campaign_core.analytics._trends import (
    MetricChange,
    Trend,
    TrendBucket,
    performance_trend,
    performance_trend_from_snapshots,
)
from campaign_core.analytics._trends import (
    resolve_timeframe as resolve_timeframe,
)

__all__ = [
    "BudgetPacing",
    "CampaignMetrics",
    "CampaignSummary",
    "ClickAttribution",
    "ComparedEntry",
    "CountsRow",
    "DataQualityFlag",
    "EventBatch",
    "EventKind",
    "Funnel",
    "FunnelStep",
    "GoalProgress",
    "GroupComparison",
    "MetricChange",
    "MetricLeader",
    "MetricTotals",
    "PacingStatus",
    "PairwiseTest",
    "Pattern",
    "PatternAnalysis",
    "PlatformMetrics",
    "Priority",
    "PrivacyViolationError",
    "RankedCampaign",
    "ReachCounts",
    "Recommendation",
    "RecommendationKind",
    "ReportCampaign",
    "ReportData",
    "RoiMetrics",
    "SkippedPattern",
    "TrackingEvent",
    "Trend",
    "TrendBucket",
    "VariantMetrics",
    "assert_no_fan_ids",
    "attribute_last_clicks",
    "budget_pacing",
    "build_report",
    "campaign_roi",
    "compare_campaigns",
    "compare_platforms",
    "compute_metrics",
    "conversion_funnel",
    "goal_progress",
    "identify_patterns",
    "metrics_from_counts",
    "parse_report_csv",
    "performance_trend",
    "performance_trend_from_snapshots",
    "plot_funnel",
    "plot_platforms",
    "plot_trend",
    "pseudonymize",
    "render_report",
    "rollup_hour",
    "top_campaigns",
]
