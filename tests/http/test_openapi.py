"""The OpenAPI 3.1 document: every route, body, response and error; real responses match it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from campaign_core_http import ROUTES, openapi_document
from campaign_core_http._openapi import ERROR_STATUSES

from .conftest import TestClient, new_campaign

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

DOCUMENT = openapi_document()


def test_every_route_every_error() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    for route in ROUTES:
        operation = DOCUMENT["paths"][route.path][route.method.lower()]
        assert operation["operationId"] == route.operation_id
        assert operation["summary"], route.call
        responses = operation["responses"]
        assert {str(route.status), *map(str, ERROR_STATUSES)} <= set(responses)
        if route.method in ("POST", "PUT", "PATCH"):
            assert operation["requestBody"]["content"]["application/json"]["schema"]
        path_params = set(re.findall(r"{(\w+)}", route.path))
        assert {p["name"] for p in operation["parameters"] if p["in"] == "path"} == path_params
    operations = sum(len(v) for k, v in DOCUMENT["paths"].items() if k != "/openapi.json")
    assert operations == len(ROUTES)


def test_every_reference_resolves() -> None:
    text = json.dumps(DOCUMENT)
    for ref in set(re.findall(r'"\$ref": "([^"]+)"', text)):
        node: Any = DOCUMENT
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert node is not None, ref
    assert "$defs" not in text  # hoisted into components/schemas


def test_the_request_body_comes_from_the_signature() -> None:
    create = DOCUMENT["paths"]["/campaigns/{campaignId}/schedule"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["scheduledFor"]
    assert schema["additionalProperties"] is False
    publish = DOCUMENT["paths"]["/campaigns/{campaignId}/publications"]["post"]
    props = publish["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert props["force"] == {"type": "boolean"}
    assert "retryFailed" in props


def _body(path: str, method: str) -> dict[str, Any]:
    operation = DOCUMENT["paths"][path][method]
    return dict(operation["requestBody"]["content"]["application/json"]["schema"])


def test_fields_the_service_takes_as_any_are_typed_from_the_record() -> None:
    """create_campaign(name: Any...) answers a Campaign: the body's fields get Campaign's schemas."""
    create = _body("/campaigns", "post")
    props = create["properties"]
    assert props["name"] == {"type": "string"}
    assert props["type"] == {"$ref": "#/components/schemas/CampaignType"}
    assert props["platforms"]["items"] == {"$ref": "#/components/schemas/Platform"}
    assert props["budget"] == {"type": ["number", "null"]}
    assert create["additionalProperties"] is False  # **unknown only names what it refuses
    scheduled = _body("/campaigns/{campaignId}/schedule", "post")["properties"]["scheduledFor"]
    assert {"type": "null"} in scheduled["anyOf"]
    # an answer's nested records are not a body's: an A/B test's variants stay free-form
    assert _body("/campaigns/{campaignId}/ab-tests", "post")["properties"]["variants"] == {}


def test_open_bodies_list_the_record_fields_their_route_names() -> None:
    """PATCH/PUT taking **changes list Route.body_fields, typed and closed; workflows stay open."""
    update = _body("/campaigns/{campaignId}", "patch")
    assert update["additionalProperties"] is False
    assert "status" not in update["properties"]
    assert update["properties"]["segmentIds"] == {"type": "array", "items": {"type": "string"}}
    fan = _body("/fans/{fanId}", "put")
    assert set(fan["properties"]) >= {"spendingLevel", "traits", "addresses", "optedOut"}
    assert _body("/segments/{segmentId}", "patch")["properties"]["type"] == {
        "$ref": "#/components/schemas/SegmentType"
    }
    assert _body("/workflows", "post")["additionalProperties"] == {}  # the workflow language


def test_most_body_fields_are_typed() -> None:
    """Of every POST/PUT/PATCH body field, the free-form ones ({}) are few and known."""
    typed = free = 0
    for route in ROUTES:
        if route.method not in ("POST", "PUT", "PATCH"):
            continue
        for value in _body(route.path, route.method.lower())["properties"].values():
            typed, free = (typed + 1, free) if value else (typed, free + 1)
    assert typed > 2 * free, (typed, free)


def _validator(path: str, method: str, status: int) -> Any:
    registry = referencing.Registry().with_resource(
        "urn:doc", referencing.Resource.from_contents(DOCUMENT, referencing.jsonschema.DRAFT202012)
    )
    response = DOCUMENT["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    text = json.dumps(schema).replace('"#/components', '"urn:doc#/components')
    return jsonschema.Draft202012Validator(json.loads(text), registry=registry)


def test_real_responses_match_their_schemas(client: TestClient) -> None:
    cid = new_campaign(client)["id"]
    calls = [
        ("get", f"/campaigns/{cid}", "/campaigns/{campaignId}", None, 200),
        ("get", "/campaigns?limit=1", "/campaigns", None, 200),
        ("post", f"/campaigns/{cid}/launch", "/campaigns/{campaignId}/launch", None, 200),
        (
            "post",
            f"/campaigns/{cid}/impressions",
            "/campaigns/{campaignId}/impressions",
            {"fanId": "f1"},
            201,
        ),
        ("get", f"/campaigns/{cid}/metrics", "/campaigns/{campaignId}/metrics", None, 200),
        ("get", f"/campaigns/{cid}/funnel", "/campaigns/{campaignId}/funnel", None, 200),
        ("get", "/audit?limit=1", "/audit", None, 200),
        ("post", f"/campaigns/{cid}/launch", "/campaigns/{campaignId}/launch", None, 409),
        ("post", "/campaigns", "/campaigns", {"name": ""}, 422),
    ]
    for method, url, path, body, status in calls:
        response = client.request(method, url, json=body)
        assert response.status_code == status, (url, response.text)
        _validator(path, method, status).validate(response.json())


def test_served_at_openapi_json(client: TestClient) -> None:
    served = client.get("/openapi.json").json()
    assert served["paths"].keys() == DOCUMENT["paths"].keys()


def test_the_command_writes_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from campaign_core.cli import load_app

    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(load_app(), ["openapi", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == json.loads(json.dumps(DOCUMENT))
    printed = CliRunner().invoke(load_app(), ["openapi"])
    assert json.loads(printed.stdout)["openapi"] == "3.1.0"


def test_serve_needs_the_secret_and_runs_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from campaign_core.cli import load_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAMPAIGN_CORE_HTTP_SECRET", raising=False)
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    missing = runner.invoke(load_app(), ["--database-url", url, "serve"])
    assert missing.exit_code == 2
    assert "CAMPAIGN_CORE_HTTP_SECRET" in missing.output
    assert runner.invoke(load_app(), ["--database-url", url, "db", "upgrade"]).exit_code == 0
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    monkeypatch.setenv("CAMPAIGN_CORE_HTTP_SECRET", "s" * 32)
    ok = runner.invoke(
        load_app(), ["--database-url", url, "serve", "--port", "8123", "--keep-alive", "75"]
    )
    assert ok.exit_code == 0, ok.output
    assert served["host"] == "127.0.0.1"
    assert served["port"] == 8123
    assert served["timeout_keep_alive"] == 75
    unsigned = TestClient(served["app"]).get("/campaigns")
    assert unsigned.status_code == 401
