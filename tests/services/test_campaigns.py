"""The campaign service: CRUD, validation, lifecycle, templates, budget, scheduling, publishing."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    ConflictError,
    FakeClock,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    SequentialIds,
    Settings,
    ValidationError,
)
from campaign_core.alerts import AlertKind
from campaign_core.publishing import PublishFailure, PublishRequest, PublishSuccess
from campaign_core.testing.helpers import snapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def paths(error: ValidationError) -> set[str]:
    return {p.path for p in error.problems}


def new(ws: Any, **kw: Any) -> Any:
    fields: dict[str, Any] = {
        "name": "Spring sale",
        "type": "promotion",
        "platforms": ["instagram", "tiktok"],
        "content": {"title": "Spring", "description": "20% off"},
        "media_urls": ["https://cdn.example/spring.jpg"],
    }
    fields.update(kw)
    return ws.campaigns.create_campaign(**fields)


# -- create / read / update / delete -------------------------------------------------------
def test_targeted_segments_must_be_the_accounts_own(core: CampaignCore, owner: Actor) -> None:
    """A made-up or another account's segment id is not found at its path; nothing is written."""
    ws = core.for_actor(owner)
    mine = ws.segments.create_segment(name="Mine", criteria={"engagement": {">": 1}})
    theirs = core.for_actor(Actor("other")).segments.create_segment(
        name="Theirs", criteria={"engagement": {">": 1}}
    )
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as info:
        new(ws, segment_ids=[mine.id, theirs.id, "seg-made-up"])
    assert [(p.path, p.code) for p in info.value.problems] == [
        ("segment_ids[1]", "not_found"),
        ("segment_ids[2]", "not_found"),
    ]
    assert snapshot(core.store) == before
    c = new(ws, segment_ids=[mine.id])
    with pytest.raises(ValidationError) as update:
        ws.campaigns.update_campaign(c.id, segment_ids=[theirs.id])
    assert update.value.problems[0].path == "segment_ids[0]"
    assert ws.campaigns.get_campaign(c.id).segment_ids == (mine.id,)


def test_create_and_get_round_trip(core: CampaignCore, owner: Actor) -> None:
    """A created campaign is a draft with every given field, readable by id."""
    ws = core.for_actor(owner)
    c = new(
        ws,
        budget=100,
        goals={"conversions": 10},
        segment_ids=[ws.segments.create_segment(name="Fans", criteria={"engagement": {">": 1}}).id],
        media_urls=["https://cdn.example/a.jpg"],
        description="desc",
    )
    assert c.status == "draft"
    assert c.user_id == "owner-1"
    assert c.budget == 100.0
    assert c.created_at == T0
    assert ws.campaigns.get_campaign(c.id) == c


@pytest.mark.parametrize(
    ("fields", "bad_path"),
    [
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"type": "spam"}, "type"),
        ({"type": None}, "type"),
        ({"platforms": ["myspace"]}, "platforms[0]"),
        ({"platforms": ["tiktok", "tiktok"]}, "platforms[1]"),
        ({"platforms": "tiktok"}, "platforms"),
        ({"budget": float("nan")}, "budget"),
        ({"budget": float("inf")}, "budget"),
        ({"budget": -1}, "budget"),
        ({"budget": 1e13}, "budget"),
        ({"budget": True}, "budget"),
        ({"budget": "10"}, "budget"),
        ({"goals": {"revenue": float("nan")}}, "goals.revenue"),
        ({"goals": []}, "goals"),
        ({"content": {"title": 3}}, "content.title"),
        ({"content": {"price": -5}}, "content.price"),
        ({"content": {"a": float("inf")}}, "content.a"),
        ({"content": {"platforms": {"myspace": {}}}}, "content.platforms.myspace"),
        ({"content": {"platforms": {"reddit": {"title": "x"}}}}, "content.platforms.reddit"),
        ({"media_urls": ["javascript:alert(1)"]}, "media_urls[0]"),
        ({"segment_ids": ["bad id; drop table"]}, "segment_ids[0]"),
        ({"scheduled_for": datetime(2025, 1, 1, tzinfo=UTC)}, "scheduled_for"),
        ({"scheduled_for": datetime(2027, 1, 1)}, "scheduled_for"),  # noqa: DTZ001 - naive on purpose
        ({"scheduled_for": "tomorrow"}, "scheduled_for"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_rejected_with_its_path_and_stores_nothing(
    core: CampaignCore, owner: Actor, fields: dict[str, Any], bad_path: str
) -> None:
    """Every bad field gives a ValidationError naming it, and nothing is written."""
    ws = core.for_actor(owner)
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as info:
        new(ws, **fields)
    assert bad_path in paths(info.value)
    assert info.value.http_status == 422
    assert snapshot(core.store) == before


def test_all_problems_are_reported_at_once(core: CampaignCore, owner: Actor) -> None:
    """One call with several bad fields reports every one of them."""
    with pytest.raises(ValidationError) as info:
        core.for_actor(owner).campaigns.create_campaign(name="", type="x", budget=-2, extra=1)
    assert paths(info.value) == {"name", "type", "budget", "extra"}


def test_update_applies_changes_and_bumps_versions(
    core: CampaignCore, owner: Actor, clock: FakeClock
) -> None:
    """update_campaign changes the given fields, the row version and (for content) the content version."""
    ws = core.for_actor(owner)
    c = new(ws)
    clock.advance("1 hour")
    u = ws.campaigns.update_campaign(c.id, name="Renamed", content={"title": "New"})
    assert (u.name, u.content, u.version, u.content_version) == ("Renamed", {"title": "New"}, 2, 2)
    assert u.updated_at == T0 + timedelta(hours=1)
    assert ws.campaigns.update_campaign(c.id, budget=5).content_version == 2


def test_update_rejects_status_schedule_and_unknown_fields(
    core: CampaignCore, owner: Actor
) -> None:
    """Status and schedule change only through lifecycle calls; unknown fields are errors."""
    ws = core.for_actor(owner)
    c = new(ws)
    with pytest.raises(ValidationError) as info:
        ws.campaigns.update_campaign(c.id, status="active", scheduled_for=T0, spent=0, name=None)
    assert paths(info.value) == {"status", "scheduled_for", "spent", "name"}
    assert ws.campaigns.get_campaign(c.id) == c


def test_active_campaign_allows_only_metadata_edits(core: CampaignCore, owner: Actor) -> None:
    """While active, content and targeting are frozen; name, budget and goals may change."""
    ws = core.for_actor(owner)
    c = new(ws)
    ws.campaigns.launch_campaign(c.id)
    with pytest.raises(ValidationError) as info:
        ws.campaigns.update_campaign(c.id, content={"title": "x"}, platforms=["reddit"])
    assert paths(info.value) == {"content", "platforms"}
    assert ws.campaigns.update_campaign(c.id, name="Still running").name == "Still running"


def test_terminal_campaigns_cannot_be_edited(core: CampaignCore, owner: Actor) -> None:
    """Editing a cancelled campaign is an invalid transition."""
    ws = core.for_actor(owner)
    c = new(ws)
    ws.campaigns.cancel_campaign(c.id)
    with pytest.raises(InvalidTransitionError):
        ws.campaigns.update_campaign(c.id, name="x")


def test_delete_only_in_draft_completed_or_cancelled(core: CampaignCore, owner: Actor) -> None:
    """Deleting a running campaign is refused; a draft deletes."""
    ws = core.for_actor(owner)
    running = new(ws)
    ws.campaigns.launch_campaign(running.id)
    with pytest.raises(InvalidTransitionError):
        ws.campaigns.delete_campaign(running.id)
    draft = new(ws)
    ws.campaigns.delete_campaign(draft.id)
    with pytest.raises(NotFoundError):
        ws.campaigns.get_campaign(draft.id)


# -- accounts and roles ---------------------------------------------------------------------
def test_other_accounts_campaigns_behave_as_missing(core: CampaignCore, owner: Actor) -> None:
    """Another account's campaign is not found, for reads and writes alike, and stays unchanged."""
    mine = new(core.for_actor(owner))
    other = core.for_actor(Actor("owner-2"))
    before = snapshot(core.store)
    for call in (
        lambda: other.campaigns.get_campaign(mine.id),
        lambda: other.campaigns.update_campaign(mine.id, name="hijack"),
        lambda: other.campaigns.launch_campaign(mine.id),
        lambda: other.campaigns.delete_campaign(mine.id),
        lambda: other.campaigns.record_spend(mine.id, 5),
        lambda: other.campaigns.duplicate_campaign(mine.id),
        lambda: other.campaigns.save_as_template(mine.id, "steal"),
    ):
        with pytest.raises(NotFoundError):
            call()
    assert other.campaigns.list_campaigns().total == 0
    assert snapshot(core.store) == before


def test_roles_limit_what_members_may_do(core: CampaignCore, owner: Actor) -> None:
    """A viewer reads but cannot write; an editor writes but cannot delete or spend."""
    c = new(core.for_actor(owner))
    viewer = core.for_actor(Actor("v", role="viewer", account_id="owner-1"))
    editor = core.for_actor(Actor("e", role="editor", account_id="owner-1"))
    assert viewer.campaigns.get_campaign(c.id) == c
    before = snapshot(core.store)
    with pytest.raises(PermissionDeniedError):
        viewer.campaigns.update_campaign(c.id, name="x")
    with pytest.raises(PermissionDeniedError):
        editor.campaigns.delete_campaign(c.id)
    with pytest.raises(PermissionDeniedError):
        editor.campaigns.record_spend(c.id, 1)
    assert snapshot(core.store) == before
    assert editor.campaigns.update_campaign(c.id, name="by editor").name == "by editor"


# -- listing ----------------------------------------------------------------------------------
def test_list_filters_and_stable_pagination(
    core: CampaignCore, owner: Actor, clock: FakeClock
) -> None:
    """Filters combine; keyset pages cover every match exactly once even as rows are added."""
    ws = core.for_actor(owner)
    made = []
    for i in range(7):
        clock.advance("1 minute")
        made.append(
            new(
                ws,
                name=f"Camp {i}",
                type="ppv" if i % 2 else "promotion",
                platforms=["reddit"] if i < 3 else ["tiktok"],
            )
        )
    assert ws.campaigns.list_campaigns(type="ppv").total == 3
    assert ws.campaigns.list_campaigns(platform=["reddit"]).total == 3
    assert ws.campaigns.list_campaigns(search="camp 6").total == 1
    assert ws.campaigns.list_campaigns(created_from=made[5].created_at).total == 2
    seen: list[str] = []
    page = ws.campaigns.list_campaigns(limit=3)
    assert page.total == 7
    seen.extend(c.id for c in page.items)
    new(ws, name="added meanwhile")  # newer than every page: must not shift later pages
    while page.next_cursor:
        page = ws.campaigns.list_campaigns(limit=3, cursor=page.next_cursor)
        seen.extend(c.id for c in page.items)
    assert seen == [c.id for c in reversed(made)]
    ascending = ws.campaigns.list_campaigns(order_by="name", descending=False, limit=100)
    assert [c.name for c in ascending.items] == sorted(c.name for c in ascending.items)


def test_list_rejects_bad_arguments(core: CampaignCore, owner: Actor) -> None:
    """Bad filters, sizes and cursors are validation errors."""
    ws = core.for_actor(owner)
    with pytest.raises(ValidationError) as info:
        ws.campaigns.list_campaigns(
            status="nope", limit=0, order_by="spent", cursor="garbage!", foo=1
        )
    assert paths(info.value) == {"status[0]", "limit", "order_by", "cursor", "foo"}


# -- lifecycle ----------------------------------------------------------------------------------
def test_schedule_then_tick_launches_and_publishes(
    core: CampaignCore, owner: Actor, clock: FakeClock
) -> None:
    """A scheduled campaign goes active at the first tick past its time, publishing to each platform."""
    ws = core.for_actor(owner)
    c = new(ws)
    at = T0 + timedelta(days=2)
    assert ws.campaigns.schedule_campaign(c.id, at).status == "scheduled"
    assert core.tick().campaigns_launched == ()
    clock.advance("2 days")
    report = core.tick()
    assert report.campaigns_launched == (c.id,)
    assert report.publish_attempts == 2
    live = ws.campaigns.get_campaign(c.id)
    assert (live.status, live.started_at) == ("active", at)
    assert {r.platform: r.status for r in ws.campaigns.get_publish_status(c.id)} == {
        "instagram": "published",
        "tiktok": "published",
    }
    assert core.tick().did_work is False


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "pause"),
        ([], "resume"),
        ([], "complete"),
        (["launch"], "launch"),
        (["launch"], "resume"),
        (["cancel"], "launch"),
        (["cancel"], "cancel"),
        (["launch", "complete"], "pause"),
    ],
)
def test_impossible_transitions_raise_and_change_nothing(
    core: CampaignCore, owner: Actor, setup: list[str], action: str
) -> None:
    """Moves outside the transition table raise InvalidTransitionError (409) and write nothing."""
    ws = core.for_actor(owner)
    c = new(ws)
    for step in setup:
        getattr(ws.campaigns, f"{step}_campaign")(c.id)
    before = snapshot(core.store)
    with pytest.raises(InvalidTransitionError) as info:
        getattr(ws.campaigns, f"{action}_campaign")(c.id)
    assert info.value.http_status == 409
    assert info.value.action == action
    assert snapshot(core.store) == before


def test_launch_needs_platforms_and_content(core: CampaignCore, owner: Actor) -> None:
    """A campaign with nothing to publish cannot launch."""
    ws = core.for_actor(owner)
    c = ws.campaigns.create_campaign(name="Empty", type="ppv")
    with pytest.raises(ValidationError) as info:
        ws.campaigns.launch_campaign(c.id)
    assert paths(info.value) == {"platforms", "content"}
    assert ws.campaigns.get_campaign(c.id).status == "draft"


def test_scheduling_conflicts_alert_or_raise(
    core_factory: Any, local_store: Any, owner: Actor
) -> None:
    """Campaigns close together on a shared platform are reported; strict mode refuses."""
    core = core_factory(local_store)
    ws = core.for_actor(owner)
    a = new(ws, platforms=["tiktok"])
    b = new(ws, platforms=["tiktok", "reddit"])
    ws.campaigns.schedule_campaign(a.id, T0 + timedelta(days=1))
    conflicts = ws.campaigns.find_schedule_conflicts(b.id, T0 + timedelta(days=1, hours=3))
    assert [x.campaign_id for x in conflicts] == [a.id]
    ws.campaigns.schedule_campaign(b.id, T0 + timedelta(days=1, hours=3))
    alerts = core.alerter.of_kind(AlertKind.SCHEDULE_CONFLICT)
    assert len(alerts) == 1
    assert alerts[0].data == {"conflicts": [a.id]}
    strict = core_factory(
        local_store, settings=Settings(strict_scheduling=True), ids=SequentialIds("strict")
    )
    c = new(strict.for_actor(owner), platforms=["tiktok"])
    with pytest.raises(ConflictError):
        strict.for_actor(owner).campaigns.schedule_campaign(c.id, T0 + timedelta(days=1, hours=1))
    assert strict.for_actor(owner).campaigns.get_campaign(c.id).status == "draft"


def test_stale_concurrent_update_conflicts(core: CampaignCore, owner: Actor) -> None:
    """Two writers from the same version: the second gets ConflictError and nothing is lost."""
    import attrs

    ws = core.for_actor(owner)
    c = new(ws)
    ws.campaigns.update_campaign(c.id, name="first")
    with pytest.raises(ConflictError), core.store.unit_of_work() as uow:
        uow.campaigns.update(attrs.evolve(c, name="stale", version=c.version + 1))
    assert ws.campaigns.get_campaign(c.id).name == "first"


# -- budget ---------------------------------------------------------------------------------
def test_reaching_the_budget_pauses_and_alerts(core: CampaignCore, owner: Actor) -> None:
    """Spend that reaches the budget pauses the campaign and alerts; resume needs more budget."""
    ws = core.for_actor(owner)
    c = new(ws, budget=100)
    ws.campaigns.launch_campaign(c.id)
    assert ws.campaigns.record_spend(c.id, 60).status == "active"
    paused = ws.campaigns.record_spend(c.id, 40)
    assert (paused.status, paused.paused_reason, paused.spent) == (
        "paused",
        "budget_exhausted",
        100.0,
    )
    assert len(core.alerter.of_kind(AlertKind.BUDGET_EXHAUSTED)) == 1
    with pytest.raises(ConflictError):
        ws.campaigns.resume_campaign(c.id)
    ws.campaigns.update_campaign(c.id, budget=150)
    assert ws.campaigns.resume_campaign(c.id).status == "active"


@pytest.mark.parametrize("amount", [0, -1, float("nan"), float("inf"), "5", None, True, 1e13])
def test_bad_spend_amounts_are_rejected(core: CampaignCore, owner: Actor, amount: Any) -> None:
    """Spend must be a finite positive number."""
    ws = core.for_actor(owner)
    c = new(ws)
    ws.campaigns.launch_campaign(c.id)
    with pytest.raises(ValidationError):
        ws.campaigns.record_spend(c.id, amount)
    assert ws.campaigns.get_campaign(c.id).spent == 0


# -- templates and duplication -----------------------------------------------------------------
def test_builtin_catalog_has_the_seed_niches(core: CampaignCore, owner: Actor) -> None:
    """The seed's fitness, gaming and adult templates ship built in, plus a general set."""
    ws = core.for_actor(owner)
    names = {t.niche.value: set() for t in ws.campaigns.get_templates()}
    for t in ws.campaigns.get_templates():
        names[t.niche.value].add(t.name)
    assert names["fitness"] == {"30-Day Workout Challenge", "Meal Plan Bundle"}
    assert names["gaming"] == {"Exclusive Stream Access", "Game Tutorial Series"}
    assert names["adult"] == {"VIP Subscription Tier", "Custom Content Offer"}
    assert "Win-Back Offer" in names["general"]
    assert all(t.niche == "gaming" for t in ws.campaigns.get_templates(niche="gaming"))
    with pytest.raises(ValidationError):
        ws.campaigns.get_templates(niche="cooking")


def test_create_from_template_deep_merges_and_counts_usage(
    core: CampaignCore, owner: Actor
) -> None:
    """Customization deep-merges into the template's content and settings; usageCount grows."""
    ws = core.for_actor(owner)
    c = ws.campaigns.create_from_template(
        "tpl_fitness_30_day_workout_challenge",
        {"name": "My challenge", "content": {"price": 39.99}, "goals": {"revenue": 3000}},
    )
    assert c.name == "My challenge"
    assert c.content["price"] == 39.99
    assert c.content["title"] == "Transform Your Body in 30 Days! 💪"
    assert c.goals == {"conversions": 50, "revenue": 3000}
    assert c.template_id == "tpl_fitness_30_day_workout_challenge"
    assert [p.value for p in c.platforms] == ["onlyfans", "instagram", "tiktok"]
    again = ws.campaigns.create_from_template("win_back_offer", budget=50)
    assert again.budget == 50.0
    usage = {t.id: t.usage_count for t in ws.campaigns.get_templates()}
    assert usage["tpl_fitness_30_day_workout_challenge"] == 1
    assert usage["tpl_general_win_back_offer"] == 1


def test_bad_template_customization_changes_nothing(core: CampaignCore, owner: Actor) -> None:
    """A bad customization is rejected with its path; the usage count does not move."""
    ws = core.for_actor(owner)
    ws.campaigns.get_templates()
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as info:
        ws.campaigns.create_from_template("win_back_offer", {"bogus": 1, "budget": math.nan})
    assert paths(info.value) >= {"customization.bogus"}
    with pytest.raises(ValidationError):
        ws.campaigns.create_from_template("win_back_offer", {"budget": -3})
    with pytest.raises(NotFoundError):
        ws.campaigns.create_from_template("tpl_missing")
    assert snapshot(core.store) == before


def test_saved_templates_are_private_to_their_owner(core: CampaignCore, owner: Actor) -> None:
    """save_as_template makes a template only its account sees and can delete."""
    ws = core.for_actor(owner)
    c = new(ws, budget=10)
    t = ws.campaigns.save_as_template(c.id, "My recipe", niche="fashion")
    assert t.owner_id == "owner-1"
    assert t.default_settings["budget"] == 10
    assert t.id in {x.id for x in ws.campaigns.get_templates()}
    other = core.for_actor(Actor("owner-2"))
    assert t.id not in {x.id for x in other.campaigns.get_templates()}
    with pytest.raises(NotFoundError):
        other.campaigns.create_from_template(t.id)
    copy = ws.campaigns.create_from_template(t.id, {"name": "From mine"})
    assert copy.content == c.content
    with pytest.raises(PermissionDeniedError):
        ws.campaigns.delete_template("tpl_general_flash_sale")
    ws.campaigns.delete_template(t.id)


def test_duplicate_copies_content_not_state(core: CampaignCore, owner: Actor) -> None:
    """A duplicate is a new draft with the same content and settings, no spend, no status."""
    ws = core.for_actor(owner)
    c = new(ws, budget=100, goals={"revenue": 10})
    ws.campaigns.launch_campaign(c.id)
    ws.campaigns.record_spend(c.id, 30)
    d = ws.campaigns.duplicate_campaign(c.id, {"name": "Again"})
    assert d.id != c.id
    assert (d.status, d.spent, d.started_at, d.name) == ("draft", 0.0, None, "Again")
    assert (d.content, d.platforms, d.budget, d.goals) == (
        c.content,
        c.platforms,
        c.budget,
        c.goals,
    )
    assert ws.campaigns.duplicate_campaign(c.id).name == "Spring sale (copy)"


# -- publishing ---------------------------------------------------------------------------------
class FlakyPublisher:
    """Fails the first ``failures`` calls per platform, then succeeds; dedupes by key."""

    def __init__(self, failures: int, retryable: bool = True) -> None:
        self.failures = failures
        self.retryable = retryable
        self.calls: list[PublishRequest] = []
        self.published: dict[str, PublishSuccess] = {}

    def publish(self, request: PublishRequest) -> PublishSuccess | PublishFailure:
        self.calls.append(request)
        if request.idempotency_key in self.published:
            return self.published[request.idempotency_key]
        tries = sum(1 for c in self.calls if c.platform == request.platform)
        if tries <= self.failures:
            return PublishFailure(reason="platform timeout", retryable=self.retryable)
        self.published[request.idempotency_key] = PublishSuccess(
            external_id=f"x-{request.platform}"
        )
        return self.published[request.idempotency_key]


def test_retryable_publish_failures_back_off_in_tick(
    core_factory: Any, local_store: Any, owner: Actor, clock: FakeClock
) -> None:
    """A retryable failure is retried by tick() after a backoff, then published."""
    publisher = FlakyPublisher(failures=2)
    core = core_factory(local_store, publisher=publisher)
    ws = core.for_actor(owner)
    c = new(ws, platforms=["reddit"])
    result = ws.campaigns.launch_campaign(c.id)
    assert result.platforms[0].status == "retrying"
    assert result.ok is False
    first_wait = result.platforms[0].next_attempt_at - T0
    assert timedelta(0) < first_wait <= timedelta(seconds=30)  # full jitter over the 30 s base
    assert core.tick().publish_attempts == 0  # not due yet
    clock.advance(first_wait)
    core.tick()
    status = ws.campaigns.get_publish_status(c.id)[0]
    assert (status.status, status.attempts) == ("retrying", 2)
    clock.advance("2 minutes")
    core.tick()
    status = ws.campaigns.get_publish_status(c.id)[0]
    assert (status.status, status.attempts, status.external_id) == ("published", 3, "x-reddit")


def test_permanent_publish_failure_fails_at_once_and_alerts(
    core_factory: Any, local_store: Any, owner: Actor
) -> None:
    """A non-retryable failure marks the platform failed and alerts the owner."""
    core = core_factory(local_store, publisher=FlakyPublisher(failures=99, retryable=False))
    ws = core.for_actor(owner)
    c = new(ws, platforms=["instagram"])
    result = ws.campaigns.launch_campaign(c.id)
    assert [(p.platform, p.status, p.attempts) for p in result.platforms] == [
        ("instagram", "failed", 1)
    ]
    assert len(core.alerter.of_kind(AlertKind.PUBLISH_FAILED)) == 1


def test_publish_to_platforms_never_publishes_twice(core: CampaignCore, owner: Actor) -> None:
    """Publishing an already-published platform for the same content does not call it again."""
    ws = core.for_actor(owner)
    c = new(ws)
    ws.campaigns.launch_campaign(c.id)
    calls = len(core.publisher.requests)  # type: ignore[attr-defined]
    again = ws.campaigns.publish_to_platforms(c.id, ["tiktok"])
    assert [(r.platform, r.status) for r in again] == [("tiktok", "published")]
    assert len(core.publisher.requests) == calls  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        ws.campaigns.publish_to_platforms(c.id, ["reddit"])


# -- metrics ---------------------------------------------------------------------------------
def test_campaign_calls_emit_the_seed_metrics(
    core_factory: Any, local_store: Any, owner: Actor
) -> None:
    """Creating, launching, publishing and spending emit CloudWatch points with owner-safe dimensions."""
    from campaign_core.metrics import InMemoryMetrics

    sink = InMemoryMetrics()
    core = core_factory(local_store, metrics=sink)
    ws = core.for_actor(owner)
    c = new(ws, budget=200)
    sink.assert_emitted(
        "CampaignsCreated", value=1, unit="Count", dimensions={"CampaignType": "promotion"}
    )
    ws.campaigns.launch_campaign(c.id)
    sink.assert_emitted("CampaignsLaunched", value=1, unit="Count")
    assert sink.total("PublishAttempts") >= 2
    ws.campaigns.record_spend(c.id, 50)
    sink.assert_emitted("BudgetUtilization", value=25.0, unit="Percent")
    for point in sink.points():
        assert "owner-1" not in point.dimensions.values()


def test_refused_launches_count_as_failed_attempts(
    core_factory: Any, local_store: Any, owner: Actor
) -> None:
    """A launch refused before going active emits a launch attempt and a failure (failure-rate alarm)."""
    from campaign_core.metrics import InMemoryMetrics

    sink = InMemoryMetrics()
    core = core_factory(local_store, metrics=sink)
    ws = core.for_actor(owner)
    c = ws.campaigns.create_campaign(name="Empty", type="ppv")
    with pytest.raises(ValidationError):
        ws.campaigns.launch_campaign(c.id)
    sink.assert_emitted("CampaignLaunchFailures", value=1, unit="Count")
    sink.assert_emitted("CampaignLaunchAttempts", value=1, unit="Count")


def test_tick_now_runs_the_tick_at_that_instant_with_a_real_clock(
    local_store: Any, owner: Actor
) -> None:
    """tick(now=...) with the system clock launches what is due at ``now``, not at the wall time."""
    from campaign_core import SystemClock

    core = CampaignCore(local_store, clock=SystemClock(), ids=SequentialIds("real"))
    ws = core.for_actor(owner)
    soon = (SystemClock().now() + timedelta(days=30)).replace(microsecond=0)
    c = new(ws, scheduled_for=soon)
    assert core.tick().campaigns_launched == ()
    report = core.tick(now=soon + timedelta(minutes=1))
    assert report.campaigns_launched == (c.id,)
    assert ws.campaigns.get_campaign(c.id).started_at == soon + timedelta(minutes=1)


def test_durable_retries_follow_the_policy_in_tick(
    core_factory: Any, local_store: Any, owner: Actor, clock: FakeClock
) -> None:
    """Scripted platform failures: retry_after honoured, backoff in tick(), then failed and alerted."""
    from campaign_core.publishing import RateLimit, RetryPolicy, ScriptedPublisher, Timeout

    publisher = ScriptedPublisher(
        {"reddit": [RateLimit(retry_after=600), Timeout(), Timeout()]}, then=Timeout()
    )
    policy = RetryPolicy(max_attempts=3, base="30 seconds", jitter="none")
    core = core_factory(local_store, publisher=publisher, settings=Settings(publish_retry=policy))
    ws = core.for_actor(owner)
    c = new(ws, platforms=["reddit"])
    first = ws.campaigns.launch_campaign(c.id).platforms[0]
    assert (first.status, first.attempts) == ("retrying", 1)
    assert first.next_attempt_at == T0 + timedelta(seconds=600)  # the platform's retry-after wins
    clock.advance("599 seconds")
    assert core.tick().publish_attempts == 0
    clock.advance("1 second")
    assert core.tick().publish_attempts == 1
    second = ws.campaigns.get_publish_status(c.id)[0]
    assert (second.status, second.attempts) == ("retrying", 2)
    assert second.next_attempt_at == clock.now() + timedelta(seconds=60)  # 30 s x 2
    clock.advance("60 seconds")
    core.tick()
    final = ws.campaigns.get_publish_status(c.id)[0]
    assert (final.status, final.attempts) == ("failed", 3)
    assert len(core.alerter.of_kind(AlertKind.PUBLISH_FAILED)) == 1
    assert publisher.attempts(final_key(core, c.id)) == 3


def final_key(core: CampaignCore, campaign_id: str) -> str:
    with core.store.unit_of_work() as uow:
        return uow.publish_jobs.find()[0].idempotency_key
