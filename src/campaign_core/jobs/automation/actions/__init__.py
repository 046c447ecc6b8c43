"""The built-in actions: one module each, registered like custom actions.

Every step type, built-in or the host's, is an entry of an
:class:`~campaign_core.automation.ActionRegistry`: the built-ins in :data:`BUILTINS`
(their language side, what a step may say, is the step spec of the same name in
:mod:`campaign_core.automation`), the host's in ``settings.automation.actions``. The
engine looks a step's type up in both and calls what it finds; a built-in's handler
gets the engine's ``StepCall``, a custom one an
:class:`~campaign_core.automation.ActionContext` holding copies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, cast

from campaign_core.automation import BUILTIN_STEPS, ActionRegistry, CustomAction
from campaign_core.jobs.automation._state import StepCall, StepResult
from campaign_core.jobs.automation.actions import (
    _add_to_segment,
    _check_engagement,
    _condition_split,
    _create_campaign,
    _emit_event,
    _exit,
    _random_split,
    _remove_from_segment,
    _send_message,
    _update_fan,
    _update_trait,
    _wait,
    _wait_until,
    _webhook,
)
from campaign_core.jobs.automation.actions._custom import run_custom

__all__ = [
    "BUILTINS",
]

BuiltinHandler = Callable[[StepCall], StepResult]

_MODULES: Final = (
    _wait,
    _wait_until,
    _random_split,
    _send_message,
    _check_engagement,
    _condition_split,
    _create_campaign,
    _add_to_segment,
    _remove_from_segment,
    _update_fan,
    _update_trait,
    _emit_event,
    _webhook,
    _exit,
)


def _builtins() -> ActionRegistry:
    handlers: dict[str, BuiltinHandler] = {m.NAME: m.run for m in _MODULES}
    if set(handlers) != set(BUILTIN_STEPS):  # pragma: no cover - a spec without an action
        raise RuntimeError(f"built-in actions {sorted(handlers)} != steps {sorted(BUILTIN_STEPS)}")
    return ActionRegistry.of_builtins(
        CustomAction(name, handler, messaging=BUILTIN_STEPS[name].messaging)  # type: ignore[arg-type]
        for name, handler in handlers.items()
    )


BUILTINS: Final = _builtins()
"""The built-in step types (``wait``, ``send_message``...): their execution."""


def lookup(name: str, custom: ActionRegistry) -> CustomAction | None:
    """The action of step type ``name``: a built-in, else the host's, else None.

    Args:
        name: a step's ``type``.
        custom: the host's registry (``settings.automation.actions``).

    Returns:
        The registered action, or None (a step whose handler is gone fails).
    """
    return BUILTINS.get(name) or custom.get(name)


def invoke(action: CustomAction, call: StepCall) -> StepResult:
    """Run ``action`` for one step.

    Args:
        action: from :func:`lookup`.
        call: the step being run.

    Returns:
        What the step did.
    """
    if action.builtin:
        return cast(BuiltinHandler, action.handler)(call)
    return run_custom(action, call)


def messaging_types(custom: ActionRegistry) -> list[str]:
    """Every step type that messages fans (what frequency caps count).

    Args:
        custom: the host's registry.

    Returns:
        Their names, built-ins first.
    """
    out = []
    for registry in (BUILTINS, custom):
        for name in registry.names():
            action = registry.get(name)
            if action is not None and action.messaging:
                out.append(name)
    return out
