"""Who may do what: the actor, team roles and the permission matrix, in one place.

Every service call runs for an :class:`Actor` and checks one permission with
``require``. The account is the creator whose data is touched; a team
member acts on that account with a role.

The matrix::

    | permission | owner | admin | editor | viewer |
    |---|---|---|---|---|
    | ``read`` (campaigns, templates, tests, segments, workflows, analytics) | yes | yes | yes | yes |
    | ``write`` (create, update, duplicate, templates, tests, segments, workflows) | yes | yes | yes | - |
    | ``lifecycle`` (schedule, launch, pause, resume, complete, cancel, publish, apply winner, archive, restore) | yes | yes | yes | - |
    | ``delete`` (campaigns, templates, segments, workflows) | yes | yes | - | - |
    | ``spend`` (record spend) | yes | yes | - | - |
    | ``track`` (impressions, clicks, conversions, events) | yes | yes | yes | - |
    | ``fans`` (upsert, import, record events) | yes | yes | yes | - |
    | ``privacy`` (export and erase fans) | yes | yes | - | - |
    | ``credentials`` (platform API keys) | yes | - | - | - |
    | ``audit`` (read the audit trail) | yes | yes | - | - |
"""

from __future__ import annotations

from typing import Final

import attrs

from campaign_core.errors import PermissionDeniedError, ValidationError
from campaign_core.models import StrEnum

__all__ = [
    "PERMISSIONS",
    "Actor",
    "Permission",
    "Role",
    "can",
]


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"
    LIFECYCLE = "lifecycle"
    DELETE = "delete"
    SPEND = "spend"
    TRACK = "track"
    FANS = "fans"
    PRIVACY = "privacy"
    CREDENTIALS = "credentials"
    AUDIT = "audit"


P = Permission
PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.OWNER: frozenset(P),
    Role.ADMIN: frozenset(P) - {P.CREDENTIALS},
    Role.EDITOR: frozenset({P.READ, P.WRITE, P.LIFECYCLE, P.TRACK, P.FANS}),
    Role.VIEWER: frozenset({P.READ}),
}


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValidationError.single(
            "role", f"{value!r} is not one of: {', '.join(Role.values())}"
        ) from None


@attrs.frozen
class Actor:
    """Who is acting.

    Attributes:
        user_id: the person (the creator themself, or a team member).
        role: their role on the account.
        account_id: the creator account whose data they act on; defaults to
            ``user_id`` (a creator acting on their own account).
    """

    user_id: str
    role: Role = attrs.field(default=Role.OWNER, converter=_role)
    account_id: str = attrs.field()

    @account_id.default
    def _default_account(self) -> str:
        return self.user_id

    def __attrs_post_init__(self) -> None:
        for name in ("user_id", "account_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or len(value) > 191:
                raise ValidationError.single(
                    name, "must be a non-empty id of at most 191 characters"
                )
        if self.role is Role.OWNER and self.account_id != self.user_id:
            raise ValidationError.single("role", "only the account's creator is its owner")


def can(actor: Actor, permission: Permission) -> bool:
    """Whether ``actor``'s role grants ``permission``."""
    return permission in PERMISSIONS[actor.role]


def require(actor: Actor, permission: Permission) -> None:
    """Raise unless ``actor`` may do ``permission``.

    Raises:
        PermissionDeniedError: the role lacks the permission.
    """
    if not can(actor, permission):
        raise PermissionDeniedError(
            f"role {actor.role.value!r} may not {permission.value}",
            role=actor.role.value,
            permission=permission.value,
        )
