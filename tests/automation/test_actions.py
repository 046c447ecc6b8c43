"""Actions: waits until a time, fan updates, segments, events, exit, custom actions, quiet hours, caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_core import CampaignCore, FakeClock, ValidationError, Workspace
from campaign_core.automation import ActionContext, ActionFailed
from campaign_core.models import RunStatus, SegmentMember
from tests.automation.helpers import T0, CountingMessenger, add_segment, members


def _flow(*actions: dict[str, Any], **settings: Any) -> dict[str, Any]:
    flow: dict[str, Any] = {
        "name": "Flow",
        "trigger": {"type": "event", "event": "go"},
        "actions": list(actions),
    }
    if settings:
        flow["settings"] = settings
    return flow


def test_wait_until_a_time_of_day_in_the_fans_zone(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """wait until 09:00 waits for the next 09:00 on the fan's clock (Tokyo is UTC+9)."""
    ws.fans.upsert_fan("fan-1", time_zone="Asia/Tokyo")
    workflow = ws.automations.create_workflow(
        _flow({"type": "wait", "until": "09:00"}, {"type": "send_message", "template": "gm"}),
        activate=True,
    )
    ws.fans.record_event("fan-1", "go")  # 2026-01-01 00:00 UTC = 09:00 Tokyo: next is tomorrow
    [run] = ws.automations.list_runs(workflow.id)
    assert run.wake_at == datetime(2026, 1, 2, 0, 0, tzinfo=UTC)


def test_wait_until_an_instant(core: CampaignCore, ws: Workspace) -> None:
    """wait until an ISO-8601 instant."""
    workflow = ws.automations.create_workflow(
        _flow(
            {"type": "wait", "until": "2026-01-03T12:00:00+01:00"},
            {"type": "send_message", "template": "x"},
        ),
        activate=True,
    )
    ws.fans.record_event("fan-1", "go")
    [run] = ws.automations.list_runs(workflow.id)
    assert run.wake_at == datetime(2026, 1, 3, 11, 0, tzinfo=UTC)


def test_iso_durations_work_like_words(core: CampaignCore, ws: Workspace) -> None:
    """'PT5M' and '5 minutes' are the same wait."""
    workflow = ws.automations.create_workflow(
        _flow({"type": "wait", "duration": "PT5M"}, {"type": "send_message", "template": "x"}),
        activate=True,
    )
    ws.fans.record_event("fan-1", "go")
    [run] = ws.automations.list_runs(workflow.id)
    assert run.wake_at == T0 + timedelta(minutes=5)


def test_update_fan_and_remove_from_segment(
    core: CampaignCore, ws: Workspace, clock: FakeClock
) -> None:
    """update_fan changes fields in the run's transaction; remove_from_segment leaves a segment."""
    segment = add_segment(core.store, "owner-1", "trial")
    ws.fans.upsert_fan("fan-1")
    with core.store.unit_of_work() as uow:
        uow.segment_members.add(
            SegmentMember(id="m-1", segment_id=segment.id, fan_id="fan-1", added_at=T0)
        )
        uow.segments.increment(segment.id, {"member_count": 1})
        uow.commit()
    ws.automations.create_workflow(
        _flow(
            {"type": "update_fan", "fields": {"spending_level": "vip", "engagement": 90}},
            {"type": "remove_from_segment", "segment": "trial"},
            {"type": "exit", "reason": "done"},
        ),
        activate=True,
    )
    ws.fans.record_event("fan-1", "go")
    for _ in range(3):
        core.tick()
    fan = ws.fans.get_fan("fan-1")
    assert (fan.spending_level, fan.engagement) == ("vip", 90.0)
    assert members(core.store, segment.id) == set()
    with core.store.unit_of_work() as uow:
        stored = uow.segments.get(segment.id)
    assert stored is not None
    assert stored.member_count == 0


def test_update_fan_fields_are_validated_at_creation(ws: Workspace) -> None:
    """Unknown fan fields or bad values are rejected with their path; nothing is stored."""
    with pytest.raises(ValidationError) as info:
        ws.automations.create_workflow(
            _flow({"type": "update_fan", "fields": {"spending_level": "huge", "color": "red"}})
        )
    assert {p.path for p in info.value.problems} == {
        "actions[0].fields.spending_level",
        "actions[0].fields.color",
    }
    assert ws.automations.list_workflows().total == 0


def test_custom_action_receives_context_and_sets_variables(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A host-registered action gets the params and a stable idempotency key; its output is kept."""
    seen: list[ActionContext] = []

    def tag(ctx: ActionContext) -> dict[str, Any]:
        seen.append(ctx)
        return {"tagged": ctx.params["tag"]}

    def validate(params: Any, path: str, problems: Any) -> None:
        if not isinstance(params.get("tag"), str):
            problems.add(f"{path}.tag", "expected a string tag")

    core.automation_actions.register("tag_fan", tag, validate=validate)
    with pytest.raises(ValidationError) as info:
        ws.automations.create_workflow(_flow({"type": "tag_fan", "tag": 3}))
    assert info.value.problems[0].path == "actions[0].tag"
    workflow = ws.automations.create_workflow(
        _flow({"type": "tag_fan", "tag": "vip"}), activate=True
    )
    ws.fans.record_event("fan-1", "go")
    core.tick()
    [ctx] = seen
    [run] = ws.automations.list_runs(workflow.id)
    assert ctx.idempotency_key == f"{run.id}:step-1:0"
    assert ctx.params == {"tag": "vip"}
    assert run.variables["step-1"] == {"tagged": "vip"}


def test_unregistered_custom_action_is_an_unknown_type(ws: Workspace) -> None:
    """An action type nobody registered is rejected at creation with its path."""
    with pytest.raises(ValidationError) as info:
        ws.automations.create_workflow(_flow({"type": "launch_rocket"}))
    assert info.value.problems[0].path == "actions[0].type"
    assert info.value.problems[0].code == "unknown_action"


def test_custom_action_unregistered_after_activation_fails_the_step(
    core: CampaignCore, ws: Workspace
) -> None:
    """A run reaching an action whose handler is gone fails that step (no crash)."""
    core.automation_actions.register("temp", lambda ctx: None)
    workflow = ws.automations.create_workflow(_flow({"type": "temp"}), activate=True)
    core.automation_actions.unregister("temp")
    ws.fans.record_event("fan-1", "go")
    core.tick()
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.FAILED


def test_quiet_hours_defer_messages_in_the_fans_zone(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A message due at 23:00 local time waits until 08:00 local (not an attempt, not an error)."""
    ws.fans.upsert_fan("fan-ny", time_zone="America/New_York")  # UTC-5 in January
    clock.set(datetime(2026, 1, 2, 4, 0, tzinfo=UTC))  # 23:00 in New York
    workflow = ws.automations.create_workflow(
        _flow(
            {"type": "send_message", "template": "late"},
            quietHours={"start": "22:00", "end": "08:00"},
        ),
        activate=True,
    )
    ws.fans.record_event("fan-ny", "go")
    core.tick()
    assert messenger.templates() == []
    [run] = ws.automations.list_runs(workflow.id)
    assert run.wake_at == datetime(2026, 1, 2, 13, 0, tzinfo=UTC)  # 08:00 in New York
    assert run.attempts == 0
    clock.set(datetime(2026, 1, 2, 13, 0, tzinfo=UTC))
    core.tick()
    assert messenger.templates() == ["late"]


def test_frequency_cap_per_day_in_the_fans_zone(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """At most 1 message per local day: the second waits for the fan's midnight."""
    ws.fans.upsert_fan("fan-1", time_zone="Europe/Paris")  # UTC+1 in January
    ws.automations.create_workflow(
        _flow(
            {"type": "send_message", "template": "one"},
            {"type": "send_message", "template": "two"},
            frequencyCap={"max": 1, "per": "day"},
        ),
        activate=True,
    )
    clock.set(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    ws.fans.record_event("fan-1", "go")
    core.tick()
    core.tick()
    assert messenger.templates() == ["one"]
    clock.set(datetime(2026, 1, 1, 22, 59, tzinfo=UTC))  # 23:59 in Paris
    core.tick()
    assert messenger.templates() == ["one"]
    clock.set(datetime(2026, 1, 1, 23, 0, tzinfo=UTC))  # midnight in Paris
    core.tick()
    assert messenger.templates() == ["one", "two"]


def test_frequency_cap_counts_every_workflow_of_the_owner(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A rolling cap counts messages the fan got from the owner's other workflows too."""
    ws.automations.create_workflow(_flow({"type": "send_message", "template": "a"}), activate=True)
    other = {
        "name": "Other",
        "trigger": {"type": "event", "event": "go"},
        "actions": [{"type": "send_message", "template": "b"}],
        "settings": {"frequencyCap": {"max": 1, "per": "6 hours"}},
    }
    ws.automations.create_workflow(other, activate=True)
    ws.fans.record_event("fan-1", "go")
    core.tick()
    core.tick()
    assert messenger.templates() == ["a"]
    clock.advance("6 hours")
    core.tick()
    assert messenger.templates() == ["a", "b"]


def test_create_campaign_with_unknown_template_is_rejected(ws: Workspace) -> None:
    """Campaign templates must exist (built-in key or the owner's own)."""
    with pytest.raises(ValidationError) as info:
        ws.automations.create_workflow(_flow({"type": "create_campaign", "template": "nope"}))
    assert info.value.problems[0].path == "actions[0].template"
    assert info.value.problems[0].code == "unknown_template"


def test_execute_action_runs_one_action_now(
    core: CampaignCore, ws: Workspace, messenger: CountingMessenger
) -> None:
    """execute_action sends, checks and creates for one fan, outside any workflow."""
    ws.fans.upsert_fan("fan-1")
    sent = ws.automations.execute_action(
        {"type": "send_message", "template": "promo"},
        {"fanId": "fan-1", "idempotencyKey": "promo-fan-1"},
    )
    assert sent.status == "completed"
    assert messenger.calls["promo-fan-1:step-1:0"] == 1
    again = ws.automations.execute_action(
        {"type": "send_message", "template": "promo"},
        {"fanId": "fan-1", "idempotencyKey": "promo-fan-1"},
    )
    assert again.output["messageId"] == sent.output["messageId"]
    assert len(messenger.delivered) == 1
    check = ws.automations.execute_action(
        {"type": "check_engagement", "condition": "engagement < 1", "ifTrue": {"type": "exit"}},
        {"fanId": "fan-1", "since": "2025-12-01T00:00:00Z"},
    )
    assert (check.status, check.branch) == ("completed", "ifTrue")
    made = ws.automations.execute_action(
        {"type": "create_campaign", "template": "win_back_offer", "discount": 0.5},
        {"fanId": "fan-1"},
    )
    assert ws.campaigns.get_campaign(made.output["campaignId"]).content["price"] == 5.0
    with pytest.raises(ValidationError) as info:
        ws.automations.execute_action({"type": "wait", "duration": "soon"}, {"fanId": "fan-1"})
    assert info.value.problems[0].path == "action.duration"


def test_execute_action_never_messages_a_fan_who_may_not_get_it(
    core: CampaignCore, ws: Workspace, messenger: CountingMessenger, clock: FakeClock
) -> None:
    """An opted-out fan, a refused topic or a suppressed address: suppressed, nothing sent.

    Before the send policy, execute_action sent to a fan who had opted out.
    """
    from campaign_core.delivery._addresses import address_hash
    from campaign_core.models import FanConsent, Suppression

    send = {"type": "send_message", "template": "promo"}
    ws.fans.upsert_fan("gone", opted_out=True)
    result = ws.automations.execute_action(send, {"fanId": "gone"})
    assert (result.status, result.output["reason"]) == ("suppressed", "opted_out")
    ws.fans.upsert_fan("refuses")
    ws.fans.upsert_fan("bounced")
    now = clock.now()
    with core.store.unit_of_work() as uow:
        uow.fan_consents.add(
            FanConsent(
                id="c-1",
                owner_id="owner-1",
                fan_id="refuses",
                channel="dm",
                topic="updates",
                granted=False,
                source="api",
                created_at=now,
                updated_at=now,
            )
        )
        uow.suppressions.add(
            Suppression(
                id="s-1",
                owner_id="owner-1",
                channel="dm",
                address_hash=address_hash(core.settings.pseudonym_key, "dm", "bounced"),
                reason="manual",
                created_at=now,
            )
        )
        uow.commit()
    assert ws.automations.execute_action(send, {"fanId": "refuses"}).output["reason"] == (
        "no_consent"
    )
    assert ws.automations.execute_action(send, {"fanId": "bounced"}).output["reason"] == (
        "suppressed"
    )
    assert messenger.delivered == {}
    ws.fans.upsert_fan("fine")
    assert ws.automations.execute_action(send, {"fanId": "fine"}).status == "completed"
    assert len(messenger.delivered) == 1


def test_execute_action_reports_failures(core: CampaignCore, ws: Workspace) -> None:
    """A failing action gives status failed with the reason."""
    ws.fans.upsert_fan("fan-1")

    def boom(ctx: ActionContext) -> None:
        raise ActionFailed("upstream said no")

    core.automation_actions.register("boom", boom)
    result = ws.automations.execute_action({"type": "boom"}, {"fanId": "fan-1"})
    assert (result.status, result.error) == ("failed", "upstream said no")


def test_segment_steps_follow_the_segments_rules(
    core: CampaignCore, ws: Workspace, clock: FakeClock
) -> None:
    """Dynamic segments cannot be edited by a step; a hybrid one remembers hand removals."""
    ws.segments.create_segment(name="big spenders", criteria={"spendingLevel": "high"})
    with pytest.raises(ValidationError) as info:
        ws.automations.create_workflow(_flow({"type": "add_to_segment", "segment": "big spenders"}))
    assert info.value.problems[0].path == "actions[0].segment"
    ws.fans.upsert_fan("fan-1", spending_level="high")
    hybrid = ws.segments.create_segment(
        name="watch", type="hybrid", criteria={"spendingLevel": "high"}
    )
    assert hybrid.member_count == 1
    ws.automations.create_workflow(
        _flow({"type": "remove_from_segment", "segment": "watch"}), activate=True
    )
    ws.fans.record_event("fan-1", "go")
    core.tick()
    ws.segments.refresh_segment(hybrid.id)
    # excluded by hand: a refresh does not bring the fan back although the criteria match
    assert ws.segments.get_segment(hybrid.id).member_count == 0
