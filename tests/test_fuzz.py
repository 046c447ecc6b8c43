"""Fuzzing every public service method: only typed errors, and nothing changed by an error.

Each example calls one public method of ``ws.campaigns``, ``ws.fans``, ``ws.segments``,
``ws.automations``, ``ws.analytics`` or ``ws.credentials`` (found by introspection, so a new
method is fuzzed without touching this file) with arguments drawn from hostile values: wrong
types, NaN and infinities, huge numbers, NUL and lone surrogates, long strings, nested
junk, and now and then a real id of the account. A call may succeed; when it raises, the
error must be a :class:`~campaign_core.errors.CampaignCoreError` and the store must hold
exactly what it held before (a snapshot of every repository, audit records included).

Budgets keep CI short: the in-memory store gets the most examples, SQLite fewer,
PostgreSQL and MariaDB a few dozen each (``FUZZ_EXAMPLES`` scales them all).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_core import (
    Actor,
    CampaignCore,
    CampaignCoreError,
    FakeClock,
    SequentialIds,
    Settings,
)
from campaign_core.publishing import CredentialCipher
from campaign_core.testing.helpers import snapshot
from tests.conftest import backend_params, make_store

SERVICES = ("campaigns", "fans", "segments", "automations", "analytics", "credentials")
BUDGET = {"memory": 300, "sqlite": 120, "postgres": 30, "mariadb": 30}
SCALE = float(os.environ.get("FUZZ_EXAMPLES", "1"))
T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
KEY = CredentialCipher.generate_key()

# methods that only hand back a context manager or a helper, not a call to fuzz
# (fans.clean_fields is the helper upsert and import share: it takes a ProblemCollector)
SKIP = {"analytics.transaction", "analytics.actor", "campaigns.actor", "fans.clean_fields"}


def public_methods(ws: Any) -> list[str]:
    """``service.method`` for every public bound method of the fuzzed services."""
    found = []
    for service in SERVICES:
        obj = getattr(ws, service)
        for name in dir(type(obj)):
            if name.startswith("_") or f"{service}.{name}" in SKIP:
                continue
            if isinstance(inspect.getattr_static(type(obj), name), property):
                continue
            if callable(getattr(obj, name)):
                found.append(f"{service}.{name}")
    return sorted(found)


# -- values ------------------------------------------------------------------------------------

_ATOMS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "a\x00b",
            "\ud800",
            "x" * 5000,
            "reddit",
            "instagram",
            "ppv",
            "draft",
            "active",
            "engagement > 5",
            "2026-01-15T12:00:00Z",
            "2026-01-15T12:00:00",
            "P1D",
            "1 minute",
            "-1",
            "1e309",
            "nan",
        ]
    ),
    st.datetimes(timezones=st.sampled_from([UTC, None])),
    st.just(b"bytes"),
    st.just(object()),
    st.just(timedelta(days=-1)),
)

_JUNK = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=8), st.sampled_from(["", "\x00"])), inner, max_size=4
        ),
    ),
    max_leaves=8,
)


@st.composite
def call_args(
    draw: st.DrawFn, method: Callable[..., Any], real_ids: list[str]
) -> tuple[list[Any], dict[str, Any]]:
    """Positional values for the required parameters, and some optional keywords."""
    values = st.one_of(_JUNK, st.sampled_from(real_ids)) if real_ids else _JUNK
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for parameter in inspect.signature(method).parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            for key in draw(
                st.lists(
                    st.sampled_from(["name", "content", "status", "bogus", "criteria"]),
                    max_size=2,
                    unique=True,
                )
            ):
                kwargs[key] = draw(values)
            continue
        required = parameter.default is inspect.Parameter.empty
        if not required and not draw(st.booleans()):
            continue
        if parameter.kind is parameter.KEYWORD_ONLY or not required:
            kwargs[parameter.name] = draw(values)
        else:
            args.append(draw(values))
    return args, kwargs


# -- the world ----------------------------------------------------------------------------------


def _world(store: Any) -> tuple[CampaignCore, Any, list[str]]:
    """A core over ``store`` with one account holding a few records; their ids."""
    core = CampaignCore(
        store,
        clock=FakeClock(T0),
        ids=SequentialIds("fz"),
        credential_keys=[KEY],
        settings=Settings(fan_traits={"nickname": "string", "score": "number"}),
    )
    ws = core.for_actor(Actor("acct"))
    campaign = ws.campaigns.create_campaign(
        name="C", type="ppv", platforms=["reddit"], content={"title": "t"}
    )
    ws.fans.upsert_fan("fan1", traits={"nickname": "ann", "score": 3})
    ws.fans.record_event("fan1", "purchase", value=5.0)
    segment = ws.segments.create_segment(
        name="S", criteria={"field": "engagement", "op": "gte", "value": 0}
    )
    ws.credentials.set_platform_credentials("reddit", {"token": "t0k"})
    ids = [campaign.id, segment.id, "fan1", "purchase"]
    return core, ws, ids


def test_every_public_service_method_is_fuzzed() -> None:
    """The introspection finds the methods of every service (a sanity check on the list)."""
    from campaign_core_memory import InMemoryStore

    ws = CampaignCore(InMemoryStore(), clock=FakeClock(T0)).for_actor(Actor("acct"))
    methods = public_methods(ws)
    for expected in (
        "campaigns.create_campaign",
        "fans.upsert_fan",
        "segments.calculate_segment_size",
        "automations.create_workflow",
        "analytics.track_click",
        "credentials.set_platform_credentials",
    ):
        assert expected in methods
    assert {m.split(".")[0] for m in methods} == set(SERVICES)


def _fuzz_once(world: tuple[str, CampaignCore, Any, list[str]], data: st.DataObject) -> None:
    _, core, ws, ids = world
    name = data.draw(st.sampled_from(public_methods(ws)), label="method")
    service, method_name = name.split(".")
    method = getattr(getattr(ws, service), method_name)
    args, kwargs = data.draw(call_args(method, ids), label="arguments")
    before = snapshot(core.store)
    try:
        result = method(*args, **kwargs)
        if inspect.isgenerator(result):
            list(result)
    except CampaignCoreError:
        assert snapshot(core.store) == before, f"{name} raised but changed the store"
    except Exception as error:  # the point of the suite: nothing untyped escapes
        raise AssertionError(f"{name} raised an untyped {type(error).__name__}: {error}") from error


def _settings(backend: str) -> Any:
    return settings(
        max_examples=max(5, int(BUDGET[backend] * SCALE)),
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


@pytest.mark.parametrize("backend", backend_params(list(BUDGET)))
def test_only_typed_errors_and_nothing_changed_by_an_error(backend: str) -> None:
    """Random calls of every public service method with hostile arguments: an error is always
    a CampaignCoreError and leaves the store exactly as it was."""
    store = make_store(backend)
    try:
        seeded = (backend, *_world(store))

        @_settings(backend)
        @given(data=st.data())
        def run(data: st.DataObject) -> None:
            _fuzz_once(seeded, data)

        run()
    finally:
        store.close()
