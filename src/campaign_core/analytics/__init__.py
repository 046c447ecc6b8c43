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
    compute_metrics_by_campaign,
    metrics_from_counts,
)
from campaign_core.analytics._attribution import (
    DEFAULT_ATTRIBUTION_WINDOW,
    ClickAttribution,
    attribute_last_clicks,
)
from campaign_core.analytics._compare import (
    COMPARED_METRICS,
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
    conversion_rate,
    cpa,
    ctr,
    ratio,
    roi,
)
from campaign_core.analytics._events import (
    EventBatch,
    EventKind,
    TrackingEvent,
    epoch_ms,
    from_epoch_ms,
)
from campaign_core.analytics._funnel import (
    Funnel,
    FunnelStep,
    RoiMetrics,
    campaign_roi,
    conversion_funnel,
)
from campaign_core.analytics._pacing import (
    OVERSPEND_ALARM_RATIO,
    BudgetPacing,
    PacingStatus,
    budget_pacing,
)
from campaign_core.analytics._patterns import (
    DIMENSIONS,
    Pattern,
    PatternAnalysis,
    SkippedPattern,
    identify_patterns,
)
from campaign_core.analytics._plots import plot_funnel, plot_platforms, plot_trend
from campaign_core.analytics._privacy import (
    PrivacyViolationError,
    assert_no_fan_ids,
    find_fan_ids,
    pseudonymize,
)
from campaign_core.analytics._recommendations import (
    ABTestSummary,
    Priority,
    Recommendation,
    RecommendationInputs,
    RecommendationKind,
    RecommendationSettings,
    SegmentStats,
    get_recommendations,
)
from campaign_core.analytics._report import (
    REPORT_FORMATS,
    CsvDialect,
    ReportCampaign,
    ReportData,
    build_report,
    parse_report_csv,
    render_report,
)
from campaign_core.analytics._rollup import (
    hours_to_roll_up,
    rollup_hour,
    rollup_key,
    snapshot_id,
    snapshot_rows,
)
from campaign_core.analytics._trends import (
    MetricChange,
    Trend,
    TrendBucket,
    choose_bucket,
    performance_trend,
    performance_trend_from_snapshots,
    resolve_timeframe,
)

__all__ = [
    "COMPARED_METRICS",
    "DEFAULT_ATTRIBUTION_WINDOW",
    "DIMENSIONS",
    "OVERSPEND_ALARM_RATIO",
    "REPORT_FORMATS",
    "ABTestSummary",
    "BudgetPacing",
    "CampaignMetrics",
    "CampaignSummary",
    "ClickAttribution",
    "ComparedEntry",
    "CountsRow",
    "CsvDialect",
    "DataQualityFlag",
    "EventBatch",
    "EventKind",
    "Funnel",
    "FunnelStep",
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
    "RecommendationInputs",
    "RecommendationKind",
    "RecommendationSettings",
    "ReportCampaign",
    "ReportData",
    "RoiMetrics",
    "SegmentStats",
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
    "choose_bucket",
    "compare_campaigns",
    "compare_platforms",
    "compute_metrics",
    "compute_metrics_by_campaign",
    "conversion_funnel",
    "conversion_rate",
    "cpa",
    "ctr",
    "epoch_ms",
    "find_fan_ids",
    "from_epoch_ms",
    "get_recommendations",
    "hours_to_roll_up",
    "identify_patterns",
    "metrics_from_counts",
    "parse_report_csv",
    "performance_trend",
    "performance_trend_from_snapshots",
    "plot_funnel",
    "plot_platforms",
    "plot_trend",
    "pseudonymize",
    "ratio",
    "render_report",
    "resolve_timeframe",
    "roi",
    "rollup_hour",
    "rollup_key",
    "snapshot_id",
    "snapshot_rows",
    "top_campaigns",
]
