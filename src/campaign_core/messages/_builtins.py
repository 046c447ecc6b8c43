"""The seed's message templates, shipped as real Liquid templates.

The welcome series (``welcome_message``, ``content_showcase``, ``re_engagement``),
the win-back message (``we_miss_you``, by email) and one caption per niche
campaign template. An account overrides any of them by saving a template of the
same name. ``welcome_message`` comes in several languages; the others in English.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from campaign_core.models import MessageTemplate

__all__ = ["BUILTIN_MESSAGE_TEMPLATES", "builtin_message_template"]

_SHIPPED: Final = datetime(2026, 1, 1, tzinfo=UTC)

_WELCOME: Final = {
    "en": "Hi {{ fan.first_name | default: 'there' }}, welcome to {{ account.name | default: 'my page' }}! "
    "🎉 Thanks for subscribing. Reply any time: I read every message.",
    "fr": "Salut {{ fan.first_name | default: 'toi' }}, bienvenue sur {{ account.name | default: 'ma page' }} ! "
    "🎉 Merci pour ton abonnement. Réponds quand tu veux : je lis tous les messages.",
    "de": "Hallo {{ fan.first_name | default: 'du' }}, willkommen bei {{ account.name | default: 'meiner Seite' }}! "
    "🎉 Danke für dein Abo. Schreib mir jederzeit: Ich lese jede Nachricht.",
    "es": "¡Hola {{ fan.first_name | default: 'amigo' }}, bienvenido a {{ account.name | default: 'mi página' }}! "
    "🎉 Gracias por suscribirte. Escríbeme cuando quieras: leo todos los mensajes.",
    "pt-BR": "Oi {{ fan.first_name | default: 'você' }}, boas-vindas a {{ account.name | default: 'minha página' }}! "
    "🎉 Obrigado por assinar. Me escreva quando quiser: eu leio todas as mensagens.",
    "ja": "{{ fan.first_name | default: 'みなさん' }}さん、{{ account.name | default: 'マイページ' }}へようこそ！"
    "🎉 ご登録ありがとうございます。メッセージはすべて読んでいます。",
    "ar": "مرحبًا {{ fan.first_name | default: 'بك' }}، أهلًا بك في {{ account.name | default: 'صفحتي' }}! "
    "🎉 شكرًا على اشتراكك. راسلني في أي وقت، فأنا أقرأ كل رسالة.",
}

_SHOWCASE: Final = (
    "{{ fan.first_name | default: 'Hey' }}, here is what is waiting for you this week: "
    "{{ campaign.content.title | default: 'new exclusive photos and videos' }}. "
    "{% if campaign.content.price %}Unlock it for {{ campaign.content.price | money }}. {% endif %}"
    "{% if vars.link %}👉 {{ vars.link | track_link: 'content_showcase' }}{% endif %}"
)

_RE_ENGAGEMENT: Final = (
    "{{ fan.first_name | default: 'Hey' }}, it has been a while"
    "{% if fan.last_activity_at %} (your last visit was {{ fan.last_activity_at | relative_time: 'day' }}){% endif %}. "
    "I have posted a lot since then."
    "{% if vars.discount %} Come back with {{ vars.discount | percent }} off your next unlock.{% endif %}"
)

_WE_MISS_YOU_HTML: Final = """<p>Hi {{ fan.first_name | default: "there" }},</p>
<p>We miss you at {{ account.name | default: "our page" }}!
{%- if vars.discount %} Here is <strong>{{ vars.discount | percent }} off</strong> to welcome you back,
valid until {{ now | date: "long" }}.{% endif %}</p>
{% if account.website_url %}<p><a href="{{ account.website_url | track_link: 'we_miss_you' }}">See what is new</a></p>{% endif %}
<p style="font-size:small"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
"""

_WE_MISS_YOU_TEXT: Final = """Hi {{ fan.first_name | default: "there" }},

We miss you at {{ account.name | default: "our page" }}!
{%- if vars.discount %} Here is {{ vars.discount | percent }} off to welcome you back, valid until {{ now | date: "long" }}.{% endif %}
{% if account.website_url %}
See what is new: {{ account.website_url | track_link: 'we_miss_you' }}
{% endif %}
Unsubscribe: {{ unsubscribe_url }}
"""

# The niche campaign templates' captions: title, description, price and call to action.
_CAPTIONS: Final = {
    "caption_30_day_workout_challenge": (
        "Transform Your Body in 30 Days! 💪",
        "Join my exclusive 30-day workout challenge with daily routines, meal plans, and personal coaching.",
        "49.99",
        "Start Your Transformation",
    ),
    "caption_meal_plan_bundle": (
        "Weekly Meal Plans + Recipes 🥗",
        "Get personalized meal plans every week with macro tracking and shopping lists.",
        "29.99",
        "Subscribe Now",
    ),
    "caption_exclusive_stream_access": (
        "VIP Stream Access 🎮",
        "Get exclusive access to private streams, behind-the-scenes content, and gaming sessions.",
        "19.99",
        "Join VIP",
    ),
    "caption_game_tutorial_series": (
        "Master {{ vars.game | default: 'your game' }} - Pro Tips 🏆",
        "Learn advanced strategies and techniques from a pro player.",
        "14.99",
        "Get Tutorial",
    ),
    "caption_vip_subscription_tier": (
        "VIP Access - Exclusive Content 💎",
        "Get access to exclusive content, custom requests, and priority messaging.",
        "49.99",
        "Upgrade to VIP",
    ),
    "caption_custom_content_offer": (
        "Custom Content Just for You ✨",
        "Request personalized content tailored to your preferences.",
        "99.99",
        "Request Custom",
    ),
}


def _caption(title: str, description: str, price: str, cta: str) -> str:
    return (
        f"{title}\n{description}\n"
        f"{{{{ campaign.content.price | default: {price} | money }}}} · {cta}"
        "{% if vars.link %} 👉 {{ vars.link | track_link }}{% endif %}"
    )


def _builtin(
    name: str, channel: str, parts: dict[str, dict[str, str]], topic: str, description: str
) -> MessageTemplate:
    return MessageTemplate(
        id=f"builtin:{name}",
        owner_id=None,
        name=name,
        channel=channel,
        topic=topic,
        description=description,
        parts=parts,
        default_locale="en",
        created_at=_SHIPPED,
        updated_at=_SHIPPED,
    )


BUILTIN_MESSAGE_TEMPLATES: Final[tuple[MessageTemplate, ...]] = (
    _builtin(
        "welcome_message",
        "dm",
        {locale: {"text": text} for locale, text in _WELCOME.items()},
        "updates",
        "Welcome series, first message: greets a new subscriber by name.",
    ),
    _builtin(
        "content_showcase",
        "dm",
        {"en": {"text": _SHOWCASE}},
        "promotions",
        "Welcome series, day 1: shows this week's content (campaign.content.title, price).",
    ),
    _builtin(
        "re_engagement",
        "dm",
        {"en": {"text": _RE_ENGAGEMENT}},
        "promotions",
        "Welcome series, day 4 for fans who did not engage; vars.discount adds an offer.",
    ),
    _builtin(
        "we_miss_you",
        "email",
        {
            "en": {
                "subject": "We miss you, {{ fan.first_name | default: 'friend' }}",
                "html": _WE_MISS_YOU_HTML,
                "text": _WE_MISS_YOU_TEXT,
            }
        },
        "promotions",
        "Win-back email for inactive fans; vars.discount adds an offer.",
    ),
    *(
        _builtin(
            name,
            "dm",
            {"en": {"text": _caption(*caption)}},
            "promotions",
            "Caption of the niche campaign template of the same title.",
        )
        for name, caption in _CAPTIONS.items()
    ),
)
"""The built-in templates, validated by the test suite against the default fields."""

_BY_NAME: Final = {t.name: t for t in BUILTIN_MESSAGE_TEMPLATES}


def builtin_message_template(name: str) -> MessageTemplate | None:
    """The built-in template called ``name``, or ``None``."""
    return _BY_NAME.get(name)
