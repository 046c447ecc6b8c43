"""CLDR formats through babel in seven locales, and right-to-left text kept intact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaign_core.messages import MessageRenderer, builtin_message_template
from tests.messages.conftest import make_template

SOURCE = (
    "{{ 1234.5 | money: 'EUR' }}|{{ 1234567.891 | number }}|{{ 0.256 | percent }}|"
    "{{ fan.subscribed_at | date: 'long' }}|{{ fan.subscribed_at | datetime: 'short' }}|"
    "{{ fan.last_activity_at | relative_time }}|{{ campaign.scheduled_for | relative_time: 'day' }}"
)
FAN = {
    "time_zone": "Europe/Paris",
    "subscribed_at": datetime(2026, 2, 14, 23, 30, tzinfo=UTC),  # Feb 15 in Paris
    "last_activity_at": datetime(2026, 2, 26, 12, tzinfo=UTC),
}
CAMPAIGN = {"scheduled_for": datetime(2026, 3, 4, 12, tzinfo=UTC)}

EXPECTED = {
    "en": "€1,234.50|1,234,567.891|26%|February 15, 2026|2/15/26, 12:30\u202fAM|3 days ago|in 3 days",
    "fr": "1\u202f234,50\xa0€|1\u202f234\u202f567,891|26\xa0%|15 février 2026|15/02/2026 00:30|il y a 3 jours|dans 3 jours",
    "de": "1.234,50\xa0€|1.234.567,891|26\xa0%|15. Februar 2026|15.02.26, 00:30|vor 3 Tagen|in 3 Tagen",
    "es": "1.234,50\xa0€|1.234.567,891|26\xa0%|15 de febrero de 2026|15/2/26, 0:30|hace 3 días|dentro de 3 días",
    "pt-BR": "€\xa01.234,50|1.234.567,891|26%|15 de fevereiro de 2026|15/02/2026 00:30|há 3 dias|em 3 dias",
    "ja": "€1,234.50|1,234,567.891|26%|2026年2月15日|2026/02/15 0:30|3 日前|3 日後",
    "ar": "\u200f1,234.50\xa0€|1,234,567.891|26%|15 فبراير 2026|15\u200f/2\u200f/2026، 12:30 ص|قبل 3 أيام|خلال 3 أيام",
}


@pytest.mark.parametrize("locale", list(EXPECTED))
def test_cldr_formats(renderer: MessageRenderer, now: datetime, locale: str) -> None:
    """Money, numbers, percents, dates and relative times follow CLDR for the fan's locale and zone."""
    t = make_template({loc: {"text": SOURCE} for loc in EXPECTED})
    result = renderer.render(t, FAN, now=now, locale=locale, campaign=CAMPAIGN)
    assert (result.ok, result.locale) == (True, locale)
    assert result.parts["text"] == EXPECTED[locale]


def test_rtl_text_is_kept_intact(renderer: MessageRenderer, now: datetime) -> None:
    """Arabic text, its marks and a Latin name inside it come out exactly as written."""
    welcome = builtin_message_template("welcome_message")
    assert welcome is not None
    result = renderer.render(welcome, {"traits": {"first_name": "Sam", "locale": "ar-EG"}}, now=now)
    assert result.locale == "ar"
    expected = welcome.parts["ar"]["text"]
    expected = expected.replace("{{ fan.first_name | default: 'بك' }}", "Sam")
    expected = expected.replace("{{ account.name | default: 'صفحتي' }}", "صفحتي")
    assert result.parts["text"] == expected
    bidi = "\u202bمرحبا\u202c \u2067{{ fan.first_name }}\u2069 \u200f!"
    marked = renderer.render(
        make_template({"ar": {"text": bidi}}, default_locale="ar"),
        {"traits": {"first_name": "Sam"}},
        now=now,
    )
    assert marked.parts["text"] == "\u202bمرحبا\u202c \u2067Sam\u2069 \u200f!"


@pytest.mark.parametrize("locale", ["en", "fr", "de", "es", "pt-BR", "ja", "ar"])
def test_welcome_message_in_each_shipped_locale(
    renderer: MessageRenderer, now: datetime, locale: str
) -> None:
    """The built-in welcome message renders in every locale it ships, with the fan's name."""
    welcome = builtin_message_template("welcome_message")
    assert welcome is not None
    result = renderer.render(welcome, {"traits": {"first_name": "Kim", "locale": locale}}, now=now)
    assert (result.ok, result.locale) == (True, locale)
    assert "Kim" in result.parts["text"]
