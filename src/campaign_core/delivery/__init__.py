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
- Consent: :class:`ConsentState` is what ``ws.fans.get_consent`` shows per channel and
  topic (an explicit record, else the topic's default).

Unsubscribe tokens, provider feedback, address hashing and the parsers are building
blocks of the services (``ws.fans``, ``core.unsubscribe``); they are not public.

Pure: no store, no clock; the caller passes ``now`` and what it loaded.
"""

from campaign_core.delivery._addresses import (
    address_hash as address_hash,
)
from campaign_core.delivery._addresses import (
    normalize_address as normalize_address,
)
from campaign_core.delivery._consent import (
    ConsentState,
)
from campaign_core.delivery._consent import (
    check_channel_topic as check_channel_topic,
)
from campaign_core.delivery._consent import (
    consent_granted as consent_granted,
)
from campaign_core.delivery._consent import (
    consent_states as consent_states,
)
from campaign_core.delivery._feedback import (
    BOUNCE_KINDS as BOUNCE_KINDS,
)
from campaign_core.delivery._feedback import (
    FEEDBACK_TYPES as FEEDBACK_TYPES,
)
from campaign_core.delivery._feedback import (
    feedback_changes as feedback_changes,
)
from campaign_core.delivery._feedback import (
    suppresses as suppresses,
)
from campaign_core.delivery._message import (
    MESSAGE_KEYS as MESSAGE_KEYS,
)
from campaign_core.delivery._message import (
    parse_message as parse_message,
)
from campaign_core.delivery._policy import (
    REASONS as REASONS,
)
from campaign_core.delivery._policy import (
    Decision,
    Defer,
    Send,
    SendPolicy,
    Suppress,
)
from campaign_core.delivery._rules import (
    CLOCK_TIME as CLOCK_TIME,
)
from campaign_core.delivery._rules import (
    CapPeriod,
    FrequencyCap,
    QuietHours,
    send_at_local,
)
from campaign_core.delivery._rules import (
    local_instant as local_instant,
)
from campaign_core.delivery._rules import (
    next_local as next_local,
)
from campaign_core.delivery._rules import (
    parse_clock as parse_clock,
)
from campaign_core.delivery._rules import (
    parse_frequency_cap as parse_frequency_cap,
)
from campaign_core.delivery._rules import (
    parse_quiet_hours as parse_quiet_hours,
)
from campaign_core.delivery._settings import (
    DEFAULT_CHANNELS as DEFAULT_CHANNELS,
)
from campaign_core.delivery._settings import (
    FALLBACK_REASONS as FALLBACK_REASONS,
)
from campaign_core.delivery._settings import (
    MessagingSettings,
    Topic,
    in_global_control,
)
from campaign_core.delivery._tokens import (
    MAX_TOKEN_LENGTH as MAX_TOKEN_LENGTH,
)
from campaign_core.delivery._tokens import (
    UnsubscribeToken as UnsubscribeToken,
)
from campaign_core.delivery._tokens import (
    check_mailto as check_mailto,
)
from campaign_core.delivery._tokens import (
    check_unsubscribe_url as check_unsubscribe_url,
)
from campaign_core.delivery._tokens import (
    list_unsubscribe_headers as list_unsubscribe_headers,
)
from campaign_core.delivery._tokens import (
    read_unsubscribe_token as read_unsubscribe_token,
)
from campaign_core.delivery._tokens import (
    sign_unsubscribe_token as sign_unsubscribe_token,
)
from campaign_core.delivery._tokens import (
    unsubscribe_link as unsubscribe_link,
)

__all__ = [
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
    "in_global_control",
    "send_at_local",
]
