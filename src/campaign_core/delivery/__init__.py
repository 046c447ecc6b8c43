"""Messaging fans: the settings and the one send policy every send path shares.

- :class:`MessagingSettings` (``Settings(messaging=...)``): channels, consent topics
  and their defaults, throttles, quiet hours, frequency caps, costs, unsubscribe keys,
  the channel fallback policy.
- :class:`SendPolicy`: ``decide(...)`` answers :class:`Send`, :class:`Defer` or
  :class:`Suppress` for one fan and one message (consent, suppression, address, quiet
  hours and frequency caps in the fan's zone).
- Local times: :func:`send_at_local` resolves a ``sendAtLocal`` of ``"09:00"`` to the
  UTC instant for a fan's zone, across DST changes (a time in the spring-forward gap
  moves forward by the gap; a time that happens twice is its first occurrence).

Pure: no store, no clock; the caller passes ``now`` and what it loaded.
"""

from campaign_core.delivery._addresses import address_hash, normalize_address
from campaign_core.delivery._policy import REASONS, Decision, Defer, Send, SendPolicy, Suppress
from campaign_core.delivery._rules import (
    CLOCK_TIME,
    CapPeriod,
    FrequencyCap,
    QuietHours,
    local_instant,
    next_local,
    parse_clock,
    parse_frequency_cap,
    parse_quiet_hours,
    send_at_local,
)
from campaign_core.delivery._settings import (
    DEFAULT_CHANNELS,
    FALLBACK_REASONS,
    MessagingSettings,
    Topic,
)

__all__ = [
    "CLOCK_TIME",
    "DEFAULT_CHANNELS",
    "FALLBACK_REASONS",
    "REASONS",
    "CapPeriod",
    "Decision",
    "Defer",
    "FrequencyCap",
    "MessagingSettings",
    "QuietHours",
    "Send",
    "SendPolicy",
    "Suppress",
    "Topic",
    "address_hash",
    "local_instant",
    "next_local",
    "normalize_address",
    "parse_clock",
    "parse_frequency_cap",
    "parse_quiet_hours",
    "send_at_local",
]
