"""Consent per fan, channel and topic: explicit records over the topic's default (pure).

A fan with a :class:`~campaign_core.models.FanConsent` record for a channel and a
topic has what the record says; without one, the topic's default decides
(``opt_out``: granted until refused; ``opt_in``: refused until granted). The
send policy (``SendPolicy.eligible``) and ``ws.fans.get_consent`` both read
it through :func:`consent_granted`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from campaign_core.delivery._settings import MessagingSettings, Topic
from campaign_core.errors import ProblemCollector
from campaign_core.models import FanConsent

__all__ = ["ConsentState", "check_channel_topic", "consent_granted", "consent_states"]


def consent_granted(topic: Topic, explicit: bool | None) -> bool:
    """Whether a fan may get ``topic``: their explicit choice, else the topic's default."""
    return explicit if explicit is not None else topic.default == "opt_out"


@attrs.frozen(kw_only=True)
class ConsentState:
    """A fan's consent for one channel and topic, as it stands.

    Attributes:
        channel / topic: what it is about.
        granted: whether messages of the topic may go to the fan on the channel.
        explicit: the fan (or an operator, an unsubscribe link) decided; False:
            the topic's default applies.
        default: the topic's default (``opt_in`` or ``opt_out``).
        source / reason / updated_at: the explicit record's, None for a default.
    """

    channel: str
    topic: str
    granted: bool
    explicit: bool
    default: str
    source: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "topic": self.topic,
            "granted": self.granted,
            "explicit": self.explicit,
            "default": self.default,
            "source": self.source,
            "reason": self.reason,
            "updatedAt": None if self.updated_at is None else self.updated_at.isoformat(),
        }


def consent_states(
    settings: MessagingSettings,
    records: Iterable[FanConsent],
    *,
    channel: str | None = None,
    topic: str | None = None,
) -> list[ConsentState]:
    """Every (channel, topic) pair the settings declare (or the one asked), with its state.

    Pairs are those where the topic is sent on the channel, in the settings' order
    (topics, then channels). Records for pairs the settings no longer declare are
    left out.
    """
    explicit: Mapping[tuple[str, str], FanConsent] = {(r.channel, r.topic): r for r in records}
    out = []
    for name, spec in settings.topics.items():
        if topic is not None and name != topic:
            continue
        for ch in settings.channels:
            if (channel is not None and ch != channel) or not spec.allows(ch):
                continue
            record = explicit.get((ch, name))
            out.append(
                ConsentState(
                    channel=ch,
                    topic=name,
                    granted=consent_granted(spec, None if record is None else record.granted),
                    explicit=record is not None,
                    default=spec.default,
                    source=None if record is None else record.source,
                    reason=None if record is None else record.reason,
                    updated_at=None if record is None else record.updated_at,
                )
            )
    return out


def check_channel_topic(
    settings: MessagingSettings,
    channel: Any,
    topic: Any,
    problems: ProblemCollector,
    *,
    channel_path: str = "channel",
    topic_path: str = "topic",
    topic_required: bool = True,
) -> None:
    """Record a problem for an unknown channel, an unknown topic, or a topic not sent on the channel."""
    known_channel = isinstance(channel, str) and channel in settings.channels
    if not known_channel:
        problems.add(
            channel_path,
            f"unknown channel {channel!r} (channels: {', '.join(settings.channels)})",
            "unknown_channel",
        )
    if topic is None and not topic_required:
        return
    spec = settings.topic(topic) if isinstance(topic, str) else None
    if spec is None:
        problems.add(
            topic_path,
            f"unknown topic {topic!r} (topics: {', '.join(settings.topics)})",
            "unknown_topic",
        )
    elif known_channel and not spec.allows(str(channel)):
        problems.add(
            topic_path,
            f"topic {topic!r} is not sent on channel {channel!r}"
            f" (its channels: {', '.join(spec.channels)})",
            "topic_not_on_channel",
        )
