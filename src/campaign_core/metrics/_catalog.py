"""The catalog: every metric the library emits, as data.

Each :class:`MetricSpec` says what a metric means, its unit, the statistic to
read it with, where the library emits it, and its *rollups*: the dimension sets
it is published under. CloudWatch identifies a series by its exact set of
dimensions and cannot sum across them, so a point is published once per rollup
(the empty rollup is the total that alarms watch; ``("CampaignType",)`` is the
per-type breakdown the dashboard shows). Every dimension has a closed set of
values; anything else is reported as the dimension's fallback value, which
keeps the number of series (and the CloudWatch bill) bounded.

Fan identifiers never appear. Campaign, test and workflow identifiers never
appear either (unbounded cardinality). The owner (creator account) id is an
opt-in rollup: see :class:`~campaign_core.metrics.MetricsEmitter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import attrs

__all__ = [
    "ALL_METRICS",
    "DIMENSIONS",
    "METRICS",
    "OWNER_DIMENSION",
    "SEED_METRICS",
    "SUPPORTING_METRICS",
    "DimensionSpec",
    "MetricSpec",
]

#: The dimension name used when the owner rollup is switched on.
OWNER_DIMENSION: Final = "OwnerId"


@attrs.frozen
class DimensionSpec:
    """A dimension the catalog uses.

    Attributes:
        name: the CloudWatch dimension name.
        values: the values it may take; ``()`` means free-form (only ``OwnerId``).
        fallback: what an unknown value is reported as.
        description: what it means.
    """

    name: str
    values: tuple[str, ...]
    fallback: str
    description: str

    def normalize(self, value: object) -> str:
        """The value to publish for ``value``: itself if known, else the fallback.

        Matching ignores case and surrounding spaces, so ``"PPV"`` is ``ppv``.
        """
        if not self.values:
            return str(value)
        text = str(getattr(value, "value", value)).strip().lower()
        return text if text in self.values else self.fallback


@attrs.frozen
class MetricSpec:
    """One metric of the catalog.

    Attributes:
        name: the CloudWatch metric name.
        unit: its CloudWatch unit.
        statistic: the statistic that answers the metric's question
            (``Sum`` for counts, ``Average`` for rates and ratios,
            ``Maximum`` for gauges).
        description: what one data point means.
        emitted_by: where the library emits it.
        rollups: the dimension sets each point is published under.
        owner_rollup: whether the opt-in owner rollup applies to it.
        seed: whether the seed design lists it.
    """

    name: str
    unit: str
    statistic: str
    description: str
    emitted_by: str
    rollups: tuple[tuple[str, ...], ...]
    owner_rollup: bool = True
    seed: bool = False

    @property
    def dimension_names(self) -> frozenset[str]:
        """Every dimension any rollup of this metric uses."""
        return frozenset(name for rollup in self.rollups for name in rollup)


_DIMENSIONS: tuple[DimensionSpec, ...] = (
    DimensionSpec(
        "CampaignType",
        ("ppv", "subscription", "promotion", "engagement", "retention"),
        "other",
        "The campaign's type.",
    ),
    DimensionSpec(
        "Platform",
        ("onlyfans", "instagram", "tiktok", "reddit"),
        "other",
        "The platform a campaign publishes to or an event came from.",
    ),
    DimensionSpec(
        "Status",
        ("draft", "scheduled", "active", "paused", "completed", "cancelled"),
        "other",
        "A campaign status.",
    ),
    DimensionSpec(
        "TriggerType",
        ("event", "behavior", "time", "segment_entered"),
        "other",
        "The kind of trigger that started an automation run.",
    ),
    DimensionSpec(
        "RunStatus",
        ("success", "failure", "partial"),
        "other",
        "How an automation run ended.",
    ),
    DimensionSpec(
        "ActionType",
        (
            "wait",
            "send_message",
            "check_engagement",
            "create_campaign",
            "add_to_segment",
            "remove_from_segment",
            "update_fan",
            "emit_event",
            "exit",
        ),
        "custom",
        "An automation action type; host-registered types are reported as 'custom'.",
    ),
    DimensionSpec(
        "Outcome",
        (
            "winner",
            "no_winner",
            "below_minimum_sample",
            "underpowered",
            "before_horizon",
            "not_significant",
            "sample_ratio_mismatch",
            "inconsistent_counts",
            "risk_above_threshold",
            "guardrail_failed",
        ),
        "other",
        "How an A/B decision or test ended.",
    ),
    DimensionSpec(
        OWNER_DIMENSION,
        (),
        "",
        "The creator account (owner); only when the owner rollup is switched on.",
    ),
)

#: Every dimension the catalog uses, by name.
DIMENSIONS: Final[Mapping[str, DimensionSpec]] = MappingProxyType({d.name: d for d in _DIMENSIONS})

_TOTAL: tuple[str, ...] = ()

#: The eleven metrics the seed design lists, in its order.
SEED_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        "CampaignsCreated",
        "Count",
        "Sum",
        "One campaign created (directly, from a template, or by duplication).",
        "campaigns.create_campaign, create_from_template, duplicate_campaign",
        (_TOTAL, ("CampaignType",)),
        seed=True,
    ),
    MetricSpec(
        "CampaignsLaunched",
        "Count",
        "Sum",
        "One campaign moved to active (manual launch or scheduled launch in tick()).",
        "campaigns.launch_campaign; core.tick() scheduled launches",
        (_TOTAL, ("CampaignType",)),
        seed=True,
    ),
    MetricSpec(
        "CampaignConversions",
        "Count",
        "Sum",
        "One conversion tracked.",
        "analytics.track_conversion, track_events",
        (_TOTAL, ("CampaignType",), ("Platform",)),
        seed=True,
    ),
    MetricSpec(
        "CampaignRevenue",
        "None",
        "Sum",
        "The value of one tracked conversion, in the campaign's currency (unit None: "
        "CloudWatch has no currency unit). Sum = revenue, Average = revenue per conversion.",
        "analytics.track_conversion, track_events",
        (_TOTAL, ("CampaignType",), ("Platform",)),
        seed=True,
    ),
    MetricSpec(
        "CampaignROI",
        "None",
        "Average",
        "One campaign's ROI as a ratio, (revenue - spent) / spent (0.25 means +25%), "
        "for campaigns that have spent something.",
        "core.tick() hourly metric roll-up (active campaigns); campaigns.complete_campaign",
        (_TOTAL, ("CampaignType",)),
        seed=True,
    ),
    MetricSpec(
        "AutomationsExecuted",
        "Count",
        "Sum",
        "One automation run finished (success, failure or partial).",
        "automation engine when a run ends (core.tick(), automations.execute_workflow)",
        (_TOTAL, ("TriggerType",), ("RunStatus",)),
        seed=True,
    ),
    MetricSpec(
        "AutomationSuccessRate",
        "Percent",
        "Average",
        "100 when a finished run succeeded, 0 otherwise; Average over a period is the "
        "success rate in percent.",
        "automation engine when a run ends",
        (_TOTAL, ("TriggerType",)),
        seed=True,
    ),
    MetricSpec(
        "AutomationExecutionTime",
        "Milliseconds",
        "Average",
        "Processing time of one finished run: time spent executing its steps, waits excluded.",
        "automation engine when a run ends",
        (_TOTAL, ("TriggerType",)),
        seed=True,
    ),
    MetricSpec(
        "ABTestsCreated",
        "Count",
        "Sum",
        "One A/B test created.",
        "campaigns.create_ab_test",
        (_TOTAL,),
        seed=True,
    ),
    MetricSpec(
        "ABTestsCompleted",
        "Count",
        "Sum",
        "One A/B test completed, with a winner applied (Outcome=winner) or ended without "
        "one (Outcome=no_winner).",
        "campaigns.apply_winner; test completion",
        (_TOTAL, ("Outcome",)),
        seed=True,
    ),
    MetricSpec(
        "WinnerDeterminationAccuracy",
        "Percent",
        "Average",
        "100 when a validated winner decision was confirmed by post-decision data, 0 when "
        "refuted; Average over a period is the accuracy in percent (see "
        "winner_determination_accuracy).",
        "core.tick() hourly roll-up, when a decision's validation window closes",
        (_TOTAL,),
        seed=True,
    ),
)

#: Metrics the alarms and the dashboard need beyond the seed's list.
SUPPORTING_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        "CampaignLaunchAttempts",
        "Count",
        "Sum",
        "One launch attempt, successful or not (denominator of the failure-rate alarm).",
        "campaigns.launch_campaign; core.tick() scheduled launches",
        (_TOTAL, ("CampaignType",)),
    ),
    MetricSpec(
        "CampaignLaunchFailures",
        "Count",
        "Sum",
        "One failed launch: refused before going active, or activated but a platform's "
        "publication failed for good (retries exhausted). At most one per attempt.",
        "campaigns.launch_campaign; core.tick() publish retries",
        (_TOTAL, ("CampaignType",)),
    ),
    MetricSpec(
        "PublishAttempts",
        "Count",
        "Sum",
        "One publish attempt, retries included: a Publisher call, or an attempt that "
        "failed before it (a credential that cannot be opened, an unexpected error).",
        "campaigns.publish_to_platforms; launch; core.tick() publish retries",
        (_TOTAL, ("Platform",)),
    ),
    MetricSpec(
        "PublishFailures",
        "Count",
        "Sum",
        "One publish attempt that failed (retryable or not).",
        "campaigns.publish_to_platforms; launch; core.tick() publish retries",
        (_TOTAL, ("Platform",)),
    ),
    MetricSpec(
        "CampaignImpressions",
        "Count",
        "Sum",
        "Impressions tracked (a batch is one point whose value is its size).",
        "analytics.track_impression, track_events",
        (_TOTAL, ("CampaignType",), ("Platform",)),
    ),
    MetricSpec(
        "CampaignClicks",
        "Count",
        "Sum",
        "Clicks tracked (denominator of the conversion-rate alarm).",
        "analytics.track_click, track_events",
        (_TOTAL, ("CampaignType",), ("Platform",)),
    ),
    MetricSpec(
        "BudgetUtilization",
        "Percent",
        "Maximum",
        "One campaign's spent / budget x 100 after spend is recorded; Maximum over a period "
        "is the most overspent campaign.",
        "campaigns.record_spend; analytics cost tracking",
        (_TOTAL, ("CampaignType",)),
    ),
    MetricSpec(
        "CampaignsByStatus",
        "Count",
        "Maximum",
        "Gauge: how many campaigns are in a status when the roll-up runs.",
        "core.tick() hourly metric roll-up",
        (("Status",),),
        owner_rollup=False,
    ),
    MetricSpec(
        "AutomationFailures",
        "Count",
        "Sum",
        "One automation run that ended in failure.",
        "automation engine when a run ends",
        (_TOTAL, ("TriggerType",)),
    ),
    MetricSpec(
        "AutomationActionFailures",
        "Count",
        "Sum",
        "One action attempt that failed (each retry counts).",
        "automation engine, per failed action attempt",
        (_TOTAL, ("ActionType",)),
    ),
    MetricSpec(
        "ABTestDecisions",
        "Count",
        "Sum",
        "One determine_winner decision, by outcome (winner or the reason there is none).",
        "campaigns.determine_winner",
        (_TOTAL, ("Outcome",)),
    ),
)

#: Every metric, seed first.
ALL_METRICS: Final[tuple[MetricSpec, ...]] = SEED_METRICS + SUPPORTING_METRICS

#: Every metric by name.
METRICS: Final[Mapping[str, MetricSpec]] = MappingProxyType({m.name: m for m in ALL_METRICS})
