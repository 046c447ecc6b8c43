"""The ``webhook`` step's rules: which URLs, headers and timeouts a workflow may use.

Checked when a workflow is saved (each problem with its path) and again when the
step runs (a host may have tightened :class:`WebhookSettings` since):

- the URL is absolute ``https`` (``http`` only when the host allows it), with a
  host name, without user and password, fragment, spaces or control characters,
  at most 2,000 characters; a host that is ``localhost``, a ``.local`` /
  ``.internal`` / ``.localhost`` name or an IP address in a private, loopback,
  link-local, multicast or reserved range is refused unless the host allows
  private addresses; with ``allowed_hosts`` set, the host must be one of them
  (or under one written ``.example.com``);
- headers are at most 20 ``token: text`` pairs; the ones that route or frame the
  request (``Host``, ``X-Forwarded-*``, ``Forwarded``, ``Content-Length``,
  ``Transfer-Encoding``, ``Connection``...) and the ones the engine sets
  (``Content-Type``, ``Idempotency-Key``, ``User-Agent``) are refused;
- the timeout is a duration above zero and at most ``max_timeout``.

Names resolve later than a save can see (DNS may point a public name at a private
address): a host's :class:`~campaign_core.ports.WebhookSender` that calls the
internet should check the address it connects to as well.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Final, Protocol, runtime_checkable
from urllib.parse import urlsplit

import attrs

from campaign_core.durations import parse_duration
from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = [
    "FORBIDDEN_HEADERS",
    "METHODS",
    "RecordingWebhookSender",
    "WebhookRequest",
    "WebhookResponse",
    "WebhookSender",
    "WebhookSettings",
    "check_headers",
    "check_timeout",
    "check_url",
]

METHODS: Final = ("POST", "PUT", "PATCH")
MAX_URL: Final = 2000
MAX_HEADERS: Final = 20
FORBIDDEN_HEADERS: Final = frozenset(
    {
        "host",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-port",
        "x-real-ip",
        "x-original-url",
        "x-rewrite-url",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "proxy-authorization",
        "proxy-connection",
        "idempotency-key",
        "user-agent",
    }
)
_TOKEN: Final = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$")
_HOST_NAME: Final = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?)*\.?$"
)
_LOCAL_SUFFIXES: Final = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


def _hosts(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single(
            "settings.automation.webhooks.allowed_hosts",
            "expected a list of host names (or '.example.com' for every name under it)",
            "invalid_type",
        )
    out = tuple(str(h).lower() for h in value)
    for index, host in enumerate(out):
        if not _HOST_NAME.match(host.removeprefix(".")):
            raise ValidationError.single(
                f"settings.automation.webhooks.allowed_hosts[{index}]", "expected a host name"
            )
    return out


def _max_timeout(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, timedelta) or not timedelta(0) < value <= timedelta(minutes=5):
        raise ValidationError.single(
            f"settings.automation.webhooks.{attribute.name}",
            "must be a duration above zero and at most 5 minutes",
            "out_of_range",
        )


@attrs.frozen(kw_only=True)
class WebhookSettings:
    """Which webhooks workflows may call (``AutomationSettings(webhooks=...)``).

    Attributes:
        allow_http: accept ``http://`` URLs (for development; default https only).
        allow_private: accept ``localhost``, local names and private, loopback
            or link-local IP addresses (for development).
        allowed_hosts: when set, the only hosts webhooks may call (``.example.com``
            allows every name under ``example.com``).
        default_timeout: a step's timeout when it names none.
        max_timeout: the longest timeout a step may ask for (at most 5 minutes).
    """

    allow_http: bool = False
    allow_private: bool = False
    allowed_hosts: tuple[str, ...] | None = attrs.field(default=None, converter=_hosts)
    default_timeout: timedelta = attrs.field(default=timedelta(seconds=10), validator=_max_timeout)
    max_timeout: timedelta = attrs.field(default=timedelta(seconds=30), validator=_max_timeout)

    def __attrs_post_init__(self) -> None:
        if self.default_timeout > self.max_timeout:
            raise ValidationError.single(
                "settings.automation.webhooks.default_timeout",
                "must not be longer than max_timeout",
                "out_of_range",
            )


def _private(host: str) -> bool:
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%")[0])  # no IPv6 zone id
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def check_url(
    value: Any, path: str, problems: ProblemCollector, settings: WebhookSettings
) -> str | None:
    """The URL when a webhook may call it; else a problem is added and None returned."""
    if not isinstance(value, str) or not value:
        problems.add(path, "expected an absolute https URL", "invalid_type")
        return None
    if len(value) > MAX_URL:
        problems.add(path, f"must be at most {MAX_URL} characters", "too_long")
        return None
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c == "\\" for c in value):
        problems.add(path, "must not contain spaces, control characters or backslashes")
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        problems.add(path, f"is not a URL: {error}")
        return None
    schemes = ("https", "http") if settings.allow_http else ("https",)
    if parts.scheme not in schemes:
        problems.add(
            path,
            "must be an https URL" if not settings.allow_http else "must be an http(s) URL",
            "invalid_value",
        )
        return None
    host = (parts.hostname or "").lower()
    if not host:
        problems.add(path, "needs a host name", "invalid_value")
        return None
    if "@" in parts.netloc or parts.username is not None:
        problems.add(path, "must not hold a user name or password (send them in a header)")
        return None
    if parts.fragment or value.endswith("#"):
        problems.add(path, "must not have a fragment ('#...')")
        return None
    if port == 0:
        problems.add(path, "port 0 is not a port")
        return None
    is_ip = True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        is_ip = False
    if not is_ip and not _HOST_NAME.match(host):
        problems.add(path, f"{host[:80]!r} is not a host name")
        return None
    if not settings.allow_private and _private(host):
        problems.add(
            path,
            f"{host[:80]!r} is a local or private address (WebhookSettings.allow_private)",
            "forbidden_host",
        )
        return None
    allowed = settings.allowed_hosts
    if allowed is not None and not any(
        host == a or (a.startswith(".") and host.endswith(a)) for a in allowed
    ):
        problems.add(path, f"{host[:80]!r} is not an allowed webhook host", "forbidden_host")
        return None
    return value


def check_headers(value: Any, path: str, problems: ProblemCollector) -> dict[str, str] | None:
    """The headers when a webhook may send them; else problems are added and None returned."""
    if not isinstance(value, Mapping):
        problems.add(path, "expected an object of header name -> text", "invalid_type")
        return None
    if len(value) > MAX_HEADERS:
        problems.add(path, f"at most {MAX_HEADERS} headers", "too_long")
        return None
    out: dict[str, str] = {}
    seen: set[str] = set()
    before = len(problems.problems)
    for name, text in value.items():
        here = join_path(path, str(name))
        if not isinstance(name, str) or not _TOKEN.match(name):
            problems.add(here, "header names are letters, digits and !#$%&'*+-.^_`|~ (1-64)")
            continue
        lower = name.lower()
        if lower in FORBIDDEN_HEADERS or lower.startswith(("proxy-", "sec-")):
            problems.add(
                here, f"{name!r} is set by the engine or the connection", "forbidden_header"
            )
            continue
        if lower in seen:
            problems.add(here, f"{name!r} is given twice", "duplicate")
            continue
        seen.add(lower)
        if not isinstance(text, str) or len(text) > 1000:
            problems.add(here, "expected text of at most 1000 characters", "invalid_type")
            continue
        if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in text):
            problems.add(here, "must not contain line breaks or control characters")
            continue
        out[name] = text
    return out if len(problems.problems) == before else None


def check_timeout(
    value: Any, path: str, problems: ProblemCollector, settings: WebhookSettings
) -> timedelta | None:
    """The step's timeout when it is above zero and at most ``settings.max_timeout``."""
    try:
        span = parse_duration(value, path=path)
    except ValidationError as error:
        problems.extend(error)
        return None
    if not timedelta(0) < span <= settings.max_timeout:
        problems.add(
            path,
            f"must be above zero and at most {int(settings.max_timeout.total_seconds())} seconds",
            "out_of_range",
        )
        return None
    return span


# ------------------------------------------------------------------------------ the port


@attrs.frozen(kw_only=True)
class WebhookRequest:
    """One call of a ``webhook`` step, as the engine hands it to the host's sender.

    Attributes:
        owner_id: the workflow's account.
        method: ``POST``, ``PUT`` or ``PATCH``.
        url: checked when the workflow was saved and again before the call.
        headers: the step's headers plus ``Content-Type: application/json``,
            ``Idempotency-Key`` and ``User-Agent``.
        body: the JSON body, encoded (UTF-8).
        timeout: seconds the whole call may take; past it, raise (``TimeoutError``).
        idempotency_key: stable per (run, step, visit), also in the
            ``Idempotency-Key`` header: a retried or recovered step sends the
            same key, so a receiver that deduplicates acts once.
    """

    owner_id: str
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout: float
    idempotency_key: str


@attrs.frozen
class WebhookResponse:
    """What the receiver answered: its HTTP ``status`` (the engine records it in the run's history)."""

    status: int


@runtime_checkable
class WebhookSender(Protocol):
    """Makes the HTTP calls of ``webhook`` steps (the host's HTTP client).

    Contract: ``send`` makes one request and returns the response's status
    without following redirects; a timeout or a connection failure raises (the
    engine retries it). The engine retries 5xx, 408, 425 and 429 answers with its
    backoff and fails the step on other 4xx and on 3xx (no retries: the same
    request would get the same answer).
    """

    def send(self, request: WebhookRequest) -> WebhookResponse: ...


class RecordingWebhookSender:
    """Default webhook sender: records every request and answers 200 (deduplicated by key).

    Args:
        statuses: the statuses to answer, in order, before answering 200 (tests
            script failures with it: ``[503, 503]``); an exception instance in
            the list is raised instead.
    """

    def __init__(self, statuses: Iterable[int | BaseException] = ()) -> None:
        self.requests: list[WebhookRequest] = []
        self.delivered: dict[str, WebhookRequest] = {}
        self._script = list(statuses)
        self._lock = threading.Lock()

    def send(self, request: WebhookRequest) -> WebhookResponse:
        with self._lock:
            self.requests.append(request)
            answer: int | BaseException = self._script.pop(0) if self._script else 200
            if isinstance(answer, BaseException):
                raise answer
            if 200 <= answer < 300:
                self.delivered.setdefault(request.idempotency_key, request)
            return WebhookResponse(answer)
