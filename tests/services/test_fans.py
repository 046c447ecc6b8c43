"""The fan service: upserts, traits, imports, events, scoping and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    NotFoundError,
    PermissionDeniedError,
    Settings,
    ValidationError,
)
from campaign_core.testing.helpers import snapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def core(local_store: Any, core_factory: Any) -> CampaignCore:
    return core_factory(
        local_store, settings=Settings(fan_traits={"favorite_game": "string", "tier": "number"})
    )


def paths(error: ValidationError) -> set[str]:
    return {p.path for p in error.problems}


def test_upsert_creates_then_updates(core: CampaignCore, owner: Actor) -> None:
    """upsert_fan creates a fan, then changes only the given fields; traits merge."""
    ws = core.for_actor(owner)
    fan = ws.fans.upsert_fan(
        "fan-1",
        platform="onlyfans",
        spending_level="high",
        engagement=55,
        lifetime_value=120.5,
        subscription_status="active",
        subscribed_at=T0 - timedelta(days=30),
        time_zone="Europe/Paris",
        traits={"favorite_game": "chess"},
    )
    assert (fan.fan_id, fan.owner_id, fan.spending_level, fan.engagement) == (
        "fan-1",
        "owner-1",
        "high",
        55.0,
    )
    again = ws.fans.upsert_fan("fan-1", engagement=60, traits={"tier": 2})
    assert again.id == fan.id
    assert (again.engagement, again.spending_level) == (60.0, "high")
    assert again.traits == {"favorite_game": "chess", "tier": 2.0}
    assert ws.fans.upsert_fan("fan-1", traits={"tier": None}).traits == {"favorite_game": "chess"}
    assert ws.fans.get_fan("fan-1").version == 3


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"spending_level": "whale"}, "spending_level"),
        ({"engagement": -1}, "engagement"),
        ({"engagement": float("nan")}, "engagement"),
        ({"lifetime_value": "100"}, "lifetime_value"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"subscribed_at": "2026-01-01"}, "subscribed_at"),
        ({"last_activity_at": datetime(2030, 1, 1, tzinfo=UTC)}, "last_activity_at"),
        ({"opted_out": "yes"}, "opted_out"),
        ({"traits": {"undeclared": 1}}, "traits.undeclared"),
        ({"traits": {"tier": "gold"}}, "traits.tier"),
        ({"email": "x@example.com"}, "email"),
    ],
)
def test_bad_fan_fields_are_rejected(
    core: CampaignCore, owner: Actor, fields: dict[str, Any], bad: str
) -> None:
    """Every bad field is a ValidationError with its path; nothing is stored."""
    ws = core.for_actor(owner)
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as info:
        ws.fans.upsert_fan("fan-1", **fields)
    assert bad in paths(info.value)
    assert snapshot(core.store) == before


@pytest.mark.parametrize("fan_id", ["", "a b", "x" * 300, 5, None, "'; DROP TABLE fans; --"])
def test_bad_fan_ids_are_rejected(core: CampaignCore, owner: Actor, fan_id: Any) -> None:
    """Fan ids are short strings of safe characters."""
    with pytest.raises(ValidationError):
        core.for_actor(owner).fans.upsert_fan(fan_id)


def test_fans_are_scoped_to_their_account(core: CampaignCore, owner: Actor) -> None:
    """The same person is a separate fan for each creator; other accounts cannot see them."""
    mine = core.for_actor(owner)
    theirs = core.for_actor(Actor("owner-2"))
    mine.fans.upsert_fan("fan-1", engagement=10)
    with pytest.raises(NotFoundError):
        theirs.fans.get_fan("fan-1")
    theirs.fans.upsert_fan("fan-1", engagement=99)
    assert mine.fans.get_fan("fan-1").engagement == 10.0
    viewer = core.for_actor(Actor("v", role="viewer", account_id="owner-1"))
    assert viewer.fans.get_fan("fan-1").engagement == 10.0
    with pytest.raises(PermissionDeniedError):
        viewer.fans.upsert_fan("fan-2")


def test_record_event_creates_fan_and_tracks_activity(
    core: CampaignCore, owner: Actor, clock: Any
) -> None:
    """Events create unknown fans and move last_activity_at forward, never back."""
    ws = core.for_actor(owner)
    event = ws.fans.record_event("fan-9", "fan.subscribed", properties={"plan": "monthly"})
    assert (event.name, event.occurred_at) == ("fan.subscribed", T0)
    assert ws.fans.get_fan("fan-9").last_activity_at == T0
    clock.advance("2 hours")
    ws.fans.record_event("fan-9", "purchase", value=9.99)
    ws.fans.record_event("fan-9", "message.opened", occurred_at=T0 - timedelta(days=3))
    assert ws.fans.get_fan("fan-9").last_activity_at == T0 + timedelta(hours=2)
    names = [e.name for e in ws.fans.list_events("fan-9")]
    assert names == ["purchase", "fan.subscribed", "message.opened"]
    assert [e.name for e in ws.fans.list_events("fan-9", name="purchase")] == ["purchase"]


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"name": "has space"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "ok", "value": float("inf")}, "value"),
        ({"name": "ok", "properties": [1]}, "properties"),
        ({"name": "ok", "occurred_at": datetime(2026, 2, 1, tzinfo=UTC)}, "occurred_at"),
    ],
)
def test_bad_events_are_rejected(
    core: CampaignCore, owner: Actor, kwargs: dict[str, Any], bad: str
) -> None:
    """Bad event names, values, properties or times are validation errors; nothing is stored."""
    ws = core.for_actor(owner)
    before = snapshot(core.store)
    kwargs = dict(kwargs)
    name = kwargs.pop("name")
    with pytest.raises(ValidationError) as info:
        ws.fans.record_event("fan-1", name, **kwargs)
    assert bad in paths(info.value)
    assert snapshot(core.store) == before


def test_import_fans_in_bulk(core: CampaignCore, owner: Actor) -> None:
    """import_fans creates new fans and updates existing ones; camelCase keys are accepted."""
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("f-0", engagement=1)
    rows = [{"fanId": f"f-{i}", "spendingLevel": "low", "engagement": i} for i in range(250)]
    report = ws.fans.import_fans(rows, batch_size=100)
    assert (report.created, report.updated, report.total) == (249, 1, 250)
    assert ws.fans.get_fan("f-0").engagement == 0.0
    assert len(ws.fans.list_fans(limit=200)) == 200
    assert len(ws.fans.list_fans(limit=200, offset=200)) == 50


def test_import_rejects_every_bad_row_and_writes_nothing(core: CampaignCore, owner: Actor) -> None:
    """One bad row rejects the whole import, with the row's index in the path."""
    ws = core.for_actor(owner)
    before = snapshot(core.store)
    rows: list[Any] = [
        {"fan_id": "a"},
        {"fan_id": "b", "engagement": -5},
        "oops",
        {"engagement": 1},
        {"fan_id": "a"},
    ]
    with pytest.raises(ValidationError) as info:
        ws.fans.import_fans(rows)
    assert paths(info.value) == {
        "rows[1].engagement",
        "rows[2]",
        "rows[3].fan_id",
        "rows[4].fan_id",
    }
    assert snapshot(core.store) == before


def test_import_streams_its_rows_and_still_writes_nothing_on_a_bad_row(
    core: CampaignCore, owner: Actor
) -> None:
    """Rows are read once, in batches written as they come; a bad row in a later batch, or a
    fan repeated across batches (an unchanged existing one too), leaves the store as it was."""
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("f-3", engagement=3)
    before = snapshot(core.store)
    read: list[int] = []

    def rows(bad_at: int | None, repeat: tuple[int, int] | None) -> Any:
        for i in range(25):
            read.append(i)
            fan_id = f"f-{repeat[0]}" if repeat and i == repeat[1] else f"f-{i}"
            yield {"fanId": fan_id, "engagement": -1 if i == bad_at else i}

    with pytest.raises(ValidationError) as info:
        ws.fans.import_fans(rows(bad_at=22, repeat=None), batch_size=10)
    assert paths(info.value) == {"rows[22].engagement"}
    assert snapshot(core.store) == before
    assert read == list(range(25))  # one pass over the stream
    with pytest.raises(ValidationError) as info:  # f-3 exists and is unchanged by row 3
        ws.fans.import_fans(rows(bad_at=None, repeat=(3, 17)), batch_size=10)
    assert paths(info.value) == {"rows[17].fan_id"}
    assert snapshot(core.store) == before
    report = ws.fans.import_fans(rows(bad_at=None, repeat=None), batch_size=10)
    assert (report.created, report.updated, report.total) == (24, 1, 25)


def test_settings_reject_bad_trait_declarations() -> None:
    """Trait declarations must use known types and not shadow built-in fields."""
    with pytest.raises(ValidationError) as info:
        Settings(fan_traits={"engagement": "number", "x y": "string", "ok": "color"})
    assert paths(info.value) == {"fan_traits.engagement", "fan_traits.x y", "fan_traits.ok"}


def test_export_fan_holds_everything_about_the_fan(core: CampaignCore, owner: Actor) -> None:
    """export_fan returns the fan, their events and conversions as JSON."""
    import json

    ws = core.for_actor(owner)
    ws.fans.upsert_fan("fan-1", engagement=3, traits={"favorite_game": "go"})
    ws.fans.record_event("fan-1", "purchase", value=5)
    data = ws.fans.export_fan("fan-1")
    json.dumps(data, allow_nan=False)
    assert data["fan"]["fanId"] == "fan-1"
    assert data["fan"]["traits"] == {"favorite_game": "go"}
    assert [e["name"] for e in data["events"]] == ["purchase"]
    editor = core.for_actor(Actor("e", role="editor", account_id="owner-1"))
    with pytest.raises(PermissionDeniedError):
        editor.fans.export_fan("fan-1")


def test_erase_fan_removes_identifiers_and_keeps_totals(core: CampaignCore, owner: Actor) -> None:
    """After erase_fan no row holds the fan's id or traits; conversions stay, anonymized."""
    from campaign_core.models import CampaignConversion, Segment, SegmentMember

    ws = core.for_actor(owner)
    ws.fans.upsert_fan("fan-1", traits={"favorite_game": "secret-game"})
    ws.fans.record_event("fan-1", "purchase", value=5)
    ws.fans.upsert_fan("fan-2")
    c = ws.campaigns.create_campaign(name="C", type="ppv")
    with core.store.unit_of_work() as uow:
        uow.segments.add(
            Segment(
                id="s1",
                user_id="owner-1",
                name="S",
                type="static",
                member_count=2,
                created_at=T0,
                updated_at=T0,
            )
        )
        uow.segment_members.add(
            SegmentMember(id="m1", segment_id="s1", fan_id="fan-1", added_at=T0)
        )
        uow.segment_members.add(
            SegmentMember(id="m2", segment_id="s1", fan_id="fan-2", added_at=T0)
        )
        uow.campaign_conversions.add(
            CampaignConversion(
                id="cv1",
                campaign_id=c.id,
                fan_id="fan-1",
                type="purchase",
                value=20.0,
                platform="onlyfans",
                converted_at=T0,
            )
        )
        uow.commit()
    counts = ws.fans.erase_fan("fan-1")
    assert counts["fans"] == 1
    assert counts["events"] == 1
    everything = json_dump(snapshot(core.store))
    assert "fan-1" not in everything
    assert "secret-game" not in everything
    with core.store.unit_of_work() as uow:
        assert uow.campaign_conversions.get("cv1").value == 20.0
        assert uow.segments.get("s1").member_count == 1
    with pytest.raises(NotFoundError):
        ws.fans.get_fan("fan-1")


def test_a_fan_known_only_from_tracking_can_be_exported_and_erased(
    core: CampaignCore, owner: Actor
) -> None:
    """Tracking takes fan ids without fan records; privacy requests still reach those rows."""
    ws = core.for_actor(owner)
    c = ws.campaigns.create_campaign(
        name="C", type="ppv", platforms=["reddit"], content={"title": "t"}
    )
    ws.campaigns.launch_campaign(c.id)
    ws.analytics.track_impression(c.id, "ghost-9")
    ws.analytics.track_click(c.id, "ghost-9")
    ws.analytics.track_conversion(c.id, "ghost-9", value=12.0)
    before = ws.analytics.get_campaign_metrics(c.id).totals
    exported = ws.fans.export_fan("ghost-9")
    assert exported["fan"] is None
    assert len(exported["trackingEvents"]) == 3
    assert len(exported["conversions"]) == 1
    counts = ws.fans.erase_fan("ghost-9")
    assert counts["fans"] == 0
    assert counts["tracking_events_anonymized"] == 3
    assert counts["conversions_anonymized"] == 1
    assert "ghost-9" not in json_dump(snapshot(core.store))
    after = ws.analytics.get_campaign_metrics(c.id).totals
    assert (after.impressions, after.clicks, after.conversions, after.revenue) == (
        before.impressions,
        before.clicks,
        before.conversions,
        before.revenue,
    )
    # nothing mentions them any more, and an id nobody ever used is not found either
    for fan_id in ("ghost-9", "never-seen"):
        unchanged = snapshot(core.store)
        with pytest.raises(NotFoundError):
            ws.fans.export_fan(fan_id)
        with pytest.raises(NotFoundError):
            ws.fans.erase_fan(fan_id)
        assert snapshot(core.store) == unchanged


def json_dump(data: Any) -> str:
    import json

    return json.dumps(data)
