"""Row ingestion: a checked batch against the account's campaigns and variants, written in one go.

One path for a single tracking call and for a batch of 100,000 events: the
campaigns and variants are loaded and checked, conversions are credited to
their fans' last clicks (in the batch or stored before), then the events, the
seed's ``CampaignConversion`` rows, the running A/B tests' counters and each
campaign's spend (through the budget rule) are written in one transaction,
with the campaign's hourly roll-up armed (:mod:`campaign_core.jobs.rollup`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import attrs
import numpy as np

from campaign_core._runtime import Runtime, Tx
from campaign_core._tracking_fallback import chunked, tracking_aggregates
from campaign_core.analytics import (
    DEFAULT_ATTRIBUTION_WINDOW,
    EventBatch,
    attribute_last_clicks,
    epoch_ms,
    from_epoch_ms,
)
from campaign_core.clock import truncate_ms
from campaign_core.errors import (
    InvalidTransitionError,
    NotFoundError,
    ProblemCollector,
    ValidationError,
)
from campaign_core.jobs.budget import record_spend
from campaign_core.jobs.rollup import arm_rollup, check_overspend
from campaign_core.models import (
    ABTest,
    ABTestStatus,
    ABTestVariant,
    Campaign,
    CampaignConversion,
    TrackingEventRecord,
)
from campaign_core.query import In
from campaign_core.services.analytics._base import STARTED, forget_cached
from campaign_core.services.analytics._input import (
    CLICK,
    CONVERSION,
    IMPRESSION,
    KIND_NAMES,
    SPEND,
    ConversionType,
    Paths,
    Rows,
    check_columns,
    first_rows,
    renamed,
)

__all__ = [
    "LAUNCH_CLOCK_SKEW",
    "IngestResult",
    "TrackingBatchReport",
    "TrackingReceipt",
    "ingest",
]

#: How long before a campaign's ``startedAt`` an event may be dated (the host's clock may lag).
LAUNCH_CLOCK_SKEW: Final = timedelta(minutes=5)


@attrs.frozen(kw_only=True)
class TrackingReceipt:
    """What one tracking call stored (never the fan: receipts are analytics output too).

    Attributes:
        event_id: the tracking event's id.
        kind: ``impression``, ``click``, ``conversion`` or ``spend``.
        campaign_id: the campaign.
        occurred_at: when it happened (UTC, to the millisecond).
        platform: where (for a conversion without one: its click's, or the
            campaign's only platform).
        variant_id: the A/B variant, if any.
        value: the conversion's value or the amount spent (0 otherwise).
        conversion_id: the ``CampaignConversion`` row written for a conversion.
        conversion_type: the conversion's type.
        clicked_at: the attributed click (the fan's last click on the
            campaign at or before the conversion, within 30 days), if any.
        time_to_convert: seconds from that click to the conversion.
    """

    event_id: str
    kind: str
    campaign_id: str
    occurred_at: datetime
    platform: str | None = None
    variant_id: str | None = None
    value: float = 0.0
    conversion_id: str | None = None
    conversion_type: str | None = None
    clicked_at: datetime | None = None
    time_to_convert: int | None = None


@attrs.frozen(kw_only=True)
class TrackingBatchReport:
    """What one ``track_events`` call stored.

    Attributes:
        received: events stored.
        impressions: of which impressions.
        clicks: clicks.
        conversions: conversions (each also a ``CampaignConversion`` row).
        spend_events: spend events (each campaign's total went through the budget rule).
        attributed_conversions: conversions credited to a click.
        campaign_ids: the campaigns touched, sorted.
    """

    received: int
    impressions: int
    clicks: int
    conversions: int
    spend_events: int
    attributed_conversions: int
    campaign_ids: tuple[str, ...]


@attrs.define
class Checked:
    """A validated batch: the columns, the numpy view, the stored campaigns and variants."""

    rows: Rows
    batch: EventBatch
    times: list[datetime]
    values: list[float]
    types: list[str | None]
    campaigns: dict[str, Campaign]
    variants: dict[str, tuple[ABTestVariant, ABTest]]


@attrs.frozen
class IngestResult:
    """What one ingestion wrote: the report, a single call's receipt, the campaigns after it."""

    report: TrackingBatchReport
    receipts: list[TrackingReceipt]
    campaigns: dict[str, Campaign]


def ingest(
    rt: Runtime,
    account: str,
    rows: Rows,
    paths: Paths,
    amount_name: str = "value",
    problems: ProblemCollector | None = None,
) -> IngestResult:
    """Check ``rows`` and write them in one transaction (nothing is written on any problem).

    Args:
        rt: the runtime.
        account: the acting account (only its campaigns and tests are targets).
        rows: the events as columns.
        paths: how problems name a row's field.
        amount_name: the name a single call gives ``value`` (``amount`` for spend).
        problems: problems found while reading the rows, reported with the rest.

    Returns:
        The batch's report, the single call's receipt and the campaigns as written.

    Raises:
        ValidationError: every problem with its path.
        NotFoundError: a single call's campaign or variant is not in the account.
        InvalidTransitionError: a single call's campaign was never launched.
    """
    now = rt.now()
    problems = ProblemCollector() if problems is None else problems
    checked = check_columns(rows, now, paths, problems, rt.settings.platforms.names)
    if problems and paths.single and amount_name != "value":
        problems = renamed(problems, "value", amount_name)
    problems.raise_if_any()
    assert checked is not None
    batch, times, values, types = checked
    with rt.transaction() as tx:
        campaigns, variants = _load_targets(tx, account, rows, batch, paths)
        state = Checked(
            rows=rows,
            batch=batch,
            times=times,
            values=values,
            types=types,
            campaigns=campaigns,
            variants=variants,
        )
        result = _write_batch(rt, tx, state, now, paths, amount_name)
        touched = tuple(sorted(campaigns))
        tx.after_commit.append(lambda: forget_cached(rt, account, touched))
    return result


def _load_targets(
    tx: Tx, account: str, rows: Rows, batch: EventBatch, paths: Paths
) -> tuple[dict[str, Campaign], dict[str, tuple[ABTestVariant, ABTest]]]:
    """The batch's campaigns and variants, checked against the account."""
    problems = ProblemCollector()
    first_campaign = first_rows(rows.campaign_id)
    ids = list(first_campaign)
    found: dict[str, Campaign] = {}
    if len(ids) == 1:  # a single call: the store's look-up by id
        one = tx.uow.campaigns.get(ids[0])
        campaigns: list[Campaign] = [] if one is None else [one]
    else:
        campaigns = [c for chunk in chunked(ids) for c in tx.uow.campaigns.find(In("id", chunk))]
    for c in campaigns:
        if c.user_id == account:
            found[c.id] = c
    for cid, index in first_campaign.items():
        campaign = found.get(cid)
        if campaign is None:
            if paths.single:
                raise NotFoundError("campaign", cid)
            problems.add(paths(index, "campaign_id"), f"no campaign {cid!r}", "not_found")
        elif campaign.status not in STARTED or campaign.started_at is None:
            if paths.single:
                raise InvalidTransitionError(campaign.status.value, "track")
            problems.add(
                paths(index, "campaign_id"),
                f"campaign {cid!r} was never launched ({campaign.status.value}): nothing to track",
                "invalid_transition",
            )
    if not problems:
        _check_fit(found, batch, paths, problems)
    first_variant = first_rows(rows.variant_id)
    variants: dict[str, tuple[ABTestVariant, ABTest]] = {}
    if first_variant:
        stored = {
            v.id: v
            for chunk in chunked(list(first_variant))
            for v in tx.uow.ab_test_variants.find(In("id", chunk))
        }
        test_ids = list(dict.fromkeys(v.test_id for v in stored.values()))
        tests = {
            t.id: t for chunk in chunked(test_ids) for t in tx.uow.ab_tests.find(In("id", chunk))
        }
        for vid, variant in stored.items():
            test = tests.get(variant.test_id)
            if test is not None and test.user_id == account:
                variants[vid] = (variant, test)
        # every (campaign, variant) pair must match: a variant of this campaign's test
        camp = batch.campaign
        var = batch.variant
        pairs = camp.codes * len(var.labels) + var.codes
        unique_pairs, first_index = np.unique(pairs, return_index=True)
        for pair, index in zip(unique_pairs.tolist(), first_index.tolist()):
            vid = var.labels[pair % len(var.labels)]
            cid = camp.labels[pair // len(var.labels)]
            if vid is None:
                continue
            known = variants.get(vid)
            if known is None:
                if paths.single:
                    raise NotFoundError("variant", vid)
                problems.add(paths(index, "variant_id"), f"no variant {vid!r}", "not_found")
            elif known[1].campaign_id != cid:
                if paths.single:
                    raise ValidationError.single(
                        "variant_id", "is a variant of another campaign's test"
                    )
                problems.add(
                    paths(index, "variant_id"),
                    "is a variant of another campaign's test",
                    "invalid_value",
                )
    problems.raise_if_any()
    return found, variants


def _check_fit(
    found: Mapping[str, Campaign], batch: EventBatch, paths: Paths, problems: ProblemCollector
) -> None:
    """Each event fits its campaign: not before its launch; seen on one of its platforms.

    The launch check allows :data:`LAUNCH_CLOCK_SKEW` for hosts whose clocks
    run a little behind the one that recorded ``startedAt``. The platform check
    covers impressions and clicks only (they happen on the campaign's posts);
    a conversion or spend may be on another platform (a fan who saw the
    Instagram post buys on OnlyFans).
    """
    camp, plat = batch.campaign, batch.platform
    codes = camp.codes
    if not camp.labels or not found:
        return
    # per campaign label: its launch (ms) and the platform labels it targets
    never = np.iinfo(np.int64).min
    launches = [None if c is None else found.get(c) for c in camp.labels]
    starts = np.array(
        [never if c is None or c.started_at is None else epoch_ms(c.started_at) for c in launches],
        dtype=np.int64,
    )
    skew = int(LAUNCH_CLOCK_SKEW.total_seconds() * 1000)
    early = np.flatnonzero(batch.occurred_at_ms < starts[codes] - skew)
    if early.size:
        row = int(early[0])
        late = launches[int(codes[row])]
        assert late is not None
        assert late.started_at is not None
        problems.add(
            paths(row, "occurred_at"),
            f"is before campaign {late.id!r} was launched ({late.started_at.isoformat()})",
            "out_of_range",
        )
    if plat.labels and any(label is not None for label in plat.labels):
        seen = np.flatnonzero((batch.kind == IMPRESSION) | (batch.kind == CLICK))
        pairs = codes[seen].astype(np.int64) * len(plat.labels) + plat.codes[seen]
        unique_pairs, first_index = np.unique(pairs, return_index=True)
        for pair, row in zip(unique_pairs.tolist(), seen[first_index].tolist()):
            platform = plat.labels[pair % len(plat.labels)]
            target = found.get(str(camp.labels[pair // len(plat.labels)]))
            if platform is None or target is None or not target.platforms:
                continue
            if platform not in target.platforms:
                problems.add(
                    paths(row, "platform"),
                    f"campaign {target.id!r} does not run on {platform!r}"
                    f" (its platforms: {', '.join(target.platforms)})",
                    "invalid_value",
                )


class _JoinedRuntime:
    """The runtime, with ``transaction()`` joining a transaction that is already open.

    Engine functions such as ``record_spend`` open their own transaction; a
    tracking call that must apply the budget rule *and* store its events
    atomically hands them this view, so both happen in one commit (their
    alerts and metrics still go out after it).
    """

    def __init__(self, runtime: Runtime, tx: Tx) -> None:
        self._runtime = runtime
        self._tx = tx

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        yield self._tx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)


@attrs.frozen
class _Attribution:
    """Per batch row of a conversion: its click's time, the delay, the click's platform."""

    clicked_at: dict[int, datetime]
    seconds: dict[int, int]
    platform: dict[int, str | None]


def _attribute(tx: Tx, checked: Checked) -> _Attribution:
    """Credit each conversion of the batch to its fan's last click, in the batch or stored."""

    batch, rows = checked.batch, checked.rows
    kind = batch.kind
    conversions = np.flatnonzero(kind == CONVERSION)
    if conversions.size == 0:
        return _Attribution({}, {}, {})
    window = DEFAULT_ATTRIBUTION_WINDOW
    conv_ms = batch.occurred_at_ms[conversions]
    fans = list(dict.fromkeys(rows.fan_id[i] for i in conversions.tolist()))
    campaign_ids = list(dict.fromkeys(rows.campaign_id[i] for i in conversions.tolist()))
    stored = tracking_aggregates(tx.uow).columns(
        campaign_ids,
        since=from_epoch_ms(int(conv_ms.min())) - window,
        before=from_epoch_ms(int(conv_ms.max()) + 1),
        kinds=["click"],
        fan_ids=fans,
    )
    # only the batch's clicks and conversions take part; stored rows come first
    part = np.flatnonzero((kind == CLICK) | (kind == CONVERSION))
    s = len(stored["kind"])
    stored_ms = np.fromiter((epoch_ms(t) for t in stored["occurred_at"]), dtype=np.int64, count=s)
    index = part.tolist()
    combined = EventBatch.from_columns(
        kind=np.concatenate([np.full(s, CLICK, dtype=np.int64), kind[part].astype(np.int64)]),
        occurred_at=np.concatenate([stored_ms, batch.occurred_at_ms[part]]),
        fan_id=list(stored["fan_id"]) + [rows.fan_id[i] for i in index],
        campaign_id=list(stored["campaign_id"]) + [rows.campaign_id[i] for i in index],
    )
    credit = attribute_last_clicks(combined, window=window)
    clicked: dict[int, datetime] = {}
    seconds: dict[int, int] = {}
    platform: dict[int, str | None] = {}
    for conv, click, delay in zip(
        credit.conversion_rows.tolist(), credit.click_rows.tolist(), credit.time_to_convert.tolist()
    ):
        if click < 0:
            continue
        row = index[conv - s]
        clicked[row] = from_epoch_ms(int(combined.occurred_at_ms[click]))
        seconds[row] = int(delay)
        platform[row] = stored["platform"][click] if click < s else rows.platform[index[click - s]]
    return _Attribution(clicked, seconds, platform)


def _write_batch(
    rt: Runtime, tx: Tx, checked: Checked, now: datetime, paths: Paths, amount_name: str
) -> IngestResult:
    rows, batch = checked.rows, checked.batch
    n = len(rows)
    kinds = batch.kind.tolist()
    credit = _attribute(tx, checked)

    # a conversion's platform: given, else its click's, else the campaign's only one
    platforms: list[str | None] = list(rows.platform)
    problems = ProblemCollector()
    for row in np.flatnonzero(batch.kind == CONVERSION).tolist():
        if platforms[row] is not None:
            continue
        inferred = credit.platform.get(row)
        if inferred is None:
            targets = checked.campaigns[rows.campaign_id[row]].platforms
            inferred = str(targets[0]) if len(targets) == 1 else None
        if inferred is None:
            problems.add(
                paths(row, "platform"),
                "is required: the conversion has no attributed click with a platform "
                "and the campaign does not target exactly one platform",
                "required",
            )
        platforms[row] = inferred
    problems.raise_if_any()

    owner = next(iter(checked.campaigns.values())).user_id
    prefix = rt.ids.new_id("tracking")
    times, values = checked.times, checked.values
    records = [
        TrackingEventRecord(
            id=f"{prefix}_{i}",
            owner_id=owner,
            campaign_id=c,
            kind=KIND_NAMES[k],
            fan_id=f,
            platform=p,
            variant_id=v,
            value=x,
            occurred_at=t,
            created_at=now,
        )
        for i, (c, k, f, p, v, x, t) in enumerate(
            zip(rows.campaign_id, kinds, rows.fan_id, platforms, rows.variant_id, values, times)
        )
    ]
    conversion_rows = [i for i, k in enumerate(kinds) if k == CONVERSION]
    conversions: dict[int, CampaignConversion] = {}
    if conversion_rows:
        conv_prefix = rt.ids.new_id("conversion")
        for j, i in enumerate(conversion_rows):
            conversions[i] = CampaignConversion(
                id=f"{conv_prefix}_{j}",
                campaign_id=rows.campaign_id[i],
                fan_id=rows.fan_id[i],
                type=checked.types[i] or ConversionType.PURCHASE.value,
                value=values[i],
                platform=platforms[i] or "",
                clicked_at=credit.clicked_at.get(i),
                converted_at=times[i],
                time_to_convert=credit.seconds.get(i),
                variant_id=rows.variant_id[i],
            )
    tx.uow.tracking_events.add_many(records)
    if conversions:
        tx.uow.campaign_conversions.add_many(list(conversions.values()))
    _count_variants(tx, checked)

    # rows are locked in one order by every writer (variants, campaigns, then their
    # analytics rows) so concurrent batches never deadlock
    campaigns = dict(checked.campaigns)
    spend = _spend_per_campaign(batch)
    if spend:
        joined = cast("Runtime", _JoinedRuntime(rt, tx))
        for cid in sorted(spend):
            campaigns[cid] = record_spend(joined, owner, cid, spend[cid])
    first_at = _first_per_campaign(batch)
    for cid in sorted(campaigns):
        arm_rollup(rt, tx, campaigns[cid], now, first_at.get(cid, now))
    for cid in sorted(spend):
        check_overspend(rt, tx, campaigns[cid], now)

    counts = np.bincount(batch.kind.astype(np.int64), minlength=4).tolist()
    report = TrackingBatchReport(
        received=n,
        impressions=int(counts[IMPRESSION]),
        clicks=int(counts[CLICK]),
        conversions=int(counts[CONVERSION]),
        spend_events=int(counts[SPEND]),
        attributed_conversions=len(credit.clicked_at),
        campaign_ids=tuple(sorted(campaigns)),
    )
    receipts: list[TrackingReceipt] = []
    if paths.single:
        record = records[0]
        conversion = conversions.get(0)
        receipts.append(
            TrackingReceipt(
                event_id=record.id,
                kind=record.kind,
                campaign_id=record.campaign_id,
                occurred_at=truncate_ms(record.occurred_at.astimezone(UTC)),
                platform=record.platform,
                variant_id=record.variant_id,
                value=record.value,
                conversion_id=None if conversion is None else conversion.id,
                conversion_type=None if conversion is None else conversion.type,
                clicked_at=None if conversion is None else conversion.clicked_at,
                time_to_convert=None if conversion is None else conversion.time_to_convert,
            )
        )
    tx.after_commit.append(_emitter_hook(rt, checked, platforms, owner))
    return IngestResult(report=report, receipts=receipts, campaigns=campaigns)


def _count_variants(tx: Tx, checked: Checked) -> None:
    """Feed the A/B counters of running tests, one atomic increment per variant."""
    batch = checked.batch
    labels = batch.variant.labels
    if all(label is None for label in labels):
        return
    codes = batch.variant.codes
    kind = batch.kind
    size = len(labels)
    conversions = kind == CONVERSION
    revenue = np.where(conversions, batch.value, 0.0)
    tallies = {
        "impressions": np.bincount(codes[kind == IMPRESSION], minlength=size),
        "clicks": np.bincount(codes[kind == CLICK], minlength=size),
        "conversions": np.bincount(codes[conversions], minlength=size),
    }
    sums = {
        "revenue": np.bincount(codes, weights=revenue, minlength=size),
        "revenue_sum_squares": np.bincount(codes, weights=revenue * revenue, minlength=size),
    }
    for code, label in enumerate(labels):
        if label is None:
            continue
        variant, test = checked.variants[label]
        # a decided test's numbers stay as they were decided on; the events are kept anyway
        if test.status is not ABTestStatus.RUNNING:
            continue
        deltas: dict[str, float] = {
            name: int(values[code]) for name, values in tallies.items() if values[code]
        }
        deltas.update({name: float(v[code]) for name, v in sums.items() if v[code]})
        if deltas:
            tx.uow.ab_test_variants.increment(variant.id, deltas)


def _first_per_campaign(batch: EventBatch) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    codes = batch.campaign.codes
    for code, label in enumerate(batch.campaign.labels):
        if label is None:
            continue
        mask = codes == code
        if mask.any():
            out[label] = from_epoch_ms(int(batch.occurred_at_ms[mask].min()))
    return out


def _spend_per_campaign(batch: EventBatch) -> dict[str, float]:
    spend = batch.kind == SPEND
    if not spend.any():
        return {}
    codes = batch.campaign.codes
    labels = batch.campaign.labels
    totals = np.bincount(codes[spend], weights=batch.value[spend], minlength=len(labels))
    return {
        label: float(totals[code])
        for code, label in enumerate(labels)
        if label is not None and totals[code] > 0
    }


def _emitter_hook(
    rt: Runtime, checked: Checked, platforms: list[str | None], owner: str
) -> Callable[[], None]:
    """The metrics of a stored batch, aggregated per campaign type and platform."""
    batch, rows = checked.batch, checked.rows
    types = {cid: c.type.value for cid, c in checked.campaigns.items()}
    tallies: dict[tuple[str, str, int], list[float]] = {}
    for k, cid, platform, value in zip(
        batch.kind.tolist(), rows.campaign_id, platforms, checked.values
    ):
        if k == SPEND:
            continue
        key = (types[cid], platform or "other", k)
        slot = tallies.get(key)
        if slot is None:
            tallies[key] = [1, value]
        else:
            slot[0] += 1
            slot[1] += value

    def emit() -> None:
        emitter = rt.emitter
        for (campaign_type, platform, k), (count, total) in tallies.items():
            if k == IMPRESSION:
                emitter.impressions(
                    campaign_type=campaign_type, platform=platform, count=int(count), owner_id=owner
                )
            elif k == CLICK:
                emitter.clicks(
                    campaign_type=campaign_type, platform=platform, count=int(count), owner_id=owner
                )
            elif count == 1:
                emitter.conversion(
                    value=total, campaign_type=campaign_type, platform=platform, owner_id=owner
                )
            else:
                dims = {"CampaignType": campaign_type, "Platform": platform}
                emitter.record("CampaignConversions", count, dimensions=dims, owner_id=owner)
                emitter.record("CampaignRevenue", total, dimensions=dims, owner_id=owner)

    return emit
