"""Hostile templates are refused at save or stopped at their bound, never hang or fill memory."""

from __future__ import annotations

from datetime import datetime

import pytest

from campaign_core.errors import ValidationError
from campaign_core.messages import MessageRenderer, RenderLimits, validate_template
from tests.messages.conftest import make_template

NESTED_LOOPS = "{% for a in (1..1000) %}{% for b in (1..1000) %}{% for c in (1..1000) %}x{% endfor %}{% endfor %}{% endfor %}"
TEN_MB = "{% for a in (1..1000) %}{% for b in (1..1000) %}0123456789{% endfor %}{% endfor %}"
DOUBLING = "{% assign s = 'xxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s.size }}"
CAPTURE = "{% capture s %}{% for i in (1..1000) %}xxxxxxxxxx{% endfor %}{% endcapture %}{% for j in (1..1000) %}{{ s }}{% endfor %}"
DEEP = "{% if true %}" * 200 + "x" + "{% endif %}" * 200


def codes(renderer: MessageRenderer, now: datetime, text: str, channel: str = "email") -> set[str]:
    parts = {"en": {"subject": "s", "text": text}} if channel == "email" else {"en": {"text": text}}
    with pytest.raises(ValidationError) as info:
        validate_template(name="evil", channel=channel, parts=parts, renderer=renderer, now=now)
    return {p.code for p in info.value.problems}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (NESTED_LOOPS, "resource_limit"),
        (TEN_MB, "resource_limit"),
        (DOUBLING, "resource_limit"),
        (CAPTURE, "resource_limit"),
        (DEEP, "too_deep"),
        ("{% include 'evil' %}", "syntax_error"),
        ("{% render 'evil' %}", "syntax_error"),
        ("{% liquid include 'evil' %}", "syntax_error"),
        ("x" * 10_000_000, "too_large"),
    ],
    ids=[
        "nested-loops",
        "10MB-output",
        "string-doubling",
        "capture-amplify",
        "deep-nesting",
        "include",
        "render",
        "liquid-include",
        "10MB-source",
    ],
)
def test_refused_at_save(renderer: MessageRenderer, now: datetime, text: str, code: str) -> None:
    """Each hostile template is refused when it is saved, with a code saying why."""
    assert code in codes(renderer, now, text)


@pytest.mark.parametrize("text", [NESTED_LOOPS, TEN_MB, DOUBLING, CAPTURE])
def test_stopped_at_the_bound_when_rendered_unchecked(
    renderer: MessageRenderer, now: datetime, text: str
) -> None:
    """Even without validation (a template written to the store by other means), rendering stops."""
    result = renderer.render(make_template({"en": {"text": text}}, channel="sms"), {}, now=now)
    assert (result.ok, result.reason) == (False, "resource_limit")


def test_output_bound_counts_bytes(now: datetime) -> None:
    """The output bound is per part, in UTF-8 bytes."""
    renderer = MessageRenderer(render_limits=RenderLimits(max_output_bytes=100))
    ok = renderer.render(make_template({"en": {"text": "é" * 50}}), {}, now=now)
    too_big = renderer.render(
        make_template({"en": {"text": "{% for i in (1..51) %}é{% endfor %}"}}), {}, now=now
    )
    assert ok.ok
    assert (too_big.ok, too_big.reason) == (False, "resource_limit")


def test_no_python_attribute_access(renderer: MessageRenderer, now: datetime) -> None:
    """Liquid looks up items, never attributes: dunder paths lead nowhere."""
    t = make_template(
        {"en": {"text": "{{ now.__class__ }}{{ fan.traits.__class__.__mro__ }}{{ vars.__init__ }}"}}
    )
    result = renderer.render(t, {}, now=now)
    assert not result.ok or "class" not in result.parts["text"]
