"""A campaign's message (``create_campaign(message={...})``), checked against the settings."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from campaign_core.delivery._rules import parse_clock
from campaign_core.delivery._settings import MessagingSettings
from campaign_core.errors import ProblemCollector, join_path

__all__ = ["MESSAGE_KEYS", "parse_message"]

MESSAGE_KEYS: Final = (
    "channel",
    "template",
    "content",
    "topic",
    "variables",
    "sendAtLocal",
    "fallbackChannels",
)
"""The keys of a campaign's message (camelCase; snake_case accepted)."""

_SNAKE: Final = {"send_at_local": "sendAtLocal", "fallback_channels": "fallbackChannels"}
_TEMPLATE_MAX: Final = 100


def parse_message(
    raw: Any,
    settings: MessagingSettings,
    problems: ProblemCollector,
    *,
    path: str = "message",
    templates: Collection[str] | None = None,
) -> dict[str, Any] | None:
    """Check a campaign's message and return its canonical JSON (None: problems added).

    ``{"channel": "dm", "template": "content_showcase", "topic": "promotions",
    "variables": {...}, "sendAtLocal": "09:00", "fallbackChannels": ["email"]}``:
    a known channel; a ``template`` name (one of ``templates`` when given) or inline
    ``content`` (an object, e.g. ``{"text": "..."}``); a known topic sent on that
    channel (default: the settings' ``default_topic``); ``variables`` an object;
    ``sendAtLocal`` a local time of day; ``fallbackChannels`` known channels.
    Every problem has its path (``message.topic``).
    """
    if not isinstance(raw, Mapping):
        problems.add(
            path, "expected an object with a channel and a template or content", "invalid_type"
        )
        return None
    before = len(problems.problems)
    data = {_SNAKE.get(str(k), str(k)): v for k, v in raw.items()}
    for key in data:
        if key not in MESSAGE_KEYS:
            problems.add(
                join_path(path, key),
                f"unknown field (expected: {', '.join(MESSAGE_KEYS)})",
                "unknown_field",
            )
    out: dict[str, Any] = {}
    channel = data.get("channel")
    if channel is None:
        problems.add(join_path(path, "channel"), "a message needs a channel", "required")
    elif channel not in settings.channels:
        problems.add(
            join_path(path, "channel"),
            f"unknown channel {channel!r} (channels: {', '.join(settings.channels)})",
        )
    else:
        out["channel"] = channel
    template, content = data.get("template"), data.get("content")
    if (template is None) == (content is None):
        problems.add(path, "a message needs exactly one of 'template' or 'content'", "required")
    elif template is not None:
        if not isinstance(template, str) or not 0 < len(template.strip()) <= _TEMPLATE_MAX:
            problems.add(join_path(path, "template"), "expected a template name (1-100 characters)")
        elif templates is not None and template not in templates:
            problems.add(join_path(path, "template"), f"unknown template {template!r}")
        else:
            out["template"] = template
    elif not isinstance(content, Mapping) or not content:
        problems.add(join_path(path, "content"), "expected a non-empty object", "invalid_type")
    else:
        out["content"] = dict(content)
    topic = data.get("topic", settings.default_topic)
    if topic is not None:
        spec = settings.topic(topic) if isinstance(topic, str) else None
        if spec is None:
            problems.add(
                join_path(path, "topic"),
                f"unknown topic {topic!r} (topics: {', '.join(sorted(settings.topics))})",
            )
        elif "channel" in out and not spec.allows(out["channel"]):
            problems.add(
                join_path(path, "topic"),
                f"topic {topic!r} is not sent on {out['channel']!r} "
                f"(its channels: {', '.join(spec.channels)})",
            )
        else:
            out["topic"] = topic
    variables = data.get("variables", {})
    if not isinstance(variables, Mapping):
        problems.add(join_path(path, "variables"), "expected an object", "invalid_type")
    else:
        out["variables"] = dict(variables)
    if data.get("sendAtLocal") is not None:
        at = parse_clock(data["sendAtLocal"], join_path(path, "sendAtLocal"), problems)
        if at is not None:
            out["sendAtLocal"] = at.strftime("%H:%M")
    fallback = data.get("fallbackChannels")
    if fallback is not None:
        fpath = join_path(path, "fallbackChannels")
        if isinstance(fallback, str) or not isinstance(fallback, list | tuple):
            problems.add(fpath, "expected a list of channels", "invalid_type")
        else:
            for i, name in enumerate(fallback):
                if name not in settings.channels:
                    problems.add(join_path(fpath, i), f"unknown channel {name!r}")
            out["fallbackChannels"] = [str(c) for c in fallback]
    if len(problems.problems) > before:
        return None
    return out
