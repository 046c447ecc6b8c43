"""The audit trail's record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

__all__ = ["AuditRecord"]


@attrs.frozen(kw_only=True)
class AuditRecord:
    """One change (table ``audit_records``).

    Attributes:
        account_id: whose data changed.
        actor_id / actor_role: who changed it (``system`` for the engine).
        action: the operation (``campaign.launch``, ``segment.update``...).
        entity / entity_id: what changed (a fan by pseudonym).
        before / after: the record's JSON before and after (None when created
            or deleted); fans and credentials are reduced to non-sensitive data.
        at: when, from the clock.
    """

    id: str
    account_id: str
    actor_id: str
    actor_role: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    at: datetime
