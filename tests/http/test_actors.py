"""Who is acting: signed actor headers (tampering, replay, rotation) and bearer tokens."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock
from campaign_core_http import (
    BearerTokenResolver,
    SignedActorHeaders,
    create_app,
    sign_actor_headers,
)

from .conftest import TestClient

SECRET = b"s" * 32
EDITOR = Actor("member-7", role="editor", account_id="creator-1")
BODY = json.dumps(
    {"name": "Drop", "type": "ppv", "platforms": ["reddit"], "content": {"title": "x"}}
).encode()


@pytest.fixture
def signed(core: CampaignCore, clock: FakeClock) -> TestClient:
    resolver = SignedActorHeaders([b"o" * 32, SECRET], clock=clock)
    return TestClient(create_app(core, actor_resolver=resolver))


def _post(
    client: TestClient, headers: dict[str, str], *, path: str = "/campaigns", body: bytes = BODY
) -> Any:
    return client.post(path, content=body, headers={**headers, "content-type": "application/json"})


def test_a_signed_request_acts_as_the_signed_actor(signed: TestClient, clock: FakeClock) -> None:
    headers = sign_actor_headers(SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now())
    response = _post(signed, headers)
    assert response.status_code == 201, response.text
    assert response.json()["userId"] == "creator-1"  # the account the member acts for
    query = "/campaigns?limit=1"
    listed = signed.get(
        query, headers=sign_actor_headers(SECRET, "GET", query, b"", EDITOR, clock.now())
    )
    assert listed.status_code == 200
    assert listed.json()["total"] == 1


def _unauthenticated(response: Any) -> str:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"
    return str(response.json()["error"]["message"])


def test_unsigned_is_401(signed: TestClient) -> None:
    assert "not signed" in _unauthenticated(_post(signed, {"X-Actor-Id": "creator-1"}))


@pytest.mark.parametrize(
    "tamper", ["method", "path", "body", "actor", "role", "timestamp", "nonce"]
)
def test_tampering_with_any_signed_part_is_401(
    signed: TestClient, clock: FakeClock, tamper: str
) -> None:
    headers = sign_actor_headers(SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now())
    path, body = "/campaigns", BODY
    if tamper == "method":
        headers = sign_actor_headers(SECRET, "PUT", "/campaigns", BODY, EDITOR, clock.now())
    elif tamper == "path":
        path = "/campaigns/c1/launch"
    elif tamper == "body":
        body = BODY.replace(b"Drop", b"Drip")
    elif tamper == "actor":
        headers["X-Actor-Id"] = "creator-1"
        headers["X-Actor-Role"] = "owner"
    elif tamper == "role":
        headers["X-Actor-Role"] = "admin"
    elif tamper == "timestamp":
        headers["X-Actor-Timestamp"] = str(int(headers["X-Actor-Timestamp"]) + 1)
    elif tamper == "nonce":
        headers["X-Actor-Nonce"] = "another-nonce-of-16-or-more"
    assert "does not match" in _unauthenticated(_post(signed, headers, path=path, body=body))


def test_a_signed_write_is_served_once(signed: TestClient, clock: FakeClock) -> None:
    """The same signed request again, inside its window, is refused with its own code; it ran once."""
    headers = sign_actor_headers(SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now())
    assert _post(signed, headers).status_code == 201
    clock.advance(timedelta(minutes=1))
    replay = _post(signed, headers)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "replayed_request"
    resigned = sign_actor_headers(SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now())
    assert _post(signed, resigned).status_code == 201  # the same write signed anew: a new nonce
    query = "/campaigns"
    listed = sign_actor_headers(SECRET, "GET", query, b"", EDITOR, clock.now())
    assert signed.get(query, headers=listed).json()["total"] == 2
    assert signed.get(query, headers=listed).status_code == 200  # reads are not remembered


def test_a_replay_is_refused_by_another_server_process(tmp_path: Path, clock: FakeClock) -> None:
    """Two apps (two processes) on one database: a request served by one is a replay at the other."""
    from campaign_core_sqlalchemy import SqlAlchemyStore

    url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    SqlAlchemyStore(url, create=True).close()
    cores = [CampaignCore(SqlAlchemyStore(url), clock=clock) for _ in range(2)]
    try:
        one, two = (
            TestClient(create_app(c, actor_resolver=SignedActorHeaders(SECRET, clock=clock)))
            for c in cores
        )
        headers = sign_actor_headers(SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now())
        assert _post(one, headers).status_code == 201
        assert _post(two, headers).json()["error"]["code"] == "replayed_request"
    finally:
        for core in cores:
            core.close()


def test_the_signatures_seen_are_purged_after_their_window(
    core: CampaignCore, signed: TestClient, clock: FakeClock
) -> None:
    """tick() deletes a remembered signature once its window is over (it is refused by time then)."""
    _post(signed, sign_actor_headers(SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now()))
    clock.advance(timedelta(minutes=5))
    assert core.tick().idempotency_records_purged == 0
    clock.advance(timedelta(seconds=1))
    assert core.tick().idempotency_records_purged == 1


def test_a_nonce_is_required_and_well_formed(signed: TestClient, clock: FakeClock) -> None:
    """No X-Actor-Nonce, or one too short, is a 401; sign_actor_headers refuses a bad one."""
    headers = sign_actor_headers(SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now())
    without = {k: v for k, v in headers.items() if k != "X-Actor-Nonce"}
    assert "x-actor-nonce" in _unauthenticated(_post(signed, without))
    short = sign_actor_headers(SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now())
    short["X-Actor-Nonce"] = "short"
    assert "Nonce" in _unauthenticated(_post(signed, short))
    with pytest.raises(ValueError, match="nonce"):
        sign_actor_headers(SECRET, "GET", "/x", b"", EDITOR, clock.now(), nonce="bad nonce!")


def test_another_secret_is_401(signed: TestClient, clock: FakeClock) -> None:
    headers = sign_actor_headers(b"x" * 32, "POST", "/campaigns", BODY, EDITOR, clock.now())
    assert "does not match" in _unauthenticated(_post(signed, headers))


def test_any_listed_secret_verifies(signed: TestClient, clock: FakeClock) -> None:
    headers = sign_actor_headers(b"o" * 32, "POST", "/campaigns", BODY, EDITOR, clock.now())
    assert _post(signed, headers).status_code == 201


def test_outside_the_replay_window_is_401(signed: TestClient, clock: FakeClock) -> None:
    headers = sign_actor_headers(SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now())
    clock.advance(timedelta(minutes=5))
    assert _post(signed, headers).status_code == 201  # the window's edge is inside
    clock.advance(timedelta(seconds=1))
    assert "replay window" in _unauthenticated(_post(signed, headers))
    future = sign_actor_headers(
        SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now() + timedelta(minutes=6)
    )
    assert "replay window" in _unauthenticated(_post(signed, future))


def test_a_malformed_signature_or_actor_is_401(signed: TestClient, clock: FakeClock) -> None:
    headers = sign_actor_headers(SECRET, "POST", "/campaigns", BODY, EDITOR, clock.now())
    _unauthenticated(_post(signed, {**headers, "X-Actor-Timestamp": "yesterday"}))
    _unauthenticated(_post(signed, {**headers, "X-Actor-Signature": "v2=" + "0" * 64}))
    _unauthenticated(_post(signed, {**headers, "X-Actor-Role": "emperor"}))


def test_the_resolver_refuses_weak_settings(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SignedActorHeaders(b"short", clock=clock)
    with pytest.raises(ValueError, match="window"):
        SignedActorHeaders(SECRET, clock=clock, window=timedelta(0))


def test_bearer_tokens_go_through_the_hosts_check(core: CampaignCore) -> None:
    sessions = {"tok-1": Actor("creator-1")}

    async def verify(token: str) -> Actor | None:
        return sessions.get(token)

    client = TestClient(create_app(core, actor_resolver=BearerTokenResolver(verify)))
    ok = client.get("/campaigns", headers={"Authorization": "Bearer tok-1"})
    assert ok.status_code == 200
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic tok-1"}):
        response = client.get("/campaigns", headers=headers)
        _unauthenticated(response)
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_resolver_that_fails_to_build_an_actor_is_401(core: CampaignCore) -> None:
    def resolver(request: Any) -> Actor:
        return Actor("", role="owner")

    client = TestClient(create_app(core, actor_resolver=resolver))
    assert "actor is invalid" in _unauthenticated(client.get("/campaigns"))
    nobody = TestClient(create_app(core, actor_resolver=lambda request: None))  # type: ignore[arg-type,return-value]
    _unauthenticated(nobody.get("/campaigns"))
