"""Idempotency records on every store: a key runs once, replays, refuses another request, expires;
two concurrent first uses of one key never both run (the primary key decides); signed requests
are seen once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from campaign_core import CampaignCore, FakeClock, Settings
from campaign_core.jobs.idempotency import (
    IDEMPOTENCY,
    PENDING_TIMEOUT,
    claim_key,
    complete_key,
    mark_seen,
    purge_expired_records,
    record_id,
    release_key,
)
from campaign_core.ports import Store
from campaign_core.settings import RetentionSettings
from tests.conftest import ALL_BACKENDS, T0, backend_params, make_store

REQUEST = {"method": "POST", "path": "/campaigns", "request_hash": "h1"}


@pytest.fixture(params=backend_params(ALL_BACKENDS))
def core(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[CampaignCore]:
    store = make_store(request.param)
    core = CampaignCore(store, clock=clock)
    yield core
    core.close()


def _claim(core: CampaignCore, key: str = "k1", **changes: Any) -> Any:
    return claim_key(
        core.runtime, owner_id="acct-1", actor_id="user-1", key=key, **{**REQUEST, **changes}
    )


def test_a_key_runs_once_then_replays_its_response(core: CampaignCore) -> None:
    """The first claim runs; while it runs the key is busy; once completed the response replays."""
    first = _claim(core)
    assert first.outcome == "run"
    assert first.record.id == record_id(IDEMPOTENCY, "acct-1", "user-1", "k1")
    assert first.record.expires_at == T0 + timedelta(hours=24)
    assert _claim(core).outcome == "busy"
    complete_key(core.runtime, first.record, 201, '{"id":"c1"}', {"content-type": "x"})
    again = _claim(core)
    assert again.outcome == "replay"
    assert (again.record.status, again.record.response_body) == (201, '{"id":"c1"}')
    assert again.record.response_headers == {"content-type": "x"}


def test_another_request_with_the_key_is_a_mismatch(core: CampaignCore) -> None:
    """The same key with another body (hash) is refused, in progress or answered."""
    first = _claim(core)
    assert _claim(core, request_hash="h2").outcome == "mismatch"
    complete_key(core.runtime, first.record, 201, "{}", {})
    assert _claim(core, request_hash="h2").outcome == "mismatch"


def test_keys_are_per_account_and_user(core: CampaignCore) -> None:
    """One key of two users, or two accounts, are two keys."""
    assert _claim(core).outcome == "run"
    other = claim_key(core.runtime, owner_id="acct-1", actor_id="user-2", key="k1", **REQUEST)
    assert other.outcome == "run"
    elsewhere = claim_key(core.runtime, owner_id="acct-2", actor_id="user-1", key="k1", **REQUEST)
    assert elsewhere.outcome == "run"


def test_a_released_key_runs_again(core: CampaignCore) -> None:
    """A response not to replay (a 5xx) releases the key: the retry runs."""
    first = _claim(core)
    release_key(core.runtime, first.record)
    assert _claim(core).outcome == "run"


def test_a_stale_claim_is_taken_over_and_its_late_answer_is_dropped(
    core: CampaignCore, clock: FakeClock
) -> None:
    """A claim left in progress longer than the timeout (its server died) goes to the next request."""
    first = _claim(core)
    clock.advance(PENDING_TIMEOUT - timedelta(seconds=1))
    assert _claim(core).outcome == "busy"
    clock.advance(timedelta(seconds=1))
    second = _claim(core)
    assert second.outcome == "run"
    complete_key(core.runtime, first.record, 500, "late", {})  # not its row any more
    complete_key(core.runtime, second.record, 201, "second", {})
    assert _claim(core).record.response_body == "second"


def test_an_expired_key_runs_again_and_the_purge_removes_it(
    core: CampaignCore, clock: FakeClock
) -> None:
    """After idempotency_hours the key is new again; tick() purges expired rows in batches."""
    first = _claim(core)
    complete_key(core.runtime, first.record, 201, "{}", {})
    for n in range(3):
        done = _claim(core, key=f"other-{n}")
        complete_key(core.runtime, done.record, 201, "{}", {})
    clock.advance(timedelta(hours=24))
    assert _claim(core).outcome == "run"  # the expired row, taken over before any purge
    assert purge_expired_records(core.runtime, clock.now(), 2) == 2
    assert purge_expired_records(core.runtime, clock.now(), 2) == 1
    assert purge_expired_records(core.runtime, clock.now(), 2) == 0
    with core.store.unit_of_work() as uow:
        assert [r.key for r in uow.idempotency_records.find()] == ["k1"]


def test_the_tick_purges_with_the_retention_batch(clock: FakeClock) -> None:
    """core.tick() deletes at most retention.batch_size expired rows and reports them."""
    core = CampaignCore(
        make_store("memory"),
        clock=clock,
        settings=Settings(retention=RetentionSettings(batch_size=2, idempotency_hours=1)),
    )
    for n in range(3):
        _claim(core, key=f"k{n}")
    clock.advance(timedelta(minutes=59))
    assert core.tick().idempotency_records_purged == 0
    clock.advance(timedelta(minutes=1))
    assert core.tick().idempotency_records_purged == 2
    assert core.tick().idempotency_records_purged == 1


def test_a_signature_is_seen_once_inside_its_window(core: CampaignCore, clock: FakeClock) -> None:
    """A signed request marked seen is refused the second time, until its window ends."""

    def seen(signature: str = "sig-1") -> bool:
        return mark_seen(
            core.runtime,
            owner_id="acct-1",
            actor_id="user-1",
            signature=signature,
            expires_at=clock.now() + timedelta(minutes=5),
            **REQUEST,
        )

    assert seen() is True
    assert seen() is False
    assert seen("sig-2") is True
    assert _claim(core, key="sig-1").outcome == "run"  # another scope: not the same row
    clock.advance(timedelta(minutes=5))
    assert seen() is True  # expired (a clock moved back would get here): remembered anew


def _file_store(backend: str, tmp_path: Path) -> Store:
    if backend != "sqlite":
        return make_store(backend)
    from campaign_core_sqlalchemy import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{tmp_path / 'race.sqlite3'}")
    store.upgrade()
    return store


@pytest.mark.parametrize("backend", backend_params(ALL_BACKENDS))
def test_concurrent_first_uses_of_a_key_run_once(
    backend: str, tmp_path: Path, clock: FakeClock
) -> None:
    """Eight threads claim one key at once: exactly one runs, the others find it busy."""
    store = _file_store(backend, tmp_path)
    core = CampaignCore(store, clock=clock)
    start = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(claim: Callable[[], Any]) -> None:
        start.wait()
        outcome = claim().outcome
        with lock:
            outcomes.append(outcome)

    try:
        threads = [
            threading.Thread(target=race, args=(lambda: _claim(core, key="race"),))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["busy"] * 7 + ["run"]
    finally:
        core.close()
