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

from campaign_core._runtime import Tx
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
from campaign_core.automation import (
    ActionFailed,
    OverduePolicy,
    Trigger,
    TriggerType,
    Workflow,
    match_properties,
    parse_trigger,
)
from campaign_core.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ProblemCollector,
    ValidationError,
    join_path,
)
from campaign_core.jobs.automation import Engine, Round, RunState, Sleep, StepResult, StoreFailure
from campaign_core.jobs.sending import log_sends
from campaign_core.lifecycle import next_workflow_status
from campaign_core.models import (
    Automation,
    AutomationRun,
    AutomationStatus,
    AutomationVersion,
    RunStatus,
)
from campaign_core.permissions import Permission
from campaign_core.query import And, Cond, Eq, In, Lte, Ne, Order
from campaign_core.serialization import parse_datetime
from campaign_core.services._automation_ports import (
    automation_ports as automation_ports,
)
from campaign_core.services._automation_runs import (
    AutomationRunMethods,
)
from campaign_core.services._paging import Page

__all__: list[str] = []

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
        status: ``completed``, ``failed``, ``waiting`` (a wait, or a message
            deferred by quiet hours; nothing was done) or ``suppressed`` (a
            message the fan may not get: opted out, no consent for the topic,
            address suppressed; ``output["reason"]`` says which; nothing sent).
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


class AutomationService(AutomationRunMethods):
    """The workflows of one account, as one actor (``core.for_actor(actor).automations``)."""

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
        # the experiments of this version, their plan fixed now (an A/B test record each)
        self._engine().open_experiments(tx, automation, workflow, now)

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
            found = engine.pinned(tx, {}, [(automation.id, version)]).get((automation.id, version))
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
        """Delete a workflow with its runs, versions, history and experiments.

        Runs under way stop (a worker advancing one writes nothing).

        Raises:
            NotFoundError: no such workflow.
        """
        self._svc._require(Permission.DELETE)
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            where = Eq("automation_id", automation.id)
            experiments = sorted(self._engine().experiment_ids(tx, automation.id))
            if experiments:
                tx.uow.ab_test_variants.delete_where(In("test_id", experiments))
                tx.uow.ab_tests.delete_where(In("id", experiments))
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
        include_archived: Any = False,
        limit: Any = None,
        offset: Any = 0,
        **unknown: Any,
    ) -> Page:
        """The account's workflows, newest first.

        Args:
            status: active, paused or archived.
            include_archived: list archived workflows too (by default they
                are left out unless ``status="archived"`` asks for them).
            trigger_type: event, behavior, time or segment_entered.
            limit: page size (default 20, at most 200).
            offset: how many to skip.

        Returns:
            A :class:`~campaign_core.services.Page` (``next_cursor`` is the next offset).
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        check_unknown(
            unknown, problems, ("status", "trigger_type", "include_archived", "limit", "offset")
        )
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
        if not isinstance(include_archived, bool):
            problems.add("include_archived", "expected true or false", "invalid_type")
        elif status is None and not include_archived:
            conds.append(Ne("status", AutomationStatus.ARCHIVED))
        wanted = None
        if trigger_type is not None:
            wanted = v_enum(trigger_type, "trigger_type", problems, TriggerType)
        problems.raise_if_any()
        assert size is not None and start is not None
        with self._rt.transaction() as tx:
            rows = tx.uow.automations.find(
                And(*conds), order_by=[Order("created_at", True), Order("id", True)]
            )
            # offset paging over every row: the unreadable ones are reported on each page
            corrupt = tuple(tx.uow.automations.take_skipped())
        if wanted is not None:
            rows = [r for r in rows if r.trigger.get("type") == wanted.value]
        page = rows[start : start + size]
        next_cursor = str(start + size) if start + size < len(rows) else None
        return Page(items=tuple(page), total=len(rows), next_cursor=next_cursor, problems=corrupt)

    # ------------------------------------------------------------------ lifecycle
    @audited("automation.activate")
    def activate_workflow(self, workflow_id: str, *, overdue_policy: Any = None) -> Automation:
        """Activate a paused workflow: check it against the account, start its trigger.

        Runs held while it was paused resume under ``overdue_policy``
        (``run_late``, ``skip_overdue`` or ``cancel``; default the workflow's
        ``settings.overduePolicy``).

        Raises:
            NotFoundError: no such workflow.
            InvalidTransitionError: it is already active, or archived
                (restore it first).
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
            next_workflow_status(automation.status, "activate")
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

    @audited("automation.archive")
    def archive_workflow(self, workflow_id: str) -> Automation:
        """Archive a paused workflow (the seed's ``archived`` status).

        It leaves the default :meth:`list_workflows` (``include_archived=True``
        or ``status="archived"`` lists it) and the compiled-rules cache, and
        stays readable by id, with its runs and executions, reportable and
        exportable. It cannot be activated until :meth:`restore_workflow`.

        Raises:
            NotFoundError: no such workflow.
            InvalidTransitionError: it is not paused (an active one is
                deactivated first); nothing changes.
            ConflictError: runs are held (they would never finish): activate
                it to let them finish, or delete it.
        """
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            status = next_workflow_status(automation.status, "archive")
            held = tx.uow.automation_runs.count(
                And(
                    Eq("automation_id", automation.id),
                    In("status", [RunStatus.ACTIVE, RunStatus.HELD]),
                )
            )
            if held:
                raise ConflictError(
                    f"{held} runs of this workflow are still held; activate it to "
                    "let them finish, or delete it",
                    details={"workflow_id": automation.id, "held_runs": held},
                )
            archived = self._set_status(tx, automation, status)
        self._forget_rules(automation.id)
        return archived

    @audited("automation.restore")
    def restore_workflow(self, workflow_id: str) -> Automation:
        """Bring an archived workflow back, paused (activate it to run it again).

        Raises:
            NotFoundError: no such workflow.
            InvalidTransitionError: it is not archived; nothing changes.
        """
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            status = next_workflow_status(automation.status, "restore")
            return self._set_status(tx, automation, status)

    def _set_status(self, tx: Tx, automation: Automation, status: AutomationStatus) -> Automation:
        updated = attrs.evolve(
            automation, status=status, updated_at=self._rt.now(), version=automation.version + 1
        )
        tx.uow.automations.update(updated)
        return updated

    def _forget_rules(self, workflow_id: str) -> None:
        self._rt.caches.automation_rules.invalidate(
            lambda key: isinstance(key, tuple) and len(key) >= 2 and key[1] == workflow_id
        )

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
                return bool(engine.evaluate(tx, compiled, [fan], self._rt.now(), "(evaluate)"))
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
                elif workflow.criteria is not None and not engine.passing(
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
        st = RunState.of(run)
        ctx_round = Round(now=now, automations={}, workflows={}, fans={})
        try:
            done: StepResult = engine.execute_step(
                st, step, workflow, automation, fan, ctx_round, f"{run.id}:{step.id}:0"
            )
        except StoreFailure as failure:
            raise failure.error from None
        except Sleep as sleep:
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
        if done.op is not None or done.sends:
            with self._rt.transaction() as tx:
                if done.op is not None:
                    done.op(tx)
                # the message log frequency caps count; the same key twice logs once
                log_sends(tx, done.sends, checked=True)
        if done.output.get("suppressed"):
            return ActionResult(step.type, "suppressed", output=dict(done.output))
        branch = None
        if step.type == "check_engagement":
            branch = "ifTrue" if done.output.get("result") else "ifFalse"
        return ActionResult(step.type, "completed", output=dict(done.output), branch=branch)
