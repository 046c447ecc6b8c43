"""What performs better: campaign type, platform, niche, launch weekday and time, price band.

For every value of every dimension (``type = ppv``, ``platform = tiktok``...)
the campaigns with that value are compared with the rest of the campaigns
that have a value in that dimension, on one rate (the conversion rate by
default). Each pattern carries:

* an **effect size**: the difference of the rates, the relative lift and
  Cohen's h (``2 asin sqrt p1 - 2 asin sqrt p0``; 0.2 is small, 0.5 medium);
* its **support**: how many campaigns and trials on each side;
* a **test**: the two-proportion z-test of the pooled counts, with the
  variance inflated by the campaigns' over-dispersion. Campaigns differ from
  each other for many reasons besides the dimension; pooling their counts as
  if every impression were an independent coin flip would call almost any
  difference "significant" once there are enough impressions. The factor
  ``phi`` (Pearson chi-square of the campaigns around their side's rate over
  its degrees of freedom, at least 1) is the quasi-binomial correction: the
  test then asks whether the difference stands out from the campaign-to-campaign
  variation, not only from the coin-flip noise;
* the **Holm-adjusted** p-value over all the patterns tested.

Nothing is claimed from small samples: a value with fewer campaigns or trials
than the minimums (on either side) is not tested and not reported as a
pattern; it is listed among ``skipped`` with the reason.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, tzinfo
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import numpy as np

from campaign_core._numeric_checks import open_unit
from campaign_core._numerics import p_value
from campaign_core.analytics._compare import CampaignSummary, coerce_summaries
from campaign_core.analytics._definitions import MetricTotals
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.stats import adjust_pvalues

__all__ = [
    "DIMENSIONS",
    "PATTERN_METRICS",
    "Pattern",
    "PatternAnalysis",
    "SkippedPattern",
    "identify_patterns",
]

PatternMetric: TypeAlias = Literal["conversion_rate", "ctr", "conversions_per_impression"]
PATTERN_METRICS: tuple[str, ...] = ("conversion_rate", "ctr", "conversions_per_impression")
DIMENSIONS: tuple[str, ...] = (
    "type",
    "platform",
    "niche",
    "launch_weekday",
    "launch_daypart",
    "price_band",
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: Launch hours grouped into four parts of the day: single hours rarely have the support.
_DAYPARTS = (
    (0, "night (00-06)"),
    (6, "morning (06-12)"),
    (12, "afternoon (12-18)"),
    (18, "evening (18-24)"),
)


@attrs.frozen(kw_only=True)
class Pattern:
    """One dimension value against the rest.

    Attributes:
        dimension: ``type``, ``platform``, ``niche``, ``launch_weekday``,
            ``launch_daypart`` or ``price_band``.
        value: the value (``ppv``, ``tiktok``, ``friday``, ``25-50``...).
        metric: the rate compared.
        rate: the pooled rate of the campaigns with the value.
        rest_rate: the pooled rate of the others.
        difference: ``rate - rest_rate``.
        relative_lift: ``rate / rest_rate - 1`` (``None`` when the rest's rate is 0).
        cohens_h: the effect size on the arcsine scale.
        campaigns: campaigns with the value.
        trials: their trials (clicks for the conversion rate, impressions otherwise).
        successes: their successes.
        rest_campaigns: the other campaigns.
        rest_trials: their trials.
        overdispersion: the variance factor ``phi`` (>= 1) applied to the test.
        statistic: the z statistic after the correction.
        p_value: its two-sided p-value.
        adjusted_p_value: Holm-adjusted over every pattern tested.
        significant: ``adjusted_p_value < alpha``.
        direction: ``better`` or ``worse`` than the rest.
        description: one sentence for a human.
    """

    dimension: str
    value: str
    metric: str
    rate: float
    rest_rate: float
    difference: float
    relative_lift: float | None
    cohens_h: float
    campaigns: int
    trials: int
    successes: int
    rest_campaigns: int
    rest_trials: int
    overdispersion: float
    statistic: float
    p_value: float
    adjusted_p_value: float
    significant: bool
    direction: str
    description: str


@attrs.frozen(kw_only=True)
class SkippedPattern:
    """A dimension value that was not tested, and why.

    Attributes:
        dimension: the dimension.
        value: the value.
        campaigns: campaigns with it.
        trials: their trials.
        reason: ``too_few_campaigns``, ``too_few_trials`` or ``too_few_successes``
            (on either side), or ``single_value`` (nothing to compare with).
    """

    dimension: str
    value: str
    campaigns: int
    trials: int
    reason: str


@attrs.frozen(kw_only=True)
class PatternAnalysis:
    """The result of :func:`identify_patterns`.

    Attributes:
        metric: the rate compared.
        alpha: the family-wise error rate (Holm over all patterns).
        patterns: the significant patterns, largest effect (``|cohens_h|``) first.
        tested: every pattern tested, significant or not, by dimension and value.
        skipped: values below the minimums, not tested and not claimed.
    """

    metric: str
    alpha: float
    patterns: tuple[Pattern, ...]
    tested: tuple[Pattern, ...]
    skipped: tuple[SkippedPattern, ...]


@attrs.frozen
class _Candidate:
    dimension: str
    value: str
    p1: float
    p0: float
    z: float
    p: float
    phi: float
    campaigns: int
    rest_campaigns: int
    successes: int
    trials: int
    rest_trials: int


@attrs.frozen
class _Unit:
    campaign_id: str
    value: str
    successes: int
    trials: int


def _rate_counts(m: MetricTotals, metric: str) -> tuple[int, int]:
    if metric == "conversion_rate":
        return m.conversions, m.clicks
    if metric == "ctr":
        return m.clicks, m.impressions
    return m.conversions, m.impressions


def _price_band(price: float | None, edges: Sequence[float]) -> str | None:
    if price is None:
        return None
    for index, edge in enumerate(edges):
        if price < edge:
            return f"<{edge:g}" if index == 0 else f"{edges[index - 1]:g}-{edge:g}"
    return f"{edges[-1]:g}+"


def _units(
    summaries: Sequence[CampaignSummary],
    dimension: str,
    metric: str,
    zone: tzinfo,
    price_bands: Sequence[float],
) -> list[_Unit]:
    units: list[_Unit] = []
    for s in summaries:
        cells: list[tuple[str | None, MetricTotals]]
        if dimension == "platform":
            cells = [(p.platform, p.metrics) for p in s.by_platform if p.platform is not None]
        else:
            value: str | None
            if dimension == "type":
                value = s.type
            elif dimension == "niche":
                value = s.niche
            elif dimension == "price_band":
                value = _price_band(s.price, price_bands)
            elif s.launched_at is None:
                value = None
            else:
                local = s.launched_at.astimezone(zone)
                if dimension == "launch_weekday":
                    value = _WEEKDAYS[local.weekday()]
                else:
                    value = next(name for start, name in reversed(_DAYPARTS) if local.hour >= start)
            cells = [(value, s.metrics)]
        for value, m in cells:
            if value is None:
                continue
            k, n = _rate_counts(m, metric)
            if k > n:  # flagged data (more successes than trials) cannot enter a proportion test
                continue
            units.append(_Unit(s.campaign_id, str(value), k, n))
    return units


def _overdispersion(units: Sequence[_Unit], value: str, p1: float, p0: float) -> float:
    chi2 = 0.0
    for u in units:
        p = p1 if u.value == value else p0
        variance = u.trials * p * (1.0 - p)
        if variance > 0:
            chi2 += (u.successes - u.trials * p) ** 2 / variance
    df = len(units) - 2
    return max(1.0, chi2 / df) if df > 0 else 1.0


def _describe(dimension: str, value: str, metric: str, p1: float, p0: float) -> str:
    label = {
        "type": f"{value} campaigns",
        "platform": f"campaigns on {value}",
        "niche": f"{value} campaigns",
        "launch_weekday": f"campaigns launched on a {value}",
        "launch_daypart": f"campaigns launched at {value}",
        "price_band": f"campaigns priced {value}",
    }[dimension]
    what = {"conversion_rate": "conversion rate", "ctr": "click-through rate"}.get(
        metric, "conversions per impression"
    )
    word = "higher" if p1 > p0 else "lower"
    return f"{label} have a {word} {what} than the rest ({p1:.2%} vs {p0:.2%})"


def identify_patterns(
    summaries: Sequence[CampaignSummary],
    *,
    metric: PatternMetric = "conversion_rate",
    alpha: float = 0.05,
    min_campaigns: int = 5,
    min_trials: int = 1000,
    min_successes: int = 30,
    price_bands: Sequence[float] = (10.0, 25.0, 50.0),
    timezone: str = "UTC",
    dimensions: Sequence[str] = DIMENSIONS,
) -> PatternAnalysis:
    """Find what performs better across an owner's campaigns (the seed's ``identifyPatterns``).

    Args:
        summaries: the campaigns (with ``type``, ``niche``, ``launched_at``,
            ``price`` and ``by_platform`` where known; unknown values leave the
            campaign out of that dimension).
        metric: ``conversion_rate`` (conversions / clicks, default), ``ctr``
            or ``conversions_per_impression``.
        alpha: the family-wise error rate over all patterns (Holm).
        min_campaigns: campaigns needed on each side of a comparison (>= 2).
        min_trials: trials needed on each side.
        min_successes: successes needed on both sides together.
        price_bands: increasing price edges; ``(10, 25, 50)`` gives ``<10``,
            ``10-25``, ``25-50`` and ``50+``.
        timezone: the zone launch weekdays and times are read in.
        dimensions: which dimensions to look at.

    Returns:
        The :class:`PatternAnalysis`.

    Raises:
        ValidationError: bad summaries or options, each with its path.
    """
    clean = coerce_summaries(summaries)
    problems = ProblemCollector()
    if metric not in PATTERN_METRICS:
        problems.add("metric", f"must be one of {', '.join(PATTERN_METRICS)}", "invalid_value")
    for name, minimum, low in (
        ("min_campaigns", min_campaigns, 2),
        ("min_trials", min_trials, 1),
        ("min_successes", min_successes, 0),
    ):
        if isinstance(minimum, bool) or not isinstance(minimum, int) or not low <= minimum <= 2**53:
            problems.add(name, f"must be an integer >= {low}", "out_of_range")
    edges = list(price_bands) if isinstance(price_bands, Sequence) else None
    if (
        edges is None
        or not edges
        or any(
            isinstance(e, bool) or not isinstance(e, int | float) or not math.isfinite(e)
            for e in edges
        )
        or any(b <= a for a, b in itertools.pairwise(edges))
    ):
        problems.add("price_bands", "must be increasing finite numbers", "invalid_value")
    if (
        isinstance(dimensions, str)
        or not isinstance(dimensions, Sequence)
        or any(d not in DIMENSIONS for d in dimensions)
    ):
        problems.add("dimensions", f"must be a list among {', '.join(DIMENSIONS)}", "invalid_value")
    problems.raise_if_any()
    alpha = open_unit("alpha", alpha)
    zone = _zone(timezone)
    assert edges is not None

    candidates: list[_Candidate] = []
    skipped: list[SkippedPattern] = []
    for dimension in dimensions:
        units = _units(clean, dimension, metric, zone, edges)
        for value in sorted({u.value for u in units}):
            group = [u for u in units if u.value == value]
            rest = [u for u in units if u.value != value]
            g_campaigns = len({u.campaign_id for u in group})
            r_campaigns = len({u.campaign_id for u in rest})
            kg, ng = sum(u.successes for u in group), sum(u.trials for u in group)
            kr, nr = sum(u.successes for u in rest), sum(u.trials for u in rest)
            reason = None
            if not rest:
                reason = "single_value"
            elif min(g_campaigns, r_campaigns) < min_campaigns:
                reason = "too_few_campaigns"
            elif min(ng, nr) < min_trials or min(ng, nr) == 0:
                reason = "too_few_trials"
            elif kg + kr < min_successes:
                reason = "too_few_successes"
            if reason:
                skipped.append(
                    SkippedPattern(
                        dimension=dimension,
                        value=value,
                        campaigns=g_campaigns,
                        trials=ng,
                        reason=reason,
                    )
                )
                continue
            p1, p0 = kg / ng, kr / nr
            pooled = (kg + kr) / (ng + nr)
            se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / ng + 1.0 / nr))
            phi = _overdispersion(group + rest, value, p1, p0)
            z = 0.0 if se == 0 else (p1 - p0) / (se * math.sqrt(phi))
            candidates.append(
                _Candidate(
                    dimension,
                    value,
                    p1,
                    p0,
                    z,
                    p_value(z, "two-sided"),
                    phi,
                    g_campaigns,
                    r_campaigns,
                    kg,
                    ng,
                    nr,
                )
            )
    adjusted = (
        adjust_pvalues(np.asarray([c.p for c in candidates], dtype=np.float64), "holm").tolist()
        if candidates
        else []
    )
    tested = [
        Pattern(
            dimension=c.dimension,
            value=c.value,
            metric=metric,
            rate=c.p1,
            rest_rate=c.p0,
            difference=c.p1 - c.p0,
            relative_lift=None if c.p0 == 0 else c.p1 / c.p0 - 1.0,
            cohens_h=2.0 * math.asin(math.sqrt(c.p1)) - 2.0 * math.asin(math.sqrt(c.p0)),
            campaigns=c.campaigns,
            trials=c.trials,
            successes=c.successes,
            rest_campaigns=c.rest_campaigns,
            rest_trials=c.rest_trials,
            overdispersion=c.phi,
            statistic=c.z,
            p_value=c.p,
            adjusted_p_value=float(adj),
            significant=adj < alpha and c.p1 != c.p0,
            direction="better" if c.p1 > c.p0 else "worse",
            description=_describe(c.dimension, c.value, metric, c.p1, c.p0),
        )
        for c, adj in zip(candidates, adjusted)
    ]
    significant = sorted(
        (p for p in tested if p.significant),
        key=lambda p: (-abs(p.cohens_h), p.dimension, p.value),
    )
    return PatternAnalysis(
        metric=metric,
        alpha=alpha,
        patterns=tuple(significant),
        tested=tuple(tested),
        skipped=tuple(skipped),
    )


def _zone(name: object) -> tzinfo:
    if not isinstance(name, str) or not name:
        raise ValidationError.single("timezone", "must be an IANA zone name", "invalid_type")
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError.single(
            "timezone", f"{name!r} is not a known IANA time zone", "invalid_value"
        ) from None
