"""Shared fixtures: stores on every backend, a fake clock, a core.

Server-backed stores use ``CAMPAIGN_CORE_TEST_POSTGRES_URL`` and
``CAMPAIGN_CORE_TEST_MARIADB_URL``. Without them those tests skip and say which
variable to set; with ``CAMPAIGN_CORE_REQUIRE_SERVERS=1`` (CI) a missing URL or
an unreachable server fails instead. Each pytest-xdist worker gets its own
database (``<db>_<worker>``) so parallel runs never share tables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds
from campaign_core.ports import Store
from campaign_core_memory import InMemoryStore

SERVER_ENV = {
    "postgres": "CAMPAIGN_CORE_TEST_POSTGRES_URL",
    "mariadb": "CAMPAIGN_CORE_TEST_MARIADB_URL",
}
REQUIRE_SERVERS = os.environ.get("CAMPAIGN_CORE_REQUIRE_SERVERS") == "1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    for name, env in SERVER_ENV.items():
        url = os.environ.get(env)
        lines.append(f"{name} store tests: {'ON (' + env + ')' if url else 'skipped: set ' + env}")
    if REQUIRE_SERVERS:
        lines.append("CAMPAIGN_CORE_REQUIRE_SERVERS=1: missing servers fail the run")
    return lines


# CI runs are reproducible (the same examples every run); local runs explore new ones.
# No deadline: a test never depends on how fast the machine is (a loaded machine made
# hypothesis's 200 ms default fail examples that pass).
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
if os.environ.get("CAMPAIGN_CORE_REQUIRE_SERVERS") == "1" or os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
else:
    hypothesis_settings.load_profile("dev")


def pytest_configure(config: pytest.Config) -> None:
    # one id per test run, inherited by xdist workers: concurrent runs on one server
    # (two checkouts, CI next to a developer) never share a database
    os.environ.setdefault("CAMPAIGN_CORE_TEST_RUN", secrets.token_hex(3))


def _worker_suffix() -> str:
    return f"{os.environ['CAMPAIGN_CORE_TEST_RUN']}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


_CREATED: list[tuple[str, str, str]] = []  # (backend, admin url, database) to drop at the end


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the databases this process created."""
    if not _CREATED:
        return
    import sqlalchemy as sa

    for backend, admin_url, name in reversed(_CREATED):
        try:
            admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                if backend == "postgres":
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                else:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            admin.dispose()
        except Exception:
            pass


_ENGINES: dict[str, Any] = {}


def server_url(backend: str) -> str:
    """The per-worker database URL for ``backend``, creating the database if needed."""
    env = SERVER_ENV[backend]
    base = os.environ.get(env)
    if not base:
        message = f"{backend} tests need {env} (e.g. see DEVELOPERS.md)"
        if REQUIRE_SERVERS:
            pytest.fail(message + "; CAMPAIGN_CORE_REQUIRE_SERVERS=1 forbids skipping")
        pytest.skip(message)
    if backend in _ENGINES:
        return str(_ENGINES[backend])
    import sqlalchemy as sa

    url = sa.make_url(base)
    name = f"{url.database}_cc_{_worker_suffix()}"
    try:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if backend == "postgres":
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if not exists:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                conn.exec_driver_sql(
                    f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                )
        admin.dispose()
    except Exception as error:
        message = (
            f"{backend} server at {url.render_as_string(hide_password=True)} unreachable: {error}"
        )
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)
    _CREATED.append((backend, url.render_as_string(hide_password=False), name))
    worker_url = url.set(database=name).render_as_string(hide_password=False)
    _ENGINES[backend] = worker_url
    return worker_url


def fresh_database_url(backend: str, label: str) -> str:
    """The URL of a new, empty database of ``backend`` (dropped first if it exists).

    For tests that must start from nothing (migrations, catalogs); ``label``
    keeps tests apart, and the per-worker suffix keeps xdist workers apart.
    """
    import sqlalchemy as sa

    base = sa.make_url(server_url(backend))  # skips or fails like the other server tests
    name = f"{base.database}_{label}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if backend == "postgres":
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        else:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            conn.exec_driver_sql(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
    admin.dispose()
    _CREATED.append((backend, base.render_as_string(hide_password=False), name))
    return base.set(database=name).render_as_string(hide_password=False)


_PREPARED: set[str] = set()


def make_store(backend: str) -> Store:
    """A fresh, empty store of ``backend`` (memory, sqlite, postgres, mariadb)."""
    if backend == "memory":
        return InMemoryStore()
    from campaign_core_sqlalchemy import SqlAlchemyStore

    if backend == "sqlite":
        return SqlAlchemyStore("sqlite://", create=True)
    store = SqlAlchemyStore(server_url(backend))
    if backend not in _PREPARED:
        store.drop_tables()
        store.upgrade()
        _PREPARED.add(backend)
    else:
        truncate(store)
    return store


def truncate(store: Any) -> None:
    """Empty every table of a SQL store (faster than dropping)."""
    from campaign_core_sqlalchemy import metadata

    with store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


ALL_BACKENDS = ["memory", "sqlite", "postgres", "mariadb"]
LOCAL_BACKENDS = ["memory", "sqlite"]


def _marks(backend: str) -> list[pytest.MarkDecorator]:
    return [getattr(pytest.mark, backend)] if backend in SERVER_ENV else []


def backend_params(backends: list[str]) -> list[Any]:
    return [pytest.param(b, marks=_marks(b), id=b) for b in backends]


@pytest.fixture(params=backend_params(ALL_BACKENDS))
def any_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty store, once per backend."""
    store = make_store(request.param)
    yield store
    store.close()


@pytest.fixture(params=backend_params(LOCAL_BACKENDS))
def local_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty store on the backends that need no server (memory, SQLite)."""
    store = make_store(request.param)
    yield store
    store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def core_factory(clock: FakeClock) -> Callable[[Store], CampaignCore]:
    def build(store: Store, **kwargs: Any) -> CampaignCore:
        kwargs.setdefault("ids", SequentialIds())
        return CampaignCore(store, clock=clock, **kwargs)

    return build


@pytest.fixture
def core(local_store: Store, core_factory: Callable[..., CampaignCore]) -> CampaignCore:
    """A core over a fresh local store (memory and SQLite)."""
    return core_factory(local_store)


@pytest.fixture
def owner() -> Actor:
    return Actor("owner-1")
