"""Exports for offline analysis: a Parquet dataset partitioned by date (extra ``export``).

:func:`export_dataset` writes what the store holds into a directory that DuckDB,
Spark, Athena or pandas read as it is::

    <directory>/tracking_events/date=2026-01-01/part-<run>-0.parquet
    <directory>/campaign_metrics/date=2026-01-01/part-<run>-0.parquet
    <directory>/deliveries/date=2026-01-01/part-<run>-0.parquet
    <directory>/_campaign_core_export.json      (the watermark; "_" files are not data)

Partitions are Hive-style (``date=YYYY-MM-DD``, UTC). Each run adds new files
(``part-<run>-*``), never rewrites old ones, and is incremental: it writes the
rows stored since the watermark of the previous run, up to ``now`` less
``settle`` (so a transaction still committing rows with an earlier timestamp is
picked up by the next run), then moves the watermark. A run that fails leaves
the watermark where it was (rerunning may write a file again: read with the
dedup rule below).

The tables and their columns (timestamps are ``timestamp[us, tz=UTC]``):

- ``tracking_events``: incremental by ``created_at``, partitioned by
  ``occurred_at``. Columns ``id``, ``owner_id``, ``campaign_id``, ``kind``
  (impression, click, conversion, spend), ``fan`` (the fan's keyed pseudonym
  with ``settings.pseudonym_key``, never the fan's id; null when unknown),
  ``platform``, ``variant_id``, ``value`` (float64), ``occurred_at``,
  ``created_at``. Rows are immutable: each appears once.
- ``campaign_metrics`` (the seed's hourly ``CampaignMetric`` snapshots):
  incremental by ``recorded_at``, partitioned by ``period_start``. Columns
  ``id``, ``campaign_id``, ``owner_id``, ``platform`` (null: all platforms),
  ``period_start``, ``recorded_at``, ``impressions``, ``reach``, ``clicks``,
  ``conversions`` (int64), ``revenue``, ``spent``, ``ctr``,
  ``conversion_rate``, ``roi``, ``cpa`` (float64). A snapshot that the roll-up
  refreshes is written again: per ``id`` keep the row with the latest
  ``recorded_at``.
- ``deliveries`` (broadcast delivery rows): incremental by ``updated_at``,
  partitioned by ``created_at``. Columns ``id``, ``campaign_id``, ``owner_id``,
  ``fan`` (pseudonym), ``channel``, ``topic``, ``status``, ``reason``,
  ``attempts`` (int64), ``cost``, ``created_at``, ``updated_at``, ``sent_at``,
  ``delivered_at``, ``opened_at``, ``clicked_at``, ``failed_at``. A row that
  changes is written again: per ``id`` keep the latest ``updated_at``.

Archived campaigns are exported like the others. Rows are read from the store in
keyset pages of ``batch_size`` and written a page at a time, so memory stays flat
whatever the table's size.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from campaign_core.errors import MissingDependencyError, ValidationError
from campaign_core.query import And, Cond, Eq, Gt, Lte, Or, Order

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from campaign_core._core import CampaignCore

__all__ = ["EXPORT_TABLES", "ExportReport", "export_dataset"]

#: The tables an export writes, in order.
EXPORT_TABLES: Final = ("tracking_events", "campaign_metrics", "deliveries")
WATERMARK_FILE: Final = "_campaign_core_export.json"


@attrs.frozen(kw_only=True)
class ExportReport:
    """What one :func:`export_dataset` run wrote.

    Attributes:
        directory: the dataset's root.
        rows: rows written per table.
        files: Parquet files written.
        since: per table, the watermark the run started from (``None``: the beginning).
        until: the new watermark (rows stored up to this instant are exported).
    """

    directory: str
    rows: dict[str, int]
    files: int
    since: dict[str, datetime | None]
    until: datetime


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet
    except ImportError:
        raise MissingDependencyError("export", "pyarrow") from None
    return pa


def _schemas(pa: Any) -> dict[str, pa.Schema]:
    ts = pa.timestamp("us", tz="UTC")
    s, f, i = pa.string(), pa.float64(), pa.int64()
    return {
        "tracking_events": pa.schema(
            [
                ("id", s),
                ("owner_id", s),
                ("campaign_id", s),
                ("kind", s),
                ("fan", s),
                ("platform", s),
                ("variant_id", s),
                ("value", f),
                ("occurred_at", ts),
                ("created_at", ts),
            ]
        ),
        "campaign_metrics": pa.schema(
            [
                ("id", s),
                ("campaign_id", s),
                ("owner_id", s),
                ("platform", s),
                ("period_start", ts),
                ("recorded_at", ts),
                ("impressions", i),
                ("reach", i),
                ("clicks", i),
                ("conversions", i),
                ("revenue", f),
                ("spent", f),
                ("ctr", f),
                ("conversion_rate", f),
                ("roi", f),
                ("cpa", f),
            ]
        ),
        "deliveries": pa.schema(
            [
                ("id", s),
                ("campaign_id", s),
                ("owner_id", s),
                ("fan", s),
                ("channel", s),
                ("topic", s),
                ("status", s),
                ("reason", s),
                ("attempts", i),
                ("cost", f),
                ("created_at", ts),
                ("updated_at", ts),
                ("sent_at", ts),
                ("delivered_at", ts),
                ("opened_at", ts),
                ("clicked_at", ts),
                ("failed_at", ts),
            ]
        ),
    }


#: per table: the repository, the incremental column, the partition column.
_SOURCES: Final = {
    "tracking_events": ("tracking_events", "created_at", "occurred_at"),
    "campaign_metrics": ("campaign_metrics", "recorded_at", "period_start"),
    "deliveries": ("deliveries", "updated_at", "created_at"),
}


def _read_watermark(root: Path) -> dict[str, datetime | None]:
    path = root / WATERMARK_FILE
    if not path.exists():
        return dict.fromkeys(EXPORT_TABLES)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {t: (datetime.fromisoformat(raw[t]) if raw.get(t) else None) for t in EXPORT_TABLES}
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ValidationError.single(
            "directory", f"{path} is not a campaign-core export watermark"
        ) from None


def _write_watermark(root: Path, marks: dict[str, datetime | None]) -> None:
    path = root / WATERMARK_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({t: (m.isoformat() if m else None) for t, m in marks.items()}, indent=2),
        encoding="utf-8",
    )
    os.replace(tmp, path)  # atomic: a crash leaves the old watermark or the new one


def _pages(
    core: CampaignCore,
    repo: str,
    field: str,
    since: datetime | None,
    until: datetime,
    batch: int,
) -> Iterator[Sequence[Any]]:
    """Rows with ``since < field <= until`` in (field, id) order, a keyset page at a time."""
    after: tuple[datetime, str] | None = None
    while True:
        conds: list[Cond] = [Lte(field, until)]
        if since is not None:
            conds.append(Gt(field, since))
        if after is not None:
            conds.append(Or(Gt(field, after[0]), And(Eq(field, after[0]), Gt("id", after[1]))))
        with core.store.read_only_unit_of_work() as uow:
            rows = uow.repository(repo).find(
                And(*conds), order_by=[Order(field), Order("id")], limit=batch
            )
        if not rows:
            return
        yield rows
        if len(rows) < batch:
            return
        last = rows[-1]
        after = (getattr(last, field), last.id)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def export_dataset(
    core: CampaignCore,
    directory: str | pathlib.Path,
    *,
    tables: Sequence[str] = EXPORT_TABLES,
    batch_size: int = 10_000,
    settle: timedelta = timedelta(minutes=5),
) -> ExportReport:
    """Write the rows stored since the last export as Parquet, partitioned by date.

    See the module docs for the layout, the schema and the dedup rule.

    Args:
        core: the core whose store is exported (its clock sets ``now``; its
            ``settings.pseudonym_key`` keys the fan pseudonyms).
        directory: the dataset's root (created if missing); the watermark is kept in it.
        tables: which of :data:`EXPORT_TABLES` to write (the others keep their watermark).
        batch_size: rows read and written per page (1-1000000).
        settle: rows stored within this much of ``now`` wait for the next run.

    Returns:
        An :class:`ExportReport`.

    Raises:
        MissingDependencyError: pyarrow is not installed (extra ``export``).
        ValidationError: an unknown table, a bad batch size or settle, or a
            watermark file that is not one.
    """
    pa = _pyarrow()
    import pyarrow.parquet as pq

    # the analytics package (numpy) loads on use: `campaign-core --help` stays light
    from campaign_core.analytics import pseudonymize

    wanted = list(tables)
    bad = [t for t in wanted if t not in EXPORT_TABLES]
    if bad or not wanted:
        raise ValidationError.single("tables", f"must be some of: {', '.join(EXPORT_TABLES)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise ValidationError.single("batch_size", "must be a whole number from 1 to 1000000")
    if not 1 <= batch_size <= 1_000_000:
        raise ValidationError.single("batch_size", "must be a whole number from 1 to 1000000")
    if not isinstance(settle, timedelta) or settle < timedelta(0):
        raise ValidationError.single("settle", "must be a duration of zero or more")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    marks = _read_watermark(root)
    now = core.clock.now()
    until = now - settle
    run = now.strftime("%Y%m%dT%H%M%S%fZ")
    schemas = _schemas(pa)
    key = core.runtime.settings.pseudonym_key
    owners: dict[str, str] = {}

    def owner_of(campaign_id: str) -> str | None:
        if campaign_id not in owners:
            with core.store.read_only_unit_of_work() as uow:
                campaign = uow.campaigns.get(campaign_id)
            owners[campaign_id] = "" if campaign is None else campaign.user_id
        return owners[campaign_id] or None

    def fan(value: str | None) -> str | None:
        return None if value is None else pseudonymize(value, key)

    converters: dict[str, Callable[[Any], dict[str, Any]]] = {
        "tracking_events": lambda r: {
            "id": r.id,
            "owner_id": r.owner_id,
            "campaign_id": r.campaign_id,
            "kind": r.kind,
            "fan": fan(r.fan_id),
            "platform": r.platform,
            "variant_id": r.variant_id,
            "value": float(r.value),
            "occurred_at": _utc(r.occurred_at),
            "created_at": _utc(r.created_at),
        },
        "campaign_metrics": lambda r: {
            "id": r.id,
            "campaign_id": r.campaign_id,
            "owner_id": owner_of(r.campaign_id),
            "platform": None if r.platform is None else str(r.platform),
            "period_start": _utc(r.period_start),
            "recorded_at": _utc(r.recorded_at),
            "impressions": r.impressions,
            "reach": r.reach,
            "clicks": r.clicks,
            "conversions": r.conversions,
            "revenue": r.revenue,
            "spent": r.spent,
            "ctr": r.ctr,
            "conversion_rate": r.conversion_rate,
            "roi": r.roi,
            "cpa": r.cpa,
        },
        "deliveries": lambda r: {
            "id": r.id,
            "campaign_id": r.campaign_id,
            "owner_id": r.owner_id,
            "fan": fan(r.fan_id),
            "channel": r.channel,
            "topic": r.topic,
            "status": str(r.status.value),
            "reason": r.reason,
            "attempts": r.attempts,
            "cost": r.cost,
            "created_at": _utc(r.created_at),
            "updated_at": _utc(r.updated_at),
            "sent_at": _utc(r.sent_at),
            "delivered_at": _utc(r.delivered_at),
            "opened_at": _utc(r.opened_at),
            "clicked_at": _utc(r.clicked_at),
            "failed_at": _utc(r.failed_at),
        },
    }

    counts = dict.fromkeys(EXPORT_TABLES, 0)
    files = 0
    since = dict(marks)
    for table in wanted:
        repo, field, part = _SOURCES[table]
        schema = schemas[table]
        convert = converters[table]
        for page_number, rows in enumerate(
            _pages(core, repo, field, marks[table], until, batch_size)
        ):
            by_date: dict[str, list[dict[str, Any]]] = {}
            for record in rows:
                stamp = getattr(record, part) or getattr(record, field)
                by_date.setdefault(stamp.astimezone(UTC).date().isoformat(), []).append(
                    convert(record)
                )
            for day, items in sorted(by_date.items()):
                folder = root / table / f"date={day}"
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(
                    pa.Table.from_pylist(items, schema=schema),
                    folder / f"part-{run}-{page_number}.parquet",
                )
                files += 1
            counts[table] += len(rows)
        marks[table] = until
    _write_watermark(root, marks)
    return ExportReport(
        directory=str(root),
        rows={t: counts[t] for t in wanted},
        files=files,
        since={t: since[t] for t in wanted},
        until=until,
    )
