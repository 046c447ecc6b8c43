"""The HTTP layer's own failures, as library errors with a code and a status.

Everything a client can get wrong before a service runs (the body, its type, its size, the
route, who is acting, an idempotency key) is one of these; each renders like any other
:class:`~campaign_core.errors.CampaignCoreError`, ``{"error": {"code", "message", "details"?}}``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from campaign_core.errors import (
    CampaignCoreError,
    RateLimitedError,
    StoreUnavailableError,
    ValidationError,
)
from campaign_core.serialization import error_to_json

__all__ = [
    "BodyTooLargeError",
    "HttpError",
    "IdempotencyKeyInUseError",
    "IdempotencyKeyReusedError",
    "MalformedBodyError",
    "MethodNotAllowedError",
    "NestingTooDeepError",
    "ReplayedRequestError",
    "RouteNotFoundError",
    "UnauthenticatedError",
    "UnsupportedMediaTypeError",
    "error_response_parts",
]

log = logging.getLogger("campaign_core_http")


class HttpError(CampaignCoreError):
    """A request the HTTP layer refuses before any service runs."""

    code: ClassVar[str] = "bad_request"
    http_status: ClassVar[int] = 400


class MalformedBodyError(HttpError):
    """The body is not JSON (or not UTF-8, or has NaN/Infinity)."""

    code = "malformed_json"
    http_status = 400


class NestingTooDeepError(HttpError):
    """The JSON body nests arrays and objects deeper than the limit."""

    code = "nesting_too_deep"
    http_status = 400


class UnsupportedMediaTypeError(HttpError):
    """A body was sent with a content type other than ``application/json``."""

    code = "unsupported_media_type"
    http_status = 415


class BodyTooLargeError(HttpError):
    """The body is larger than the app's ``max_body_bytes``."""

    code = "body_too_large"
    http_status = 413


class RouteNotFoundError(HttpError):
    """No route has this path."""

    code = "no_route"
    http_status = 404


class MethodNotAllowedError(HttpError):
    """The path exists, but not with this method (``details.allow`` lists the methods)."""

    code = "method_not_allowed"
    http_status = 405


class UnauthenticatedError(HttpError):
    """The request does not say, in a way the resolver trusts, who is acting."""

    code = "unauthenticated"
    http_status = 401


class ReplayedRequestError(UnauthenticatedError):
    """A signed write was served before with this signature (a replay inside its window)."""

    code = "replayed_request"
    http_status = 401


class IdempotencyKeyInUseError(HttpError):
    """The first request with this ``Idempotency-Key`` is still running (retry after a second)."""

    code = "idempotency_key_in_use"
    http_status = 409


class IdempotencyKeyReusedError(HttpError):
    """The ``Idempotency-Key`` was used before with a different request."""

    code = "idempotency_key_reused"
    http_status = 422


_GENERIC_500: dict[str, Any] = {
    "error": {"code": "internal_error", "message": "internal error; the server logged it"}
}


def _clean(message: str) -> str:
    # a driver's text can quote the statement ("[SQL: ...]") and its parameters: the first line,
    # up to any of them, only
    first = message.strip().splitlines()[0] if message.strip() else message
    for marker in ("[SQL", "(Background on this error"):
        if marker in first:
            first = first.split(marker, 1)[0].rstrip(" (")
    return first


def error_response_parts(error: BaseException) -> tuple[int, dict[str, str], bytes]:
    """The status, extra headers and JSON body that answer ``error``.

    A library error answers with its own ``http_status`` and body (validation paths in the
    request's camelCase names); 429 carries ``Retry-After``; the store's own words (which
    can quote SQL) never leave: 503 says the store is unavailable and nothing more; anything
    else is a bug, logged with its traceback and answered with a generic 500.
    """
    headers: dict[str, str] = {}
    if isinstance(error, StoreUnavailableError):
        retryable = bool(error.details.get("retryable", True))
        body: dict[str, Any] = {
            "error": {
                "code": error.code,
                "message": "the store is unavailable; retry later",
                "details": {"retryable": retryable},
            }
        }
        if retryable:
            headers["Retry-After"] = "1"
        log.warning("store unavailable: %s", error)
        return error.http_status, headers, _dumps(body)
    if isinstance(error, CampaignCoreError) and 400 <= error.http_status < 500:
        if isinstance(error, ValidationError):
            body = error_to_json(error)
        else:
            body = error.to_json()
        body["error"]["message"] = _clean(str(body["error"].get("message", "")))
        if isinstance(error, RateLimitedError):
            headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
        if isinstance(error, IdempotencyKeyInUseError):
            headers["Retry-After"] = "1"
        if isinstance(error, MethodNotAllowedError):
            headers["Allow"] = ", ".join(error.details.get("allow", ()))
        if isinstance(error, UnauthenticatedError) and error.details.get("scheme") == "Bearer":
            headers["WWW-Authenticate"] = "Bearer"
        try:
            return error.http_status, headers, _dumps(body)
        except (TypeError, ValueError):  # details a host's error left unserializable
            body["error"].pop("details", None)
            return error.http_status, headers, _dumps(body)
    log.error("unhandled error answering a request", exc_info=error)
    return 500, headers, _dumps(_GENERIC_500)


def _dumps(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
