"""ws.messages: an account's message templates, built-in overrides, audit, permissions, previews."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

pytest.importorskip("liquid")

from campaign_core import (
    Actor,
    CampaignCore,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    Settings,
    ValidationError,
)
from campaign_core.permissions import Role

WELCOME_FR = {
    "en": {"text": "Hey {{ fan.first_name | default: 'you' }}! Your tier: {{ fan.tier }}"},
    "fr": {"text": "Salut {{ fan.first_name | default: 'toi' }} ! Niveau : {{ fan.tier }}"},
}


@pytest.fixture
def ws(local_store: Any, core_factory: Any) -> Any:
    core: CampaignCore = core_factory(local_store, settings=Settings(fan_traits={"tier": "number"}))
    return core.for_actor(Actor("acct-1"))


def test_builtins_are_listed_and_overridden_by_name(ws: Any) -> None:
    """An account sees the built-ins; saving one's name overrides it, deleting brings it back."""
    names = [t.name for t in ws.messages.list()]
    assert "welcome_message" in names
    assert ws.messages.get_by_name("welcome_message").owner_id is None
    own = ws.messages.create("welcome_message", "dm", WELCOME_FR, topic="updates")
    assert (own.owner_id, own.version, own.default_locale) == ("acct-1", 1, "en")
    assert ws.messages.get_by_name("welcome_message") == own
    listed = [t for t in ws.messages.list() if t.name == "welcome_message"]
    assert listed == [own]
    ws.messages.delete(own.id)
    assert ws.messages.get_by_name("welcome_message").owner_id is None
    assert ws.messages.get("builtin:welcome_message").is_builtin


def test_create_validates_and_changes_nothing_on_error(ws: Any) -> None:
    """A typo, an unknown topic and a missing default locale: every problem, nothing stored."""
    with pytest.raises(ValidationError) as info:
        ws.messages.create("promo", "dm", {"fr": {"text": "{{ fan.frist_name }}"}}, topic="spam")
    paths = {(p.path, p.code) for p in info.value.problems}
    assert paths == {
        ("topic", "invalid_value"),
        ("parts.fr.text", "unknown_variable"),
        ("default_locale", "required"),
    }
    assert [t for t in ws.messages.list() if t.owner_id] == []


def test_duplicate_name_is_a_conflict(ws: Any) -> None:
    """Names are unique within an account."""
    ws.messages.create("promo", "dm", {"en": {"text": "hi"}})
    with pytest.raises(ConflictError):
        ws.messages.create("promo", "dm", {"en": {"text": "hello"}})


def test_update_bumps_version_and_checks_expected_version(ws: Any) -> None:
    """An update is validated again, bumps the version, and refuses a stale expected version."""
    created = ws.messages.create("promo", "dm", {"en": {"text": "hi"}})
    updated = ws.messages.update(created.id, parts=WELCOME_FR, expected_version=1)
    assert (updated.version, updated.locales) == (2, ("en", "fr"))
    assert ws.messages.get(created.id) == updated
    with pytest.raises(ConflictError):
        ws.messages.update(created.id, description="late", expected_version=1)
    with pytest.raises(ValidationError):
        ws.messages.update(created.id, default_locale="de")
    with pytest.raises(PermissionDeniedError):
        ws.messages.update("builtin:welcome_message", description="mine")


def test_other_accounts_cannot_see_or_touch(local_store: Any, core_factory: Any) -> None:
    """Another account's template behaves like a missing one; viewers cannot write."""
    core = core_factory(local_store)
    mine = core.for_actor(Actor("acct-1")).messages.create("promo", "dm", {"en": {"text": "hi"}})
    other = core.for_actor(Actor("acct-2"))
    with pytest.raises(NotFoundError):
        other.messages.get(mine.id)
    with pytest.raises(NotFoundError):
        other.messages.delete(mine.id)
    assert [t.name for t in other.messages.list() if t.owner_id] == []
    viewer = core.for_actor(Actor("v1", role=Role.VIEWER, account_id="acct-1"))
    assert viewer.messages.get(mine.id) == mine
    with pytest.raises(PermissionDeniedError):
        viewer.messages.create("x", "dm", {"en": {"text": "hi"}})


def test_writes_are_audited(ws: Any) -> None:
    """Create, update and delete each leave an audit record under their action."""
    created = ws.messages.create("promo", "dm", {"en": {"text": "hi"}})
    ws.messages.update(created.id, description="spring")
    ws.messages.delete(created.id)
    actions = [r.action for r in ws.audit.list_records(entity_id=created.id)]
    assert sorted(actions) == [
        "message_template.create",
        "message_template.delete",
        "message_template.update",
    ]


def test_render_preview_for_a_stored_fan_and_a_sample(ws: Any) -> None:
    """A preview renders for a stored fan (its locale and traits) or a sample fan with warnings."""
    ws.messages.create("welcome_message", "dm", WELCOME_FR)
    ws.fans.upsert_fan("host-9", traits={"tier": 3})
    stored = ws.messages.render_preview("welcome_message", fan_id="host-9", locale="fr-CA")
    assert (stored.ok, stored.locale, stored.parts["text"]) == (
        True,
        "fr",
        "Salut toi ! Niveau : 3.0",
    )
    assert stored.warnings == ("no parts in 'fr-CA'; rendered in 'fr'",)
    sample = ws.messages.render_preview("welcome_message")
    assert sample.parts["text"] == "Hey Alex! Your tier: 42"
    with pytest.raises(NotFoundError):
        ws.messages.render_preview("welcome_message", fan_id="nobody")
    builtin = ws.messages.render_preview(
        "content_showcase", sample_fan={"traits": {"first_name": "Ana"}}
    )
    assert builtin.parts["text"].startswith("Ana, here is what is waiting for you")


def test_render_for_send_resolves_renders_and_falls_back(
    local_store: Any, core_factory: Any
) -> None:
    """The send path renders the account's template (else the built-in); unknown names are the host's."""
    from campaign_core.jobs.messages import render_for_send

    core = core_factory(local_store, settings=Settings(fan_traits={"tier": "number"}))
    ws = core.for_actor(Actor("acct-1"))
    ws.messages.create("welcome_message", "dm", WELCOME_FR)
    rt = core.runtime
    draft = attrs.evolve(
        ws.messages.get_by_name("welcome_message"), parts={"en": {"text": "{{ fan.nick }}"}}
    )
    with rt.transaction(read_only=True) as tx:
        own = render_for_send(
            rt,
            tx.uow,
            owner_id="acct-1",
            fan={"traits": {"locale": "fr"}},
            template="welcome_message",
        )
        builtin = render_for_send(
            rt, tx.uow, owner_id="acct-2", fan={"traits": {}}, template="welcome_message"
        )
        hosts = render_for_send(rt, tx.uow, owner_id="acct-1", fan={}, template="host_only_name")
        broken = render_for_send(
            rt,
            tx.uow,
            owner_id="acct-1",
            fan={},
            template=draft,
        )
    assert own is not None
    assert (own.ok, own.locale, own.parts["text"]) == (True, "fr", "Salut toi ! Niveau : ")
    assert builtin is not None
    assert builtin.parts["text"].startswith("Hi there, welcome to my page!")
    assert hosts is None
    assert broken is not None
    assert (broken.ok, broken.reason) == (False, "undefined_variable")
