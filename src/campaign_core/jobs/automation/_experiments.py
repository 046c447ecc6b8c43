"""Experiment paths: a ``random_split`` in experiment mode decides a winner, then routes to it.

Each experiment is an A/B test record (``ab_tests``, its paths ``ab_test_variants``) made
when the workflow version that has it is saved, with the plan fixed then: the policy, the
planned horizon (fixed horizon) or the mixing ``tau`` (always valid). ``tick()`` looks at
running experiments every ``experiment_look_interval``: it counts, per path, the runs whose
goal window has ended (held-out fans left out) and those that converted, and asks
:func:`~campaign_core.abtesting.decide_and_record`, the A/B tests' own decision. A winner
completes the test (``winner_id``, ``completed_at``, ``significance``); from then on the
split sends new entrants down the winning path. A fixed-horizon experiment is read once,
when its planned size is reached: without a significant winner then, it completes with
none and the split keeps its weights.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from campaign_core._runtime import Tx
from campaign_core.abtesting import (
    DecisionReason,
    MinimumSample,
    decide_and_record,
    planned_horizon,
)
from campaign_core.automation import Goal, Step, Workflow, match_properties
from campaign_core.errors import CampaignCoreError, ConflictError, ValidationError, join_path
from campaign_core.jobs.automation._base import EngineBase
from campaign_core.jobs.automation._state import stable_id
from campaign_core.models import (
    ABTest,
    ABTestStatus,
    ABTestVariant,
    Automation,
    AutomationRun,
    StepStatus,
)
from campaign_core.query import And, Eq, Gte, In, IsNull, Lte, Order

__all__ = ["Experiments", "converted_runs", "experiment_test_id"]

_log = logging.getLogger("campaign_core.automation")
_CHUNK = 500
PREFIX = "wfx"
# a fixed-horizon experiment is read once: these reasons leave it running (the read has
# not happened yet: too few runs, or data that cannot be compared)
_NOT_READ = (
    DecisionReason.BEFORE_HORIZON,
    DecisionReason.BELOW_MINIMUM_SAMPLE,
    DecisionReason.SAMPLE_RATIO_MISMATCH,
    DecisionReason.INCONSISTENT_COUNTS,
)


def experiment_test_id(automation_id: str, step: Step) -> str:
    """The A/B test id of a split's experiment: the workflow, the step and its plan.

    A new plan (policy, sizes, branches or weights) under the same step id is a new
    experiment; runs record the id of the one they were counted in.
    """
    assert step.experiment is not None
    plan = {
        "plan": step.experiment.to_json(),
        "branches": [[b.name, b.weight] for b in step.split],
    }
    return stable_id(PREFIX, f"{automation_id}/{step.id}/{json.dumps(plan, sort_keys=True)}")


def variant_id(test_id: str, branch: str) -> str:
    """A path's variant id: the test id and the branch name."""
    return f"{test_id}.{branch}"


def converted_runs(tx: Tx, owner_id: str, runs: Sequence[AutomationRun], goal: Goal) -> set[str]:
    """The runs whose fan had the goal event (passing its filter) within the window of entering.

    Reads the goal events of the runs' fans, 500 fans per query, from the earliest entry on.
    """
    if not runs:
        return set()
    fans = sorted({r.fan_id for r in runs})
    start = min(r.entered_at for r in runs)
    times: dict[str, list[datetime]] = {}
    for chunk in range(0, len(fans), _CHUNK):
        for event in tx.uow.fan_events.find(
            And(
                Eq("owner_id", owner_id),
                In("fan_id", fans[chunk : chunk + _CHUNK]),
                Eq("name", goal.event),
                Gte("occurred_at", start),
            )
        ):
            if match_properties(goal.filter, event.properties, event.value):
                times.setdefault(event.fan_id, []).append(event.occurred_at)
    return {
        r.id
        for r in runs
        if any(r.entered_at <= at <= r.entered_at + goal.within for at in times.get(r.fan_id, ()))
    }


@attrs.frozen
class PathCounts:
    """One path of an experiment at a look: runs whose window ended, and converted ones."""

    branch: str
    entered: int
    converted: int


class Experiments(EngineBase):
    """Opens experiments when a workflow is saved, and looks at them in ``tick()``."""

    def open_experiments(
        self, tx: Tx, automation: Automation, workflow: Workflow, now: datetime
    ) -> list[str]:
        """Make the A/B test record of each experiment of ``workflow`` that has none yet.

        The plan is fixed here: the planned horizon of a fixed-horizon experiment
        (:func:`~campaign_core.abtesting.planned_horizon` from ``baselineRate`` and
        ``mde`` over the branches' weights, the first branch the control) and the
        mixing ``tau`` of an always-valid one (``mde`` (default 0.1) times
        ``baselineRate``), unless the workflow gives them.

        Returns:
            The experiments' test ids.

        Raises:
            ValidationError: a plan that cannot be sized (at the step's ``experiment.mde``).
        """
        ids = []
        for step in workflow.steps:
            plan = step.experiment
            if plan is None:
                continue
            test_id = experiment_test_id(automation.id, step)
            ids.append(test_id)
            if tx.uow.ab_tests.get(test_id) is not None:
                continue
            shares = [b.weight or 0.0 for b in step.split]
            horizon, tau = plan.planned_horizon, plan.tau
            if plan.policy == "fixed_horizon" and horizon is None:
                assert plan.baseline_rate is not None and plan.mde is not None
                try:
                    horizon = planned_horizon(
                        plan.baseline_rate,
                        plan.mde,
                        shares=shares,
                        confidence_level=plan.confidence_level,
                    )
                except ValidationError as error:
                    raise ValidationError.single(
                        join_path(step.path, "experiment.mde"),
                        f"cannot plan this experiment: {error.problems[0].message}",
                        "invalid_value",
                    ) from None
            if plan.policy == "always_valid" and tau is None:
                assert plan.baseline_rate is not None
                tau = (plan.mde if plan.mde is not None else 0.1) * plan.baseline_rate
            tx.uow.ab_tests.add(
                ABTest(
                    id=test_id,
                    user_id=automation.user_id,
                    name=f"{automation.name}: {step.id}"[:200],
                    traffic_split={b.name: b.weight for b in step.split},
                    min_sample_size=plan.min_per_path,
                    confidence_level=plan.confidence_level,
                    started_at=now,
                    created_at=now,
                    updated_at=now,
                    policy=plan.policy,
                    planned_mde=plan.mde,
                    metric="conversion_rate",
                    baseline_rate=plan.baseline_rate,
                    planned_horizon=horizon if plan.policy == "fixed_horizon" else None,
                    mixing_tau=tau if plan.policy == "always_valid" else None,
                )
            )
            tx.uow.ab_test_variants.add_many(
                [
                    ABTestVariant(
                        id=variant_id(test_id, branch.name),
                        test_id=test_id,
                        name=branch.name,
                        is_control=index == 0,
                        content={
                            "automationId": automation.id,
                            "stepId": step.id,
                            "branch": branch.name,
                        },
                        created_at=now,
                        updated_at=now,
                    )
                    for index, branch in enumerate(step.split)
                ]
            )
        return ids

    def experiment_ids(self, tx: Tx, automation_id: str) -> set[str]:
        """The test ids of every experiment any saved version of a workflow had."""
        out = set()
        automations = {}
        found = tx.uow.automations.get(automation_id)
        if found is not None:
            automations[automation_id] = found
        versions = tx.uow.automation_versions.find(Eq("automation_id", automation_id))
        keys = {(automation_id, v.workflow_version) for v in versions}
        for workflow in self.pinned(tx, automations, keys).values():
            if isinstance(workflow, Workflow):
                for step in workflow.steps:
                    if step.experiment is not None:
                        out.add(experiment_test_id(automation_id, step))
        return out

    # -- looking ----------------------------------------------------------------------------
    def look_at_experiments(self, limit: int | None = None) -> int:
        """Look at the running experiments not looked at for ``experiment_look_interval``.

        Returns:
            How many were looked at.
        """
        rt = self.rt
        now = rt.now()
        with rt.transaction() as tx:
            due = tx.uow.ab_tests.find(
                And(
                    Eq("status", ABTestStatus.RUNNING),
                    IsNull("campaign_id"),
                    Lte("updated_at", now - self.cfg.experiment_look_interval),
                ),
                order_by=[Order("updated_at"), Order("id")],
                limit=limit or rt.settings.tick_batch_size,
            )
        looked = 0
        for test in due:
            if not test.id.startswith(f"{PREFIX}-"):
                continue
            try:
                self._look(test, now)
            except ConflictError:
                continue  # another worker looked at it meanwhile
            except CampaignCoreError as error:
                _log.warning("experiment %s: the look failed (skipped): %s", test.id, error)
                continue
            looked += 1
        return looked

    def _look(self, test: ABTest, now: datetime) -> None:
        with self.rt.transaction() as tx:
            current = tx.uow.ab_tests.get(test.id)
            if current is None or current.status is not ABTestStatus.RUNNING:
                return
            variants = tx.uow.ab_test_variants.find(Eq("test_id", test.id), order_by=[Order("id")])
            content = variants[0].content if variants else {}
            automation = tx.uow.automations.get(str(content.get("automationId")))
            workflow = self.current(automation) if automation is not None else None
            step = workflow.step(str(content.get("stepId"))) if workflow is not None else None
            if (
                automation is None
                or workflow is None
                or step is None
                or step.experiment is None
                or workflow.settings.goal is None
                or experiment_test_id(automation.id, step) != test.id
            ):
                # the workflow is gone, or its current version has another plan
                tx.uow.ab_tests.update(
                    attrs.evolve(
                        current,
                        status=ABTestStatus.CANCELLED,
                        completed_at=now,
                        updated_at=now,
                        version=current.version + 1,
                    )
                )
                return
            plan = step.experiment
            if current.policy == "fixed_horizon" and current.planned_horizon is not None:
                taken = tx.uow.automation_step_runs.count(
                    And(
                        Eq("automation_id", automation.id),
                        Eq("step_id", step.id),
                        Eq("status", StepStatus.COMPLETED),
                    )
                )
                if taken < current.planned_horizon:  # cannot have reached it: count nothing
                    tx.uow.ab_tests.update(
                        attrs.evolve(current, updated_at=now, version=current.version + 1)
                    )
                    return
            counts = {
                c.branch: c
                for c in self.path_counts(
                    tx, automation, step, workflow.settings.goal, test.id, now
                )
            }
            fresh = [
                attrs.evolve(
                    v,
                    impressions=counts[v.name].entered if v.name in counts else 0,
                    clicks=counts[v.name].entered if v.name in counts else 0,
                    conversions=counts[v.name].converted if v.name in counts else 0,
                    updated_at=now,
                    version=v.version + 1,
                )
                for v in variants
            ]
            for variant in fresh:
                tx.uow.ab_test_variants.update(variant)
            decision, recorded = decide_and_record(
                current,
                fresh,
                bayesian=False,
                min_samples=MinimumSample(impressions=plan.min_per_path, clicks=0, conversions=0),
            )
            done = recorded or current
            changes: dict[str, Any] = {"updated_at": now, "version": current.version + 1}
            if decision.winner_id is not None:
                changes.update(
                    status=ABTestStatus.COMPLETED,
                    winner_id=decision.winner_id,
                    significance=decision.significance,
                    completed_at=now,
                )
                _log.info("experiment %s: %s", test.id, decision.message)
            elif current.policy == "fixed_horizon" and decision.reason not in _NOT_READ:
                # read once, at the planned size: no winner, and no second look
                changes.update(status=ABTestStatus.COMPLETED, completed_at=now)
                _log.info("experiment %s: no winner (%s)", test.id, decision.message)
            tx.uow.ab_tests.update(attrs.evolve(done, **changes))

    def path_counts(
        self,
        tx: Tx,
        automation: Automation,
        step: Step,
        goal: Goal,
        test_id: str,
        now: datetime,
    ) -> list[PathCounts]:
        """Per path: the treated runs counted in experiment ``test_id`` whose goal window has
        ended by ``now``, and how many of them converted."""
        taken: dict[str, str] = {}
        for row in tx.uow.automation_step_runs.find(
            And(
                Eq("automation_id", automation.id),
                Eq("step_id", step.id),
                Eq("status", StepStatus.COMPLETED),
            )
        ):
            if row.output.get("experiment") == test_id and not row.output.get("routed"):
                taken[row.run_id] = str(row.output.get("branch"))
        runs = [
            r
            for r in _by_ids(tx, sorted(taken))
            if not r.state.get("heldOut") and r.entered_at + goal.within <= now
        ]
        converted = converted_runs(tx, automation.user_id, runs, goal)
        out = []
        for branch in step.split:
            mine = [r for r in runs if taken.get(r.id) == branch.name]
            out.append(PathCounts(branch.name, len(mine), sum(r.id in converted for r in mine)))
        return out


def _by_ids(tx: Tx, ids: Sequence[str]) -> Iterable[AutomationRun]:
    for start in range(0, len(ids), _CHUNK):
        yield from tx.uow.automation_runs.find(In("id", list(ids[start : start + _CHUNK])))
