"""The lifecycle methods of ``ws.campaigns``: schedule, launch, publish, pause, resume, end.

The launch check, the launch and the publishing engine are jobs
(:mod:`campaign_core.jobs.launches`, :mod:`campaign_core.jobs.publishing`); these
methods check the actor and the input, then call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from campaign_core._validate import (
    v_bool,
    v_datetime,
)
from campaign_core.audit import audited
from campaign_core.errors import (
    ConflictError,
    InvalidTransitionError,
    ProblemCollector,
)
from campaign_core.jobs.delivery import DeliveryCounts, broadcast_counts, cancel_broadcast
from campaign_core.jobs.launches import launch, launch_problems
from campaign_core.jobs.publishing import (
    PlatformPublishResult,
    adapt_campaign,
    cancel_pending_jobs,
    enqueue_publish_jobs,
    run_publish_jobs,
)
from campaign_core.lifecycle import check_archive, check_restore, next_status
from campaign_core.models import (
    Campaign,
    PublishStatus,
)
from campaign_core.permissions import Permission
from campaign_core.publishing import AdaptationResult
from campaign_core.query import (
    Eq,
    Order,
)
from campaign_core.services._campaign_base import (
    CampaignLaunchResult,
    CampaignServiceBase,
    S,
    ScheduleConflict,
)

__all__ = ["CampaignLifecycle"]


class CampaignLifecycle(CampaignServiceBase):
    """Schedule, launch, publish, pause, resume, complete, cancel (part of :class:`CampaignService`)."""

    def find_schedule_conflicts(
        self, campaign_id: str, scheduled_for: Any
    ) -> list[ScheduleConflict]:
        """The account's other campaigns that would clash with scheduling this one at ``scheduled_for``."""
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        when = v_datetime(scheduled_for, "scheduled_for", problems)
        problems.raise_if_any()
        assert when is not None
        with self._rt.transaction() as tx:
            return self._conflicts(tx, self._load(tx, campaign_id), when)

    @audited("campaign.schedule")
    def schedule_campaign(self, campaign_id: str, scheduled_for: Any) -> Campaign:
        """Schedule (or reschedule) a campaign; ``tick()`` launches it when due.

        Other campaigns of the account within ``settings.schedule_conflict_window``
        on a shared platform or segment are reported through the alerter (see
        :meth:`find_schedule_conflicts`); with ``settings.strict_scheduling`` the
        call raises ``ConflictError`` instead.

        The campaign must be launchable now, by the checks of
        :meth:`launch_campaign` (a platform, content every platform accepts, a
        budget not spent), so that a mistake shows when scheduling rather than
        at launch time. A scheduled campaign that has become unlaunchable by its
        time (edited, or its budget spent) is returned to draft by ``tick()``
        with a ``launch_failed`` alert.

        Raises:
            ValidationError: ``scheduled_for`` is not an aware datetime in the
                future, or the campaign could not launch (same paths as
                :meth:`launch_campaign`).
            InvalidTransitionError: the campaign is not draft or scheduled.
        """
        self._svc._require(Permission.LIFECYCLE)
        problems = ProblemCollector()
        when = v_datetime(scheduled_for, "scheduled_for", problems)
        if when is not None and when <= self._rt.now():
            problems.add("scheduled_for", "must be in the future", "out_of_range")
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            next_status(campaign.status, "schedule")
            problems.problems.extend(launch_problems(self._rt, campaign))
            problems.raise_if_any()
            self._on_conflicts(tx, campaign, self._conflicts(tx, campaign, when))  # type: ignore[arg-type]
            return self._transition(tx, campaign, "schedule", scheduled_for=when)

    @audited("campaign.unschedule")
    def unschedule_campaign(self, campaign_id: str) -> Campaign:
        """Return a scheduled campaign to draft."""
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            return self._transition(tx, campaign, "unschedule", scheduled_for=None)

    @audited("campaign.launch")
    def launch_campaign(self, campaign_id: str) -> CampaignLaunchResult:
        """Launch now: validate, go active, and publish to every target platform.

        One publish job per platform is queued in the same transaction as the
        status change, then tried at once. A platform that fails with a
        retryable error is retried by ``tick()`` with exponential backoff; the
        result shows each platform's status. Once the campaign is active this
        method does not raise for one platform's failure: a stored credential
        the core cannot open (sealed with another key, or no
        ``credential_keys`` configured) makes that platform wait for the keys
        to be fixed (``retrying``, no attempt spent, one alert to the owner)
        and an unexpected error counts as a failed attempt retried later; the
        other platforms are published either way.

        Raises:
            InvalidTransitionError: not draft or scheduled.
            ValidationError: nothing to launch (no platform, no content, budget spent).
        """
        self._svc._require(Permission.LIFECYCLE)
        campaign, job_ids = launch(self._rt, campaign_id, self._account)
        results = run_publish_jobs(self._rt, job_ids)
        return CampaignLaunchResult(
            campaign=self.get_campaign(campaign.id), platforms=tuple(results)
        )

    @audited("campaign.publish")
    def publish_to_platforms(
        self,
        campaign_id: str,
        platforms: Any,
        *,
        force: bool = False,
        retry_failed: bool = False,
    ) -> list[PlatformPublishResult]:
        """Publish an active campaign's current content to some of its platforms now.

        Platforms already published for the current content version are not
        published again, nor are failed ones (unless ``retry_failed``); a
        platform waiting for its retry (``retrying`` with ``next_attempt_at``
        still ahead) is not tried before that time unless ``force`` is true.
        Their result is reported as it stands.

        Args:
            campaign_id: an active campaign.
            platforms: a list of the campaign's platforms.
            force: retry now the platforms that are waiting for their backoff
                (each such retry still counts against the retry policy's
                ``max_attempts``).
            retry_failed: give the listed platforms that ``failed`` (for this
                content version) a new round of attempts, from now: for after the
                cause is fixed (a rejected account reinstated). A failed job never posted, so this cannot post twice.

        Raises:
            ValidationError: a platform the campaign does not target.
            InvalidTransitionError: the campaign is not active.
        """
        self._svc._require(Permission.LIFECYCLE)
        problems = ProblemCollector()
        clean = self._rt.settings.platforms.check_list(platforms, "platforms", problems)
        v_bool(force, "force", problems)
        v_bool(retry_failed, "retry_failed", problems)
        problems.raise_if_any()
        assert clean is not None
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            if campaign.status is not S.ACTIVE:
                raise InvalidTransitionError(campaign.status.value, "publish")
            _check_targets(campaign, clean, problems)
            problems.raise_if_any()
            enqueue_publish_jobs(tx, self._rt, campaign, clean)
            keys = [f"{campaign.id}:{p}:v{campaign.content_version}" for p in clean]
            jobs = [tx.uow.publish_jobs.find(Eq("idempotency_key", k), limit=1)[0] for k in keys]
            if retry_failed:
                now = self._rt.now()
                for job in jobs:
                    if job.status is PublishStatus.FAILED:
                        tx.uow.publish_jobs.update(
                            attrs.evolve(
                                job,
                                status=PublishStatus.PENDING,
                                attempts=0,
                                next_attempt_at=None,
                                last_error=None,
                                updated_at=now,
                                version=job.version + 1,
                            )
                        )
        return run_publish_jobs(self._rt, [j.id for j in jobs], force=force)

    def preview_platform_content(
        self, campaign_id: str, platforms: Any = None
    ) -> list[AdaptationResult]:
        """What each platform would get if the campaign were published now, and why.

        The campaign's content adapted for each target platform (or the listed
        ones), the way launching and publishing adapt it, each with its report
        of what adaptation changed (``changes``: a caption trimmed, hashtags
        dropped, media beyond the platform's count left out...). Nothing is
        written; any campaign status works, so a draft can be checked before
        it is scheduled.

        Raises:
            ValidationError: a platform the campaign does not target, or
                content that cannot fit a platform (the same problems
                ``launch_campaign`` would report).
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        clean = (
            None
            if platforms is None
            else self._rt.settings.platforms.check_list(platforms, "platforms", problems)
        )
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
        _check_targets(campaign, clean or (), problems)
        problems.raise_if_any()
        adapted = adapt_campaign(self._rt, campaign, clean or campaign.platforms)
        return list(adapted.values())

    def get_publish_status(self, campaign_id: str) -> list[PlatformPublishResult]:
        """Each platform's publishing state for the campaign's latest content version."""
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            jobs = tx.uow.publish_jobs.find(
                Eq("campaign_id", campaign.id),
                order_by=[Order("content_version", True), Order("platform")],
            )
        latest: dict[str, PlatformPublishResult] = {}
        for job in jobs:
            latest.setdefault(str(job.platform), PlatformPublishResult.of(job))
        return [latest[p] for p in sorted(latest)]

    @audited("campaign.pause")
    def pause_campaign(self, campaign_id: str) -> Campaign:
        """Pause an active campaign (its broadcast's queued messages wait; the snapshot goes on)."""
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            return self._transition(
                tx, self._load(tx, campaign_id), "pause", paused_reason="manual"
            )

    @audited("campaign.resume")
    def resume_campaign(self, campaign_id: str) -> Campaign:
        """Resume a paused campaign.

        Raises:
            ConflictError: it was paused because its budget is spent and the
                budget has not been raised.
        """
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            next_status(campaign.status, "resume")
            if campaign.budget is not None and campaign.spent >= campaign.budget:
                raise ConflictError(
                    "the campaign's budget is spent; raise the budget before resuming",
                    details={"budget": campaign.budget, "spent": campaign.spent},
                )
            return self._transition(tx, campaign, "resume", paused_reason=None)

    @audited("campaign.complete")
    def complete_campaign(self, campaign_id: str) -> Campaign:
        """Complete an active or paused campaign."""
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            done = self._transition(tx, campaign, "complete", completed_at=self._rt.now())
            cancel_broadcast(tx, self._rt, campaign.id, "campaign_completed")
            return done

    @audited("campaign.cancel")
    def cancel_campaign(self, campaign_id: str) -> Campaign:
        """Cancel a campaign that is not yet completed; pending publish jobs and queued messages stop."""
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            updated = self._transition(tx, campaign, "cancel", completed_at=self._rt.now())
            cancel_pending_jobs(tx, self._rt, campaign.id)
            cancel_broadcast(tx, self._rt, campaign.id, "campaign_cancelled")
            return updated

    def get_delivery_status(self, campaign_id: str) -> DeliveryCounts:
        """Where the campaign's message is: audience, queued, sent... failed, suppressed, with reasons.

        A campaign without a message, or not launched yet, has status
        ``not_launched`` and zero counts (its audience is counted at launch).

        Raises:
            NotFoundError: no such campaign in the actor's account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction(read_only=True) as tx:
            campaign = self._load(tx, campaign_id)
            return broadcast_counts(tx, campaign.id)

    @audited("campaign.archive")
    def archive_campaign(self, campaign_id: str) -> Campaign:
        """Archive a completed or cancelled campaign.

        It keeps its status and gets ``archived_at``; it leaves the default
        :meth:`list_campaigns` (``include_archived=True`` lists it) and this
        core's caches, and stays readable by id, reportable
        (``ws.analytics.get_campaign_metrics``) and exportable. See
        :mod:`campaign_core.lifecycle`.

        Raises:
            NotFoundError: no such campaign in the actor's account.
            InvalidTransitionError: not completed or cancelled, or already
                archived (``current`` says which); nothing changes.
        """
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            check_archive(campaign.status, campaign.archived_at is not None)
            updated = self._save(tx, campaign, archived_at=self._rt.now())
        self._forget_metrics(updated.id)
        return updated

    @audited("campaign.restore")
    def restore_campaign(self, campaign_id: str) -> Campaign:
        """Bring an archived campaign back, in the status it was archived in.

        Raises:
            NotFoundError: no such campaign in the actor's account.
            InvalidTransitionError: the campaign is not archived; nothing changes.
        """
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            check_restore(campaign.status, campaign.archived_at is not None)
            updated = self._save(tx, campaign, archived_at=None)
        self._forget_metrics(updated.id)
        return updated

    def _forget_metrics(self, campaign_id: str) -> None:
        """Drop the analytics service's cached counters of the campaign and the account's
        views (its keys: ``("analytics", account, campaign id or "*", ...)``)."""
        account = self._account
        self._rt.caches.campaign_metrics.invalidate(
            lambda key: (
                isinstance(key, tuple)
                and len(key) >= 3
                and key[:2] == ("analytics", account)
                and key[2] in (campaign_id, "*")
            )
        )


def _check_targets(
    campaign: Campaign, platforms: Sequence[str], problems: ProblemCollector
) -> None:
    """A problem at ``platforms[i]`` for each listed platform the campaign does not target."""
    for index, platform in enumerate(platforms):
        if platform not in campaign.platforms:
            problems.add(f"platforms[{index}]", "the campaign does not target this platform")
