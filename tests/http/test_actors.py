"""Who is acting: signed actor headers (tampering, replay, rotation) and bearer tokens."""

from __future__ import annotations

import json
from datetime import timedelta
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


@pytest.mark.parametrize("tamper", ["method", "path", "body", "actor", "role", "timestamp"])
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
    assert "does not match" in _unauthenticated(_post(signed, headers, path=path, body=body))


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
