"""Idempotency-Key on POST: the first response replayed, another body refused, keys expire."""

from __future__ import annotations

from datetime import timedelta

from campaign_core import CampaignCore, FakeClock
from campaign_core_http import InMemoryIdempotencyStore, create_app

from .conftest import TestClient, fixed_actor

BODY = {"name": "Drop", "type": "ppv", "platforms": ["reddit"], "content": {"title": "x"}}


def test_the_same_key_and_body_replays_the_first_response(client: TestClient) -> None:
    first = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k1"})
    again = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert client.get("/campaigns").json()["total"] == 1
    other = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k2"})
    assert other.json()["id"] != first.json()["id"]


def test_the_same_key_with_another_body_is_422(client: TestClient) -> None:
    client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k1"})
    changed = client.post(
        "/campaigns", json={**BODY, "name": "Other"}, headers={"Idempotency-Key": "k1"}
    )
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    elsewhere = client.post("/segments", json={"name": "x"}, headers={"Idempotency-Key": "k1"})
    assert elsewhere.status_code == 422


def test_errors_replay_too_but_not_without_a_key(client: TestClient) -> None:
    bad = {"name": ""}
    first = client.post("/campaigns", json=bad, headers={"Idempotency-Key": "k"})
    again = client.post("/campaigns", json=bad, headers={"Idempotency-Key": "k"})
    assert first.status_code == again.status_code == 422
    assert "idempotent-replayed" in again.headers
    plain = client.post("/campaigns", json=BODY)
    assert "idempotent-replayed" not in plain.headers


def test_keys_expire_on_the_cores_clock(core: CampaignCore, clock: FakeClock) -> None:
    store = InMemoryIdempotencyStore()
    client = TestClient(
        create_app(
            core,
            actor_resolver=fixed_actor(),
            idempotency=store,
            idempotency_ttl=timedelta(hours=1),
        )
    )
    first = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k"})
    clock.advance(timedelta(minutes=59))
    assert client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k"}).json() == (
        first.json()
    )
    clock.advance(timedelta(minutes=1))
    fresh = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "k"})
    assert fresh.status_code == 201
    assert fresh.json()["id"] != first.json()["id"]


def test_a_bad_key_is_422(client: TestClient) -> None:
    response = client.post("/campaigns", json=BODY, headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["problems"][0]["path"] == "Idempotency-Key"


def test_the_store_forgets_the_oldest_when_full() -> None:
    from campaign_core_http import StoredResponse

    from ..conftest import T0

    store = InMemoryIdempotencyStore(max_entries=2)
    for key in ("a", "b", "c"):
        store.put(key, StoredResponse("f", 201, "application/json", b"{}", T0))
    assert store.get("a", T0 - timedelta(1)) is None
    assert store.get("c", T0 - timedelta(1)) is not None
