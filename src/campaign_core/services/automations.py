"""AutomationService: the seed's workflow management, triggers, execution and history.

Workflows are written in the language of :mod:`campaign_core.automation` (the
seed's JSON, verbatim). Creating one stores it paused; ``activate_workflow``
checks it again against the account (templates and segments exist, no loop
of workflows feeding each other) and starts its trigger. Runs advance in
``core.tick()``, never inside a request; ``execute_workflow`` is the one call
that starts a run and advances it at once (for tests and manual sends).

Every method runs in one unit of work for the workspace's actor and either
commits everything or nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from campaign_core._runtime import Runtime, Service, Tx
from campaign_core._validate import (
    MISSING,
    check_unknown,
    v_datetime,
    v_enum,
    v_id,
    v_int,
    v_json_object,
)
from campaign_core.audit import audited
from campaign_core.automation._graph import find_workflow_cycle
from campaign_core.automation._settings import ActionFailed
from campaign_core.automation._workflow import (
    OverduePolicy,
    Trigger,
    TriggerType,
    Workflow,
    parse_trigger,
    parse_workflow,
)
from campaign_core.catalog import builtin_template
from campaign_core.errors import (
    InvalidTransitionError,
    NotFoundError,
    ProblemCollector,
    ValidationError,
    join_path,
)
from campaign_core.jobs.automation import Engine
from campaign_core.jobs.automation._engine import (
    _Done,
    _Round,
    _Sleep,
    _State,
    _StoreFailure,
)
from campaign_core.models import (
    Automation,
    AutomationExecution,
    AutomationRun,
    AutomationStatus,
    AutomationStepRun,
    AutomationVersion,
    ExecutionStatus,
    Fan,
    RunStatus,
    SegmentType,
    StepStatus,
)
from campaign_core.permissions import Actor, Permission
from campaign_core.query import And, Cond, Eq, In, Lte, Order
from campaign_core.serialization import parse_datetime
from campaign_core.services._automation_ports import automation_ports
from campaign_core.services.campaigns import Page

__all__ = [
    "ActionResult",
    "AutomationService",
    "ExecutionResult",
    "ExecutionStats",
    "StepStats",
]

_DEFINITION_KEYS: Final = ("trigger", "conditions", "actions", "settings")
_FIELDS: Final = ("name", "description", *_DEFINITION_KEYS)
_MAX_ADVANCES: Final = 50


@attrs.frozen
class ExecutionResult:
    """What ``execute_workflow`` did.

    Attributes:
        workflow_id / fan_id: the workflow and the fan.
        entered: whether a run started.
        reason: why not (``fan opted out``, ``conditions not met``,
            ``re-entry policy``), or None.
        run: the run as it is after its due steps ran (None if none started).
    """

    workflow_id: str
    fan_id: str
    entered: bool
    reason: str | None = None
    run: AutomationRun | None = None

    @property
    def status(self) -> str:
        """The run's status, or ``"not_entered"``."""
        return self.run.status.value if self.run is not None else "not_entered"


@attrs.frozen
class ActionResult:
    """What ``execute_action`` did.

    Attributes:
        type: the action type.
        status: ``completed``, ``failed`` or ``waiting`` (a wait, or a message
            deferred by quiet hours; nothing was done).
        output: what the action produced (``messageId``, ``campaignId``...).
        error: why it failed.
        until: (waiting) until when.
        branch: (check_engagement) ``ifTrue`` or ``ifFalse``.
    """

    type: str
    status: str
    output: Mapping[str, Any] = attrs.field(factory=dict)
    error: str | None = None
    until: datetime | None = None
    branch: str | None = None


@attrs.frozen
class StepStats:
    """One step's numbers (over the step history, and the runs waiting on it now).

    ``entered`` = completed + failed + skipped + waiting; ``success_rate`` =
    completed / (completed + failed); durations are over completed attempts
    (for waits: how long the fan waited), from at most ``sample`` recent rows.
    """

    step_id: str
    type: str
    entered: int
    completed: int
    failed: int
    skipped: int
    retries: int
    waiting: int
    success_rate: float | None
    avg_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None


@attrs.frozen
class ExecutionStats:
    """A workflow's numbers.

    Attributes:
        entered: runs started; active / held / completed / exited / failed /
            cancelled / timed_out: runs by status now.
        waiting: active + held runs.
        success / failure / partial: finished runs by the seed's status.
        success_rate: success / finished (None before any finished).
        avg/p50/p95_duration_ms: from entry to end, over finished runs (at most
            ``sample`` most recent).
        steps: per step, in the order written.
    """

    workflow_id: str
    entered: int
    active: int
    held: int
    completed: int
    exited: int
    failed: int
    cancelled: int
    timed_out: int
    waiting: int
    success: int
    failure: int
    partial: int
    success_rate: float | None
    avg_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    steps: tuple[StepStats, ...] = ()


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return float(ordered[index])


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


class AutomationService:
    """The workflows of one account, as one actor (``core.for_actor(actor).automations``)."""

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

    @property
    def _account(self) -> str:
        return self._svc.account_id

    def _engine(self) -> Engine:
        return Engine(self._rt, automation_ports(self._rt))

    # ------------------------------------------------------------------ validation
    def _check_fan_fields(
        self, fields: Mapping[str, Any], problems: ProblemCollector, path: str
    ) -> None:
        from campaign_core.services.fans import FanService

        FanService(self._rt, self._svc.actor).clean_fields(fields, problems, prefix=path)

    def _parse(self, data: Mapping[str, Any], *, past_dates: bool = True) -> Workflow:
        """Validate a definition; ``past_dates`` rejects a one-time ``at`` trigger already past."""
        cfg = self._rt.settings.automation
        engine = self._engine()
        return parse_workflow(
            data,
            registry=engine.registry,
            actions=cfg.actions,
            check_fan_fields=self._check_fan_fields,
            message_templates=cfg.message_templates,
            default_timeout=cfg.default_timeout,
            now=self._rt.now() if past_dates else None,
        )

    def _segment_key(self, tx: Tx) -> Any:
        segments = tx.uow.segments.find(Eq("user_id", self._account))
        by_id = {s.id: s.id for s in segments}
        by_name = {s.name: s.id for s in segments}

        def key(ref: str) -> str:
            return by_id.get(ref) or by_name.get(ref) or ref

        return key

    def _check_account(
        self, tx: Tx, workflow: Workflow, automation_id: str | None, *, activating: bool
    ) -> None:
        """Templates and segments exist; when activating, no loop across workflows."""
        problems = ProblemCollector()
        key = self._segment_key(tx)
        segments = {s.id: s for s in tx.uow.segments.find(Eq("user_id", self._account))}
        for ref in workflow.references():
            if ref.kind == "segment":
                segment = segments.get(key(ref.ref))
                if segment is None:
                    problems.add(
                        ref.path,
                        f"unknown segment {ref.ref!r} (no segment with this id or name)",
                        "unknown_segment",
                    )
                elif ref.writes and segment.type is SegmentType.DYNAMIC:
                    problems.add(
                        ref.path,
                        f"segment {ref.ref!r} is dynamic: its members come from its criteria",
                        "invalid_value",
                    )
            elif not self._template_exists(tx, ref.ref):
                problems.add(ref.path, f"unknown campaign template {ref.ref!r}", "unknown_template")
        problems.raise_if_any()
        if not activating:
            return
        focus = automation_id or "(new)"
        others: dict[str, tuple[str, Workflow]] = {focus: (workflow.name, workflow)}
        engine = self._engine()
        for automation, other in engine.active_workflows(tx, self._account):
            if automation.id != focus:
                others[automation.id] = (automation.name, other)
        cycle = find_workflow_cycle(focus, others, key)
        if cycle is not None:
            raise ValidationError.single(
                cycle.path, f"circular dependency across workflows: {cycle.description}", "cycle"
            )

    def _template_exists(self, tx: Tx, ref: str) -> bool:
        if builtin_template(ref) is not None:
            return True
        template = tx.uow.templates.get(ref)
        if template is not None and template.owner_id in (None, self._account):
            return True
        owned = tx.uow.templates.find(And(Eq("owner_id", self._account), Eq("key", ref)), limit=1)
        return bool(owned)

    def _load(self, tx: Tx, workflow_id: Any) -> Automation:
        problems = ProblemCollector()
        v_id(workflow_id, "workflow_id", problems)
        problems.raise_if_any()
        record = tx.uow.automations.get(workflow_id)
        return self._svc._owned(record, "automation", workflow_id)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ CRUD
    @audited("automation.create")
    def create_workflow(
        self, definition: Any = None, /, *, activate: bool = False, **fields: Any
    ) -> Automation:
        """Create a workflow (paused) from the seed's JSON or keyword arguments.

        Args:
            definition: ``{"name", "description"?, "trigger", "conditions"?,
                "actions", "settings"?}`` (the seed's workflows verbatim).
            activate: activate it at once (same checks as ``activate_workflow``).
            **fields: the same keys as keyword arguments (``name=...,
                trigger=..., actions=...``), merged over ``definition``.

        Returns:
            The stored automation (``status`` paused, or active).

        Raises:
            ValidationError: every problem with its path (unknown action types,
                bad durations, unreachable steps, step cycles, unknown templates
                or segments; with ``activate``, loops across workflows).
        """
        self._svc._require(Permission.WRITE)
        if activate:
            self._svc._require(Permission.LIFECYCLE)
        data = self._merge(definition, fields)
        workflow = self._parse(data)
        now = self._rt.now()
        with self._rt.transaction() as tx:
            automation = Automation(
                id=self._rt.ids.new_id("automation"),
                user_id=self._account,
                name=workflow.name,
                description=workflow.description,
                status=AutomationStatus.PAUSED,
                trigger=workflow.trigger.to_json(),
                conditions=workflow.conditions,
                actions=workflow.actions,
                settings=workflow.settings.to_json(),
                created_at=now,
                updated_at=now,
            )
            self._check_account(tx, workflow, automation.id, activating=activate)
            tx.uow.automations.add(automation)
            self._add_version(tx, automation, workflow, now)
            if activate:
                automation = self._activate(tx, automation, workflow, None)
        return automation

    @staticmethod
    def _merge(definition: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
        problems = ProblemCollector()
        data: dict[str, Any] = {}
        if definition is not None:
            if not isinstance(definition, Mapping):
                raise ValidationError.single("", "expected a workflow object", "invalid_type")
            data.update(definition)
        check_unknown({k: v for k, v in fields.items() if k not in _FIELDS}, problems, _FIELDS)
        problems.raise_if_any()
        data.update({k: v for k, v in fields.items() if v is not MISSING})
        return data

    def _add_version(
        self, tx: Tx, automation: Automation, workflow: Workflow, now: datetime
    ) -> None:
        tx.uow.automation_versions.add(
            AutomationVersion(
                id=self._rt.ids.new_id("version"),
                automation_id=automation.id,
                workflow_version=automation.workflow_version,
                definition=workflow.definition(),
                created_at=now,
            )
        )

    def get_workflow(self, workflow_id: str) -> Automation:
        """The workflow with this id.

        Raises:
            NotFoundError: no such workflow in the account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            return self._load(tx, workflow_id)

    def get_definition(self, workflow_id: str, version: int | None = None) -> Workflow:
        """A workflow's definition as a :class:`~campaign_core.automation.Workflow`.

        Args:
            workflow_id: the workflow.
            version: an earlier ``workflow_version`` (runs that started then
                still follow it); default the current one.

        Raises:
            NotFoundError: no such workflow, or no such version.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            engine = self._engine()
            if version is None or version == automation.workflow_version:
                return engine.current(automation)
            found = engine._pinned(tx, {}, [(automation.id, version)]).get((automation.id, version))
        if not isinstance(found, Workflow):
            raise NotFoundError("automation version", f"{workflow_id}@{version}")
        return found

    @audited("automation.update")
    def update_workflow(
        self, workflow_id: str, definition: Any = None, /, **changes: Any
    ) -> Automation:
        """Change a workflow's name, description, trigger, conditions, actions or settings.

        A change of the definition bumps ``workflow_version``; runs already
        under way finish the version they started with. An active workflow is
        checked as at activation, and its trigger restarts if it changed.

        Raises:
            NotFoundError: no such workflow.
            ValidationError: as ``create_workflow``, with paths.
        """
        self._svc._require(Permission.WRITE)
        data = self._merge(definition, changes)
        with self._rt.transaction() as tx:
            current = self._load(tx, workflow_id)
            base = self._engine().current(current).to_json()
            base.update(data)
            # a one-time trigger that already fired may keep its date when other parts change
            workflow = self._parse(base, past_dates="trigger" in data)
            active = current.status is AutomationStatus.ACTIVE
            self._check_account(tx, workflow, current.id, activating=active)
            now = self._rt.now()
            new_definition = workflow.definition()
            old_definition = self._engine().current(current).definition()
            changed = json.dumps(new_definition, sort_keys=True) != json.dumps(
                old_definition, sort_keys=True
            )
            updated = attrs.evolve(
                current,
                name=workflow.name,
                description=workflow.description,
                trigger=workflow.trigger.to_json(),
                conditions=workflow.conditions,
                actions=workflow.actions,
                settings=workflow.settings.to_json(),
                workflow_version=current.workflow_version + (1 if changed else 0),
                updated_at=now,
                version=current.version + 1,
            )
            tx.uow.automations.update(updated)
            if changed:
                self._add_version(tx, updated, workflow, now)
            trigger_changed = new_definition["trigger"] != old_definition["trigger"]
            if trigger_changed:
                tx.uow.automation_trigger_matches.delete_where(Eq("automation_id", current.id))
                if active:
                    self._engine().schedule_trigger(tx, updated, workflow)
            return updated

    @audited("automation.register_trigger")
    def register_trigger(self, workflow_id: str, trigger: Any) -> Automation:
        """Replace a workflow's trigger (a new workflow version).

        Raises:
            NotFoundError: no such workflow.
            ValidationError: a bad trigger, with paths under ``trigger``.
        """
        return self.update_workflow(workflow_id, trigger=trigger)

    @audited("automation.delete")
    def delete_workflow(self, workflow_id: str) -> None:
        """Delete a workflow with its runs, versions and history.

        Runs under way stop (a worker advancing one writes nothing).

        Raises:
            NotFoundError: no such workflow.
        """
        self._svc._require(Permission.DELETE)
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            where = Eq("automation_id", automation.id)
            for repo in (
                tx.uow.automation_step_runs,
                tx.uow.automation_runs,
                tx.uow.automation_trigger_matches,
                tx.uow.automation_triggers,
                tx.uow.automation_versions,
                tx.uow.automation_executions,
            ):
                repo.delete_where(where)
            tx.uow.automations.delete(automation.id)

    def list_workflows(
        self,
        *,
        status: Any = None,
        trigger_type: Any = None,
        limit: Any = None,
        offset: Any = 0,
        **unknown: Any,
    ) -> Page:
        """The account's workflows, newest first.

        Args:
            status: active, paused or archived.
            trigger_type: event, behavior, time or segment_entered.
            limit: page size (default 20, at most 200).
            offset: how many to skip.

        Returns:
            A :class:`~campaign_core.services.Page` (``next_cursor`` is the next offset).
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        check_unknown(unknown, problems, ("status", "trigger_type", "limit", "offset"))
        settings = self._rt.settings
        size = (
            settings.default_page_size
            if limit is None
            else v_int(limit, "limit", problems, minimum=1, maximum=settings.max_page_size)
        )
        start = v_int(offset, "offset", problems, minimum=0, maximum=10**9)
        conds: list[Cond] = [Eq("user_id", self._account)]
        if status is not None:
            member = v_enum(status, "status", problems, AutomationStatus)
            if member is not None:
                conds.append(Eq("status", member))
        wanted = None
        if trigger_type is not None:
            wanted = v_enum(trigger_type, "trigger_type", problems, TriggerType)
        problems.raise_if_any()
        assert size is not None and start is not None
        with self._rt.transaction() as tx:
            rows = tx.uow.automations.find(
                And(*conds), order_by=[Order("created_at", True), Order("id", True)]
            )
        if wanted is not None:
            rows = [r for r in rows if r.trigger.get("type") == wanted.value]
        page = rows[start : start + size]
        next_cursor = str(start + size) if start + size < len(rows) else None
        return Page(items=tuple(page), total=len(rows), next_cursor=next_cursor)

    # ------------------------------------------------------------------ lifecycle
    @audited("automation.activate")
    def activate_workflow(self, workflow_id: str, *, overdue_policy: Any = None) -> Automation:
        """Activate a paused workflow: check it against the account, start its trigger.

        Runs held while it was paused resume under ``overdue_policy``
        (``run_late``, ``skip_overdue`` or ``cancel``; default the workflow's
        ``settings.overduePolicy``).

        Raises:
            NotFoundError: no such workflow.
            InvalidTransitionError: it is already active.
            ValidationError: the definition no longer holds (an unknown
                template or segment, an unregistered action type), or it would
                close a loop of workflows feeding each other.
        """
        self._svc._require(Permission.LIFECYCLE)
        policy = None
        if overdue_policy is not None:
            problems = ProblemCollector()
            policy = v_enum(overdue_policy, "overdue_policy", problems, OverduePolicy)
            problems.raise_if_any()
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            if automation.status is AutomationStatus.ACTIVE:
                raise InvalidTransitionError("active", "activate", entity="automation")
            workflow = self._parse(self._engine().current(automation).to_json())
            self._check_account(tx, workflow, automation.id, activating=True)
            return self._activate(tx, automation, workflow, policy)

    def _activate(
        self, tx: Tx, automation: Automation, workflow: Workflow, policy: OverduePolicy | None
    ) -> Automation:
        active = attrs.evolve(
            automation,
            status=AutomationStatus.ACTIVE,
            updated_at=self._rt.now(),
            version=automation.version + 1,
        )
        tx.uow.automations.update(active)
        engine = self._engine()
        engine.schedule_trigger(tx, active, workflow)
        engine.resume(tx, active, policy or workflow.settings.overdue_policy)
        return active

    @audited("automation.deactivate")
    def deactivate_workflow(self, workflow_id: str) -> Automation:
        """Pause a workflow: no new entries; runs hold at their next due step.

        Raises:
            NotFoundError: no such workflow.
            InvalidTransitionError: it is not active.
        """
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            if automation.status is not AutomationStatus.ACTIVE:
                raise InvalidTransitionError(
                    automation.status.value, "deactivate", entity="automation"
                )
            paused = attrs.evolve(
                automation,
                status=AutomationStatus.PAUSED,
                updated_at=self._rt.now(),
                version=automation.version + 1,
            )
            tx.uow.automations.update(paused)
            tx.uow.automation_triggers.delete_where(Eq("automation_id", automation.id))
            return paused

    # ------------------------------------------------------------------ triggers
    def evaluate_trigger(self, trigger: Any, context: Any = None) -> bool:
        """Whether ``trigger`` fires for ``context`` (nothing is enrolled).

        Context per trigger type: event ``{"event": {"name", "properties"?,
        "value"?}}``; behavior ``{"fanId"}`` (the fan matches now); time
        ``{"at"?}`` (that minute is a fire time; default now); segment_entered
        ``{"segment"}`` (an id or name).

        Raises:
            ValidationError: a bad trigger or context.
            NotFoundError: (behavior) no such fan.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        engine = self._engine()
        parsed = parse_trigger(trigger, "trigger", problems, registry=engine.registry)
        ctx = {} if context is None else v_json_object(context, "context", problems)
        problems.raise_if_any()
        assert parsed is not None and ctx is not None
        return self._evaluate(parsed, ctx, engine)

    def _evaluate(self, trigger: Trigger, ctx: Mapping[str, Any], engine: Engine) -> bool:
        from campaign_core.automation._conditions import match_properties

        if trigger.type is TriggerType.EVENT:
            event = ctx.get("event")
            if not isinstance(event, Mapping) or not isinstance(event.get("name"), str):
                raise ValidationError.single(
                    "context.event", "expected {name, properties?, value?}"
                )
            props = event.get("properties") or {}
            if not isinstance(props, Mapping):
                raise ValidationError.single("context.event.properties", "expected an object")
            return bool(
                event["name"] == trigger.event
                and match_properties(trigger.filter, props, event.get("value"))
            )
        if trigger.type is TriggerType.BEHAVIOR:
            fan_id = ctx.get("fanId", ctx.get("fan_id"))
            problems = ProblemCollector()
            v_id(fan_id, "context.fanId", problems)
            problems.raise_if_any()
            with self._rt.transaction() as tx:
                fan = self._fan(tx, fan_id)
                assert trigger.criteria is not None
                from campaign_core.criteria import compile_criteria

                compiled = compile_criteria(trigger.criteria, registry=engine.registry)
                return bool(engine._evaluate(tx, compiled, [fan], self._rt.now(), "(evaluate)"))
        if trigger.type is TriggerType.TIME:
            at = self._rt.now()
            if "at" in ctx:
                at = parse_datetime(ctx["at"], "context.at")
            if trigger.cron is not None:
                zone = trigger.time_zone or self._rt.settings.automation.default_time_zone
                return trigger.cron.matches(at, zone)
            assert trigger.at is not None
            return abs(at - trigger.at) < timedelta(minutes=1)
        ref = ctx.get("segment")
        if not isinstance(ref, str):
            raise ValidationError.single("context.segment", "expected a segment id or name")
        with self._rt.transaction() as tx:
            key = self._segment_key(tx)
            return bool(trigger.segment is not None and key(trigger.segment) == key(ref))

    def _fan(self, tx: Tx, fan_id: str) -> Fan:
        found = tx.uow.fans.find(And(Eq("owner_id", self._account), Eq("fan_id", fan_id)), limit=1)
        if not found:
            raise NotFoundError("fan", fan_id)
        return found[0]

    # ------------------------------------------------------------------ execution
    @audited("automation.execute")
    def execute_workflow(
        self, workflow_id: str, fan_id: str, context: Any = None, *, entry_key: Any = None
    ) -> ExecutionResult:
        """Start a run for one fan now and run its due steps at once.

        The workflow's conditions and re-entry policy apply; steps after a
        wait run in ``tick()`` as usual.

        Args:
            workflow_id: an active workflow.
            fan_id: an existing fan of the account.
            context: JSON stored as the run's ``triggerData.context``.
            entry_key: makes the call idempotent: a second call with the same
                key starts nothing.

        Raises:
            NotFoundError: no such workflow or fan.
            InvalidTransitionError: the workflow is not active.
            ValidationError: bad arguments.
        """
        self._svc._require(Permission.LIFECYCLE)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        ctx = {} if context is None else v_json_object(context, "context", problems)
        if entry_key is not None:
            v_id(entry_key, "entry_key", problems)
        problems.raise_if_any()
        engine = self._engine()
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            if automation.status is not AutomationStatus.ACTIVE:
                raise InvalidTransitionError(
                    automation.status.value, "execute", entity="automation"
                )
            fan = self._fan(tx, fan_id)
            workflow = engine.current(automation)
            runs = engine.enrol(
                tx,
                automation,
                workflow,
                [fan],
                entry=f"manual:{entry_key or self._rt.ids.new_id('entry')}",
                trigger_data=lambda _fan: {"type": "manual", "context": ctx},
                trigger_type="manual",
            )
            reason = None
            if not runs:
                if fan.opted_out:
                    reason = "fan opted out"
                elif workflow.criteria is not None and not engine._passing(
                    tx, workflow.criteria.root, [fan], self._rt.now(), automation.id
                ):
                    reason = "conditions not met"
                else:
                    reason = "re-entry policy"
        if not runs:
            return ExecutionResult(automation.id, fan_id, entered=False, reason=reason)
        run = self._drive(engine, runs[0].id)
        return ExecutionResult(automation.id, fan_id, entered=True, run=run)

    def _drive(self, engine: Engine, run_id: str) -> AutomationRun:
        """Advance one run while it is due now (each effect recorded before the next)."""
        rt = self._rt
        for _ in range(_MAX_ADVANCES):
            now = rt.now()
            with rt.transaction() as tx:
                claimed = tx.uow.automation_runs.claim(
                    And(Eq("id", run_id), Eq("status", RunStatus.ACTIVE), Lte("wake_at", now)),
                    order_by=[Order("id")],
                    limit=1,
                    owner=rt.worker_id,
                    until=now + rt.settings.lease_duration,
                    now=now,
                )
            if not claimed:
                break
            engine.record(engine.advance(claimed))
        with rt.transaction() as tx:
            run = tx.uow.automation_runs.get(run_id)
        assert run is not None
        return run

    @audited("automation.enroll")
    def enroll_fans(self, workflow_id: str, fan_ids: Any, context: Any = None) -> int:
        """Start runs for many fans at once (conditions and re-entry apply); returns how many.

        The runs advance in ``tick()``.

        Raises:
            NotFoundError: no such workflow.
            InvalidTransitionError: the workflow is not active.
            ValidationError: bad fan ids (at most 100,000 per call).
        """
        self._svc._require(Permission.LIFECYCLE)
        problems = ProblemCollector()
        if isinstance(fan_ids, str | bytes) or not isinstance(fan_ids, Sequence):
            problems.add("fan_ids", "expected a list of fan ids", "invalid_type")
        elif len(fan_ids) > 100_000:
            problems.add("fan_ids", "at most 100000 fans per call", "too_long")
        else:
            for index, fan_id in enumerate(fan_ids):
                if (
                    v_id(fan_id, join_path("fan_ids", index), problems) is None
                    and len(problems.problems) > 50
                ):
                    break
        ctx = {} if context is None else v_json_object(context, "context", problems)
        problems.raise_if_any()
        engine = self._engine()
        size = self._rt.settings.automation.sweep_page_size
        ids = list(dict.fromkeys(fan_ids))
        batch_key = self._rt.ids.new_id("entry")
        total = 0
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            if automation.status is not AutomationStatus.ACTIVE:
                raise InvalidTransitionError(
                    automation.status.value, "execute", entity="automation"
                )
            workflow = engine.current(automation)
            for start in range(0, len(ids), size):
                fans = tx.uow.fans.find(
                    And(Eq("owner_id", self._account), In("fan_id", ids[start : start + size]))
                )
                total += len(
                    engine.enrol(
                        tx,
                        automation,
                        workflow,
                        fans,
                        entry=f"manual:{batch_key}",
                        trigger_data=lambda _fan: {"type": "manual", "context": ctx},
                        trigger_type="manual",
                    )
                )
        return total

    @audited("automation.execute_action")
    def execute_action(self, action: Any, context: Any) -> ActionResult:
        """Run one action for one fan now, outside any workflow (no retries, no history).

        Args:
            action: an action object as in a workflow (``{"type": "send_message",
                "template": "welcome_message"}``).
            context: ``{"fanId": ..., "variables"?: {...}, "idempotencyKey"?: ...,
                "since"?: ISO instant for check_engagement}``.

        Returns:
            An :class:`ActionResult`; a failing action gives status ``failed``.

        Raises:
            ValidationError: a bad action or context (paths under ``action``/``context``).
            NotFoundError: no such fan.
        """
        self._svc._require(Permission.LIFECYCLE)
        problems = ProblemCollector()
        ctx = v_json_object(context, "context", problems)
        workflow = None
        try:
            workflow = self._parse(
                {
                    "name": "action",
                    "trigger": {"type": "event", "event": "manual"},
                    "actions": [action],
                }
            )
        except ValidationError as error:
            for problem in error.problems:
                path = problem.path.replace("actions[0]", "action", 1)
                problems.add(path, problem.message, problem.code)
        fan_id = None if ctx is None else ctx.get("fanId", ctx.get("fan_id"))
        v_id(fan_id, "context.fanId", problems)
        key = None if ctx is None else ctx.get("idempotencyKey")
        if key is not None:
            v_id(key, "context.idempotencyKey", problems)
        since = None
        if ctx is not None and ctx.get("since") is not None:
            since = v_datetime(ctx["since"], "context.since", problems)
        problems.raise_if_any()
        assert workflow is not None and ctx is not None and workflow.first is not None
        step = workflow.step(workflow.first)
        assert step is not None
        engine = self._engine()
        now = self._rt.now()
        with self._rt.transaction() as tx:
            fan = self._fan(tx, str(fan_id))
            automation = Automation(
                id="manual",
                user_id=self._account,
                name="execute_action",
                created_at=now,
                updated_at=now,
            )
            self._check_account(tx, workflow, None, activating=False)
        run = AutomationRun(
            id=str(key or self._rt.ids.new_id("action")),
            automation_id="manual",
            owner_id=self._account,
            fan_id=fan.fan_id,
            workflow_version=1,
            entry_key="manual",
            trigger_type="manual",
            variables=dict(ctx.get("variables") or {}),
            entered_at=since or now,
            updated_at=now,
        )
        st = _State.of(run)
        ctx_round = _Round(now=now, automations={}, workflows={}, fans={})
        try:
            done: _Done = engine._execute(
                st, step, workflow, automation, fan, ctx_round, f"{run.id}:{step.id}:0"
            )
        except _StoreFailure as failure:
            raise failure.error from None
        except _Sleep as sleep:
            return ActionResult(
                step.type, "waiting", until=sleep.until, output={"reason": sleep.reason}
            )
        except ActionFailed as error:
            return ActionResult(step.type, "failed", error=str(error))
        except Exception as error:
            return ActionResult(step.type, "failed", error=f"{type(error).__name__}: {error}")
        if step.type == "wait":
            until = now + step.duration if step.duration is not None else now
            return ActionResult(step.type, "waiting", until=until)
        if done.op is not None:
            with self._rt.transaction() as tx:
                done.op(tx)
        branch = None
        if step.type == "check_engagement":
            branch = "ifTrue" if done.output.get("result") else "ifFalse"
        return ActionResult(step.type, "completed", output=dict(done.output), branch=branch)

    # ------------------------------------------------------------------ runs and history
    def get_run(self, run_id: str) -> AutomationRun:
        """One run of one of the account's workflows.

        Raises:
            NotFoundError: no such run in the account.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        v_id(run_id, "run_id", problems)
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            run = tx.uow.automation_runs.get(run_id)
        return self._svc._owned(run, "automation run", run_id, "owner_id")  # type: ignore[no-any-return]

    def list_runs(
        self,
        workflow_id: str,
        *,
        status: Any = None,
        fan_id: Any = None,
        limit: Any = 50,
        offset: Any = 0,
    ) -> list[AutomationRun]:
        """A workflow's runs, newest first, optionally by status or fan."""
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        size = v_int(limit, "limit", problems, minimum=1, maximum=10_000)
        start = v_int(offset, "offset", problems, minimum=0, maximum=10**9)
        conds: list[Cond] = []
        if status is not None:
            member = v_enum(status, "status", problems, RunStatus)
            if member is not None:
                conds.append(Eq("status", member))
        if fan_id is not None and v_id(fan_id, "fan_id", problems):
            conds.append(Eq("fan_id", fan_id))
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            return tx.uow.automation_runs.find(
                And(Eq("automation_id", automation.id), *conds),
                order_by=[Order("entered_at", True), Order("id", True)],
                limit=size,
                offset=start or 0,
            )

    def get_step_history(self, run_id: str) -> list[AutomationStepRun]:
        """Every step attempt of a run, in order."""
        run = self.get_run(run_id)
        with self._rt.transaction() as tx:
            return tx.uow.automation_step_runs.find(
                Eq("run_id", run.id),
                order_by=[Order("started_at"), Order("finished_at"), Order("id")],
            )

    @audited("automation.cancel_run")
    def cancel_run(self, run_id: str) -> AutomationRun:
        """Cancel one open run (its pending steps never happen).

        Raises:
            NotFoundError: no such run.
            InvalidTransitionError: the run has already ended.
        """
        self._svc._require(Permission.LIFECYCLE)
        run = self.get_run(run_id)
        if run.status.finished:
            raise InvalidTransitionError(run.status.value, "cancel", entity="automation run")
        with self._rt.transaction() as tx:
            self._engine().stop_runs(
                tx, Eq("id", run.id), RunStatus.CANCELLED, "cancelled by the owner"
            )
            stopped = tx.uow.automation_runs.get(run.id)
        assert stopped is not None
        return stopped

    def get_execution_history(
        self,
        workflow_id: str,
        *,
        status: Any = None,
        fan_id: Any = None,
        limit: Any = 50,
        offset: Any = 0,
    ) -> list[AutomationExecution]:
        """The seed's execution records of a workflow (one per finished run), newest first.

        Args:
            status: success, failure or partial.
            fan_id: one fan's runs.
            limit / offset: paging (limit at most 1000).

        Raises:
            NotFoundError: no such workflow.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        size = v_int(limit, "limit", problems, minimum=1, maximum=1000)
        start = v_int(offset, "offset", problems, minimum=0, maximum=10**9)
        conds: list[Cond] = []
        if status is not None:
            member = v_enum(status, "status", problems, ExecutionStatus)
            if member is not None:
                conds.append(Eq("status", member))
        if fan_id is not None and v_id(fan_id, "fan_id", problems):
            conds.append(Eq("fan_id", fan_id))
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            return tx.uow.automation_executions.find(
                And(Eq("automation_id", automation.id), *conds),
                order_by=[Order("started_at", True), Order("id", True)],
                limit=size,
                offset=start or 0,
            )

    def get_execution_stats(self, workflow_id: str, *, sample: Any = 5000) -> ExecutionStats:
        """Numbers per workflow and per step (see :class:`ExecutionStats`).

        Args:
            workflow_id: the workflow.
            sample: how many recent rows durations are computed from.

        Raises:
            NotFoundError: no such workflow.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        size = v_int(sample, "sample", problems, minimum=1, maximum=100_000)
        problems.raise_if_any()
        assert size is not None
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            runs = tx.uow.automation_runs
            base = Eq("automation_id", automation.id)
            by_status = {s: runs.count(And(base, Eq("status", s))) for s in RunStatus}
            executions = tx.uow.automation_executions
            by_result = {s: executions.count(And(base, Eq("status", s))) for s in ExecutionStatus}
            recent = executions.find(
                base, order_by=[Order("started_at", True), Order("id", True)], limit=size
            )
            durations = [float(e.duration) for e in recent if e.duration is not None]
            steps = []
            workflow = self._engine().current(automation)
            history = tx.uow.automation_step_runs
            for step in workflow.steps:
                where = And(base, Eq("step_id", step.id))
                counts = {s: history.count(And(where, Eq("status", s))) for s in StepStatus}
                waiting = runs.count(
                    And(
                        base,
                        Eq("cursor", step.id),
                        In("status", [RunStatus.ACTIVE, RunStatus.HELD]),
                    )
                )
                done = history.find(
                    And(where, Eq("status", StepStatus.COMPLETED)),
                    order_by=[Order("finished_at", True), Order("id", True)],
                    limit=size,
                )
                spans = [float(r.duration_ms) for r in done]
                completed, failed = counts[StepStatus.COMPLETED], counts[StepStatus.FAILED]
                steps.append(
                    StepStats(
                        step_id=step.id,
                        type=step.type,
                        entered=completed + failed + counts[StepStatus.SKIPPED] + waiting,
                        completed=completed,
                        failed=failed,
                        skipped=counts[StepStatus.SKIPPED],
                        retries=counts[StepStatus.RETRYING],
                        waiting=waiting,
                        success_rate=completed / (completed + failed)
                        if completed + failed
                        else None,
                        avg_duration_ms=_mean(spans),
                        p50_duration_ms=_percentile(spans, 0.5),
                        p95_duration_ms=_percentile(spans, 0.95),
                    )
                )
        finished = sum(by_result.values())
        return ExecutionStats(
            workflow_id=automation.id,
            entered=sum(by_status.values()),
            active=by_status[RunStatus.ACTIVE],
            held=by_status[RunStatus.HELD],
            completed=by_status[RunStatus.COMPLETED],
            exited=by_status[RunStatus.EXITED],
            failed=by_status[RunStatus.FAILED],
            cancelled=by_status[RunStatus.CANCELLED],
            timed_out=by_status[RunStatus.TIMED_OUT],
            waiting=by_status[RunStatus.ACTIVE] + by_status[RunStatus.HELD],
            success=by_result[ExecutionStatus.SUCCESS],
            failure=by_result[ExecutionStatus.FAILURE],
            partial=by_result[ExecutionStatus.PARTIAL],
            success_rate=by_result[ExecutionStatus.SUCCESS] / finished if finished else None,
            avg_duration_ms=_mean(durations),
            p50_duration_ms=_percentile(durations, 0.5),
            p95_duration_ms=_percentile(durations, 0.95),
            steps=tuple(steps),
        )
