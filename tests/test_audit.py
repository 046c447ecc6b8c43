"""The audit trail: every change has its record in the same transaction, without secrets or fan PII."""

from __future__ import annotations

import itertools
import json
from typing import Any

import attrs
import pytest

from campaign_core import Actor, CampaignCore, NotFoundError, PermissionDeniedError, ValidationError
from campaign_core.audit import AuditingUnitOfWork
from campaign_core.entities import ENTITIES
from campaign_core.testing.helpers import (
    T0,
    make_campaign,
    snapshot,
)
from campaign_core_memory import InMemoryStore


def test_every_campaign_change_is_audited(core: CampaignCore, owner: Actor) -> None:
    """Create, update and launch each write an audit record with actor, action and before/after."""
    ws = core.for_actor(owner)
    c = ws.campaigns.create_campaign(
        name="A",
        type="ppv",
        platforms=["reddit"],
        content={"title": "t"},
        media_urls=["https://c.example/a.jpg"],
    )
    ws.campaigns.update_campaign(c.id, name="B")
    ws.campaigns.launch_campaign(c.id)
    records = ws.audit.list_records(entity="campaign", entity_id=c.id)
    assert [r.action for r in reversed(records)] == [
        "campaign.create",
        "campaign.update",
        "campaign.launch",
    ]
    create, update, launch = reversed(records)
    assert create.before is None
    assert create.after["name"] == "A"
    assert (update.before["name"], update.after["name"]) == ("A", "B")
    assert (launch.before["status"], launch.after["status"]) == ("draft", "active")
    assert all(r.actor_id == "owner-1" and r.actor_role == "owner" for r in records)


def test_failed_calls_leave_no_audit_record(core: CampaignCore, owner: Actor) -> None:
    """A call that raises leaves neither its change nor an audit record."""
    ws = core.for_actor(owner)
    before = snapshot(core.store)
    with pytest.raises(ValidationError):
        ws.campaigns.create_campaign(name="", type="ppv")
    assert snapshot(core.store) == before


def test_fans_appear_by_pseudonym_only(core: CampaignCore, owner: Actor) -> None:
    """Fan changes are audited with a pseudonym and the changed field names, never values or ids."""
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("fan-secret-id", engagement=5, time_zone="Europe/Paris")
    ws.fans.upsert_fan("fan-secret-id", engagement=6)
    records = ws.audit.list_records(fan_id="fan-secret-id")
    assert len(records) == 2
    blob = json.dumps([r.before for r in records] + [r.after for r in records])
    assert "fan-secret-id" not in blob
    assert "Europe/Paris" not in blob
    assert records[0].after["changedFields"] == ["engagement"]
    ws.fans.erase_fan("fan-secret-id")
    assert ws.audit.list_records(fan_id="fan-secret-id") == []
    assert [r.action for r in ws.audit.list_records(entity="fan")] == ["fan.erase"]


def test_audit_needs_permission_and_is_scoped(core: CampaignCore, owner: Actor) -> None:
    """Editors cannot read the trail; another account sees none of this one's records."""
    ws = core.for_actor(owner)
    ws.campaigns.create_campaign(name="A", type="ppv")
    with pytest.raises(PermissionDeniedError):
        core.for_actor(Actor("e", role="editor", account_id="owner-1")).audit.list_records()
    assert core.for_actor(Actor("owner-2")).audit.list_records() == []
    admin = core.for_actor(Actor("a", role="admin", account_id="owner-1"))
    assert [r.action for r in admin.audit.list_records()] == ["campaign.create"]


def test_engine_changes_are_audited_as_system(core: CampaignCore, owner: Actor, clock: Any) -> None:
    """tick() launching a scheduled campaign is audited with the system actor."""
    from datetime import timedelta

    ws = core.for_actor(owner)
    c = ws.campaigns.create_campaign(
        name="A",
        type="ppv",
        platforms=["reddit"],
        content={"title": "t"},
        scheduled_for=clock.now() + timedelta(hours=1),
    )
    clock.advance("2 hours")
    core.tick()
    last = ws.audit.list_records(entity="campaign", entity_id=c.id)[0]
    assert (last.actor_id, last.after["status"]) == ("system", "active")
    assert last.action == "tick.scheduled_launch"  # the engine's work is named, not "write"


def test_spend_and_manual_memberships_are_audited(core: CampaignCore, owner: Actor) -> None:
    """record_spend and adding or removing a fan by hand leave audit records (fans by pseudonym)."""
    ws = core.for_actor(owner)
    c = ws.campaigns.create_campaign(
        name="A", type="ppv", platforms=["reddit"], content={"title": "t"}, budget=100
    )
    ws.campaigns.launch_campaign(c.id)
    ws.campaigns.record_spend(c.id, 10)
    spend = ws.audit.list_records(entity="campaign", entity_id=c.id)[0]
    assert (spend.action, spend.before["spent"], spend.after["spent"]) == (
        "campaign.record_spend",
        0.0,
        10.0,
    )
    ws.fans.upsert_fan("fan-z")
    segment = ws.segments.create_segment(name="S", type="static")
    ws.segments.add_fan_to_segment("fan-z", segment.id)
    ws.segments.remove_fan_from_segment("fan-z", segment.id)
    actions = [r.action for r in ws.audit.list_records(entity="segment", entity_id=segment.id)]
    assert actions == ["segment.remove_fan", "segment.add_fan", "segment.create"]
    assert "fan-z" not in json.dumps([r.after for r in ws.audit.list_records(entity="segment")])


def test_batch_updates_are_audited_with_what_was_written() -> None:
    """update_many through the auditing unit of work audits each record: stored before, written after."""
    store = InMemoryStore()
    counter = itertools.count()
    records = [make_campaign(id=f"c{i}", name=f"n{i}", spent=1.0) for i in range(2)]
    with store.unit_of_work() as inner:
        inner.campaigns.add_many(records)
        uow = AuditingUnitOfWork(
            inner,
            ids=lambda: f"audit-{next(counter)}",
            now=lambda: T0,
            key=b"k",
            repositories=tuple(ENTITIES),
        )
        changed = [attrs.evolve(r, name="renamed", spent=9.0, version=2) for r in records]
        uow.campaigns.update_many(changed, fields=["name"])
        uow.commit()
    with store.unit_of_work() as check:
        audits = sorted(check.audit_records.find(), key=lambda a: a.entity_id)
    assert [(a.entity_id, a.before["name"], a.after["name"]) for a in audits] == [
        ("c0", "n0", "renamed"),
        ("c1", "n1", "renamed"),
    ]
    # "spent" was not written, so the audit says it did not change
    assert all(a.before["spent"] == a.after["spent"] == 1.0 for a in audits)


def test_audit_pages_with_before_cover_everything_once(
    core: CampaignCore, owner: Actor, clock: Any
) -> None:
    """Paging with ``before`` visits every record once, newest first, ties broken by id."""
    ws = core.for_actor(owner)
    c = ws.campaigns.create_campaign(name="A", type="ppv", platforms=["reddit"])
    for i in range(7):
        if i % 3 == 0:
            clock.advance("1 minute")  # some records share their instant, some do not
        ws.campaigns.update_campaign(c.id, name=f"A{i}")
    everything = ws.audit.list_records(limit=1000)
    assert len(everything) == 8
    pages = [ws.audit.list_records(limit=3)]
    while pages[-1]:
        pages.append(ws.audit.list_records(limit=3, before=pages[-1][-1].id))
    assert [len(p) for p in pages] == [3, 3, 2, 0]
    assert [r for page in pages for r in page] == everything
    with pytest.raises(NotFoundError):
        core.for_actor(Actor("owner-2")).audit.list_records(before=everything[0].id)
    with pytest.raises(ValidationError) as bad:
        ws.audit.list_records(before=42)
    assert [p.path for p in bad.value.problems] == ["before"]


def test_pseudonym_is_the_keyed_sha256_hmac() -> None:
    """A pseudonym is ``p_`` and the first 24 hex digits of HMAC-SHA256(key, value)."""
    import hashlib
    import hmac

    from campaign_core.audit import pseudonymize

    for value in ("acct:fan-1", "acct:fän-2", ""):
        expected = "p_" + hmac.new(b"k" * 32, value.encode(), hashlib.sha256).hexdigest()[:24]
        assert pseudonymize(value, b"k" * 32) == expected
