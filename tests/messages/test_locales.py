"""Locale tags, the fallback chain and the locale a fan's message is rendered in."""

from __future__ import annotations

from datetime import datetime

import pytest

from campaign_core.messages import AccountProfile, MessageRenderer
from campaign_core.messages._locales import choose_locale, locale_chain, normalize_locale
from tests.messages.conftest import make_template


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("fr_ca", "fr-CA"), ("PT-br", "pt-BR"), ("zh-hant-tw", "zh-Hant-TW"), ("ar", "ar")],
)
def test_normalize_locale(raw: str, clean: str) -> None:
    """Tags are spelled one way whatever the case or separator."""
    assert normalize_locale(raw) == clean


@pytest.mark.parametrize("raw", ["", "e", "english!", "en--US", 42, None])
def test_normalize_refuses_non_tags(raw: object) -> None:
    """What is not a tag is None, not a guess."""
    assert normalize_locale(raw) is None


def test_chain_goes_from_specific_to_default() -> None:
    """fr-CA falls back to fr, then to the account's default."""
    assert locale_chain("fr-CA", "en") == ("fr-CA", "fr", "en")
    assert locale_chain("en-GB", "en") == ("en-GB", "en")
    assert choose_locale("fr-CA", ["en", "fr"], "en") == "fr"
    assert choose_locale("fr-CA", ["en", "fr-CA", "fr"], "en") == "fr-CA"
    assert choose_locale("de", ["en", "fr"], "fr") == "fr"
    assert choose_locale("de", ["es"], "fr") is None


def test_render_reports_the_locale_used(renderer: MessageRenderer, now: datetime) -> None:
    """A fr-CA fan gets the fr parts, a de fan the account default, and the result says which."""
    t = make_template({"en": {"text": "Hello"}, "fr": {"text": "Bonjour"}, "es": {"text": "Hola"}})
    fr_ca = renderer.render(t, {"traits": {"locale": "fr_CA"}}, now=now)
    assert (fr_ca.locale, fr_ca.parts["text"]) == ("fr", "Bonjour")
    assert fr_ca.warnings == ("no parts in 'fr_CA'; rendered in 'fr'",)
    german = renderer.render(
        t, {"traits": {"locale": "de"}}, now=now, account=AccountProfile(default_locale="es")
    )
    assert (german.locale, german.parts["text"]) == ("es", "Hola")
    nobody = renderer.render(t, {}, now=now)
    assert (nobody.locale, nobody.warnings) == ("en", ())
    explicit = renderer.render(t, {"traits": {"locale": "fr"}}, now=now, locale="es")
    assert explicit.locale == "es"


def test_template_default_locale_is_the_last_resort(
    renderer: MessageRenderer, now: datetime
) -> None:
    """When neither the fan's chain nor the account default has parts, the template's default does."""
    t = make_template({"fr": {"text": "Bonjour"}}, default_locale="fr")
    result = renderer.render(t, {"traits": {"locale": "de"}}, now=now)
    assert (result.ok, result.locale) == (True, "fr")


def test_regional_formats_follow_the_fan_locale(renderer: MessageRenderer, now: datetime) -> None:
    """A fr-CA fan reading the fr parts gets Canadian formats (CLDR fr-CA)."""
    t = make_template(
        {
            "en": {"text": "{{ 1234.5 | money: 'CAD' }}"},
            "fr": {"text": "{{ 1234.5 | money: 'CAD' }}"},
        }
    )
    assert renderer.render(t, {}, now=now, locale="fr-CA").parts["text"] == "1\xa0234,50\xa0$"
    assert renderer.render(t, {}, now=now, locale="fr").parts["text"] == "1\u202f234,50\xa0$CA"
