"""The HTTP layer's overhead over calling the service directly, for ``get_campaign`` (issue 22).

The app is driven in-process through ASGI (a scope, a receive and a send on one event loop:
what uvicorn hands it, without the socket), so what is timed is our layer: routing, the actor
resolver, the query and path parameters, the thread hop to the service, ``to_json`` and the
JSON encoding. The baseline is ``ws.campaigns.get_campaign(id)`` on a workspace made once.
On the memory store, on SQLite (a file in a temporary directory) and on PostgreSQL (when
``CAMPAIGN_CORE_TEST_POSTGRES_URL`` is set; a fresh database), with the service calls on the
app's threads (the default) and on the event loop (``offload=False``). The issue's
goal: at most 2x. Timings are interleaved round-robin, each call timed alone: min and median.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import Result, Scale

from campaign_core import Actor, CampaignCore
from campaign_core_http import create_app
from campaign_core_memory import InMemoryStore

ACTOR = Actor("creator-1")


def _asgi_get(app: Any, path: str) -> Callable[[int], list[float]]:
    """``per`` GETs of ``path`` on one running event loop (as a server runs it), each timed."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def batch(per: int) -> list[float]:
        status: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        clock = time.perf_counter
        times = []
        for _ in range(per + 1):  # the first wakes the thread pool up: not counted
            start = clock()
            await app(dict(scope), receive, send)
            times.append(clock() - start)
        assert set(status) == {200}, status
        return times[1:]

    loop = asyncio.new_event_loop()
    return lambda per: loop.run_until_complete(batch(per))


def _per_call(
    http: Callable[[int], list[float]], direct: Callable[[], object], rounds: int, per: int
) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[float]] = {"http": [], "direct": []}
    clock = time.perf_counter
    for round_ in range(rounds):
        gc.collect()
        gc.disable()
        try:
            for name in ("http", "direct") if round_ % 2 == 0 else ("direct", "http"):
                if name == "http":
                    samples[name].extend(http(per))
                    continue
                for _ in range(per):
                    start = clock()
                    direct()
                    samples[name].append(clock() - start)
        finally:
            gc.enable()
    return {name: (min(t), statistics.median(t)) for name, t in samples.items()}


def _rows(label: str, core: CampaignCore, scale: Scale) -> list[Result]:
    ws = core.for_actor(ACTOR)
    campaign = ws.campaigns.create_campaign(
        name="Drop", type="ppv", platforms=["reddit"], content={"title": "x"}
    )
    return [
        _row(f"{label}, {how}", core, ws, campaign.id, scale, offload)
        for how, offload in (("thread pool", True), ("on the loop", False))
    ]


def _row(
    label: str, core: CampaignCore, ws: Any, campaign_id: str, scale: Scale, offload: bool
) -> Result:
    app = create_app(core, actor_resolver=lambda request: ACTOR, offload=offload)
    http = _asgi_get(app, f"/campaigns/{campaign_id}")
    http(5)  # warm the route and the JSON paths
    times = _per_call(
        http,
        lambda: ws.campaigns.get_campaign(campaign_id),
        rounds=scale.n(20, minimum=3),
        per=scale.n(50, minimum=5),
    )
    (ours, ours_median), (direct, direct_median) = times["http"], times["direct"]
    return Result(
        f"GET /campaigns/{{id}} over ASGI vs get_campaign, {label}",
        ours,
        direct,
        goal="<= 2.0",
        note=f"per call: http {ours * 1e6:.0f} us (median {ours_median * 1e6:.0f}), "
        f"direct {direct * 1e6:.0f} us (median {direct_median * 1e6:.0f})",
        measured_median=ours_median,
        baseline_median=direct_median,
    )


def http_get_campaign_memory(scale: Scale) -> list[Result]:
    core = CampaignCore(InMemoryStore())
    try:
        return _rows("memory store", core, scale)
    finally:
        core.close()


def http_get_campaign_sqlite(scale: Scale) -> list[Result]:
    from campaign_core_sqlalchemy import SqlAlchemyStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SqlAlchemyStore(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        store.upgrade()
        core = CampaignCore(store)
        try:
            return _rows("SQLite", core, scale)
        finally:
            core.close()


def http_get_campaign_postgres(scale: Scale) -> list[Result]:
    import os

    url = os.environ.get("CAMPAIGN_CORE_TEST_POSTGRES_URL")
    if not url:
        return []
    import sqlalchemy as sa

    from campaign_core_sqlalchemy import SqlAlchemyStore

    parsed = sa.make_url(url)
    name = f"{parsed.database}_bench_http_overhead"
    admin = sa.create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    store = SqlAlchemyStore(parsed.set(database=name).render_as_string(False))
    store.upgrade()
    core = CampaignCore(store)
    try:
        return _rows("PostgreSQL", core, scale)
    finally:
        core.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


BENCHMARKS = [http_get_campaign_memory, http_get_campaign_sqlite, http_get_campaign_postgres]
