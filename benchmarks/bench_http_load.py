"""A bounded load run against ``campaign-core serve`` (uvicorn, one process) on 127.0.0.1 (issue 22).

20,000 requests at full scale, 32 at a time (an httpx client on the same machine), mixed:
60 % ``GET /campaigns/{id}``, 15 % ``GET /campaigns?limit=20``, 20 % ``POST .../impressions``,
5 % ``POST /campaigns``; every request signed. Reported: requests per second, p50 and p99
latency, and the 5xx count (the goal: none). On SQLite (a file) and, when
``CAMPAIGN_CORE_TEST_POSTGRES_URL`` is set, on PostgreSQL (a fresh database). The client
shares the machine's cores with the server, so the numbers are a floor.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _harness import Result, Scale

from campaign_core import Actor
from campaign_core_http import sign_actor_headers

SECRET = "bench-secret-of-at-least-32-bytes"
ACTOR = Actor("creator-bench")
CONCURRENCY = 32
ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CAMPAIGN_CORE_HTTP_SECRET": SECRET, "PYTHONPATH": str(ROOT / "src")}
    cli = [sys.executable, "-m", "campaign_core.cli", "--database-url", url]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        # idle connections kept longer than the client's: on a loaded machine the client's
        # loop can stall past uvicorn's 5 s and send on a connection being closed
        [*cli, "serve", "--port", str(port), "--keep-alive", "120"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("BENCH_HTTP_SERVER_LOG", os.devnull), "ab"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=5):
                return server
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)


async def _load(base: str, total: int) -> tuple[float, list[float], dict[int, int]]:
    import httpx

    async with httpx.AsyncClient(
        base_url=base, limits=httpx.Limits(max_connections=CONCURRENCY), timeout=60
    ) as client:

        async def send(method: str, target: str, body: Any = None) -> tuple[int, Any]:
            raw = json.dumps(body).encode() if body is not None else b""
            headers = sign_actor_headers(SECRET, method, target, raw, ACTOR, datetime.now(UTC))
            if raw:
                headers["content-type"] = "application/json"
            try:
                response = await client.request(method, target, content=raw, headers=headers)
            except httpx.TransportError:
                return 0, None  # counted, not fatal: the run reports how many
            return response.status_code, response.json() if response.content else None

        new = {"name": "Load", "type": "ppv", "platforms": ["reddit"], "content": {"title": "x"}}
        ids = []
        for _ in range(20):
            status, campaign = await send("POST", "/campaigns", new)
            assert status == 201, campaign
            status, _ = await send("POST", f"/campaigns/{campaign['id']}/launch")
            assert status == 200
            ids.append(campaign["id"])
        rng = random.Random(22)
        plan = []
        for i in range(total):
            roll, cid = rng.random(), ids[i % len(ids)]
            if roll < 0.60:
                plan.append(("GET", f"/campaigns/{cid}", None))
            elif roll < 0.75:
                plan.append(("GET", "/campaigns?limit=20", None))
            elif roll < 0.95:
                plan.append(("POST", f"/campaigns/{cid}/impressions", {"fanId": f"fan-{i}"}))
            else:
                plan.append(("POST", "/campaigns", new))
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        queue = iter(plan)

        async def worker() -> None:
            for method, target, body in queue:
                start = time.perf_counter()
                status, _ = await send(method, target, body)
                latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - began, latencies, statuses


def _row(label: str, url: str, scale: Scale) -> Result:
    total = scale.n(20_000, minimum=500)
    port = _port()
    server = _serve(url, port)
    try:
        seconds, latencies, statuses = asyncio.run(_load(f"http://127.0.0.1:{port}", total))
    finally:
        server.terminate()
        server.wait(timeout=30)
    cuts = statistics.quantiles(latencies, n=100)
    errors = sum(n for status, n in statuses.items() if status >= 500)
    lost = statuses.pop(0, 0)
    return Result(
        f"HTTP load, {label}: {total} requests, {CONCURRENCY} concurrent, mixed",
        total / seconds,
        unit="req/s",
        note=f"p50 {cuts[49] * 1e3:.1f} ms, p99 {cuts[98] * 1e3:.1f} ms, 5xx {errors}, "
        f"transport errors {lost}, statuses {dict(sorted(statuses.items()))}",
    )


def http_load_sqlite(scale: Scale) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        return [_row("SQLite", f"sqlite:///{Path(tmp) / 'load.sqlite3'}", scale)]


def http_load_postgres(scale: Scale) -> list[Result]:
    base = os.environ.get("CAMPAIGN_CORE_TEST_POSTGRES_URL")
    if not base:
        return []
    import sqlalchemy as sa

    url = sa.make_url(base)
    name = f"{url.database}_bench_http"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return [_row("PostgreSQL", url.set(database=name).render_as_string(False), scale)]


BENCHMARKS = [http_load_sqlite, http_load_postgres]
