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
)
from campaign_core_http._actors import (
    signature_base as signature_base,
)
from campaign_core_http._app import create_app
from campaign_core_http._errors import (
    BodyTooLargeError as BodyTooLargeError,
)
from campaign_core_http._errors import (
    HttpError,
    UnauthenticatedError,
)
from campaign_core_http._errors import (
    IdempotencyKeyInUseError as IdempotencyKeyInUseError,
)
from campaign_core_http._errors import (
    IdempotencyKeyReusedError as IdempotencyKeyReusedError,
)
from campaign_core_http._errors import (
    MalformedBodyError as MalformedBodyError,
)
from campaign_core_http._errors import (
    MethodNotAllowedError as MethodNotAllowedError,
)
from campaign_core_http._errors import (
    NestingTooDeepError as NestingTooDeepError,
)
from campaign_core_http._errors import (
    ReplayedRequestError as ReplayedRequestError,
)
from campaign_core_http._errors import (
    RouteNotFoundError as RouteNotFoundError,
)
from campaign_core_http._errors import (
    UnsupportedMediaTypeError as UnsupportedMediaTypeError,
)
from campaign_core_http._openapi import ERROR_STATUSES as ERROR_STATUSES
from campaign_core_http._openapi import openapi_document
from campaign_core_http._routes import ROUTES, Route

__all__ = [
    "ROUTES",
    "ActorResolver",
    "BearerTokenResolver",
    "HttpError",
    "RequestInfo",
    "Route",
    "SignedActorHeaders",
    "UnauthenticatedError",
    "create_app",
    "openapi_document",
    "sign_actor_headers",
]
