"""Guardrail metrics (non-inferiority) and secondary metrics of an A/B decision.

A **guardrail** is a metric a winner must not degrade beyond a margin: the
click-through rate while the test optimizes conversions, revenue per
impression while it optimizes clicks. Each guardrail is a one-sided
*non-inferiority* test of every treatment against the control,
``H0: treatment - control <= -margin``, at the decision's ``alpha``: it passes
when the data show the treatment is not worse by the margin or more (the lower
one-sided confidence bound of the difference lies above ``-margin``). A
treatment wins only if it passes every guardrail (Spotify's confidence
platform and Eppo use the same rule). No multiplicity correction is needed
across guardrails: all must pass, an intersection-union test, whose level is
the level of each.

**Secondary metrics** are reported, never decided on: a two-sided test per
treatment and metric (the pooled z-test for rates, Welch for revenue),
Holm-adjusted over all of them, and the number of comparisons stated, so a
reader sees how many looks produced a small p-value.

Every metric here is "higher is better" (conversion, click-through, revenue).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from campaign_core._numerics import norm_cdf, norm_ppf
from campaign_core.abtesting._counts import _PROPORTION_METRICS, METRICS, VariantCounts
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.stats import adjust_pvalues, two_proportion_ztest, welch_ttest_from_stats

__all__ = ["Guardrail", "GuardrailResult", "SecondaryResult"]

_GUARDRAIL_FIELDS = ("metric", "margin", "relative")


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


@attrs.frozen
class Guardrail:
    """A metric a winner must not degrade by ``margin`` or more.

    Attributes:
        metric: ``conversion_rate``, ``click_through_rate``,
            ``click_conversion_rate`` or ``revenue_per_impression``.
        margin: the largest degradation tolerated, positive; relative to the
            control's value (0.02 = 2 % of it) unless ``relative`` is false,
            then in the metric's own unit.
        relative: whether ``margin`` is relative (default).
    """

    metric: str
    margin: float
    relative: bool = True

    @classmethod
    def parse(cls, data: object, *, path: str) -> Guardrail:
        """A guardrail from a :class:`Guardrail` or its JSON ``{"metric", "margin", "relative"?}``.

        Args:
            data: the guardrail.
            path: where it sits in the caller's input.

        Returns:
            The guardrail.

        Raises:
            ValidationError: not an object, unknown keys, an unknown metric, a
                margin that is not a positive finite number (below 1 when
                relative), or ``relative`` not a boolean; paths under ``path``.
        """
        if isinstance(data, Guardrail):
            fields: Mapping[str, object] = attrs.asdict(data)
        elif isinstance(data, Mapping):
            fields = data
        else:
            raise ValidationError.single(path, "must be an object", "invalid_type")
        problems = ProblemCollector()
        for key in fields:
            if key not in _GUARDRAIL_FIELDS:
                problems.add(join_path(path, str(key)), "is not a guardrail field", "unknown_field")
        metric = fields.get("metric")
        if metric not in METRICS:
            problems.add(
                join_path(path, "metric"),
                f"must be one of {', '.join(METRICS)}, got {metric!r}",
                "invalid_value" if "metric" in fields else "required",
            )
        relative = fields.get("relative", True)
        if not isinstance(relative, bool):
            problems.add(join_path(path, "relative"), "must be a boolean", "invalid_type")
        margin = fields.get("margin")
        margin_path = join_path(path, "margin")
        if isinstance(margin, bool) or not isinstance(margin, int | float):
            problems.add(margin_path, "must be a number", "invalid_type" if margin else "required")
        elif not math.isfinite(margin) or margin <= 0:
            problems.add(margin_path, f"must be a positive finite number, got {margin}")
        elif relative is True and margin >= 1:
            problems.add(margin_path, "a relative margin must be below 1 (100 %)", "out_of_range")
        problems.raise_if_any()
        return cls(str(metric), float(margin), bool(relative))  # type: ignore[arg-type]

    @classmethod
    def parse_list(cls, guardrails: object) -> tuple[Guardrail, ...]:
        """Guardrails from a list of :class:`Guardrail` or JSON objects (``None``: none).

        Args:
            guardrails: the list, at most 10, one per metric.

        Returns:
            The guardrails, in order.

        Raises:
            ValidationError: not a list, a bad guardrail, a metric twice or more
                than 10, with paths ``guardrails[i]...``.
        """
        return parse_guardrails(guardrails)

    def to_dict(self) -> dict[str, Any]:
        """camelCase JSON form."""
        return {"metric": self.metric, "margin": self.margin, "relative": self.relative}


@attrs.frozen
class GuardrailResult:
    """One treatment's non-inferiority test on one guardrail.

    Attributes:
        metric: the guardrail's metric.
        variant_id: the treatment.
        margin: the absolute margin tested (relative margins times the control's value).
        difference: treatment minus control on the metric.
        lower: the one-sided lower confidence bound of the difference at the
            decision's level (``-inf`` when it cannot be computed).
        p_value: the non-inferiority p-value (small: not worse by the margin).
        passed: ``lower > -margin`` (equivalently ``p_value < alpha``).
    """

    metric: str
    variant_id: str
    margin: float
    difference: float
    lower: float
    p_value: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """camelCase JSON form (an infinite bound becomes ``null``)."""
        return {
            "metric": self.metric,
            "variantId": self.variant_id,
            "margin": self.margin,
            "difference": self.difference,
            "lower": _json_float(self.lower),
            "pValue": self.p_value,
            "passed": self.passed,
        }


@attrs.frozen
class SecondaryResult:
    """One treatment against the control on a secondary metric (reported, never decided on).

    Attributes:
        metric: the metric.
        variant_id: the treatment.
        difference: treatment minus control.
        p_value: the two-sided p-value (pooled z-test for rates, Welch for revenue).
        adjusted_p_value: Holm-adjusted over every secondary comparison of the decision.
        comparisons: how many secondary comparisons the adjustment covered.
    """

    metric: str
    variant_id: str
    difference: float
    p_value: float
    adjusted_p_value: float
    comparisons: int

    def to_dict(self) -> dict[str, Any]:
        """camelCase JSON form."""
        return {
            "metric": self.metric,
            "variantId": self.variant_id,
            "difference": self.difference,
            "pValue": self.p_value,
            "adjustedPValue": self.adjusted_p_value,
            "comparisons": self.comparisons,
        }


def parse_guardrails(guardrails: object) -> tuple[Guardrail, ...]:
    """Guardrails from a list of :class:`Guardrail` or JSON objects (path ``guardrails[i]``)."""
    if guardrails is None:
        return ()
    if isinstance(guardrails, str | bytes | Mapping) or not isinstance(guardrails, Sequence):
        raise ValidationError.single("guardrails", "must be a list of guardrails", "invalid_type")
    problems = ProblemCollector()
    out: list[Guardrail] = []
    seen: set[str] = set()
    for i, item in enumerate(guardrails):
        path = join_path("guardrails", i)
        try:
            guardrail = Guardrail.parse(item, path=path)
        except ValidationError as error:
            problems.extend(error)
            continue
        if guardrail.metric in seen:
            problems.add(join_path(path, "metric"), f"{guardrail.metric} is already a guardrail")
        seen.add(guardrail.metric)
        out.append(guardrail)
    if len(out) > 10:
        problems.add("guardrails", "at most 10 guardrails", "out_of_range")
    problems.raise_if_any()
    return tuple(out)


def parse_secondary(metrics: object, primary: str) -> tuple[str, ...]:
    """Secondary metric names (path ``secondary_metrics[i]``); the primary is not one."""
    if metrics is None:
        return ()
    if isinstance(metrics, str | bytes | Mapping) or not isinstance(metrics, Sequence):
        raise ValidationError.single(
            "secondary_metrics", "must be a list of metric names", "invalid_type"
        )
    problems = ProblemCollector()
    for i, metric in enumerate(metrics):
        path = join_path("secondary_metrics", i)
        if metric not in METRICS:
            problems.add(path, f"must be one of {', '.join(METRICS)}, got {metric!r}")
        elif metric == primary:
            problems.add(path, f"{metric} is the primary metric", "invalid_value")
        elif metric in metrics[:i]:
            problems.add(path, f"{metric} is listed twice", "invalid_value")
    problems.raise_if_any()
    return tuple(str(m) for m in metrics)


def _revenue_moments(v: VariantCounts) -> tuple[int, float, float]:
    return v.impressions, v.revenue, v.revenue_sum_squares or 0.0


def _difference_and_error(
    metric: str, control: VariantCounts, treatment: VariantCounts
) -> tuple[float, float, float, float | None] | None:
    """(control value, difference, standard error, degrees of freedom or None for normal).

    ``None`` when a group has too few trials to estimate the metric.
    """
    if metric == "revenue_per_impression":
        na, sa, qa = _revenue_moments(control)
        nb, sb, qb = _revenue_moments(treatment)
        if na < 2 or nb < 2 or control.revenue_sum_squares is None:
            return None
        if treatment.revenue_sum_squares is None:
            return None
        welch = welch_ttest_from_stats(na, sa, qa, nb, sb, qb)
        return welch.mean_a, welch.difference, welch.std_error, welch.df
    successes, trials = _PROPORTION_METRICS[metric]
    ka, na = getattr(control, successes), getattr(control, trials)
    kb, nb = getattr(treatment, successes), getattr(treatment, trials)
    if na == 0 or nb == 0:
        return None
    pa, pb = ka / na, kb / nb
    return pa, pb - pa, math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb), None


def _upper_tail(x: float, df: float | None) -> float:
    """P(T > x) for Student's t with ``df`` (normal when ``df`` is None)."""
    if df is None or not math.isfinite(df):
        return norm_cdf(-x)
    from scipy import special

    return float(special.stdtr(df, -x))


def _quantile(q: float, df: float | None) -> float:
    if df is None or not math.isfinite(df):
        return norm_ppf(q)
    from scipy import special

    return float(special.stdtrit(df, q))


def check_guardrails(
    guardrails: Sequence[Guardrail],
    control: VariantCounts,
    treatments: Sequence[VariantCounts],
    alpha: float,
) -> tuple[GuardrailResult, ...]:
    """Every treatment's non-inferiority test on every guardrail, at level ``alpha``."""
    results: list[GuardrailResult] = []
    for guardrail in guardrails:
        for treatment in treatments:
            estimate = _difference_and_error(guardrail.metric, control, treatment)
            if estimate is None:
                margin = guardrail.margin if not guardrail.relative else 0.0
                results.append(
                    GuardrailResult(
                        guardrail.metric, treatment.id, margin, 0.0, -math.inf, 1.0, False
                    )
                )
                continue
            value, diff, se, df = estimate
            margin = guardrail.margin * abs(value) if guardrail.relative else guardrail.margin
            if se > 0.0:
                p = _upper_tail((diff + margin) / se, df)
                lower = diff - _quantile(1.0 - alpha, df) * se
            else:  # no variation: the difference is known exactly
                p = 0.0 if diff > -margin else 1.0
                lower = diff
            results.append(
                GuardrailResult(
                    guardrail.metric, treatment.id, margin, diff, lower, p, lower > -margin
                )
            )
    return tuple(results)


def secondary_results(
    metrics: Sequence[str], control: VariantCounts, treatments: Sequence[VariantCounts]
) -> tuple[SecondaryResult, ...]:
    """Two-sided tests of every treatment on every secondary metric, Holm-adjusted together."""
    raw: list[tuple[str, str, float, float]] = []
    for metric in metrics:
        for treatment in treatments:
            if metric == "revenue_per_impression":
                estimate = _difference_and_error(metric, control, treatment)
                if estimate is None:
                    raw.append((metric, treatment.id, 0.0, 1.0))
                    continue
                _, diff, se, df = estimate
                p = 2.0 * _upper_tail(abs(diff) / se, df) if se > 0 else float(diff == 0.0)
                raw.append((metric, treatment.id, diff, min(max(p, 0.0), 1.0)))
                continue
            successes, trials = _PROPORTION_METRICS[metric]
            na, nb = getattr(control, trials), getattr(treatment, trials)
            if na == 0 or nb == 0:
                raw.append((metric, treatment.id, 0.0, 1.0))
                continue
            test = two_proportion_ztest(
                getattr(control, successes), na, getattr(treatment, successes), nb
            )
            raw.append((metric, treatment.id, test.difference, test.p_value))
    if not raw:
        return ()
    adjusted = adjust_pvalues([r[3] for r in raw], "holm")
    return tuple(
        SecondaryResult(metric, variant, diff, p, float(adj), len(raw))
        for (metric, variant, diff, p), adj in zip(raw, adjusted)
    )
