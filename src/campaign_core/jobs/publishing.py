"""Durable publishing: one job per (campaign, platform, content version), retried by tick().

The flow for each job:

1. queued (``pending``) in the same transaction that launches the campaign,
   keeping the post the launch's check adapted (``adapted_content``);
2. leased by one worker (``lease_owner``/``lease_until``, a version-checked write);
3. the :class:`~campaign_core.publishing.Publisher` is called *outside* any
   transaction with the job's idempotency key and its kept post (a job queued
   without one adapts and keeps it first; one of an older content version is
   cancelled and its platform queued for the current version);
4. the outcome is recorded: ``published``; ``retrying`` with ``next_attempt_at``
   after exponential backoff; or ``failed`` (not retryable, or out of attempts)
   with an alert to the owner.

A problem of one job never stops the others: a credential that cannot be
opened (sealed with a key the core does not have, or no keys configured at
all) is a configuration error: the job waits without spending an attempt
(rechecked every ``Settings.credential_recheck``, and at once when the owner
sets the credential again), the owner is alerted once and every tick reports it
in ``TickReport.errors``, and it publishes once the keys are fixed. Any other
exception while trying a job is logged, recorded as a failed attempt with
backoff and reported, and the next job runs.

A crash between 3 and 4 leaves the job leased; when the lease expires a later
``tick()`` calls the publisher again with the same key, and a publisher that
deduplicates on it does not publish twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.alerts import Alert, AlertKind
from campaign_core.errors import ConflictError, ValidationError
from campaign_core.jobs.credentials import CredentialWait, credential_wait, open_credential
from campaign_core.models import Campaign, CampaignStatus, PublishJob, PublishStatus
from campaign_core.publishing import (
    AdaptationResult,
    CredentialError,
    PublishFailure,
    PublishOutcome,
    PublishRequest,
    PublishSuccess,
    adapt_for_platform,
    adapt_for_platforms,
    call_publisher,
    validate_platform_content,
)
from campaign_core.query import And, Eq, In, IsNull, Lte, Or, Order

__all__ = [
    "DuePublishRun",
    "PlatformPublishResult",
    "cancel_pending_jobs",
    "enqueue_publish_jobs",
    "platform_content",
    "process_due_publish_jobs",
    "run_publish_jobs",
]

_log = logging.getLogger("campaign_core.publishing")
_OPEN = (PublishStatus.PENDING, PublishStatus.RETRYING)
_MAX_ERROR = 500


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
            platform=str(job.platform),
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
    tx: Tx,
    rt: Runtime,
    campaign: Campaign,
    platforms: Sequence[Any] = (),
    *,
    adapted: Mapping[str, AdaptationResult] | None = None,
) -> list[str]:
    """Queue one job per platform for the campaign's current content version.

    A platform already queued (or published) for this content version is not
    queued again: the idempotency key is unique. A new job keeps its
    platform's post from ``adapted`` (what the launch checked); without one,
    its first attempt adapts it. Returns the ids of the jobs that are open
    (new or still pending).
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
        post = (adapted or {}).get(getattr(platform, "value", platform))
        job = PublishJob(
            id=rt.ids.new_id("publish"),
            campaign_id=campaign.id,
            owner_id=campaign.user_id,
            platform=platform,
            content_version=campaign.content_version,
            idempotency_key=key,
            created_at=now,
            updated_at=now,
            adapted_content=None if post is None else _kept(post),
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


def _lease(rt: Runtime, job_id: str, *, force: bool = False) -> PublishJob | None:
    """Take the lease on one job if it is open, due and free; None if not ours to run now.

    A job waiting for its backoff (``next_attempt_at`` in the future) is not
    due; ``force`` takes it anyway (a retry the caller asked for explicitly).
    """
    now = rt.now()
    try:
        with rt.transaction() as tx:
            job = tx.uow.publish_jobs.get(job_id)
            if job is None or job.status not in _OPEN:
                return None
            if not force and job.next_attempt_at is not None and job.next_attempt_at > now:
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


def _attempt(rt: Runtime, job: PublishJob) -> tuple[PublishJob, str | None]:
    """Publish a leased job once and record the outcome.

    Returns the job as recorded and, when it waits for a configuration fix
    (credentials the keys cannot open), what to report.
    """
    with rt.transaction() as tx:
        campaign = tx.uow.campaigns.get(job.campaign_id)
    now = rt.now()
    if campaign is None or campaign.status in (CampaignStatus.CANCELLED, CampaignStatus.COMPLETED):
        done = _record(rt, job, status=PublishStatus.CANCELLED, error="campaign no longer running")
        return done, None
    if campaign.status is CampaignStatus.PAUSED:
        # a paused campaign publishes nothing; look again later without spending an attempt
        done = _record(
            rt,
            job,
            status=PublishStatus.RETRYING,
            next_attempt_at=now + rt.settings.publish_retry.base,
            count_attempt=False,
            error="campaign paused",
        )
        return done, None
    if job.content_version != campaign.content_version:
        return _supersede(rt, job, campaign), None
    outcome = _publish_once(rt, job, campaign)
    if outcome is None:  # another attempt moved the job on: theirs is the record
        with rt.transaction() as tx:
            return tx.uow.publish_jobs.get(job.id) or job, None
    if isinstance(outcome, CredentialWait):
        return _wait_for_credentials(rt, job, campaign, outcome)
    return _conclude(rt, job, campaign, outcome), None


def _supersede(rt: Runtime, job: PublishJob, campaign: Campaign) -> PublishJob:
    """Cancel an open job of an older content version and queue its platform's current one.

    The campaign's content changed (paused and edited, or an A/B winner
    applied) before this platform was published: the platform gets the
    current content under the current version's key, in the same transaction.
    No attempt is counted.
    """
    return _write(
        rt,
        job,
        status=PublishStatus.CANCELLED,
        error=f"superseded by content version {campaign.content_version}",
        count_attempt=False,
        then=lambda tx: enqueue_publish_jobs(tx, rt, campaign, [job.platform]),
    )[0]


def _kept(post: AdaptationResult) -> dict[str, Any]:
    """What a publish job keeps of an adapted post."""
    return {"content": dict(post.content), "mediaUrls": list(post.media_urls)}


def _fits(rt: Runtime, post: Any, platform: str, campaign: Campaign) -> bool:
    """Whether a kept post is well formed and fits the platform's limits in force."""
    if not (
        isinstance(post, dict)
        and isinstance(post.get("content"), dict)
        and isinstance(post.get("mediaUrls"), list)
    ):
        return False  # not what this engine keeps (edited by hand, say)
    try:
        validate_platform_content(
            post["content"],
            platform,
            rt.settings.platform_rules[platform],
            media_urls=post["mediaUrls"],
            campaign_type=campaign.type.value,
        )
    except ValidationError:
        return False
    return True


def _pinned_content(rt: Runtime, job: PublishJob, campaign: Campaign) -> Any:
    """The post this job sends on every attempt: adapted once, kept on the job.

    A launch's jobs keep the posts its check adapted; a job queued without
    one (``publish_to_platforms``) adapts on its first attempt and keeps the
    post before the publisher is called. Either way a retry after a lost
    answer sends the same post under the same idempotency key, though the
    host's generator may word things differently each time. A kept post that
    no longer fits the limits in force (they changed since) is adapted again
    and kept in its place: a platform that has the first one refuses or
    deduplicates the request either way.

    Returns:
        ``{"content": ..., "mediaUrls": [...]}`` as stored (what every attempt
        sends, down to key order); a :class:`PublishFailure` (not retryable)
        if the content cannot fit; None if the job is no longer this attempt's.
    """
    platform = str(job.platform)
    if job.adapted_content is not None and _fits(rt, job.adapted_content, platform, campaign):
        return job.adapted_content
    try:
        post = _kept(platform_content(rt, campaign, platform))
    except ValidationError as error:
        # the content cannot fit the platform's limits in force: retrying cannot help
        return PublishFailure(
            reason=f"content does not fit: {error}", retryable=False, code="content_does_not_fit"
        )
    try:
        with rt.transaction() as tx:
            current = tx.uow.publish_jobs.get(job.id)
            if (
                current is None
                or current.lease_owner != rt.worker_id
                or current.version != job.version
            ):
                return None  # another attempt moved the job on (and may have kept a post)
            tx.uow.publish_jobs.update(
                attrs.evolve(
                    current, adapted_content=post, updated_at=rt.now(), version=current.version + 1
                )
            )
            stored = tx.uow.publish_jobs.get(job.id)
    except ConflictError:
        return None
    return post if stored is None else stored.adapted_content


def _publish_once(
    rt: Runtime, job: PublishJob, campaign: Campaign
) -> PublishOutcome | CredentialWait | None:
    """Adapt the content (once per job), open the credential and call the publisher.

    None: the job is no longer this worker's (nothing was called). A
    :class:`CredentialWait`: the stored credential cannot be opened with the
    configured keys (nothing was called).
    """
    pinned = _pinned_content(rt, job, campaign)
    if pinned is None or isinstance(pinned, PublishFailure):
        return pinned
    try:
        with rt.transaction() as tx:
            credential = open_credential(rt, tx, campaign.user_id, str(job.platform))
    except CredentialError as error:
        # a configuration error: the same keys fail the same way until the host fixes them
        wait = credential_wait(str(job.platform), error)
        _log.warning("publishing %s to %s: %s", campaign.id, str(job.platform), wait.reason)
        return wait
    request = PublishRequest(
        credential=credential,
        campaign_id=campaign.id,
        owner_id=campaign.user_id,
        platform=str(job.platform),
        content=pinned["content"],
        media_urls=tuple(pinned["mediaUrls"]),
        idempotency_key=job.idempotency_key,
        attempt=job.attempts + 1,
    )
    return call_publisher(rt.publisher, request)


def _wait_for_credentials(
    rt: Runtime, job: PublishJob, campaign: Campaign, wait: CredentialWait
) -> tuple[PublishJob, str | None]:
    """Put the job back to wait for usable credentials; alert the owner when it starts waiting.

    No attempt is spent and the publisher is not called. The owner is alerted
    once per cause (not on every recheck); the tick reports every recheck.
    """
    now = rt.now()
    done, wrote = _write(
        rt,
        job,
        status=PublishStatus.RETRYING,
        error=wait.reason,
        next_attempt_at=now + rt.settings.credential_recheck,
        count_attempt=False,
    )
    if not wrote:
        return done, None  # another worker holds the job now: it reports
    platform = str(job.platform)
    if job.last_error != wait.reason:
        rt.alerter.alert(
            Alert(
                kind=AlertKind.CREDENTIALS_UNUSABLE,
                owner_id=job.owner_id,
                message=f"publishing '{campaign.name}' to {platform} waits for a configuration "
                f"fix: {wait.reason}",
                entity="campaign",
                entity_id=job.campaign_id,
                at=now,
                data={"platform": platform, "code": wait.code},
            )
        )
    return done, f"{platform}: {wait.reason}"


def _conclude(
    rt: Runtime, job: PublishJob, campaign: Campaign | None, outcome: PublishOutcome
) -> PublishJob:
    """Record an attempt's outcome: published, retrying after backoff, or failed with an alert."""
    now = rt.now()
    decision = rt.settings.publish_retry.decide(
        outcome, attempt=job.attempts + 1, key=job.idempotency_key, now=now
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
    final, wrote = _write(rt, job, status=PublishStatus.FAILED, error=outcome.reason)
    if not wrote:
        return final  # another worker holds the job now: it reports the outcome
    if campaign is None:
        with rt.transaction() as tx:
            campaign = tx.uow.campaigns.get(job.campaign_id)
    name = f"'{campaign.name}'" if campaign is not None else f"campaign {job.campaign_id}"
    rt.alerter.alert(
        Alert(
            kind=AlertKind.PUBLISH_FAILED,
            owner_id=job.owner_id,
            message=f"publishing {name} to {job.platform!s} failed after "
            f"{final.attempts} attempt(s): {outcome.reason}",
            entity="campaign",
            entity_id=job.campaign_id,
            at=now,
            data={
                "platform": str(job.platform),
                "attempts": final.attempts,
                "reason": decision.reason,
                "code": outcome.code,
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
    # the launch failed once, however many of its platforms did
    if failed_here == 1 and campaign is not None:
        rt.emitter.campaign_publishing_failed(
            campaign_type=campaign.type.value, owner_id=campaign.user_id
        )
    return final


def _attempt_isolated(rt: Runtime, job: PublishJob) -> tuple[PublishJob | None, str | None]:
    """:func:`_attempt`, but an unexpected exception stays with this job.

    The exception is logged and counted as a failed, retryable attempt (with
    backoff, or the job fails once out of attempts). Returns the job as
    recorded (None when even that could not be written: the lease then expires
    and a later tick tries again) and what to report: the error's description,
    or why the job waits for credentials (None if nothing).
    """
    try:
        return _attempt(rt, job)
    except Exception as error:  # one job's bug or outage must not stop the others
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        message = message[:_MAX_ERROR]
        _log.exception(
            "publishing campaign %s to %s failed unexpectedly", job.campaign_id, str(job.platform)
        )
    try:
        with rt.transaction() as tx:
            current = tx.uow.publish_jobs.get(job.id)
        if current is None or current.status not in _OPEN or current.lease_owner != rt.worker_id:
            return current, message  # recorded before the error, or not ours any more
        failure = PublishFailure(
            reason=f"unexpected error: {message}", retryable=True, code="internal_error"
        )
        return _conclude(rt, current, None, failure), message
    except Exception:
        _log.exception("could not record the failed attempt of publish job %s", job.id)
        return None, message


def _record(rt: Runtime, job: PublishJob, **fields: Any) -> PublishJob:
    """Record an attempt's outcome (see :func:`_write`); the job as it stands."""
    return _write(rt, job, **fields)[0]


def _write(
    rt: Runtime,
    job: PublishJob,
    *,
    status: PublishStatus,
    error: str | None = None,
    external_id: str | None = None,
    url: str | None = None,
    next_attempt_at: Any = None,
    count_attempt: bool = True,
    then: Callable[[Tx], Any] | None = None,
) -> tuple[PublishJob, bool]:
    """Record an attempt's outcome if we still hold the lease; the job and whether we wrote.

    ``then`` runs in the same transaction, after the write.
    """
    with rt.transaction() as tx:
        current = tx.uow.publish_jobs.get(job.id)
        if current is None or current.lease_owner != rt.worker_id:
            # our lease expired and someone else took the job: theirs is the record
            return current or job, False
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
        if then is not None:
            then(tx)
    if count_attempt:
        rt.emitter.publish_attempted(
            platform=str(job.platform),
            success=status is PublishStatus.PUBLISHED,
            owner_id=job.owner_id,
        )
    return done, True


def run_publish_jobs(
    rt: Runtime, job_ids: Sequence[str], *, force: bool = False
) -> list[PlatformPublishResult]:
    """Try each job now if it is open, due (or ``force``) and not held by another worker.

    Reports every job's state. A job that fails unexpectedly does not stop the
    others: its result's ``error`` says what happened.
    """
    results = []
    for job_id in job_ids:
        failed: str | None = None
        leased = _lease(rt, job_id, force=force)
        if leased is not None:
            done, failed = _attempt_isolated(rt, leased)
            if done is not None:
                results.append(PlatformPublishResult.of(done))
                continue
        with rt.transaction() as tx:
            job = tx.uow.publish_jobs.get(job_id)
        if job is not None:
            result = PlatformPublishResult.of(job)
            if failed is not None:  # the failed attempt could not even be recorded
                result = attrs.evolve(result, error=f"unexpected error: {failed}")
            results.append(result)
    return results


@attrs.frozen
class DuePublishRun:
    """What :func:`process_due_publish_jobs` did.

    Attributes:
        jobs: the jobs tried, as recorded.
        errors: ``(campaign_id, message)`` for each job that failed unexpectedly
            (recorded as a failed attempt with backoff where possible) or waits
            for usable credentials.
    """

    jobs: tuple[PublishJob, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()


def process_due_publish_jobs(rt: Runtime, limit: int) -> DuePublishRun:
    """Claim and run up to ``limit`` due jobs (first tries and retries); for ``tick()``.

    Each job is tried on its own: an unexpected exception in one is reported
    in ``errors`` and the others still run.
    """
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
    jobs: list[PublishJob] = []
    errors: list[tuple[str, str]] = []
    for job in claimed:
        done, failed = _attempt_isolated(rt, job)
        jobs.append(done if done is not None else job)
        if failed is not None:
            errors.append((job.campaign_id, f"{job.platform!s}: {failed}"))
    return DuePublishRun(jobs=tuple(jobs), errors=tuple(errors))
