"""Rule-based recommendations, each with its evidence and a suggested action.

The rules (see ``docs/explanation/analytics.md``):

* **apply_ab_winner** (high): a decided A/B test whose winner is not applied yet.
* **check_ab_traffic_split** (high): a test with a sample-ratio mismatch
  (its numbers cannot be trusted until the assignment is fixed).
* **pause_campaign** (high): an active campaign losing money (ROI < 0) with
  enough spend and impressions, and, when the revenue's sum of squares is
  known, a one-sided test that its ROAS is below 1.
* **shift_budget** (medium): between two platforms of a campaign, or two
  active campaigns, whose ROAS differ significantly (Holm over the pairs):
  from the lower to the higher.
* **raise_budget** (medium): a profitable campaign (ROI > 0, tested like the
  pause) whose budget runs out before its end (or within two days when it
  has none).
* **reengage_segment** (medium when half or more is inactive, else low): a
  segment whose share of inactive members reaches the threshold.
* **extend_ab_test** (low): a test below its minimum samples or underpowered.

The order is deterministic: priority, then impact (money at stake, largest
first, unknown last), then kind, then the ids involved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from campaign_core._numeric_checks import open_unit
from campaign_core.abtesting import SEED_MIN_SAMPLE, DecisionReason, MinimumSample, WinnerDecision
from campaign_core.analytics._compare import (
    SIGNIFICANT,
    CampaignSummary,
    ComparedEntry,
    GroupComparison,
    coerce_summaries,
    compare_entries,
)
from campaign_core.analytics._definitions import MetricTotals
from campaign_core.analytics._pacing import PacingStatus, budget_pacing
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.models import StrEnum
from campaign_core.serialization import format_datetime

__all__ = [
    "ABTestSummary",
    "Priority",
    "Recommendation",
    "RecommendationInputs",
    "RecommendationKind",
    "RecommendationSettings",
    "SegmentStats",
    "get_recommendations",
]

_DAY = timedelta(days=1)


class RecommendationKind(StrEnum):
    APPLY_AB_WINNER = "apply_ab_winner"
    CHECK_AB_TRAFFIC_SPLIT = "check_ab_traffic_split"
    PAUSE_CAMPAIGN = "pause_campaign"
    SHIFT_BUDGET = "shift_budget"
    RAISE_BUDGET = "raise_budget"
    REENGAGE_SEGMENT = "reengage_segment"
    EXTEND_AB_TEST = "extend_ab_test"
    GOAL_OFF_TRACK = "goal_off_track"
    GOAL_MET = "goal_met"


class Priority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


_PRIORITY_RANK = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}
_KIND_RANK = {kind: index for index, kind in enumerate(RecommendationKind)}


@attrs.frozen(kw_only=True)
class Recommendation:
    """One suggestion.

    Attributes:
        kind: which rule.
        priority: ``high``, ``medium`` or ``low``.
        title: a short headline.
        action: what to do, in one sentence.
        evidence: the numbers behind it (camelCase keys; JSON-safe).
        impact: the money at stake, when it can be estimated (currency
            units; per day for a pause, expected extra revenue or profit for a
            budget change, revenue of the inactive members for a segment).
        campaign_id: the campaign concerned (the source of a budget shift).
        target_campaign_id: the destination of a budget shift between campaigns.
        platform: the platform concerned (the source of a shift between platforms).
        target_platform: the destination of a shift between platforms.
        test_id: the A/B test concerned.
        segment_id: the segment concerned.
    """

    kind: RecommendationKind
    priority: Priority
    title: str
    action: str
    evidence: dict[str, Any]
    impact: float | None = None
    campaign_id: str | None = None
    target_campaign_id: str | None = None
    platform: str | None = None
    target_platform: str | None = None
    test_id: str | None = None
    segment_id: str | None = None


@attrs.frozen(kw_only=True)
class ABTestSummary:
    """An A/B test as the recommendations see it.

    Attributes:
        test_id: the test.
        decision: its current :func:`campaign_core.abtesting.decide` outcome.
        campaign_id: its campaign.
        name: its name.
        applied: whether the winner was applied already.
    """

    test_id: str
    decision: WinnerDecision
    campaign_id: str | None = None
    name: str | None = None
    applied: bool = False


@attrs.frozen(kw_only=True)
class SegmentStats:
    """A segment's activity, as counts (never member ids).

    Attributes:
        segment_id: the segment.
        members: its members.
        inactive_members: members without activity in the host's window (say 30 days).
        name: its name.
        avg_revenue: average revenue per member, for the impact estimate.
    """

    segment_id: str
    members: int
    inactive_members: int
    name: str | None = None
    avg_revenue: float | None = None


@attrs.frozen(kw_only=True)
class RecommendationSettings:
    """The thresholds of the rules.

    Attributes:
        alpha: the significance level of every test (Holm within each comparison).
        min_samples: floors below which comparisons claim nothing.
        min_spend_to_pause: spend a losing campaign needs before a pause is suggested
            (also the spend a profitable one needs before more budget is).
        budget_shift_fraction: the share of the weaker side's spend suggested for a shift.
        inactive_share: the inactive share from which a segment is flagged.
        min_segment_members: segments smaller than this are left alone.
        exhaustion_horizon: for campaigns without an end, how soon a budget
            must run out to suggest raising it.
        goal_min_budget_share: the share of its budget a campaign must have
            spent before its goals are judged off track (early spend says little
            about the cost of what is left).
    """

    alpha: float = 0.05
    min_samples: MinimumSample = SEED_MIN_SAMPLE
    min_spend_to_pause: float = 100.0
    budget_shift_fraction: float = 0.2
    inactive_share: float = 0.3
    min_segment_members: int = 100
    exhaustion_horizon: timedelta = timedelta(days=2)
    goal_min_budget_share: float = 0.25


@attrs.frozen(kw_only=True)
class RecommendationInputs:
    """Everything :func:`get_recommendations` looks at.

    Attributes:
        now: the current instant (from the caller's clock).
        campaigns: the owner's campaigns (with ``by_platform`` for platform shifts,
            ``budget``/``launched_at``/``ends_at`` for pacing).
        ab_tests: the owner's A/B tests with their current decisions.
        segments: the owner's segments' activity counts.
        settings: the thresholds.
    """

    now: datetime
    campaigns: Sequence[CampaignSummary] = ()
    ab_tests: Sequence[ABTestSummary] = ()
    segments: Sequence[SegmentStats] = ()
    settings: RecommendationSettings = attrs.field(factory=RecommendationSettings)


# ---------------------------------------------------------------------- helpers


def _r(value: float | None, digits: int = 4) -> float | None:
    """Round for evidence (readable, JSON-safe: non-finite becomes None)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _active(s: CampaignSummary) -> bool:
    return s.status in (None, "active")


def _roas_one_sided(m: MetricTotals, *, below: bool) -> float | None:
    """p-value of "ROAS < 1" (``below``) or "ROAS > 1"; ``None`` when it cannot be tested.

    Revenue per impression divided by the cost per impression has mean ROAS;
    a one-sample t-test against 1 from the sum and sum of squares.
    """
    from scipy import special

    if m.revenue_sum_squares is None or m.spent <= 0 or m.impressions < 2:
        return None
    if m.conversions > m.impressions:
        return None
    n = float(m.impressions)
    try:
        cpi = m.spent / n
        total = m.revenue / cpi
        sumsq = max(m.revenue_sum_squares / (cpi * cpi), total * total / n)
        mean = total / n
        var = max(0.0, (sumsq - mean * total) / (n - 1.0))
        se = math.sqrt(var / n)
    except (ZeroDivisionError, OverflowError):  # amounts too extreme for floats: no test
        return None
    if not (math.isfinite(mean) and math.isfinite(se)):
        return None
    if se == 0:
        if mean == 1.0:
            return 1.0
        return 0.0 if (mean < 1.0) == below else 1.0
    t = (mean - 1.0) / se
    return float(special.stdtr(n - 1.0, t if below else -t))


def _days_running(s: CampaignSummary, now: datetime) -> float | None:
    if s.launched_at is None:
        return None
    return max(1.0, (now - s.launched_at) / _DAY)


# ---------------------------------------------------------------------- rules


def _ab_rules(tests: Sequence[ABTestSummary]) -> list[Recommendation]:
    out: list[Recommendation] = []
    for t in tests:
        d = t.decision
        label = t.name or t.test_id
        if d.reason == DecisionReason.SIGNIFICANT and d.winner_id is not None and not t.applied:
            comparison = next((c for c in d.comparisons if c.variant_id == d.winner_id), None)
            winner = next((v for v in d.variants if v.id == d.winner_id), None)
            out.append(
                Recommendation(
                    kind=RecommendationKind.APPLY_AB_WINNER,
                    priority=Priority.HIGH,
                    title=f"Apply the winner of '{label}'",
                    action=f"Apply variant '{winner.name if winner else d.winner_id}' to the campaign "
                    "and end the test.",
                    evidence={
                        "winnerId": d.winner_id,
                        "metric": d.metric,
                        "pValue": _r(d.p_value, 6),
                        "confidenceLevel": d.confidence_level,
                        "relativeLift": None
                        if comparison is None
                        else _r(comparison.relative_lift),
                        "winnerRate": None if winner is None else _r(winner.value, 6),
                    },
                    campaign_id=t.campaign_id,
                    test_id=t.test_id,
                )
            )
        elif d.reason == DecisionReason.SAMPLE_RATIO_MISMATCH:
            out.append(
                Recommendation(
                    kind=RecommendationKind.CHECK_AB_TRAFFIC_SPLIT,
                    priority=Priority.HIGH,
                    title=f"'{label}' does not split traffic as planned",
                    action="Check how fans are assigned to variants (caching, redirects, bots) "
                    "before trusting or applying any result.",
                    evidence={"srmPValue": _r(d.srm_p_value, 8)},
                    campaign_id=t.campaign_id,
                    test_id=t.test_id,
                )
            )
        elif d.reason in (DecisionReason.BELOW_MINIMUM_SAMPLE, DecisionReason.UNDERPOWERED):
            shortfalls = [s.to_dict() for s in d.shortfalls]
            worst = max(
                d.shortfalls,
                key=lambda s: (s.required - s.observed) / s.required if s.required else 0.0,
                default=None,
            )
            detail = (
                f"{worst.counter} of variant {worst.variant_id}: {worst.observed} of {worst.required}"
                if worst
                else f"power {d.power:.0%}"
                if d.power is not None
                else "too little data"
            )
            out.append(
                Recommendation(
                    kind=RecommendationKind.EXTEND_AB_TEST,
                    priority=Priority.LOW,
                    title=f"Let '{label}' run longer",
                    action=f"Keep the test running until it has enough data ({detail}); "
                    "do not pick a winner yet.",
                    evidence={
                        "reason": d.reason.value,
                        "power": _r(d.power),
                        "shortfalls": shortfalls,
                    },
                    campaign_id=t.campaign_id,
                    test_id=t.test_id,
                )
            )
    return out


def _pause_and_raise(
    campaigns: Sequence[CampaignSummary], now: datetime, settings: RecommendationSettings
) -> list[Recommendation]:
    out: list[Recommendation] = []
    for s in campaigns:
        if not _active(s):
            continue
        m = s.metrics
        label = s.name or s.campaign_id
        enough = (
            m.spent >= settings.min_spend_to_pause
            and m.impressions >= settings.min_samples.impressions
        )
        if m.roi is not None and m.roi < 0 and enough:
            p = _roas_one_sided(m, below=True)
            if p is None or p < settings.alpha:
                days = _days_running(s, now)
                loss = m.spent - m.revenue
                out.append(
                    Recommendation(
                        kind=RecommendationKind.PAUSE_CAMPAIGN,
                        priority=Priority.HIGH,
                        title=f"'{label}' is losing money",
                        action="Pause the campaign, then rework its offer or targeting before resuming.",
                        evidence={
                            "revenue": _r(m.revenue, 2),
                            "spent": _r(m.spent, 2),
                            "roi": _r(m.roi),
                            "impressions": m.impressions,
                            "conversions": m.conversions,
                            "pValueRoasBelow1": _r(p, 6),
                            "daysRunning": _r(days, 1),
                        },
                        impact=_r(loss / days if days else loss, 2),
                        campaign_id=s.campaign_id,
                    )
                )
            continue
        if s.budget is None or s.launched_at is None or m.roi is None or m.roi <= 0 or not enough:
            continue
        p = _roas_one_sided(m, below=False)
        if p is not None and p >= settings.alpha:
            continue
        try:
            pacing = budget_pacing(
                budget=s.budget,
                spent=s.spent_against_budget,
                started_at=s.launched_at,
                now=now,
                ends_at=s.ends_at,
            )
        except ValidationError:
            continue  # inconsistent dates (ends before it started): nothing to project
        if (
            pacing.exhausted
            or pacing.projected_exhaustion_at is None
            or pacing.spend_rate_per_day is None
        ):
            continue
        if s.ends_at is not None:
            if (
                pacing.status != PacingStatus.WILL_EXHAUST_EARLY
                or pacing.projected_spend_at_end is None
            ):
                continue
            extra = pacing.projected_spend_at_end - s.budget
            deadline = f"before its end ({s.ends_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
        else:
            if pacing.projected_exhaustion_at - now > settings.exhaustion_horizon:
                continue
            extra = pacing.spend_rate_per_day * (settings.exhaustion_horizon / _DAY)
            deadline = "within the next few days"
        out.append(
            Recommendation(
                kind=RecommendationKind.RAISE_BUDGET,
                priority=Priority.MEDIUM,
                title=f"'{label}' will run out of budget {deadline}",
                action=f"Raise the budget by about {extra:.2f} to keep a profitable campaign running.",
                evidence={
                    "budget": _r(s.budget, 2),
                    "spent": _r(pacing.spent, 2),
                    "roi": _r(m.roi),
                    "spendRatePerDay": _r(pacing.spend_rate_per_day, 2),
                    "projectedExhaustionAt": format_datetime(pacing.projected_exhaustion_at),
                    "pValueRoasAbove1": _r(p, 6),
                },
                impact=_r(extra * m.roi, 2),
                campaign_id=s.campaign_id,
            )
        )
    return out


def _goal_rules(
    campaigns: Sequence[CampaignSummary], settings: RecommendationSettings
) -> list[Recommendation]:
    """Active campaigns whose budget will not reach a goal at the cost so far, or that met all."""
    out: list[Recommendation] = []
    for s in campaigns:
        if not _active(s) or not s.goals:
            continue
        label = s.name or s.campaign_id
        measured = [g for g in s.goals if g.met is not None]
        if measured and all(g.met for g in measured):
            out.append(
                Recommendation(
                    kind=RecommendationKind.GOAL_MET,
                    priority=Priority.LOW,
                    title=f"'{label}' has reached its goals",
                    action="Complete the campaign, or raise its goals to keep it running.",
                    evidence={
                        g.metric: {"target": _r(g.target, 2), "actual": _r(g.actual, 2)}
                        for g in measured
                    },
                    campaign_id=s.campaign_id,
                )
            )
            continue
        if s.budget is None or s.budget <= 0:
            continue
        spent_share = s.spent_against_budget / s.budget
        if spent_share < settings.goal_min_budget_share:
            continue
        for g in s.goals:
            if g.projected_at_budget is None or g.projected_at_budget >= 1:
                continue
            reach = g.projected_at_budget
            out.append(
                Recommendation(
                    kind=RecommendationKind.GOAL_OFF_TRACK,
                    priority=Priority.MEDIUM if reach >= 0.5 else Priority.HIGH,
                    title=f"'{label}' will not reach its {g.metric} goal within its budget",
                    action=(
                        f"At the cost so far the budget reaches about {reach:.0%} of the"
                        f" {g.metric} goal: raise the budget, rework the offer or lower the goal."
                    ),
                    evidence={
                        "metric": g.metric,
                        "target": _r(g.target, 2),
                        "actual": _r(g.actual, 2),
                        "progress": _r(g.progress),
                        "budget": _r(s.budget, 2),
                        "spent": _r(s.spent_against_budget, 2),
                        "projectedAtBudget": _r(reach),
                    },
                    campaign_id=s.campaign_id,
                )
            )
    return out


def _best_shift(comparison: GroupComparison) -> tuple[str, str, float, float, float] | None:
    """(from, to, roas_from, roas_to, adjusted p) of the widest significant ROAS gap."""
    best: tuple[str, str, float, float, float] | None = None
    for t in comparison.tests:
        if t.metric != "roas" or t.outcome != SIGNIFICANT or t.value_a is None or t.value_b is None:
            continue
        low, high = (t.a, t.b) if t.better == t.b else (t.b, t.a)
        roas_low, roas_high = (t.value_a, t.value_b) if t.better == t.b else (t.value_b, t.value_a)
        gap = roas_high - roas_low
        key = (gap, low, high)
        if best is None or key > (best[3] - best[2], best[0], best[1]):
            best = (low, high, roas_low, roas_high, float(t.adjusted_p_value or 0.0))
    return best


def _shift_rules(
    campaigns: Sequence[CampaignSummary], settings: RecommendationSettings
) -> list[Recommendation]:
    out: list[Recommendation] = []
    fraction = settings.budget_shift_fraction
    for s in campaigns:
        if not _active(s):
            continue
        entries = [
            ComparedEntry(key=p.platform, metrics=p.metrics)
            for p in s.by_platform
            if p.platform is not None
        ]
        if len(entries) < 2:
            continue
        comparison = compare_entries(
            "platform", entries, alpha=settings.alpha, min_samples=settings.min_samples
        )
        shift = _best_shift(comparison)
        if shift is None:
            continue
        low, high, roas_low, roas_high, p = shift
        spent_low = next(e.metrics.spent for e in entries if e.key == low)
        amount = fraction * spent_low
        out.append(
            Recommendation(
                kind=RecommendationKind.SHIFT_BUDGET,
                priority=Priority.MEDIUM,
                title=f"'{s.name or s.campaign_id}' earns more per unit spent on {high} than on {low}",
                action=f"Move about {amount:.2f} of spend from {low} to {high}.",
                evidence={
                    "roasFrom": _r(roas_low),
                    "roasTo": _r(roas_high),
                    "roiFrom": _r(roas_low - 1.0),
                    "roiTo": _r(roas_high - 1.0),
                    "adjustedPValue": _r(p, 6),
                    "spentFrom": _r(spent_low, 2),
                },
                impact=_r(amount * (roas_high - roas_low), 2),
                campaign_id=s.campaign_id,
                platform=low,
                target_platform=high,
            )
        )
    active = [s for s in campaigns if _active(s) and s.metrics.spent > 0]
    if len(active) >= 2:
        # the comparison caps at 200 entities: keep the biggest spenders
        active = sorted(active, key=lambda s: (-s.metrics.spent, s.campaign_id))[:200]
        comparison = compare_entries(
            "campaign",
            [ComparedEntry(key=s.campaign_id, metrics=s.metrics) for s in active],
            alpha=settings.alpha,
            min_samples=settings.min_samples,
        )
        shift = _best_shift(comparison)
        if shift is not None:
            low, high, roas_low, roas_high, p = shift
            by_id = {s.campaign_id: s for s in active}
            amount = fraction * by_id[low].metrics.spent
            out.append(
                Recommendation(
                    kind=RecommendationKind.SHIFT_BUDGET,
                    priority=Priority.MEDIUM,
                    title=f"'{by_id[high].name or high}' returns more per unit spent than "
                    f"'{by_id[low].name or low}'",
                    action=f"Move about {amount:.2f} of budget from '{by_id[low].name or low}' "
                    f"to '{by_id[high].name or high}'.",
                    evidence={
                        "roasFrom": _r(roas_low),
                        "roasTo": _r(roas_high),
                        "roiFrom": _r(roas_low - 1.0),
                        "roiTo": _r(roas_high - 1.0),
                        "adjustedPValue": _r(p, 6),
                        "spentFrom": _r(by_id[low].metrics.spent, 2),
                    },
                    impact=_r(amount * (roas_high - roas_low), 2),
                    campaign_id=low,
                    target_campaign_id=high,
                )
            )
    return out


def _segment_rules(
    segments: Sequence[SegmentStats], settings: RecommendationSettings
) -> list[Recommendation]:
    out: list[Recommendation] = []
    for seg in segments:
        if seg.members < settings.min_segment_members or seg.members == 0:
            continue
        share = seg.inactive_members / seg.members
        if share < settings.inactive_share:
            continue
        impact = None if seg.avg_revenue is None else seg.inactive_members * seg.avg_revenue
        out.append(
            Recommendation(
                kind=RecommendationKind.REENGAGE_SEGMENT,
                priority=Priority.MEDIUM if share >= 0.5 else Priority.LOW,
                title=f"{share:.0%} of '{seg.name or seg.segment_id}' has gone quiet",
                action="Send the inactive members a win-back campaign (a retention offer or a "
                "re-engagement automation).",
                evidence={
                    "members": seg.members,
                    "inactiveMembers": seg.inactive_members,
                    "inactiveShare": _r(share),
                    "avgRevenue": _r(seg.avg_revenue, 2),
                },
                impact=_r(impact, 2),
                segment_id=seg.segment_id,
            )
        )
    return out


# ---------------------------------------------------------------------- public


def _check_inputs(inputs: object) -> RecommendationInputs:
    if not isinstance(inputs, RecommendationInputs):
        raise ValidationError.single("inputs", "must be a RecommendationInputs", "invalid_type")
    problems = ProblemCollector()
    now = inputs.now
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        problems.add("now", "must be an aware datetime", "invalid_type")
    try:
        coerce_summaries(inputs.campaigns, "campaigns")
    except ValidationError as exc:
        problems.extend(exc)
    for name, items, kind in (
        ("ab_tests", inputs.ab_tests, ABTestSummary),
        ("segments", inputs.segments, SegmentStats),
    ):
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
            problems.add(name, "must be a list", "invalid_type")
            continue
        for index, item in enumerate(items):
            if not isinstance(item, kind):
                problems.add(join_path(name, index), f"must be a {kind.__name__}", "invalid_type")
    for index, t in enumerate(inputs.ab_tests if isinstance(inputs.ab_tests, Sequence) else ()):
        decision: object = getattr(t, "decision", None)
        if isinstance(t, ABTestSummary) and not isinstance(decision, WinnerDecision):
            problems.add(
                join_path(join_path("ab_tests", index), "decision"),
                "must be a WinnerDecision",
                "invalid_type",
            )
    for index, seg_ in enumerate(inputs.segments if isinstance(inputs.segments, Sequence) else ()):
        seg: object = seg_
        if not isinstance(seg, SegmentStats):
            continue
        path = join_path("segments", index)
        counts: dict[str, object] = {
            "members": seg.members,
            "inactive_members": seg.inactive_members,
        }
        for field, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.add(join_path(path, field), "must be a count >= 0", "invalid_value")
        members, inactive = counts["members"], counts["inactive_members"]
        if isinstance(members, int) and isinstance(inactive, int) and inactive > members:
            problems.add(
                join_path(path, "inactive_members"), "cannot exceed members", "out_of_range"
            )
        avg: object = seg.avg_revenue
        if avg is not None and (
            isinstance(avg, bool) or not isinstance(avg, int | float) or not math.isfinite(avg)
        ):
            problems.add(join_path(path, "avg_revenue"), "must be a finite number", "not_finite")
    settings: object = inputs.settings
    if not isinstance(settings, RecommendationSettings):
        problems.add("settings", "must be a RecommendationSettings", "invalid_type")
    else:
        _check_settings(settings, problems)
    problems.raise_if_any()
    return inputs


def _check_settings(settings: RecommendationSettings, problems: ProblemCollector) -> None:
    try:
        open_unit("settings.alpha", settings.alpha)
        open_unit("settings.inactive_share", settings.inactive_share)
        open_unit("settings.budget_shift_fraction", settings.budget_shift_fraction)
        open_unit("settings.goal_min_budget_share", settings.goal_min_budget_share)
    except ValidationError as exc:
        problems.extend(exc)
    values: dict[str, object] = attrs.asdict(settings, recurse=False)
    if not isinstance(values["min_samples"], MinimumSample):
        problems.add("settings.min_samples", "must be a MinimumSample", "invalid_type")
    spend = values["min_spend_to_pause"]
    if (
        isinstance(spend, bool)
        or not isinstance(spend, int | float)
        or not math.isfinite(spend)
        or spend < 0
    ):
        problems.add("settings.min_spend_to_pause", "must be a finite amount >= 0", "out_of_range")
    members = values["min_segment_members"]
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        problems.add("settings.min_segment_members", "must be an integer >= 1", "out_of_range")
    horizon = values["exhaustion_horizon"]
    if not isinstance(horizon, timedelta) or horizon <= timedelta(0):
        problems.add("settings.exhaustion_horizon", "must be a positive timedelta", "out_of_range")


def _sort_key(r: Recommendation) -> tuple[Any, ...]:
    ids = tuple(
        x or ""
        for x in (
            r.campaign_id,
            r.target_campaign_id,
            r.platform,
            r.target_platform,
            r.test_id,
            r.segment_id,
        )
    )
    return (
        _PRIORITY_RANK[r.priority],
        r.impact is None,
        -(r.impact or 0.0),
        _KIND_RANK[r.kind],
        ids,
    )


def get_recommendations(inputs: RecommendationInputs) -> tuple[Recommendation, ...]:
    """Suggestions for an owner, each with its evidence (the seed's ``getRecommendations``).

    Args:
        inputs: the owner's campaigns, A/B tests and segments, ``now`` and the thresholds.

    Returns:
        The recommendations, in a deterministic order: priority, then impact
        (largest first, unknown last), then kind, then ids.

    Raises:
        ValidationError: malformed inputs, each with its path.
    """
    clean = _check_inputs(inputs)
    settings = clean.settings
    now = clean.now.astimezone(UTC)
    campaigns = list(clean.campaigns)
    found = [
        *_ab_rules(clean.ab_tests),
        *_pause_and_raise(campaigns, now, settings),
        *_shift_rules(campaigns, settings),
        *_segment_rules(clean.segments, settings),
        *_goal_rules(campaigns, settings),
    ]
    return tuple(sorted(found, key=_sort_key))
