"""The analytics service's tracking calls: impressions, clicks, conversions, spend, batches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from campaign_core._validate import MISSING
from campaign_core.audit import audited
from campaign_core.errors import ProblemCollector
from campaign_core.models import Campaign
from campaign_core.permissions import Permission, require
from campaign_core.services.analytics._base import AnalyticsBase
from campaign_core.services.analytics._ingest import TrackingBatchReport, TrackingReceipt, ingest
from campaign_core.services.analytics._input import ID_RE, Paths, Rows, parse_rows

__all__ = ["TrackingMethods"]


class TrackingMethods(AnalyticsBase):
    """The write side of ``ws.analytics``: the ``track`` permission (spend also ``spend``)."""

    @audited("analytics.track_impression")
    def track_impression(
        self,
        campaign_id: str,
        fan_id: str | None = None,
        *,
        platform: str | None = None,
        variant_id: str | None = None,
        occurred_at: datetime | str | None = None,
    ) -> TrackingReceipt:
        """Track that a campaign was shown (the seed's ``trackImpression``).

        Args:
            campaign_id: a launched campaign of the account.
            fan_id: the fan who saw it, if known (anonymous impressions count
                as impressions but reach nobody).
            platform: where (onlyfans, instagram, tiktok, reddit).
            variant_id: the A/B variant shown (a variant of a test on this
                campaign); while the test runs its counters grow too.
            occurred_at: when (aware datetime or ISO-8601 with a zone; default
                now; at most an hour ahead of the core's clock).

        Returns:
            The receipt.

        Raises:
            ValidationError: bad input, with the argument's name as path.
            NotFoundError: no such campaign (or variant) in the account.
            InvalidTransitionError: the campaign was never launched.
            PermissionDeniedError: the actor may not track.
        """
        return self._track_one(
            "impression", campaign_id, fan_id, platform, variant_id, MISSING, occurred_at, None
        )

    @audited("analytics.track_click")
    def track_click(
        self,
        campaign_id: str,
        fan_id: str,
        *,
        platform: str | None = None,
        variant_id: str | None = None,
        occurred_at: datetime | str | None = None,
    ) -> TrackingReceipt:
        """Track a fan's click (the seed's ``trackClick``); later conversions are credited to it.

        Args:
            campaign_id: a launched campaign of the account.
            fan_id: the fan who clicked (required).
            platform: where.
            variant_id: the A/B variant shown.
            occurred_at: when (default now).

        Returns:
            The receipt.

        Raises:
            ValidationError: bad input (a missing fan included).
            NotFoundError: no such campaign (or variant) in the account.
            InvalidTransitionError: the campaign was never launched.
            PermissionDeniedError: the actor may not track.
        """
        return self._track_one(
            "click", campaign_id, fan_id, platform, variant_id, MISSING, occurred_at, None
        )

    @audited("analytics.track_conversion")
    def track_conversion(
        self,
        campaign_id: str,
        fan_id: str,
        value: float,
        *,
        type: str = "purchase",
        platform: str | None = None,
        variant_id: str | None = None,
        occurred_at: datetime | str | None = None,
    ) -> TrackingReceipt:
        """Track a conversion (the seed's ``trackConversion``), attributed to the fan's last click.

        The conversion is credited to the fan's last click on the campaign at
        or before it, within 30 days: the seed's ``CampaignConversion`` row
        gets that click's ``clickedAt`` and the delay as ``timeToConvert``
        (seconds). Without such a click it still counts, unattributed.

        Args:
            campaign_id: a launched campaign of the account.
            fan_id: the fan who converted.
            value: what it was worth (finite, 0 to 1e12).
            type: purchase (default), subscription, click or engagement.
            platform: where; by default the attributed click's platform, or
                the campaign's only platform.
            variant_id: the A/B variant shown; while the test runs, the
                variant's conversions, revenue and sum of squares grow.
            occurred_at: when (default now).

        Returns:
            The receipt, with the conversion row's id and its attribution.

        Raises:
            ValidationError: bad input, or no platform given and none to infer.
            NotFoundError: no such campaign (or variant) in the account.
            InvalidTransitionError: the campaign was never launched.
            PermissionDeniedError: the actor may not track.
        """
        return self._track_one(
            "conversion", campaign_id, fan_id, platform, variant_id, value, occurred_at, type
        )

    @audited("analytics.track_spend")
    def track_spend(
        self,
        campaign_id: str,
        amount: float,
        *,
        platform: str | None = None,
        variant_id: str | None = None,
        occurred_at: datetime | str | None = None,
    ) -> Campaign:
        """Record spend with its time and platform, through the campaign's budget rule.

        The same rule as ``campaigns.record_spend`` applies (it is the same
        function, in the same transaction as the tracking event): reaching the
        budget pauses the campaign and alerts; passing 110 % of it raises the
        overspend alarm (once per budget).

        Args:
            campaign_id: a launched campaign of the account.
            amount: the spend (finite, > 0).
            platform: where it was spent.
            variant_id: the A/B variant it was spent on.
            occurred_at: when (default now).

        Returns:
            The campaign after the spend.

        Raises:
            ValidationError: bad input.
            NotFoundError: no such campaign (or variant) in the account.
            InvalidTransitionError: the campaign was never launched.
            PermissionDeniedError: the actor may not track or record spend.
        """
        self._svc._require(Permission.SPEND)
        receipt, campaigns = self._ingest_single(
            "spend", campaign_id, None, platform, variant_id, amount, occurred_at, None
        )
        return campaigns[receipt.campaign_id]

    @audited("analytics.track_events")
    def track_events(self, events: Any) -> TrackingBatchReport:
        """Track a batch of events (bulk ingestion through the store's bulk path).

        Every event is validated before anything is written; one bad event
        fails the whole batch and stores nothing. Conversions are attributed
        to the fan's last click, in the batch or stored before; spend goes
        through each campaign's budget rule once, with the campaign's total.

        Args:
            events: up to 100,000 objects with ``kind`` (impression, click,
                conversion, spend), ``campaignId``, and optionally ``fanId``
                (required for clicks and conversions), ``platform``,
                ``variantId``, ``value`` (required for conversions and spend),
                ``occurredAt`` (aware datetime or ISO-8601; default now) and
                ``type`` (conversions); snake_case keys work too, as do
                :class:`~campaign_core.analytics.TrackingEvent` objects.

        Returns:
            What was stored.

        Raises:
            ValidationError: every problem with its path (``events[42].kind``),
                including unknown or never-launched campaigns and foreign variants.
            PermissionDeniedError: the actor may not track (or record spend,
                for a batch with spend).
        """
        self._svc._require(Permission.TRACK)
        problems = ProblemCollector()
        rows = parse_rows(events, problems)
        if any(p.path == "events" for p in problems.problems):
            problems.raise_if_any()
        if not len(rows):
            return TrackingBatchReport(
                received=0,
                impressions=0,
                clicks=0,
                conversions=0,
                spend_events=0,
                attributed_conversions=0,
                campaign_ids=(),
            )
        if any(k == "spend" for k in rows.kind):
            require(self.actor, Permission.SPEND)  # the call was counted against the API limit once
        result = ingest(self._rt, self._account, rows, Paths(single=False), problems=problems)
        return result.report

    def _track_one(
        self,
        kind: str,
        campaign_id: Any,
        fan_id: Any,
        platform: Any,
        variant_id: Any,
        value: Any,
        occurred_at: Any,
        conversion_type: Any,
    ) -> TrackingReceipt:
        self._svc._require(Permission.TRACK)
        receipt, _ = self._ingest_single(
            kind, campaign_id, fan_id, platform, variant_id, value, occurred_at, conversion_type
        )
        return receipt

    def _ingest_single(
        self,
        kind: str,
        campaign_id: Any,
        fan_id: Any,
        platform: Any,
        variant_id: Any,
        value: Any,
        occurred_at: Any,
        conversion_type: Any,
    ) -> tuple[TrackingReceipt, dict[str, Campaign]]:
        problems = ProblemCollector()
        if not isinstance(campaign_id, str) or not ID_RE.match(campaign_id):
            problems.add("campaign_id", "expected an id string", "invalid_type")
        problems.raise_if_any()
        rows = Rows(
            kind=[kind],
            campaign_id=[campaign_id],
            fan_id=[fan_id],
            platform=[platform],
            variant_id=[variant_id],
            value=[value],
            occurred_at=[occurred_at],
            type=[conversion_type],
        )
        paths = Paths(single=True)
        amount_name = "amount" if kind == "spend" else "value"
        result = ingest(self._rt, self._account, rows, paths, amount_name=amount_name)
        return result.receipts[0], result.campaigns
