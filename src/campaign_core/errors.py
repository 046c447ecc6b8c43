"""The library's errors: one root, narrow subclasses, each with a stable code.

Every error a host can see derives from :class:`CampaignCoreError`. Each class
carries a stable machine-readable ``code`` and the ``http_status`` a web route
should answer with, so a route maps any error in one line::

    except CampaignCoreError as exc:
        return JSONResponse(exc.to_json(), status_code=exc.http_status)

Errors also subclass the built-in exception that fits (``NotFoundError`` is a
``LookupError``, ``ValidationError`` a ``ValueError``...) so code that already
catches those keeps working.

Paths in :class:`Problem` point into the input as the caller wrote it, in a
JSONPath-like dotted form: ``content.onlyfans.title``, ``variants[1].name``,
``actions[2].duration``. The empty string means "the input as a whole".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import attrs

__all__ = [
    "CampaignCoreError",
    "ConflictError",
    "CorruptRecordError",
    "InvalidTokenError",
    "InvalidTransitionError",
    "MissingDependencyError",
    "NotFoundError",
    "PermissionDeniedError",
    "Problem",
    "ProblemCollector",
    "RateLimitedError",
    "StoreUnavailableError",
    "ValidationError",
]


def join_path(base: str, part: str | int) -> str:
    """Extend a problem path by a key or an index.

    >>> join_path("", "actions")
    'actions'
    >>> join_path("actions", 2)
    'actions[2]'
    >>> join_path("actions[2]", "duration")
    'actions[2].duration'
    """
    if isinstance(part, int):
        return f"{base}[{part}]"
    return f"{base}.{part}" if base else part


@attrs.frozen
class Problem:
    """One thing wrong with an input.

    Attributes:
        path: where, in the input as given (``variants[1].name``; ``""`` for the whole).
        message: what is wrong, for a human.
        code: a stable machine-readable reason (``required``, ``unknown_field``,
            ``invalid_type``, ``invalid_value``, ``out_of_range``, ``not_finite``...).
    """

    path: str
    message: str
    code: str = "invalid_value"

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "code": self.code}


class CampaignCoreError(Exception):
    """Root of every error raised by campaign-core.

    Attributes:
        code: stable machine-readable error code (class-level).
        http_status: the HTTP status a route should answer with (class-level).
        message: the human-readable message.
        details: JSON-safe extra data describing the error.
    """

    code: ClassVar[str] = "campaign_core_error"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_json(self) -> dict[str, Any]:
        """The error as the JSON body a route returns."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class ValidationError(CampaignCoreError, ValueError):
    """The input is invalid; ``problems`` lists every problem with its path."""

    code = "validation_error"
    http_status = 422

    def __init__(self, problems: Iterable[Problem], *, message: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("ValidationError needs at least one problem")
        if message is None:
            message = self.summary(self.problems)
        super().__init__(message, details={"problems": [p.to_json() for p in self.problems]})

    @staticmethod
    def summary(problems: Sequence[Problem]) -> str:
        """The default message: the first five problems, ``path: message``, and how many more."""
        shown = "; ".join(f"{p.path or '<input>'}: {p.message}" for p in problems[:5])
        more = len(problems) - 5
        return shown + (f" (and {more} more)" if more > 0 else "")

    @classmethod
    def single(cls, path: str, message: str, code: str = "invalid_value") -> ValidationError:
        """A validation error with one problem."""
        return cls([Problem(path, message, code)])

    def prefixed(self, prefix: str) -> ValidationError:
        """The same problems, with every path placed under ``prefix``."""
        if not prefix:
            return self
        return ValidationError(
            [
                attrs.evolve(
                    p,
                    path=prefix
                    if not p.path
                    else (prefix + p.path if p.path.startswith("[") else f"{prefix}.{p.path}"),
                )
                for p in self.problems
            ]
        )


class ProblemCollector:
    """Collects problems while validating, then raises them all at once.

    Example::

        problems = ProblemCollector()
        if not name:
            problems.add("name", "must not be empty", "required")
        problems.raise_if_any()
    """

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str, code: str = "invalid_value") -> None:
        self.problems.append(Problem(path, message, code))

    def extend(self, error: ValidationError, prefix: str = "") -> None:
        self.problems.extend(error.prefixed(prefix).problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ValidationError(self.problems)


class NotFoundError(CampaignCoreError, LookupError):
    """The entity does not exist, or the actor may not know that it does."""

    code = "not_found"
    http_status = 404

    def __init__(self, entity: str, entity_id: str) -> None:
        self.entity = entity
        self.entity_id = entity_id
        super().__init__(
            f"{entity} {entity_id!r} not found", details={"entity": entity, "id": entity_id}
        )


class PermissionDeniedError(CampaignCoreError, PermissionError):
    """The actor's role does not allow this action."""

    code = "permission_denied"
    http_status = 403

    def __init__(
        self, message: str, *, role: str | None = None, permission: str | None = None
    ) -> None:
        self.role = role
        self.permission = permission
        details = {k: v for k, v in (("role", role), ("permission", permission)) if v is not None}
        super().__init__(message, details=details)


class InvalidTransitionError(CampaignCoreError):
    """A lifecycle action is not allowed from the entity's current status."""

    code = "invalid_transition"
    http_status = 409

    def __init__(self, current: str, action: str, *, entity: str = "campaign") -> None:
        self.current = current
        self.action = action
        self.entity = entity
        super().__init__(
            f"cannot {action} a {entity} that is {current}",
            details={"entity": entity, "current": current, "action": action},
        )


class InvalidTokenError(CampaignCoreError, ValueError):
    """A signed token (an unsubscribe link's) was tampered with, is malformed or has expired.

    ``reason`` says which: ``malformed``, ``bad_signature`` or ``expired``. The
    message never echoes the token.
    """

    code = "invalid_token"
    http_status = 400

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message, details={"reason": reason})


class ConflictError(CampaignCoreError):
    """The write conflicts with the stored state (stale version, duplicate key, clash)."""

    code = "conflict"
    http_status = 409


class CorruptRecordError(CampaignCoreError):
    """A stored row the library cannot decode (written by another client, or before a constraint).

    Raised when one record is read (``get``); a listing skips such rows and
    reports them instead (:attr:`~campaign_core.services.Page.problems`). The
    request was fine and the data is not, so a route answers 500; the
    ``details`` name the table, the row's id and the field, so an operator can
    repair the row.

    Attributes:
        table: the table (``campaigns``).
        record_id: the row's id.
        field: the record field that could not be decoded (``""`` if unknown).
        reason: what is wrong with it.
    """

    code = "corrupt_record"
    http_status = 500

    def __init__(self, table: str, record_id: str, field: str, reason: str) -> None:
        self.table = table
        self.record_id = record_id
        self.field = field
        self.reason = reason
        # set by a listing that skipped the row: its place in the result, its raw values
        self.position: int | None = None
        self.row: dict[str, Any] = {}
        where = f"{table} {record_id!r}" + (f" field {field!r}" if field else "")
        super().__init__(
            f"stored row {where} cannot be read: {reason}",
            details={"table": table, "id": record_id, "field": field, "reason": reason},
        )


class RateLimitedError(CampaignCoreError):
    """Too many calls; retry after ``retry_after`` seconds."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: float, limit: str | None = None) -> None:
        self.retry_after = retry_after
        self.limit = limit
        details: dict[str, Any] = {"retryAfter": retry_after}
        if limit:
            details["limit"] = limit
        super().__init__(message, details=details)


class MissingDependencyError(CampaignCoreError, ImportError):
    """An optional dependency is not installed; ``extra`` names what to install."""

    code = "missing_dependency"
    http_status = 500

    def __init__(self, extra: str, module: str) -> None:
        self.extra = extra
        self.module = module
        super().__init__(
            f"{module!r} is not installed; install it with: pip install 'campaign-core[{extra}]'",
            details={"extra": extra, "module": module},
        )


class StoreUnavailableError(CampaignCoreError, ConnectionError):
    """The store could not be reached or lost its connection; safe to retry later."""

    code = "store_unavailable"
    http_status = 503
