"""Idempotency-Key on POST, kept in the store: the first response replayed, another body refused,
a key still running is a 409, keys expire with the settings and are purged by tick()."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from campaign_core import CampaignCore, FakeClock, Settings
from campaign_core.jobs.idempotency import claim_key
from campaign_core.settings import RetentionSettings
from campaign_core_http import create_app
from campaign_core_memory import InMemoryStore

from ..conftest import T0
from .conftest import OWNER, TestClient, fixed_actor

BODY = {"name": "Drop", "type": "ppv", "platforms": ["reddit"], "content": {"title": "x"}}


def test_the_same_key_and_body_replays_the_first_response(
    client: TestClient, core: CampaignCore
) -> None:
    """The second POST with the key gets the first answer, status, body and type; one campaign."""
    first = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k1"})
    again = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert client.get("/campaigns").json()["total"] == 1
    other = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k2"})
    assert other.json()["id"] != first.json()["id"]
    with core.store.unit_of_work() as uow:  # kept in the store, with the response
        rows = sorted(uow.idempotency_records.find(), key=lambda r: r.key)
    assert [(r.key, r.status, r.owner_id) for r in rows] == [
        ("k1", 201, "creator-1"),
        ("k2", 201, "creator-1"),
    ]


def test_the_same_key_with_another_body_is_422(client: TestClient) -> None:
    """Another body, or another path, under a used key is refused with its own code."""
    client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k1"})
    changed = client.post(
        "/campaigns", json={**BODY, "name": "Other"}, headers={"Idempotency-Key": "k1"}
    )
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    elsewhere = client.post("/segments", json={"name": "x"}, headers={"Idempotency-Key": "k1"})
    assert elsewhere.status_code == 422


def test_errors_replay_too_but_not_without_a_key(client: TestClient) -> None:
    """A 4xx answer is replayed like a success; a POST without a key is never replayed."""
    bad = {"name": ""}
    first = client.post("/campaigns", json=bad, headers={"Idempotency-Key": "k"})
    again = client.post("/campaigns", json=bad, headers={"Idempotency-Key": "k"})
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert "idempotent-replayed" in again.headers
    plain = client.post("/campaigns", json=BODY)
    assert "idempotent-replayed" not in plain.headers


def test_a_204_replays_without_a_body(client: TestClient) -> None:
    """A POST answered with no body replays as the same empty answer."""
    from .conftest import new_campaign

    campaign = new_campaign(client)
    path = f"/campaigns/{campaign['id']}/impressions"
    first = client.post(path, json={"fanId": "f1"}, headers={"Idempotency-Key": "imp-1"})
    again = client.post(path, json={"fanId": "f1"}, headers={"Idempotency-Key": "imp-1"})
    assert (first.status_code, first.content) == (again.status_code, again.content)
    assert again.headers["idempotent-replayed"] == "true"


def test_a_key_still_running_elsewhere_is_409_with_retry_after(
    client: TestClient, core: CampaignCore
) -> None:
    """While another process runs the first request with a key, a second one gets 409 at once."""
    raw = json.dumps(BODY).encode()
    claim_key(  # another server process has claimed the key for this request, not answered yet
        core.runtime,
        owner_id=OWNER.account_id,
        actor_id=OWNER.user_id,
        key="k",
        method="POST",
        path="/campaigns",
        request_hash=hashlib.sha256(b"POST\n/campaigns\n" + raw).hexdigest(),
    )
    headers = {"Idempotency-Key": "k", "content-type": "application/json"}
    busy = client.post("/campaigns", content=raw, headers=headers)
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "idempotency_key_in_use"
    assert busy.headers["retry-after"] == "1"
    assert client.get("/campaigns").json()["total"] == 0  # it did not run


def test_a_server_error_releases_the_key(core: CampaignCore) -> None:
    """A 5xx is not kept: the retry with the key runs again."""
    client = TestClient(
        create_app(core, actor_resolver=fixed_actor()), raise_server_exceptions=False
    )
    original = core.for_actor

    def broken(actor: Any) -> Any:
        core.for_actor = original  # type: ignore[method-assign]
        raise RuntimeError("the service blew up")

    core.for_actor = broken  # type: ignore[method-assign]
    first = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k"})
    assert first.status_code == 500
    retry = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k"})
    assert retry.status_code == 201
    assert "idempotent-replayed" not in retry.headers


def test_keys_expire_with_the_settings_and_tick_purges_them(clock: FakeClock) -> None:
    """settings.retention.idempotency_hours bounds a replay; tick() deletes the expired rows."""
    core = CampaignCore(
        InMemoryStore(),
        clock=clock,
        settings=Settings(retention=RetentionSettings(idempotency_hours=1)),
    )
    client = TestClient(create_app(core, actor_resolver=fixed_actor()))
    first = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k"})
    clock.advance(timedelta(minutes=59))
    replay = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k"})
    assert replay.json() == first.json()
    clock.advance(timedelta(minutes=1))
    fresh = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k"})
    assert fresh.status_code == 201
    assert fresh.json()["id"] != first.json()["id"]
    client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "other"})
    clock.advance(timedelta(hours=1))
    assert core.tick().idempotency_records_purged == 2
    assert clock.now() == T0 + timedelta(hours=2)


def test_keys_hold_across_two_apps_on_one_database(tmp_path: Path, clock: FakeClock) -> None:
    """Two server processes (two apps, two cores) on one SQLite file share the keys."""
    from campaign_core_sqlalchemy import SqlAlchemyStore

    url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    SqlAlchemyStore(url, create=True).close()
    cores = [CampaignCore(SqlAlchemyStore(url), clock=clock) for _ in range(2)]
    try:
        one, two = (TestClient(create_app(c, actor_resolver=fixed_actor())) for c in cores)
        first = one.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k"})
        again = two.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k"})
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert two.get("/campaigns").json()["total"] == 1
    finally:
        for core in cores:
            core.close()


def test_a_bad_key_is_422(client: TestClient) -> None:
    """A key over 255 characters is a validation error on the header."""
    response = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["problems"][0]["path"] == "Idempotency-Key"


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_only_post_takes_a_key(client: TestClient, core: CampaignCore, method: str) -> None:
    """Other methods ignore the header (PUT and DELETE are idempotent already)."""
    client.request(method, "/campaigns/nope", headers={"Idempotency-Key": "k"})
    with core.store.unit_of_work() as uow:
        assert uow.idempotency_records.count() == 0
