"""Message rendering: 100,000 personalized messages vs a hand-written f-string builder.

The message (a DM, six locales spread over the fans)::

    Hi {{ fan.first_name | default: 'there' }}, your {{ fan.spending_level }} perks:
    {{ vars.discount | percent }} off, {{ fan.lifetime_value | money }} spent so far.
    {{ 'https://mia.example/drop' | track_link }}

The baseline builds the same text with an f-string and the same babel calls
(CLDR percent and currency in the fan's locale, the same tracking parameters),
so the ratio is what Liquid, the fan context, the locale chain, the limits and
the per-fan result cost. Compiled parts come from the core's TTL cache. Both
sides are checked to produce identical messages first.

A second, report-only row renders a message without formatting filters (names
only), where the f-string has nothing to share with us and the ratio is
Liquid's own overhead.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from _harness import Result, Scale, SkipBenchmark, interleaved

from campaign_core.cache import TtlCache
from campaign_core.clock import FakeClock
from campaign_core.models import MessageTemplate

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LOCALES = ("en", "fr", "de", "es", "pt-BR", "ja")
LEVELS = ("none", "low", "medium", "high", "vip")
SOURCE = (
    "Hi {{ fan.first_name | default: 'there' }}, your {{ fan.spending_level }} perks: "
    "{{ vars.discount | percent }} off, {{ fan.lifetime_value | money }} spent so far. "
    "{{ 'https://mia.example/drop' | track_link }}"
)
PLAIN = (
    "Hi {{ fan.first_name | default: 'there' }}, your {{ fan.spending_level }} perks are waiting."
)


def _fans(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"fan-{i}",
            "spending_level": LEVELS[i % 5],
            "lifetime_value": round(i * 0.37 % 500, 2),
            "traits": {
                "first_name": None if i % 7 == 0 else f"Fan{i}",
                "locale": LOCALES[i % len(LOCALES)],
            },
        }
        for i in range(n)
    ]


def _template(source: str) -> MessageTemplate:
    return MessageTemplate(
        id="bench",
        name="bench",
        channel="dm",
        parts={locale: {"text": source} for locale in LOCALES},
        created_at=NOW,
        updated_at=NOW,
    )


def _renderer() -> Any:
    try:
        from campaign_core.messages import MessageRenderer
    except ImportError as exc:  # pragma: no cover - the templates extra is a dev dependency
        raise SkipBenchmark("python-liquid is not installed") from exc
    cache: TtlCache[object] = TtlCache(FakeClock(NOW), timedelta(hours=1))
    return MessageRenderer(cache=cache)


def personalized_vs_fstring(scale: Scale) -> list[Result]:
    """100,000 personalized DMs: ``render`` vs an f-string builder with the same babel calls."""
    import babel
    import babel.numbers

    renderer = _renderer()
    n = scale.n(100_000, minimum=1000)
    fans = _fans(n)
    variables = {"discount": 0.2}
    template, plain = _template(SOURCE), _template(PLAIN)
    locale_of = functools.lru_cache(maxsize=None)(lambda tag: babel.Locale.parse(tag, sep="-"))

    def link() -> str:
        query = {
            "utm_source": "campaign-core",
            "utm_medium": "dm",
            "utm_campaign": "bench",
            "utm_content": "bench",
        }
        return "https://mia.example/drop?" + urlencode(query)

    def hand(fan: dict[str, Any]) -> str:
        traits = fan["traits"]
        locale = locale_of(traits["locale"])
        name = traits["first_name"] or "there"
        percent = babel.numbers.format_percent(variables["discount"], locale=locale)
        money = babel.numbers.format_currency(fan["lifetime_value"], "USD", locale=locale)
        return (
            f"Hi {name}, your {fan['spending_level']} perks: {percent} off, "
            f"{money} spent so far. {link()}"
        )

    def hand_plain(fan: dict[str, Any]) -> str:
        name = fan["traits"]["first_name"] or "there"
        return f"Hi {name}, your {fan['spending_level']} perks are waiting."

    def ours(tpl: MessageTemplate) -> list[str]:
        out = []
        for fan in fans:
            result = renderer.render(tpl, fan, now=NOW, variables=variables)
            out.append(result.parts["text"])
        return out

    for fan in fans[:2000]:
        mine = renderer.render(template, fan, now=NOW, variables=variables)
        if not mine.ok or mine.parts["text"] != hand(fan):
            raise AssertionError(f"render and the f-string disagree: {mine} vs {hand(fan)!r}")
        if renderer.render(plain, fan, now=NOW).parts["text"] != hand_plain(fan):
            raise AssertionError("plain render and the f-string disagree")

    t = interleaved(
        {
            "ours": lambda: ours(template),
            "hand": lambda: [hand(fan) for fan in fans],
            "ours_plain": lambda: ours(plain),
            "hand_plain": lambda: [hand_plain(fan) for fan in fans],
        },
        repeat=3,
    )
    rate = n / t["ours"].min
    return [
        Result(
            name=f"render: {n:,} personalized DMs, 6 locales",
            measured=t["ours"].min,
            baseline=t["hand"].min,
            measured_median=t["ours"].median,
            baseline_median=t["hand"].median,
            goal="<= 3.0",
            note=f"{rate:,.0f} messages/s; baseline: f-string + the same babel calls",
        ),
        Result(
            name=f"render: {n:,} DMs without formatting filters",
            measured=t["ours_plain"].min,
            baseline=t["hand_plain"].min,
            measured_median=t["ours_plain"].median,
            baseline_median=t["hand_plain"].median,
            note=f"report only: Liquid's own overhead; {n / t['ours_plain'].min:,.0f} messages/s",
        ),
    ]


BENCHMARKS = [personalized_vs_fstring]
