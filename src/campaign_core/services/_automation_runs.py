"""The automation service's shared base and its read side.

The base loads workflows and fans of the account and checks a definition against it
(templates and segments exist, no loop of workflows feeding each other); the read
side is runs, step history, execution records and stats. Workflow definitions,
lifecycle, triggers and execution are in :mod:`campaign_core.services.automations`;
``ws.automations`` has both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from campaign_core._runtime import Runtime, Service, Tx
from campaign_core._validate import v_enum, v_id, v_int
from campaign_core.audit import audited
from campaign_core.automation import (
    Workflow,
    find_workflow_cycle,
    parse_workflow,
)
from campaign_core.catalog import builtin_template
from campaign_core.durations import format_duration
from campaign_core.errors import (
    InvalidTransitionError,
    NotFoundError,
    ProblemCollector,
    ValidationError,
)
from campaign_core.jobs.automation import Engine, converted_runs, experiment_test_id, held_out
from campaign_core.models import (
    Automation,
    AutomationExecution,
    AutomationRun,
    AutomationStepRun,
    ExecutionStatus,
    Fan,
    RunStatus,
    SegmentType,
    StepStatus,
)
from campaign_core.permissions import Actor, Permission
from campaign_core.query import And, Cond, Eq, In, Order
from campaign_core.services._automation_ports import automation_ports
from campaign_core.stats import difference_interval, two_proportion_ztest

__all__ = [
    "AutomationRunMethods",
    "AutomationServiceBase",
    "ExecutionStats",
    "GoalStats",
    "PathStats",
    "StepStats",
]


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


@attrs.frozen
class PathStats:
    """Goal conversion of the fans one ``random_split`` path took.

    Attributes:
        step_id / branch: the split step and the path's name.
        entered: runs that took the path; converted: of them, those whose fan
            reached the goal within the window; conversion_rate: converted / entered.
        difference / p_value: this path's rate minus the first path's, and the
            two-sided two-proportion z-test of the two
            (:func:`~campaign_core.stats.two_proportion_ztest`, pooled); None for
            the first path and while either path has no runs.
    """

    step_id: str
    branch: str
    entered: int
    converted: int
    conversion_rate: float | None
    difference: float | None
    p_value: float | None


@attrs.frozen
class ExperimentStats:
    """A ``random_split`` experiment of a workflow and its decision.

    Attributes:
        step_id: the split.
        experiment_id: its A/B test record (``ws.abtests.get_ab_test`` shows each path's
            counts at the last look: runs whose goal window had ended, and conversions).
        policy: ``fixed_horizon`` or ``always_valid``.
        status: ``running``, ``completed`` (decided) or ``cancelled`` (the workflow's
            plan changed).
        planned_horizon / mixing_tau: the plan fixed when the workflow was saved.
        winner: the winning path's name once decided (new entrants take it); None while
            running or when the read found no winner.
        decided_at: when the decision was made; significance: 1 - its adjusted p-value.
        last_look_at: the last look.
    """

    step_id: str
    experiment_id: str
    policy: str
    status: str
    planned_horizon: int | None
    mixing_tau: float | None
    winner: str | None
    decided_at: datetime | None
    significance: float | None
    last_look_at: datetime | None


@attrs.frozen
class GoalStats:
    """A workflow's goal conversion (``ws.automations.get_goal_stats``).

    Attributes:
        workflow_id: the workflow.
        event / within: its goal (the current version's).
        entered: runs started; converted: runs whose fan had the goal event
            (passing its filter) within ``within`` of entering, whether the run
            exited on it or had already ended; conversion_rate: converted / entered.
        paths: per path of every ``random_split`` step, in the order written.
        holdout: the workflow's holdout percentage (None without one).
        treated_entered / treated_converted: runs of treated fans, converted ones.
        held_out_entered / held_out_converted: the same for held-out fans.
        lift / lift_lower / lift_upper / lift_p_value: the treated conversion rate
            minus the held-out one, its 95% interval (Newcombe,
            :func:`~campaign_core.stats.difference_interval`) and the two-sided
            pooled two-proportion z-test's p-value; None without a holdout or while
            either group has no runs.
        global_control: the account's global control percentage
            (``MessagingSettings.global_control``, or the account's own in
            ``global_control_accounts``; None when 0).
        global_control_entered / global_control_converted: runs of fans in the
            global control group (never messaged by any workflow), converted ones;
            they are not in the treated or held-out counts.
        global_lift: the treated conversion rate minus the global control group's,
            with ``global_lift_lower``, ``global_lift_upper`` and
            ``global_lift_p_value`` as for ``lift``.
        experiments: the workflow's ``random_split`` experiments and their decisions.
    """

    workflow_id: str
    event: str
    within: str
    entered: int
    converted: int
    conversion_rate: float | None
    paths: tuple[PathStats, ...] = ()
    holdout: float | None = None
    treated_entered: int = 0
    treated_converted: int = 0
    held_out_entered: int = 0
    held_out_converted: int = 0
    lift: float | None = None
    lift_lower: float | None = None
    lift_upper: float | None = None
    lift_p_value: float | None = None
    global_control: float | None = None
    global_control_entered: int = 0
    global_control_converted: int = 0
    global_lift: float | None = None
    global_lift_lower: float | None = None
    global_lift_upper: float | None = None
    global_lift_p_value: float | None = None
    experiments: tuple[ExperimentStats, ...] = ()


def _lift(
    k_control: int, n_control: int, k_treated: int, n_treated: int
) -> tuple[float | None, float | None, float | None, float | None]:
    """Treated minus control: the difference, its Newcombe 95% interval and the z-test p."""
    if not n_control or not n_treated:
        return None, None, None, None
    interval = difference_interval(k_control, n_control, k_treated, n_treated)
    test = two_proportion_ztest(k_control, n_control, k_treated, n_treated)
    return (
        float(interval.estimate),
        float(interval.lower),
        float(interval.upper),
        float(test.p_value),
    )


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return float(ordered[index])


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


class AutomationServiceBase:
    """What both halves of the automation service share."""

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

    @property
    def _account(self) -> str:
        return self._svc.account_id

    def _engine(self) -> Engine:
        return Engine(self._rt, automation_ports(self._rt))

    def _load(self, tx: Tx, workflow_id: Any) -> Automation:
        problems = ProblemCollector()
        v_id(workflow_id, "workflow_id", problems)
        problems.raise_if_any()
        record = tx.uow.automations.get(workflow_id)
        return self._svc._owned(record, "automation", workflow_id)  # type: ignore[no-any-return]

    def _fan(self, tx: Tx, fan_id: str) -> Fan:
        found = tx.uow.fans.find(And(Eq("owner_id", self._account), Eq("fan_id", fan_id)), limit=1)
        if not found:
            raise NotFoundError("fan", fan_id)
        return found[0]

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
            webhooks=cfg.webhooks,
            messaging=self._rt.settings.messaging,
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


class AutomationRunMethods(AutomationServiceBase):
    """Runs, history and numbers of the account's workflows."""

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

    def get_goal_stats(self, workflow_id: str) -> GoalStats:
        """Goal conversion of a workflow, overall and per ``random_split`` path.

        A run counts as converted when its fan recorded the goal event (passing
        the goal's filter) within the conversion window after the run entered,
        whether the run was still going (it exited on the goal) or had ended.

        Args:
            workflow_id: a workflow with a ``settings.goal``.

        Raises:
            NotFoundError: no such workflow.
            ValidationError: the workflow has no goal.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            automation = self._load(tx, workflow_id)
            workflow = self._engine().current(automation)
            goal = workflow.settings.goal
            if goal is None:
                raise ValidationError.single(
                    "settings.goal", "the workflow has no goal", "required"
                )
            base = Eq("automation_id", automation.id)
            runs = tx.uow.automation_runs.find(base, order_by=[Order("id")])
            converted = converted_runs(tx, automation.user_id, runs, goal)
            splits = [s for s in workflow.steps if s.type == "random_split"]
            taken: dict[tuple[str, str], str] = {}
            if splits:
                for row in tx.uow.automation_step_runs.find(
                    And(
                        base,
                        In("step_id", [s.id for s in splits]),
                        Eq("status", StepStatus.COMPLETED),
                    )
                ):
                    taken[(row.step_id, row.run_id)] = str(row.output.get("branch"))
            experiments = []
            for step in splits:
                if step.experiment is None:
                    continue
                test_id = experiment_test_id(automation.id, step)
                record = tx.uow.ab_tests.get(test_id)
                if record is None:
                    continue
                winner = record.winner_id
                experiments.append(
                    ExperimentStats(
                        step_id=step.id,
                        experiment_id=test_id,
                        policy=record.policy,
                        status=record.status.value,
                        planned_horizon=record.planned_horizon,
                        mixing_tau=record.mixing_tau,
                        winner=winner[len(test_id) + 1 :] if winner else None,
                        decided_at=record.completed_at,
                        significance=record.significance,
                        last_look_at=record.updated_at,
                    )
                )
        paths: list[PathStats] = []
        for step in splits:
            counts = {b.name: [0, 0] for b in step.split}
            for (step_id, run_id), name in taken.items():
                if step_id == step.id and name in counts:
                    counts[name][0] += 1
                    counts[name][1] += run_id in converted
            first = step.split[0].name
            n_a, k_a = counts[first]
            for path in step.split:
                n, k = counts[path.name]
                difference = p_value = None
                if path.name != first and n and n_a:
                    test = two_proportion_ztest(k_a, n_a, k, n)
                    difference, p_value = float(test.difference), float(test.p_value)
                paths.append(
                    PathStats(
                        step_id=step.id,
                        branch=path.name,
                        entered=n,
                        converted=k,
                        conversion_rate=k / n if n else None,
                        difference=difference,
                        p_value=p_value,
                    )
                )
        holdout = workflow.settings.holdout
        messaging = self._rt.settings.messaging
        groups = {"treated": [0, 0], "held_out": [0, 0], "global": [0, 0]}
        for run in runs:
            if run.state.get("started"):
                group = (
                    "global"
                    if run.state.get("globalControl")
                    else "held_out"
                    if run.state.get("heldOut")
                    else "treated"
                )
            elif messaging.in_global_control(run.owner_id, run.fan_id):
                group = "global"
            else:
                group = "held_out" if held_out(automation.id, run.fan_id, holdout) else "treated"
            groups[group][0] += 1
            groups[group][1] += run.id in converted
        (n_t, k_t), (n_h, k_h), (n_g, k_g) = (
            groups["treated"],
            groups["held_out"],
            groups["global"],
        )
        lift, lower, upper, p_lift = (
            _lift(k_h, n_h, k_t, n_t) if holdout is not None else (None, None, None, None)
        )
        g_lift, g_lower, g_upper, g_p = _lift(k_g, n_g, k_t, n_t)
        return GoalStats(
            global_control=messaging.global_control_of(automation.user_id) or None,
            global_control_entered=n_g,
            global_control_converted=k_g,
            global_lift=g_lift,
            global_lift_lower=g_lower,
            global_lift_upper=g_upper,
            global_lift_p_value=g_p,
            holdout=holdout,
            treated_entered=n_t,
            treated_converted=k_t,
            held_out_entered=n_h,
            held_out_converted=k_h,
            lift=lift,
            lift_lower=lower,
            lift_upper=upper,
            lift_p_value=p_lift,
            workflow_id=automation.id,
            event=goal.event,
            within=format_duration(goal.within),
            entered=len(runs),
            converted=len(converted),
            conversion_rate=len(converted) / len(runs) if runs else None,
            paths=tuple(paths),
            experiments=tuple(experiments),
        )
