"""Declared capabilities, each checked against the library's reference implementation.

A store declares what it can do beyond the repositories in
:meth:`~campaign_core.ports.Store.capabilities`; a capability it declares must
give the reference's answers: audience queries the per-fan evaluator's,
tracking aggregates the repository path's. A capability it does not declare is
skipped here (the library takes the reference path on that store).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from campaign_core.criteria import FieldRegistry, compile_criteria, normalize
from campaign_core.models import (
    Fan,
    FanEvent,
    Segment,
    SegmentMember,
    TrackingEventRecord,
)
from campaign_core.ports import Store, StoreCapabilities, TrackingCounts, UnitOfWork
from campaign_core.query import Eq, In, IsNull, Order
from campaign_core.testing.helpers import T0, sample_record

__all__ = ["CapabilityContract", "reference_audience", "reference_tracking_aggregates"]

NOW = T0 + timedelta(days=30)
OWNER = "aud-owner"
REGISTRY = FieldRegistry.with_traits({"score": "number", "nickname": "string", "vip": "boolean"})

#: Criteria over every family of operators (numbers, enums, text, booleans, times,
#: lists, events, segments, negation), in the three forms ``normalize`` takes.
CRITERIA: tuple[Any, ...] = (
    {"spendingLevel": "high"},
    {"engagement": ">50"},
    "engagement >= 14 and spending_level != 'low'",
    "traits.score > 1 or traits.vip = true",
    {"version": 1, "root": {"field": "traits.nickname", "op": "contains", "value": "ab"}},
    {"version": 1, "root": {"field": "time_zone", "op": "is_not_set"}},
    {"version": 1, "root": {"field": "platform", "op": "in", "value": ["tiktok", "reddit"]}},
    {"version": 1, "root": {"field": "last_activity_at", "op": "within_last", "value": "P7D"}},
    {"version": 1, "root": {"field": "lifetime_value", "op": "between", "value": [1, 50]}},
    {
        "version": 1,
        "root": {
            "event": "purchase",
            "measure": "count",
            "op": "gte",
            "value": 2,
            "within": "P30D",
        },
    },
    {"version": 1, "root": {"in_segment": "aud-seg"}},
    {
        "version": 1,
        "root": {
            "not": {
                "any": [
                    {"in_segment": "aud-seg"},
                    {"field": "opted_out", "op": "eq", "value": True},
                ]
            }
        },
    },
)


def _population(uow: UnitOfWork) -> None:
    """Fans of two owners with missing values, values at thresholds, events, conversions, a segment."""
    levels = ["high", "low", "medium", None, "vip"]
    engagements = [72.0, 50.0, 14.0, None, 13.5, 0.0]
    for n in range(18):
        for owner in (OWNER, "aud-other"):
            uow.fans.add(
                Fan(
                    id=f"{owner}-{n}",
                    owner_id=owner,
                    fan_id=f"f{n:02d}",
                    platform=["tiktok", "instagram", "reddit", None][n % 4],
                    spending_level=levels[n % len(levels)],
                    engagement=engagements[n % len(engagements)],
                    lifetime_value=[None, 1.0, 25.5, 50.0, 99.0][n % 5],
                    subscription_status="active" if n % 2 else None,
                    subscribed_at=T0 + timedelta(days=n),
                    last_activity_at=None if n % 7 == 0 else NOW - timedelta(days=n % 10),
                    time_zone=None if n % 3 else "Europe/Paris",
                    opted_out=n % 6 == 5,
                    traits={
                        "score": n % 4,
                        "nickname": ["abc", "xab", "zz", 5][n % 4],
                        "vip": n % 5 == 0,
                    },
                    created_at=T0,
                    updated_at=T0,
                )
            )
    for n in range(30):
        uow.fan_events.add(
            FanEvent(
                id=f"aud-ev-{n}",
                owner_id=OWNER,
                fan_id=f"f{n % 7:02d}",
                name="purchase" if n % 3 else "message.opened",
                occurred_at=NOW - timedelta(days=n),
                value=float(n % 4),
                created_at=T0,
            )
        )
    uow.segments.add(
        Segment(id="aud-seg", user_id=OWNER, name="S", type="static", created_at=T0, updated_at=T0)
    )
    uow.segment_members.add_many(
        [
            SegmentMember(id=f"aud-m-{n}", segment_id="aud-seg", fan_id=f"f{n:02d}", added_at=T0)
            for n in range(0, 18, 4)
        ]
    )
    campaign = sample_record("campaigns", 0, user_id=OWNER)
    uow.campaigns.add(campaign)
    uow.campaign_conversions.add_many(
        [
            sample_record(
                "campaign_conversions", n, campaign_id=campaign.id, fan_id=f"f{n % 9:02d}"
            )
            for n in range(12)
        ]
    )


def reference_audience(uow: UnitOfWork) -> Any:
    """The library's audience queries over the repositories alone (the fallback every store gets)."""
    from campaign_core.audience import PythonAudience

    return PythonAudience(uow)


def _per_fan(uow: UnitOfWork, criteria: Any) -> list[str]:
    """The matching fan ids, by the per-fan evaluator on each stored fan (the reference)."""
    from campaign_core.audience import fan_record

    match = compile_criteria(criteria, registry=REGISTRY).matcher(now=NOW)
    members = {m.fan_id for m in uow.segment_members.find(Eq("segment_id", "aud-seg"))}
    events = uow.fan_events.find(Eq("owner_id", OWNER))
    return sorted(
        fan.fan_id
        for fan in uow.fans.find(Eq("owner_id", OWNER))
        if match(
            fan_record(fan, REGISTRY),
            [e for e in events if e.fan_id == fan.fan_id],
            {"aud-seg"} if fan.fan_id in members else set(),
        )
    )


def reference_tracking_aggregates(uow: UnitOfWork) -> Any:
    """The library's tracking aggregates computed from ``uow.tracking_events`` (the fallback)."""
    from campaign_core._tracking_fallback import RepositoryTrackingAggregates

    return RepositoryTrackingAggregates(uow.tracking_events)


def _counts(counts: TrackingCounts) -> dict[str, Any]:
    cells = {
        (c["platform"], c["variantId"]): {
            k: round(v, 6) if isinstance(v, float) else v for k, v in c.items()
        }
        for c in counts.cells
    }
    reach = {k: dict(v) if isinstance(v, dict) else v for k, v in counts.reach.items()}
    return {"cells": cells, "reach": reach, "span": (counts.first_event_at, counts.last_event_at)}


def _tracking(uow: UnitOfWork) -> list[str]:
    campaigns = ["trk-a", "trk-b", "trk-empty"]
    kinds = ["impression", "impression", "click", "conversion", "spend"]
    rows = []
    for n in range(60):
        kind = kinds[n % len(kinds)]
        rows.append(
            TrackingEventRecord(
                id=f"trk-{n}",
                owner_id=OWNER,
                campaign_id=campaigns[n % 2],
                kind=kind,
                fan_id=None if kind == "spend" else ["f1", "f2", "f3", None][n % 4],
                platform=["instagram", "tiktok", None][n % 3],
                variant_id=["va", "vb", None][n % 3 - 1],
                value=[0.0, 1.25, 10.0, 99.99][n % 4] if kind in ("conversion", "spend") else 0.0,
                occurred_at=T0 + timedelta(minutes=7 * n),
                created_at=T0,
            )
        )
    uow.tracking_events.add_many(rows)
    return campaigns


class CapabilityContract:
    """What :meth:`Store.capabilities` declares, checked; what it leaves out, skipped."""

    def test_capabilities_are_declared_and_consistent(self, store: Store) -> None:
        """The declaration is a StoreCapabilities; a unit of work hands out exactly what it declares."""
        declared = store.capabilities()
        assert isinstance(declared, StoreCapabilities)
        assert store.capabilities() == declared
        with store.unit_of_work() as uow:
            assert (uow.audience_queries() is not None) == declared.audience_queries
            assert (uow.tracking_aggregates() is not None) == declared.tracking_aggregates
        assert declared.max_parameters is None or declared.max_parameters >= 999
        assert declared.max_batch_rows is None or declared.max_batch_rows >= 1

    def test_audience_queries_agree_with_the_per_fan_evaluator(self, store: Store) -> None:
        """Counts and ids equal the per-fan evaluator's; summaries equal the repository fallback's."""
        if not store.capabilities().audience_queries:
            pytest.skip("the store declares no audience queries")
        with store.unit_of_work() as uow:
            _population(uow)
            uow.commit()
        with store.unit_of_work() as uow:
            audience = uow.audience_queries()
            assert audience is not None
            fallback = reference_audience(uow)
            for given in CRITERIA:
                criteria = normalize(given, registry=REGISTRY)
                expected = _per_fan(uow, criteria)
                found = audience.fan_ids_matching(OWNER, criteria, now=NOW, registry=REGISTRY)
                assert found == expected, given
                assert audience.count_matching(OWNER, criteria, now=NOW, registry=REGISTRY) == len(
                    expected
                ), given
                page = audience.fan_ids_matching(
                    OWNER, criteria, now=NOW, registry=REGISTRY, limit=3, offset=1
                )
                assert page == expected[1:4], given
                if expected:  # keyset paging from a cursor, as a broadcast's snapshot walks
                    cursor = expected[0]
                    rest = audience.fan_ids_matching(
                        OWNER, criteria, now=NOW, registry=REGISTRY, limit=2, after=cursor
                    )
                    assert rest == expected[1:3], given
                mine = audience.summarize_matching(OWNER, criteria, now=NOW, registry=REGISTRY)
                theirs = fallback.summarize_matching(OWNER, criteria, now=NOW, registry=REGISTRY)
                for name in theirs.__attrs_attrs__:
                    left, right = getattr(mine, name.name), getattr(theirs, name.name)
                    assert math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9), (given, name.name)

    def test_tracking_aggregates_agree_with_the_repository_path(self, store: Store) -> None:
        """Counts (all time and before an instant), columns and anonymization equal the fallback's."""
        if not store.capabilities().tracking_aggregates:
            pytest.skip("the store declares no tracking aggregates")
        with store.unit_of_work() as uow:
            campaigns = _tracking(uow)
            uow.commit()
        with store.unit_of_work() as uow:
            mine, theirs = uow.tracking_aggregates(), reference_tracking_aggregates(uow)
            assert mine is not None
            for before in (None, T0 + timedelta(hours=3)):
                left = mine.counts(campaigns, before=before)
                right = theirs.counts(campaigns, before=before)
                assert set(left) == set(right) == set(campaigns)
                for campaign in campaigns:
                    assert _counts(left[campaign]) == _counts(right[campaign]), (campaign, before)
            since, before = T0 + timedelta(hours=1), T0 + timedelta(hours=5)
            extras: list[dict[str, Any]] = [{}, {"kinds": ["click"]}, {"fan_ids": ["f1", "f3"]}]
            for extra in extras:
                left_columns = mine.columns(campaigns, since=since, before=before, **extra)
                right_columns = theirs.columns(campaigns, since=since, before=before, **extra)
                assert Counter(zip(*left_columns.values(), strict=True)) == Counter(
                    zip(*right_columns.values(), strict=True)
                ), extra
            f2 = uow.tracking_events.count(Eq("fan_id", "f2"))
            assert f2 > 0
            assert mine.anonymize_fan(campaigns, "f2", "erased") == f2
            assert uow.tracking_events.count(Eq("fan_id", "f2")) == 0
            assert theirs.anonymize_fan(campaigns, "f2", "again") == 0

    def test_queries_take_the_declared_number_of_parameters(self, store: Store) -> None:
        """An In list as long as max_parameters allows (40,000 without a limit) is answered."""
        limit = store.capabilities().max_parameters
        size = 40_000 if limit is None else min(limit - 16, 40_000)
        with store.unit_of_work() as uow:
            uow.campaigns.add(sample_record("campaigns", 0))
            ids = [f"id-{n}" for n in range(size - 1)] + [sample_record("campaigns", 0).id]
            assert len(uow.campaigns.find(In("id", ids))) == 1
            assert uow.campaigns.count(In("id", ids)) == 1

    def test_batches_take_the_declared_number_of_rows(self, store: Store) -> None:
        """add_many and update_many take max_batch_rows records (2,000 without a limit)."""
        limit = store.capabilities().max_batch_rows
        size = 2_000 if limit is None else min(limit, 2_000)
        records = [sample_record("fan_events", n) for n in range(size)]
        with store.unit_of_work() as uow:
            uow.fan_events.add_many(records)
            uow.fan_events.update_many(records, fields=["name"])
            assert uow.fan_events.count() == size

    def test_skip_locked_claims_pass_over_held_records(self, store: Store) -> None:
        """With skip_locked, a claim does not wait for another open claim: it takes other records."""
        if not store.capabilities().skip_locked:
            pytest.skip("the store declares no skip-locked claims (claims are serialized)")
        jobs = [
            sample_record("publish_jobs", n, lease_owner=None, lease_until=None) for n in range(4)
        ]
        with store.unit_of_work() as uow:
            uow.publish_jobs.add_many(jobs)
            uow.commit()
        taken: list[list[str]] = []

        def claim(owner: str) -> list[str]:
            with store.unit_of_work() as uow:
                got = uow.publish_jobs.claim(
                    IsNull("lease_owner"),
                    order_by=[Order("id")],
                    limit=2,
                    owner=owner,
                    until=NOW,
                    now=T0,
                )
                uow.commit()
            return [j.id for j in got]

        with store.unit_of_work() as holder:
            held = holder.publish_jobs.claim(
                IsNull("lease_owner"), order_by=[Order("id")], limit=2, owner="h", until=NOW, now=T0
            )
            # the holder's transaction stays open while another thread claims
            other = threading.Thread(target=lambda: taken.append(claim("w")))
            other.start()
            other.join(timeout=60)
            assert not other.is_alive(), "a claim waited for another open claim's records"
            holder.commit()
        assert sorted([*[j.id for j in held], *taken[0]]) == sorted(j.id for j in jobs)
