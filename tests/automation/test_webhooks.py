"""The webhook step: URL rules at save time, the host's sender, retries by status, the key."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, Settings
from campaign_core.automation import (
    AutomationSettings,
    RecordingWebhookSender,
    WebhookSettings,
    parse_workflow,
)
from campaign_core.errors import ValidationError
from campaign_core.models import RunStatus, StepStatus
from campaign_core.ports import Store, WebhookSender

OWNER = Actor("owner-1")


def _flow(**step: Any) -> dict[str, Any]:
    hook = {"type": "webhook", "id": "hook", "url": "https://hooks.example.com/crm", **step}
    return {
        "name": "Notify the CRM",
        "trigger": {"type": "event", "event": "purchase"},
        "actions": [hook, {"type": "emit_event", "event": "crm.notified"}],
    }


def _problems(data: dict[str, Any], **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        parse_workflow(data, webhooks=kwargs.pop("webhooks", WebhookSettings()), **kwargs)
    return [(p.path, p.code) for p in caught.value.problems]


def test_a_webhook_step_parses_and_round_trips() -> None:
    """A webhook with method, headers, body expressions and timeout keeps its canonical form."""
    data = _flow(
        method="put",
        headers={"Authorization": "Bearer abc", "X-Source": "campaigns"},
        body={"plan": {"$ref": "event.properties.plan"}, "tags": ["a", "b"], "n": 1},
        timeout="5 seconds",
    )
    workflow = parse_workflow(data, webhooks=WebhookSettings())
    step = workflow.step("hook")
    assert step is not None
    assert step.effect == "external"
    assert not step.messaging
    assert step.params["method"] == "PUT"
    assert parse_workflow(workflow.to_json(), webhooks=WebhookSettings()) == workflow


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
        "https://hooks.example.com/x#frag",
        "https://localhost/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://printer.local/x",
        "https://db.internal/x",
        "https://hooks.example.com/a b",
        "https://hooks.example.com\\@evil.com/",
        "https:///path-only",
        "/relative",
        "https://exa_mple.com/",
        "https://[::ffff:10.0.0.1]/",
        7,
    ],
)
def test_urls_a_webhook_may_not_call_are_refused_with_their_path(url: Any) -> None:
    """Only absolute https URLs to public hosts, without credentials or fragments, are accepted."""
    problems = _problems(_flow(url=url))
    assert [path for path, _ in problems] == ["actions[0].url"]


def test_the_host_may_allow_http_private_hosts_and_limit_hosts() -> None:
    """allow_http and allow_private open development URLs; allowed_hosts restricts the rest."""
    dev = WebhookSettings(allow_http=True, allow_private=True)
    parse_workflow(_flow(url="http://localhost:8080/hook"), webhooks=dev)
    only = WebhookSettings(allowed_hosts=[".example.com", "api.crm.io"])
    parse_workflow(_flow(url="https://hooks.example.com/x"), webhooks=only)
    parse_workflow(_flow(url="https://api.crm.io/x"), webhooks=only)
    assert _problems(_flow(url="https://evil.io/x"), webhooks=only) == [
        ("actions[0].url", "forbidden_host")
    ]
    assert _problems(_flow(url="https://notexample.com/x"), webhooks=only) == [
        ("actions[0].url", "forbidden_host")
    ]


@pytest.mark.parametrize(
    ("step", "path"),
    [
        ({"headers": {"Host": "internal.example.com"}}, "actions[0].headers.Host"),
        ({"headers": {"X-Forwarded-Host": "a.com"}}, "actions[0].headers.X-Forwarded-Host"),
        ({"headers": {"idempotency-key": "mine"}}, "actions[0].headers.idempotency-key"),
        ({"headers": {"X-A": "one\r\nHost: evil"}}, "actions[0].headers.X-A"),
        ({"headers": {"Bad Name": "x"}}, "actions[0].headers.Bad Name"),
        ({"headers": ["X-A"]}, "actions[0].headers"),
        ({"method": "GET"}, "actions[0].method"),
        ({"timeout": "2 minutes"}, "actions[0].timeout"),
        ({"timeout": "0 seconds"}, "actions[0].timeout"),
        ({"body": "text"}, "actions[0].body"),
        ({"body": {"a": {"$ref": "nowhere.x"}}}, "actions[0].body.a.$ref"),
        ({"body": {"a": {"$eval": "1+1"}}}, "actions[0].body.a.$eval"),
        ({"body": {"a": {"$ref": "fan.fanId", "b": 1}}}, "actions[0].body.a"),
        ({"url": "https://hooks.example.com", "verb": "POST"}, "actions[0].verb"),
    ],
)
def test_bad_webhook_parameters_have_their_paths(step: dict[str, Any], path: str) -> None:
    """Headers that route or frame the request, bad methods, timeouts and bodies are refused."""
    assert [p for p, _ in _problems(_flow(**step))] == [path]


def test_a_missing_url_is_required() -> None:
    """A webhook without a URL is refused at its path."""
    data = _flow()
    del data["actions"][0]["url"]
    assert _problems(data) == [("actions[0].url", "required")]


def test_the_service_checks_the_url_against_the_settings(clock: FakeClock) -> None:
    """create_workflow applies the core's WebhookSettings (http refused, then allowed)."""
    from campaign_core_memory import InMemoryStore

    strict = CampaignCore(InMemoryStore(), clock=clock)
    with pytest.raises(ValidationError) as caught:
        strict.for_actor(OWNER).automations.create_workflow(_flow(url="http://a.example.com/"))
    assert caught.value.problems[0].path == "actions[0].url"
    dev = CampaignCore(
        InMemoryStore(),
        clock=clock,
        settings=Settings(automation=AutomationSettings(webhooks=WebhookSettings(allow_http=True))),
    )
    dev.for_actor(OWNER).automations.create_workflow(_flow(url="http://a.example.com/"))


def _core(
    store: Store, factory: Callable[..., CampaignCore], sender: WebhookSender, **kw: Any
) -> CampaignCore:
    return factory(store, webhooks=sender, **kw)


def _history(core: CampaignCore) -> list[Any]:
    with core.store.unit_of_work() as uow:
        rows = uow.automation_step_runs.find()
    return sorted(
        (r for r in rows if r.step_id == "hook"), key=lambda r: (r.fan_id, r.visit, r.attempt)
    )


def test_a_webhook_is_called_with_the_rendered_body_and_the_idempotency_key(
    local_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    """The sender gets the method, URL, headers, JSON body and key; the status is recorded."""
    sender = RecordingWebhookSender()
    core = _core(
        local_store, core_factory, sender, settings=Settings(fan_traits={"tier": "string"})
    )
    ws = core.for_actor(OWNER)
    ws.fans.upsert_fan("fan-1", lifetime_value=120.0, traits={"tier": "gold"})
    ws.automations.create_workflow(
        _flow(
            headers={"X-Source": "campaigns"},
            body={
                "fan": {"$ref": "fan.fanId"},
                "tier": {"$ref": "fan.traits.tier"},
                "ltv": {"$ref": "fan.lifetimeValue"},
                "plan": {"$ref": "event.properties.plan"},
                "label": {"$concat": ["order ", {"$ref": "event.value"}]},
                "fixed": [1, {"k": True}],
            },
            timeout="3 seconds",
        ),
        activate=True,
    )
    ws.fans.record_event("fan-1", "purchase", properties={"plan": "gold"}, value=9.5)
    core.tick()
    [request] = sender.requests
    assert request.method == "POST"
    assert request.url == "https://hooks.example.com/crm"
    assert request.timeout == 3.0
    assert request.headers["X-Source"] == "campaigns"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == request.idempotency_key
    assert request.idempotency_key.endswith(":hook:0")
    assert json.loads(request.body) == {
        "fan": "fan-1",
        "tier": "gold",
        "ltv": 120.0,
        "plan": "gold",
        "label": "order 9.5",
        "fixed": [1, {"k": True}],
    }
    [row] = _history(core)
    assert row.status is StepStatus.COMPLETED
    assert row.output == {"status": 200, "method": "POST", "host": "hooks.example.com"}
    assert row.idempotency_key == request.idempotency_key
    with core.store.unit_of_work() as uow:
        [run] = uow.automation_runs.find()
    assert run.status is RunStatus.COMPLETED


def test_the_default_body_names_the_workflow_run_step_and_fan(
    local_store: Store, core_factory: Callable[..., CampaignCore]
) -> None:
    """Without a body the request carries a small envelope."""
    sender = RecordingWebhookSender()
    core = _core(local_store, core_factory, sender)
    ws = core.for_actor(OWNER)
    flow = ws.automations.create_workflow(_flow(), activate=True)
    ws.fans.record_event("fan-1", "purchase")
    core.tick()
    body = json.loads(sender.requests[0].body)
    assert body["workflow"] == {"id": flow.id, "name": "Notify the CRM"}
    assert body["step"] == {"id": "hook"}
    assert body["fan"] == {"fanId": "fan-1"}


@pytest.mark.parametrize(
    ("answers", "status", "calls", "statuses"),
    [
        ([503, 500], RunStatus.COMPLETED, 3, ["retrying", "retrying", "completed"]),
        ([TimeoutError("slow")], RunStatus.COMPLETED, 2, ["retrying", "completed"]),
        ([429], RunStatus.COMPLETED, 2, ["retrying", "completed"]),
        ([404], RunStatus.FAILED, 1, ["failed"]),
        ([301], RunStatus.FAILED, 1, ["failed"]),
        ([502, 502, 502, 502], RunStatus.FAILED, 4, ["retrying"] * 3 + ["failed"]),
    ],
)
def test_answers_are_retried_or_failed_by_status(
    local_store: Store,
    core_factory: Callable[..., CampaignCore],
    clock: FakeClock,
    answers: list[Any],
    status: RunStatus,
    calls: int,
    statuses: list[str],
) -> None:
    """5xx, 429 and timeouts retry with backoff (same key); other 4xx and 3xx fail at once."""
    sender = RecordingWebhookSender(answers)
    core = _core(local_store, core_factory, sender)
    ws = core.for_actor(OWNER)
    ws.automations.create_workflow(_flow(), activate=True)
    ws.fans.record_event("fan-1", "purchase")
    for _ in range(6):
        core.tick()
        clock.advance("2 hours")
    assert len(sender.requests) == calls
    assert len({r.idempotency_key for r in sender.requests}) == 1
    rows = _history(core)
    assert [r.status.value for r in rows] == statuses
    http = [a for a in answers if isinstance(a, int)]
    assert [r.output.get("status") for r in rows][: len(http)] == http[: len(rows)]
    with core.store.unit_of_work() as uow:
        [run] = uow.automation_runs.find()
    assert run.status is status


def test_a_url_the_settings_no_longer_allow_fails_without_a_call(
    local_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    """A host that tightens its settings after the save is obeyed when the step runs."""
    sender = RecordingWebhookSender()
    open_core = _core(
        local_store,
        core_factory,
        sender,
        settings=Settings(automation=AutomationSettings(webhooks=WebhookSettings(allow_http=True))),
    )
    ws = open_core.for_actor(OWNER)
    ws.automations.create_workflow(_flow(url="http://hooks.example.com/x"), activate=True)
    ws.fans.record_event("fan-1", "purchase")
    strict = _core(local_store, core_factory, sender)
    strict.tick()
    assert sender.requests == []
    [row] = _history(strict)
    assert row.status is StepStatus.FAILED
    assert "https" in (row.error or "")


def test_webhook_settings_validate_with_paths() -> None:
    """Timeouts are bounded and allowed hosts are host names."""
    for kwargs, path in [
        ({"max_timeout": timedelta(minutes=10)}, "settings.automation.webhooks.max_timeout"),
        (
            {"default_timeout": timedelta(seconds=40)},
            "settings.automation.webhooks.default_timeout",
        ),
        ({"allowed_hosts": "example.com"}, "settings.automation.webhooks.allowed_hosts"),
        ({"allowed_hosts": ["bad host"]}, "settings.automation.webhooks.allowed_hosts[0]"),
    ]:
        with pytest.raises(ValidationError) as caught:
            WebhookSettings(**kwargs)
        assert caught.value.problems[0].path == path


def test_execute_action_calls_a_webhook_once(
    local_store: Store, core_factory: Callable[..., CampaignCore]
) -> None:
    """A webhook run by hand goes through the same checks and sender, with the given key."""
    sender = RecordingWebhookSender([404])
    core = _core(local_store, core_factory, sender)
    ws = core.for_actor(OWNER)
    ws.fans.upsert_fan("fan-1")
    action = {"type": "webhook", "url": "https://hooks.example.com/x"}
    failed = ws.automations.execute_action(action, {"fanId": "fan-1", "idempotencyKey": "k1"})
    assert failed.status == "failed"
    assert "404" in (failed.error or "")
    done = ws.automations.execute_action(action, {"fanId": "fan-1", "idempotencyKey": "k2"})
    assert done.status == "completed"
    assert done.output["status"] == 200
    assert [r.idempotency_key for r in sender.requests] == ["k1:step-1:0", "k2:step-1:0"]
    with pytest.raises(ValidationError) as caught:
        ws.automations.execute_action(
            {"type": "webhook", "url": "https://127.0.0.1/"}, {"fanId": "fan-1"}
        )
    assert caught.value.problems[0].path == "action.url"
