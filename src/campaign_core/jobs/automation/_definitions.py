"""Stored workflow definitions, compiled once per content."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from campaign_core._runtime import Runtime
from campaign_core.automation import Workflow, parse_workflow
from campaign_core.criteria import FieldRegistry
from campaign_core.models import Automation

__all__ = ["compile_definition", "definition_of", "field_registry"]


def field_registry(rt: Runtime) -> FieldRegistry:
    """The criteria fields of ``rt``'s core: the built-ins plus its declared fan traits,
    with the ``platform`` field taking the values of its platform registry."""
    return _traits_registry(
        tuple(sorted((k, str(v)) for k, v in rt.settings.fan_traits.items())),
        rt.settings.platforms.criteria_values,
    )


@functools.lru_cache(maxsize=64)
def _traits_registry(
    traits: tuple[tuple[str, str], ...], platforms: tuple[str, ...]
) -> FieldRegistry:
    # equal to FieldRegistry.default() without traits or declared platforms
    return FieldRegistry.with_traits(dict(traits), platforms=platforms)


def definition_of(automation: Automation) -> dict[str, Any]:
    """The canonical definition stored on an automation row."""
    return {
        "name": automation.name,
        "trigger": automation.trigger,
        "conditions": list(automation.conditions),
        "actions": list(automation.actions),
        "settings": automation.settings,
    }


@functools.lru_cache(maxsize=512)
def _compile_text(text: str, registry: FieldRegistry) -> Workflow:
    return parse_workflow(json.loads(text), registry=registry, allow_any_action=True)


def compile_definition(definition: Mapping[str, Any], registry: FieldRegistry) -> Workflow:
    """A stored definition as a ``Workflow`` (cached by content).

    Stored definitions were validated when saved; custom action types are
    accepted here whether or not they are registered (a missing handler fails
    the step at run time instead of making the run unreadable).
    """
    data = dict(definition)
    data.setdefault("name", "workflow")
    return _compile_text(json.dumps(data, sort_keys=True, default=str), registry)
