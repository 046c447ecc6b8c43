"""Settings: the tunable behaviour of a :class:`~campaign_core.CampaignCore`.

The host builds one :class:`Settings` and hands it to the composition root; every
value is checked when it is built, so a bad setting fails at start-up with its path
(``settings.tick_batch_size``), never in the middle of a tick.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import attrs

from campaign_core._validate import v_enum
from campaign_core.automation import AutomationSettings
from campaign_core.delivery import MessagingSettings
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.models import FAN_FIELDS, TraitType
from campaign_core.publishing import PlatformRegistry, PlatformRules, RetryPolicy
from campaign_core.ratelimit import RateLimits

__all__ = [
    "RetentionSettings",
    "Settings",
]

_TRAIT_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def validate_trait_types(declared: Mapping[str, Any]) -> dict[str, TraitType]:
    """Check a host's trait declarations (``{"favorite_game": "string"}``).

    Raises:
        ValidationError: a bad name or an unknown type, with the trait's path.
    """
    problems = ProblemCollector()
    out: dict[str, TraitType] = {}
    if not isinstance(declared, Mapping):
        raise ValidationError.single(
            "fan_traits", "expected an object of name -> type", "invalid_type"
        )
    for name, kind in declared.items():
        path = join_path("fan_traits", str(name))
        if not isinstance(name, str) or not _TRAIT_NAME.match(name):
            problems.add(
                path, "trait names are letters, digits and '_' (at most 64)", "invalid_value"
            )
            continue
        if name in FAN_FIELDS or name in ("id", "fan_id", "owner_id"):
            problems.add(path, "shadows a built-in fan field", "invalid_value")
            continue
        clean = v_enum(kind, path, problems, TraitType)
        if clean is not None:
            out[name] = clean
    problems.raise_if_any()
    return out


def _positive_span(instance: Any, attribute: attrs.Attribute[Any], value: timedelta) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError.single(f"settings.{attribute.name}", "must be a positive duration")


def _positive_int(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError.single(f"settings.{attribute.name}", "must be a positive integer")


def _automation_settings(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, AutomationSettings):
        raise ValidationError.single(
            "settings.automation", "expected an AutomationSettings", "invalid_type"
        )


def _messaging_settings(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, MessagingSettings):
        raise ValidationError.single(
            "settings.messaging", "expected a MessagingSettings", "invalid_type"
        )


def _holdout(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 50.0:
        raise ValidationError.single(
            "settings.winner_holdout_percent", "must be a number from 0 to 50"
        )


def _platform_registry(value: Any) -> PlatformRegistry:
    try:
        return PlatformRegistry.declare(value)
    except ValidationError as exc:
        raise exc.prefixed("settings") from None


def _key_bytes(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    if not isinstance(raw, bytes) or len(raw) < 16:
        raise ValidationError.single("settings.pseudonym_key", "must be at least 16 bytes")
    return raw


_MAX_RETENTION_DAYS: Final = 36_500


def _days(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= _MAX_RETENTION_DAYS
    ):
        raise ValidationError.single(
            f"settings.retention.{attribute.name}",
            f"must be None (keep forever) or a whole number of days from 1 to {_MAX_RETENTION_DAYS}",
        )


def _retention_batch(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
        # the ids go into one DELETE ... IN (...): well under every driver's bind limit
        raise ValidationError.single(
            "settings.retention.batch_size", "must be a whole number from 1 to 10000"
        )


def _idempotency_hours(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 24 * 30:
        raise ValidationError.single(
            "settings.retention.idempotency_hours", "must be a whole number of hours from 1 to 720"
        )


@attrs.frozen(kw_only=True)
class RetentionSettings:
    """How long records are kept; ``core.tick()`` purges older ones in bounded batches.

    ``None`` keeps a kind forever (the default for every kind). See
    :mod:`campaign_core.jobs.retention` for what is never purged.

    Attributes:
        audit_records_days: audit records older than this many days (by ``at``).
        deliveries_days: broadcast delivery records (``deliveries``) in a final
            status, last changed more than this many days ago, of broadcasts that
            have finished; never inside the longest frequency-cap period.
        batch_size: the most rows of each kind one tick deletes (one ``SELECT``
            and one ``DELETE ... WHERE id IN (...)`` per kind and tick; 1-10000,
            so the ids stay well under the drivers' bind-parameter limits).
        idempotency_hours: how long the HTTP API replays the response to a POST
            sent with an ``Idempotency-Key`` (1-720, default 24); the rows of
            expired keys and of signed requests outside their replay window
            (``idempotency_records``) are purged by the tick, like the others.
    """

    audit_records_days: int | None = attrs.field(default=None, validator=_days)
    deliveries_days: int | None = attrs.field(default=None, validator=_days)
    batch_size: int = attrs.field(default=1000, validator=_retention_batch)
    idempotency_hours: int = attrs.field(default=24, validator=_idempotency_hours)


def _retention_settings(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, RetentionSettings):
        raise ValidationError.single(
            "settings.retention", "expected a RetentionSettings", "invalid_type"
        )


@attrs.frozen(kw_only=True)
class Settings:
    """Tunable behaviour of a :class:`~campaign_core.CampaignCore`.

    Attributes:
        schedule_conflict_window: campaigns of one owner scheduled this close
            together on a shared platform or segment are reported as conflicts.
        strict_scheduling: raise ``ConflictError`` on a scheduling conflict
            instead of reporting it.
        default_page_size / max_page_size: list pagination.
        publish_retry: how failed publishes are retried (attempts, exponential
            backoff with jitter, honouring a platform's retry-after).
        platforms: the platforms campaigns may publish to: the built-in four
            plus the host's, declared as data
            (``{"threads": {"limits": {"caption": 500}, "metricDimension": "threads"}}``,
            see :meth:`~campaign_core.publishing.PlatformSpec.from_json`) or as
            :class:`~campaign_core.publishing.PlatformSpec`; read back as the
            core's :class:`~campaign_core.publishing.PlatformRegistry`, with the
            limits of ``platform_rules``.
        platform_rules: each platform's limits (caption length, hashtags, media,
            prices...), overridable: ``PlatformRules.default().with_overrides({...})``;
            a declared platform these rules leave out keeps its declared limits.
        lease_duration: how long a worker holds claimed work before another may take it.
        credential_recheck: how often a publish job waiting for usable
            credentials (keys missing or wrong: a configuration error) looks again.
        tick_batch_size: how many items of each kind one ``tick()`` handles.
        winner_holdout_percent: after ``apply_winner``, the share of a test's
            fans that keep seeing the baseline for ``winner_validation_window``,
            so the decision can be checked on fresh data (WinnerDeterminationAccuracy);
            0 turns the check off.
        winner_validation_window: how long that holdout lasts.
        messaging: how fans are messaged, on every send path
            (:class:`~campaign_core.delivery.MessagingSettings`: channels,
            consent topics and their opt-in/opt-out defaults, messages per
            second per channel, quiet hours, frequency caps, cost per message,
            unsubscribe keys, channel fallbacks).
        rate_limits: per-account limits on API calls, launches and automation
            runs (:class:`~campaign_core.ratelimit.RateLimits`; off by default).
        pseudonym_key: the secret for keyed pseudonyms of fans in audit records
            and analytics output. The default is public, so anyone who knows a
            fan's id could recompute its pseudonym: production hosts must set
            their own (a str or bytes of at least 16), the same in every process.
        fan_traits: the host's custom fan traits and their types
            (``{"favorite_game": "string", "tier": "number"}``; types: string,
            number, boolean, datetime, string_list).
        automation: the automation engine's tunables and custom action types
            (:class:`~campaign_core.automation.AutomationSettings`: retries and
            backoff, run timeout, step budget, sweep interval, engagement
            events, known message templates, default time zone, actions).
        retention: how long audit and delivery records are kept
            (:class:`RetentionSettings`; everything is kept by default).
    """

    schedule_conflict_window: timedelta = attrs.field(
        default=timedelta(hours=24), validator=_positive_span
    )
    strict_scheduling: bool = False
    default_page_size: int = attrs.field(default=20, validator=_positive_int)
    max_page_size: int = attrs.field(default=200, validator=_positive_int)
    publish_retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    platforms: PlatformRegistry = attrs.field(
        factory=PlatformRegistry.default, converter=_platform_registry
    )
    platform_rules: PlatformRules = attrs.field(factory=PlatformRules.default)
    lease_duration: timedelta = attrs.field(default=timedelta(minutes=5), validator=_positive_span)
    credential_recheck: timedelta = attrs.field(
        default=timedelta(minutes=5), validator=_positive_span
    )
    tick_batch_size: int = attrs.field(default=100, validator=_positive_int)
    fan_traits: Mapping[str, Any] = attrs.field(factory=dict, converter=validate_trait_types)
    automation: AutomationSettings = attrs.field(
        factory=AutomationSettings, validator=_automation_settings
    )
    messaging: MessagingSettings = attrs.field(
        factory=MessagingSettings, validator=_messaging_settings
    )
    rate_limits: RateLimits = attrs.field(factory=RateLimits)
    winner_holdout_percent: float = attrs.field(default=10.0, validator=_holdout)
    winner_validation_window: timedelta = attrs.field(
        default=timedelta(days=7), validator=_positive_span
    )
    pseudonym_key: bytes = attrs.field(
        default=b"campaign-core-pseudonyms", converter=_key_bytes, repr=False
    )
    retention: RetentionSettings = attrs.field(
        factory=RetentionSettings, validator=_retention_settings
    )

    def __attrs_post_init__(self) -> None:
        # One truth for limits: the registry takes platform_rules' limits, and the
        # rules then cover every platform (a declared one keeps its own limits).
        rules: Any = self.platform_rules
        if not isinstance(rules, PlatformRules):
            raise ValidationError.single(
                "settings.platform_rules", "expected PlatformRules", "invalid_type"
            )
        try:
            registry = self.platforms.with_rules(rules)
        except ValidationError as exc:
            raise exc.prefixed("settings") from None
        object.__setattr__(self, "platforms", registry)
        object.__setattr__(self, "platform_rules", registry.rules)
