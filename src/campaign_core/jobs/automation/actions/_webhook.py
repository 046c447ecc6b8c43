"""``webhook``: one HTTP call through the host's :class:`~campaign_core.ports.WebhookSender`.

The URL is checked again against today's
:class:`~campaign_core.automation.WebhookSettings` (a host may have tightened them
since the workflow was saved); the body is the step's JSON template with its value
expressions computed for the run (by default a small envelope naming the workflow,
run, step and fan). The request carries the step visit's idempotency key in the
``Idempotency-Key`` header, so a retried or recovered step (a crash between the
call and its record calls again) is acted on once by a receiver that deduplicates.

Answers: 2xx completes the step; 5xx, 408, 425 and 429 and a raised exception (a
timeout, a refused connection) are retried with the engine's backoff; other 4xx and
3xx (redirects are not followed) fail the step at once and its ``onError`` applies.
The status is recorded in the step's history (``output.status``), failures too.
"""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import urlsplit

from campaign_core._version import __version__
from campaign_core.automation import (
    ActionFailed,
    ExpressionError,
    WebhookRequest,
    check_timeout,
    check_url,
    render_template,
)
from campaign_core.errors import ProblemCollector
from campaign_core.jobs.automation._state import StepCall, StepResult

__all__ = ["NAME", "WebhookFailed", "run"]

NAME: Final = "webhook"
MAX_BODY: Final = 64_000
RETRYABLE: Final = frozenset({408, 425, 429})


class WebhookFailed(ActionFailed):
    """A webhook answered with an error status (recorded with the failed attempt)."""

    def __init__(self, message: str, *, retryable: bool, output: dict[str, Any]) -> None:
        super().__init__(message, retryable=retryable)
        self.output = output


def _default_body(call: StepCall) -> dict[str, Any]:
    return {
        "workflow": {"id": {"$ref": "workflow.id"}, "name": {"$ref": "workflow.name"}},
        "run": {"id": {"$ref": "run.id"}},
        "step": {"id": {"$ref": "step.id"}},
        "fan": {"fanId": {"$ref": "fan.fanId"}},
        "sentAt": {"$now": True},
    }


def run(call: StepCall) -> StepResult:
    """Call the webhook once for this attempt.

    Args:
        call: the step being run.

    Returns:
        ``{"status", "method", "host"}`` of a 2xx answer.

    Raises:
        ActionFailed: the URL or timeout is no longer allowed, the body cannot be
            computed or is too large (not retried), or the receiver answered an
            error status (:class:`WebhookFailed`, retried or not by status).
    """
    params = call.step.params
    policy = call.settings.webhooks
    problems = ProblemCollector()
    url = check_url(params["url"], "url", problems, policy)
    timeout = policy.default_timeout
    if "timeout" in params:
        timeout = check_timeout(params["timeout"], "timeout", problems, policy) or timeout
    if problems:
        reasons = "; ".join(f"{p.path}: {p.message}" for p in problems.problems)
        raise ActionFailed(f"webhook not allowed by the settings: {reasons}", retryable=False)
    assert url is not None
    template = params["body"] if "body" in params else _default_body(call)
    try:
        body = render_template(template, call.scope())
    except ExpressionError as error:
        raise ActionFailed(f"webhook body: {error}", retryable=False) from error
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    if len(data) > MAX_BODY:
        raise ActionFailed(f"webhook body is over {MAX_BODY} bytes", retryable=False)
    method = str(params.get("method") or "POST")
    headers = {
        **dict(params.get("headers") or {}),
        "Content-Type": "application/json",
        "Idempotency-Key": call.key,
        "User-Agent": f"campaign-core/{__version__}",
    }
    response = call.rt.webhooks.send(
        WebhookRequest(
            owner_id=call.automation.user_id,
            method=method,
            url=url,
            headers=headers,
            body=data,
            timeout=timeout.total_seconds(),
            idempotency_key=call.key,
        )
    )
    status = int(response.status)
    output = {"status": status, "method": method, "host": urlsplit(url).hostname or ""}
    if 200 <= status < 300:
        return StepResult(output)
    retryable = status >= 500 or status in RETRYABLE
    what = "a redirect (not followed)" if 300 <= status < 400 else f"HTTP {status}"
    raise WebhookFailed(
        f"webhook {method} {output['host']} answered {what}", retryable=retryable, output=output
    )
