"""The HTTP app: the services on the wire, and every way a request can fail (never a 500)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore
from campaign_core.errors import ConflictError, RateLimitedError, StoreUnavailableError
from campaign_core.services import CampaignService
from campaign_core_http import ROUTES, create_app

from .conftest import TestClient, fixed_actor, new_campaign


def test_campaign_lifecycle_over_http(client: TestClient) -> None:
    created = new_campaign(client)
    assert created["status"] == "draft"
    assert created["isABTest"] is False
    cid = created["id"]
    assert client.get(f"/campaigns/{cid}").json() == created
    patched = client.patch(f"/campaigns/{cid}", json={"description": "tonight only"})
    assert patched.status_code == 200
    assert patched.json()["description"] == "tonight only"
    launched = client.post(f"/campaigns/{cid}/launch")
    assert launched.status_code == 200
    assert launched.json()["campaign"]["status"] == "active"
    assert client.post(f"/campaigns/{cid}/pause").json()["status"] == "paused"
    assert client.post(f"/campaigns/{cid}/resume").json()["status"] == "active"
    again = client.post(f"/campaigns/{cid}/launch")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"


def test_lists_page_with_next_cursors(client: TestClient) -> None:
    ids = {new_campaign(client, name=f"Drop {i}")["id"] for i in range(5)}
    seen: set[str] = set()
    url = "/campaigns?limit=2"
    pages = 0
    while True:
        page = client.get(url).json()
        assert set(page) == {"items", "total", "next"}
        assert page["total"] == 5
        seen |= {item["id"] for item in page["items"]}
        pages += 1
        if page["next"] is None:
            break
        url = f"/campaigns?limit=2&cursor={page['next']}"
    assert seen == ids
    assert pages == 3


def test_delete_is_204_and_then_404(client: TestClient) -> None:
    cid = new_campaign(client)["id"]
    deleted = client.delete(f"/campaigns/{cid}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    missing = client.get(f"/campaigns/{cid}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_another_accounts_campaign_is_not_found(core: CampaignCore, client: TestClient) -> None:
    cid = new_campaign(client)["id"]
    other = TestClient(create_app(core, actor_resolver=fixed_actor(Actor("creator-2"))))
    assert other.get(f"/campaigns/{cid}").status_code == 404


def test_validation_problems_use_the_requests_names(client: TestClient) -> None:
    response = client.post(
        "/campaigns", json={"name": "", "type": "banner", "budjet": 5, "scheduledFor": "tomorrow"}
    )
    assert response.status_code == 422
    problems = {p["path"]: p["code"] for p in response.json()["error"]["details"]["problems"]}
    assert "scheduledFor" in problems
    assert "budjet" in problems


def test_an_unknown_key_on_a_method_without_one_is_422_not_500(client: TestClient) -> None:
    cid = new_campaign(client)["id"]
    response = client.post(f"/campaigns/{cid}/launch", json={"force": True})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["problems"][0] == {
        "path": "force",
        "message": "unknown field",
        "code": "unknown_field",
    }
    by_path = client.post(f"/campaigns/{cid}/schedule", json={"campaignId": "x"})
    problems = {p["path"]: p["code"] for p in by_path.json()["error"]["details"]["problems"]}
    assert problems == {"campaignId": "unknown_field", "scheduledFor": "required"}


def test_query_parameters_are_typed_and_known(client: TestClient) -> None:
    bad = client.get("/campaigns?limit=ten&colour=red&descending=yes")
    assert bad.status_code == 422
    problems = {p["path"]: p["code"] for p in bad.json()["error"]["details"]["problems"]}
    assert problems == {
        "limit": "invalid_type",
        "colour": "unknown_field",
        "descending": "invalid_type",
    }
    twice = client.get("/campaigns?limit=1&limit=2")
    assert twice.status_code == 422


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{bad", "application/json", 400, "malformed_json"),
        (b"\xff\xfe{}", "application/json", 400, "malformed_json"),
        (b'{"budget": NaN}', "application/json", 400, "malformed_json"),
        (b"[" * 40 + b"]" * 40, "application/json", 400, "nesting_too_deep"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nesting_too_deep"),
        (b"{}" + b" " * 1_048_576, "application/json", 413, "body_too_large"),
        (b"name=Drop", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"name": "Drop"}', "", 415, "unsupported_media_type"),
        (b"[1, 2]", "application/json", 422, "validation_error"),
    ],
)
def test_bad_bodies_get_their_own_4xx(
    client: TestClient, content: bytes, content_type: str, status: int, code: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/campaigns", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_the_body_limit_and_depth_are_the_apps(core: CampaignCore) -> None:
    app = create_app(core, actor_resolver=fixed_actor(), max_body_bytes=64, max_depth=3)
    client = TestClient(app)
    large = client.post("/campaigns", json={"name": "x" * 100})
    assert large.status_code == 413
    assert large.json()["error"]["details"] == {"limit": 64}
    deep = client.post("/campaigns", json={"content": {"a": {"b": {"c": 1}}}})
    assert deep.status_code == 400
    assert deep.json()["error"]["code"] == "nesting_too_deep"
    with pytest.raises(ValueError, match="positive"):
        create_app(core, actor_resolver=fixed_actor(), max_depth=0)


def test_unknown_route_and_method(client: TestClient) -> None:
    missing = client.get("/campaignz")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "no_route"
    wrong = client.put("/campaigns", json={})
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert {m.strip() for m in wrong.headers["allow"].split(",")} >= {"GET", "POST"}


def _raising(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    def get_campaign(self: Any, campaign_id: str) -> Any:
        raise error

    monkeypatch.setattr(CampaignService, "get_campaign", get_campaign)


def test_429_carries_retry_after(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _raising(monkeypatch, RateLimitedError("slow down", retry_after=2.2, limit="api"))
    response = client.get("/campaigns/c1")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["details"] == {"retryAfter": 2.2, "limit": "api"}


SQL = "(psycopg.OperationalError) connection refused [SQL: SELECT * FROM campaigns WHERE id = %s]"


def test_503_when_the_store_is_down_says_nothing_of_the_driver(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _raising(monkeypatch, StoreUnavailableError(f"the database is unavailable ({SQL})"))
    response = client.get("/campaigns/c1")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "error": {
            "code": "store_unavailable",
            "message": "the store is unavailable; retry later",
            "details": {"retryable": True},
        }
    }


def test_no_sql_in_a_conflict(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _raising(monkeypatch, ConflictError(f"campaigns: the write breaks a constraint ({SQL}"))
    response = client.get("/campaigns/c1")
    assert response.status_code == 409
    assert "SELECT" not in response.text
    assert "%s" not in response.text
    assert response.json()["error"]["message"].startswith("campaigns: the write breaks")


def test_a_bug_is_a_generic_500_and_logged(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _raising(monkeypatch, RuntimeError("secret internals at 0xdeadbeef"))
    with caplog.at_level(logging.ERROR, logger="campaign_core_http"):
        response = client.get("/campaigns/c1")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal error; the server logged it"}
    }
    assert "deadbeef" not in response.text
    assert "Traceback" not in response.text
    assert "secret internals" in caplog.text


def test_reports_download(client: TestClient) -> None:
    cid = new_campaign(client)["id"]
    client.post(f"/campaigns/{cid}/launch")
    client.post(f"/campaigns/{cid}/impressions", json={"fanId": "f1"})
    as_json = client.get(f"/campaigns/{cid}/report")
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == "application/json"
    csv = client.get(f"/campaigns/{cid}/report?format=csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"] == f'attachment; filename="report-{cid}.csv"'
    bad = client.get(f"/campaigns/{cid}/report?format=docx")
    assert bad.status_code == 422


def test_templates_ab_tests_segments_fans_and_workflows(client: TestClient) -> None:
    cid = new_campaign(client)["id"]
    template = client.post(f"/campaigns/{cid}/templates", json={"name": "Weekly drop"})
    assert template.status_code == 201, template.text
    tid = template.json()["id"]
    assert any(t["id"] == tid for t in client.get("/templates").json()["items"])
    copy = client.post(f"/templates/{tid}/campaigns", json={"name": "From template"})
    assert copy.status_code == 201
    assert copy.json()["name"] == "From template"

    test = client.post(
        f"/campaigns/{cid}/ab-tests",
        json={"variants": [{"name": "A", "content": {}}, {"name": "B", "content": {}}]},
    )
    assert test.status_code == 201, test.text
    listed = client.get("/ab-tests", params={"campaignId": cid}).json()["items"]
    assert [t["test"]["id"] for t in listed] == [test.json()["test"]["id"]]

    fan = client.put("/fans/fan-1", json={"platform": "reddit"})
    assert fan.status_code == 200, fan.text
    event = client.post("/fans/fan-1/events", json={"name": "purchase", "value": 9.5})
    assert event.status_code == 201, event.text
    assert len(client.get("/fans/fan-1/events").json()["items"]) == 1

    segment = client.post("/segments", json={"name": "Everyone", "type": "static"})
    assert segment.status_code == 201, segment.text
    sid = segment.json()["id"]
    added = client.put(f"/segments/{sid}/fans/fan-1")
    assert added.status_code == 200
    assert added.json() == {"changed": True}
    assert client.get("/segments").json()["total"] == 1

    workflow = client.post(
        "/workflows",
        json={
            "name": "Welcome",
            "trigger": {"type": "event", "event": "fan.subscribed"},
            "actions": [{"type": "send_message", "template": "welcome"}],
        },
    )
    assert workflow.status_code == 201, workflow.text
    wid = workflow.json()["id"]
    definition = client.get(f"/workflows/{wid}/definition")
    assert definition.status_code == 200, definition.text
    assert client.get("/workflows").json()["total"] == 1

    audit = client.get("/audit?limit=2")
    assert audit.status_code == 200
    assert audit.json()["next"] is not None


def test_every_route_is_a_service_method_once() -> None:
    calls = [route.call for route in ROUTES]
    assert len(calls) == len(set(calls))
    keys = [(route.method, route.path) for route in ROUTES]
    assert len(keys) == len(set(keys))


def test_responses_are_plain_json(client: TestClient) -> None:
    response = client.get("/campaigns")
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content) == {"items": [], "total": 0, "next": None}


def test_the_services_may_run_on_the_event_loop(core: CampaignCore) -> None:
    client = TestClient(create_app(core, actor_resolver=fixed_actor(), offload=False))
    cid = new_campaign(client)["id"]
    assert client.get(f"/campaigns/{cid}").json()["id"] == cid
    assert client.get("/campaigns/nope").status_code == 404


#: Public service methods with no route of their own, and why.
NOT_ROUTED = {
    **{
        f"campaigns.{name}": "the A/B test methods, routed once as abtests.*"
        for name in (
            "apply_winner",
            "cancel_ab_test",
            "create_ab_test",
            "determine_winner",
            "get_ab_test",
            "get_variant_for_fan",
            "list_ab_tests",
            "track_variant_performance",
        )
    },
    "fans.clean_fields": "a validation helper the other services share, not an action",
}


def test_every_public_service_method_has_a_route() -> None:
    import inspect

    from campaign_core import services
    from campaign_core_http._app import SERVICE_CLASSES

    classes = {getattr(services, n) for n in services.__all__ if n.endswith("Service")}
    assert set(SERVICE_CLASSES.values()) == classes
    routed = {route.call for route in ROUTES}
    public = {
        f"{attr}.{name}"
        for attr, cls in SERVICE_CLASSES.items()
        for name, _ in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public - routed == set(NOT_ROUTED)
    assert routed <= public


def test_consent_suppressions_and_message_templates(client: TestClient) -> None:
    client.put("/fans/fan-1", json={"platform": "reddit"})
    consent = client.put(
        "/fans/fan-1/consent",
        json={"channel": "email", "topic": "promotions", "granted": False, "source": "api"},
    )
    assert consent.status_code == 200, consent.text
    states = client.get("/fans/fan-1/consent", params={"channel": "email"}).json()["items"]
    assert any(s["topic"] == "promotions" and s["granted"] is False for s in states)
    assert len(client.get("/fans/fan-1/consent-history").json()["items"]) == 1
    added = client.post("/suppressions", json={"channel": "email", "address": "a@example.com"})
    assert added.status_code == 201, added.text
    assert client.get("/suppressions/email/a@example.com").json() == {"suppressed": True}
    assert client.delete("/suppressions/email/a@example.com").json() == {"changed": True}

    listed = client.get("/message-templates").json()["items"]
    assert listed, "the built-in templates"
    created = client.post(
        "/message-templates",
        json={"name": "hello", "channel": "dm", "parts": {"en": {"text": "Hi {{ fan.username }}"}}},
    )
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    assert client.get("/message-templates/by-name/hello").json()["id"] == tid
    preview = client.post("/message-templates/by-name/hello/preview", json={})
    assert preview.status_code == 200, preview.text
    assert client.delete(f"/message-templates/{tid}").status_code == 204


def test_a_channel_that_is_not_text_is_a_422_not_a_500(client: TestClient) -> None:
    # found by schemathesis: validate_template hashed the channel before checking its type
    response = client.post("/message-templates", json={"name": "x", "channel": {}, "parts": {}})
    assert response.status_code == 422
    paths = {p["path"] for p in response.json()["error"]["details"]["problems"]}
    assert "channel" in paths
