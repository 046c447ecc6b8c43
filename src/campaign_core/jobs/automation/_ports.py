"""What the engine's built-in actions need from the services, as small protocols.

The engine is a job: it sits below the services in the import layers and never
imports one. Three built-in actions do something a service owns (create a campaign
from a template, write a fan's fields, change a segment's members by hand); the
services implement these protocols (``campaign_core.services._automation_ports``)
and ``CampaignCore`` hands them to the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from campaign_core._runtime import Tx
from campaign_core.errors import ProblemCollector

__all__ = ["AutomationPorts", "CampaignFactory", "FanWriter", "SegmentMembership"]


class CampaignFactory(Protocol):
    """Creates the campaigns of ``create_campaign`` steps."""

    def create_from_template(
        self,
        *,
        owner_id: str,
        campaign_id: str,
        template: str,
        customization: Mapping[str, Any],
        content: Mapping[str, Any],
        workflow_id: str | None = None,
    ) -> None:
        """Create draft campaign ``campaign_id`` of ``owner_id`` from a template.

        Args:
            owner_id: the account the campaign belongs to.
            campaign_id: the id the campaign gets (stable per step visit, so a
                retried step finds what it made).
            template: a template id or a built-in template's key.
            customization: merged over the template (JSON, camelCase).
            content: merged over the customization's ``content`` (the step's
                discount and prices).
            workflow_id: the workflow whose step creates it: linked to the
                campaign in the same unit of work (the seed's
                ``Automation.campaigns``, table ``_AutomationToCampaign``).

        Raises:
            ValidationError: the customization does not make a valid campaign.
            NotFoundError: no such template.
            ConflictError: a campaign with this id exists already.
        """
        ...


class FanWriter(Protocol):
    """Validates and writes the fields of ``update_fan`` steps."""

    def clean_fields(
        self, owner_id: str, fields: Mapping[str, Any], problems: ProblemCollector, prefix: str
    ) -> dict[str, Any]:
        """The clean built-in fields and traits of ``fields``; problems are added, not raised."""
        ...

    def write(self, tx: Tx, owner_id: str, fan_id: str, clean: Mapping[str, Any]) -> None:
        """Write ``clean`` (from :meth:`clean_fields`) to the fan in ``tx``, opt-out hooks included."""
        ...


class SegmentMembership(Protocol):
    """Hand-made membership changes of ``add_to_segment`` and ``remove_from_segment`` steps."""

    def change(self, tx: Tx, segment_id: str, fan_id: str, *, adding: bool) -> None:
        """Add the fan to (or remove them from) a static or hybrid segment in ``tx``.

        A segment deleted or made dynamic since the step ran is left alone.
        """
        ...


@attrs.frozen
class AutomationPorts:
    """The services' side of the built-in actions (see the protocols above)."""

    campaigns: CampaignFactory
    fans: FanWriter
    segments: SegmentMembership
