"""Durable publishing: one job per (campaign, platform, content version), retried by tick().

The flow for each job:

1. queued (``pending``) in the same transaction that launches the campaign;
2. leased by one worker (``lease_owner``/``lease_until``, a version-checked write);
3. the :class:`~campaign_core.publishing.Publisher` is called *outside* any
   transaction with the job's idempotency key;
4. the outcome is recorded: ``published``; ``retrying`` with ``next_attempt_at``
   after exponential backoff; or ``failed`` (not retryable, or out of attempts)
   with an alert to the owner.

A crash between 3 and 4 leaves the job leased; when the lease expires a later
``tick()`` calls the publisher again with the same key, and a publisher that
deduplicates on it does not publish twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.alerts import Alert, AlertKind
from campaign_core.errors import ConflictError, ValidationError
from campaign_core.models import Campaign, CampaignStatus, PublishJob, PublishStatus
from campaign_core.publishing import (
    AdaptationResult,
    PublishFailure,
    PublishOutcome,
    PublishRequest,
    PublishSuccess,
    adapt_for_platform,
    adapt_for_platforms,
    call_publisher,
)
from campaign_core.query import And, Eq, In, IsNull, Lte, Or, Order

__all__ = [
    "PlatformPublishResult",
    "cancel_pending_jobs",
    "enqueue_publish_jobs",
    "platform_content",
    "process_due_publish_jobs",
    "run_publish_jobs",
]

_log = logging.getLogger("campaign_core.publishing")
_OPEN = (PublishStatus.PENDING, PublishStatus.RETRYING)


@attrs.frozen
class PlatformPublishResult:
    """One platform's publishing state after a launch or publish call."""

    platform: str
    status: str
    attempts: int
    external_id: str | None = None
    url: str | None = None
    error: str | None = None
    next_attempt_at: Any = None

    @classmethod
    def of(cls, job: PublishJob) -> PlatformPublishResult:
        return cls(
            platform=job.platform.value,
            status=job.status.value,
            attempts=job.attempts,
            external_id=job.external_id,
            url=job.url,
            error=job.last_error,
            next_attempt_at=job.next_attempt_at,
        )


def platform_content(rt: Runtime, campaign: Campaign, platform: str) -> AdaptationResult:
    """The campaign's content adapted for one platform (resolve, adapt, validate).

    Raises:
        ValidationError: the content cannot fit the platform's limits.
    """
    return adapt_for_platform(
        campaign.content,
        platform,
        media_urls=campaign.media_urls,
        rules=rt.settings.platform_rules,
        generator=rt.content,
        campaign_type=campaign.type.value,
    )


def adapt_campaign(
    rt: Runtime, campaign: Campaign, platforms: Sequence[Any] = ()
) -> dict[str, AdaptationResult]:
    """Every target platform's adapted content; raises one ValidationError for all problems."""
    names = [getattr(p, "value", p) for p in (platforms or campaign.platforms)]
    return adapt_for_platforms(
        campaign.content,
        names,
        media_urls=campaign.media_urls,
        rules=rt.settings.platform_rules,
        generator=rt.content,
        campaign_type=campaign.type.value,
    )


def enqueue_publish_jobs(
    tx: Tx, rt: Runtime, campaign: Campaign, platforms: Sequence[Any] = ()
) -> list[str]:
    """Queue one job per platform for the campaign's current content version.

    A platform already queued (or published) for this content version is not
    queued again: the idempotency key is unique. Returns the ids of the jobs
    that are open (new or still pending).
    """
    now = rt.now()
    job_ids: list[str] = []
    for platform in platforms or campaign.platforms:
        key = f"{campaign.id}:{platform.value if hasattr(platform, 'value') else platform}:v{campaign.content_version}"
        existing = tx.uow.publish_jobs.find(Eq("idempotency_key", key), limit=1)
        if existing:
            if existing[0].status in _OPEN:
                job_ids.append(existing[0].id)
            continue
        job = PublishJob(
            id=rt.ids.new_id("publish"),
            campaign_id=campaign.id,
            owner_id=campaign.user_id,
            platform=platform,
            content_version=campaign.content_version,
            idempotency_key=key,
            created_at=now,
            updated_at=now,
        )
        tx.uow.publish_jobs.add(job)
        job_ids.append(job.id)
    return job_ids


def cancel_pending_jobs(tx: Tx, rt: Runtime, campaign_id: str) -> int:
    """Stop every open job of a campaign (it was cancelled or completed)."""
    jobs = tx.uow.publish_jobs.find(And(Eq("campaign_id", campaign_id), In("status", _OPEN)))
    now = rt.now()
    for job in jobs:
        tx.uow.publish_jobs.update(
            attrs.evolve(
                job,
                status=PublishStatus.CANCELLED,
                last_error="campaign no longer running",
                lease_owner=None,
                lease_until=None,
                updated_at=now,
                version=job.version + 1,
            )
        )
    return len(jobs)


def _lease(rt: Runtime, job_id: str) -> PublishJob | None:
    """Take the lease on one job if it is open and free; None if not ours to run."""
    now = rt.now()
    try:
        with rt.transaction() as tx:
            job = tx.uow.publish_jobs.get(job_id)
            if job is None or job.status not in _OPEN:
                return None
            if (
                job.lease_until is not None
                and job.lease_until > now
                and job.lease_owner != rt.worker_id
            ):
                return None
            leased = attrs.evolve(
                job,
                lease_owner=rt.worker_id,
                lease_until=now + rt.settings.lease_duration,
                version=job.version + 1,
            )
            tx.uow.publish_jobs.update(leased)
            return leased
    except ConflictError:
        return None


def _attempt(rt: Runtime, job: PublishJob) -> PublishJob:
    """Publish a leased job once and record the outcome."""
    with rt.transaction() as tx:
        campaign = tx.uow.campaigns.get(job.campaign_id)
    now = rt.now()
    if campaign is None or campaign.status in (CampaignStatus.CANCELLED, CampaignStatus.COMPLETED):
        return _record(rt, job, status=PublishStatus.CANCELLED, error="campaign no longer running")
    if campaign.status is CampaignStatus.PAUSED:
        # a paused campaign publishes nothing; look again later without spending an attempt
        return _record(
            rt,
            job,
            status=PublishStatus.RETRYING,
            next_attempt_at=now + rt.settings.publish_retry.base,
            count_attempt=False,
            error="campaign paused",
        )
    try:
        adapted = platform_content(rt, campaign, job.platform.value)
    except ValidationError as error:
        # the limits changed since launch and the content no longer fits: retrying cannot help
        outcome: PublishOutcome = PublishFailure(
            reason=f"content does not fit: {error}", retryable=False
        )
    else:
        credential = None
        if rt.cipher is not None:
            from campaign_core.services.credentials import (
                open_credential,
            )  # services import this module

            with rt.transaction() as tx:
                credential = open_credential(rt, tx, campaign.user_id, job.platform.value)
        request = PublishRequest(
            credential=credential,
            campaign_id=campaign.id,
            owner_id=campaign.user_id,
            platform=job.platform.value,
            content=adapted.content,
            media_urls=tuple(adapted.media_urls),
            idempotency_key=job.idempotency_key,
            attempt=job.attempts + 1,
        )
        outcome = call_publisher(rt.publisher, request)
    decision = rt.settings.publish_retry.decide(
        outcome, attempt=job.attempts + 1, key=job.idempotency_key, now=rt.now()
    )
    if isinstance(outcome, PublishSuccess):
        return _record(
            rt,
            job,
            status=PublishStatus.PUBLISHED,
            external_id=outcome.external_id,
            url=outcome.url,
        )
    if decision.retry:
        return _record(
            rt,
            job,
            status=PublishStatus.RETRYING,
            next_attempt_at=decision.next_attempt_at,
            error=outcome.reason,
        )
    final = _record(rt, job, status=PublishStatus.FAILED, error=outcome.reason)
    rt.alerter.alert(
        Alert(
            kind=AlertKind.PUBLISH_FAILED,
            owner_id=job.owner_id,
            message=f"publishing '{campaign.name}' to {job.platform.value} failed after "
            f"{final.attempts} attempt(s): {outcome.reason}",
            entity="campaign",
            entity_id=campaign.id,
            at=now,
            data={
                "platform": job.platform.value,
                "attempts": final.attempts,
                "reason": decision.reason,
            },
        )
    )
    with rt.transaction() as tx:
        failed_here = tx.uow.publish_jobs.count(
            And(
                Eq("campaign_id", job.campaign_id),
                Eq("content_version", job.content_version),
                Eq("status", PublishStatus.FAILED),
            )
        )
    if failed_here == 1:  # the launch failed once, however many of its platforms did
        rt.emitter.campaign_publishing_failed(
            campaign_type=campaign.type.value, owner_id=campaign.user_id
        )
    return final


def _record(
    rt: Runtime,
    job: PublishJob,
    *,
    status: PublishStatus,
    error: str | None = None,
    external_id: str | None = None,
    url: str | None = None,
    next_attempt_at: Any = None,
    count_attempt: bool = True,
) -> PublishJob:
    with rt.transaction() as tx:
        current = tx.uow.publish_jobs.get(job.id)
        if current is None or current.lease_owner != rt.worker_id:
            # our lease expired and someone else took the job: theirs is the record
            return current or job
        done = attrs.evolve(
            current,
            status=status,
            attempts=current.attempts + (1 if count_attempt else 0),
            last_error=error,
            external_id=external_id or current.external_id,
            url=url or current.url,
            next_attempt_at=next_attempt_at,
            lease_owner=None,
            lease_until=None,
            updated_at=rt.now(),
            version=current.version + 1,
        )
        tx.uow.publish_jobs.update(done)
    if count_attempt:
        rt.emitter.publish_attempted(
            platform=job.platform.value,
            success=status is PublishStatus.PUBLISHED,
            owner_id=job.owner_id,
        )
    return done


def run_publish_jobs(rt: Runtime, job_ids: Sequence[str]) -> list[PlatformPublishResult]:
    """Try each job now (if open and not held by another worker); report every job's state."""
    results = []
    for job_id in job_ids:
        leased = _lease(rt, job_id)
        if leased is not None:
            results.append(PlatformPublishResult.of(_attempt(rt, leased)))
            continue
        with rt.transaction() as tx:
            job = tx.uow.publish_jobs.get(job_id)
        if job is not None:
            results.append(PlatformPublishResult.of(job))
    return results


def process_due_publish_jobs(rt: Runtime, limit: int) -> list[PublishJob]:
    """Claim and run up to ``limit`` due jobs (first tries and retries); for ``tick()``."""
    now = rt.now()
    with rt.transaction() as tx:
        claimed = tx.uow.publish_jobs.claim(
            And(In("status", _OPEN), Or(IsNull("next_attempt_at"), Lte("next_attempt_at", now))),
            order_by=[Order("next_attempt_at"), Order("id")],
            limit=limit,
            owner=rt.worker_id,
            until=now + rt.settings.lease_duration,
            now=now,
        )
    return [_attempt(rt, job) for job in claimed]
