"""Launching campaigns: the one launch check, the launch itself, and tick()'s scheduled launches.

``launch_campaign`` (a service call) and ``tick()`` (for campaigns whose
``scheduled_for`` has come) both go through ``launch_problems`` and
``activate_campaign``, so what was checked is what is published: the launch's
publish jobs keep the posts its check adapted.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.alerts import Alert, AlertKind
from campaign_core.audit import system_action
from campaign_core.errors import (
    CampaignCoreError,
    NotFoundError,
    Problem,
    ProblemCollector,
    RateLimitedError,
    ValidationError,
)
from campaign_core.jobs.delivery import start_broadcast
from campaign_core.jobs.publishing import adapt_campaign, enqueue_launch_jobs, enqueue_publish_jobs
from campaign_core.lifecycle import next_status
from campaign_core.models import Campaign, CampaignStatus, StrEnum
from campaign_core.publishing import AdaptationResult
from campaign_core.query import And, Eq, In, Lte, Order
from campaign_core.serialization import format_datetime

__all__ = [
    "DueLaunchRun",
    "launch_due_campaigns",
]

S = CampaignStatus
_log = logging.getLogger("campaign_core.engine")


def launch_problems(rt: Runtime, campaign: Campaign) -> list[Problem]:
    """What keeps ``campaign`` from launching (empty: nothing).

    The one check behind ``launch_campaign``, ``schedule_campaign`` (and
    ``create_campaign`` with ``scheduled_for``) and the scheduled launches of
    ``tick()``: at least one platform, some content, a budget not yet spent,
    and content that every target platform accepts.
    """
    return _launch_check(rt, campaign)[0]


def _launch_check(
    rt: Runtime, campaign: Campaign
) -> tuple[list[Problem], dict[str, AdaptationResult]]:
    """``launch_problems``, and each platform's adapted post when there are none.

    A launch hands the posts to its publish jobs, so what was checked is what
    is published, and the host's generator is asked once per platform.
    """
    adapted: dict[str, AdaptationResult] = {}
    problems = ProblemCollector()
    if not campaign.platforms:
        problems.add("platforms", "a campaign needs at least one platform to launch", "required")
    if not campaign.content:
        problems.add("content", "a campaign needs content to launch", "required")
    if campaign.budget is not None and campaign.spent >= campaign.budget:
        problems.add("budget", "the budget is already spent", "out_of_range")
    if campaign.platforms and campaign.content:
        try:
            adapted = adapt_campaign(rt, campaign)
        except ValidationError as error:
            problems.extend(error)
    return problems.problems, adapted


def launch(rt: Runtime, campaign_id: str, account_id: str) -> tuple[Campaign, list[str]]:
    """Launch an account's campaign now (``launch_campaign``), counting a refused launch as a failed attempt.

    ``tick()`` launches scheduled campaigns with ``launch_scheduled`` instead.
    """
    seen: list[Campaign] = []
    try:
        return _launch(rt, campaign_id, account_id, seen)
    except (ValidationError, RateLimitedError):
        # refused before going active: a launch attempt and a failure for the failure-rate alarm
        if seen:
            rt.emitter.campaign_launch_failed(
                campaign_type=seen[0].type.value, owner_id=seen[0].user_id
            )
        raise


def _launch(
    rt: Runtime, campaign_id: str, account_id: str, seen: list[Campaign]
) -> tuple[Campaign, list[str]]:
    """Move a campaign to active and queue its publish jobs, in one transaction."""
    with rt.transaction() as tx:
        campaign = tx.uow.campaigns.get(campaign_id)
        if campaign is None or campaign.user_id != account_id:
            raise NotFoundError("campaign", campaign_id)
        next_status(campaign.status, "launch")
        seen.append(campaign)
        problems, adapted = _launch_check(rt, campaign)
        if problems:
            raise ValidationError(problems)
        # the seed's launch throttling: counted in this transaction, so a refused launch changes nothing
        rt.limiter.hit(campaign.user_id, "launches", tx)
        return activate_campaign(tx, rt, campaign, adapted)


def activate_campaign(
    tx: Tx, rt: Runtime, campaign: Campaign, adapted: Mapping[str, AdaptationResult]
) -> tuple[Campaign, list[str]]:
    """Write the launch of a checked campaign: active, started, one publish job per platform.

    A campaign with a message also starts its broadcast's audience snapshot.

    Args:
        tx: the launch's transaction.
        rt: the runtime.
        campaign: the campaign, checked by ``launch_problems``.
        adapted: the posts the check adapted; each job keeps its own.

    Returns:
        The campaign as written and the ids of its open publish jobs.
    """
    updated = _activated(tx, rt, campaign)
    tx.uow.campaigns.update(updated)
    job_ids = enqueue_publish_jobs(tx, rt, updated, adapted=adapted)
    return updated, job_ids


def _activated(
    tx: Tx, rt: Runtime, campaign: Campaign, with_message: frozenset[str] | None = None
) -> Campaign:
    """The campaign as its launch writes it; the launch metric is emitted once ``tx`` commits.

    ``with_message``: the ids (read in one query for a batch) of the campaigns that
    have a broadcast; None looks this campaign's up.
    """
    now = rt.now()
    updated = attrs.evolve(
        campaign,
        status=next_status(campaign.status, "launch"),
        started_at=campaign.started_at or now,
        paused_reason=None,
        updated_at=now,
        version=campaign.version + 1,
    )
    if with_message is None or campaign.id in with_message:
        start_broadcast(tx, rt, updated)  # a campaign with a message starts its audience snapshot
    tx.after_commit.append(
        lambda: rt.emitter.campaign_launched(
            campaign_type=updated.type.value, owner_id=updated.user_id
        )
    )
    return updated


class ScheduledLaunch(StrEnum):
    """What ``tick()`` did with one due scheduled campaign (see ``launch_scheduled``)."""

    LAUNCHED = "launched"
    #: refused for good (nothing to launch, content a platform rejects, budget spent): back to draft
    RETURNED_TO_DRAFT = "returned_to_draft"
    #: refused by the launch throttle: ``scheduled_for`` moved to when the owner may launch again
    DEFERRED = "deferred"
    #: no longer due when read (another worker took it, or the owner changed it)
    SKIPPED = "skipped"


@attrs.frozen
class ScheduledLaunchResult:
    outcome: ScheduledLaunch
    campaign: Campaign | None = None
    reason: str = ""


def launch_scheduled(
    rt: Runtime, campaign_id: str, throttled: dict[str, datetime]
) -> ScheduledLaunchResult:
    """Launch one due scheduled campaign for ``tick()``, or take it out of the due set.

    Every outcome but SKIPPED is written in one transaction guarded by the
    campaign's version, so when several workers race for a campaign exactly one
    of them launches, returns or defers it (the others get ``ConflictError`` or
    find it no longer due), and only that one alerts and emits metrics. A
    campaign that cannot launch therefore never stays due, and cannot hold back
    the campaigns due after it:

    - refused by ``launch_problems`` (permanent until the owner edits it):
      returned to draft (``scheduled_for`` cleared), the owner gets a
      ``launch_failed`` alert with the problems;
    - refused by the launch throttle (``Settings.rate_limits.launches``):
      stays scheduled with ``scheduled_for`` moved to when the owner's next
      launch is allowed (the limiter's ``retry_after``). ``throttled`` maps
      owners already refused in this tick to that time, so their other
      campaigns are deferred without another attempt.

    A refused attempt emits ``campaign_launch_failed`` once, as a refused
    ``launch_campaign`` does; a campaign deferred without an attempt emits nothing.
    """
    return _launch_scheduled(rt, campaign_id, throttled, None)


def _launch_scheduled(
    rt: Runtime, campaign_id: str, throttled: dict[str, datetime], counted: set[str] | None
) -> ScheduledLaunchResult:
    with rt.transaction() as tx:
        campaign = tx.uow.campaigns.get(campaign_id)
        if campaign is None or not _is_due(rt, campaign):
            return ScheduledLaunchResult(ScheduledLaunch.SKIPPED, campaign)
        result, written, adapted = _decide(tx, rt, campaign, throttled, counted)
        tx.uow.campaigns.update(written)
        if result.outcome is ScheduledLaunch.LAUNCHED:
            enqueue_publish_jobs(tx, rt, written, adapted=adapted)
        return result


def _is_due(rt: Runtime, campaign: Campaign) -> bool:
    return (
        campaign.status is S.SCHEDULED
        and campaign.scheduled_for is not None
        and campaign.scheduled_for <= rt.now()
    )


def _decide(
    tx: Tx,
    rt: Runtime,
    campaign: Campaign,
    throttled: dict[str, datetime],
    counted: set[str] | None = None,
    with_message: frozenset[str] | None = None,
) -> tuple[ScheduledLaunchResult, Campaign, Mapping[str, AdaptationResult]]:
    """What becomes of one due scheduled campaign (see ``launch_scheduled``), and its posts.

    The campaign returned is the record to write (launched, returned to draft
    or deferred; the result's campaign too); its alert, metrics and rate-limit hit go with ``tx``. The
    caller writes the campaign and, for a launch, queues its publish jobs.
    ``counted`` holds the campaigns whose launch the throttle already counted
    outside any transaction (a per-process limiter) in a batch that was rolled
    back: they are not counted twice; the ids counted here are added to it.
    """
    now = rt.now()
    failed = campaign  # the attempt, for the failure metric

    def count_failed_attempt() -> None:
        rt.emitter.campaign_launch_failed(campaign_type=failed.type.value, owner_id=failed.user_id)

    problems, adapted = _launch_check(rt, campaign)
    if problems:
        reason = ValidationError.summary(problems)
        draft = attrs.evolve(
            campaign,
            status=next_status(campaign.status, "unschedule"),
            scheduled_for=None,
            updated_at=now,
            version=campaign.version + 1,
        )
        tx.after_commit.append(count_failed_attempt)
        rt.alert(
            tx,
            Alert(
                kind=AlertKind.LAUNCH_FAILED,
                owner_id=campaign.user_id,
                message=f"'{campaign.name}' could not launch at its scheduled time and was "
                f"returned to draft: {reason}",
                entity="campaign",
                entity_id=campaign.id,
                at=now,
                data={
                    "scheduledFor": None
                    if campaign.scheduled_for is None
                    else format_datetime(campaign.scheduled_for),
                    "problems": [p.to_json() for p in problems],
                },
            ),
        )
        return ScheduledLaunchResult(ScheduledLaunch.RETURNED_TO_DRAFT, draft, reason), draft, {}
    retry_at = throttled.get(campaign.user_id)
    if retry_at is None and (counted is None or campaign.id not in counted):
        try:
            rt.limiter.hit(campaign.user_id, "launches", tx)
            if counted is not None and not rt.settings.rate_limits.shared:
                counted.add(campaign.id)  # kept by the limiter even if tx rolls back
        except RateLimitedError as error:
            wait = timedelta(milliseconds=max(1, math.ceil(error.retry_after * 1000)))
            retry_at = throttled[campaign.user_id] = now + wait
            tx.after_commit.append(count_failed_attempt)
    if retry_at is not None:
        deferred = attrs.evolve(
            campaign, scheduled_for=retry_at, updated_at=now, version=campaign.version + 1
        )
        reason = f"launch limit reached; deferred to {format_datetime(retry_at)}"
        return ScheduledLaunchResult(ScheduledLaunch.DEFERRED, deferred, reason), deferred, {}
    launched = _activated(tx, rt, campaign, with_message)
    return ScheduledLaunchResult(ScheduledLaunch.LAUNCHED, launched), launched, adapted


@attrs.frozen
class DueLaunchRun:
    """What :func:`launch_due_campaigns` did.

    Attributes:
        launched: ids of the scheduled campaigns launched.
        errors: ``(campaign_id, message)`` for each campaign returned to draft,
            deferred by the launch throttle, or whose launch failed.
    """

    launched: tuple[str, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()


def launch_due_campaigns(rt: Runtime, limit: int) -> DueLaunchRun:
    """Launch up to ``limit`` scheduled campaigns whose time has come (for ``tick()``).

    Each campaign has the outcome ``launch_scheduled`` gives it: one that
    cannot launch is returned to draft, one refused by the launch throttle is
    deferred, and neither holds back the campaigns due after it. They are
    written together: one transaction reads the due campaigns and writes every
    outcome in batches (the campaigns, their audit records, their publish
    jobs), a bounded number of statements however many campaigns are due (see
    the performance page). If that transaction fails (another worker changed
    one of the campaigns first, or the store refused a write) nothing of it is
    kept and each campaign goes through ``launch_scheduled`` in its own
    transaction, where a campaign another worker handled first is skipped
    silently.

    Args:
        rt: the runtime.
        limit: how many due campaigns to read.

    Returns:
        The launched ids and the problems to report.
    """
    counted: set[str] = set()
    try:
        with system_action("tick.scheduled_launch"):
            results = _launch_batch(rt, limit, counted)
    except CampaignCoreError as error:
        _log.info("scheduled launches, one at a time after: %s", error)
        return _launch_one_by_one(rt, limit, counted)
    return _run(results)


def _launch_batch(rt: Runtime, limit: int, counted: set[str]) -> list[ScheduledLaunchResult]:
    """Every due campaign's outcome, written in one transaction (see :func:`launch_due_campaigns`)."""
    throttled: dict[str, datetime] = {}
    with rt.transaction() as tx:
        due = _due(tx, rt, limit)
        # which of them have a message to broadcast: one query for the batch
        with_message = (
            frozenset(b.id for b in tx.uow.broadcasts.find(In("id", [c.id for c in due])))
            if due
            else frozenset()
        )
        decided = [_decide(tx, rt, campaign, throttled, counted, with_message) for campaign in due]
        tx.uow.campaigns.update_many([written for _, written, _ in decided])
        enqueue_launch_jobs(
            tx,
            rt,
            [
                (written, adapted)
                for result, written, adapted in decided
                if result.outcome is ScheduledLaunch.LAUNCHED
            ],
        )
    return [result for result, _, _ in decided]


def _due(tx: Tx, rt: Runtime, limit: int) -> list[Campaign]:
    return tx.uow.campaigns.find(
        And(Eq("status", S.SCHEDULED), Lte("scheduled_for", rt.now())),
        order_by=[Order("scheduled_for"), Order("id")],
        limit=limit,
    )


def _launch_one_by_one(rt: Runtime, limit: int, counted: set[str]) -> DueLaunchRun:
    """Each due campaign through ``launch_scheduled``, in its own transaction."""
    with rt.transaction(read_only=True) as tx:
        due = _due(tx, rt, limit)
    throttled: dict[str, datetime] = {}  # owners refused by the launch throttle in this tick
    results: list[ScheduledLaunchResult] = []
    errors: list[tuple[str, str]] = []
    for campaign in due:
        try:
            with system_action("tick.scheduled_launch"):
                results.append(_launch_scheduled(rt, campaign.id, throttled, counted))
        except CampaignCoreError as error:
            # another worker handled it first (conflict), or the store failed: report, move on
            if error.code not in ("conflict", "invalid_transition"):
                errors.append((campaign.id, str(error)))
                _log.warning("scheduled launch of %s failed: %s", campaign.id, error)
    run = _run(results)
    return DueLaunchRun(launched=run.launched, errors=tuple(errors) + run.errors)


def _run(results: Sequence[ScheduledLaunchResult]) -> DueLaunchRun:
    """The launched ids and the problems to report, from the outcomes."""
    launched: list[str] = []
    errors: list[tuple[str, str]] = []
    for result in results:
        if result.campaign is None:
            continue
        campaign_id = result.campaign.id
        if result.outcome is ScheduledLaunch.LAUNCHED:
            launched.append(campaign_id)
        elif result.outcome is ScheduledLaunch.RETURNED_TO_DRAFT:
            message = f"cannot launch, returned to draft: {result.reason}"
            errors.append((campaign_id, message))
            _log.warning("scheduled launch of %s refused: %s", campaign_id, message)
        elif result.outcome is ScheduledLaunch.DEFERRED:
            errors.append((campaign_id, result.reason))
            _log.info("scheduled launch of %s: %s", campaign_id, result.reason)
    return DueLaunchRun(launched=tuple(launched), errors=tuple(errors))
