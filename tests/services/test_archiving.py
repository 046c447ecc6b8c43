"""Archiving campaigns: from end states only, audited, out of listings and caches, still readable."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    FakeClock,
    InvalidTransitionError,
    PermissionDeniedError,
    ValidationError,
)
from campaign_core.lifecycle import ARCHIVABLE, check_archive, check_restore
from campaign_core.models import CampaignStatus
from campaign_core.testing import snapshot


def _new(ws: Any, name: str = "Spring sale") -> Any:
    return ws.campaigns.create_campaign(
        name=name,
        type="promotion",
        platforms=["instagram"],
        content={"title": "Spring", "description": "20% off"},
        media_urls=["https://cdn.example/spring.jpg"],
    )


def test_the_table_archives_end_states_only() -> None:
    """Only completed and cancelled campaigns archive; an archived one does not again."""
    assert {CampaignStatus.COMPLETED, CampaignStatus.CANCELLED} == ARCHIVABLE
    for status in CampaignStatus:
        if status in ARCHIVABLE:
            check_archive(status, archived=False)
        else:
            with pytest.raises(InvalidTransitionError) as info:
                check_archive(status, archived=False)
            assert info.value.details == {
                "entity": "campaign",
                "current": status.value,
                "action": "archive",
            }
    with pytest.raises(InvalidTransitionError, match="archived"):
        check_archive("completed", archived=True)
    with pytest.raises(InvalidTransitionError, match="restore"):
        check_restore("completed", archived=False)


def test_archive_and_restore_a_completed_campaign(
    core: CampaignCore, owner: Actor, clock: FakeClock
) -> None:
    """Archived: status kept, archived_at set, out of the default list, readable and
    reportable by id; restored: back in the list, as it was."""
    ws = core.for_actor(owner)
    c = _new(ws)
    other = _new(ws, "Other")
    ws.campaigns.launch_campaign(c.id)
    ws.analytics.track_impression(c.id, "fan-1", platform="instagram")
    ws.campaigns.complete_campaign(c.id)
    before = ws.analytics.get_campaign_metrics(c.id)
    clock.advance("1 hour")

    archived = ws.campaigns.archive_campaign(c.id)
    assert archived.status is CampaignStatus.COMPLETED
    assert archived.archived_at == clock.now()
    assert [x.id for x in ws.campaigns.list_campaigns().items] == [other.id]
    listed = ws.campaigns.list_campaigns(include_archived=True)
    assert {x.id for x in listed.items} == {c.id, other.id}
    assert ws.campaigns.list_campaigns(status="completed").total == 0
    assert ws.campaigns.get_campaign(c.id).archived_at == clock.now()
    assert ws.analytics.get_campaign_metrics(c.id).totals == before.totals
    assert before.totals.impressions == 1

    restored = ws.campaigns.restore_campaign(c.id)
    assert (restored.status, restored.archived_at) == (CampaignStatus.COMPLETED, None)
    assert ws.campaigns.list_campaigns().total == 2
    actions = [r.action for r in ws.audit.list_records(entity="campaign", entity_id=c.id)]
    assert actions[:2] == ["campaign.restore", "campaign.archive"]


@pytest.mark.parametrize("status", ["draft", "scheduled", "active", "paused"])
def test_archiving_a_campaign_that_is_not_ended_changes_nothing(
    core: CampaignCore, owner: Actor, status: str
) -> None:
    """The error names the current status; the store and the audit trail are unchanged."""
    ws = core.for_actor(owner)
    c = _new(ws)
    if status == "scheduled":
        ws.campaigns.schedule_campaign(c.id, core.clock.now().replace(year=2027))
    elif status in ("active", "paused"):
        ws.campaigns.launch_campaign(c.id)
        if status == "paused":
            ws.campaigns.pause_campaign(c.id)
    before = snapshot(core.store)
    with pytest.raises(InvalidTransitionError) as info:
        ws.campaigns.archive_campaign(c.id)
    assert (info.value.current, info.value.action) == (status, "archive")
    with pytest.raises(InvalidTransitionError) as restore:
        ws.campaigns.restore_campaign(c.id)
    assert restore.value.current == status
    assert snapshot(core.store) == before


def test_archiving_twice_says_it_is_archived(core: CampaignCore, owner: Actor) -> None:
    ws = core.for_actor(owner)
    c = _new(ws)
    ws.campaigns.cancel_campaign(c.id)
    ws.campaigns.archive_campaign(c.id)
    before = snapshot(core.store)
    with pytest.raises(InvalidTransitionError) as info:
        ws.campaigns.archive_campaign(c.id)
    assert info.value.current == "archived"
    assert snapshot(core.store) == before


def test_archiving_needs_the_lifecycle_permission(core: CampaignCore, owner: Actor) -> None:
    """Viewers may not archive or restore; editors (lifecycle) may."""
    ws = core.for_actor(owner)
    c = _new(ws)
    ws.campaigns.cancel_campaign(c.id)
    viewer = core.for_actor(Actor("viewer-1", role="viewer", account_id=owner.account_id))
    with pytest.raises(PermissionDeniedError):
        viewer.campaigns.archive_campaign(c.id)
    editor = core.for_actor(Actor("editor-1", role="editor", account_id=owner.account_id))
    editor.campaigns.archive_campaign(c.id)
    with pytest.raises(PermissionDeniedError):
        viewer.campaigns.restore_campaign(c.id)
    editor.campaigns.restore_campaign(c.id)


def test_archiving_drops_the_cached_metrics(core: CampaignCore, owner: Actor) -> None:
    """The campaign's cached counters leave the cache when it is archived."""
    ws = core.for_actor(owner)
    c = _new(ws)
    ws.campaigns.cancel_campaign(c.id)
    ws.analytics.get_campaign_metrics(c.id)
    cache = core.runtime.caches.campaign_metrics
    assert cache.get(("analytics", owner.account_id, c.id, "counts")) is not None
    ws.campaigns.archive_campaign(c.id)
    assert cache.get(("analytics", owner.account_id, c.id, "counts")) is None


def test_include_archived_must_be_a_bool(core: CampaignCore, owner: Actor) -> None:
    with pytest.raises(ValidationError) as info:
        core.for_actor(owner).campaigns.list_campaigns(include_archived="yes")
    assert [p.path for p in info.value.problems] == ["include_archived"]
