"""Properties: a template accepted at save renders for any fan of the declared fields, deterministically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_core.errors import ValidationError
from campaign_core.messages import MessageFields, MessageRenderer, validate_template
from campaign_core.models import MessageTemplate

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
TRAITS = {
    "tier": "number",
    "tags": "string_list",
    "vip": "boolean",
    "birthday": "datetime",
    "nickname": "string",
}
FIELDS = MessageFields.for_traits(TRAITS)
RENDERER = MessageRenderer()

STRINGS = (
    "first_name",
    "last_name",
    "display_name",
    "username",
    "nickname",
    "platform",
    "spending_level",
)
NUMBERS = ("engagement", "lifetime_value", "tier", "no_activity_days")
DATES = ("subscribed_at", "last_activity_at", "created_at", "birthday")

text = st.text(
    alphabet=st.characters(blacklist_characters="{}%", blacklist_categories=("Cs", "Cc")),
    max_size=12,
)
word = st.text(alphabet="abcdefghij", min_size=1, max_size=6)


def _quoted(s: str) -> str:
    return "'" + s.replace("'", "") + "'"


fragment = st.one_of(
    text,
    st.sampled_from([*STRINGS, *NUMBERS, *DATES, "vip", "opted_out", "locale"]).map(
        lambda f: f"{{{{ fan.{f} }}}}"
    ),
    st.tuples(st.sampled_from(STRINGS), word).map(
        lambda a: f"{{{{ fan.{a[0]} | default: {_quoted(a[1])} }}}}"
    ),
    st.tuples(
        st.sampled_from(NUMBERS),
        st.sampled_from(
            ["money", "number", "percent", "money: 'EUR'", "number: 2", "plus: 1", "round"]
        ),
    ).map(lambda a: f"{{{{ fan.{a[0]} | {a[1]} }}}}"),
    st.tuples(
        st.sampled_from(DATES),
        st.sampled_from(
            [
                "date",
                "date: 'long'",
                "datetime: 'short'",
                "time",
                "relative_time",
                "date: '%Y-%m-%d'",
            ]
        ),
    ).map(lambda a: f"{{{{ fan.{a[0]} | {a[1]} }}}}"),
    st.tuples(st.sampled_from([*STRINGS, "vip", "tier"]), text, text).map(
        lambda a: f"{{% if fan.{a[0]} %}}{a[1]}{{% else %}}{a[2]}{{% endif %}}"
    ),
    st.just(
        "{% for t in fan.traits.tags %}{{ t | upcase }}{% unless forloop.last %}, {% endunless %}{% endfor %}"
    ),
    st.sampled_from(
        [
            "{{ vars.offer | default: 'none' }}",
            "{{ campaign.name }}",
            "{{ campaign.content.title | default: 'new' }}",
            "{{ account.name | default: 'me' }}",
            "{{ unsubscribe_url }}",
            "{{ now | date: 'short' }}",
            "{{ 'https://x.example/p' | track_link }}",
            "{{ fan.tags | size }}",
            "{% assign n = fan.first_name | default: 'x' | size %}{{ n }}",
        ]
    ),
)
template_source = st.lists(fragment, min_size=1, max_size=8).map(lambda f: "Hi " + "".join(f))

optional = st.none() | st.just(None)
finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
# hypothesis takes naive bounds and attaches the zone itself
moment = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
fan_strategy = st.fixed_dictionaries(
    {},
    optional={
        "platform": st.sampled_from(["onlyfans", "instagram", "tiktok", "reddit"]) | optional,
        "spending_level": st.sampled_from(["none", "low", "medium", "high", "vip"]) | optional,
        "engagement": finite | optional,
        "lifetime_value": finite | optional,
        "subscription_status": st.sampled_from(["active", "expired", "cancelled", "none"])
        | optional,
        "subscribed_at": moment | optional,
        "last_activity_at": moment | optional,
        "created_at": moment | optional,
        "time_zone": st.sampled_from(
            ["Europe/Paris", "Asia/Tokyo", "Pacific/Kiritimati", "Etc/GMT+12", "Nowhere/Else", ""]
        )
        | optional,
        "opted_out": st.booleans(),
        "traits": st.fixed_dictionaries(
            {},
            optional={
                "tier": finite | optional,
                "tags": st.lists(word, max_size=3) | optional,
                "vip": st.booleans() | optional,
                "birthday": moment | optional,
                "nickname": text | optional,
                "first_name": text | optional,
                "locale": st.sampled_from(
                    ["en", "fr-CA", "de", "es", "pt-BR", "ja", "ar", "xx-YY", "not a locale"]
                )
                | optional,
            },
        ),
    },
)


def _accepted(source: str) -> MessageTemplate | None:
    parts = {"en": {"text": source}, "fr": {"text": source}}
    try:
        clean = validate_template(
            name="p", channel="dm", parts=parts, renderer=RENDERER, now=NOW, fields=FIELDS
        )
    except ValidationError:
        return None
    return MessageTemplate(
        id="p", name="p", channel="dm", parts=clean["parts"], created_at=NOW, updated_at=NOW
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=template_source,
    fans=st.lists(fan_strategy, min_size=1, max_size=4),
    shift=st.integers(0, 10**6),
)
def test_accepted_templates_render_for_any_fan(
    source: str, fans: list[dict[str, Any]], shift: int
) -> None:
    """Whatever the fan's values (missing, extreme, odd zones and locales), an accepted template renders, twice the same."""
    template = _accepted(source)
    if template is None:
        return
    now = NOW + timedelta(seconds=shift)
    for fan in fans:
        first = RENDERER.render(template, fan, now=now, fields=FIELDS, variables={"offer": "x"})
        assert first.ok, (first.reason, first.detail)
        again = MessageRenderer().render(
            template, fan, now=now, fields=FIELDS, variables={"offer": "x"}
        )
        assert again == first


@settings(max_examples=100, deadline=None)
@given(source=template_source)
def test_generated_templates_are_accepted(source: str) -> None:
    """The grammar above only uses known variables and filters, so the checks at save accept it."""
    assert _accepted(source) is not None
