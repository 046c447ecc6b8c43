"""campaign-core over HTTP: the workspace services as an ASGI app (Starlette), with OpenAPI.

Install the extra, ``pip install 'campaign-core[http]'``, then::

    from campaign_core_http import SignedActorHeaders, create_app

    app = create_app(core, actor_resolver=SignedActorHeaders(secret, clock=core.clock))

and serve ``app`` with uvicorn (``campaign-core serve``). See the how-to, *Serve the HTTP API*.
"""

from campaign_core.errors import MissingDependencyError

try:
    import starlette  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise MissingDependencyError("http", "starlette") from error

from campaign_core_http._actors import (
    ActorResolver,
    BearerTokenResolver,
    RequestInfo,
    SignedActorHeaders,
    sign_actor_headers,
    signature_base,
)
from campaign_core_http._app import create_app
from campaign_core_http._errors import (
    BodyTooLargeError,
    HttpError,
    IdempotencyKeyReusedError,
    MalformedBodyError,
    MethodNotAllowedError,
    NestingTooDeepError,
    RouteNotFoundError,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
)
from campaign_core_http._idempotency import (
    IdempotencyStore,
    InMemoryIdempotencyStore,
    StoredResponse,
)
from campaign_core_http._openapi import ERROR_STATUSES, openapi_document
from campaign_core_http._routes import ROUTES, Route

__all__ = [
    "ERROR_STATUSES",
    "ROUTES",
    "ActorResolver",
    "BearerTokenResolver",
    "BodyTooLargeError",
    "HttpError",
    "IdempotencyKeyReusedError",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "MalformedBodyError",
    "MethodNotAllowedError",
    "NestingTooDeepError",
    "RequestInfo",
    "Route",
    "RouteNotFoundError",
    "SignedActorHeaders",
    "StoredResponse",
    "UnauthenticatedError",
    "UnsupportedMediaTypeError",
    "create_app",
    "openapi_document",
    "sign_actor_headers",
    "signature_base",
]
