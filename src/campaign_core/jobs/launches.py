"""Launching campaigns: the one launch check, the launch itself, and tick()'s scheduled launches.

``launch_campaign`` (a service call) and ``tick()`` (for campaigns whose
``scheduled_for`` has come) both go through :func:`launch_problems` and
:func:`activate_campaign`, so what was checked is what is published: the launch's
publish jobs keep the posts its check adapted.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
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
from campaign_core.jobs.publishing import adapt_campaign, enqueue_publish_jobs
from campaign_core.lifecycle import next_status
from campaign_core.models import Campaign, CampaignStatus, StrEnum
from campaign_core.publishing import AdaptationResult
from campaign_core.query import And, Eq, Lte, Order
from campaign_core.serialization import format_datetime

__all__ = [
    "DueLaunchRun",
    "ScheduledLaunch",
    "ScheduledLaunchResult",
    "activate_campaign",
    "launch",
    "launch_due_campaigns",
    "launch_problems",
    "launch_scheduled",
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
    """:func:`launch_problems`, and each platform's adapted post when there are none.

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

    ``tick()`` launches scheduled campaigns with :func:`launch_scheduled` instead.
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

    Args:
        tx: the launch's transaction.
        rt: the runtime.
        campaign: the campaign, checked by :func:`launch_problems`.
        adapted: the posts the check adapted; each job keeps its own.

    Returns:
        The campaign as written and the ids of its open publish jobs.
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
    tx.uow.campaigns.update(updated)
    job_ids = enqueue_publish_jobs(tx, rt, updated, adapted=adapted)
    tx.after_commit.append(
        lambda: rt.emitter.campaign_launched(
            campaign_type=updated.type.value, owner_id=updated.user_id
        )
    )
    return updated, job_ids


class ScheduledLaunch(StrEnum):
    """What ``tick()`` did with one due scheduled campaign (see :func:`launch_scheduled`)."""

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

    - refused by :func:`launch_problems` (permanent until the owner edits it):
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
    now = rt.now()
    with rt.transaction() as tx:
        campaign = tx.uow.campaigns.get(campaign_id)
        if (
            campaign is None
            or campaign.status is not S.SCHEDULED
            or campaign.scheduled_for is None
            or campaign.scheduled_for > now
        ):
            return ScheduledLaunchResult(ScheduledLaunch.SKIPPED, campaign)
        failed = campaign  # the attempt, for the failure metric

        def count_failed_attempt() -> None:
            rt.emitter.campaign_launch_failed(
                campaign_type=failed.type.value, owner_id=failed.user_id
            )

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
            tx.uow.campaigns.update(draft)
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
                        "scheduledFor": format_datetime(campaign.scheduled_for),
                        "problems": [p.to_json() for p in problems],
                    },
                ),
            )
            return ScheduledLaunchResult(ScheduledLaunch.RETURNED_TO_DRAFT, draft, reason)
        retry_at = throttled.get(campaign.user_id)
        if retry_at is None:
            try:
                rt.limiter.hit(campaign.user_id, "launches", tx)
            except RateLimitedError as error:
                wait = timedelta(milliseconds=max(1, math.ceil(error.retry_after * 1000)))
                retry_at = throttled[campaign.user_id] = now + wait
                tx.after_commit.append(count_failed_attempt)
        if retry_at is not None:
            deferred = attrs.evolve(
                campaign, scheduled_for=retry_at, updated_at=now, version=campaign.version + 1
            )
            tx.uow.campaigns.update(deferred)
            reason = f"launch limit reached; deferred to {format_datetime(retry_at)}"
            return ScheduledLaunchResult(ScheduledLaunch.DEFERRED, deferred, reason)
        launched, _ = activate_campaign(tx, rt, campaign, adapted)
        return ScheduledLaunchResult(ScheduledLaunch.LAUNCHED, launched)


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

    Each campaign goes through :func:`launch_scheduled` on its own: one that
    cannot launch is returned to draft, one refused by the launch throttle is
    deferred, and neither holds back the campaigns due after it. A campaign
    another worker handled first is skipped silently.

    Args:
        rt: the runtime.
        limit: how many due campaigns to read.

    Returns:
        The launched ids and the problems to report.
    """
    now = rt.now()
    with rt.transaction() as tx:
        due = tx.uow.campaigns.find(
            And(Eq("status", S.SCHEDULED), Lte("scheduled_for", now)),
            order_by=[Order("scheduled_for"), Order("id")],
            limit=limit,
        )
    throttled: dict[str, datetime] = {}  # owners refused by the launch throttle in this tick
    launched: list[str] = []
    errors: list[tuple[str, str]] = []
    for campaign in due:
        try:
            with system_action("tick.scheduled_launch"):
                result = launch_scheduled(rt, campaign.id, throttled)
        except CampaignCoreError as error:
            # another worker handled it first (conflict), or the store failed: report, move on
            if error.code not in ("conflict", "invalid_transition"):
                errors.append((campaign.id, str(error)))
                _log.warning("scheduled launch of %s failed: %s", campaign.id, error)
            continue
        if result.outcome is ScheduledLaunch.LAUNCHED:
            launched.append(campaign.id)
        elif result.outcome is ScheduledLaunch.RETURNED_TO_DRAFT:
            message = f"cannot launch, returned to draft: {result.reason}"
            errors.append((campaign.id, message))
            _log.warning("scheduled launch of %s refused: %s", campaign.id, message)
        elif result.outcome is ScheduledLaunch.DEFERRED:
            errors.append((campaign.id, result.reason))
            _log.info("scheduled launch of %s: %s", campaign.id, result.reason)
    return DueLaunchRun(launched=tuple(launched), errors=tuple(errors))
