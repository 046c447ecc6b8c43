"""The send policy: one decision per fan and message, shared by every send path.

Broadcasts, the workflow ``send_message`` step and ``execute_action`` ask
:meth:`SendPolicy.decide` before they message a fan. The policy is pure: the caller
loads what it needs (consent records, the suppressed channels, recent sends: one query
each for a whole batch) and passes it in.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Final

import attrs

from campaign_core.delivery._consent import consent_granted
from campaign_core.delivery._rules import FrequencyCap, QuietHours
from campaign_core.delivery._settings import MessagingSettings, Topic
from campaign_core.models import Fan

__all__ = ["REASONS", "Decision", "Defer", "Send", "SendPolicy", "Suppress"]

REASONS: Final = (
    "fan_erased",
    "opted_out",
    "unknown_topic",
    "topic_not_on_channel",
    "unknown_channel",
    "no_address",
    "suppressed",
    "no_consent",
)
"""Why a fan is not messaged (:class:`Suppress` reasons, also counted per campaign)."""

_UNSET: Final = object()


@attrs.frozen
class Send:
    """Message the fan now, on ``channel`` at ``address`` (None: the platform's DM by fan id)."""

    channel: str
    address: str | None


@attrs.frozen
class Defer:
    """Not now: try again at ``until`` (quiet hours, a frequency cap)."""

    until: datetime
    reason: str


@attrs.frozen
class Suppress:
    """Do not message the fan at all.

    ``reason`` is one of ``fan_erased``, ``opted_out``, ``global_control`` (the fan is
    in their account's global control group), ``unknown_topic``,
    ``topic_not_on_channel``, ``unknown_channel``, ``no_address``, ``suppressed``,
    ``no_consent``.
    """

    reason: str


Decision = Send | Defer | Suppress
"""What :meth:`SendPolicy.decide` answers."""


@attrs.frozen
class SendPolicy:
    """Consent, suppression, addresses, quiet hours and frequency caps, in one place.

    Attributes:
        settings: the messaging settings (topics and their defaults, quiet hours,
            frequency caps, the fallback policy).
        default_time_zone: the zone of fans without one.
    """

    settings: MessagingSettings
    default_time_zone: str = "UTC"

    def zone(self, fan: Fan | None, fallback: str | None = None) -> zoneinfo.ZoneInfo:
        """The fan's time zone, else ``fallback`` (a workflow's), else the default."""
        for name in ((fan.time_zone if fan is not None else None), fallback):
            if name:
                try:
                    return zoneinfo.ZoneInfo(name)
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    continue
        return zoneinfo.ZoneInfo(self.default_time_zone)

    def eligible(
        self,
        *,
        fan: Fan | None,
        channels: Sequence[str] | str,
        topic: str | None,
        consent: Mapping[tuple[str, str], bool] | None = None,
        suppressed: Collection[str] = (),
        addresses: Mapping[str, str | None] | None = None,
    ) -> Send | Suppress:
        """Whether the fan may be messaged at all, and on which channel (no timing rules).

        Args:
            fan: the fan (None: erased).
            channels: the message's channel, then its fallbacks, in order.
            topic: the subscription topic (None: only the fan's global opt-out).
            consent: the fan's explicit consent records, ``{(channel, topic): granted}``;
                a missing record means the topic's default (opt-in or opt-out).
            suppressed: the channels whose address for this fan is on the
                account's suppression list.
            addresses: the fan's address per channel (addressless channels use
                the fan's id when none is given).
        """
        if fan is None:
            return Suppress("fan_erased")
        if fan.opted_out:
            return Suppress("opted_out")
        if self.settings.in_global_control(fan.owner_id, fan.fan_id):
            return Suppress("global_control")
        chain = (channels,) if isinstance(channels, str) else tuple(channels)
        spec = None
        if topic is not None:
            spec = self.settings.topic(topic)
            if spec is None:
                return Suppress("unknown_topic")
        consent = consent or {}
        addresses = addresses or {}
        reason = "unknown_channel"
        for index, channel in enumerate(chain):
            refused = self._refusal(fan, channel, topic, spec, consent, suppressed, addresses)
            if refused is None:
                address = addresses.get(channel)
                return Send(channel, address if address else None)
            reason = refused
            if index == len(chain) - 1 or reason not in self.settings.fallback_on:
                break
        return Suppress(reason)

    def _refusal(
        self,
        fan: Fan,
        channel: str,
        topic: str | None,
        spec: Topic | None,
        consent: Mapping[tuple[str, str], bool],
        suppressed: Collection[str],
        addresses: Mapping[str, str | None],
    ) -> str | None:
        if channel not in self.settings.channels:
            return "unknown_channel"
        if spec is not None and not spec.allows(channel):
            return "topic_not_on_channel"
        if not addresses.get(channel) and channel not in self.settings.addressless:
            return "no_address"
        if channel in suppressed:
            return "suppressed"
        if (
            topic is not None
            and spec is not None
            and not consent_granted(spec, consent.get((channel, topic)))
        ):
            return "no_consent"
        return None

    def timing(
        self,
        *,
        now: datetime,
        zone: zoneinfo.ZoneInfo,
        recent_sends: Sequence[datetime] = (),
        pending: int = 0,
        quiet_hours: QuietHours | object | None = _UNSET,
        frequency_caps: Sequence[FrequencyCap] | None = None,
    ) -> Defer | None:
        """Quiet hours, then frequency caps, in the fan's zone (None: may send now).

        Args:
            recent_sends: when the fan was last messaged (any path, any channel);
                only those inside each cap's period count.
            pending: messages to this fan already sent in the same batch.
            quiet_hours: replaces the settings' quiet hours (a workflow's own;
                None turns them off).
            frequency_caps: more caps on top of the settings' (a workflow's own).
        """
        quiet = self.settings.quiet_hours if quiet_hours is _UNSET else quiet_hours
        if isinstance(quiet, QuietHours):
            until = quiet.reopens(now, zone)
            if until is not None:
                return Defer(until, "quiet_hours")
        caps = [*self.settings.frequency_caps, *(frequency_caps or ())]
        latest: datetime | None = None
        for cap in caps:
            reopen = cap.reopens(now, zone, recent_sends, pending)
            if reopen is not None and (latest is None or reopen > latest):
                latest = reopen
        return Defer(latest, "frequency_cap") if latest is not None else None

    def decide(
        self,
        *,
        fan: Fan | None,
        channels: Sequence[str] | str,
        topic: str | None,
        now: datetime,
        consent: Mapping[tuple[str, str], bool] | None = None,
        suppressed: Collection[str] = (),
        addresses: Mapping[str, str | None] | None = None,
        recent_sends: Sequence[datetime] = (),
        pending: int = 0,
        time_zone: str | None = None,
        quiet_hours: QuietHours | object | None = _UNSET,
        frequency_caps: Sequence[FrequencyCap] | None = None,
    ) -> Decision:
        """Send, defer or suppress one message to one fan.

        Eligibility first (a fan who may not be messaged is suppressed, never
        deferred), then the timing rules in the fan's zone (``time_zone`` is the
        fallback for fans without one). See :meth:`eligible` and :meth:`timing`.
        """
        verdict = self.eligible(
            fan=fan,
            channels=channels,
            topic=topic,
            consent=consent,
            suppressed=suppressed,
            addresses=addresses,
        )
        if isinstance(verdict, Suppress):
            return verdict
        wait = self.timing(
            now=now,
            zone=self.zone(fan, time_zone),
            recent_sends=recent_sends,
            pending=pending,
            quiet_hours=quiet_hours,
            frequency_caps=frequency_caps,
        )
        return wait if wait is not None else verdict
