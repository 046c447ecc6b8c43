"""The calls a host makes once per web request, against a raw single-transaction baseline.

For each path (``create_campaign``, ``get_campaign``, ``update_campaign``,
``track_impression``, ``track_click``, ``track_conversion``, ``record_event``,
``upsert_fan``) the benchmark first records the SQL one warm call of ours sends (the
first tracking call of a campaign also creates its analytics row; later ones do not).
Two baselines replay it on a raw driver connection, in one transaction, with fresh
ids: only what the database must do for that request (the call's writes; for
``get_campaign`` its one SELECT), and every statement the call sends (its reads
included: what the library adds over the same SQL). Ours includes everything the
call does (permissions, validation, rate limits, audit, metrics). All three run
interleaved and repeated (min and median reported).

SQLite is a WAL file; PostgreSQL needs ``CAMPAIGN_CORE_TEST_POSTGRES_URL`` (a
database ``<db>_cc_bench`` is used). Run: ``python benchmarks/run_all.py --only requests``.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa
from _harness import Result, Scale, SkipBenchmark, interleaved, server_database_url

from campaign_core import CampaignCore, FakeClock
from campaign_core.models import CampaignStatus
from campaign_core.permissions import Actor
from campaign_core_sqlalchemy import SqlAlchemyStore

_WRITES = ("INSERT", "UPDATE", "DELETE")
_counter = itertools.count()


class _Recorder:
    """The statements (and their parameters) an engine sends while recording."""

    def __init__(self, engine: sa.Engine) -> None:
        self.on = False
        self.seen: list[tuple[str, Any]] = []
        sa.event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        if self.on:
            self.seen.append((statement, params))

    def capture(self, fn: Callable[[], object]) -> list[tuple[str, Any]]:
        self.seen, self.on = [], True
        try:
            fn()
        finally:
            self.on = False
        return self.seen


def _fresh(params: Any) -> Any:
    """The parameters of an INSERT with a new id (the first value, or the ``id`` key)."""
    suffix = f"-r{next(_counter)}"
    if isinstance(params, dict):
        return {**params, "id": f"{params['id']}{suffix}"} if "id" in params else params
    if isinstance(params, list | tuple) and params and isinstance(params[0], str):
        return (f"{params[0]}{suffix}", *params[1:])
    return params


def _unversioned(statement: str, params: Any) -> tuple[str, Any]:
    """An UPDATE without its version check, so every replay writes the row again."""
    for mark in (" AND version = ?", " AND version = %s"):
        if statement.startswith("UPDATE") and statement.endswith(mark):
            return statement[: -len(mark)], tuple(params)[:-1]
    return statement, params


def _replayer(
    engine: sa.Engine, statements: list[tuple[str, Any]], sqlite: bool
) -> Callable[[], None]:
    raw: Any = engine.raw_connection().driver_connection
    statements = [_unversioned(s, p) for s, p in statements]

    def replay() -> None:
        cursor = raw.cursor()
        if sqlite:
            cursor.execute("BEGIN")
        for statement, params in statements:
            if statement.startswith("INSERT"):
                params = _fresh(params)
            cursor.execute(statement, params)
            if statement.startswith("SELECT"):
                cursor.fetchall()
        if sqlite:
            cursor.execute("COMMIT")
        else:
            raw.commit()
        cursor.close()

    return replay


def _paths(store: SqlAlchemyStore, label: str, calls: int, repeat: int) -> list[Result]:
    sqlite = store.dialect == "sqlite"
    core = CampaignCore(store, clock=FakeClock())
    ws = core.for_actor(Actor(f"bench-{label}-{next(_counter)}"))
    recorder = _Recorder(store.engine)
    campaign = ws.campaigns.create_campaign(
        name="Spring", type="promotion", platforms=["instagram"]
    )
    live = ws.campaigns.create_campaign(name="Live", type="promotion", platforms=["instagram"])
    with store.unit_of_work() as uow:  # tracking needs an active campaign
        started = core.runtime.now()
        uow.campaigns.update(
            attrs.evolve(
                live, status=CampaignStatus.ACTIVE, started_at=started, version=live.version + 1
            )
        )
        uow.commit()
    ws.fans.upsert_fan("fan-1")
    names = itertools.count()
    paths: dict[str, Callable[[], object]] = {
        "create_campaign": lambda: ws.campaigns.create_campaign(name="Sale", type="promotion"),
        "get_campaign": lambda: ws.campaigns.get_campaign(campaign.id),
        "update_campaign": lambda: ws.campaigns.update_campaign(
            campaign.id, name=f"n{next(names)}"
        ),
        "track_impression": lambda: ws.analytics.track_impression(live.id, "fan-1"),
        # clicks by another fan: each conversion of fan-1 then reads a click window of its own
        # few clicks, not every click of the run (all at the fake clock's one instant)
        "track_click": lambda: ws.analytics.track_click(live.id, "fan-2"),
        "track_conversion": lambda: ws.analytics.track_conversion(live.id, "fan-1", 9.5),
        "record_event": lambda: ws.fans.record_event("fan-1", "purchase"),
        "upsert_fan": lambda: ws.fans.upsert_fan("fan-1", engagement=next(names) % 100),
    }
    results = []
    for name, call in paths.items():
        call()  # warm: caches, the campaign's analytics row
        sent = [(s, p) for s, p in recorder.capture(call) if not s.startswith("BEGIN")]
        wanted = ("SELECT",) if name == "get_campaign" else _WRITES
        kept = [(s, p) for s, p in sent if s.lstrip().upper().startswith(wanted)]
        replay_kept = _replayer(store.engine, kept, sqlite)
        replay_all = _replayer(store.engine, sent, sqlite)

        def ours(call: Callable[[], object] = call) -> None:
            for _ in range(calls):
                call()

        def rounds(replay: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                for _ in range(calls):
                    replay()

            return run

        timings = interleaved(
            {"ours": ours, "kept": rounds(replay_kept), "all": rounds(replay_all)}, repeat=repeat
        )
        what = "read" if name == "get_campaign" else "writes"
        for baseline, note in (
            ("kept", f"baseline: its {len(kept)} {what}, raw, one transaction"),
            ("all", f"baseline: all its {len(sent)} statements, raw, one transaction"),
        ):
            if baseline == "all" and len(sent) == len(kept):
                continue  # the same baseline
            results.append(
                Result(
                    f"{name} ({label}{', all SQL' if baseline == 'all' else ''})",
                    timings["ours"].min / calls,
                    timings[baseline].min / calls,
                    goal=("<= 2.0" if sqlite else "<= 1.5") if baseline == "kept" else "",
                    note=note,
                    measured_median=timings["ours"].median / calls,
                    baseline_median=timings[baseline].median / calls,
                )
            )
    return results


def bench_requests_sqlite(scale: Scale) -> list[Result]:
    """Per-request paths on a SQLite file (WAL)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlAlchemyStore(f"sqlite:///{Path(tmp) / 'requests.sqlite3'}", create=True)
        try:
            return _paths(store, "SQLite", calls=scale.n(200, 10), repeat=7)
        finally:
            store.close()


def bench_requests_postgres(scale: Scale) -> list[Result]:
    """Per-request paths on PostgreSQL."""
    try:
        url = server_database_url("CAMPAIGN_CORE_TEST_POSTGRES_URL", "PostgreSQL requests")
    except SkipBenchmark:
        raise
    store = SqlAlchemyStore(url)
    store.upgrade()
    try:
        return _paths(store, "PostgreSQL", calls=scale.n(100, 10), repeat=7)
    finally:
        store.close()


BENCHMARKS = [bench_requests_sqlite, bench_requests_postgres]
