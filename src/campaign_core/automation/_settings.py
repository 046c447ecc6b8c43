"""Engine tunables and the registry of host-defined (custom) actions.

Both hang off :class:`~campaign_core.Settings` (``settings.automation``), so a
host configures the engine where it configures the rest of the core::

    registry = ActionRegistry()
    registry.register("crm_sync", call_my_crm)
    core = CampaignCore(store, settings=Settings(automation=AutomationSettings(actions=registry)))
"""

from __future__ import annotations

import re
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from campaign_core.automation._steps import BUILTIN_STEPS
from campaign_core.automation._webhooks import WebhookSettings
from campaign_core.errors import CampaignCoreError, ProblemCollector, ValidationError

__all__ = [
    "BUILTIN_ACTIONS",
    "DEFAULT_ENGAGEMENT_EVENTS",
    "ActionContext",
    "ActionFailed",
    "ActionRegistry",
    "AutomationSettings",
    "CustomAction",
]

BUILTIN_ACTIONS: Final = tuple(BUILTIN_STEPS)
"""The built-in action (step) types, from their step specs."""

DEFAULT_ENGAGEMENT_EVENTS: Final = (
    "message.opened",
    "message.clicked",
    "message.replied",
    "content.viewed",
    "content.liked",
    "content.commented",
    "content.purchased",
    "purchase",
    "tip",
    "like",
    "comment",
    "reply",
    "click",
)
"""Fan event names that count as engagement for ``check_engagement`` by default.

A name ending in ``.*`` matches every event with that prefix (``message.*``).
Events that automations emit never count.
"""

_ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_EVENT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}(\.\*)?$")


class ActionFailed(CampaignCoreError):
    """Raised by an action (custom handlers too) to fail the current attempt.

    Args:
        message: what went wrong, for the run's history.
        retryable: False skips the remaining retries and goes straight to the
            step's ``onError``.
    """

    code = "action_failed"
    http_status = 502

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message, details={"retryable": retryable})
        self.retryable = retryable


@attrs.frozen(kw_only=True)
class ActionContext:
    """What a custom action handler gets.

    Attributes:
        owner_id: the workflow's owner (creator account).
        fan_id: the fan the run is for.
        fan: the fan's record (a :class:`~campaign_core.models.Fan`), or None.
        automation_id / run_id / step_id: where the call comes from.
        params: the step's parameters (the action object without ``type``,
            ``id``, ``onError`` and ``next``).
        variables: the run's variables so far (read-only copy).
        trigger_data: what started the run.
        idempotency_key: stable for this (run, step, visit): pass it to any
            external system so a retried or recovered step is not done twice.
        attempt: 1 for the first try, then 2, 3...
        now: the engine's current instant (aware UTC).
    """

    owner_id: str
    fan_id: str
    fan: Any
    automation_id: str
    run_id: str
    step_id: str
    params: Mapping[str, Any]
    variables: Mapping[str, Any]
    trigger_data: Mapping[str, Any]
    idempotency_key: str
    attempt: int
    now: datetime


ActionHandler = Callable[[ActionContext], Mapping[str, Any] | None]
ActionValidator = Callable[[Mapping[str, Any], str, ProblemCollector], None]


@attrs.frozen
class CustomAction:
    """A host-defined action type.

    Attributes:
        name: the ``type`` workflows use (lowercase, digits, ``_``).
        handler: called with an :class:`ActionContext`; returns output
            variables (a JSON object) or None; raises to fail the attempt
            (:class:`ActionFailed` to control retrying).
        validate: checks the step's parameters when a workflow is created or
            activated: ``validate(params, path, problems)`` adds problems.
        messaging: the action messages the fan, so quiet hours and frequency
            caps apply to it as to ``send_message``.
        builtin: one of the engine's own step types (its handler gets the
            engine's step call, not an :class:`ActionContext`); hosts never set it.
    """

    name: str
    handler: ActionHandler
    validate: ActionValidator | None = None
    messaging: bool = False
    builtin: bool = attrs.field(default=False, kw_only=True)


class ActionRegistry:
    """The custom action types of a core (thread-safe)."""

    def __init__(self, actions: Iterable[CustomAction] = ()) -> None:
        self._lock = threading.Lock()
        self._actions: dict[str, CustomAction] = {}
        for action in actions:
            self.register(
                action.name, action.handler, validate=action.validate, messaging=action.messaging
            )

    def register(
        self,
        name: str,
        handler: ActionHandler,
        *,
        validate: ActionValidator | None = None,
        messaging: bool = False,
    ) -> CustomAction:
        """Add (or replace) a custom action type.

        Args:
            name: the action ``type`` (``[a-z][a-z0-9_]*``, not a built-in type).
            handler: see :class:`CustomAction`.
            validate: see :class:`CustomAction`.
            messaging: see :class:`CustomAction`.

        Returns:
            The registered action.

        Raises:
            ValidationError: a bad name, a built-in name, or a handler that is
                not callable.
        """
        if not isinstance(name, str) or not _ACTION_NAME.match(name):
            raise ValidationError.single(
                "name", "action types are lowercase letters, digits and '_' (at most 64)"
            )
        if name in BUILTIN_ACTIONS:
            raise ValidationError.single("name", f"{name!r} is a built-in action type")
        if not callable(handler):
            raise ValidationError.single("handler", "must be callable", "invalid_type")
        if validate is not None and not callable(validate):
            raise ValidationError.single("validate", "must be callable", "invalid_type")
        action = CustomAction(name, handler, validate, bool(messaging))
        with self._lock:
            self._actions[name] = action
        return action

    @classmethod
    def of_builtins(cls, actions: Iterable[CustomAction]) -> ActionRegistry:
        """A registry of built-in step types (how the engine registers its own actions).

        Args:
            actions: one action per built-in step type, named after its step spec.

        Returns:
            The registry, every action in it marked ``builtin``.

        Raises:
            ValidationError: a name that is not a built-in step type.
        """
        registry = cls()
        for action in actions:
            if action.name not in BUILTIN_STEPS:
                raise ValidationError.single("name", f"{action.name!r} is not a built-in type")
            registry._actions[action.name] = attrs.evolve(action, builtin=True)
        return registry

    def unregister(self, name: str) -> bool:
        """Remove a custom action type; True if it was registered."""
        with self._lock:
            return self._actions.pop(name, None) is not None

    def get(self, name: str) -> CustomAction | None:
        """The custom action called ``name``, or None."""
        with self._lock:
            return self._actions.get(name)

    def names(self) -> tuple[str, ...]:
        """Every registered custom action type, sorted."""
        with self._lock:
            return tuple(sorted(self._actions))

    def __repr__(self) -> str:
        return f"ActionRegistry({', '.join(self.names())})"


def _positive_span(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError.single(
            f"settings.automation.{attribute.name}", "must be a positive duration"
        )


def _positive_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value > 10**9:
        raise ValidationError.single(
            f"settings.automation.{attribute.name}", "must be an integer from 1 to 10**9"
        )


def _retries(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 20:
        raise ValidationError.single(
            "settings.automation.action_retries", "must be an integer from 0 to 20"
        )


def _event_patterns(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single(
            "settings.automation.engagement_events", "expected a list of event names"
        )
    out = tuple(value)
    problems = ProblemCollector()
    for index, name in enumerate(out):
        if not isinstance(name, str) or not _EVENT_PATTERN.match(name):
            problems.add(
                f"settings.automation.engagement_events[{index}]",
                "expected an event name, or a prefix ending in '.*'",
            )
    problems.raise_if_any()
    return out


def _templates(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single(
            "settings.automation.message_templates", "expected a set of template names or None"
        )
    names = frozenset(value)
    if not all(isinstance(n, str) and n for n in names):
        raise ValidationError.single(
            "settings.automation.message_templates", "template names must be non-empty strings"
        )
    return names


def _time_zone(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError.single(
            "settings.automation.default_time_zone", f"{value!r} is not an IANA time zone"
        ) from None


@attrs.frozen(kw_only=True)
class AutomationSettings:
    """How the automation engine behaves (``Settings(automation=AutomationSettings(...))``).

    Attributes:
        action_retries: retries of a failed action before its ``onError``
            applies (the seed: 3, so up to 4 attempts).
        retry_base / retry_max: exponential backoff between attempts:
            ``retry_base * 2**(attempt - 1)``, at most ``retry_max``.
        default_timeout: a run not finished this long after it entered is
            cancelled and its owner alerted (a workflow's ``settings.timeout``
            overrides it).
        max_steps_per_run: the runaway budget: a run that executes more steps
            fails.
        max_chain_depth: runs started by automation-emitted events may start
            others only this deep (a guard against loops validation cannot see).
        sweep_interval: how often behaviour triggers re-check the owner's fans.
        sweep_page_size: fans read per query during sweeps and segment fires.
        sweep_fans_per_tick: at most this many fans per trigger per ``tick()``
            (a pass resumes at the next tick).
        runs_per_tick: at most this many run advances per ``tick()`` (claimed
            ``Settings.tick_batch_size`` at a time).
        engagement_events: the fan events that count as engagement for
            ``check_engagement`` (names, or prefixes ending in ``.*``).
        message_templates: when set, ``send_message`` templates must be one of
            these (checked at create and activate); None accepts any name.
        default_time_zone: the time zone for quiet hours, frequency caps and
            ``wait until`` when neither the fan nor the workflow has one.
        actions: the custom action types (:class:`ActionRegistry`).
        webhooks: which URLs, headers and timeouts ``webhook`` steps may use
            (:class:`WebhookSettings`: https only and public hosts by default).
        experiment_look_interval: how often ``tick()`` looks at a running
            ``random_split`` experiment (counts its paths' goal conversion and asks
            the decision policy); a fixed-horizon one is only counted once enough
            runs have taken the split.
    """

    action_retries: int = attrs.field(default=3, validator=_retries)
    retry_base: timedelta = attrs.field(default=timedelta(minutes=1), validator=_positive_span)
    retry_max: timedelta = attrs.field(default=timedelta(hours=1), validator=_positive_span)
    default_timeout: timedelta = attrs.field(default=timedelta(days=90), validator=_positive_span)
    max_steps_per_run: int = attrs.field(default=500, validator=_positive_int)
    max_chain_depth: int = attrs.field(default=5, validator=_positive_int)
    sweep_interval: timedelta = attrs.field(default=timedelta(minutes=15), validator=_positive_span)
    sweep_page_size: int = attrs.field(default=1000, validator=_positive_int)
    sweep_fans_per_tick: int = attrs.field(default=50_000, validator=_positive_int)
    runs_per_tick: int = attrs.field(default=10_000, validator=_positive_int)
    engagement_events: tuple[str, ...] = attrs.field(
        default=DEFAULT_ENGAGEMENT_EVENTS, converter=_event_patterns
    )
    message_templates: frozenset[str] | None = attrs.field(default=None, converter=_templates)
    default_time_zone: str = attrs.field(default="UTC", validator=_time_zone)
    actions: ActionRegistry = attrs.field(factory=ActionRegistry, eq=False)
    webhooks: WebhookSettings = attrs.field(factory=WebhookSettings)
    experiment_look_interval: timedelta = attrs.field(
        default=timedelta(hours=1), validator=_positive_span
    )

    def retry_delay(self, attempt: int) -> timedelta:
        """The wait before attempt ``attempt + 1`` after ``attempt`` failed."""
        exponent = min(max(attempt - 1, 0), 30)
        delay: timedelta = min(self.retry_base * (2**exponent), self.retry_max)
        return delay
