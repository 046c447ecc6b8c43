"""The OpenAPI 3.1 document of the route table, from the library's own ``json_schema``."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from campaign_core import __version__
from campaign_core.serialization import json_schema, kwargs_from_json
from campaign_core.services import Page
from campaign_core_http._routes import Route

__all__ = ["ERROR_STATUSES", "openapi_document"]

ERROR_STATUSES: dict[int, str] = {
    400: "a malformed request: not JSON (`malformed_json`), nested too deep (`nesting_too_deep`)",
    401: "who is acting is unknown or unproven (`unauthenticated`); a signed write sent again "
    "(`replayed_request`)",
    403: "the actor's role does not allow it (`permission_denied`)",
    404: "not found, or another account's (`not_found`); no such route (`no_route`)",
    405: "the path exists, not with this method (`method_not_allowed`)",
    409: "not from the current status (`invalid_transition`) or a clash (`conflict`); the "
    "first request with this Idempotency-Key still running (`idempotency_key_in_use`, "
    "`Retry-After`)",
    413: "the body is over the size limit (`body_too_large`)",
    415: "a body that is not application/json (`unsupported_media_type`)",
    422: "invalid input, every problem with its path (`validation_error`); an Idempotency-Key "
    "reused with another request (`idempotency_key_reused`)",
    429: "too many calls (`rate_limited`); retry after `Retry-After` seconds",
    500: "a bug, logged by the server (`internal_error`)",
    503: "the store is unavailable (`store_unavailable`); retry later",
}
"""Every error status an operation can answer with, and what it means."""

_REF = "#/components/schemas/"
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
    "description": "Every failure: a stable code, a message, and details (validation "
    "problems with their paths, retryAfter...).",
}
_SCALAR_HINTS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    type(None): {"type": "null"},
}


def _service_function(route: Route) -> Any:
    from campaign_core_http._app import SERVICE_CLASSES  # the app imports this module

    service, method = route.call.split(".", 1)
    return getattr(SERVICE_CLASSES[service], method)


class _Schemas:
    """components/schemas, filled from json_schema with $defs hoisted."""

    def __init__(self, platforms: Iterable[str] | None) -> None:
        self.platforms = list(platforms) if platforms is not None else None
        self.schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}

    def ref(self, cls: type[Any]) -> dict[str, Any]:
        name = cls.__name__
        if name not in self.schemas:
            schema = _rewrite(json_schema(cls, platforms=self.platforms))
            schema.pop("$schema", None)
            schema.pop("title", None)
            defs = schema.pop("$defs", {})
            self.schemas[name] = schema
            for def_name, definition in defs.items():
                self.schemas.setdefault(def_name, definition)
        return {"$ref": _REF + name}

    def of(self, hint: Any) -> dict[str, Any]:
        """The schema of a value typed ``hint`` as ``to_json`` writes it."""
        if hint is typing.Any or hint is object:
            return {}
        if hint in _SCALAR_HINTS:
            return dict(_SCALAR_HINTS[hint])
        if isinstance(hint, type) and attrs.has(hint):
            return self.ref(hint)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (list, tuple, typing.Sequence) or hint in (list, tuple):
            return {"type": "array", "items": self.of(args[0]) if args else {}}
        if origin is dict or hint is dict:
            value = args[1] if len(args) == 2 else typing.Any
            inner = self.of(value)
            return {"type": "object", **({"additionalProperties": inner} if inner else {})}
        if origin in (typing.Union, types.UnionType):
            options = [self.of(a) for a in args]
            return {} if {} in options else {"anyOf": options}
        return {}


def _rewrite(node: Any) -> Any:
    """Refs into components/schemas; free-form objects say so (``additionalProperties: {}``).

    The two spellings mean the same to JSON Schema, but code generators read a bare
    ``{"type": "object"}`` as an object with no properties at all.
    """
    if isinstance(node, dict):
        out = {
            k: (v.replace("#/$defs/", _REF) if k == "$ref" and isinstance(v, str) else _rewrite(v))
            for k, v in node.items()
        }
        if out.get("type") == "object" and "properties" not in out:
            out.setdefault("additionalProperties", {})
        return out
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def _snake(name: str) -> str:
    return next(iter(kwargs_from_json({name: None})))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _hints(function: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except (NameError, TypeError):  # pragma: no cover - every service method resolves
        return {}


def _summary(function: Any) -> tuple[str, str]:
    doc = inspect.getdoc(function) or ""
    first, _, rest = doc.partition("\n")
    return first.strip(), rest.strip()


def _request_body(route: Route, function: Any, hints: dict[str, Any], schemas: _Schemas) -> Any:
    """The body: the method's keyword arguments, typed by their hints.

    A method that takes its fields as ``Any`` (it validates JSON-shaped input itself) gets the
    schema of the record field of the same name, when it answers with that record
    (``create_campaign(name=...)`` -> ``Campaign.name``). ``**unknown`` only collects the
    names it reports as unknown: such a body is closed. Another ``**fields`` is open, unless
    the route lists the record fields it takes (``Route.body_fields``).
    """
    path_names = {
        part[1:-1] for part in route.path.split("/") if part.startswith("{") and part.endswith("}")
    }
    record = _record_properties(hints, schemas)
    properties: dict[str, Any] = {}
    required: list[str] = []
    open_body = False
    for param in inspect.signature(function).parameters.values():
        if param.name == "self" or param.kind is param.POSITIONAL_ONLY:
            continue
        if param.kind is param.VAR_KEYWORD:
            open_body = param.name != "unknown"
            continue
        if param.kind is param.VAR_POSITIONAL:
            continue
        name = _camel(param.name)
        if name in path_names:
            continue
        typed = schemas.of(hints.get(param.name, typing.Any))
        if not typed and name in record and _plain(record[name], schemas):
            typed = dict(record[name])
        properties[name] = typed
        if param.default is param.empty:
            required.append(name)
    if open_body and route.body_fields:
        for field in route.body_fields:
            found = record.get(_camel(field), {})
            properties[_camel(field)] = dict(found) if _plain(found, schemas) else {}
        open_body = False
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = {} if open_body else False
    return {
        "required": bool(required),
        "content": {"application/json": {"schema": schema}},
    }


def _plain(schema: Any, schemas: _Schemas) -> bool:
    """Whether ``schema`` names no record: an answer's nested records are not what a body sends.

    Scalars, JSON objects and enums (``CampaignType``) read the same both ways; a list of
    ``ABTestVariant`` records (ids, counters) is not how a body gives its variants.
    """
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                target = schemas.schemas.get(ref.rsplit("/", 1)[-1], {})
                if "properties" in target:
                    return False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def _record_properties(hints: dict[str, Any], schemas: _Schemas) -> dict[str, Any]:
    """The properties of the record a method answers with (its fields' schemas), if it is one."""
    returns = hints.get("return")
    if not (isinstance(returns, type) and attrs.has(returns)):
        return {}
    schemas.ref(returns)
    properties = schemas.schemas[returns.__name__].get("properties", {})
    return dict(properties) if isinstance(properties, dict) else {}


def _success(route: Route, hints: dict[str, Any], schemas: _Schemas) -> dict[str, Any]:
    returns = hints.get("return", typing.Any)
    if route.download:
        return {
            "description": "the report: JSON, or a CSV or PDF download (`format`)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    if route.own_json:
        returns = dict[str, typing.Any]
    if returns is type(None):
        return {"description": "done; no body"}
    if returns is Page:
        item = schemas.ref(route.page_of) if route.page_of is not None else {}
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": item},
                "total": {"type": "integer"},
                "next": {
                    "type": ["string", "null"],
                    "description": "pass it back as `cursor` for the next page; null at the end",
                },
                "problems": {
                    "type": "array",
                    "description": "stored rows of this page that could not be read (left out of"
                    " `items`, counted in `total`)",
                    "items": {
                        "type": "object",
                        "properties": {
                            "table": {"type": "string"},
                            "id": {"type": "string"},
                            "field": {"type": "string"},
                            "reason": {"type": "string"},
                        },
                        "required": ["table", "id", "field", "reason"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["items", "total", "next"],
            "additionalProperties": False,
        }
    elif typing.get_origin(returns) in (list, tuple):
        properties: dict[str, Any] = {"items": schemas.of(returns)}
        if route.keyset is not None:
            properties["next"] = {
                "type": ["string", "null"],
                "description": f"pass it back as `{route.keyset}` for the next page",
            }
        schema = {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }
    elif route.wrap is not None:
        schema = {
            "type": "object",
            "properties": {route.wrap: schemas.of(returns)},
            "required": [route.wrap],
            "additionalProperties": False,
        }
    else:
        schema = schemas.of(returns)
    return {"description": "success", "content": {"application/json": {"schema": schema}}}


def _parameters(route: Route, function: Any) -> list[dict[str, Any]]:
    signature = inspect.signature(function).parameters
    out: list[dict[str, Any]] = []
    for part in route.path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            out.append(
                {"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            )
    for name, kind in route.query.items():
        schema: dict[str, Any] = (
            {"type": "array", "items": {"type": "string"}} if kind == "array" else {"type": kind}
        )
        snake = _snake(name)
        required = snake in signature and signature[snake].default is inspect.Parameter.empty
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": required,
            "schema": schema,
        }
        if kind == "array":
            param.update(style="form", explode=True)
        out.append(param)
    return out


def openapi_document(
    routes: Sequence[Route] | None = None,
    *,
    platforms: Iterable[str] | None = None,
    title: str = "campaign-core",
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP API.

    Every route's path and query parameters, request body (the service method's keyword
    arguments, camelCase), success response (the ``json_schema`` of what the method returns,
    records under ``components/schemas``) and every error response (its status,
    all with the ``Error`` body); the two actor schemes as security.

    Args:
        routes: the route table (``ROUTES`` by default).
        platforms: the platform names a ``Platform`` may take (``core.settings.platforms.names``).
        title: the document's title.

    Returns:
        The document, JSON-safe.
    """
    if routes is None:
        from campaign_core_http._routes import ROUTES

        routes = ROUTES
    schemas = _Schemas(platforms)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        function = _service_function(route)
        hints = _hints(function)
        summary, description = _summary(function)
        responses: dict[str, Any] = {str(route.status): _success(route, hints, schemas)}
        responses.update(
            {str(code): {"$ref": f"#/components/responses/E{code}"} for code in ERROR_STATUSES}
        )
        operation: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": summary,
            "tags": [route.tag] if route.tag else [],
            "parameters": _parameters(route, function),
            "responses": responses,
        }
        if description:
            operation["description"] = description
        if route.method in ("POST", "PUT", "PATCH"):
            operation["requestBody"] = _request_body(route, function, hints, schemas)
        if route.method == "POST":
            operation["parameters"].append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    "description": "replays the first response for the same key and body "
                    "(kept in the store for `settings.retention.idempotency_hours`)",
                }
            )
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document.",
            "security": [],
            "responses": {
                "200": {
                    "description": "the OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    error_responses: dict[str, Any] = {}
    for code, meaning in ERROR_STATUSES.items():
        response: dict[str, Any] = {
            "description": meaning,
            "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}},
        }
        if code in (409, 429, 503):
            response["headers"] = {
                "Retry-After": {"schema": {"type": "string"}, "description": "seconds"}
            }
        error_responses[f"E{code}"] = response
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": _rewrite(paths),
        "components": {
            "schemas": _rewrite(dict(sorted(schemas.schemas.items()))),
            "responses": error_responses,
            "securitySchemes": {
                "signedActor": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Actor-Signature",
                    "description": "HMAC-SHA256 over the method, path, body hash, actor "
                    "(X-Actor-Id, X-Actor-Role, X-Actor-Account), X-Actor-Timestamp and "
                    "X-Actor-Nonce; a signed write is served once",
                },
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"signedActor": []}, {"bearer": []}],
    }
