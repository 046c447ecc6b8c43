"""Messaging settings: channels, consent topics, throttles, quiet hours, caps, costs, keys.

They hang off :class:`~campaign_core.Settings` (``settings.messaging``) and are read by
every send path: broadcasts, the workflow ``send_message`` step and ``execute_action``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

import attrs

from campaign_core.abtesting import assign_variant
from campaign_core.delivery._rules import (
    FrequencyCap,
    QuietHours,
    parse_frequency_cap,
    parse_quiet_hours,
)
from campaign_core.delivery._tokens import check_mailto, check_unsubscribe_url
from campaign_core.durations import parse_duration
from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = ["DEFAULT_CHANNELS", "FALLBACK_REASONS", "MessagingSettings", "Topic"]

DEFAULT_CHANNELS: Final = ("dm", "email", "sms", "push")
"""The channels a :class:`MessagingSettings` knows unless the host says otherwise."""

FALLBACK_REASONS: Final = ("no_address", "no_consent", "suppressed")
"""Why a send may move on to the message's next channel (``fallback_on``)."""

_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_PATH: Final = "settings.messaging"


def _name(value: Any, path: str, problems: ProblemCollector) -> str | None:
    if not isinstance(value, str) or not _NAME.match(value):
        problems.add(path, "expected a name of lowercase letters, digits and '_' (1-32)")
        return None
    return value


@attrs.frozen(kw_only=True)
class Topic:
    """A subscription topic (``promotions``, ``updates``...).

    Attributes:
        default: what a fan without a consent record for the topic gets:
            ``"opt_out"`` (messaged until they refuse) or ``"opt_in"`` (only
            after they agree).
        channels: the channels the topic is sent on (empty: every channel).
    """

    default: Literal["opt_in", "opt_out"] = "opt_out"
    channels: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Any, path: str, problems: ProblemCollector) -> Topic | None:
        """A :class:`Topic`, or its JSON (``{"default": "opt_in", "channels": ["email"]}``)."""
        if isinstance(raw, Topic):
            data: Mapping[str, Any] = {"default": raw.default, "channels": raw.channels}
        elif isinstance(raw, Mapping):
            data = raw
        else:
            problems.add(path, "expected a Topic or an object", "invalid_type")
            return None
        bad = set(data) - {"default", "channels"}
        for key in sorted(bad, key=str):
            problems.add(join_path(path, str(key)), "unknown field", "unknown_field")
        default = data.get("default", "opt_out")
        if default not in ("opt_in", "opt_out"):
            problems.add(join_path(path, "default"), "expected 'opt_in' or 'opt_out'")
        channels = data.get("channels", ())
        if isinstance(channels, str) or not isinstance(channels, Iterable):
            problems.add(join_path(path, "channels"), "expected a list of channels", "invalid_type")
            return None
        clean = tuple(
            _name(c, join_path(join_path(path, "channels"), i), problems)
            for i, c in enumerate(channels)
        )
        if bad or default not in ("opt_in", "opt_out") or None in clean:
            return None
        return cls(default=default, channels=tuple(c for c in clean if c is not None))

    def allows(self, channel: str) -> bool:
        """Whether the topic is sent on ``channel``."""
        return not self.channels or channel in self.channels


def _default_topics() -> dict[str, Topic]:
    return {"promotions": Topic(), "updates": Topic()}


def _keys(value: Any) -> tuple[bytes, ...]:
    raw = [value] if isinstance(value, str | bytes) else value
    if not isinstance(raw, Iterable) or isinstance(raw, Mapping):
        raise ValidationError.single(
            f"{_PATH}.unsubscribe_keys", "expected a list of keys", "invalid_type"
        )
    out = []
    for i, key in enumerate(raw):
        key_bytes = key.encode() if isinstance(key, str) else key
        if not isinstance(key_bytes, bytes) or len(key_bytes) < 16:
            raise ValidationError.single(
                f"{_PATH}.unsubscribe_keys[{i}]", "a key must be at least 16 bytes"
            )
        out.append(key_bytes)
    if not out:
        raise ValidationError.single(f"{_PATH}.unsubscribe_keys", "at least one key", "required")
    return tuple(out)


def _ttl(value: Any) -> timedelta:
    span = parse_duration(value, path=f"{_PATH}.unsubscribe_ttl")
    if span <= timedelta(0):
        raise ValidationError.single(f"{_PATH}.unsubscribe_ttl", "must be longer than zero")
    return span


def in_global_control(owner_id: str, fan_id: str, percent: float | None) -> bool:
    """Whether a fan is in an account's global control group: sticky, by the A/B hashing.

    Args:
        owner_id: the account.
        fan_id: the fan.
        percent: the group's size (``MessagingSettings.global_control``; 0 or None: nobody).

    Returns:
        True for about ``percent`` % of the account's fans, always the same ones
        for the same percentage (a larger one adds fans, never swaps them).
    """
    if not percent:
        return False
    split = {"control": percent, "treated": 100.0 - percent}
    return assign_variant(f"global-control/{owner_id}", fan_id, split) == "control"


def _percent(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value < 100
    ):
        raise ValidationError.single(
            f"{_PATH}.{attribute.name}", "must be a percentage from 0 to below 100", "out_of_range"
        )


def _account_percents(value: Any) -> dict[str, float]:
    path = f"{_PATH}.global_control_accounts"
    if not isinstance(value, Mapping):
        raise ValidationError.single(
            path, "expected an object of account -> percentage", "invalid_type"
        )
    problems = ProblemCollector()
    out: dict[str, float] = {}
    for account, percent in value.items():
        here = join_path(path, str(account))
        if not isinstance(account, str) or not account:
            problems.add(here, "account ids are non-empty strings", "invalid_type")
        elif (
            isinstance(percent, bool)
            or not isinstance(percent, int | float)
            or not math.isfinite(percent)
            or not 0 <= percent < 100
        ):
            problems.add(here, "must be a percentage from 0 to below 100", "out_of_range")
        else:
            out[account] = float(percent)
    problems.raise_if_any()
    return out


def _https_url(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        problems = ProblemCollector()
        check_unsubscribe_url(value, f"{_PATH}.{attribute.name}", problems)
        problems.raise_if_any()


def _mailto(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        problems = ProblemCollector()
        check_mailto(value, f"{_PATH}.{attribute.name}", problems)
        problems.raise_if_any()


def _positive_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError.single(f"{_PATH}.{attribute.name}", "must be a positive integer")


def _names(value: Any, field: str) -> tuple[str, ...]:
    problems = ProblemCollector()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single(f"{_PATH}.{field}", "expected a list of names", "invalid_type")
    out = tuple(_name(v, f"{_PATH}.{field}[{i}]", problems) for i, v in enumerate(value))
    problems.raise_if_any()
    return tuple(v for v in out if v is not None)


def _channels(value: Any) -> tuple[str, ...]:
    out = _names(value, "channels")
    if not out:
        raise ValidationError.single(f"{_PATH}.channels", "at least one channel", "required")
    return out


def _addressless(value: Any) -> tuple[str, ...]:
    return _names(value, "addressless")


def _topics(value: Any) -> dict[str, Topic]:
    problems = ProblemCollector()
    out: dict[str, Topic] = {}
    for name, raw in _items(value, f"{_PATH}.topics", problems):
        path = f"{_PATH}.topics.{name}"
        if _name(name, path, problems) is not None:
            topic = Topic.of(raw, path, problems)
            if topic is not None:
                out[name] = topic
    problems.raise_if_any()
    return out


def _rates(value: Any) -> dict[str, float]:
    problems = ProblemCollector()
    out: dict[str, float] = {}
    for name, rate in _items(value, f"{_PATH}.rate_per_second", problems):
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1e6:
            problems.add(
                f"{_PATH}.rate_per_second.{name}",
                "expected a number of messages per second above 0 (at most 1000000)",
            )
        else:
            out[name] = float(rate)
    problems.raise_if_any()
    return out


def _costs(value: Any) -> dict[str, Decimal]:
    problems = ProblemCollector()
    out: dict[str, Decimal] = {}
    for name, cost in _items(value, f"{_PATH}.cost_per_message", problems):
        amount = _money(cost)
        if amount is None:
            problems.add(
                f"{_PATH}.cost_per_message.{name}",
                "expected an amount of at least 0 (a number or a decimal)",
            )
        else:
            out[name] = amount
    problems.raise_if_any()
    return out


def _quiet(value: Any) -> QuietHours | None:
    if value is None:
        return None
    problems = ProblemCollector()
    out = parse_quiet_hours(value, f"{_PATH}.quiet_hours", problems)
    problems.raise_if_any()
    return out


def _caps(value: Any) -> tuple[FrequencyCap, ...]:
    if isinstance(value, Mapping | FrequencyCap):
        value = [value]
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single(
            f"{_PATH}.frequency_caps", "expected a list of caps", "invalid_type"
        )
    problems = ProblemCollector()
    caps = [
        parse_frequency_cap(c, f"{_PATH}.frequency_caps[{i}]", problems)
        for i, c in enumerate(value)
    ]
    problems.raise_if_any()
    return tuple(c for c in caps if c is not None)


def _fallbacks(value: Any) -> dict[str, tuple[str, ...]]:
    problems = ProblemCollector()
    out: dict[str, tuple[str, ...]] = {}
    for name, chain in _items(value, f"{_PATH}.fallback_channels", problems):
        path = f"{_PATH}.fallback_channels.{name}"
        if isinstance(chain, str) or not isinstance(chain, Iterable):
            problems.add(path, "expected a list of channels", "invalid_type")
            continue
        out[name] = tuple(str(c) for c in chain)
    problems.raise_if_any()
    return out


def _reasons(value: Any) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single(
            f"{_PATH}.fallback_on", "expected a list of reasons", "invalid_type"
        )
    out = frozenset(value)
    for reason in sorted(out, key=str):
        if reason not in FALLBACK_REASONS:
            raise ValidationError.single(
                f"{_PATH}.fallback_on",
                f"unknown reason {reason!r} (expected: {', '.join(FALLBACK_REASONS)})",
            )
    return out


@attrs.frozen(kw_only=True)
class MessagingSettings:
    """How the core messages fans (``Settings(messaging=MessagingSettings(...))``).

    Every value is checked when built; a bad one raises a
    :class:`~campaign_core.errors.ValidationError` with its path
    (``settings.messaging.topics.promotions.default``). Mappings and lists are
    accepted as JSON (``quiet_hours={"start": "22:00", "end": "08:00"}``).

    Attributes:
        channels: the channels messages may use.
        addressless: channels that reach a fan by their id on the platform (a
            creator platform's DM): no address needed.
        topics: subscription topics by name (:class:`Topic`; JSON accepted). The
            default has ``promotions`` and ``updates``, both opt-out on every
            channel; hosts under opt-in rules (email marketing in the EU...)
            declare theirs.
        default_topic: the topic of a send that names none (a workflow's
            ``send_message``): its consent is checked like any other.
        rate_per_second: messages per second per account and channel (a channel
            left out is not throttled): a token bucket kept in the store, so every
            worker of the account draws from the same one; a batch reserves its
            tokens at once.
        quiet_hours: no messages in these local hours of the fan
            (``{"start": "22:00", "end": "08:00"}``); a workflow's own
            ``quietHours`` replaces it for that workflow.
        frequency_caps: at most so many messages per fan per period
            (``[{"max": 2, "per": "day"}, {"max": 5, "per": "week"}]``), over
            every channel and send path; a workflow's ``frequencyCap`` is added
            for that workflow's sends.
        cost_per_message: what one send costs per channel (counted toward the
            campaign's budget and its auto-pause).
        unsubscribe_keys: HMAC keys for unsubscribe tokens, the first signs and
            all verify (rotation). The default is public: production hosts set
            their own (each at least 16 bytes).
        unsubscribe_ttl: how long an unsubscribe token stays valid.
        unsubscribe_url: the host's ``https://`` endpoint that calls
            ``core.unsubscribe`` with the ``token`` query parameter (accepting a
            POST, for one-click). With it, every message carries its own link:
            ``{{ unsubscribe_url }}`` in templates the core renders, and the
            ``url`` and ``List-Unsubscribe`` headers in the messenger's
            ``unsubscribe`` argument.
        unsubscribe_mailto: an address for mail clients that unsubscribe by email
            (added to ``List-Unsubscribe``), optional.
        fallback_channels: the channels tried next per channel when a message
            names none (``{"push": ["email"]}``).
        fallback_on: why a send moves on to the next channel: ``no_address``
            (the default), ``no_consent``, ``suppressed``.
        snapshot_batch_size: fans a broadcast snapshots per transaction.
        max_attempts: tries of a failing send before it is ``failed``.
        global_control: the percentage of each account's fans in its global
            control group (0: none): sticky per fan (the A/B assignment hashing
            under ``global-control/<account>``), never messaged by any workflow
            or broadcast (suppressed with the reason ``global_control``), still
            tracked, so every workflow's goal conversion can be compared with
            theirs (the global lift in ``get_goal_stats``).
        global_control_accounts: per-account percentages that replace
            ``global_control`` for those accounts (``{"creator-7": 5, "creator-9": 0}``).
    """

    channels: tuple[str, ...] = attrs.field(default=DEFAULT_CHANNELS, converter=_channels)
    addressless: tuple[str, ...] = attrs.field(default=("dm",), converter=_addressless)
    topics: Mapping[str, Topic] = attrs.field(factory=_default_topics, converter=_topics)
    default_topic: str | None = "updates"
    rate_per_second: Mapping[str, float] = attrs.field(factory=dict, converter=_rates)
    quiet_hours: QuietHours | None = attrs.field(default=None, converter=_quiet)
    frequency_caps: tuple[FrequencyCap, ...] = attrs.field(default=(), converter=_caps)
    cost_per_message: Mapping[str, Decimal] = attrs.field(factory=dict, converter=_costs)
    unsubscribe_keys: tuple[bytes, ...] = attrs.field(
        default=(b"campaign-core-unsubscribe",), converter=_keys, repr=False
    )
    unsubscribe_ttl: timedelta = attrs.field(default=timedelta(days=30), converter=_ttl)
    unsubscribe_url: str | None = attrs.field(default=None, validator=_https_url)
    unsubscribe_mailto: str | None = attrs.field(default=None, validator=_mailto)
    fallback_channels: Mapping[str, tuple[str, ...]] = attrs.field(
        factory=dict, converter=_fallbacks
    )
    fallback_on: frozenset[str] = attrs.field(default=frozenset({"no_address"}), converter=_reasons)
    snapshot_batch_size: int = attrs.field(default=1000, validator=_positive_int)
    max_attempts: int = attrs.field(default=5, validator=_positive_int)
    global_control: float = attrs.field(default=0.0, validator=_percent)
    global_control_accounts: Mapping[str, float] = attrs.field(
        factory=dict, converter=_account_percents
    )

    def global_control_of(self, owner_id: str) -> float:
        """The global control percentage of one account."""
        return self.global_control_accounts.get(owner_id, self.global_control)

    def in_global_control(self, owner_id: str, fan_id: str) -> bool:
        """Whether a fan is in their account's global control group (see ``global_control``)."""
        return in_global_control(owner_id, fan_id, self.global_control_of(owner_id))

    def __attrs_post_init__(self) -> None:
        # every channel named anywhere must be declared
        problems = ProblemCollector()
        known = set(self.channels)

        def check(name: str, path: str) -> None:
            if name not in known:
                problems.add(
                    path, f"unknown channel {name!r} (channels: {', '.join(self.channels)})"
                )

        for i, c in enumerate(self.addressless):
            check(c, f"{_PATH}.addressless[{i}]")
        for name, topic in self.topics.items():
            for i, c in enumerate(topic.channels):
                check(c, f"{_PATH}.topics.{name}.channels[{i}]")
        if self.default_topic is not None and self.default_topic not in self.topics:
            problems.add(f"{_PATH}.default_topic", f"unknown topic {self.default_topic!r}")
        for name in self.rate_per_second:
            check(name, f"{_PATH}.rate_per_second.{name}")
        for name in self.cost_per_message:
            check(name, f"{_PATH}.cost_per_message.{name}")
        for name, chain in self.fallback_channels.items():
            check(name, f"{_PATH}.fallback_channels.{name}")
            for i, c in enumerate(chain):
                check(c, f"{_PATH}.fallback_channels.{name}[{i}]")
        problems.raise_if_any()

    def topic(self, name: str) -> Topic | None:
        """The topic called ``name``, if declared."""
        return self.topics.get(name)

    def cost(self, channel: str) -> Decimal:
        """What one message on ``channel`` costs (0 when not set)."""
        return self.cost_per_message.get(channel, Decimal(0))

    def channel_chain(self, channel: str, fallback: Iterable[str] | None = None) -> tuple[str, ...]:
        """``channel`` followed by its fallbacks (the message's, else the settings')."""
        rest = tuple(fallback) if fallback is not None else self.fallback_channels.get(channel, ())
        return tuple(dict.fromkeys((channel, *rest)))


def _items(value: Any, path: str, problems: ProblemCollector) -> list[tuple[str, Any]]:
    if not isinstance(value, Mapping):
        problems.add(path, "expected an object of channel -> value", "invalid_type")
        return []
    return [(str(k), v) for k, v in value.items()]


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value)) if isinstance(value, int | float | str) else value
    except InvalidOperation:
        return None
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
        return None
    return amount
