"""The campaign lifecycle: one transition table, enforced in one place.

The transitions::

    | from \\ action | schedule | launch | pause | resume | complete | cancel | unschedule |
    |---|---|---|---|---|---|---|---|
    | draft | scheduled | active | - | - | - | cancelled | - |
    | scheduled | scheduled (reschedule) | active | - | - | - | cancelled | draft |
    | active | - | - | paused | - | completed | cancelled | - |
    | paused | - | - | - | active | completed | cancelled | - |
    | completed, cancelled | terminal | | | | | | |

Editing rules (what :meth:`update_campaign` may change in each status):

- draft, scheduled, paused: everything editable;
- active: only ``name``, ``description``, ``budget`` and ``goals`` (what is
  published stays what was launched; pause to change content or targeting);
- completed, cancelled: nothing (terminal).

Deleting is allowed in draft, completed and cancelled only: a scheduled,
active or paused campaign must be cancelled (or completed) first, so nothing
running disappears under a worker.
"""

from __future__ import annotations

from typing import Final

from campaign_core.errors import InvalidTransitionError
from campaign_core.models import CampaignStatus

__all__ = [
    "TRANSITIONS",
    "allowed_actions",
    "next_status",
]

S = CampaignStatus

TRANSITIONS: Final[dict[tuple[CampaignStatus, str], CampaignStatus]] = {
    (S.DRAFT, "schedule"): S.SCHEDULED,
    (S.SCHEDULED, "schedule"): S.SCHEDULED,
    (S.DRAFT, "launch"): S.ACTIVE,
    (S.SCHEDULED, "launch"): S.ACTIVE,
    (S.ACTIVE, "pause"): S.PAUSED,
    (S.PAUSED, "resume"): S.ACTIVE,
    (S.ACTIVE, "complete"): S.COMPLETED,
    (S.PAUSED, "complete"): S.COMPLETED,
    (S.DRAFT, "cancel"): S.CANCELLED,
    (S.SCHEDULED, "cancel"): S.CANCELLED,
    (S.ACTIVE, "cancel"): S.CANCELLED,
    (S.PAUSED, "cancel"): S.CANCELLED,
    (S.SCHEDULED, "unschedule"): S.DRAFT,
}

ACTIONS: Final = ("schedule", "launch", "pause", "resume", "complete", "cancel", "unschedule")
TERMINAL: Final = frozenset({S.COMPLETED, S.CANCELLED})
EDITABLE: Final = frozenset({S.DRAFT, S.SCHEDULED, S.PAUSED})
ACTIVE_ONLY_EDITABLE: Final = frozenset({"name", "description", "budget", "goals"})
DELETABLE: Final = frozenset({S.DRAFT, S.COMPLETED, S.CANCELLED})


def next_status(current: CampaignStatus | str, action: str) -> CampaignStatus:
    """The status after ``action``, or raise.

    Raises:
        InvalidTransitionError: the table has no such move.
    """
    status = CampaignStatus(current)
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidTransitionError(status.value, action) from None


def allowed_actions(current: CampaignStatus | str) -> tuple[str, ...]:
    """The actions the table allows from ``current`` (for UIs)."""
    status = CampaignStatus(current)
    return tuple(a for a in ACTIONS if (status, a) in TRANSITIONS)
