"""Campaign metrics: totals, per platform and per variant, from events or from counts.

Two entry points build the same :class:`CampaignMetrics`:

* :func:`compute_metrics` (and ``compute_metrics_by_campaign``) aggregate
  an :class:`~campaign_core.analytics.EventBatch` with numpy: one
  ``bincount`` per counter over (campaign, platform, variant) cells, one
  ``unique`` per reach grouping.
* :func:`metrics_from_counts` takes what a SQL ``GROUP BY platform,
  variant_id`` returns (plus the ``COUNT(DISTINCT fan_id)`` reach figures), so
  a store that aggregates in the database gets exactly the same result
  object, rates and flags.

Additive fields of the totals are the sums of the parts (the cells); reach is
not: a fan reached on two platforms counts once in the campaign's reach, so
the campaign's reach is at most the sum of the platforms' reaches.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core._validate import v_datetime
from campaign_core.analytics._definitions import MetricTotals, _check_counts, make_totals
from campaign_core.analytics._events import (
    CLICK,
    CONVERSION,
    IMPRESSION,
    SPEND,
    EventBatch,
    from_epoch_ms,
)
from campaign_core.analytics._goals import GoalProgress
from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = [
    "CampaignMetrics",
    "CountsRow",
    "PlatformMetrics",
    "ReachCounts",
    "VariantMetrics",
    "compute_metrics",
    "compute_metrics_by_campaign",
    "metrics_from_counts",
]


@attrs.frozen(kw_only=True)
class PlatformMetrics:
    """One platform's numbers; ``platform`` None gathers events without a platform."""

    platform: str | None
    metrics: MetricTotals


@attrs.frozen(kw_only=True)
class VariantMetrics:
    """One A/B variant's numbers; ``variant_id`` None gathers events without a variant."""

    variant_id: str | None
    metrics: MetricTotals


@attrs.frozen(kw_only=True)
class CampaignMetrics:
    """A campaign's numbers (the seed's ``getCampaignMetrics``).

    Attributes:
        campaign_id: the campaign (``None`` when the input did not say).
        totals: everything together.
        by_platform: per platform, sorted by name, ``None`` (not attributed) last.
        by_variant: per variant, sorted by id, ``None`` (no variant) last.
        first_event_at: the earliest event (``None`` without events or when
            built from counts without it).
        last_event_at: the latest event.
        goals: progress toward each of the campaign's ``goals`` (the seed's
            ``{"conversions": 100, "revenue": 5000}``), sorted by key; empty
            when built without the campaign.
    """

    campaign_id: str | None = None
    totals: MetricTotals
    by_platform: tuple[PlatformMetrics, ...] = ()
    by_variant: tuple[VariantMetrics, ...] = ()
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    goals: tuple[GoalProgress, ...] = ()

    def platform(self, name: str | None) -> MetricTotals | None:
        """The metrics of platform ``name`` (``None``: not attributed), if present."""
        return next((p.metrics for p in self.by_platform if p.platform == name), None)

    def variant(self, variant_id: str | None) -> MetricTotals | None:
        """The metrics of variant ``variant_id`` (``None``: no variant), if present."""
        return next((v.metrics for v in self.by_variant if v.variant_id == variant_id), None)


# ---------------------------------------------------------------------- cells


@attrs.frozen
class _Cell:
    """Additive counters of one (platform, variant) cell."""

    platform: str | None
    variant: str | None
    impressions: int
    clicks: int
    conversions: int
    revenue: float
    spent: float
    sumsq: float | None


def _sum_cells(cells: Sequence[_Cell], reach: int | None) -> MetricTotals:
    sumsq: float | None = None
    if all(c.sumsq is not None for c in cells):
        sumsq = math.fsum(c.sumsq for c in cells if c.sumsq is not None)
    return make_totals(
        impressions=sum(c.impressions for c in cells),
        clicks=sum(c.clicks for c in cells),
        conversions=sum(c.conversions for c in cells),
        revenue=math.fsum(c.revenue for c in cells),
        spent=math.fsum(c.spent for c in cells),
        reach=reach,
        revenue_sum_squares=sumsq,
    )


def _order(label: str | None) -> tuple[bool, str]:
    return (label is None, label or "")


def _assemble(
    campaign_id: str | None,
    cells: Sequence[_Cell],
    reach_total: int | None,
    reach_by_platform: Mapping[str | None, int],
    reach_by_variant: Mapping[str | None, int],
    first: datetime | None,
    last: datetime | None,
) -> CampaignMetrics:
    by_platform: dict[str | None, list[_Cell]] = {}
    by_variant: dict[str | None, list[_Cell]] = {}
    for cell in cells:
        by_platform.setdefault(cell.platform, []).append(cell)
        by_variant.setdefault(cell.variant, []).append(cell)
    return CampaignMetrics(
        campaign_id=campaign_id,
        totals=_sum_cells(cells, reach_total),
        by_platform=tuple(
            PlatformMetrics(platform=key, metrics=_sum_cells(group, reach_by_platform.get(key)))
            for key, group in sorted(by_platform.items(), key=lambda kv: _order(kv[0]))
        ),
        by_variant=tuple(
            VariantMetrics(variant_id=key, metrics=_sum_cells(group, reach_by_variant.get(key)))
            for key, group in sorted(by_variant.items(), key=lambda kv: _order(kv[0]))
        ),
        first_event_at=first,
        last_event_at=last,
    )


# ---------------------------------------------------------------------- events


#: Largest (groups x fans) presence bitmap, in bytes, before falling back to a sort.
_PRESENCE_LIMIT = 1 << 26


def _distinct_per_group(
    groups: npt.NDArray[np.int64], fans: npt.NDArray[np.int64], n_groups: int
) -> npt.NDArray[np.int64]:
    """How many distinct fans each group has (groups and fans are codes >= 0)."""
    if fans.size == 0:
        return np.zeros(n_groups, dtype=np.int64)
    width = int(fans.max()) + 1
    size = n_groups * width
    if size <= _PRESENCE_LIMIT:
        # a presence bitmap beats sorting by an order of magnitude when it fits
        seen = np.zeros(size, dtype=bool)
        seen[groups * width + fans] = True
        counted: npt.NDArray[np.int64] = seen.reshape(n_groups, width).sum(axis=1, dtype=np.int64)
        return counted
    if size < 2**62:
        pairs = np.sort(groups * width + fans)
        first = np.empty(pairs.shape[0], dtype=bool)
        first[0] = True
        np.not_equal(pairs[1:], pairs[:-1], out=first[1:])
        owner = pairs[first] // width
    else:  # too many combinations to pack into one int64: unique rows instead
        owner = np.unique(np.stack([groups, fans], axis=1), axis=0)[:, 0]
    return np.bincount(owner, minlength=n_groups).astype(np.int64)


def _aggregate(batch: EventBatch) -> dict[int, CampaignMetrics]:
    """Metrics per campaign code present in the batch."""
    n = len(batch)
    kind = batch.kind
    n_platforms = len(batch.platform.labels)
    n_variants = len(batch.variant.labels)
    n_campaigns = len(batch.campaign.labels)
    camp = batch.campaign.codes
    key = (camp * n_platforms + batch.platform.codes) * n_variants + batch.variant.codes
    n_keys = n_campaigns * n_platforms * n_variants
    if n_keys > 4 * n + 1024:  # sparse combinations: number only the cells present
        cell_keys, cell = np.unique(key, return_inverse=True)
        n_cells = int(cell_keys.shape[0])
    else:
        cell_keys = np.arange(n_keys, dtype=np.int64)
        cell = key
        n_cells = n_keys
    counts = np.bincount(cell * 4 + kind, minlength=4 * n_cells).reshape(n_cells, 4)
    revenue_w = np.where(kind == CONVERSION, batch.value, 0.0)
    revenue = np.bincount(cell, weights=revenue_w, minlength=n_cells)
    sumsq = np.bincount(cell, weights=revenue_w * revenue_w, minlength=n_cells)
    spent = np.bincount(cell, weights=np.where(kind == SPEND, batch.value, 0.0), minlength=n_cells)

    reach_c: npt.NDArray[np.int64] | None = None
    reach_cp: npt.NDArray[np.int64] | None = None
    reach_cv: npt.NDArray[np.int64] | None = None
    if batch.fan is not None:
        seen = (kind == IMPRESSION) & (batch.fan >= 0)
        fans = batch.fan[seen]
        c = camp[seen]
        reach_c = _distinct_per_group(c, fans, n_campaigns)
        reach_cp = _distinct_per_group(
            c * n_platforms + batch.platform.codes[seen], fans, n_campaigns * n_platforms
        )
        reach_cv = _distinct_per_group(
            c * n_variants + batch.variant.codes[seen], fans, n_campaigns * n_variants
        )

    first_last = _first_last(batch, n_campaigns)
    present = np.flatnonzero(counts.sum(axis=1) > 0)
    cells_by_campaign: dict[int, list[tuple[int, int, _Cell]]] = {}
    for index in present.tolist():
        k = int(cell_keys[index])
        v_code = k % n_variants
        p_code = (k // n_variants) % n_platforms
        c_code = k // (n_variants * n_platforms)
        row = counts[index]
        cells_by_campaign.setdefault(c_code, []).append(
            (
                p_code,
                v_code,
                _Cell(
                    platform=batch.platform.labels[p_code],
                    variant=batch.variant.labels[v_code],
                    impressions=int(row[IMPRESSION]),
                    clicks=int(row[CLICK]),
                    conversions=int(row[CONVERSION]),
                    revenue=float(revenue[index]),
                    spent=float(spent[index]),
                    sumsq=float(sumsq[index]),
                ),
            )
        )
    out: dict[int, CampaignMetrics] = {}
    for c_code, coded in cells_by_campaign.items():
        cells = [cell_ for _, _, cell_ in coded]
        reach_total = None if reach_c is None else int(reach_c[c_code])
        by_p: dict[str | None, int] = {}
        by_v: dict[str | None, int] = {}
        if reach_cp is not None and reach_cv is not None:
            for p_code, v_code, cell_ in coded:
                by_p[cell_.platform] = int(reach_cp[c_code * n_platforms + p_code])
                by_v[cell_.variant] = int(reach_cv[c_code * n_variants + v_code])
        first, last = first_last.get(c_code, (None, None))
        out[c_code] = _assemble(
            batch.campaign.labels[c_code], cells, reach_total, by_p, by_v, first, last
        )
    return out


def _first_last(batch: EventBatch, n_campaigns: int) -> dict[int, tuple[datetime, datetime]]:
    if len(batch) == 0:
        return {}
    times = batch.occurred_at_ms
    if n_campaigns == 1:
        return {0: (from_epoch_ms(int(times.min())), from_epoch_ms(int(times.max())))}
    order = np.argsort(batch.campaign.codes, kind="stable")
    codes = batch.campaign.codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    lows = np.minimum.reduceat(times[order], starts)
    highs = np.maximum.reduceat(times[order], starts)
    return {
        int(codes[s]): (from_epoch_ms(int(lo)), from_epoch_ms(int(hi)))
        for s, lo, hi in zip(starts.tolist(), lows.tolist(), highs.tolist())
    }


def _empty(campaign_id: str | None, with_reach: bool) -> CampaignMetrics:
    return CampaignMetrics(
        campaign_id=campaign_id,
        totals=make_totals(
            impressions=0,
            clicks=0,
            conversions=0,
            revenue=0.0,
            spent=0.0,
            reach=0 if with_reach else None,
            revenue_sum_squares=0.0,
        ),
    )


def compute_metrics(batch: EventBatch, *, campaign_id: str | None = None) -> CampaignMetrics:
    """A campaign's metrics from its tracking events.

    Args:
        batch: the campaign's events. If it has a campaign column, it must hold
            one campaign only (use ``compute_metrics_by_campaign`` for more).
        campaign_id: the campaign's id, recorded in the result; it must agree
            with the batch's campaign column when there is one.

    Returns:
        Totals, per platform and per variant. Reach is ``None`` when the batch
        has no fan column. An empty batch gives zero counts and ``None`` rates.

    Raises:
        ValidationError: the batch mixes campaigns, or ``campaign_id``
            disagrees with it.
    """
    if not isinstance(batch, EventBatch):
        raise ValidationError.single("batch", "must be an EventBatch", "invalid_type")
    present = batch.campaign_ids()
    if len(present) > 1:
        raise ValidationError.single(
            "batch",
            f"holds {len(present)} campaigns; use compute_metrics_by_campaign",
            "invalid_value",
        )
    if campaign_id is not None and present and present[0] != campaign_id:
        raise ValidationError.single(
            "campaign_id", f"is {campaign_id!r} but the batch holds {present[0]!r}", "invalid_value"
        )
    name = campaign_id if campaign_id is not None else (present[0] if present else None)
    if len(batch) == 0:
        return _empty(name, batch.fan is not None)
    (result,) = _aggregate(batch).values()
    return attrs.evolve(result, campaign_id=name)


def compute_metrics_by_campaign(batch: EventBatch) -> dict[str, CampaignMetrics]:
    """Metrics for every campaign of a batch, in one pass.

    Args:
        batch: events with a campaign column (rows without a campaign are refused).

    Returns:
        ``{campaign_id: CampaignMetrics}``, keys sorted.

    Raises:
        ValidationError: no campaign column, or rows without a campaign.
    """
    if not isinstance(batch, EventBatch):
        raise ValidationError.single("batch", "must be an EventBatch", "invalid_type")
    if len(batch) == 0:
        return {}
    labels = batch.campaign.labels
    if None in labels:
        missing = batch.campaign.codes == labels.index(None)
        if missing.any():
            raise ValidationError.single(
                join_path("campaign_id", int(np.flatnonzero(missing)[0])),
                "every event needs a campaign here",
                "required",
            )
    results = _aggregate(batch)
    out = {labels[code]: metrics for code, metrics in results.items()}
    return {key: out[key] for key in sorted(k for k in out if k is not None)}


# ---------------------------------------------------------------------- counts


@attrs.frozen(kw_only=True)
class CountsRow:
    """Pre-aggregated counters of one (platform, variant) cell, as a SQL group-by returns them.

    Attributes:
        platform: the platform (``None``: events without one).
        variant_id: the variant (``None``: events without one).
        impressions: impressions in the cell.
        clicks: clicks.
        conversions: conversions.
        revenue: the sum of conversion values.
        spent: the sum of spend.
        revenue_sum_squares: the sum of squared conversion values, or ``None``
            when not tracked (a cell without conversions has 0 either way).
    """

    platform: str | None = None
    variant_id: str | None = None
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0
    spent: float = 0.0
    revenue_sum_squares: float | None = None


@attrs.frozen(kw_only=True)
class ReachCounts:
    """Distinct fans with an impression: overall, per platform, per variant.

    Attributes:
        total: over the whole campaign.
        by_platform: per platform (key ``None``: impressions without a platform).
        by_variant: per variant (key ``None``: impressions without a variant).
    """

    total: int
    by_platform: Mapping[str | None, int] = attrs.field(factory=dict)
    by_variant: Mapping[str | None, int] = attrs.field(factory=dict)


_ROW_FIELDS = {
    "platform": "platform",
    "variant_id": "variant_id",
    "variantId": "variant_id",
    "impressions": "impressions",
    "clicks": "clicks",
    "conversions": "conversions",
    "revenue": "revenue",
    "spent": "spent",
    "revenue_sum_squares": "revenue_sum_squares",
    "revenueSumSquares": "revenue_sum_squares",
}


def _row_dict(row: object, path: str, problems: ProblemCollector) -> dict[str, Any] | None:
    if isinstance(row, CountsRow):
        return attrs.asdict(row, recurse=False)
    if not isinstance(row, Mapping):
        problems.add(path, "must be a CountsRow or an object", "invalid_type")
        return None
    out: dict[str, Any] = {}
    for key, value in row.items():
        field = _ROW_FIELDS.get(key) if isinstance(key, str) else None
        if field is None:
            problems.add(join_path(path, str(key)), "unknown field", "unknown_field")
        else:
            out[field] = value
    defaults = attrs.asdict(CountsRow(), recurse=False)
    return {**defaults, **out}


def _label(value: object, path: str, problems: ProblemCollector) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 191:
        problems.add(
            path, "must be a non-empty string (at most 191 characters) or None", "invalid_type"
        )
        return None
    return value


def metrics_from_counts(
    rows: Iterable[CountsRow | Mapping[str, Any]],
    *,
    reach: ReachCounts | Mapping[str, Any] | None = None,
    campaign_id: str | None = None,
    first_event_at: datetime | None = None,
    last_event_at: datetime | None = None,
) -> CampaignMetrics:
    """A campaign's metrics from pre-aggregated counters (a store's SQL aggregate).

    The result is the same object :func:`compute_metrics` returns for the
    events those counts summarize.

    Args:
        rows: one row per (platform, variant) cell: :class:`CountsRow` or
            mappings with its fields (camelCase or snake_case); each cell at
            most once.
        reach: distinct fans with an impression (:class:`ReachCounts` or a
            mapping ``{"total", "byPlatform", "byVariant"}``); ``None`` when
            fan identities are not tracked (reach is then ``None`` everywhere).
        campaign_id: recorded in the result.
        first_event_at: the earliest event, if known.
        last_event_at: the latest event, if known.

    Returns:
        The campaign's metrics.

    Raises:
        ValidationError: bad counts (``rows[2].clicks``), duplicate cells, or
            reach figures that cannot be (a platform's reach above its
            impressions or above the total reach, a total reach above the sum
            of the platforms' reaches).
    """
    if isinstance(rows, str | bytes | Mapping):
        raise ValidationError.single("rows", "must be a list of count rows", "invalid_type")
    problems = ProblemCollector()
    cells: list[_Cell] = []
    seen: set[tuple[str | None, str | None]] = set()
    for index, row in enumerate(rows):
        path = join_path("rows", index)
        data = _row_dict(row, path, problems)
        if data is None:
            continue
        before = len(problems.problems)
        platform = _label(data["platform"], join_path(path, "platform"), problems)
        variant = _label(data["variant_id"], join_path(path, "variant_id"), problems)
        labels_ok = len(problems.problems) == before
        clean = _check_counts({**data, "reach": None}, path, problems)
        if labels_ok and (platform, variant) in seen:
            problems.add(
                path, f"duplicate cell (platform {platform!r}, variant {variant!r})", "duplicate"
            )
        seen.add((platform, variant))
        if any(
            clean.get(k) is None
            for k in ("impressions", "clicks", "conversions", "revenue", "spent")
        ):
            continue
        cells.append(
            _Cell(
                platform=platform,
                variant=variant,
                impressions=clean["impressions"],
                clicks=clean["clicks"],
                conversions=clean["conversions"],
                revenue=clean["revenue"],
                spent=clean["spent"],
                sumsq=_known_sumsq(clean),
            )
        )
    first = (
        None if first_event_at is None else v_datetime(first_event_at, "first_event_at", problems)
    )
    last = None if last_event_at is None else v_datetime(last_event_at, "last_event_at", problems)
    problems.raise_if_any()
    reach_clean = _check_reach(reach, cells, problems)
    problems.raise_if_any()
    if reach_clean is None:
        metrics = _assemble(campaign_id, cells, None, {}, {}, first, last)
    else:
        metrics = _assemble(
            campaign_id,
            cells,
            reach_clean.total,
            reach_clean.by_platform,
            reach_clean.by_variant,
            first,
            last,
        )
    if not cells:
        return attrs.evolve(
            _empty(campaign_id, reach_clean is not None), first_event_at=first, last_event_at=last
        )
    return metrics


def _known_sumsq(clean: Mapping[str, Any]) -> float | None:
    """The cell's sum of squares; a cell without conversions or revenue has 0, given or not."""
    given: float | None = clean["revenue_sum_squares"]
    if given is None and clean["conversions"] == 0 and clean["revenue"] == 0:
        return 0.0
    return given


def _check_reach(
    reach: ReachCounts | Mapping[str, Any] | None,
    cells: Sequence[_Cell],
    problems: ProblemCollector,
) -> ReachCounts | None:
    if reach is None:
        return None
    if isinstance(reach, Mapping):
        allowed = {
            "total": "total",
            "byPlatform": "by_platform",
            "by_platform": "by_platform",
            "byVariant": "by_variant",
            "by_variant": "by_variant",
        }
        kwargs: dict[str, Any] = {}
        for name, value in reach.items():
            field = allowed.get(name) if isinstance(name, str) else None
            if field is None:
                problems.add(join_path("reach", str(name)), "unknown field", "unknown_field")
            else:
                kwargs[field] = value
        if "total" not in kwargs:
            problems.add("reach.total", "is required", "required")
        if problems:
            return None
        reach = ReachCounts(**kwargs)
    given_reach: object = reach
    if not isinstance(given_reach, ReachCounts):
        problems.add("reach", "must be a ReachCounts or an object", "invalid_type")
        return None
    impressions_by_platform: dict[str | None, int] = {}
    impressions_by_variant: dict[str | None, int] = {}
    for cell in cells:
        impressions_by_platform[cell.platform] = (
            impressions_by_platform.get(cell.platform, 0) + cell.impressions
        )
        impressions_by_variant[cell.variant] = (
            impressions_by_variant.get(cell.variant, 0) + cell.impressions
        )
    total_impressions = sum(impressions_by_platform.values())
    total = _reach_int(given_reach.total, "reach.total", problems)
    if total is not None and total > total_impressions:
        problems.add(
            "reach.total",
            f"cannot exceed impressions ({total} > {total_impressions})",
            "out_of_range",
        )
    groups: dict[str, dict[str | None, int]] = {}
    checks: tuple[tuple[str, object, dict[str | None, int]], ...] = (
        ("by_platform", given_reach.by_platform, impressions_by_platform),
        ("by_variant", given_reach.by_variant, impressions_by_variant),
    )
    for name, given, impressions in checks:
        if not isinstance(given, Mapping):
            problems.add(f"reach.{name}", "must be an object of counts", "invalid_type")
            continue
        clean: dict[str | None, int] = {}
        for key_, value in given.items():
            key: object = key_
            path = join_path(f"reach.{name}", str(key))
            if key is not None and not isinstance(key, str):
                problems.add(path, "keys must be strings or None", "invalid_type")
                continue
            count = _reach_int(value, path, problems)
            if count is None:
                continue
            if count > impressions.get(key, 0):
                problems.add(
                    path,
                    f"cannot exceed that group's impressions ({count} > {impressions.get(key, 0)})",
                    "out_of_range",
                )
            if total is not None and count > total:
                problems.add(
                    path, f"cannot exceed the total reach ({count} > {total})", "out_of_range"
                )
            clean[key] = count
        for key_seen, count_seen in impressions.items():
            if count_seen == 0:  # no impression, no fan reached: known to be 0
                clean.setdefault(key_seen, 0)
        groups[name] = clean
        complete = set(clean) >= {k for k, v in impressions.items() if v > 0}
        if total is not None and complete and clean and total > sum(clean.values()):
            problems.add(
                "reach.total",
                f"cannot exceed the sum of reach {name.replace('_', ' ')} ({total} > {sum(clean.values())})",
                "out_of_range",
            )
    if problems or total is None:
        return None
    return ReachCounts(
        total=total, by_platform=groups["by_platform"], by_variant=groups["by_variant"]
    )


def _reach_int(value: object, path: str, problems: ProblemCollector) -> int | None:
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"must be an integer count, got {type(value).__name__}", "invalid_type")
        return None
    if value < 0 or value > 2**53:
        problems.add(path, "must be a count in [0, 2**53]", "out_of_range")
        return None
    return value
