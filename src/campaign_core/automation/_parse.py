"""Parsing the workflow language: triggers, settings, actions into a :class:`Workflow`.

Each built-in action is parsed by its step spec (:mod:`campaign_core.automation._steps`);
a custom action's parameters are any JSON object its registered validator accepts.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs

from campaign_core._naming import camel
from campaign_core.automation._conditions import PropertyCondition, parse_filter
from campaign_core.automation._cron import CronSchedule
from campaign_core.automation._settings import BUILTIN_ACTIONS, ActionRegistry, CustomAction
from campaign_core.automation._steps import BUILTIN_STEPS, SplitDraft
from campaign_core.automation._webhooks import WebhookSettings
from campaign_core.automation._workflow import (
    Branch,
    Experiment,
    Goal,
    OnError,
    OverduePolicy,
    Reentry,
    Step,
    Trigger,
    TriggerType,
    Workflow,
    WorkflowSettings,
)
from campaign_core.criteria import FieldRegistry, normalize
from campaign_core.delivery import MessagingSettings, parse_frequency_cap, parse_quiet_hours
from campaign_core.durations import format_duration, parse_duration
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.serialization import check_json_value, parse_datetime

__all__ = ["FanFieldsCheck", "StepParser", "parse_trigger", "parse_workflow"]

MAX_STEPS: Final = 200
MAX_NESTING: Final = 6
_STEP_ID: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,99}$")
_EVENT_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$")
_MAX_JSON: Final = 16_000
_COMMON: Final = frozenset({"type", "id", "name", "onError", "next"})
_TOP: Final = frozenset({"name", "description", "trigger", "conditions", "actions", "settings"})

FanFieldsCheck = Callable[[Mapping[str, Any], ProblemCollector, str], Any]


@attrs.define
class Draft:
    """A step being parsed (what a step spec's ``parse`` fills)."""

    id: str
    type: str
    path: str
    params: dict[str, Any]
    canonical: dict[str, Any]
    explicit_next: str | None = None
    on_error: OnError = attrs.field(factory=OnError)
    on_error_path: str = ""
    branches: bool = False
    terminal: bool = False
    true_list: list[Draft] | None = None
    false_list: list[Draft] | None = None
    splits: list[SplitDraft] = attrs.field(factory=list)
    fields: dict[str, Any] = attrs.field(factory=dict)
    next: str | None = None
    if_true: str | None = None
    if_false: str | None = None


@attrs.define
class StepParser:
    """Parses a workflow's actions; step specs use its checks (``text``, ``duration``...)."""

    problems: ProblemCollector
    registry: FieldRegistry
    actions: ActionRegistry | None
    check_fan_fields: FanFieldsCheck | None
    message_templates: frozenset[str] | None
    allow_any: bool = False
    webhooks: WebhookSettings | None = None
    messaging: MessagingSettings | None = None
    drafts: list[Draft] = attrs.field(factory=list)
    ids: dict[str, str] = attrs.field(factory=dict)

    def fail(self, path: str, message: str, code: str = "invalid_value") -> None:
        self.problems.add(path, message, code)

    # -- helpers ---------------------------------------------------------------------
    def keys(self, raw: Mapping[Any, Any], path: str) -> dict[str, Any]:
        """The object's keys in camelCase; snake_case and camelCase both accepted."""
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if not isinstance(key, str):
                self.fail(path, f"keys must be strings, got {key!r}", "invalid_type")
                continue
            name = camel(key)
            if name in out:
                self.fail(join_path(path, key), f"{key!r} is given twice ({name})", "duplicate")
                continue
            out[name] = value
        return out

    def text(
        self, value: Any, path: str, *, max_length: int = 200, required: bool = True
    ) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(
                path,
                "expected a non-empty string",
                "invalid_type" if not isinstance(value, str) else "required",
            )
            return None
        if len(value) > max_length:
            self.fail(path, f"must be at most {max_length} characters", "too_long")
            return None
        if "\x00" in value:
            self.fail(path, "must not contain NUL characters")
            return None
        return value

    def boolean(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {type(value).__name__}", "invalid_type")
            return None
        return value

    def json_object(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(path, f"expected an object, got {type(value).__name__}", "invalid_type")
            return None
        found = check_json_value(value, path)
        if found:
            self.problems.problems.extend(found)
            return None
        text = json.dumps(value)
        if len(text) > _MAX_JSON:
            self.fail(path, f"is larger than {_MAX_JSON} bytes of JSON", "too_long")
            return None
        copied: dict[str, Any] = json.loads(text)
        return copied

    def duration(self, value: Any, path: str) -> timedelta | None:
        try:
            span = parse_duration(value, path=path)
        except ValidationError as error:
            self.problems.extend(error)
            return None
        if span <= timedelta(0):
            self.fail(path, "must be longer than zero", "out_of_range")
            return None
        return span

    def event_name(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not _EVENT_NAME.match(value):
            self.fail(path, "event names are letters, digits and '_ . : -' (1-100)")
            return None
        return value

    # -- actions ---------------------------------------------------------------------
    def action_list(
        self, raw: Any, path: str, parent: str | None, branch: str, depth: int
    ) -> list[Draft]:
        if isinstance(raw, Mapping):
            raw = [raw]
        if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
            self.fail(path, "expected a list of actions", "invalid_type")
            return []
        if depth > MAX_NESTING:
            self.fail(path, f"branches nest at most {MAX_NESTING} deep", "too_deep")
            return []
        out = []
        for index, item in enumerate(raw):
            if len(self.drafts) >= MAX_STEPS:
                self.fail(path, f"a workflow has at most {MAX_STEPS} steps", "too_long")
                break
            auto = f"step-{index + 1}" if parent is None else f"{parent}.{branch}-{index + 1}"
            draft = self.action(item, join_path(path, index), auto, depth)
            if draft is not None:
                out.append(draft)
        return out

    def action(self, raw: Any, path: str, auto_id: str, depth: int) -> Draft | None:
        if not isinstance(raw, Mapping):
            self.fail(path, "expected an action object with a 'type'", "invalid_type")
            return None
        data = self.keys(raw, path)
        kind = data.get("type")
        custom = None
        if not isinstance(kind, str):
            self.fail(join_path(path, "type"), "every action needs a 'type'", "required")
            return None
        spec = BUILTIN_STEPS.get(kind)
        if spec is None:
            custom = self.actions.get(kind) if self.actions is not None else None
            if custom is None and self.allow_any:
                custom = CustomAction(kind, _no_handler)
            if custom is None:
                known = ", ".join(
                    (*BUILTIN_ACTIONS, *(self.actions.names() if self.actions else ()))
                )
                self.fail(
                    join_path(path, "type"),
                    f"unknown action type {kind[:60]!r} (known: {known})",
                    "unknown_action",
                )
                return None
        step_id = auto_id
        if "id" in data:
            given = data["id"]
            if not isinstance(given, str) or not _STEP_ID.match(given):
                self.fail(
                    join_path(path, "id"),
                    "step ids start with a letter, then letters, digits, '_' or '-' (at most 64)",
                )
            else:
                step_id = given
        if step_id in self.ids:
            self.fail(
                join_path(path, "id"),
                f"step id {step_id!r} is already used at {self.ids[step_id]}",
                "duplicate",
            )
        self.ids.setdefault(step_id, path)
        canonical: dict[str, Any] = {"id": step_id, "type": kind}
        if "name" in data:
            label = self.text(data["name"], join_path(path, "name"))
            if label is not None:
                canonical["name"] = label
        params = {k: v for k, v in data.items() if k not in _COMMON}
        if spec is not None:
            allowed = spec.params
            for key in params:
                if key not in allowed:
                    self.fail(
                        join_path(path, key),
                        f"unknown key for {kind} (expected: {', '.join(sorted(allowed | _COMMON))})",
                        "unknown_field",
                    )
        draft = Draft(
            id=step_id,
            type=kind,
            path=path,
            params={},
            canonical=canonical,
            branches=spec is not None and spec.branches,
            terminal=spec is not None and spec.terminal,
        )
        if "onError" in data:
            draft.on_error = self.on_error(data["onError"], join_path(path, "onError"))
            draft.on_error_path = join_path(path, "onError")
        if "next" in data:
            target = data["next"]
            if draft.terminal:
                self.fail(join_path(path, "next"), f"an {kind} step has no next step")
            elif not isinstance(target, str) or not target or len(target) > 200:
                self.fail(join_path(path, "next"), "expected a step id", "invalid_type")
            else:
                draft.explicit_next = target
        self.drafts.append(draft)
        if spec is None:
            assert custom is not None
            clean = self.json_object(params, path)
            if clean is not None:
                if custom.validate is not None:
                    custom.validate(clean, path, self.problems)
                draft.params = clean
                canonical.update(clean)
            draft_effect = "external"
            draft.fields["effect"] = draft_effect
            draft.fields["messaging"] = custom.messaging
        else:
            spec.parse(self, draft, params, depth)
            draft.fields["effect"] = spec.effect
            draft.fields["messaging"] = spec.messaging
        if draft.on_error.kind != "exit" or "onError" in data:
            canonical["onError"] = draft.on_error.to_json()
        if draft.explicit_next is not None:
            canonical["next"] = draft.explicit_next
        if draft.true_list is not None:
            canonical["ifTrue"] = [d.canonical for d in draft.true_list]
        if draft.false_list is not None:
            canonical["ifFalse"] = [d.canonical for d in draft.false_list]
        return draft

    def on_error(self, value: Any, path: str) -> OnError:
        if value in ("continue", "exit"):
            return OnError(value)
        target: Any = None
        if isinstance(value, str) and value.startswith("goto:"):
            target = value[len("goto:") :]
        elif isinstance(value, Mapping) and set(value) == {"goto"}:
            target = value["goto"]
        if isinstance(target, str) and target:
            return OnError("goto", target)
        self.fail(path, "expected 'continue', 'exit' or {\"goto\": \"<step id>\"}")
        return OnError()

    # -- graph -------------------------------------------------------------------------
    def link(self, items: list[Draft], after: str | None) -> None:
        """Resolve each step's next and branch heads; ``after`` continues the list."""
        for index, draft in enumerate(items):
            follow = items[index + 1].id if index + 1 < len(items) else after
            draft.next = None if draft.terminal else (draft.explicit_next or follow)
            if draft.true_list is not None:
                self.link(draft.true_list, draft.next)
                draft.if_true = draft.true_list[0].id if draft.true_list else None
            if draft.false_list is not None:
                self.link(draft.false_list, draft.next)
                draft.if_false = draft.false_list[0].id if draft.false_list else None
            for split in draft.splits:
                after_branch = split.explicit_next or draft.next
                if split.actions is not None:
                    self.link(split.actions, after_branch)
                split.head = split.actions[0].id if split.actions else after_branch

    def edges(self, draft: Draft) -> list[tuple[str, str]]:
        """(target, path of what makes the jump) for every way out of a step."""
        out: list[tuple[str, str]] = []
        if draft.branches:
            out.append((draft.if_true or draft.next or "", join_path(draft.path, "ifTrue")))
            out.append((draft.if_false or draft.next or "", join_path(draft.path, "ifFalse")))
        elif draft.splits:
            for split in draft.splits:
                out.append((split.head or "", split.path))
        elif draft.next is not None:
            label = join_path(draft.path, "next") if draft.explicit_next else draft.path
            out.append((draft.next, label))
        if draft.on_error.kind == "goto" and draft.on_error.target:
            out.append((draft.on_error.target, draft.on_error_path))
        return [(t, p) for t, p in out if t]

    def check_graph(self, top: list[Draft]) -> bool:
        by_id = {d.id: d for d in self.drafts}
        ok = True
        for draft in self.drafts:
            if draft.explicit_next is not None and draft.explicit_next not in by_id:
                self.fail(
                    join_path(draft.path, "next"),
                    f"no step has id {draft.explicit_next!r}",
                    "unknown_step",
                )
                ok = False
            for split in draft.splits:
                if split.explicit_next is not None and split.explicit_next not in by_id:
                    self.fail(
                        join_path(split.path, "next"),
                        f"no step has id {split.explicit_next!r}",
                        "unknown_step",
                    )
                    ok = False
            target = draft.on_error.target
            if draft.on_error.kind == "goto" and target not in by_id:
                self.fail(draft.on_error_path, f"no step has id {target!r}", "unknown_step")
                ok = False
        if not ok or not top:
            return ok
        # cycles: iterative depth-first search with colours
        colour: dict[str, int] = {}
        for start in (d.id for d in self.drafts):
            if colour.get(start):
                continue
            stack: list[tuple[str, Iterator[tuple[str, str]]]] = [
                (start, iter(self.edges(by_id[start])))
            ]
            colour[start] = 1
            trail = [start]
            while stack:
                node, outs = stack[-1]
                step = next(outs, None)
                if step is None:
                    colour[node] = 2
                    stack.pop()
                    trail.pop()
                    continue
                target, label = step
                if colour.get(target) == 1:
                    loop = [*trail[trail.index(target) :], target]
                    self.fail(
                        label,
                        "circular dependency between steps: " + " -> ".join(loop),
                        "cycle",
                    )
                    return False
                if not colour.get(target):
                    colour[target] = 1
                    trail.append(target)
                    stack.append((target, iter(self.edges(by_id[target]))))
        # reachability from the first step
        seen = {top[0].id}
        queue = [top[0].id]
        while queue:
            node = queue.pop()
            for target, _ in self.edges(by_id[node]):
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        for draft in self.drafts:
            if draft.id not in seen:
                self.fail(
                    draft.path,
                    f"step {draft.id!r} is unreachable: no step leads to it (it follows an exit"
                    " or a jump)",
                    "unreachable",
                )
                ok = False
        return ok


def _no_handler(context: Any) -> None:  # pragma: no cover - replaced at run time
    return None


def parse_trigger(
    raw: Any,
    path: str,
    problems: ProblemCollector,
    *,
    registry: FieldRegistry | None = None,
    now: datetime | None = None,
) -> Trigger | None:
    """Validate a trigger object (``{"type": "event", "event": "fan.subscribed"}``...).

    The seed's ``{"type": ..., "config": {...}}`` nesting is accepted too.
    Returns None (with problems recorded) when invalid.
    """
    parser = StepParser(problems, registry or FieldRegistry.default(), None, None, None)
    if not isinstance(raw, Mapping):
        problems.add(path, "expected a trigger object with a 'type'", "invalid_type")
        return None
    data = parser.keys(raw, path)
    if "config" in data:
        config = data.pop("config")
        if not isinstance(config, Mapping):
            problems.add(join_path(path, "config"), "expected an object", "invalid_type")
            return None
        for key, value in parser.keys(config, join_path(path, "config")).items():
            if key in data:
                problems.add(
                    join_path(path, f"config.{key}"), "is also given outside config", "duplicate"
                )
            data[key] = value
    kind_raw = data.get("type")
    try:
        kind = TriggerType(str(kind_raw)) if isinstance(kind_raw, str) else None
    except ValueError:
        kind = None
    if kind is None:
        problems.add(
            join_path(path, "type"),
            f"unknown trigger type {kind_raw!r} (expected one of: {', '.join(TriggerType.values())})",
            "required" if kind_raw is None else "invalid_value",
        )
        return None
    allowed = {
        TriggerType.EVENT: {"type", "event", "filter"},
        TriggerType.BEHAVIOR: {"type", "condition", "criteria", "enrolExisting"},
        TriggerType.TIME: {"type", "cron", "at", "timeZone", "segment"},
        TriggerType.SEGMENT_ENTERED: {"type", "segment"},
    }[kind]
    before = len(problems.problems)
    for key in data:
        if key not in allowed:
            problems.add(
                join_path(path, key),
                f"unknown key for a {kind.value} trigger (expected: {', '.join(sorted(allowed))})",
                "unknown_field",
            )
    if kind is TriggerType.EVENT:
        event = parser.event_name(data.get("event"), join_path(path, "event"))
        conditions: tuple[PropertyCondition, ...] | None = ()
        if "filter" in data:
            conditions = parse_filter(data["filter"], join_path(path, "filter"), problems)
        if len(problems.problems) > before:
            return None
        return Trigger(kind, event=event, filter=conditions or ())
    if kind is TriggerType.BEHAVIOR:
        if ("condition" in data) == ("criteria" in data):
            problems.add(
                join_path(path, "condition"), "a behavior trigger needs a 'condition'", "required"
            )
            return None
        key = "condition" if "condition" in data else "criteria"
        try:
            criteria = normalize(data[key], registry=parser.registry, path=join_path(path, key))
        except ValidationError as error:
            problems.extend(error)
            return None
        enrol = data.get("enrolExisting", True)
        if not isinstance(enrol, bool):
            problems.add(join_path(path, "enrolExisting"), "expected true or false", "invalid_type")
        if len(problems.problems) > before:
            return None
        return Trigger(kind, condition=data[key], criteria=criteria, enrol_existing=enrol)
    segment = None
    if "segment" in data:
        segment = parser.text(data["segment"], join_path(path, "segment"))
    if kind is TriggerType.SEGMENT_ENTERED:
        if "segment" not in data:
            problems.add(
                join_path(path, "segment"),
                "a segment_entered trigger needs a 'segment'",
                "required",
            )
        if len(problems.problems) > before:
            return None
        return Trigger(kind, segment=segment)
    cron = at = zone = None
    if ("cron" in data) == ("at" in data):
        problems.add(path, "a time trigger needs exactly one of 'cron' or 'at'", "required")
    elif "cron" in data:
        try:
            cron = CronSchedule.parse(data["cron"], path=join_path(path, "cron"))
        except ValidationError as error:
            problems.extend(error)
    else:
        try:
            at = parse_datetime(data["at"], join_path(path, "at")).astimezone(UTC)
        except ValidationError as error:
            problems.extend(error)
        else:
            if now is not None and at <= now:
                problems.add(join_path(path, "at"), "is in the past", "out_of_range")
    if "timeZone" in data:
        zone = _zone(data["timeZone"], join_path(path, "timeZone"), problems)
    if len(problems.problems) > before:
        return None
    return Trigger(kind, cron=cron, at=at, time_zone=zone, segment=segment)


def _zone(value: Any, path: str, problems: ProblemCollector) -> str | None:
    if not isinstance(value, str) or len(value) > 64:
        problems.add(path, "expected an IANA time zone name such as 'Europe/Paris'", "invalid_type")
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.add(path, f"{value!r} is not a known IANA time zone")
        return None
    return value


def _settings(raw: Any, path: str, parser: StepParser) -> WorkflowSettings:
    problems = parser.problems
    if raw is None:
        return WorkflowSettings()
    if not isinstance(raw, Mapping):
        problems.add(path, "expected an object", "invalid_type")
        return WorkflowSettings()
    data = parser.keys(raw, path)
    allowed = {
        "reentry",
        "reentryWindow",
        "timeout",
        "quietHours",
        "frequencyCap",
        "timeZone",
        "overduePolicy",
        "exitOn",
        "goal",
        "holdout",
    }
    for key in data:
        if key not in allowed:
            problems.add(
                join_path(path, key),
                f"unknown setting (expected: {', '.join(sorted(allowed))})",
                "unknown_field",
            )
    values: dict[str, Any] = {}
    if "reentry" in data:
        try:
            values["reentry"] = Reentry(data["reentry"])
        except ValueError:
            problems.add(
                join_path(path, "reentry"), f"expected one of: {', '.join(Reentry.values())}"
            )
    if "reentryWindow" in data:
        values["reentry_window"] = parser.duration(
            data["reentryWindow"], join_path(path, "reentryWindow")
        )
    if values.get("reentry") is Reentry.ONCE_PER_WINDOW and "reentryWindow" not in data:
        problems.add(
            join_path(path, "reentryWindow"), "once_per_window needs a reentryWindow", "required"
        )
    if "timeout" in data:
        values["timeout"] = parser.duration(data["timeout"], join_path(path, "timeout"))
    if "quietHours" in data:
        values["quiet_hours"] = parse_quiet_hours(
            data["quietHours"], join_path(path, "quietHours"), problems
        )
    if "frequencyCap" in data:
        values["frequency_cap"] = parse_frequency_cap(
            data["frequencyCap"], join_path(path, "frequencyCap"), problems
        )
    if "timeZone" in data:
        values["time_zone"] = _zone(data["timeZone"], join_path(path, "timeZone"), problems)
    if "overduePolicy" in data:
        try:
            values["overdue_policy"] = OverduePolicy(data["overduePolicy"])
        except ValueError:
            problems.add(
                join_path(path, "overduePolicy"),
                f"expected one of: {', '.join(OverduePolicy.values())}",
            )
    if "exitOn" in data:
        epath = join_path(path, "exitOn")
        names = data["exitOn"]
        if isinstance(names, str | bytes) or not isinstance(names, Sequence) or len(names) > 50:
            problems.add(epath, "expected a list of at most 50 event names", "invalid_type")
        else:
            clean = [parser.event_name(n, join_path(epath, i)) for i, n in enumerate(names)]
            if all(c is not None for c in clean):
                values["exit_on"] = tuple(c for c in clean if c is not None)
    if "goal" in data:
        values["goal"] = _goal(data["goal"], join_path(path, "goal"), parser)
    if "holdout" in data:
        hpath = join_path(path, "holdout")
        value = data["holdout"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.add(hpath, "expected a percentage such as 10", "invalid_type")
        elif not 0 < value < 100:
            problems.add(hpath, "must be above 0 and below 100", "out_of_range")
        else:
            values["holdout"] = value
    return WorkflowSettings(**{k: v for k, v in values.items() if v is not None})


def _goal(raw: Any, path: str, parser: StepParser) -> Goal | None:
    """``{"event", "within", "filter"?}``: a fan event within a window after entering."""
    problems = parser.problems
    if not isinstance(raw, Mapping):
        problems.add(path, "expected {event, within, filter?}", "invalid_type")
        return None
    data = parser.keys(raw, path)
    before = len(problems.problems)
    for key in data:
        if key not in ("event", "within", "filter"):
            problems.add(
                join_path(path, key),
                "unknown key for a goal (expected: event, filter, within)",
                "unknown_field",
            )
    event = within = None
    conditions: tuple[PropertyCondition, ...] | None = ()
    if "event" not in data:
        problems.add(join_path(path, "event"), "a goal needs an 'event'", "required")
    else:
        event = parser.event_name(data["event"], join_path(path, "event"))
    if "within" not in data:
        problems.add(
            join_path(path, "within"), "a goal needs a conversion window 'within'", "required"
        )
    else:
        within = parser.duration(data["within"], join_path(path, "within"))
    if "filter" in data:
        conditions = parse_filter(data["filter"], join_path(path, "filter"), problems)
    if len(problems.problems) > before or event is None or within is None:
        return None
    return Goal(event=event, within=within, filter=conditions or ())


def parse_workflow(
    data: Any,
    *,
    registry: FieldRegistry | None = None,
    actions: ActionRegistry | None = None,
    check_fan_fields: FanFieldsCheck | None = None,
    message_templates: frozenset[str] | None = None,
    default_timeout: timedelta | None = None,
    now: datetime | None = None,
    allow_any_action: bool = False,
    webhooks: WebhookSettings | None = None,
    messaging: MessagingSettings | None = None,
) -> Workflow:
    """Validate a workflow (the seed's JSON, or the canonical form) and build a :class:`Workflow`.

    Args:
        data: ``{"name", "description"?, "trigger", "conditions"?, "actions", "settings"?}``.
        registry: the fields criteria may use (built-ins plus the owner's traits).
        actions: the custom action types allowed besides the built-ins.
        check_fan_fields: validates ``update_fan`` fields (adds problems).
        message_templates: when given, the only ``send_message`` templates allowed.
        default_timeout: the engine's run timeout, for the waits-vs-timeout check.
        now: rejects ``at`` time triggers in the past when given.
        allow_any_action: accept action types that are not registered (the
            engine reading a stored definition; their handler is looked up
            when the step runs).
        webhooks: which URLs, headers and timeouts ``webhook`` steps may use;
            None checks only their form (the engine reading a stored definition).
        messaging: the messaging settings: when given, a ``send_message``'s
            ``channel`` and ``topic`` must be known to them (and the topic sent
            on the channel).

    Returns:
        The validated workflow; ``parse_workflow(w.to_json())`` gives an equal one.

    Raises:
        ValidationError: every problem, each with its path.
    """
    problems = ProblemCollector()
    parser = StepParser(
        problems,
        registry or FieldRegistry.default(),
        actions,
        check_fan_fields,
        message_templates,
        allow_any_action,
        webhooks,
        messaging=messaging,
    )
    if not isinstance(data, Mapping):
        raise ValidationError.single("", "expected a workflow object", "invalid_type")
    top = parser.keys(data, "")
    for key in top:
        if key not in _TOP:
            problems.add(
                key, f"unknown workflow key (expected: {', '.join(sorted(_TOP))})", "unknown_field"
            )
    name = parser.text(top.get("name"), "name")
    description = parser.text(
        top.get("description"), "description", max_length=5000, required=False
    )
    trigger = None
    if "trigger" not in top:
        problems.add("trigger", "a workflow needs a trigger", "required")
    else:
        trigger = parse_trigger(
            top["trigger"], "trigger", problems, registry=parser.registry, now=now
        )
    conditions: tuple[Any, ...] = ()
    criteria = None
    raw_conditions = top.get("conditions")
    if raw_conditions is not None:
        if isinstance(raw_conditions, str | bytes) or not isinstance(raw_conditions, Sequence):
            problems.add(
                "conditions", "expected a list of {field, operator, value}", "invalid_type"
            )
        elif len(raw_conditions) > 0:
            try:
                criteria = normalize(
                    list(raw_conditions), registry=parser.registry, path="conditions"
                )
            except ValidationError as error:
                problems.extend(error)
            else:
                conditions = tuple(dict(c) if isinstance(c, Mapping) else c for c in raw_conditions)
    settings = _settings(top.get("settings"), "settings", parser)
    top_steps: list[Draft] = []
    if "actions" not in top:
        problems.add("actions", "a workflow needs a list of actions", "required")
    else:
        top_steps = parser.action_list(top["actions"], "actions", None, "", 1)
        if not top_steps and not problems:
            problems.add("actions", "a workflow needs at least one action", "required")
    raw_settings = top.get("settings")
    goal_given = isinstance(raw_settings, Mapping) and "goal" in raw_settings
    if settings.goal is None and not goal_given:
        for draft in parser.drafts:
            if "experiment" in draft.fields:
                problems.add(
                    join_path(draft.path, "experiment"),
                    "an experiment measures the workflow's goal: set settings.goal",
                    "required",
                )
    graph_ok = False
    if not problems:
        parser.link(top_steps, None)
        graph_ok = parser.check_graph(top_steps)
    problems.raise_if_any()
    assert name is not None and trigger is not None and graph_ok
    steps = tuple(
        Step(
            id=d.id,
            type=d.type,
            path=d.path,
            params=d.params,
            next=d.next,
            on_error=d.on_error,
            if_true=d.if_true,
            if_false=d.if_false,
            effect=d.fields.get("effect", "none"),
            messaging=d.fields.get("messaging", False),
            duration=d.fields.get("duration"),
            until_time=d.fields.get("until_time"),
            until_at=d.fields.get("until_at"),
            engagement=d.fields.get("engagement"),
            window=d.fields.get("window"),
            events=d.fields.get("events", ()),
            split=tuple(Branch(b.name, b.criteria, b.head, b.weight) for b in d.splits),
            filter=d.fields.get("filter", ()),
            experiment=Experiment(**d.fields["experiment"]) if "experiment" in d.fields else None,
        )
        for d in parser.drafts
    )
    workflow = Workflow(
        name=name,
        description=description,
        trigger=trigger,
        conditions=conditions,
        criteria=criteria,
        actions=tuple(d.canonical for d in top_steps),
        settings=settings,
        steps=steps,
        first=top_steps[0].id if top_steps else None,
    )
    limit = settings.timeout or default_timeout
    if limit is not None:
        longest = workflow.longest_wait()
        if longest >= limit:
            raise ValidationError.single(
                "settings.timeout",
                f"the waits along the longest path add up to {format_duration(longest)}, which is"
                f" not shorter than the run timeout {format_duration(limit)}: runs would time out",
                "out_of_range",
            )
    return workflow
