"""HttpWebhookSender: the standard-library sender, checked against a server on the loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, Settings
from campaign_core.automation import (
    ActionFailed,
    AutomationSettings,
    HttpWebhookSender,
    WebhookSettings,
)
from campaign_core.models import RunStatus, StepStatus
from campaign_core.ports import Store, WebhookRequest, WebhookSender


class _Server:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.received.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                status = int(self.path.strip("/").split("?")[0] or 200)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server()
    yield running
    running.close()


def _request(url: str, **kw: Any) -> WebhookRequest:
    base: dict[str, Any] = {
        "owner_id": "o",
        "method": "POST",
        "url": url,
        "headers": {"Idempotency-Key": "k1", "Content-Type": "application/json", "X-A": "b"},
        "body": b'{"a":1}',
        "timeout": 5.0,
        "idempotency_key": "k1",
    }
    base.update(kw)
    return WebhookRequest(**base)


def test_the_sender_posts_and_returns_the_status_without_following_redirects(
    server: _Server,
) -> None:
    """Method, path with query, headers and body reach the server; 3xx comes back as is."""
    sender = HttpWebhookSender(allow_private=True)
    assert isinstance(sender, WebhookSender)
    assert sender.send(_request(server.url("/200?x=1"))).status == 200
    assert sender.send(_request(server.url("/503"))).status == 503
    assert sender.send(_request(server.url("/302"))).status == 302
    assert len(server.received) == 3  # the redirect was not followed
    first = server.received[0]
    assert first["path"] == "/200?x=1"
    assert first["body"] == b'{"a":1}'
    assert first["headers"]["Idempotency-Key"] == "k1"
    assert first["headers"]["X-A"] == "b"
    assert first["headers"]["Host"] == f"127.0.0.1:{server.port}"


def test_a_host_that_resolves_to_a_private_address_is_refused_before_connecting() -> None:
    """DNS answers are checked: a public name pointing inside is refused without a retry."""
    asked: list[tuple[str, int]] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["93.184.216.34", "10.0.0.7"]

    sender = HttpWebhookSender(resolve=rebinding)
    with pytest.raises(ActionFailed) as caught:
        sender.send(_request("https://hooks.example.com/x"))
    assert not caught.value.retryable
    assert "10.0.0.7" in str(caught.value)
    assert asked == [("hooks.example.com", 443)]
    for address in ("127.0.0.1", "::1", "fe80::1%eth0", "::ffff:192.168.0.1", "169.254.169.254"):
        with pytest.raises(ActionFailed):
            HttpWebhookSender(resolve=lambda h, p, a=address: [a]).send(
                _request("https://hooks.example.com/x")
            )


def test_the_loopback_is_refused_by_default(server: _Server) -> None:
    """Without allow_private the sender never connects to the local server."""
    with pytest.raises(ActionFailed):
        HttpWebhookSender().send(_request(server.url("/200")))
    assert server.received == []


def test_a_name_without_an_address_is_a_retryable_failure() -> None:
    """No address: an OSError, which the engine retries."""
    with pytest.raises(OSError, match="no address"):
        HttpWebhookSender(resolve=lambda h, p: []).send(_request("https://hooks.example.com/"))


def test_a_workflow_calls_the_server_through_the_sender(
    server: _Server, local_store: Store, core_factory: Callable[..., CampaignCore]
) -> None:
    """End to end: the step's body and key reach the server; a 503 is retried to success."""
    dev = WebhookSettings(allow_http=True, allow_private=True)
    core = core_factory(
        local_store,
        webhooks=HttpWebhookSender(allow_private=True),
        settings=Settings(automation=AutomationSettings(webhooks=dev)),
    )
    ws = core.for_actor(Actor("owner-1"))
    ws.automations.create_workflow(
        {
            "name": "Hook",
            "trigger": {"type": "event", "event": "go"},
            "actions": [
                {
                    "type": "webhook",
                    "id": "hook",
                    "url": server.url("/200"),
                    "body": {"fan": {"$ref": "fan.fanId"}},
                },
                {"type": "webhook", "id": "flaky", "url": server.url("/503")},
            ],
        },
        activate=True,
    )
    ws.fans.record_event("fan-1", "go")
    core.tick()
    assert json.loads(server.received[0]["body"]) == {"fan": "fan-1"}
    assert server.received[0]["headers"]["Idempotency-Key"].endswith(":hook:0")
    with core.store.unit_of_work() as uow:
        rows = sorted(uow.automation_step_runs.find(), key=lambda r: (r.step_id, r.attempt))
        [run] = uow.automation_runs.find()
    assert [(r.step_id, r.status, r.output.get("status")) for r in rows] == [
        ("flaky", StepStatus.RETRYING, 503),
        ("hook", StepStatus.COMPLETED, 200),
    ]
    assert run.status is RunStatus.ACTIVE
