"""The durable workflow interpreter: enrolment, runs, steps, triggers, hooks.

How a run moves (see ``docs/explanation/engine-guarantees.md``):

1. **Enrolment** creates one ``automation_runs`` row per (workflow, fan,
   entry) inside the transaction of whatever caused it (a fan event, a segment
   entry, a sweep page, a manual start). Its cursor is on the first step; a
   first ``wait`` is armed at once.
2. ``tick()`` **claims** due runs with a lease (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL), then **plans** each one outside any transaction: it runs
   bookkeeping steps (waits, checks) and at most one step with an effect.
   Port calls (``Messenger``, custom handlers, campaign creation) happen here,
   each with an idempotency key ``<run>:<step>:<visit>``.
3. The outcomes of the claimed batch are **recorded** in one transaction: each
   run's new cursor, wake time, attempts and variables (version-checked, so a
   worker that lost its lease writes nothing), the store-side effects of
   ``add_to_segment``, ``update_fan`` and ``emit_event``, one history row per
   step attempt, and the seed's ``AutomationExecution`` row when a run ends.

A crash between 2 and 3 loses nothing: the lease expires, another tick plans
the same step again, and the port sees the same idempotency key.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import time as _time
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final, TypeVar

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.alerts import Alert, AlertKind
from campaign_core.audit import audited
from campaign_core.automation._conditions import match_properties
from campaign_core.automation._settings import (
    BUILTIN_ACTIONS,
    ActionContext,
    ActionFailed,
    AutomationSettings,
)
from campaign_core.automation._workflow import (
    OverduePolicy,
    Reentry,
    Step,
    Trigger,
    TriggerType,
    Workflow,
    parse_workflow,
)
from campaign_core.catalog import builtin_template
from campaign_core.criteria import (
    AllOf,
    AnyOf,
    CompiledCriteria,
    EventCondition,
    FieldRegistry,
    InSegment,
    Node,
    Not,
    compile_criteria,
)
from campaign_core.errors import (
    CampaignCoreError,
    ConflictError,
    NotFoundError,
    ProblemCollector,
    RateLimitedError,
    ValidationError,
)
from campaign_core.jobs.automation._ports import AutomationPorts
from campaign_core.models import (
    Automation,
    AutomationExecution,
    AutomationRun,
    AutomationStatus,
    AutomationStepRun,
    AutomationTrigger,
    AutomationTriggerMatch,
    ExecutionStatus,
    Fan,
    FanEvent,
    RunStatus,
    Segment,
    StepStatus,
)
from campaign_core.models._segments import SegmentType
from campaign_core.query import And, Cond, Eq, Gt, Gte, In, Lte, NotIn, Order
from campaign_core.serialization import check_json_value, format_datetime

__all__ = [
    "AUTOMATION_MARK",
    "Engine",
    "EngineReport",
    "Outcome",
    "compile_definition",
    "install",
]

_log = logging.getLogger("campaign_core.automation")

AUTOMATION_MARK: Final = "_automation"
"""Property key on fan events that automations emit (never counts as engagement)."""

T = TypeVar("T")
_BUILTIN_TYPES: Final = frozenset(BUILTIN_ACTIONS)
_OPEN: Final = (RunStatus.ACTIVE, RunStatus.HELD)
_ALERT_SAMPLE: Final = 5


# ------------------------------------------------------------------------------ helpers


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


# a batch stamps every history entry with the same instant: format it once (only
# UTC datetimes: local times differing by ``fold`` are equal keys, other instants)
_format_cached = functools.lru_cache(maxsize=64)(format_datetime)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return _format_cached(value) if value.tzinfo is UTC else format_datetime(value)


def _stable_id(prefix: str, key: str) -> str:
    """A deterministic id for a side effect (so a retried step finds what it made)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{prefix}-{digest}"


def _registry(rt: Runtime) -> FieldRegistry:
    return _traits_registry(tuple(sorted((k, str(v)) for k, v in rt.settings.fan_traits.items())))


@functools.lru_cache(maxsize=64)
def _traits_registry(traits: tuple[tuple[str, str], ...]) -> FieldRegistry:
    return FieldRegistry.with_traits(dict(traits)) if traits else FieldRegistry.default()


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
    """A stored definition as a :class:`Workflow` (cached by content).

    Stored definitions were validated when saved; custom action types are
    accepted here whether or not they are registered (a missing handler fails
    the step at run time instead of making the run unreadable).
    """
    data = dict(definition)
    data.setdefault("name", "workflow")
    return _compile_text(json.dumps(data, sort_keys=True, default=str), registry)


def _walk(node: Node) -> Iterable[Node]:
    yield node
    if isinstance(node, AllOf | AnyOf):
        for child in node.children:
            yield from _walk(child)
    elif isinstance(node, Not):
        yield from _walk(node.child)


def _needs(criteria_root: Node) -> tuple[bool, bool]:
    """(uses fan events, uses segment membership)."""
    events = segments = False
    for node in _walk(criteria_root):
        events = events or isinstance(node, EventCondition)
        segments = segments or isinstance(node, InSegment)
    return events, segments


def _zone_of(
    fan: Fan | None, workflow: Workflow, settings: AutomationSettings
) -> zoneinfo.ZoneInfo:
    name = (fan.time_zone if fan is not None else None) or workflow.settings.time_zone
    try:
        return zoneinfo.ZoneInfo(name or settings.default_time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.default_time_zone)


def _next_local(now: datetime, at: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """The next instant (strictly after ``now``) when the local clock in ``zone`` reads ``at``."""
    local = now.astimezone(zone)
    for offset in range(3):
        day = local.date() + timedelta(days=offset)
        candidate = datetime(day.year, day.month, day.day, at.hour, at.minute, tzinfo=zone)
        as_utc = candidate.astimezone(UTC)
        if as_utc > now:
            return as_utc
    return now + timedelta(days=1)  # pragma: no cover - unreachable with real zones


def _matches_pattern(name: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if pattern.endswith(".*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


def _execution_status(run_status: RunStatus, errors: Sequence[Any]) -> ExecutionStatus:
    """The seed's three statuses: success, failure or partial (documented in the how-to)."""
    if run_status in (RunStatus.FAILED, RunStatus.TIMED_OUT):
        return ExecutionStatus.FAILURE
    if run_status is RunStatus.CANCELLED:
        return ExecutionStatus.PARTIAL
    return ExecutionStatus.PARTIAL if errors else ExecutionStatus.SUCCESS


# ------------------------------------------------------------------------------ results


@attrs.define
class _State:
    """A run being advanced: a mutable working copy of its fields."""

    run: AutomationRun
    status: RunStatus
    cursor: str | None
    wake_at: datetime | None
    attempts: int
    step_entered_at: datetime | None
    step_count: int
    variables: dict[str, Any]
    state: dict[str, Any]
    executed: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    finished_at: datetime | None
    outcome: str | None
    started: float = attrs.field(factory=_time.perf_counter)

    @classmethod
    def of(cls, run: AutomationRun) -> _State:
        return cls(
            run=run,
            status=run.status,
            cursor=run.cursor,
            wake_at=run.wake_at,
            attempts=run.attempts,
            step_entered_at=run.step_entered_at,
            step_count=run.step_count,
            # the run is this worker's own fresh copy: copy only what the steps change
            variables=dict(run.variables),
            state={
                **run.state,
                "visits": dict(run.state.get("visits") or {}),
                "step": dict(run.state.get("step") or {}),
            },
            executed=list(run.executed_actions),
            errors=list(run.errors),
            finished_at=run.finished_at,
            outcome=run.outcome,
        )

    @property
    def visits(self) -> dict[str, int]:
        visits: dict[str, int] = self.state.setdefault("visits", {})
        return visits

    def record(self, now: datetime) -> AutomationRun:
        # every field set here must be in _ROUND_FIELDS (the batch write's columns)
        # processing time across all the run's rounds (waits excluded), for the metrics
        spent = float(self.state.get("processingMs", 0.0))
        self.state["processingMs"] = round(spent + (_time.perf_counter() - self.started) * 1000, 3)
        return attrs.evolve(
            self.run,
            status=self.status,
            cursor=self.cursor,
            wake_at=self.wake_at,
            attempts=self.attempts,
            step_entered_at=self.step_entered_at,
            step_count=self.step_count,
            variables=self.variables,
            state=self.state,
            executed_actions=tuple(self.executed),
            errors=tuple(self.errors),
            finished_at=self.finished_at,
            outcome=self.outcome,
            updated_at=now,
            lease_owner=None,
            lease_until=None,
            version=self.run.version + 1,
        )


# the fields of a run that advancing it changes (what _State.record sets): the
# batch write of a round's runs writes only these columns
_ROUND_FIELDS = (
    "status",
    "cursor",
    "wake_at",
    "attempts",
    "step_entered_at",
    "step_count",
    "variables",
    "state",
    "executed_actions",
    "errors",
    "finished_at",
    "outcome",
    "updated_at",
    "lease_owner",
    "lease_until",
    "version",
)


@attrs.define
class Outcome:
    """What planning one run produced, to be recorded in one transaction."""

    run: AutomationRun
    trigger_type: str
    steps: list[AutomationStepRun] = attrs.field(factory=list)
    ops: list[Callable[[Tx], None]] = attrs.field(factory=list)
    finished: bool = False
    failures: list[str] = attrs.field(factory=list)
    timed_out: bool = False
    processing_ms: float = 0.0
    failed_attempts: list[str] = attrs.field(factory=list)


@attrs.frozen
class EngineReport:
    """What the automation part of one ``tick()`` did."""

    runs_advanced: int = 0
    steps_executed: int = 0
    runs_finished: int = 0
    runs_enrolled: int = 0
    triggers_processed: int = 0
    errors: tuple[tuple[str, str, str], ...] = ()


@attrs.define
class _Round:
    """What a batch of runs needs, loaded once per batch."""

    now: datetime
    automations: dict[str, Automation]
    workflows: dict[tuple[str, int], Workflow | ValidationError]
    fans: dict[tuple[str, str], Fan]
    sends: dict[tuple[str, str], int] = attrs.field(factory=dict)
    runs: Sequence[AutomationRun] = ()
    events: dict[tuple[str, str], list[FanEvent]] | None = None


class _Stale(Exception):
    """A bulk write found a run changed since the claim (the transaction is rolled back)."""


class _StoreFailure(Exception):
    """The engine's own store read failed while planning (not the action's fault)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _Sleep(Exception):
    def __init__(self, until: datetime, reason: str) -> None:
        self.until = until
        self.reason = reason


@attrs.frozen
class _Done:
    output: Mapping[str, Any] = attrs.field(factory=dict)
    next: str | None = None
    jump: bool = False  # ``next`` overrides the step's own next
    exit: str | None = None
    op: Callable[[Tx], None] | None = None


# ------------------------------------------------------------------------------ the engine


class Engine:
    """The interpreter over one runtime. Cheap to build; holds no state between calls."""

    def __init__(self, rt: Runtime, ports: AutomationPorts) -> None:
        self.rt = rt
        self.ports = ports
        self.cfg: AutomationSettings = rt.settings.automation
        self.registry = _registry(rt)
        self._rt_caches = rt.caches
        # SQL stores have indexes and a bulk insert path; the in-memory store scans for every
        # query but gets and updates by id in O(1): each gets the access pattern that suits it
        self._sql = _is_sql(rt.store)

    def _query(self, read: Callable[[Tx], T]) -> T:
        """A read while planning; a failure of the store aborts the batch instead of the step."""
        try:
            with self.rt.transaction() as tx:
                return read(tx)
        except Exception as error:
            raise _StoreFailure(error) from error

    # -- definitions --------------------------------------------------------------------
    def current(self, automation: Automation) -> Workflow:
        """The workflow an automation row defines now.

        Compiled workflows are the seed's "automation rules" cache (30 minutes,
        bounded): the key includes the row's versions, so an edit is never
        served stale; only the compiling is saved.
        """
        key = (automation.user_id, automation.id, automation.workflow_version, automation.version)
        cache = self._rt_caches.automation_rules
        found = cache.get(key)
        if not isinstance(found, Workflow):
            found = compile_definition(definition_of(automation), self.registry)
            cache.put(key, found)
        return found

    def _pinned(
        self, tx: Tx, automations: Mapping[str, Automation], keys: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], Workflow | ValidationError]:
        out: dict[tuple[str, int], Workflow | ValidationError] = {}
        older: dict[str, set[int]] = defaultdict(set)
        for automation_id, version in keys:
            automation = automations.get(automation_id)
            if automation is not None and automation.workflow_version == version:
                try:
                    out[(automation_id, version)] = self.current(automation)
                except ValidationError as error:
                    out[(automation_id, version)] = error
            else:
                older[automation_id].add(version)
        if older:
            rows = tx.uow.automation_versions.find(
                And(
                    In("automation_id", list(older)),
                    In("workflow_version", sorted({v for vs in older.values() for v in vs})),
                )
            )
            for row in rows:
                if row.workflow_version in older.get(row.automation_id, ()):
                    try:
                        out[(row.automation_id, row.workflow_version)] = compile_definition(
                            row.definition, self.registry
                        )
                    except ValidationError as error:
                        out[(row.automation_id, row.workflow_version)] = error
        return out

    # -- enrolment ----------------------------------------------------------------------
    def enrol(
        self,
        tx: Tx,
        automation: Automation,
        workflow: Workflow,
        fans: Sequence[Fan],
        *,
        entry: str,
        trigger_data: Callable[[Fan], dict[str, Any]],
        depth: int = 0,
        check_conditions: bool = True,
        trigger_type: str | None = None,
    ) -> list[AutomationRun]:
        """Start runs for the fans that may enter (conditions, opt-out, re-entry policy).

        Returns the runs created (in ``tx``; nothing runs until ``tick()``).
        """
        now = self.rt.now()
        if depth > self.cfg.max_chain_depth:
            _log.warning(
                "not enrolling %d fan(s) in %s: automation-emitted event chain deeper than %d",
                len(fans),
                automation.id,
                self.cfg.max_chain_depth,
            )
            return []
        candidates = [f for f in fans if not f.opted_out]
        if check_conditions and workflow.criteria is not None and candidates:
            candidates = self._passing(tx, workflow.criteria.root, candidates, now, automation.id)
        if not candidates:
            return []
        settings = workflow.settings
        existing: list[AutomationRun] = []
        if self._sql or settings.reentry is Reentry.ONCE_PER_WINDOW:
            # (elsewhere the unique entry key alone keeps a fan from entering twice)
            existing = tx.uow.automation_runs.find(
                And(
                    Eq("automation_id", automation.id),
                    In("fan_id", [f.fan_id for f in candidates]),
                )
            )
        by_fan: dict[str, list[AutomationRun]] = defaultdict(list)
        for run in existing:
            by_fan[run.fan_id].append(run)
        window = settings.reentry_window or timedelta(days=1)
        if settings.reentry is Reentry.NEVER:
            key = "once"
        elif settings.reentry is Reentry.ONCE_PER_WINDOW:
            # a bucket per window makes two racing enrolments collide on the unique key
            key = f"window:{_ms(now) // max(1, int(window.total_seconds() * 1000))}"
        else:
            key = entry
        timeout = settings.timeout or self.cfg.default_timeout
        runs: list[AutomationRun] = []
        for fan in candidates:
            previous = by_fan.get(fan.fan_id, [])
            if any(r.entry_key == key for r in previous):
                continue
            if settings.reentry is Reentry.NEVER and previous:
                continue
            if settings.reentry is Reentry.ONCE_PER_WINDOW and any(
                r.entered_at > now - window for r in previous
            ):
                continue
            run = AutomationRun(
                id=self.rt.ids.new_id("run"),
                automation_id=automation.id,
                owner_id=automation.user_id,
                fan_id=fan.fan_id,
                fan_ref=fan.id,
                workflow_version=automation.workflow_version,
                entry_key=key,
                trigger_type=trigger_type or workflow.trigger.type.value,
                trigger_data=trigger_data(fan),
                entered_at=now,
                updated_at=now,
                deadline=now + timeout,
                chain_depth=depth,
                state={"visits": {}},
            )
            state = _State.of(run)
            self._enter(state, workflow.first, workflow, fan, now)
            runs.append(state.record(now))
        if not runs:
            return []
        fresh = [attrs.evolve(r, version=1) for r in runs]
        try:
            tx.uow.automation_runs.add_many(fresh)
        except ConflictError:
            # a racing enrolment took some keys: add the others one by one
            kept = []
            for run in fresh:
                try:
                    tx.uow.automation_runs.add(run)
                    kept.append(run)
                except ConflictError:
                    continue
            fresh = kept
        if fresh:
            tx.uow.automations.increment(automation.id, {"execution_count": len(fresh)})
            self._touch(tx, automation, now)
        return fresh

    def _touch(self, tx: Tx, automation: Automation, now: datetime) -> None:
        """Keep ``lastExecutedAt`` roughly current without fighting over the row."""
        last = automation.last_executed_at
        if last is not None and now - last < timedelta(minutes=1):
            return
        current = tx.uow.automations.get(automation.id)
        if current is None or (
            current.last_executed_at is not None
            and now - current.last_executed_at < timedelta(minutes=1)
        ):
            return
        # someone else may just have written the row: the timestamp is informational
        with contextlib.suppress(ConflictError):
            tx.uow.automations.update(
                attrs.evolve(current, last_executed_at=now, version=current.version + 1)
            )

    def _passing(
        self, tx: Tx, root: Node, fans: Sequence[Fan], now: datetime, automation_id: str
    ) -> list[Fan]:
        from campaign_core.criteria import Criteria

        compiled = compile_criteria(Criteria(root=root), registry=self.registry)
        return self._evaluate(tx, compiled, fans, now, automation_id)

    def _evaluate(
        self,
        tx: Tx,
        compiled: CompiledCriteria,
        fans: Sequence[Fan],
        now: datetime,
        automation_id: str,
    ) -> list[Fan]:
        """The fans matching ``compiled``; a fan whose evaluation fails is logged and skipped."""
        wants_events, wants_segments = _needs(compiled.criteria.root)
        events: dict[str, list[FanEvent]] = defaultdict(list)
        memberships: dict[str, set[str]] = defaultdict(set)
        if fans and wants_events:
            owner = fans[0].owner_id
            for event in tx.uow.fan_events.find(
                And(Eq("owner_id", owner), In("fan_id", [f.fan_id for f in fans]))
            ):
                events[event.fan_id].append(event)
        if fans and wants_segments:
            owner_segments = [s.id for s in tx.uow.segments.find(Eq("user_id", fans[0].owner_id))]
            for member in tx.uow.segment_members.find(
                And(In("fan_id", [f.fan_id for f in fans]), In("segment_id", owner_segments))
            ):
                memberships[member.fan_id].add(member.segment_id)
        out = []
        for fan in fans:
            try:
                matched = compiled.evaluate(
                    fan,
                    events.get(fan.fan_id, ()),
                    now=now,
                    segments=memberships.get(fan.fan_id, set()) if wants_segments else None,
                )
            except CampaignCoreError as error:
                _log.warning(
                    "trigger evaluation failed for a fan of automation %s (skipped): %s",
                    automation_id,
                    error,
                )
                continue
            if matched:
                out.append(fan)
        return out

    # -- entering steps -------------------------------------------------------------------
    def _enter(
        self, st: _State, step_id: str | None, workflow: Workflow, fan: Fan | None, now: datetime
    ) -> None:
        """Move the cursor to ``step_id`` (or finish); arm a wait at once."""
        st.attempts = 0
        st.step_entered_at = now
        step_state: dict[str, Any] = {}
        if st.state.get("skipOverdue"):
            step_state["skipOverdue"] = True
        st.state["step"] = step_state
        st.state.pop("skipOverdue", None)
        if step_id is None:
            st.cursor = None
            self._finish(st, RunStatus.COMPLETED, "completed", now)
            return
        st.cursor = step_id
        step = workflow.step(step_id)
        wake = now
        if step is not None and step.type == "wait":
            if step.duration is not None:
                until = now + step.duration
            elif step.until_time is not None:
                until = _next_local(now, step.until_time, _zone_of(fan, workflow, self.cfg))
            else:
                assert step.until_at is not None
                until = max(step.until_at, now)
            step_state["until"] = format_datetime(until)
            wake = until
        deadline = st.run.deadline
        st.wake_at = min(wake, deadline) if deadline is not None else wake

    def _finish(self, st: _State, status: RunStatus, outcome: str, now: datetime) -> None:
        st.status = status
        st.outcome = outcome
        st.finished_at = now
        st.wake_at = None
        if status in (RunStatus.COMPLETED, RunStatus.EXITED):
            st.cursor = None

    # -- claiming and advancing -------------------------------------------------------------
    def process_due_runs(self, budget: int | None = None) -> EngineReport:
        """Claim and advance due runs, batch by batch, up to ``budget`` advances."""
        rt = self.rt
        remaining = self.cfg.runs_per_tick if budget is None else budget
        advanced = steps = finished = 0
        errors: list[tuple[str, str, str]] = []
        while remaining > 0:
            now = rt.now()
            with rt.transaction() as tx:
                claimed = tx.uow.automation_runs.claim(
                    And(Eq("status", RunStatus.ACTIVE), Lte("wake_at", now)),
                    order_by=[Order("wake_at"), Order("id")],
                    limit=min(rt.settings.tick_batch_size, remaining),
                    owner=rt.worker_id,
                    until=now + rt.settings.lease_duration,
                    now=now,
                )
                # what the batch needs is read in the claim's own transaction
                ctx = self._read_round(tx, claimed, now) if claimed else None
            if not claimed or ctx is None:
                break
            remaining -= len(claimed)
            outcomes = self.advance(claimed, ctx)
            recorded = self.record(outcomes)
            advanced += len(recorded)
            steps += sum(
                len([s for s in o.steps if s.status is not StepStatus.RETRYING]) for o in recorded
            )
            finished += sum(1 for o in recorded if o.finished)
        return EngineReport(
            runs_advanced=advanced,
            steps_executed=steps,
            runs_finished=finished,
            errors=tuple(errors),
        )

    def _read_round(self, tx: Tx, runs: Sequence[AutomationRun], now: datetime) -> _Round:
        """The workflows, pinned versions and fans a batch of runs needs."""
        automations = {
            a.id: a
            for a in tx.uow.automations.find(In("id", sorted({r.automation_id for r in runs})))
        }
        workflows = self._pinned(
            tx, automations, {(r.automation_id, r.workflow_version) for r in runs}
        )
        fans: dict[tuple[str, str], Fan] = {}
        refs = sorted({r.fan_ref for r in runs if r.fan_ref})
        found = (
            tx.uow.fans.find(In("id", refs))
            if self._sql
            else [f for f in map(tx.uow.fans.get, refs) if f is not None]
        )
        for fan in found:
            fans[(fan.owner_id, fan.fan_id)] = fan
        by_owner: dict[str, set[str]] = defaultdict(set)
        for run in runs:
            if not run.fan_ref:  # runs from before fan_ref existed
                by_owner[run.owner_id].add(run.fan_id)
        for owner, fan_ids in by_owner.items():
            for fan in tx.uow.fans.find(And(Eq("owner_id", owner), In("fan_id", sorted(fan_ids)))):
                fans[(owner, fan.fan_id)] = fan
        return _Round(now=now, automations=automations, workflows=workflows, fans=fans, runs=runs)

    def advance(self, runs: Sequence[AutomationRun], ctx: _Round | None = None) -> list[Outcome]:
        """Plan each claimed run: execute its due steps (port calls happen here).

        Args:
            runs: runs this worker has just claimed.
            ctx: what they need, if already read (in the claim's transaction).
        """
        if ctx is None:
            now = self.rt.now()
            with self.rt.transaction() as tx:
                ctx = self._read_round(tx, runs, now)
        outcomes = []
        for run in runs:
            started = _time.perf_counter()
            try:
                outcome = self._advance_one(run, ctx)
            except _StoreFailure as failure:
                raise failure.error from None
            except Exception as error:  # a bug must not stall the batch: fail the run
                _log.exception("advancing run %s failed", run.id)
                st = _State.of(run)
                st.errors.append({"stepId": run.cursor, "error": f"engine error: {error}"})
                self._finish(st, RunStatus.FAILED, f"engine error: {error}", ctx.now)
                outcome = Outcome(
                    run=st.record(ctx.now), trigger_type=run.trigger_type, finished=True
                )
                outcome.failures.append(f"engine error: {error}")
            outcome.processing_ms = (_time.perf_counter() - started) * 1000
            outcomes.append(outcome)
        return outcomes

    def _advance_one(self, run: AutomationRun, ctx: _Round) -> Outcome:
        now = ctx.now
        st = _State.of(run)
        outcome = Outcome(run=run, trigger_type=run.trigger_type)
        automation = ctx.automations.get(run.automation_id)
        if automation is None:
            self._finish(st, RunStatus.CANCELLED, "workflow deleted", now)
            return self._close(st, outcome, now)
        if automation.status is not AutomationStatus.ACTIVE:
            st.status = RunStatus.HELD  # keeps wake_at: resuming applies the overdue policy
            outcome.run = st.record(now)
            return outcome
        workflow = ctx.workflows.get((run.automation_id, run.workflow_version))
        if not isinstance(workflow, Workflow):
            reason = f"workflow version {run.workflow_version} is unreadable: {workflow}"
            st.errors.append({"stepId": run.cursor, "error": reason, "at": _iso(now)})
            self._finish(st, RunStatus.FAILED, reason, now)
            outcome.failures.append(reason)
            return self._close(st, outcome, now)
        fan = ctx.fans.get((run.owner_id, run.fan_id))
        if fan is None or fan.opted_out:
            reason = "fan erased" if fan is None else "fan opted out"
            self._finish(st, RunStatus.CANCELLED, reason, now)
            return self._close(st, outcome, now)
        if not st.state.get("started"):
            # the account's automation-run limit throttles starts: a run over it waits its turn
            try:
                self.rt.limiter.hit(run.owner_id, "automation_runs")
            except RateLimitedError as limited:
                st.wake_at = now + timedelta(seconds=max(1.0, limited.retry_after))
                st.state["step"] = {**st.state.get("step", {}), "deferred": "rate_limit"}
                return self._close(st, outcome, now)
            st.state["started"] = True
        effect_done = False
        while st.status is RunStatus.ACTIVE:
            if run.deadline is not None and now >= run.deadline:
                reason = f"timed out: not finished by {format_datetime(run.deadline)}"
                st.errors.append({"stepId": st.cursor, "error": reason, "at": _iso(now)})
                self._finish(st, RunStatus.TIMED_OUT, reason, now)
                outcome.timed_out = True
                break
            if st.wake_at is not None and st.wake_at > now:
                break
            step = workflow.step(st.cursor)
            if step is None:
                self._finish(st, RunStatus.COMPLETED, "completed", now)
                break
            if st.step_count >= self.cfg.max_steps_per_run:
                reason = f"step budget of {self.cfg.max_steps_per_run} steps exhausted"
                st.errors.append({"stepId": step.id, "error": reason, "at": _iso(now)})
                self._finish(st, RunStatus.FAILED, reason, now)
                outcome.failures.append(reason)
                break
            if step.effect != "none" and effect_done:
                st.wake_at = now  # persist this effect before the next one
                break
            self._step(st, step, workflow, automation, fan, ctx, outcome)
            if step.effect != "none":
                effect_done = True
        return self._close(st, outcome, now)

    def _close(self, st: _State, outcome: Outcome, now: datetime) -> Outcome:
        outcome.run = st.record(now)
        outcome.finished = st.status.finished
        return outcome

    def _history(
        self,
        st: _State,
        step: Step,
        status: StepStatus,
        started: datetime,
        now: datetime,
        *,
        output: Mapping[str, Any] | None = None,
        error: str | None = None,
        key: str | None = None,
    ) -> AutomationStepRun:
        run = st.run
        visit = st.visits.get(step.id, 0)
        return AutomationStepRun(
            # one row per attempt of a visit: a deterministic id (and no id factory call)
            id=f"{run.id}.{step.id}.{visit}.{st.attempts + 1}",
            run_id=run.id,
            automation_id=run.automation_id,
            owner_id=run.owner_id,
            fan_id=run.fan_id,
            step_id=step.id,
            action_type=step.type,
            visit=visit,
            attempt=st.attempts + 1,
            status=status,
            started_at=started,
            finished_at=now,
            duration_ms=max(0, int((now - started).total_seconds() * 1000)),
            output=dict(output or {}),
            error=error,
            idempotency_key=key,
        )

    def _step(
        self,
        st: _State,
        step: Step,
        workflow: Workflow,
        automation: Automation,
        fan: Fan,
        ctx: _Round,
        outcome: Outcome,
    ) -> None:
        """Run one step once and apply its result to the working state."""
        now = ctx.now
        started = now if step.type != "wait" else (st.step_entered_at or now)
        visit = st.visits.get(step.id, 0)
        key = f"{st.run.id}:{step.id}:{visit}"
        step_state: dict[str, Any] = st.state.setdefault("step", {})
        if step_state.get("skipOverdue") and step.type != "wait":
            st.state.pop("skipOverdue", None)
            outcome.steps.append(
                self._history(st, step, StepStatus.SKIPPED, now, now, error="overdue after pause")
            )
            st.executed.append(
                {"stepId": step.id, "type": step.type, "status": "skipped", "at": _iso(now)}
            )
            st.visits[step.id] = visit + 1
            st.step_count += 1
            self._enter(st, step.next, workflow, fan, now)
            return
        try:
            done = self._execute(st, step, workflow, automation, fan, ctx, key)
        except _Sleep as sleep:
            step_state["deferred"] = sleep.reason
            deadline = st.run.deadline
            st.wake_at = min(sleep.until, deadline) if deadline is not None else sleep.until
            return
        except _StoreFailure:
            raise  # our store failed, not the action: nothing is counted, the lease expires
        except ActionFailed as error:
            self._failed(st, step, workflow, fan, ctx, outcome, str(error), error.retryable, key)
            return
        except Exception as error:  # a port or handler failure: retried
            self._failed(
                st, step, workflow, fan, ctx, outcome, f"{type(error).__name__}: {error}", True, key
            )
            return
        output = dict(done.output)
        outcome.steps.append(
            self._history(
                st,
                step,
                StepStatus.COMPLETED,
                started,
                now,
                output=output,
                key=key if step.effect != "none" else None,
            )
        )
        if done.op is not None:
            outcome.ops.append(done.op)
        entry: dict[str, Any] = {
            "stepId": step.id,
            "type": step.type,
            "status": "completed",
            "at": _iso(now),
            "attempts": st.attempts + 1,
        }
        if output:
            entry["output"] = output
            if step.type not in _BUILTIN_TYPES:  # custom actions' outputs become variables
                st.variables[step.id] = output
        st.executed.append(entry)
        st.visits[step.id] = visit + 1
        st.step_count += 1
        if done.exit is not None:
            self._finish(st, RunStatus.EXITED, done.exit, now)
            return
        self._enter(st, done.next if done.jump else step.next, workflow, fan, now)

    def _failed(
        self,
        st: _State,
        step: Step,
        workflow: Workflow,
        fan: Fan,
        ctx: _Round,
        outcome: Outcome,
        message: str,
        retryable: bool,
        key: str,
    ) -> None:
        now = ctx.now
        attempt = st.attempts + 1
        retry = retryable and attempt <= self.cfg.action_retries
        outcome.failed_attempts.append(step.type)
        outcome.steps.append(
            self._history(
                st,
                step,
                StepStatus.RETRYING if retry else StepStatus.FAILED,
                now,
                now,
                error=message[:2000],
                key=key,
            )
        )
        if retry:
            st.attempts = attempt
            wake = now + self.cfg.retry_delay(attempt)
            deadline = st.run.deadline
            st.wake_at = min(wake, deadline) if deadline is not None else wake
            return
        st.errors.append(
            {
                "stepId": step.id,
                "type": step.type,
                "error": message[:2000],
                "attempts": attempt,
                "at": _iso(now),
            }
        )
        outcome.failures.append(
            f"step {step.id} ({step.type}) failed after {attempt} attempt(s): {message[:300]}"
        )
        st.visits[step.id] = st.visits.get(step.id, 0) + 1
        st.step_count += 1
        policy = step.on_error
        if policy.kind == "continue":
            self._enter(st, step.next, workflow, fan, now)
        elif policy.kind == "goto":
            self._enter(st, policy.target, workflow, fan, now)
        else:
            self._finish(st, RunStatus.FAILED, f"step {step.id} failed: {message[:300]}", now)

    # -- actions ----------------------------------------------------------------------------
    def _execute(
        self,
        st: _State,
        step: Step,
        workflow: Workflow,
        automation: Automation,
        fan: Fan,
        ctx: _Round,
        key: str,
    ) -> _Done:
        now = ctx.now
        kind = step.type
        if kind == "wait":
            until_text = st.state.get("step", {}).get("until")
            until = datetime.fromisoformat(until_text) if until_text else now
            if until > now:
                raise _Sleep(until, "waiting")
            return _Done({"waitedUntil": format_datetime(until)})
        if kind == "exit":
            return _Done(exit=str(step.params.get("reason") or "exit step"))
        if kind == "check_engagement":
            return self._check_engagement(st, step, ctx)
        if step.messaging:
            self._messaging_window(st, step, workflow, fan, ctx)
        if kind == "send_message":
            return self._send(st, step, automation, fan, ctx, key)
        if kind == "create_campaign":
            return self._create_campaign(st, step, automation, key)
        if kind in ("add_to_segment", "remove_from_segment"):
            return self._segment_op(st, step, automation, fan, now)
        if kind == "update_fan":
            return self._update_fan(st, step, automation, fan)
        if kind == "emit_event":
            return self._emit(st, step, automation, fan, now)
        return self._custom(st, step, automation, fan, ctx, key)

    def _messaging_window(
        self, st: _State, step: Step, workflow: Workflow, fan: Fan, ctx: _Round
    ) -> None:
        """Defer a message that falls in quiet hours or over the frequency cap (fan's zone)."""
        now = ctx.now
        settings = workflow.settings
        zone = _zone_of(fan, workflow, self.cfg)
        quiet = settings.quiet_hours
        if quiet is not None and quiet.contains(now.astimezone(zone)):
            raise _Sleep(_next_local(now, quiet.end, zone), "quiet_hours")
        cap = settings.frequency_cap
        if cap is None:
            return
        local = now.astimezone(zone)
        if cap.per == "day":
            start_local = local.replace(hour=0, minute=0, second=0, microsecond=0)
            start = start_local.astimezone(UTC)
            later = (start_local + timedelta(days=1)).replace(tzinfo=None)
            reopen = datetime.combine(later.date(), time(0, 0), tzinfo=zone).astimezone(UTC)
        elif cap.per == "week":
            monday = local.date() - timedelta(days=local.weekday())
            start = datetime.combine(monday, time(0, 0), tzinfo=zone).astimezone(UTC)
            reopen = datetime.combine(
                monday + timedelta(days=7), time(0, 0), tzinfo=zone
            ).astimezone(UTC)
        else:
            assert cap.window is not None
            start = now - cap.window
            reopen = now + cap.window  # refined below from the oldest message in the window
        fan_key = (st.run.owner_id, st.run.fan_id)
        types = self._messaging_types()
        # a rolling window is (now - window, now]; a calendar period starts at its midnight
        after: Cond = (
            Gt("finished_at", start) if cap.window is not None else Gte("finished_at", start)
        )
        sent = self._query(
            lambda tx: tx.uow.automation_step_runs.find(
                And(
                    Eq("owner_id", st.run.owner_id),
                    Eq("fan_id", st.run.fan_id),
                    In("action_type", types),
                    Eq("status", StepStatus.COMPLETED),
                    after,
                ),
                order_by=[Order("finished_at")],
                limit=cap.max + 1,
            )
        )
        count = len(sent) + ctx.sends.get(fan_key, 0)
        if count >= cap.max:
            if cap.window is not None and sent:
                reopen = sent[0].finished_at + cap.window
            raise _Sleep(max(reopen, now + timedelta(seconds=1)), "frequency_cap")

    def _messaging_types(self) -> list[str]:
        custom = [
            n for n in self.cfg.actions.names() if (a := self.cfg.actions.get(n)) and a.messaging
        ]
        return ["send_message", *custom]

    def _send(
        self, st: _State, step: Step, automation: Automation, fan: Fan, ctx: _Round, key: str
    ) -> _Done:
        params = step.params
        variables: dict[str, Any] = dict(params.get("variables") or {})
        variables.update(
            {
                "fanId": fan.fan_id,
                "workflowId": automation.id,
                "workflowName": automation.name,
                "runId": st.run.id,
                "stepId": step.id,
            }
        )
        for flag in ("personalize", "includeMedia", "includeOffer"):
            if params.get(flag):
                variables[flag] = True
        if params.get("personalize"):
            variables["fan"] = {
                "fanId": fan.fan_id,
                "platform": fan.platform,
                "spendingLevel": fan.spending_level,
                "subscriptionStatus": fan.subscription_status,
                "timeZone": fan.time_zone,
                "traits": dict(fan.traits),
            }
        if params.get("includeOffer") and "offer" in st.variables:
            variables["offer"] = st.variables["offer"]
        message_id = self.rt.messenger.send(
            owner_id=automation.user_id,
            fan_id=fan.fan_id,
            template=str(params["template"]),
            variables=variables,
            idempotency_key=key,
        )
        fan_key = (st.run.owner_id, st.run.fan_id)
        ctx.sends[fan_key] = ctx.sends.get(fan_key, 0) + 1
        st.variables["lastMessageId"] = str(message_id)
        return _Done({"messageId": str(message_id), "template": params["template"]})

    def _fan_events(self, st: _State, ctx: _Round, since: datetime) -> list[FanEvent]:
        """The fan's events in [since, now]; on SQL stores loaded once for the whole batch."""
        now = ctx.now
        owner, fan_id = st.run.owner_id, st.run.fan_id
        if not self._sql or not ctx.runs:
            return self._query(
                lambda tx: tx.uow.fan_events.find(
                    And(
                        Eq("owner_id", owner),
                        Eq("fan_id", fan_id),
                        Gte("occurred_at", since),
                        Lte("occurred_at", now),
                    ),
                    limit=100_000,
                )
            )
        if ctx.events is None:
            floor = min(r.entered_at for r in ctx.runs)
            windows = [
                s.window
                for w in ctx.workflows.values()
                if isinstance(w, Workflow)
                for s in w.steps
                if s.window is not None
            ]
            if windows:
                floor = min(floor, now - max(windows))
            by_owner: dict[str, list[str]] = defaultdict(list)
            for run in ctx.runs:
                by_owner[run.owner_id].append(run.fan_id)

            def load(tx: Tx) -> dict[tuple[str, str], list[FanEvent]]:
                found: dict[tuple[str, str], list[FanEvent]] = defaultdict(list)
                for account, fans in by_owner.items():
                    for event in tx.uow.fan_events.find(
                        And(
                            Eq("owner_id", account),
                            In("fan_id", sorted(set(fans))),
                            Gte("occurred_at", floor),
                            Lte("occurred_at", now),
                        )
                    ):
                        found[(account, event.fan_id)].append(event)
                return found

            ctx.events = self._query(load)
        return [e for e in ctx.events.get((owner, fan_id), ()) if since <= e.occurred_at <= now]

    def _check_engagement(self, st: _State, step: Step, ctx: _Round) -> _Done:
        since = ctx.now - step.window if step.window is not None else st.run.entered_at
        patterns = step.events or self.cfg.engagement_events
        events = self._fan_events(st, ctx, since)
        count = sum(
            1
            for e in events
            if AUTOMATION_MARK not in e.properties and _matches_pattern(e.name, patterns)
        )
        assert step.engagement is not None
        result = step.engagement.holds(count)
        target = step.if_true if result else step.if_false
        return _Done(
            {"engagement": count, "condition": str(step.engagement), "result": result},
            next=target or step.next,
            jump=True,
        )

    def _create_campaign(self, st: _State, step: Step, automation: Automation, key: str) -> _Done:
        params = step.params
        campaign_id = _stable_id("cmp", key)
        ref = str(params["template"])
        existing = self._query(lambda tx: tx.uow.campaigns.get(campaign_id))
        template = None
        if existing is None:
            template = self._query(lambda tx: tx.uow.templates.get(ref)) or builtin_template(ref)
        discount = params.get("discount")
        offer: dict[str, Any] = {"campaignId": campaign_id, "template": params["template"]}
        if discount is not None:
            offer["discount"] = discount
        if existing is not None:
            price = existing.content.get("price")
            if isinstance(price, int | float):
                offer["price"] = price
            st.variables["campaignId"] = campaign_id
            st.variables["offer"] = offer
            return _Done(offer)
        customization: dict[str, Any] = dict(params.get("customization") or {})
        content_changes: dict[str, Any] = {}
        if discount is not None:
            content_changes["discount"] = discount
            base_price = None if template is None else template.content.get("price")
            if isinstance(base_price, int | float) and not isinstance(base_price, bool):
                new_price = round(float(base_price) * (1 - float(discount)), 2)
                content_changes["price"] = new_price
                content_changes["originalPrice"] = base_price
                offer["price"] = new_price
        if "name" in params:
            customization["name"] = params["name"]
        try:
            self.ports.campaigns.create_from_template(
                owner_id=automation.user_id,
                campaign_id=campaign_id,
                template=ref,
                customization=customization,
                content=content_changes,
            )
        except (ValidationError, NotFoundError) as error:
            raise ActionFailed(str(error), retryable=False) from error
        except ConflictError:
            if self._query(lambda tx: tx.uow.campaigns.get(campaign_id)) is None:
                raise
        st.variables["campaignId"] = campaign_id
        st.variables["offer"] = offer
        return _Done(offer)

    def _resolve_segment(self, tx: Tx, owner_id: str, ref: str) -> Segment | None:
        segment = tx.uow.segments.get(ref)
        if segment is not None and segment.user_id == owner_id:
            return segment
        found = tx.uow.segments.find(
            And(Eq("user_id", owner_id), Eq("name", ref)), order_by=[Order("id")], limit=1
        )
        return found[0] if found else None

    def _segment_op(
        self, st: _State, step: Step, automation: Automation, fan: Fan, now: datetime
    ) -> _Done:
        ref = str(step.params["segment"])
        segment = self._query(lambda tx: self._resolve_segment(tx, automation.user_id, ref))
        if segment is None:
            raise ActionFailed(f"segment {ref!r} not found", retryable=False)
        if segment.type is SegmentType.DYNAMIC:
            raise ActionFailed(
                f"segment {ref!r} is dynamic: its members come from its criteria", retryable=False
            )
        adding = step.type == "add_to_segment"
        segments = self.ports.segments
        segment_id = segment.id
        fan_id = fan.fan_id

        def apply(tx: Tx) -> None:
            # the segments service's rules for hand-made membership, in the run's transaction
            segments.change(tx, segment_id, fan_id, adding=adding)

        return _Done({"segmentId": segment_id, "segment": segment.name}, op=apply)

    def _update_fan(self, st: _State, step: Step, automation: Automation, fan: Fan) -> _Done:
        fans = self.ports.fans
        owner = automation.user_id
        problems = ProblemCollector()
        clean = fans.clean_fields(owner, step.params["fields"], problems, "fields")
        if problems:
            raise ActionFailed(str(ValidationError(problems.problems)), retryable=False)
        fan_id = fan.fan_id

        def apply(tx: Tx) -> None:
            fans.write(tx, owner, fan_id, clean)

        changed = sorted(clean)
        return _Done({"fields": changed}, op=apply)

    def _emit(
        self, st: _State, step: Step, automation: Automation, fan: Fan, now: datetime
    ) -> _Done:
        rt = self.rt
        name = str(step.params["event"])
        props = dict(step.params.get("properties") or {})
        props[AUTOMATION_MARK] = {
            "workflowId": automation.id,
            "runId": st.run.id,
            "stepId": step.id,
            "depth": st.run.chain_depth + 1,
        }
        event_id = _stable_id("evt", f"{st.run.id}:{step.id}:{st.visits.get(step.id, 0)}")

        def apply(tx: Tx) -> None:
            event = FanEvent(
                id=event_id,
                owner_id=automation.user_id,
                fan_id=fan.fan_id,
                name=name,
                occurred_at=rt.now(),
                properties=props,
                created_at=rt.now(),
            )
            tx.uow.fan_events.add(event)
            for hook in rt.fan_event_hooks:
                hook(tx, event)

        return _Done({"event": name, "eventId": event_id}, op=apply)

    def _custom(
        self,
        st: _State,
        step: Step,
        automation: Automation,
        fan: Fan,
        ctx: _Round,
        key: str,
    ) -> _Done:
        action = self.cfg.actions.get(step.type)
        if action is None:
            raise ActionFailed(
                f"no handler is registered for action type {step.type!r}", retryable=False
            )
        if action.messaging:
            # registered after the workflow was compiled: apply the messaging rules now
            workflow = ctx.workflows.get((st.run.automation_id, st.run.workflow_version))
            if isinstance(workflow, Workflow) and not step.messaging:
                self._messaging_window(st, step, workflow, fan, ctx)
        context = ActionContext(
            owner_id=automation.user_id,
            fan_id=fan.fan_id,
            fan=fan,
            automation_id=automation.id,
            run_id=st.run.id,
            step_id=step.id,
            params=json.loads(json.dumps(dict(step.params))),
            variables=json.loads(json.dumps(st.variables)),
            trigger_data=json.loads(json.dumps(st.run.trigger_data)),
            idempotency_key=key,
            attempt=st.attempts + 1,
            now=ctx.now,
        )
        result = action.handler(context)
        if result is None:
            return _Done()
        if not isinstance(result, Mapping) or check_json_value(result, "output"):
            raise ActionFailed(
                f"custom action {step.type!r} returned something that is not a JSON object",
                retryable=False,
            )
        if action.messaging:
            fan_key = (st.run.owner_id, st.run.fan_id)
            ctx.sends[fan_key] = ctx.sends.get(fan_key, 0) + 1
        return _Done(dict(result))

    # -- recording --------------------------------------------------------------------------
    @audited("automation.run")
    def record(self, outcomes: Sequence[Outcome]) -> list[Outcome]:
        """Write every outcome of a batch in one transaction (one by one if that fails).

        Audited as ``automation.run`` by the system (fan updates, segment changes).
        """
        if not outcomes:
            return []
        if self._sql and len(outcomes) > 1:
            try:
                with self.rt.transaction() as tx:
                    kept = self._apply(tx, outcomes, bulk=True)
                self._after(kept)
                return kept
            except _Stale:
                pass  # some run changed since the claim: write them one by one below
            except CampaignCoreError as error:
                _log.warning("recording %d runs failed (%s); one by one", len(outcomes), error)
                return self._record_each(outcomes)
        try:
            with self.rt.transaction() as tx:
                kept = self._apply(tx, outcomes)
            self._after(kept)
            return kept
        except CampaignCoreError as error:
            if len(outcomes) == 1:
                return self._record_failed_effect(outcomes[0], error)
            _log.warning(
                "recording a batch of %d runs failed (%s); one by one", len(outcomes), error
            )
        return self._record_each(outcomes)

    def _record_each(self, outcomes: Sequence[Outcome]) -> list[Outcome]:
        kept_all: list[Outcome] = []
        for outcome in outcomes:
            kept_all.extend(self.record([outcome]))
        return kept_all

    def _record_failed_effect(self, outcome: Outcome, error: CampaignCoreError) -> list[Outcome]:
        """A run's own record failed (its store effect raised): count a failed attempt instead."""
        if not outcome.ops:
            _log.warning("recording run %s failed: %s", outcome.run.id, error)
            return []
        with self.rt.transaction() as tx:
            current = tx.uow.automation_runs.get(outcome.run.id)
            if current is None or current.version != outcome.run.version - 1:
                return []
            now = self.rt.now()
            attempts = current.attempts + 1
            wake = now + self.cfg.retry_delay(attempts)
            failed = attrs.evolve(
                current,
                attempts=attempts,
                wake_at=min(wake, current.deadline) if current.deadline else wake,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
                version=current.version + 1,
            )
            tx.uow.automation_runs.update(failed)
        _log.warning("the store effect of run %s failed (will retry): %s", outcome.run.id, error)
        return [Outcome(run=failed, trigger_type=outcome.trigger_type)]

    def _apply(self, tx: Tx, outcomes: Sequence[Outcome], *, bulk: bool = False) -> list[Outcome]:
        kept: list[Outcome] = []
        rows: list[AutomationStepRun] = []
        executions: list[AutomationExecution] = []
        counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        if bulk:
            # one batch UPDATE of what a round changes, each run where its version is still
            # the claim's: if any was changed meanwhile (a lost lease, an opt-out), nothing
            # is written and the caller starts over with one update per run
            try:
                tx.uow.automation_runs.update_many([o.run for o in outcomes], fields=_ROUND_FIELDS)
            except ConflictError:
                raise _Stale() from None
        for outcome in outcomes:
            if not bulk:
                try:
                    tx.uow.automation_runs.update(outcome.run)
                except (ConflictError, NotFoundError):
                    continue  # lost the lease, cancelled meanwhile, or erased: theirs is the record
            for op in outcome.ops:
                op(tx)
            rows.extend(outcome.steps)
            if outcome.finished:
                execution = self._execution(outcome)
                executions.append(execution)
                if execution.status is ExecutionStatus.SUCCESS:
                    counters[outcome.run.automation_id]["success_count"] += 1
                elif execution.status is ExecutionStatus.FAILURE:
                    counters[outcome.run.automation_id]["failure_count"] += 1
            kept.append(outcome)
        if rows:
            tx.uow.automation_step_runs.add_many(rows)
        if executions:
            tx.uow.automation_executions.add_many(executions)
        for automation_id, deltas in counters.items():
            with contextlib.suppress(NotFoundError):  # the workflow was deleted meanwhile
                tx.uow.automations.increment(automation_id, dict(deltas))
        return kept

    def _execution(self, outcome: Outcome) -> AutomationExecution:
        run = outcome.run
        completed = run.finished_at or run.updated_at
        return AutomationExecution(
            id=self.rt.ids.new_id("execution"),
            automation_id=run.automation_id,
            status=_execution_status(run.status, run.errors),
            trigger_data=run.trigger_data,
            executed_actions=run.executed_actions,
            errors=run.errors
            if run.status not in (RunStatus.CANCELLED,)
            else (*run.errors, {"error": run.outcome or "cancelled", "at": _iso(completed)}),
            started_at=run.entered_at,
            completed_at=completed,
            duration=max(0, int((completed - run.entered_at).total_seconds() * 1000)),
            run_id=run.id,
            fan_id=run.fan_id,
        )

    def _after(self, kept: Sequence[Outcome]) -> None:
        """Metrics and (grouped) alerts once a batch is committed."""
        emitter = self.rt.emitter
        failures: dict[tuple[str, str], list[str]] = defaultdict(list)
        timeouts: dict[tuple[str, str], int] = defaultdict(int)
        for outcome in kept:
            run = outcome.run
            for action_type in outcome.failed_attempts:
                emitter.automation_action_failed(action_type=action_type, owner_id=run.owner_id)
            for failure in outcome.failures:
                failures[(run.owner_id, run.automation_id)].append(failure)
            if outcome.timed_out:
                timeouts[(run.owner_id, run.automation_id)] += 1
            if outcome.finished:
                status = _execution_status(run.status, run.errors)
                processing = float(run.state.get("processingMs", 0.0))
                emitter.automation_executed(
                    status=status.value,
                    duration_ms=processing,
                    trigger_type=_metric_trigger(run.trigger_type),
                    owner_id=run.owner_id,
                )
        now = self.rt.now()
        for (owner, automation_id), messages in failures.items():
            self.rt.alerter.alert(
                Alert(
                    kind=AlertKind.AUTOMATION_FAILED,
                    owner_id=owner,
                    message=f"{len(messages)} step failure(s) in automation {automation_id}: "
                    + "; ".join(messages[:_ALERT_SAMPLE]),
                    entity="automation",
                    entity_id=automation_id,
                    at=now,
                    data={"failures": len(messages), "sample": messages[:_ALERT_SAMPLE]},
                )
            )
        for (owner, automation_id), count in timeouts.items():
            self.rt.alerter.alert(
                Alert(
                    kind=AlertKind.AUTOMATION_TIMEOUT,
                    owner_id=owner,
                    message=f"{count} run(s) of automation {automation_id} timed out and were cancelled",
                    entity="automation",
                    entity_id=automation_id,
                    at=now,
                    data={"runs": count},
                )
            )

    # -- cancelling, holding, resuming ----------------------------------------------------
    def stop_runs(
        self, tx: Tx, where: Cond, status: RunStatus, reason: str, *, limit: int | None = None
    ) -> int:
        """End every open run matching ``where`` (in ``tx``), writing their history rows."""
        now = self.rt.now()
        runs = tx.uow.automation_runs.find(
            And(where, In("status", _OPEN)), order_by=[Order("id")], limit=limit
        )
        stopped = 0
        counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for run in runs:
            for _ in range(3):
                st = _State.of(run)
                self._finish(st, status, reason, now)
                try:
                    tx.uow.automation_runs.update(st.record(now))
                except ConflictError:
                    fresh = tx.uow.automation_runs.get(run.id)
                    if fresh is None or fresh.status not in _OPEN:
                        break
                    run = fresh
                    continue
                outcome = Outcome(run=st.record(now), trigger_type=run.trigger_type, finished=True)
                execution = self._execution(outcome)
                tx.uow.automation_executions.add(execution)
                if execution.status is ExecutionStatus.FAILURE:
                    counters[run.automation_id]["failure_count"] += 1
                elif execution.status is ExecutionStatus.SUCCESS:
                    counters[run.automation_id]["success_count"] += 1
                stopped += 1
                break
        for automation_id, deltas in counters.items():
            with contextlib.suppress(NotFoundError):
                tx.uow.automations.increment(automation_id, dict(deltas))
        return stopped

    def resume(self, tx: Tx, automation: Automation, policy: OverduePolicy) -> int:
        """Wake the held runs of a re-activated workflow, applying the overdue policy."""
        now = self.rt.now()
        resumed = 0
        while True:
            held = tx.uow.automation_runs.find(
                And(Eq("automation_id", automation.id), Eq("status", RunStatus.HELD)),
                order_by=[Order("id")],
                limit=1000,
            )
            if not held:
                return resumed
            for run in held:
                overdue = run.wake_at is not None and run.wake_at <= now
                if overdue and policy is OverduePolicy.CANCEL:
                    self.stop_runs(
                        tx, Eq("id", run.id), RunStatus.CANCELLED, "overdue when resumed"
                    )
                    continue
                state = dict(run.state)
                if overdue and policy is OverduePolicy.SKIP_OVERDUE:
                    state["step"] = {**state.get("step", {}), "skipOverdue": True}
                    state["skipOverdue"] = True
                tx.uow.automation_runs.update(
                    attrs.evolve(
                        run,
                        status=RunStatus.ACTIVE,
                        state=state,
                        updated_at=now,
                        version=run.version + 1,
                    )
                )
                resumed += 1

    def heal_held(self) -> int:
        """Resume held runs whose workflow is active again (a resume that raced a hold)."""
        with self.rt.transaction() as tx:
            held = tx.uow.automation_runs.find(Eq("status", RunStatus.HELD), limit=200)
            ids = sorted({r.automation_id for r in held})
            active = (
                [
                    a
                    for a in tx.uow.automations.find(In("id", ids))
                    if a.status is AutomationStatus.ACTIVE
                ]
                if ids
                else []
            )
            healed = 0
            for automation in active:
                policy = self.current(automation).settings.overdue_policy
                healed += self.resume(tx, automation, policy)
        return healed

    # -- triggers --------------------------------------------------------------------------
    def schedule_trigger(self, tx: Tx, automation: Automation, workflow: Workflow) -> None:
        """(Re)create the sweep or fire schedule of an activated behaviour or time trigger."""
        tx.uow.automation_triggers.delete_where(Eq("automation_id", automation.id))
        trigger = workflow.trigger
        now = self.rt.now()
        if trigger.type is TriggerType.BEHAVIOR:
            next_run: datetime | None = now
        elif trigger.type is TriggerType.TIME:
            next_run = self._next_fire(trigger, now)
        else:
            return
        tx.uow.automation_triggers.add(
            AutomationTrigger(
                id=self.rt.ids.new_id("trigger"),
                automation_id=automation.id,
                owner_id=automation.user_id,
                kind=trigger.type.value,
                next_run_at=next_run,
                baseline=trigger.type is TriggerType.BEHAVIOR and not trigger.enrol_existing,
                updated_at=now,
            )
        )

    def _next_fire(self, trigger: Trigger, after: datetime) -> datetime | None:
        if trigger.cron is not None:
            return trigger.cron.next_after(after, trigger.time_zone or self.cfg.default_time_zone)
        if trigger.at is not None and trigger.at > after:
            return trigger.at
        return None

    def process_due_triggers(self) -> tuple[int, int]:
        """Run due behaviour sweeps and time triggers; returns (triggers, runs enrolled)."""
        rt = self.rt
        processed = enrolled = 0
        seen: list[str] = []  # a pass cut short by the budget resumes at the next tick
        while True:
            now = rt.now()
            due: Cond = Lte("next_run_at", now)
            if seen:
                due = And(due, NotIn("id", seen))
            with rt.transaction() as tx:
                claimed = tx.uow.automation_triggers.claim(
                    due,
                    order_by=[Order("next_run_at"), Order("id")],
                    limit=rt.settings.tick_batch_size,
                    owner=rt.worker_id,
                    until=now + rt.settings.lease_duration,
                    now=now,
                )
            if not claimed:
                return processed, enrolled
            for trigger in claimed:
                seen.append(trigger.id)
                try:
                    enrolled += self._run_trigger(trigger)
                except CampaignCoreError as error:
                    _log.warning("trigger %s failed (skipped): %s", trigger.id, error)
                    self._release_trigger(trigger, now + self.cfg.sweep_interval)
                processed += 1

    def _release_trigger(self, trigger: AutomationTrigger, next_run: datetime | None) -> None:
        with self.rt.transaction() as tx:
            current = tx.uow.automation_triggers.get(trigger.id)
            if current is None or current.lease_owner != self.rt.worker_id:
                return
            tx.uow.automation_triggers.update(
                attrs.evolve(
                    current,
                    next_run_at=next_run,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=self.rt.now(),
                    version=current.version + 1,
                )
            )

    def _run_trigger(self, trigger: AutomationTrigger) -> int:
        rt = self.rt
        with rt.transaction() as tx:
            automation = tx.uow.automations.get(trigger.automation_id)
        if automation is None or automation.status is not AutomationStatus.ACTIVE:
            self._release_trigger(trigger, None)
            return 0
        workflow = self.current(automation)
        if workflow.trigger.type.value != trigger.kind:
            self._release_trigger(trigger, None)
            return 0
        if trigger.kind == TriggerType.BEHAVIOR.value:
            return self._sweep(trigger, automation, workflow)
        return self._fire(trigger, automation, workflow)

    def _page_loop(
        self,
        trigger: AutomationTrigger,
        page: Callable[[Tx, str | None], list[Fan]],
        handle: Callable[[Tx, list[Fan], AutomationTrigger], int],
        done: Callable[[AutomationTrigger, datetime], dict[str, Any]],
    ) -> int:
        """Walk fans a page at a time, persisting the cursor with each page (resumable)."""
        rt = self.rt
        size = self.cfg.sweep_page_size
        handled = enrolled = 0
        current = trigger
        while True:
            now = rt.now()
            with rt.transaction() as tx:
                fresh = tx.uow.automation_triggers.get(current.id)
                if fresh is None or fresh.version != current.version:
                    return enrolled  # lost the lease (or deactivated): stop here
                fans = page(tx, current.cursor)
                enrolled += handle(tx, fans, current)
                last = len(fans) < size
                changes: dict[str, Any] = {
                    "cursor": fans[-1].fan_id if fans else current.cursor,
                    "pass_started_at": current.pass_started_at,
                    "updated_at": now,
                    "version": current.version + 1,
                }
                handled += len(fans)
                if last:
                    changes.update(done(current, now))
                    changes.update(lease_owner=None, lease_until=None, cursor=None)
                elif handled >= self.cfg.sweep_fans_per_tick:
                    changes.update(next_run_at=now, lease_owner=None, lease_until=None)
                current = attrs.evolve(current, **changes)
                tx.uow.automation_triggers.update(current)
            if current.lease_owner is None:
                return enrolled

    def _sweep(self, trigger: AutomationTrigger, automation: Automation, workflow: Workflow) -> int:
        assert workflow.trigger.criteria is not None
        compiled = compile_criteria(workflow.trigger.criteria, registry=self.registry)
        if trigger.pass_started_at is None:
            trigger = attrs.evolve(trigger, pass_started_at=self.rt.now())
        pass_ms = _ms(trigger.pass_started_at or self.rt.now())
        owner = automation.user_id
        size = self.cfg.sweep_page_size

        def page(tx: Tx, cursor: str | None) -> list[Fan]:
            where: Cond = Eq("owner_id", owner)
            if cursor is not None:
                where = And(where, Gt("fan_id", cursor))
            return tx.uow.fans.find(where, order_by=[Order("fan_id")], limit=size)

        def handle(tx: Tx, fans: list[Fan], current: AutomationTrigger) -> int:
            if not fans:
                return 0
            now = self.rt.now()
            matching = {f.fan_id for f in self._evaluate(tx, compiled, fans, now, automation.id)}
            known = {
                m.fan_id: m
                for m in tx.uow.automation_trigger_matches.find(
                    And(Eq("automation_id", automation.id), In("fan_id", [f.fan_id for f in fans]))
                )
            }
            for fan_id, match in known.items():
                if fan_id not in matching:
                    tx.uow.automation_trigger_matches.delete(match.id)
            started = [f for f in fans if f.fan_id in matching and f.fan_id not in known]
            tx.uow.automation_trigger_matches.add_many(
                [
                    AutomationTriggerMatch(
                        id=self.rt.ids.new_id("match"),
                        automation_id=automation.id,
                        fan_id=f.fan_id,
                        matched_at=now,
                    )
                    for f in started
                ]
            )
            if current.baseline or not started:
                return 0
            condition = workflow.trigger.condition
            runs = self.enrol(
                tx,
                automation,
                workflow,
                started,
                entry=f"behavior:{pass_ms}",
                trigger_data=lambda fan: {
                    "type": "behavior",
                    "condition": condition,
                    "matchedAt": format_datetime(now),
                },
            )
            return len(runs)

        def done(current: AutomationTrigger, now: datetime) -> dict[str, Any]:
            return {
                "next_run_at": now + self.cfg.sweep_interval,
                "pass_started_at": None,
                "baseline": False,
            }

        return self._page_loop(trigger, page, handle, done)

    def _fire(self, trigger: AutomationTrigger, automation: Automation, workflow: Workflow) -> int:
        fire_at = trigger.pass_started_at or trigger.next_run_at or self.rt.now()
        trigger = attrs.evolve(trigger, pass_started_at=fire_at)
        owner = automation.user_id
        size = self.cfg.sweep_page_size
        ref = workflow.trigger.segment
        segment_id: str | None = None
        if ref is not None:
            with self.rt.transaction() as tx:
                segment = self._resolve_segment(tx, owner, ref)
            if segment is None:
                _log.warning(
                    "time trigger of %s: segment %r not found; skipped", automation.id, ref
                )
                self._release_trigger(trigger, self._next_fire(workflow.trigger, self.rt.now()))
                return 0
            segment_id = segment.id

        def page(tx: Tx, cursor: str | None) -> list[Fan]:
            if segment_id is None:
                where: Cond = Eq("owner_id", owner)
                if cursor is not None:
                    where = And(where, Gt("fan_id", cursor))
                return tx.uow.fans.find(where, order_by=[Order("fan_id")], limit=size)
            member_where: Cond = Eq("segment_id", segment_id)
            if cursor is not None:
                member_where = And(member_where, Gt("fan_id", cursor))
            members = tx.uow.segment_members.find(
                member_where, order_by=[Order("fan_id")], limit=size
            )
            if not members:
                return []
            found = {
                f.fan_id: f
                for f in tx.uow.fans.find(
                    And(Eq("owner_id", owner), In("fan_id", [m.fan_id for m in members]))
                )
            }
            # keep the page's length so the walk knows when it ends; erased fans are dropped later
            return [
                found.get(m.fan_id)
                or Fan(
                    id="",
                    owner_id=owner,
                    fan_id=m.fan_id,
                    opted_out=True,
                    created_at=fire_at,
                    updated_at=fire_at,
                )
                for m in members
            ]

        def handle(tx: Tx, fans: list[Fan], current: AutomationTrigger) -> int:
            runs = self.enrol(
                tx,
                automation,
                workflow,
                [f for f in fans if f.id],
                entry=f"time:{_ms(fire_at)}",
                trigger_data=lambda fan: {
                    "type": "time",
                    "firedAt": format_datetime(fire_at),
                    "segmentId": segment_id,
                },
            )
            return len(runs)

        def done(current: AutomationTrigger, now: datetime) -> dict[str, Any]:
            return {"next_run_at": self._next_fire(workflow.trigger, now), "pass_started_at": None}

        return self._page_loop(trigger, page, handle, done)

    # -- hooks ----------------------------------------------------------------------------
    def active_workflows(self, tx: Tx, owner_id: str) -> list[tuple[Automation, Workflow]]:
        out = []
        for automation in tx.uow.automations.find(
            And(Eq("user_id", owner_id), Eq("status", AutomationStatus.ACTIVE)),
            order_by=[Order("created_at"), Order("id")],
        ):
            try:
                out.append((automation, self.current(automation)))
            except ValidationError as error:
                _log.warning("automation %s is unreadable (skipped): %s", automation.id, error)
        return out

    def on_fan_event(self, tx: Tx, event: Any) -> None:
        """Fan event hook: exit runs whose goal it is, enrol fans in event-triggered workflows."""
        mark = (
            event.properties.get(AUTOMATION_MARK) if isinstance(event.properties, Mapping) else None
        )
        depth = int(mark.get("depth", 0)) if isinstance(mark, Mapping) else 0
        workflows = self.active_workflows(tx, event.owner_id)
        if not workflows:
            return
        fan: Fan | None = None
        for automation, workflow in workflows:
            try:
                if event.name in workflow.settings.exit_on:
                    self.stop_runs(
                        tx,
                        And(Eq("automation_id", automation.id), Eq("fan_id", event.fan_id)),
                        RunStatus.EXITED,
                        f"goal reached: {event.name}",
                    )
                trigger = workflow.trigger
                if trigger.type is not TriggerType.EVENT or trigger.event != event.name:
                    continue
                if not match_properties(trigger.filter, event.properties, event.value):
                    continue
                if fan is None:
                    found = tx.uow.fans.find(
                        And(Eq("owner_id", event.owner_id), Eq("fan_id", event.fan_id)), limit=1
                    )
                    if not found:
                        return
                    fan = found[0]
                data = {
                    "type": "event",
                    "event": {
                        "id": event.id,
                        "name": event.name,
                        "occurredAt": format_datetime(event.occurred_at),
                        "properties": {
                            k: v for k, v in event.properties.items() if k != AUTOMATION_MARK
                        },
                        "value": event.value,
                    },
                }
                self.enrol(
                    tx,
                    automation,
                    workflow,
                    [fan],
                    entry=f"event:{event.id}",
                    trigger_data=_constant(data),
                    depth=depth,
                )
            except CampaignCoreError as error:
                _log.warning(
                    "trigger evaluation of automation %s failed (skipped): %s", automation.id, error
                )

    def on_segment_entered(self, tx: Tx, segment: Any, fan_ids: list[str]) -> None:
        """Segment hook: enrol the fans in workflows triggered by entering this segment."""
        if not fan_ids:
            return
        workflows = [
            (a, w)
            for a, w in self.active_workflows(tx, segment.user_id)
            if w.trigger.type is TriggerType.SEGMENT_ENTERED
            and w.trigger.segment in (segment.id, segment.name)
        ]
        if not workflows:
            return
        fans = tx.uow.fans.find(And(Eq("owner_id", segment.user_id), In("fan_id", list(fan_ids))))
        now = self.rt.now()
        for automation, workflow in workflows:
            try:
                self.enrol(
                    tx,
                    automation,
                    workflow,
                    fans,
                    entry=f"segment:{segment.id}:{_ms(now)}",
                    trigger_data=lambda fan: {
                        "type": "segment_entered",
                        "segmentId": segment.id,
                        "segment": segment.name,
                        "enteredAt": format_datetime(now),
                    },
                )
            except CampaignCoreError as error:
                _log.warning(
                    "segment trigger of automation %s failed (skipped): %s", automation.id, error
                )

    def on_opt_out(self, tx: Tx, fan: Any) -> None:
        """Opt-out hook: cancel the fan's open runs (pending sends never go out)."""
        self.stop_runs(
            tx,
            And(Eq("owner_id", fan.owner_id), Eq("fan_id", fan.fan_id)),
            RunStatus.CANCELLED,
            "fan opted out",
        )

    def on_erase(self, tx: Tx, fan: Any, token: str) -> dict[str, int]:
        """Erasure hook: cancel runs, replace the fan's id by ``token`` in run history."""
        self.on_opt_out(tx, fan)
        where = And(Eq("owner_id", fan.owner_id), Eq("fan_id", fan.fan_id))
        runs = tx.uow.automation_runs.find(where)
        for run in runs:
            tx.uow.automation_runs.update(
                attrs.evolve(
                    run,
                    fan_id=token,
                    trigger_data={"type": run.trigger_type},
                    variables={},
                    version=run.version + 1,
                )
            )
        steps = tx.uow.automation_step_runs.find(where)
        for step in steps:
            tx.uow.automation_step_runs.update(attrs.evolve(step, fan_id=token, output={}))
        automation_ids = [a.id for a in tx.uow.automations.find(Eq("user_id", fan.owner_id))]
        executions = (
            tx.uow.automation_executions.find(
                And(In("automation_id", automation_ids), Eq("fan_id", fan.fan_id))
            )
            if automation_ids
            else []
        )
        for execution in executions:
            tx.uow.automation_executions.update(
                attrs.evolve(
                    execution,
                    fan_id=token,
                    trigger_data={"type": execution.trigger_data.get("type")},
                )
            )
        matches = (
            tx.uow.automation_trigger_matches.delete_where(
                And(In("automation_id", automation_ids), Eq("fan_id", fan.fan_id))
            )
            if automation_ids
            else 0
        )
        return {
            "automation_runs_anonymized": len(runs),
            "automation_steps_anonymized": len(steps),
            "automation_executions_anonymized": len(executions),
            "automation_trigger_matches": matches,
        }

    def on_export(self, tx: Tx, fan: Any) -> dict[str, Any]:
        """Export hook: the fan's runs and executions (JSON)."""
        from campaign_core.serialization import to_json

        runs = tx.uow.automation_runs.find(
            And(Eq("owner_id", fan.owner_id), Eq("fan_id", fan.fan_id)),
            order_by=[Order("entered_at")],
        )
        return {
            "automationRuns": [
                {
                    "runId": r.id,
                    "workflowId": r.automation_id,
                    "status": r.status.value,
                    "enteredAt": _iso(r.entered_at),
                    "finishedAt": _iso(r.finished_at),
                    "triggerData": to_json(r.trigger_data),
                    "executedActions": to_json(list(r.executed_actions)),
                }
                for r in runs
            ]
        }


def _constant(data: dict[str, Any]) -> Callable[[Fan], dict[str, Any]]:
    def value(fan: Fan) -> dict[str, Any]:
        return data

    return value


def _is_sql(store: Any) -> bool:
    """Whether ``store`` (or the store it wraps) is a SQL store (it has an ``engine``)."""
    for _ in range(5):
        if hasattr(store, "engine"):
            return True
        store = getattr(store, "inner", None)
        if store is None:
            return False
    return False


def _metric_trigger(trigger_type: str) -> str:
    return trigger_type if trigger_type in {t.value for t in TriggerType} else "event"


def install(rt: Runtime, ports: AutomationPorts) -> None:
    """Register the engine's hooks on a runtime (done once by ``CampaignCore``)."""

    def event_hook(tx: Tx, event: Any) -> None:
        Engine(rt, ports).on_fan_event(tx, event)

    def opt_out_hook(tx: Tx, fan: Any) -> None:
        Engine(rt, ports).on_opt_out(tx, fan)

    def segment_hook(tx: Tx, segment: Any, fan_ids: list[str]) -> None:
        Engine(rt, ports).on_segment_entered(tx, segment, fan_ids)

    def erase_hook(tx: Tx, fan: Any, token: str) -> dict[str, int]:
        return Engine(rt, ports).on_erase(tx, fan, token)

    def export_hook(tx: Tx, fan: Any) -> dict[str, Any]:
        return Engine(rt, ports).on_export(tx, fan)

    rt.fan_event_hooks.append(event_hook)
    rt.fan_opt_out_hooks.append(opt_out_hook)
    rt.segment_entered_hooks.append(segment_hook)
    rt.fan_erase_hooks.append(erase_hook)
    rt.fan_export_hooks.append(export_hook)
