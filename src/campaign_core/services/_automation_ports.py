"""The services' implementations of the automation engine's ports.

The engine (a job, below the services) asks for campaigns, fan writes and segment
membership through the protocols of :mod:`campaign_core.jobs.automation`; these are
the services' answers, wired by ``CampaignCore`` (and by the automation service for
the engine it drives itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.audience import (
    registry_for,
    segment_criteria,
    segment_exclusions,
    stored_criteria,
)
from campaign_core.catalog import deep_merge
from campaign_core.errors import ProblemCollector
from campaign_core.jobs.automation import AutomationPorts
from campaign_core.jobs.segments import forget_segment_sizes
from campaign_core.models import MemberSource, SegmentMember, SegmentType
from campaign_core.permissions import Actor
from campaign_core.query import And, Eq
from campaign_core.services.campaigns import CampaignService
from campaign_core.services.fans import FanService

__all__ = ["automation_ports"]


class _FirstId:
    """An id factory that hands out a preset id for the first ``campaign`` it is asked for."""

    def __init__(self, preset: str, inner: Any) -> None:
        self._preset: str | None = preset
        self._inner = inner

    def new_id(self, kind: str = "") -> str:
        if kind == "campaign" and self._preset is not None:
            preset, self._preset = self._preset, None
            return preset
        return str(self._inner.new_id(kind))


@attrs.frozen
class _Campaigns:
    rt: Runtime

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
        merged: dict[str, Any] = dict(customization)
        if content:
            merged = deep_merge(merged, {"content": content})
        fixed = attrs.evolve(self.rt, ids=_FirstId(campaign_id, self.rt.ids))
        CampaignService(fixed, Actor(owner_id))._from_template(
            template, merged or None, {}, workflow_id=workflow_id
        )


@attrs.frozen
class _Fans:
    rt: Runtime

    def clean_fields(
        self, owner_id: str, fields: Mapping[str, Any], problems: ProblemCollector, prefix: str
    ) -> dict[str, Any]:
        return FanService(self.rt, Actor(owner_id)).clean_fields(fields, problems, prefix=prefix)

    def write(self, tx: Tx, owner_id: str, fan_id: str, clean: Mapping[str, Any]) -> None:
        service = FanService(self.rt, Actor(owner_id))
        updated = service._upsert(tx, fan_id, clean)
        if clean.get("opted_out"):
            service._on_opt_out(tx, updated)


@attrs.frozen
class _Segments:
    rt: Runtime

    def change(self, tx: Tx, segment_id: str, fan_id: str, *, adding: bool) -> None:
        rt = self.rt
        current = tx.uow.segments.get(segment_id)
        if current is None or current.type is SegmentType.DYNAMIC:
            return  # deleted or made dynamic since: nothing to join or leave
        members = tx.uow.segment_members.find(
            And(Eq("segment_id", segment_id), Eq("fan_id", fan_id)), limit=1
        )
        exclusions = segment_exclusions(current)
        if current.type is SegmentType.HYBRID and (fan_id in exclusions) == adding:
            # a hybrid segment pins fans added by hand and excludes fans removed by hand
            kept = set(exclusions) - {fan_id} if adding else {*exclusions, fan_id}
            current = attrs.evolve(
                current,
                criteria=stored_criteria(
                    segment_criteria(current, registry_for(rt.settings)), kept
                ),
                updated_at=rt.now(),
                version=current.version + 1,
            )
            tx.uow.segments.update(current)
        owner = current.user_id
        tx.after_commit.append(lambda: forget_segment_sizes(rt, owner))
        if adding and members and members[0].source is not MemberSource.MANUAL:
            tx.uow.segment_members.update(attrs.evolve(members[0], source=MemberSource.MANUAL))
        elif adding and not members:
            tx.uow.segment_members.add(
                SegmentMember(
                    id=rt.ids.new_id("member"),
                    segment_id=segment_id,
                    fan_id=fan_id,
                    added_at=rt.now(),
                    source=MemberSource.MANUAL,
                )
            )
            tx.uow.segments.increment(segment_id, {"member_count": 1})
            for hook in rt.segment_entered_hooks:
                hook(tx, current, [fan_id])
        elif not adding and members:
            tx.uow.segment_members.delete(members[0].id)
            tx.uow.segments.increment(segment_id, {"member_count": -1})
            for hook in rt.segment_exited_hooks:
                hook(tx, current, [fan_id])


def automation_ports(rt: Runtime) -> AutomationPorts:
    """The services' implementations of the engine's ports, over ``rt``.

    Args:
        rt: the core's runtime.

    Returns:
        What ``Engine(rt, ports)`` and ``install(rt, ports)`` take.
    """
    return AutomationPorts(campaigns=_Campaigns(rt), fans=_Fans(rt), segments=_Segments(rt))
