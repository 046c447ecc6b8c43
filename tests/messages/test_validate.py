"""Validation at save: every problem with its path, line and column."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from campaign_core.errors import Problem, ValidationError
from campaign_core.messages import MessageFields, MessageLimits, MessageRenderer, validate_template
from campaign_core.messages._builtins import BUILTIN_MESSAGE_TEMPLATES


def problems(renderer: MessageRenderer, now: datetime, **kw: Any) -> list[Problem]:
    kw.setdefault("name", "t")
    kw.setdefault("channel", "dm")
    with pytest.raises(ValidationError) as info:
        validate_template(renderer=renderer, now=now, **kw)
    return list(info.value.problems)


def test_typo_in_a_fan_field_is_an_error_with_its_place(
    renderer: MessageRenderer, now: datetime
) -> None:
    """``{{ fan.frist_name }}`` is refused with the part's path, line, column and a suggestion."""
    [p] = problems(renderer, now, parts={"en": {"text": "Hi\n  {{ fan.frist_name }}!"}})
    assert (p.path, p.code) == ("parts.en.text", "unknown_variable")
    assert p.message.startswith("line 2, column 6:")
    assert "did you mean 'first_name'" in p.message


def test_syntax_error_has_line_and_column(renderer: MessageRenderer, now: datetime) -> None:
    """A bad tag is a syntax error pointing at it."""
    [p] = problems(renderer, now, parts={"fr": {"text": "Salut\n{% bogus %}"}}, default_locale="fr")
    assert (p.path, p.code) == ("parts.fr.text", "syntax_error")
    assert p.message == "line 2, column 4: unexpected tag 'bogus'"
    [q] = problems(renderer, now, parts={"en": {"text": "{% if fan.engagement %}open"}})
    assert q.code == "syntax_error"


def test_unknown_filter_and_unknown_root(renderer: MessageRenderer, now: datetime) -> None:
    """Filters and roots are checked like fields."""
    found = problems(
        renderer, now, parts={"en": {"text": "{{ fan.first_name | shout }} {{ user.name }}"}}
    )
    assert {(p.code, p.path) for p in found} == {
        ("unknown_filter", "parts.en.text"),
        ("unknown_variable", "parts.en.text"),
    }


def test_declared_traits_are_known(renderer: MessageRenderer, now: datetime) -> None:
    """A declared trait is readable as fan.<name> and fan.traits.<name>; an undeclared one is not."""
    parts = {"en": {"text": "{{ fan.tier }} {{ fan.traits.tier }}"}}
    fields = MessageFields.for_traits({"tier": "number"})
    clean = validate_template(
        name="t", channel="dm", parts=parts, renderer=renderer, now=now, fields=fields
    )
    assert clean["parts"] == parts
    assert len(problems(renderer, now, parts=parts)) == 2


def test_structure_problems_all_at_once(renderer: MessageRenderer, now: datetime) -> None:
    """Missing default locale, unknown part, missing required parts, bad locale: one error."""
    found = problems(
        renderer,
        now,
        channel="email",
        parts={"fr": {"body": "x"}, "not a locale": {"subject": "x"}},
        default_locale="en",
        name="",
        topic="Bad Topic",
    )
    assert {(p.path, p.code) for p in found} == {
        ("name", "invalid_value"),
        ("topic", "invalid_value"),
        ("parts.fr.body", "unknown_field"),
        ("parts.fr.subject", "required"),
        ("parts.fr.html", "required"),
        ("parts.not a locale", "invalid_value"),
        ("default_locale", "required"),
    }


def test_unknown_channel(renderer: MessageRenderer, now: datetime) -> None:
    """The channel must be one the library knows."""
    found = problems(renderer, now, channel="pigeon", parts={"en": {"text": "hi"}})
    assert [p.path for p in found] == ["channel"]


def test_parts_too_long_for_the_channel(renderer: MessageRenderer, now: datetime) -> None:
    """A DM over its length and an SMS over its segments are refused at save."""
    [dm] = problems(renderer, now, parts={"en": {"text": "x" * 1001}})
    assert (dm.path, dm.code) == ("parts.en.text", "too_long")
    assert "1,001 characters" in dm.message
    [sms] = problems(renderer, now, channel="sms", parts={"en": {"text": "é👋" * 400}})
    assert sms.code == "too_long"
    assert "SMS segments" in sms.message
    short = MessageRenderer(limits=MessageLimits().with_overrides({"dm": {"text": {"max": 10}}}))
    [p] = problems(short, now, parts={"en": {"text": "{{ fan.first_name }} is here"}})
    assert p.code == "too_long"


def test_limit_overrides_are_checked() -> None:
    """Overrides name a known channel and part and a positive bound."""
    with pytest.raises(ValidationError) as info:
        MessageLimits().with_overrides(
            {"fax": {"text": {"max": 1}}, "dm": {"title": {"max": 1}, "text": {"max": 0}}}
        )
    assert {p.path for p in info.value.problems} == {"fax", "dm.title", "dm.text.max"}


def test_nul_characters_are_refused(renderer: MessageRenderer, now: datetime) -> None:
    """Text no store can keep is refused like everywhere else."""
    [p] = problems(renderer, now, parts={"en": {"text": "a\x00b"}})
    assert p.path == "parts.en.text"


def test_clean_values_use_canonical_locales(renderer: MessageRenderer, now: datetime) -> None:
    """Locale keys come back in their canonical spelling."""
    clean = validate_template(
        name="promo",
        channel="push",
        parts={"pt_br": {"title": "Oi", "body": "{{ fan.first_name | default: 'você' }}"}},
        default_locale="PT-br",
        renderer=renderer,
        now=now,
    )
    assert clean["default_locale"] == "pt-BR"
    assert list(clean["parts"]) == ["pt-BR"]


@pytest.mark.parametrize("template", BUILTIN_MESSAGE_TEMPLATES, ids=lambda t: t.name)
def test_builtin_templates_validate(
    template: Any, renderer: MessageRenderer, now: datetime
) -> None:
    """Every shipped template passes the validation an account's template goes through."""
    clean = validate_template(
        name=template.name,
        channel=template.channel,
        parts=template.parts,
        default_locale=template.default_locale,
        topic=template.topic,
        description=template.description,
        renderer=renderer,
        now=now,
    )
    assert clean["parts"] == template.parts
