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

Archiving (:func:`check_archive`, :func:`check_restore`): a completed or
cancelled campaign may be archived; it keeps its status (so restoring it
returns it exactly as it was) and gets ``archived_at``. An archived campaign
leaves the default listings and the caches, and stays readable by id,
reportable and exportable. Restoring clears ``archived_at``.

The workflow table (the seed's ``active``, ``paused`` and ``archived``)::

    | from \\ action | activate | deactivate | archive | restore |
    |---|---|---|---|---|
    | active | - | paused | - | - |
    | paused | active | - | archived | - |
    | archived | - | - | - | paused |

A workflow is archived from paused only (its end state: no new entries); an
active one is deactivated first. Restoring returns it to paused.
"""

from __future__ import annotations

from typing import Final

from campaign_core.errors import InvalidTransitionError
from campaign_core.models import AutomationStatus, CampaignStatus

__all__ = [
    "TRANSITIONS",
    "WORKFLOW_TRANSITIONS",
    "allowed_actions",
    "check_archive",
    "check_restore",
    "next_status",
    "next_workflow_status",
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
#: The campaign statuses archiving accepts (the end states).
ARCHIVABLE: Final = TERMINAL

W = AutomationStatus

WORKFLOW_TRANSITIONS: Final[dict[tuple[AutomationStatus, str], AutomationStatus]] = {
    (W.PAUSED, "activate"): W.ACTIVE,
    (W.ACTIVE, "deactivate"): W.PAUSED,
    (W.PAUSED, "archive"): W.ARCHIVED,
    (W.ARCHIVED, "restore"): W.PAUSED,
}


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


def check_archive(current: CampaignStatus | str, archived: bool) -> None:
    """Raise unless a campaign in ``current`` (``archived`` or not) may be archived.

    Raises:
        InvalidTransitionError: already archived, or not in an end state
            (``current`` in the error is ``archived`` for an archived one).
    """
    status = CampaignStatus(current)
    if archived:
        raise InvalidTransitionError("archived", "archive")
    if status not in ARCHIVABLE:
        raise InvalidTransitionError(status.value, "archive")


def check_restore(current: CampaignStatus | str, archived: bool) -> None:
    """Raise unless the campaign is archived (restoring keeps its status).

    Raises:
        InvalidTransitionError: the campaign is not archived.
    """
    if not archived:
        raise InvalidTransitionError(CampaignStatus(current).value, "restore")


def next_workflow_status(current: AutomationStatus | str, action: str) -> AutomationStatus:
    """The workflow status after ``action``, or raise.

    Raises:
        InvalidTransitionError: the workflow table has no such move.
    """
    status = AutomationStatus(current)
    try:
        return WORKFLOW_TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidTransitionError(status.value, action, entity="automation") from None
