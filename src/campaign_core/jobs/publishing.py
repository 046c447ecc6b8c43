"""Durable publishing: one job per (campaign, platform, content version), retried by tick().

The flow for each job:

1. queued (``pending``) in the same transaction that launches the campaign,
   keeping the post the launch's check adapted (``adapted_content``);
2. leased by one worker (``lease_owner``/``lease_until``, a version-checked write);
3. the :class:`~campaign_core.ports.Publisher` is called *outside* any
   transaction with the job's idempotency key and its kept post (a job queued
   without one adapts and keeps it first; one of an older content version is
   cancelled and its platform queued for the current version);
4. the outcome is recorded: ``published``; ``retrying`` with ``next_attempt_at``
   after exponential backoff; or ``failed`` (not retryable, or out of attempts)
   with an alert to the owner. In ``tick()`` the outcomes of one claim are
   written in one transaction once the claim's jobs were tried (or half the
   lease has passed); a failure, a credential wait and a superseded version
   are written at once.

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
from contextvars import ContextVar
from typing import Any

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.alerts import Alert, AlertKind
from campaign_core.errors import ConflictError, NotFoundError, ValidationError
from campaign_core.jobs.credentials import (
    CredentialWait,
    credential_wait,
    open_credential,
    open_found,
)
from campaign_core.models import (
    Campaign,
    CampaignStatus,
    PlatformCredentialRecord,
    PublishJob,
    PublishStatus,
)
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
    "process_due_publish_jobs",
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
    return enqueue_launch_jobs(tx, rt, [(campaign, adapted or {})], platforms)[0]


def enqueue_launch_jobs(
    tx: Tx,
    rt: Runtime,
    launches: Sequence[tuple[Campaign, Mapping[str, AdaptationResult]]],
    platforms: Sequence[Any] = (),
) -> list[list[str]]:
    """:func:`enqueue_publish_jobs` for several campaigns at once, in batches.

    The jobs already queued are looked up with one query per 500 idempotency
    keys and the new ones are added in one batch, however many campaigns.

    Args:
        tx: the transaction.
        rt: the runtime.
        launches: each campaign with the posts its launch check adapted.
        platforms: the platforms to queue (default: each campaign's own).

    Returns:
        Each campaign's open job ids, in the order of ``launches``.
    """
    now = rt.now()
    wanted: list[tuple[Campaign, str, Any, str]] = []  # campaign, platform name, platform, key
    for campaign, _ in launches:
        for platform in platforms or campaign.platforms:
            name = str(getattr(platform, "value", platform))
            key = f"{campaign.id}:{name}:v{campaign.content_version}"
            wanted.append((campaign, name, platform, key))
    keys = [key for *_, key in wanted]
    existing: dict[str, PublishJob] = {}
    for start in range(0, len(keys), 500):  # within every database's parameter limit
        chunk = keys[start : start + 500]
        where = Eq("idempotency_key", chunk[0]) if len(chunk) == 1 else In("idempotency_key", chunk)
        existing.update({job.idempotency_key: job for job in tx.uow.publish_jobs.find(where)})
    posts = {campaign.id: adapted for campaign, adapted in launches}
    open_ids: dict[str, list[str]] = {campaign.id: [] for campaign, _ in launches}
    new: list[PublishJob] = []
    for campaign, name, platform, key in wanted:
        found = existing.get(key)
        if found is not None:
            if found.status in _OPEN:
                open_ids[campaign.id].append(found.id)
            continue
        post = posts[campaign.id].get(name)
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
        existing[key] = job  # a platform named twice is queued once
        new.append(job)
        open_ids[campaign.id].append(job.id)
    tx.uow.publish_jobs.add_many(new)
    return [open_ids[campaign.id] for campaign, _ in launches]


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


@attrs.frozen
class _Prefetched:
    """What the jobs claimed together need, read with the claim (one query each)."""

    campaigns: Mapping[str, Campaign]
    credentials: Mapping[tuple[str, str], PlatformCredentialRecord]  # (owner, platform) ->


def _prefetch(tx: Tx, jobs: Sequence[PublishJob]) -> _Prefetched:
    """The campaigns and stored credentials of ``jobs``, a query per 500 of each."""
    campaign_ids = sorted({job.campaign_id for job in jobs})
    owners = sorted({job.owner_id for job in jobs})
    campaigns: dict[str, Campaign] = {}
    credentials: dict[tuple[str, str], PlatformCredentialRecord] = {}
    for start in range(0, len(campaign_ids), 500):  # within every database's parameter limit
        found = tx.uow.campaigns.find(In("id", campaign_ids[start : start + 500]))
        campaigns.update({campaign.id: campaign for campaign in found})
    for start in range(0, len(owners), 500):
        stored = tx.uow.credentials.find(
            In("owner_id", owners[start : start + 500]), order_by=[Order("id")]
        )
        for credential in stored:
            credentials.setdefault((credential.owner_id, str(credential.platform)), credential)
    return _Prefetched(campaigns=campaigns, credentials=credentials)


def _attempt(
    rt: Runtime, job: PublishJob, prefetched: _Prefetched | None = None
) -> tuple[PublishJob, str | None]:
    """Publish a leased job once and record the outcome.

    ``prefetched`` holds the job's campaign and credential as read with its
    claim; without it they are read here.

    Returns the job as recorded and, when it waits for a configuration fix
    (credentials the keys cannot open), what to report.
    """
    if prefetched is not None:
        campaign = prefetched.campaigns.get(job.campaign_id)
    else:
        with rt.transaction(read_only=True) as tx:
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
    outcome = _publish_once(rt, job, campaign, prefetched)
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
        _Outcome(
            status=PublishStatus.CANCELLED,
            error=f"superseded by content version {campaign.content_version}",
            count_attempt=False,
            then=lambda tx: enqueue_publish_jobs(tx, rt, campaign, [job.platform]),
        ),
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
    rt: Runtime, job: PublishJob, campaign: Campaign, prefetched: _Prefetched | None = None
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
        if prefetched is not None:
            credential = open_found(rt, prefetched.credentials, campaign.user_id, str(job.platform))
        else:
            with rt.transaction(read_only=True) as tx:
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
        _Outcome(
            status=PublishStatus.RETRYING,
            error=wait.reason,
            next_attempt_at=now + rt.settings.credential_recheck,
            count_attempt=False,
        ),
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
    final, wrote = _write(rt, job, _Outcome(status=PublishStatus.FAILED, error=outcome.reason))
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


def _attempt_isolated(
    rt: Runtime, job: PublishJob, prefetched: _Prefetched | None = None
) -> tuple[PublishJob | None, str | None]:
    """:func:`_attempt`, but an unexpected exception stays with this job.

    The exception is logged and counted as a failed, retryable attempt (with
    backoff, or the job fails once out of attempts). Returns the job as
    recorded (None when even that could not be written: the lease then expires
    and a later tick tries again) and what to report: the error's description,
    or why the job waits for credentials (None if nothing).
    """
    try:
        return _attempt(rt, job, prefetched)
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
    """Record an attempt's outcome (see :func:`_write`); the job as it stands.

    Inside :func:`process_due_publish_jobs` a leased job's outcome waits to be
    written with the others of its claim (see :class:`_Outcomes`).
    """
    outcome = _Outcome(**fields)
    pending = _PENDING.get()
    if pending is not None and job.lease_owner == rt.worker_id and outcome.then is None:
        return pending.add(job, outcome)
    return _write(rt, job, outcome)[0]


@attrs.frozen
class _Outcome:
    """What an attempt writes on its job (see :func:`_write`)."""

    status: PublishStatus
    error: str | None = None
    external_id: str | None = None
    url: str | None = None
    next_attempt_at: Any = None
    count_attempt: bool = True
    then: Callable[[Tx], Any] | None = None

    def on(self, rt: Runtime, current: PublishJob) -> PublishJob:
        """``current`` with this outcome recorded and the lease given back."""
        return attrs.evolve(
            current,
            status=self.status,
            attempts=current.attempts + (1 if self.count_attempt else 0),
            last_error=self.error,
            external_id=self.external_id or current.external_id,
            url=self.url or current.url,
            next_attempt_at=self.next_attempt_at,
            lease_owner=None,
            lease_until=None,
            updated_at=rt.now(),
            version=current.version + 1,
        )

    def emit(self, rt: Runtime, job: PublishJob) -> None:
        """The attempt's metric, once written."""
        if self.count_attempt:
            rt.emitter.publish_attempted(
                platform=str(job.platform),
                success=self.status is PublishStatus.PUBLISHED,
                owner_id=job.owner_id,
            )


def _write(rt: Runtime, job: PublishJob, outcome: _Outcome) -> tuple[PublishJob, bool]:
    """Record an attempt's outcome if we still hold the lease; the job and whether we wrote.

    ``job`` as this worker leased it is written at once: the write is
    version-checked, so it succeeds only if the job is still as leased. If
    not (the lease expired and another worker moved it on, or this attempt
    kept a post on it), the job is read and written as it stands.
    ``outcome.then`` runs in the same transaction, after the write.
    """
    with rt.transaction() as tx:
        done = _write_in(tx, rt, job, outcome)
        if done is None:
            # our lease expired and someone else took the job: theirs is the record
            return tx.uow.publish_jobs.get(job.id) or job, False
        if outcome.then is not None:
            outcome.then(tx)
    outcome.emit(rt, job)
    return done, True


def _write_in(tx: Tx, rt: Runtime, job: PublishJob, outcome: _Outcome) -> PublishJob | None:
    """:func:`_write` inside ``tx``: the job as written, or None if it is not ours any more."""
    if job.lease_owner == rt.worker_id:
        leased = outcome.on(rt, job)
        try:
            tx.uow.publish_jobs.update(leased)
        except (ConflictError, NotFoundError):
            pass
        else:
            return leased
    current = tx.uow.publish_jobs.get(job.id)
    if current is None or current.lease_owner != rt.worker_id:
        return None
    done = outcome.on(rt, current)
    tx.uow.publish_jobs.update(done)
    return done


class _Outcomes:
    """The outcomes of a claim's attempts, written together in one transaction.

    Each job's attempt is recorded here instead of in a transaction (and, on
    SQLite, a commit to disk) of its own; :meth:`flush` writes them in one
    batch, at the end of the claim or as soon as half the lease has passed
    (so every outcome is written while the lease holds). A crash before the
    flush leaves the jobs leased, as a crash between the publisher's answer
    and its record always could: when the lease expires a later ``tick()``
    calls the publisher again with the same idempotency key.
    """

    def __init__(self, rt: Runtime, flush_at: Any) -> None:
        self._rt = rt
        self._flush_at = flush_at
        self._pending: list[tuple[PublishJob, _Outcome, PublishJob]] = []
        self.recorded: dict[str, PublishJob] = {}  # job id -> as recorded (written or not)

    def add(self, job: PublishJob, outcome: _Outcome) -> PublishJob:
        done = outcome.on(self._rt, job)
        self._pending.append((job, outcome, done))
        if self._rt.now() >= self._flush_at:
            self.flush()
        return done

    def flush(self) -> None:
        """Write the waiting outcomes: one batch, or one by one if another worker moved a job."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        rt = self._rt
        written: list[tuple[PublishJob, _Outcome, PublishJob]] = []
        with rt.transaction() as tx:
            try:
                tx.uow.publish_jobs.update_many([done for _, _, done in pending])
                written = pending
            except (ConflictError, NotFoundError):
                for job, outcome, _ in pending:  # some job moved on: each as it stands
                    done = _write_in(tx, rt, job, outcome)
                    if done is None:
                        self.recorded[job.id] = tx.uow.publish_jobs.get(job.id) or job
                    else:
                        written.append((job, outcome, done))
        for job, outcome, done in written:
            self.recorded[job.id] = done
            outcome.emit(rt, job)


_PENDING: ContextVar[_Outcomes | None] = ContextVar("campaign_core_publish_outcomes", default=None)


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
    in ``errors`` and the others still run. The claim's transaction also reads
    the jobs' campaigns and stored credentials (a query for all of them), and
    the usual outcomes (published, retrying, cancelled) are written together
    when the claim is done (see :class:`_Outcomes`): a bounded number of
    statements and commits however many jobs (see the performance page).
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
        prefetched = _prefetch(tx, claimed)
    outcomes = _Outcomes(rt, now + rt.settings.lease_duration / 2)
    tried: list[PublishJob] = []
    errors: list[tuple[str, str]] = []
    token = _PENDING.set(outcomes)
    try:
        for job in claimed:
            done, failed = _attempt_isolated(rt, job, prefetched)
            tried.append(done if done is not None else job)
            if failed is not None:
                errors.append((job.campaign_id, f"{job.platform!s}: {failed}"))
    finally:
        _PENDING.reset(token)
        outcomes.flush()
    jobs = tuple(outcomes.recorded.get(job.id, job) for job in tried)
    return DuePublishRun(jobs=jobs, errors=tuple(errors))
