"""``create_app``: the workspace services as a Starlette ASGI app, derived from the route table."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import inspect
import json
import typing
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from campaign_core.errors import Problem, ValidationError
from campaign_core.jobs.idempotency import claim_key, complete_key, mark_seen, release_key
from campaign_core.serialization import kwargs_from_json, to_json
from campaign_core.services import (
    ABTestService,
    AnalyticsService,
    AuditService,
    AutomationService,
    CampaignService,
    CredentialService,
    FanService,
    MessageTemplateService,
    Page,
    SegmentService,
)
from campaign_core_http._actors import ActorResolver, RequestInfo, resolve_actor
from campaign_core_http._errors import (
    BodyTooLargeError,
    HttpError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    MalformedBodyError,
    MethodNotAllowedError,
    NestingTooDeepError,
    ReplayedRequestError,
    RouteNotFoundError,
    UnsupportedMediaTypeError,
    error_response_parts,
)
from campaign_core_http._openapi import openapi_document
from campaign_core_http._routes import ROUTES, Route

if TYPE_CHECKING:
    from campaign_core import CampaignCore

__all__ = ["SERVICE_CLASSES", "create_app"]

SERVICE_CLASSES: dict[str, type[Any]] = {
    "campaigns": CampaignService,
    "abtests": ABTestService,
    "automations": AutomationService,
    "analytics": AnalyticsService,
    "fans": FanService,
    "segments": SegmentService,
    "audit": AuditService,
    "credentials": CredentialService,
    "messages": MessageTemplateService,
}
"""The workspace attribute each route's ``call`` starts with, and its service class."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON = "application/json"
_DOWNLOAD_TYPES = {str: ("text/csv; charset=utf-8", "csv"), bytes: ("application/pdf", "pdf")}
#: threads the services run on (``offload``): as many as Starlette's default pool
_THREADS = 40
#: workspaces kept, one per actor (all dropped when full)
_WORKSPACES = 4096
#: response headers a replay does not repeat (the server sets them again)
_NOT_REPLAYED = frozenset({"content-length", "date", "server"})


def _snake(name: str) -> str:
    return next(iter(kwargs_from_json({name: None})))


@attrs.frozen
class _Bound:
    """A route with what the app needs to call it, worked out once."""

    route: Route
    method: str
    path_params: dict[str, str]  # camelCase -> snake_case
    query_params: dict[str, str]  # camelCase -> snake_case
    body_params: frozenset[str]  # snake_case names a body may carry
    required: tuple[str, ...]  # snake_case names a body must carry
    open_body: bool  # the method takes **kwargs: it checks unknown keys itself
    keyset_limit: int | None
    positional: tuple[str, ...]  # path parameters the method takes positionally only


def _bind(route: Route) -> _Bound:
    service, method = route.call.split(".", 1)
    function = getattr(SERVICE_CLASSES[service], method)
    signature = inspect.signature(function)
    params = [p for p in signature.parameters.values() if p.name != "self"]
    path_names = [
        part[1:-1] for part in route.path.split("/") if part.startswith("{") and part.endswith("}")
    ]
    path_params = {name: _snake(name) for name in path_names}
    query_params = {name: _snake(name) for name in route.query}
    positional = tuple(
        p.name for p in params if p.kind is p.POSITIONAL_ONLY and p.name in path_params.values()
    )
    named = {
        p.name: p
        for p in params
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) or p.name in positional
    }
    open_body = any(p.kind is p.VAR_KEYWORD for p in params)
    for snake in [*path_params.values(), *query_params.values()]:
        if snake not in named and not open_body:
            raise TypeError(f"{route.call} takes no {snake!r} ({route.method} {route.path})")
    body_params = frozenset(named) - set(path_params.values())
    required = tuple(
        name
        for name, p in named.items()
        if p.default is p.empty and name not in path_params.values()
    )
    keyset_limit = None
    if route.keyset is not None:
        default = named["limit"].default
        keyset_limit = int(default) if isinstance(default, int) else None
    return _Bound(
        route=route,
        method=method,
        path_params=path_params,
        query_params=query_params,
        body_params=body_params if route.method in _BODY_METHODS else frozenset(),
        required=required,
        open_body=open_body,
        keyset_limit=keyset_limit,
        positional=positional,
    )


def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(body.encode(), status, headers=headers, media_type=_JSON)


def _error_response(error: BaseException) -> Response:
    status, headers, body = error_response_parts(error)
    return Response(body, status, headers=headers, media_type=_JSON)


def _reject_constant(name: str) -> Any:
    raise MalformedBodyError(f"{name} is not JSON")


def _depth(value: Any, limit: int) -> bool:
    """Whether ``value`` nests no deeper than ``limit`` (iteratively: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Sequence[Any] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level >= limit:
            return False
        stack.extend((child, level + 1) for child in children)
    return True


class _App:
    def __init__(
        self,
        core: CampaignCore,
        resolver: ActorResolver,
        *,
        max_body_bytes: int,
        max_depth: int,
        routes: Sequence[Route],
        offload: bool,
    ) -> None:
        self.offload = offload
        self.core = core
        self.resolver = resolver
        self.replay_key: Callable[[RequestInfo], tuple[str, Any] | None] | None = getattr(
            resolver, "replay_key", None
        )
        self.max_body_bytes = max_body_bytes
        self.max_depth = max_depth
        self.routes = tuple(routes)
        self._openapi: bytes | None = None
        # a workspace per actor, made once: nine service objects per request cost more than
        # the look-up of a record (bench_http.py); services keep no state of their own
        self.workspaces: dict[Any, Any] = {}
        self.executor: ThreadPoolExecutor | None = None

    async def offloaded(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` on the app's threads (``offload``), else right here.

        The loop's executor with the caller's context, not ``run_in_threadpool``: anyio's hop
        (a capacity limiter, a cancel scope, a portal) cost as much as the record look-up.
        """
        if not self.offload:
            return function(*args, **kwargs)
        if self.executor is None:
            self.executor = ThreadPoolExecutor(_THREADS, thread_name_prefix="campaign-core-http")
        call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    async def store_io(self, function: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Call ``function`` (it reads or writes the store) where the services are called."""
        return await self.offloaded(function, self.core.runtime, **kwargs)

    def workspace(self, actor: Any) -> Any:
        found = self.workspaces.get(actor)
        if found is None:
            if len(self.workspaces) >= _WORKSPACES:
                self.workspaces.clear()
            found = self.workspaces[actor] = self.core.for_actor(actor)
        return found

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if self.executor is not None:
                self.executor.shutdown(wait=False)
                self.executor = None

    # -- the request, before any service runs

    async def read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise MalformedBodyError("Content-Length must be a number of bytes")
            if int(declared) > self.max_body_bytes:
                raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> BodyTooLargeError:
        return BodyTooLargeError(
            f"the body is larger than {self.max_body_bytes} bytes",
            details={"limit": self.max_body_bytes},
        )

    def parse_body(self, request: Request, body: bytes) -> dict[str, Any]:
        if not body.strip():
            return {}
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != _JSON and not (media.startswith("application/") and media.endswith("+json")):
            raise UnsupportedMediaTypeError(
                f"a body must be {_JSON}, got {media or 'no content type'}",
                details={"expected": _JSON},
            )
        try:
            data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError:
            raise MalformedBodyError("the body is not UTF-8") from None
        except json.JSONDecodeError as error:
            raise MalformedBodyError(
                f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}",
                details={"line": error.lineno, "column": error.colno},
            ) from None
        except RecursionError:
            raise self._too_deep() from None
        if not _depth(data, self.max_depth):
            raise self._too_deep()
        return kwargs_from_json(data)

    def _too_deep(self) -> NestingTooDeepError:
        return NestingTooDeepError(
            f"the body nests deeper than {self.max_depth} levels",
            details={"limit": self.max_depth},
        )

    def arguments(self, bound: _Bound, request: Request, body: bytes) -> dict[str, Any]:
        problems: list[Problem] = []
        kwargs: dict[str, Any] = {}
        if bound.route.method in _BODY_METHODS:
            given = self.parse_body(request, body)
            for name, value in given.items():
                if name in bound.path_params.values():
                    problems.append(Problem(name, "is set by the path", "unknown_field"))
                elif name in bound.body_params or bound.open_body:
                    kwargs[name] = value
                else:
                    problems.append(Problem(name, "unknown field", "unknown_field"))
            problems.extend(
                Problem(name, "required field is missing", "required")
                for name in bound.required
                if name not in given
            )
        query = request.query_params
        problems.extend(
            Problem(camel, "required query parameter is missing", "required")
            for camel, snake in bound.query_params.items()
            if snake in bound.required and camel not in query
        )
        for name in query:
            if name not in bound.query_params:
                problems.append(Problem(name, "unknown query parameter", "unknown_field"))
                continue
            kind = bound.route.query[name]
            values = query.getlist(name)
            if kind == "array":
                kwargs[bound.query_params[name]] = [
                    v for value in values for v in value.split(",") if v
                ]
            elif len(values) > 1:
                problems.append(Problem(name, "given more than once", "invalid_value"))
            else:
                try:
                    kwargs[bound.query_params[name]] = _query_value(values[0], kind)
                except ValueError as error:
                    problems.append(Problem(name, str(error), "invalid_type"))
        for camel, snake in bound.path_params.items():
            kwargs[snake] = request.path_params[camel]
        if problems:
            # paths in the request's own (camelCase) names: error_to_json renames snake ones
            raise ValidationError(problems)
        return kwargs

    # -- replays and idempotency (rows in the store: campaign_core.jobs.idempotency)

    async def refuse_replay(self, info: RequestInfo, actor: Any) -> None:
        """A signed write is served once inside its window (the resolver says what to keep)."""
        if self.replay_key is None:
            return
        kept = self.replay_key(info)
        if kept is None:
            return
        signature, until = kept
        fresh = await self.store_io(
            mark_seen,
            owner_id=actor.account_id,
            actor_id=actor.user_id,
            signature=signature,
            method=info.method,
            path=info.target,
            request_hash=_request_hash(info.method, info.target, info.body),
            expires_at=until,
        )
        if not fresh:
            raise ReplayedRequestError(
                "this signed request was served before: sign every request anew (a new nonce)"
            )

    async def idempotent(
        self, request: Request, info: RequestInfo, actor: Any, run: Callable[[], Any]
    ) -> Response:
        key = request.headers.get("idempotency-key")
        if key is None or request.method != "POST":
            return typing.cast(Response, await run())
        if not key or len(key) > 255 or not key.isprintable():
            raise ValidationError.single(
                "Idempotency-Key", "must be 1 to 255 printable characters", "invalid_value"
            )
        claim = await self.store_io(
            claim_key,
            owner_id=actor.account_id,
            actor_id=actor.user_id,
            key=key,
            method="POST",
            path=info.target,
            request_hash=_request_hash("POST", info.target, info.body),
        )
        if claim.outcome == "mismatch":
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was used with a different request"
            )
        if claim.outcome == "busy":
            raise IdempotencyKeyInUseError(
                "the first request with this Idempotency-Key is still running; retry shortly",
                details={"retryAfter": 1},
            )
        if claim.outcome == "replay":
            stored = claim.record
            return Response(
                stored.response_body.encode(),
                stored.status,
                headers={**stored.response_headers, "Idempotent-Replayed": "true"},
            )
        try:
            response = typing.cast(Response, await run())
        except BaseException:
            await self.store_io(release_key, claimed=claim.record)
            raise
        body = bytes(response.body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:  # no POST answers a binary body; never replay one
            text = None
        if response.status_code >= 500 or response.status_code == 429 or text is None:
            await self.store_io(release_key, claimed=claim.record)
        else:
            headers = {k: v for k, v in response.headers.items() if k not in _NOT_REPLAYED}
            await self.store_io(
                complete_key,
                claimed=claim.record,
                status=response.status_code,
                body=text,
                headers=headers,
            )
        return response

    # -- the call and its answer

    def endpoint(self, bound: _Bound) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            try:
                body = await self.read_body(request)
                target = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
                if request.url.query:
                    target += "?" + request.url.query
                info = RequestInfo(
                    method=request.method,
                    target=target,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=body,
                )
                actor = await resolve_actor(self.resolver, info)
                await self.refuse_replay(info, actor)
                kwargs = self.arguments(bound, request, body)

                async def run() -> Response:
                    try:
                        result = await self.offloaded(self.call, bound, actor, kwargs)
                    except Exception as error:
                        return _error_response(error)
                    return self.render(bound, result, kwargs)

                return await self.idempotent(request, info, actor, run)
            except Exception as error:
                return _error_response(error)

        return handle

    def call(self, bound: _Bound, actor: Any, kwargs: dict[str, Any]) -> Any:
        service = getattr(self.workspace(actor), bound.route.service)
        named = dict(kwargs)
        args = [named.pop(name) for name in bound.positional]
        return getattr(service, bound.method)(*args, **named)

    def render(self, bound: _Bound, result: Any, kwargs: dict[str, Any]) -> Response:
        route = bound.route
        if route.download and isinstance(result, str | bytes):
            media, ext = _DOWNLOAD_TYPES[type(result)]
            data = result.encode() if isinstance(result, str) else result
            name = f"report-{kwargs.get('campaign_id', 'campaign')}.{ext}"
            return Response(
                data,
                route.status,
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
                media_type=media,
            )
        if result is None:
            return Response(status_code=204 if route.status == 204 else route.status)
        if isinstance(result, Page):
            payload: Any = {
                "items": to_json(list(result.items)),
                "total": result.total,
                "next": result.next_cursor,
            }
            if result.problems:  # rows of the page that could not be read (only when there are)
                payload["problems"] = [p.details for p in result.problems]
        elif isinstance(result, list | tuple):
            payload = {"items": to_json(list(result))}
            if route.keyset is not None:
                limit = kwargs.get("limit", bound.keyset_limit)
                full = isinstance(limit, int) and limit > 0 and len(result) >= limit
                payload["next"] = getattr(result[-1], "id", None) if full and result else None
        elif route.own_json:
            payload = result.to_json()
        elif route.wrap is not None:
            payload = {route.wrap: to_json(result)}
        else:
            payload = to_json(result)
        return _json_response(route.status, payload)

    # -- what no route answers

    async def openapi(self, request: Request) -> Response:
        if self._openapi is None:
            document = openapi_document(self.routes, platforms=self.core.settings.platforms.names)
            self._openapi = json.dumps(document, ensure_ascii=False).encode()
        return Response(self._openapi, media_type=_JSON)

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error: HttpError
        if exc.status_code == 404:
            error = RouteNotFoundError(f"no route for {request.url.path}")
        elif exc.status_code == 405:
            allow = [m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m]
            error = MethodNotAllowedError(
                f"{request.method} is not allowed on {request.url.path}",
                details={"allow": allow},
            )
        else:
            error = HttpError(str(exc.detail))
            return _json_response(exc.status_code, error.to_json())
        return _error_response(error)

    async def server_error(self, request: Request, exc: Exception) -> Response:
        return _error_response(exc)


def _request_hash(method: str, target: str, body: bytes) -> str:
    return hashlib.sha256(f"{method}\n{target}\n".encode() + body).hexdigest()


def _query_value(text: str, kind: str) -> Any:
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if kind == "number":
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        return value
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text == "true"
    return text


def _dispatch(handlers: dict[str, Callable[[Request], Any]]) -> Callable[[Request], Any]:
    """One endpoint per path: Starlette answers 405 with every method the path has."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return typing.cast(Response, await handlers[method](request))

    return dispatch


def create_app(
    core: CampaignCore,
    actor_resolver: ActorResolver,
    *,
    max_body_bytes: int = 1_048_576,
    max_depth: int = 32,
    routes: Sequence[Route] | None = None,
    offload: bool = True,
) -> Starlette:
    """The workspace services as an ASGI app (Starlette; serve it with uvicorn).

    Every route of ``routes`` (``ROUTES`` by default) calls its service method on
    ``core.for_actor(actor)``, the actor told by ``actor_resolver``, and answers with the
    result's camelCase JSON (``to_json``), or a library error's body with its ``http_status``.
    ``GET /openapi.json`` serves the OpenAPI 3.1 document of the same routes.

    Args:
        core: the engine. Its store keeps the responses to POSTs sent with an
            ``Idempotency-Key`` (for ``settings.retention.idempotency_hours``) and the
            signed writes already served (for their window), so both hold across server
            processes; its clock times them; ``core.tick()`` purges them.
        actor_resolver: who is acting, from the request (:class:`SignedActorHeaders`,
            :class:`BearerTokenResolver` or the host's own); a 401 when it cannot tell.
        max_body_bytes: a larger body is a 413.
        max_depth: a body nesting arrays and objects deeper is a 400 ``nesting_too_deep``.
        routes: the route table (``ROUTES`` by default).
        offload: call the services on a thread pool (the default), so that one slow query
            does not hold the other requests; ``False`` calls them on the event loop, which
            saves the thread hop per request (``benchmarks/bench_http.py`` measures it) but
            serves one request at a time per process: for the memory store, or a deployment
            that scales by processes.

    Returns:
        The ASGI app.
    """
    if max_body_bytes < 1 or max_depth < 1:
        raise ValueError("max_body_bytes and max_depth must be positive")
    app = _App(
        core,
        actor_resolver,
        max_body_bytes=max_body_bytes,
        max_depth=max_depth,
        routes=ROUTES if routes is None else routes,
        offload=offload,
    )
    by_path: dict[str, dict[str, Callable[[Request], Any]]] = {}
    for route in app.routes:
        methods = by_path.setdefault(route.path, {})
        if route.method in methods:
            raise ValueError(f"two routes for {route.method} {route.path}")
        methods[route.method] = app.endpoint(_bind(route))
    starlette_routes = [StarletteRoute("/openapi.json", app.openapi, methods=["GET"])]
    starlette_routes.extend(
        StarletteRoute(path, _dispatch(handlers), methods=list(handlers))
        for path, handlers in by_path.items()
    )
    return Starlette(
        routes=starlette_routes,
        lifespan=app.lifespan,
        exception_handlers={HTTPException: app.http_exception, Exception: app.server_error},
    )
