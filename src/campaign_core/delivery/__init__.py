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
- Consent: :func:`consent_granted` (an explicit record, else the topic's default),
  :func:`consent_states` (what ``ws.fans.get_consent`` shows).
- Unsubscribe tokens (:func:`sign_unsubscribe_token`, :func:`read_unsubscribe_token`).
- Provider feedback: :func:`feedback_changes` moves a delivery forward only,
  :func:`suppresses` says which events suppress the address.

Pure: no store, no clock; the caller passes ``now`` and what it loaded.
"""

from campaign_core.delivery._addresses import address_hash, normalize_address
from campaign_core.delivery._consent import (
    ConsentState,
    check_channel_topic,
    consent_granted,
    consent_states,
)
from campaign_core.delivery._feedback import (
    BOUNCE_KINDS,
    FEEDBACK_TYPES,
    feedback_changes,
    suppresses,
)
from campaign_core.delivery._message import MESSAGE_KEYS, parse_message
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
from campaign_core.delivery._tokens import (
    MAX_TOKEN_LENGTH,
    UnsubscribeToken,
    read_unsubscribe_token,
    sign_unsubscribe_token,
)

__all__ = [
    "BOUNCE_KINDS",
    "CLOCK_TIME",
    "DEFAULT_CHANNELS",
    "FALLBACK_REASONS",
    "FEEDBACK_TYPES",
    "MAX_TOKEN_LENGTH",
    "MESSAGE_KEYS",
    "REASONS",
    "CapPeriod",
    "ConsentState",
    "Decision",
    "Defer",
    "FrequencyCap",
    "MessagingSettings",
    "QuietHours",
    "Send",
    "SendPolicy",
    "Suppress",
    "Topic",
    "UnsubscribeToken",
    "address_hash",
    "check_channel_topic",
    "consent_granted",
    "consent_states",
    "feedback_changes",
    "local_instant",
    "next_local",
    "normalize_address",
    "parse_clock",
    "parse_frequency_cap",
    "parse_message",
    "parse_quiet_hours",
    "read_unsubscribe_token",
    "send_at_local",
    "sign_unsubscribe_token",
    "suppresses",
]
