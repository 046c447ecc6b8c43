"""Rendering: context, escaping, filters, per-fan failures, the cache and the time budget."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from campaign_core.cache import TtlCache
from campaign_core.clock import FakeClock
from campaign_core.messages import (
    AccountProfile,
    MessageFields,
    MessageRenderer,
    RenderLimits,
    builtin_message_template,
    render,
    render_preview,
)
from campaign_core.models import Fan
from tests.messages.conftest import make_template


def test_email_html_is_escaped_and_text_is_not(renderer: MessageRenderer, now: datetime) -> None:
    """A fan's name with markup is escaped in the HTML body, kept as typed in text and subject."""
    t = make_template(
        {
            "en": {
                "subject": "Hi {{ fan.first_name }}",
                "html": "<p>Hi {{ fan.first_name }}</p>",
                "text": "Hi {{ fan.first_name }}",
            }
        },
        channel="email",
    )
    fan = {"traits": {"first_name": "<b>Tom & Jerry</b>"}}
    result = renderer.render(t, fan, now=now)
    assert result.parts == {
        "subject": "Hi <b>Tom & Jerry</b>",
        "html": "<p>Hi &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>",
        "text": "Hi <b>Tom & Jerry</b>",
    }
    dm = renderer.render(make_template({"en": {"text": "Hi {{ fan.first_name }}"}}), fan, now=now)
    assert dm.parts["text"] == "Hi <b>Tom & Jerry</b>"


def test_fan_record_fields_traits_and_derived(renderer: MessageRenderer, now: datetime) -> None:
    """A Fan record's fields, declared traits and derived day counts are all readable."""
    fan = Fan(
        id="f1",
        owner_id="acct",
        fan_id="host-1",
        spending_level="vip",
        last_activity_at=now - timedelta(days=15, hours=1),
        subscription_status="active",
        traits={"first_name": "Ana", "tier": 3},
        created_at=now,
        updated_at=now,
    )
    t = make_template(
        {
            "en": {
                "text": "{{ fan.first_name }}|{{ fan.spending_level }}|{{ fan.no_activity_days }}|"
                "{{ fan.tier }}|{{ fan.traits.tier }}|{{ fan.subscribed }}|{{ fan.fan_id }}"
            }
        }
    )
    fields = MessageFields.for_traits({"tier": "number"})
    result = renderer.render(t, fan, now=now, fields=fields)
    assert result.parts["text"] == "Ana|vip|15.0|3|3|true|host-1"


def test_missing_values_are_nil_and_default_works(renderer: MessageRenderer, now: datetime) -> None:
    """A known field the fan lacks is nil: ``default`` fills it, a bare output is empty."""
    t = make_template(
        {
            "en": {
                "text": "[{{ fan.first_name | default: 'there' }}|{{ fan.engagement }}|{{ vars.x }}]"
            }
        }
    )
    assert renderer.render(t, {}, now=now).parts["text"] == "[there||]"


def test_undefined_path_is_a_per_fan_failure(renderer: MessageRenderer, now: datetime) -> None:
    """A path that was never validated fails that fan with a clear reason, not an exception."""
    t = make_template({"en": {"text": "Hi {{ fan.nickname }}"}})
    result = renderer.render(t, {}, now=now)
    assert (result.ok, result.reason, result.part) == (False, "undefined_variable", "en.text")
    assert result.detail == "line 1, column 7: fan.nickname is undefined"
    assert result.parts == {}


def test_filter_errors_and_bad_sources_are_per_fan_failures(
    renderer: MessageRenderer, now: datetime
) -> None:
    """Division by zero and an unparsable stored template are failures with reasons."""
    zero = renderer.render(make_template({"en": {"text": "{{ 1 | divided_by: 0 }}"}}), {}, now=now)
    assert (zero.ok, zero.reason) == (False, "render_error")
    broken = renderer.render(make_template({"en": {"text": "{% if %}"}}), {}, now=now)
    assert (broken.ok, broken.reason) == (False, "invalid_template")


def test_track_link_adds_campaign_parameters(renderer: MessageRenderer, now: datetime) -> None:
    """Tracking parameters are added, existing ones kept, non-web links untouched."""
    t = make_template(
        {
            "en": {
                "text": "{{ 'https://shop.example/p?ref=1&utm_source=mine' | track_link: 'hero' }} "
                "{{ 'mailto:a@b.example' | track_link }}"
            }
        }
    )
    result = renderer.render(t, {}, now=now, campaign={"id": "cmp-1"})
    assert result.parts["text"] == (
        "https://shop.example/p?ref=1&utm_source=mine&utm_medium=dm&utm_campaign=cmp-1"
        "&utm_content=hero mailto:a@b.example"
    )


def test_dates_use_the_fan_time_zone(renderer: MessageRenderer, now: datetime) -> None:
    """Dates are shown in the fan's zone (the account's for fans without one)."""
    t = make_template(
        {
            "en": {
                "text": "{{ vars.at | datetime: 'yyyy-MM-dd HH:mm' }}|{{ vars.at | date: '%H:%M' }}"
            }
        }
    )
    at = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    tokyo = renderer.render(t, {"time_zone": "Asia/Tokyo"}, now=now, variables={"at": at})
    assert tokyo.parts["text"] == "2026-03-02 08:30|08:30"
    acct = AccountProfile(time_zone="America/New_York")
    ny = renderer.render(t, {}, now=now, variables={"at": at}, account=acct)
    assert ny.parts["text"] == "2026-03-01 18:30|18:30"


def test_preview_uses_a_sample_fan_and_reports_warnings(now: datetime) -> None:
    """The preview renders every part with a sample fan and says what an editor should see."""
    t = make_template({"en": {"text": "Hi {{ fan.first_name }} 👋 " + "x" * 80}}, channel="sms")
    preview = render_preview(t, now=now, locale="de")
    assert preview.ok
    assert preview.parts["text"].startswith("Hi Alex 👋")
    assert preview.warnings == (
        "no parts in 'de'; rendered in 'en'",
        "en.text is 2 SMS segment(s) in UCS-2 (91 units)",
    )


def test_compiled_templates_are_cached_in_the_ttl_cache(now: datetime) -> None:
    """The core's TTL cache holds compilations; a second render is a hit."""
    cache: TtlCache[object] = TtlCache(FakeClock(), timedelta(hours=1))
    renderer = MessageRenderer(cache=cache)
    t = builtin_message_template("welcome_message")
    assert t is not None
    renderer.render(t, {}, now=now)
    renderer.render(t, {}, now=now)
    assert (cache.stats.misses, cache.stats.hits) == (1, 1)


def test_render_time_budget_with_an_injected_timer(now: datetime) -> None:
    """A render that runs past its time budget stops with ``resource_limit``."""
    ticks = iter(range(1_000_000))
    renderer = MessageRenderer(
        render_limits=RenderLimits(max_render_seconds=3), timer=lambda: float(next(ticks))
    )
    t = make_template({"en": {"text": "{% for i in (1..400) %}.{% endfor %}"}})
    result = renderer.render(t, {}, now=now)
    assert (result.ok, result.reason) == (False, "resource_limit")
    assert "render time limit" in (result.detail or "")
    small = make_template({"en": {"text": "{% for i in (1..5) %}{{ i }}{% endfor %}"}})
    assert renderer.render(small, {}, now=now).ok


def test_module_render_uses_the_default_renderer(now: datetime) -> None:
    """``campaign_core.messages.render`` is the one rendering path hosts and jobs call."""
    t = builtin_message_template("welcome_message")
    assert t is not None
    result = render(t, {"traits": {"first_name": "Léa", "locale": "fr-CA"}}, now=now)
    assert (result.locale, result.parts["text"][:20]) == ("fr", "Salut Léa, bienvenue")


def test_core_imports_without_the_templates_extra() -> None:
    """Without python-liquid the package imports; building a renderer names the extra."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'liquid' or name.startswith('liquid.'):\n"
        "            raise ImportError('blocked', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import campaign_core, campaign_core.messages as m\n"
        "from campaign_core.errors import MissingDependencyError\n"
        "try:\n"
        "    m.MessageRenderer()\n"
        "except MissingDependencyError as e:\n"
        "    print(e.extra)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "templates"
