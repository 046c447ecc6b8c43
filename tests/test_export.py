"""Exports: a Parquet dataset by date that DuckDB reads back to the library's own numbers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, MissingDependencyError, ValidationError
from campaign_core.export import WATERMARK_FILE, export_dataset

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")


def _campaign(ws: Any, name: str) -> Any:
    c = ws.campaigns.create_campaign(
        name=name,
        type="promotion",
        platforms=["instagram", "tiktok"],
        content={"title": name},
        media_urls=["https://cdn.example/x.jpg"],
    )
    ws.campaigns.launch_campaign(c.id)
    return c


def _track(ws: Any, campaign_id: str, day: int, clock: FakeClock) -> None:
    an = ws.analytics
    for i in range(6):
        an.track_impression(campaign_id, f"fan-{(i + day) % 5}", platform="instagram")
    an.track_impression(campaign_id, None, platform="tiktok")
    an.track_click(campaign_id, f"fan-{day}", platform="instagram")
    an.track_click(campaign_id, "fan-1", platform="tiktok")
    an.track_conversion(campaign_id, "fan-1", 12.5 + day, platform="instagram")
    an.track_spend(campaign_id, 3.25, platform="tiktok")


def _query(root: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    try:
        return list(con.execute(sql.replace("{root}", str(root))).fetchall())
    finally:
        con.close()


def test_duckdb_reads_the_same_campaign_metrics(
    core: CampaignCore, owner: Actor, clock: FakeClock, tmp_path: Path
) -> None:
    """Per campaign: impressions, reach, clicks, conversions, revenue, spent equal
    get_campaign_metrics; a second run adds only what is new; archived campaigns are in."""
    ws = core.for_actor(owner)
    a, b = _campaign(ws, "A"), _campaign(ws, "B")
    for day in range(3):
        _track(ws, a.id, day, clock)
        if day != 1:
            _track(ws, b.id, day, clock)
        clock.advance("1 day")
        core.tick()  # the hourly roll-up writes CampaignMetric snapshots
    first = export_dataset(core, tmp_path)
    assert first.rows["tracking_events"] == 5 * 11
    assert first.rows["campaign_metrics"] > 0
    _track(ws, a.id, 3, clock)
    ws.campaigns.complete_campaign(b.id)
    ws.campaigns.archive_campaign(b.id)
    clock.advance("1 hour")
    second = export_dataset(core, tmp_path)
    assert second.rows["tracking_events"] == 11
    assert second.since["tracking_events"] == first.until
    assert (tmp_path / WATERMARK_FILE).exists()
    assert (tmp_path / "tracking_events" / "date=2026-01-01").is_dir()

    rows = _query(
        tmp_path,
        """
        SELECT campaign_id,
               count(*) FILTER (WHERE kind = 'impression'),
               count(DISTINCT fan) FILTER (WHERE kind = 'impression'),
               count(*) FILTER (WHERE kind = 'click'),
               count(*) FILTER (WHERE kind = 'conversion'),
               coalesce(sum(value) FILTER (WHERE kind = 'conversion'), 0),
               coalesce(sum(value) FILTER (WHERE kind = 'spend'), 0),
               count(DISTINCT id) = count(*)
        FROM read_parquet('{root}/tracking_events/*/*.parquet', hive_partitioning = true)
        GROUP BY campaign_id ORDER BY campaign_id
        """,
    )
    assert [r[0] for r in rows] == sorted([a.id, b.id])
    for cid, imp, reach, clicks, conv, revenue, spent, unique in rows:
        totals = ws.analytics.get_campaign_metrics(cid).totals
        assert (imp, reach, clicks, conv) == (
            totals.impressions,
            totals.reach,
            totals.clicks,
            totals.conversions,
        )
        assert revenue == pytest.approx(totals.revenue)
        assert spent == pytest.approx(totals.spent)
        assert unique

    # the latest all-platform snapshot of each campaign, deduplicated by id as documented
    snaps = _query(
        tmp_path,
        """
        SELECT campaign_id, max(impressions) FROM (
          SELECT *, row_number() OVER (PARTITION BY id ORDER BY recorded_at DESC) AS n
          FROM read_parquet('{root}/campaign_metrics/*/*.parquet', hive_partitioning = true)
          WHERE platform IS NULL
        ) WHERE n = 1 GROUP BY campaign_id ORDER BY campaign_id
        """,
    )
    assert dict(snaps)[b.id] == ws.analytics.get_campaign_metrics(b.id).totals.impressions


def test_fans_leave_only_as_pseudonyms(
    core: CampaignCore, owner: Actor, clock: FakeClock, tmp_path: Path
) -> None:
    ws = core.for_actor(owner)
    _track(ws, _campaign(ws, "A").id, 0, clock)
    clock.advance("1 hour")
    export_dataset(core, tmp_path, tables=["tracking_events"])
    fans = {r[0] for r in _query(tmp_path, "SELECT fan FROM '{root}/tracking_events/*/*.parquet'")}
    assert fans
    assert all(f is None or (f.startswith("fan_") and len(f) == 28) for f in fans)


def test_rows_still_settling_wait_for_the_next_run(
    core: CampaignCore, owner: Actor, clock: FakeClock, tmp_path: Path
) -> None:
    """Rows stored within `settle` of now are left for the next run, not lost."""
    ws = core.for_actor(owner)
    _track(ws, _campaign(ws, "A").id, 0, clock)
    assert export_dataset(core, tmp_path).rows["tracking_events"] == 0
    clock.advance("5 minutes")
    assert export_dataset(core, tmp_path).rows["tracking_events"] == 11
    assert export_dataset(core, tmp_path).rows["tracking_events"] == 0


def test_bad_arguments_are_refused_before_writing(core: CampaignCore, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        export_dataset(core, tmp_path / "x", tables=["fans"])
    assert [p.path for p in info.value.problems] == ["tables"]
    with pytest.raises(ValidationError):
        export_dataset(core, tmp_path / "x", batch_size=0)
    assert not (tmp_path / "x").exists()
    (tmp_path / WATERMARK_FILE).write_text("not json", encoding="utf-8")
    with pytest.raises(ValidationError, match="watermark"):
        export_dataset(core, tmp_path)


def test_without_pyarrow_the_error_names_the_extra(
    core: CampaignCore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingDependencyError) as info:
        export_dataset(core, tmp_path)
    assert info.value.extra == "export"
