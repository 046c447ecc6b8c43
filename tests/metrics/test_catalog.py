"""The metric catalog: the seed's names and units, bounded dimensions, no fan identifiers."""

from __future__ import annotations

from campaign_core.metrics import (
    METRICS,
    SEED_METRICS,
)
from campaign_core.metrics._base import STANDARD_UNITS
from campaign_core.metrics._catalog import (
    ALL_METRICS,
    DIMENSIONS,
    OWNER_DIMENSION,
    SUPPORTING_METRICS,
)

SEED_UNITS = {
    "CampaignsCreated": "Count",
    "CampaignsLaunched": "Count",
    "CampaignConversions": "Count",
    "CampaignRevenue": "None",
    "CampaignROI": "None",
    "AutomationsExecuted": "Count",
    "AutomationSuccessRate": "Percent",
    "AutomationExecutionTime": "Milliseconds",
    "ABTestsCreated": "Count",
    "ABTestsCompleted": "Count",
    "WinnerDeterminationAccuracy": "Percent",
}


def test_seed_metrics_have_the_seed_names_and_units() -> None:
    """The eleven seed metrics are in the catalog, in order, with the agreed units."""
    assert [m.name for m in SEED_METRICS] == list(SEED_UNITS)
    assert {m.name: m.unit for m in SEED_METRICS} == SEED_UNITS
    assert all(m.seed for m in SEED_METRICS)
    assert not any(m.seed for m in SUPPORTING_METRICS)


def test_seed_statistics_match_the_seed() -> None:
    """Revenue is summed, ROI averaged, rates averaged, counts summed."""
    assert METRICS["CampaignRevenue"].statistic == "Sum"
    assert METRICS["CampaignROI"].statistic == "Average"
    assert METRICS["AutomationSuccessRate"].statistic == "Average"
    assert METRICS["WinnerDeterminationAccuracy"].statistic == "Average"
    assert METRICS["CampaignsCreated"].statistic == "Sum"


def test_alarm_metrics_exist() -> None:
    """Every metric the four alarms read is in the catalog."""
    for name in (
        "CampaignLaunchFailures",
        "CampaignLaunchAttempts",
        "CampaignConversions",
        "CampaignClicks",
        "BudgetUtilization",
        "AutomationFailures",
    ):
        assert name in METRICS


def test_names_are_unique_and_units_valid() -> None:
    """No name appears twice and every unit is a CloudWatch unit."""
    names = [m.name for m in ALL_METRICS]
    assert len(names) == len(set(names)) == len(METRICS)
    assert all(m.unit in STANDARD_UNITS for m in ALL_METRICS)
    assert all(m.statistic in {"Sum", "Average", "Maximum"} for m in ALL_METRICS)


def test_rollups_use_known_bounded_dimensions() -> None:
    """Rollups only use catalog dimensions with a closed set of values, never the owner."""
    for metric in ALL_METRICS:
        assert metric.rollups, metric.name
        for rollup in metric.rollups:
            assert len(rollup) == len(set(rollup))
            for name in rollup:
                assert name in DIMENSIONS
                assert DIMENSIONS[name].values, f"{metric.name} uses free-form {name}"
                assert name != OWNER_DIMENSION


def test_no_identifier_dimensions() -> None:
    """No dimension names a fan, campaign, test, workflow or run identifier."""
    for name in DIMENSIONS:
        lowered = name.lower()
        assert "fan" not in lowered
        assert "user" not in lowered
        assert name == OWNER_DIMENSION or not lowered.endswith("id")


def test_alarmed_metrics_publish_a_total_series() -> None:
    """Metrics the alarms read have the empty rollup (the total series)."""
    for name in ("CampaignLaunchFailures", "CampaignLaunchAttempts", "CampaignConversions"):
        assert () in METRICS[name].rollups
    for name in ("CampaignClicks", "BudgetUtilization", "AutomationFailures"):
        assert () in METRICS[name].rollups


def test_dimension_normalization_bounds_values() -> None:
    """Known values pass (case-insensitively), unknown ones become the fallback."""
    campaign_type = DIMENSIONS["CampaignType"]
    assert campaign_type.normalize("PPV ") == "ppv"
    assert campaign_type.normalize("flash-sale") == "other"
    assert DIMENSIONS["ActionType"].normalize("my_custom_action") == "custom"
    assert DIMENSIONS[OWNER_DIMENSION].normalize("u1") == "u1"


def test_every_metric_says_where_it_is_emitted() -> None:
    """Each metric documents its meaning and where the library emits it."""
    for metric in ALL_METRICS:
        assert metric.description
        assert metric.emitted_by
