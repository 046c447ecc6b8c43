"""Circular dependencies across workflows: emitted events and segment entries that loop.

Workflow A *feeds* workflow B when A has an ``emit_event`` step whose event
triggers B, or an ``add_to_segment`` step whose segment triggers B
(``segment_entered``). A cycle of feeds among active workflows would let one
fan run around forever, so activating (or changing) a workflow that closes one
is rejected. Filters on event triggers are ignored: a cycle that a filter
would break is still rejected (the check is conservative).

Not covered (they cannot be decided from definitions): ``update_fan`` steps
that make a fan match a behaviour trigger, and custom actions. The runtime
chain-depth limit stops those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from campaign_core.automation._workflow import TriggerType, Workflow

__all__ = ["WorkflowCycle", "find_workflow_cycle"]


@attrs.frozen
class WorkflowCycle:
    """A loop of workflows that feed each other.

    Attributes:
        workflow_ids: the loop, starting and ending with the checked workflow.
        path: where, in the checked workflow, the first feed is written.
        description: a readable account (``"A --emit 'x'--> B --segment 's'--> A"``).
    """

    workflow_ids: tuple[str, ...]
    path: str
    description: str


def _feeds(
    source: Workflow, target: Workflow, segment_key: Callable[[str], str]
) -> tuple[str, str] | None:
    """(path in ``source``, label) of the first step of ``source`` that triggers ``target``."""
    trigger = target.trigger
    if trigger.type is TriggerType.EVENT:
        for name, path in source.emitted_events():
            if name == trigger.event:
                return path, f"emit {name!r}"
    elif trigger.type is TriggerType.SEGMENT_ENTERED and trigger.segment is not None:
        wanted = segment_key(trigger.segment)
        for ref, path in source.segments_added():
            if segment_key(ref) == wanted:
                return path, f"segment {ref!r}"
    return None


def find_workflow_cycle(
    focus: str,
    workflows: Mapping[str, tuple[str, Workflow]],
    segment_key: Callable[[str], str] = lambda ref: ref,
) -> WorkflowCycle | None:
    """A cycle of feeds through workflow ``focus``, or None.

    Args:
        focus: the id of the workflow being activated or changed.
        workflows: id -> (name, workflow) for ``focus`` and every active workflow
            of the same owner.
        segment_key: maps a segment reference (id or name) to a stable key (the
            segment's id), so references by id and by name meet.

    Returns:
        The shortest-first cycle found by a depth-first search, or None.
    """
    if focus not in workflows:
        return None
    edges: dict[str, list[tuple[str, str, str]]] = {}
    for source_id, (_, source) in workflows.items():
        out = []
        for target_id, (_, target) in workflows.items():
            found = _feeds(source, target, segment_key)
            if found is not None:
                out.append((target_id, found[0], found[1]))
        edges[source_id] = out
    # depth-first search for a path back to ``focus``; a node that did not lead
    # back once never will, so each is explored once
    visited = {focus}

    def search(node: str, trail: list[tuple[str, str, str]]) -> list[tuple[str, str, str]] | None:
        for target, path, label in edges.get(node, []):
            step = (node, path, label)
            if target == focus:
                return [*trail, step]
            if target in visited:
                continue
            visited.add(target)
            found = search(target, [*trail, step])
            if found is not None:
                return found
        return None

    steps = search(focus, [])
    if steps is None:
        return None
    ids = (*(s[0] for s in steps), focus)
    text = " ".join(f"{workflows[s[0]][0]!r} --{s[2]}-->" for s in steps)
    return WorkflowCycle(ids, steps[0][1], f"{text} {workflows[focus][0]!r}")
