"""The built-in step types of the workflow language: one spec each.

A spec says what a step of its type may hold (its keys), how they are checked and
normalised into the canonical form, what kind of effect it has and how it shapes the
step graph. What a step *does* is its action in the engine
(:mod:`campaign_core.jobs.automation.actions`), registered under the same name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, time, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from campaign_core.automation._conditions import parse_engagement, parse_filter
from campaign_core.automation._expressions import parse_expression, parse_template
from campaign_core.automation._webhooks import (
    METHODS,
    WebhookSettings,
    check_headers,
    check_timeout,
    check_url,
)
from campaign_core.criteria import FieldSource, FieldType, normalize
from campaign_core.delivery import check_channel_topic
from campaign_core.errors import ValidationError, join_path
from campaign_core.serialization import parse_datetime

if TYPE_CHECKING:
    from campaign_core.automation._parse import Draft, StepParser
    from campaign_core.criteria import Criteria


@attrs.define
class SplitDraft:
    """One branch of a split being parsed (``criteria`` None: the default)."""

    name: str
    path: str
    criteria: Criteria | None
    actions: list[Draft] | None
    explicit_next: str | None
    weight: float | None = None
    head: str | None = None


__all__ = ["BRANCH_NAME", "BUILTIN_STEPS", "CLOCK_TIME", "EVENT_PATTERN", "StepParse", "StepSpec"]

_TEMPLATE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,199}$")
_MESSAGING_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CLOCK_TIME: Final = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
EVENT_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}(\.\*)?$")
BRANCH_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,39}$")
MAX_BRANCHES: Final = 20


class StepParse(Protocol):
    """How a step spec parses its keys: ``parse(parser, draft, params, depth)``."""

    def __call__(self, parser: Any, draft: Any, params: dict[str, Any], depth: int, /) -> None:
        """Add problems to the parser; fill the draft's params, canonical JSON and fields."""


@attrs.frozen
class StepSpec:
    """The language's side of a built-in step type.

    Attributes:
        name: the step ``type``.
        params: the keys a step of this type may have besides the common ones
            (``type``, ``id``, ``name``, ``onError``, ``next``).
        parse: checks and normalises those keys: ``parse(parser, draft, params, depth)``
            adds problems to the parser and fills the draft's params, canonical JSON
            and typed fields.
        effect: ``none`` (bookkeeping), ``external`` (a port or service call) or
            ``store`` (a write in the run's transaction).
        messaging: the step messages the fan (quiet hours and frequency caps apply).
        branches: the step continues with ``ifTrue`` or ``ifFalse``.
        splits: the step continues with one of its named ``branches`` or its
            ``default`` (``condition_split``), one of its weighted ``branches``
            (``random_split``), or ``onEvent`` or ``onTimeout`` (``wait_until``).
        terminal: the step ends the run (it has no next step).
        refers_to: the parameter that names a ``template`` or ``segment`` of the
            account (checked against the store when the workflow is saved).
        writes: the step changes the members of the segment it names.
    """

    name: str
    params: frozenset[str]
    parse: StepParse
    effect: str = "none"
    messaging: bool = False
    branches: bool = False
    splits: bool = False
    terminal: bool = False
    refers_to: str | None = None
    writes: bool = False


def _wait(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    has_duration, has_until = "duration" in params, "until" in params
    if has_duration == has_until:
        p.fail(d.path, "a wait needs exactly one of 'duration' or 'until'", "required")
        return
    if has_duration:
        span = p.duration(params["duration"], join_path(d.path, "duration"))
        if span is not None:
            d.fields["duration"] = span
            d.params["duration"] = d.canonical["duration"] = params["duration"]
        return
    value = params["until"]
    path = join_path(d.path, "until")
    if isinstance(value, str) and CLOCK_TIME.match(value.strip()):
        hour, minute = CLOCK_TIME.match(value.strip()).groups()  # type: ignore[union-attr]
        d.fields["until_time"] = time(int(hour), int(minute))
    else:
        try:
            d.fields["until_at"] = parse_datetime(value, path).astimezone(UTC)
        except ValidationError:
            p.fail(
                path,
                "expected a time of day such as '09:00' (the fan's zone) or an ISO-8601"
                " instant with a time zone",
            )
            return
    d.params["until"] = d.canonical["until"] = value


def _send_message(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    path = join_path(d.path, "template")
    template = params.get("template")
    if template is None:
        p.fail(path, "send_message needs a 'template'", "required")
    elif not isinstance(template, str) or not _TEMPLATE_NAME.match(template):
        p.fail(path, "template names are letters, digits and '_ . : / -' (1-200)")
    elif p.message_templates is not None and template not in p.message_templates:
        p.fail(path, f"unknown message template {template!r}", "unknown_template")
    else:
        d.params["template"] = template
    for key in ("personalize", "includeMedia", "includeOffer"):
        if key in params and p.boolean(params[key], join_path(d.path, key)) is not None:
            d.params[key] = params[key]
    _channel_topic(p, d, params)
    if "variables" in params:
        variables = p.json_object(params["variables"], join_path(d.path, "variables"))
        if variables is not None:
            d.params["variables"] = variables
    d.canonical.update(d.params)


def _channel_topic(p: StepParser, d: Draft, params: dict[str, Any]) -> None:
    """``channel`` and ``topic`` of a ``send_message``: names, known to the messaging settings.

    Either may be left out (``dm`` and the settings' default topic). With the
    settings (a workflow being saved), an unknown channel or topic, or a topic not
    sent on the channel, is a problem at its path; a stored definition is read
    without them (a channel the settings dropped later suppresses at send time).
    """
    given = [k for k in ("channel", "topic") if k in params]
    if not given:
        return
    before = len(p.problems.problems)
    for key in given:
        value = params[key]
        if not isinstance(value, str) or not _MESSAGING_NAME.match(value):
            p.fail(
                join_path(d.path, key),
                f"expected a {key} name (lowercase letters, digits and '_', 1-32)",
                "invalid_type" if not isinstance(value, str) else "invalid_value",
            )
    if len(p.problems.problems) > before:
        return
    if p.messaging is not None:
        check_channel_topic(
            p.messaging,
            params.get("channel", "dm"),
            params.get("topic", p.messaging.default_topic),
            p.problems,
            channel_path=join_path(d.path, "channel"),
            topic_path=join_path(d.path, "topic"),
            topic_required=False,
        )
        if len(p.problems.problems) > before:
            return
    for key in given:
        d.params[key] = params[key]


def _check_engagement(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    path = join_path(d.path, "condition")
    if "condition" not in params:
        p.fail(path, "check_engagement needs a 'condition' such as 'engagement < 1'", "required")
    else:
        condition = parse_engagement(params["condition"], path, p.problems)
        if condition is not None:
            d.fields["engagement"] = condition
            d.params["condition"] = params["condition"]
    d.canonical.update(d.params)
    if "window" in params:
        span = p.duration(params["window"], join_path(d.path, "window"))
        if span is not None:
            d.fields["window"] = span
            d.params["window"] = d.canonical["window"] = params["window"]
    if "events" in params:
        events = params["events"]
        epath = join_path(d.path, "events")
        if isinstance(events, str | bytes) or not isinstance(events, Sequence) or not events:
            p.fail(epath, "expected a non-empty list of event names", "invalid_type")
        elif len(events) > 50:
            p.fail(epath, "at most 50 event names", "too_long")
        else:
            good = True
            for i, name in enumerate(events):
                if not isinstance(name, str) or not EVENT_PATTERN.match(name):
                    p.fail(join_path(epath, i), "expected an event name or a prefix ending in '.*'")
                    good = False
            if good:
                d.fields["events"] = tuple(events)
                d.params["events"] = d.canonical["events"] = list(events)
    if "ifTrue" not in params and "ifFalse" not in params:
        p.fail(d.path, "check_engagement needs 'ifTrue' or 'ifFalse'", "required")
    if "ifTrue" in params:
        d.true_list = p.action_list(
            params["ifTrue"], join_path(d.path, "ifTrue"), d.id, "true", depth + 1
        )
    if "ifFalse" in params:
        d.false_list = p.action_list(
            params["ifFalse"], join_path(d.path, "ifFalse"), d.id, "false", depth + 1
        )


def _split_branch(
    p: StepParser, d: Draft, raw: Any, path: str, name: str, depth: int, *, kind: str
) -> None:
    """One branch of a split.

    ``kind`` is ``when`` (``{"name"?, "when", "then"?, "next"?}``), ``weight``
    (``{"name"?, "weight", "then"?, "next"?}``) or ``default`` (``{"then"?, "next"?}``,
    or just its list of actions).
    """
    default = kind == "default"
    if not default and not isinstance(raw, Mapping):
        p.fail(path, f"expected a branch object {{name?, {kind}, then?, next?}}", "invalid_type")
        return
    if default and not isinstance(raw, Mapping):
        raw = {"then": raw}  # the default may be just its list of actions
    data = p.keys(raw, path)
    allowed = {"then", "next"} if default else {"name", kind, "then", "next"}
    for key in data:
        if key not in allowed:
            p.fail(
                join_path(path, key),
                f"unknown key for a branch (expected: {', '.join(sorted(allowed))})",
                "unknown_field",
            )
    canonical: dict[str, Any] = {}
    criteria = None
    weight = None
    if not default:
        if "name" in data:
            given = data["name"]
            if not isinstance(given, str) or not BRANCH_NAME.match(given):
                p.fail(
                    join_path(path, "name"),
                    "branch names start with a letter, then letters, digits, '_' or '-' (at most 40)",
                )
            else:
                name = given
        canonical["name"] = name
        if kind not in data:
            what = "'when' (criteria)" if kind == "when" else "'weight' (a percentage)"
            p.fail(join_path(path, kind), f"a branch needs a {what}", "required")
        elif kind == "when":
            try:
                criteria = normalize(
                    data["when"], registry=p.registry, path=join_path(path, "when")
                )
            except ValidationError as error:
                p.problems.extend(error)
            else:
                canonical["when"] = data["when"]
        else:
            value = data["weight"]
            wpath = join_path(path, "weight")
            if isinstance(value, bool) or not isinstance(value, int | float):
                p.fail(wpath, "expected a percentage such as 50", "invalid_type")
            elif not math.isfinite(value) or not 0 < value <= 100:
                p.fail(wpath, "must be above 0 and at most 100", "out_of_range")
            else:
                weight = float(value)
                canonical["weight"] = value
    if "then" not in data and "next" not in data and not default:
        p.fail(path, "a branch needs 'then' (actions) or 'next' (a step id)", "required")
    target = None
    if "next" in data:
        target = data["next"]
        if not isinstance(target, str) or not target or len(target) > 200:
            p.fail(join_path(path, "next"), "expected a step id", "invalid_type")
            target = None
    actions = None
    if "then" in data:
        actions = p.action_list(data["then"], join_path(path, "then"), d.id, name, depth + 1)
        canonical["then"] = [a.canonical for a in actions]
    if target is not None:
        canonical["next"] = target
    d.splits.append(SplitDraft(name, path, criteria, actions, target, weight))
    if default:
        d.canonical["default"] = canonical
    else:
        d.canonical.setdefault("branches", []).append(canonical)


def _branches(
    p: StepParser, d: Draft, params: dict[str, Any], depth: int, kind: str, minimum: int
) -> bool:
    """Parse ``branches`` (each of ``kind``); True when every branch parsed."""
    path = join_path(d.path, "branches")
    branches = params.get("branches")
    shape = "{name?, when, then}" if kind == "when" else "{name?, weight, then}"
    if branches is None:
        p.fail(path, f"{d.type} needs 'branches' (a list of {shape})", "required")
        return False
    if isinstance(branches, str | bytes) or not isinstance(branches, Sequence):
        p.fail(path, "expected a list of branches", "invalid_type")
        return False
    if len(branches) < minimum:
        p.fail(path, f"{d.type} needs at least {minimum} branches", "out_of_range")
        return False
    if len(branches) > MAX_BRANCHES:
        p.fail(path, f"a split has at most {MAX_BRANCHES} branches", "too_long")
        return False
    names: dict[str, str] = {}
    ok = True
    for index, raw in enumerate(branches):
        bpath = join_path(path, index)
        before = len(d.splits)
        _split_branch(p, d, raw, bpath, f"branch{index + 1}", depth, kind=kind)
        if len(d.splits) == before:
            ok = False
            continue
        name = d.splits[-1].name
        if name in names or name == "default":
            p.fail(
                join_path(bpath, "name"),
                f"branch name {name!r} is already used at {names.get(name, 'default')}",
                "duplicate",
            )
        names.setdefault(name, bpath)
    return ok


def _condition_split(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    _branches(p, d, params, depth, "when", 1)
    if "default" not in params:
        p.fail(
            join_path(d.path, "default"),
            "condition_split needs a 'default' branch (a list of actions, [] to go on)",
            "required",
        )
    else:
        _split_branch(
            p, d, params["default"], join_path(d.path, "default"), "default", depth, kind="default"
        )


def _random_split(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    if not _branches(p, d, params, depth, "weight", 2):
        return
    weights = [b.weight for b in d.splits]
    if all(w is not None for w in weights):
        total = math.fsum(w for w in weights if w is not None)
        if abs(total - 100.0) > 1e-9:
            p.fail(
                join_path(d.path, "branches"),
                f"the weights add up to {total:g}, not 100",
                "out_of_range",
            )
    if "experiment" in params:
        _experiment(p, d, params["experiment"])


_EXPERIMENT_KEYS: Final = (
    "policy",
    "confidenceLevel",
    "minPerPath",
    "baselineRate",
    "mde",
    "plannedHorizon",
    "tau",
)


def _experiment(p: StepParser, d: Draft, raw: Any) -> None:
    """``experiment``: the plan of a random split's experiment (``Experiment``'s fields)."""
    path = join_path(d.path, "experiment")
    if not isinstance(raw, Mapping):
        p.fail(path, "expected an object {policy, baselineRate, mde, ...}", "invalid_type")
        return
    data = p.keys(raw, path)
    before = len(p.problems.problems)
    for key in data:
        if key not in _EXPERIMENT_KEYS:
            p.fail(
                join_path(path, key),
                f"unknown key for an experiment (expected: {', '.join(sorted(_EXPERIMENT_KEYS))})",
                "unknown_field",
            )

    def number(key: str, low: float, high: float, *, integer: bool = False) -> Any:
        if key not in data:
            return None
        value = data[key]
        kpath = join_path(path, key)
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
            p.fail(kpath, "expected an integer" if integer else "expected a number", "invalid_type")
            return None
        if not math.isfinite(value) or not low < value <= high:
            p.fail(kpath, f"must be above {low:g} and at most {high:g}", "out_of_range")
            return None
        return value

    policy = data.get("policy", "fixed_horizon")
    if policy not in ("fixed_horizon", "always_valid"):
        p.fail(join_path(path, "policy"), "expected 'fixed_horizon' or 'always_valid'")
    level = number("confidenceLevel", 0.5, 0.9999)
    minimum = number("minPerPath", 0, 10**9, integer=True)
    baseline = number("baselineRate", 0, 1)
    if baseline is not None and baseline >= 1:
        p.fail(join_path(path, "baselineRate"), "must be below 1", "out_of_range")
    mde = number("mde", 0, 10)
    horizon = number("plannedHorizon", 0, 10**12, integer=True)
    tau = number("tau", 0, 1)
    if baseline is not None and mde is not None and baseline * (1 + mde) >= 1:
        p.fail(
            join_path(path, "mde"),
            "baselineRate * (1 + mde) must stay below 1 (a rate)",
            "out_of_range",
        )
    if policy == "fixed_horizon" and horizon is None and (baseline is None or mde is None):
        p.fail(
            path,
            "a fixed_horizon experiment needs 'baselineRate' and 'mde' (its planned size is"
            " computed from them when the workflow is saved) or its 'plannedHorizon'",
            "required",
        )
    if policy == "always_valid" and tau is None and baseline is None:
        p.fail(
            path,
            "an always_valid experiment needs 'baselineRate' (its mixing tau is fixed from it"
            " when the workflow is saved) or its 'tau'",
            "required",
        )
    if policy == "always_valid" and horizon is not None:
        p.fail(join_path(path, "plannedHorizon"), "only for fixed_horizon", "invalid_value")
    if policy == "fixed_horizon" and tau is not None:
        p.fail(join_path(path, "tau"), "only for always_valid", "invalid_value")
    if len(p.problems.problems) > before:
        return
    plan: dict[str, Any] = {
        "policy": policy,
        "confidence_level": float(level) if level is not None else 0.95,
        "min_per_path": int(minimum) if minimum is not None else 100,
        "baseline_rate": baseline,
        "mde": mde,
        "planned_horizon": horizon,
        "tau": tau,
    }
    d.fields["experiment"] = plan
    d.canonical["experiment"] = {
        key: value
        for key, value in zip(
            (
                "policy",
                "confidenceLevel",
                "minPerPath",
                "baselineRate",
                "mde",
                "plannedHorizon",
                "tau",
            ),
            plan.values(),
        )
        if value is not None
    }


def _wait_until(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    has_event, has_segment = "event" in params, "segment" in params
    if has_event == has_segment:
        p.fail(
            d.path if has_event else join_path(d.path, "event"),
            "wait_until needs exactly one of 'event' (a fan event) or 'segment' (an entry"
            " into, or with state 'exited' an exit from, a segment)",
            "required",
        )
    elif has_event:
        path = join_path(d.path, "event")
        name = p.event_name(params["event"], path)
        if name is not None:
            d.fields["events"] = (name,)
            d.params["event"] = d.canonical["event"] = name
    else:
        segment = p.text(params["segment"], join_path(d.path, "segment"))
        if segment is not None:
            d.params["segment"] = d.canonical["segment"] = segment
        state = params.get("state", "entered")
        if state not in ("entered", "exited"):
            p.fail(join_path(d.path, "state"), "expected 'entered' or 'exited'")
        else:
            d.params["state"] = d.canonical["state"] = state
    if "state" in params and not has_segment:
        p.fail(join_path(d.path, "state"), "'state' is for a segment wait", "invalid_value")
    if "filter" in params:
        if has_segment:
            p.fail(join_path(d.path, "filter"), "'filter' is for an event wait", "invalid_value")
        conditions = parse_filter(params["filter"], join_path(d.path, "filter"), p.problems)
        if conditions is not None:
            d.fields["filter"] = conditions
            d.params["filter"] = d.canonical["filter"] = [c.to_json() for c in conditions]
    tpath = join_path(d.path, "timeout")
    if "timeout" not in params:
        p.fail(tpath, "wait_until needs a 'timeout' (how long to wait)", "required")
    else:
        span = p.duration(params["timeout"], tpath)
        if span is not None:
            d.fields["duration"] = span
            d.params["timeout"] = d.canonical["timeout"] = params["timeout"]
    first = ("onSegment", "segment") if has_segment else ("onEvent", "event")
    if has_segment and "onEvent" in params:
        p.fail(join_path(d.path, "onEvent"), "a segment wait goes on with 'onSegment'")
    if not has_segment and "onSegment" in params:
        p.fail(join_path(d.path, "onSegment"), "an event wait goes on with 'onEvent'")
    for key, name in (first, ("onTimeout", "timeout")):
        bpath = join_path(d.path, key)
        actions = None
        if key in params:
            actions = p.action_list(params[key], bpath, d.id, name, depth + 1)
            d.canonical[key] = [a.canonical for a in actions]
        d.splits.append(SplitDraft(name, bpath, None, actions, None, None))


def _create_campaign(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    path = join_path(d.path, "template")
    if "template" not in params:
        p.fail(path, "create_campaign needs a 'template' (id or key)", "required")
    else:
        template = p.text(params["template"], path)
        if template is not None:
            d.params["template"] = template
    if "discount" in params:
        discount = params["discount"]
        dpath = join_path(d.path, "discount")
        if isinstance(discount, bool) or not isinstance(discount, int | float):
            p.fail(dpath, "expected a number such as 0.25 (25% off)", "invalid_type")
        elif not math.isfinite(discount) or not 0 <= discount < 1:
            p.fail(dpath, "must be from 0 to below 1 (0.25 = 25% off)", "out_of_range")
        else:
            d.params["discount"] = discount
    if "name" in params:
        name = p.text(params["name"], join_path(d.path, "name"))
        if name is not None:
            d.params["name"] = name
    if "customization" in params:
        custom = p.json_object(params["customization"], join_path(d.path, "customization"))
        if custom is not None:
            d.params["customization"] = custom
    d.canonical.update(d.params)


def _segment(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    path = join_path(d.path, "segment")
    if "segment" not in params:
        p.fail(path, f"{d.type} needs a 'segment' (id or name)", "required")
        return
    segment = p.text(params["segment"], path)
    if segment is not None:
        d.params["segment"] = d.canonical["segment"] = segment


def _update_fan(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    path = join_path(d.path, "fields")
    fields = params.get("fields")
    if not isinstance(fields, Mapping) or not fields:
        p.fail(path, "update_fan needs a non-empty 'fields' object", "required")
        return
    clean = p.json_object(fields, path)
    if clean is None:
        return
    if p.check_fan_fields is not None:
        p.check_fan_fields(clean, p.problems, path)
    d.params["fields"] = d.canonical["fields"] = clean


def _emit_event(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    path = join_path(d.path, "event")
    if "event" not in params:
        p.fail(path, "emit_event needs an 'event' name", "required")
    else:
        name = p.event_name(params["event"], path)
        if name is not None:
            d.params["event"] = name
    if "properties" in params:
        props = p.json_object(params["properties"], join_path(d.path, "properties"))
        if props is not None:
            d.params["properties"] = props
    d.canonical.update(d.params)


# a stored definition was checked when it was saved: the engine reads it leniently and
# the webhook action checks the URL against the settings of the day before calling
_LENIENT_WEBHOOKS: Final = WebhookSettings(
    allow_http=True, allow_private=True, max_timeout=timedelta(minutes=5)
)


def _webhook(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    policy = p.webhooks or _LENIENT_WEBHOOKS
    path = join_path(d.path, "url")
    if "url" not in params:
        p.fail(path, "webhook needs a 'url'", "required")
    else:
        url = check_url(params["url"], path, p.problems, policy)
        if url is not None:
            d.params["url"] = url
    if "method" in params:
        method = params["method"]
        if not isinstance(method, str) or method.upper() not in METHODS:
            p.fail(join_path(d.path, "method"), f"expected one of {', '.join(METHODS)}")
        else:
            d.params["method"] = method.upper()
    if "headers" in params:
        headers = check_headers(params["headers"], join_path(d.path, "headers"), p.problems)
        if headers is not None:
            d.params["headers"] = headers
    if "body" in params:
        bpath = join_path(d.path, "body")
        body = params["body"]
        if not isinstance(body, Mapping | list):
            p.fail(bpath, "expected a JSON object or list (the request body)", "invalid_type")
        elif parse_template(body, bpath, p.problems, registry=p.registry):
            clean = p.json_object({"body": body}, bpath)
            if clean is not None:
                d.params["body"] = clean["body"]
    if "timeout" in params:
        tpath = join_path(d.path, "timeout")
        if check_timeout(params["timeout"], tpath, p.problems, policy) is not None:
            d.params["timeout"] = params["timeout"]
    d.canonical.update(d.params)


_TRAIT_VALUES: Final = {
    FieldType.NUMBER: ("number",),
    FieldType.STRING: ("string",),
    FieldType.BOOLEAN: ("boolean",),
    FieldType.DATETIME: ("datetime", "string"),
    FieldType.STRING_LIST: ("string_list",),
}


def _update_trait(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    tpath = join_path(d.path, "trait")
    spec = None
    if "trait" not in params:
        p.fail(tpath, "update_trait needs the 'trait' to set", "required")
    else:
        name = params["trait"]
        found = p.registry.get(f"traits.{name}") if isinstance(name, str) else None
        if found is None or found.source is not FieldSource.TRAIT:
            p.fail(tpath, "undeclared trait (declare it in Settings.fan_traits)", "unknown_field")
        else:
            spec = found
            d.params["trait"] = found.key
    vpath = join_path(d.path, "value")
    if "value" not in params:
        p.fail(vpath, "update_trait needs a 'value' (a literal or an expression)", "required")
    else:
        value = params["value"]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = {"$literal": value}  # a list of text is a string_list literal
        expression = parse_expression(value, vpath, p.problems, registry=p.registry)
        if expression is not None:
            allowed = _TRAIT_VALUES.get(spec.type, ()) if spec is not None else ()
            kind = expression.type
            if spec is not None and kind not in (None, "null", *allowed):
                p.fail(
                    vpath, f"trait {spec.key!r} holds a {spec.type.value}, this value is a {kind}"
                )
            else:
                d.params["value"] = params["value"]
    d.canonical.update(d.params)


def _exit(p: StepParser, d: Draft, params: dict[str, Any], depth: int) -> None:
    if "reason" in params:
        reason = p.text(params["reason"], join_path(d.path, "reason"), max_length=500)
        if reason is not None:
            d.params["reason"] = d.canonical["reason"] = reason


def _specs(*specs: StepSpec) -> dict[str, StepSpec]:
    return {spec.name: spec for spec in specs}


BUILTIN_STEPS: Final[Mapping[str, StepSpec]] = _specs(
    StepSpec("wait", frozenset({"duration", "until"}), _wait),
    StepSpec(
        "send_message",
        frozenset(
            {
                "template",
                "personalize",
                "includeMedia",
                "includeOffer",
                "variables",
                "channel",
                "topic",
            }
        ),
        _send_message,
        effect="external",
        messaging=True,
    ),
    StepSpec(
        "check_engagement",
        frozenset({"condition", "ifTrue", "ifFalse", "window", "events"}),
        _check_engagement,
        branches=True,
    ),
    StepSpec(
        "condition_split",
        frozenset({"branches", "default"}),
        _condition_split,
        splits=True,
    ),
    StepSpec("random_split", frozenset({"branches", "experiment"}), _random_split, splits=True),
    StepSpec(
        "wait_until",
        frozenset(
            {"event", "filter", "segment", "state", "timeout", "onEvent", "onSegment", "onTimeout"}
        ),
        _wait_until,
        splits=True,
    ),
    StepSpec(
        "create_campaign",
        frozenset({"template", "discount", "name", "customization"}),
        _create_campaign,
        effect="external",
        refers_to="template",
    ),
    StepSpec(
        "add_to_segment",
        frozenset({"segment"}),
        _segment,
        effect="store",
        refers_to="segment",
        writes=True,
    ),
    StepSpec(
        "remove_from_segment",
        frozenset({"segment"}),
        _segment,
        effect="store",
        refers_to="segment",
        writes=True,
    ),
    StepSpec("update_fan", frozenset({"fields"}), _update_fan, effect="store"),
    StepSpec("update_trait", frozenset({"trait", "value"}), _update_trait, effect="store"),
    StepSpec("emit_event", frozenset({"event", "properties"}), _emit_event, effect="store"),
    StepSpec(
        "webhook",
        frozenset({"url", "method", "headers", "body", "timeout"}),
        _webhook,
        effect="external",
    ),
    StepSpec("exit", frozenset({"reason"}), _exit, terminal=True),
)
"""The built-in step types, in the order the docs list them."""
