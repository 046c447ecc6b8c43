"""The SQL store's tracking aggregates equal the repository path's, on every SQL database."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_core._tracking_fallback import RepositoryTrackingAggregates
from campaign_core.models import TrackingEventRecord
from campaign_core.ports import Store, TrackingAggregates, TrackingCounts
from tests.conftest import backend_params, make_store

T0 = datetime(2026, 4, 1, tzinfo=UTC)
_NEXT = itertools.count()


@pytest.fixture(scope="module", params=backend_params(["sqlite", "postgres", "mariadb"]))
def sql_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """One SQL store per backend for the module (each example uses new campaign ids)."""
    store = make_store(request.param)
    yield store
    store.close()


@st.composite
def records(draw: st.DrawFn) -> list[TrackingEventRecord]:
    """Tracking rows of two campaigns: every kind, platform, variant, anonymous and known fans."""
    run = next(_NEXT)
    campaigns = [f"agg-{run}-a", f"agg-{run}-b"]
    out = []
    for index in range(draw(st.integers(0, 80))):
        kind = draw(st.sampled_from(("impression", "impression", "click", "conversion", "spend")))
        value = 0.0
        if kind in ("conversion", "spend"):
            value = draw(st.sampled_from((0.5, 1.25, 10.0, 99.99)))
        out.append(
            TrackingEventRecord(
                id=f"ev-{run}-{index}",
                owner_id="o",
                campaign_id=draw(st.sampled_from(campaigns)),
                kind=kind,
                fan_id=None if kind == "spend" else draw(st.sampled_from(("f1", "f2", "f3", None))),
                platform=draw(st.sampled_from(("instagram", "tiktok", None))),
                variant_id=draw(st.sampled_from(("va", "vb", None))),
                value=value,
                occurred_at=T0 + timedelta(minutes=draw(st.integers(0, 600))),
                created_at=T0,
            )
        )
    return out


def _normalized(counts: TrackingCounts) -> dict[str, Any]:
    cells = {}
    for cell in counts.cells:
        key = (cell["platform"], cell["variantId"])
        cells[key] = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in cell.items()}
    return {
        "cells": cells,
        "reach": {
            "total": counts.reach["total"],
            "byPlatform": dict(counts.reach.get("byPlatform", {})),
            "byVariant": dict(counts.reach.get("byVariant", {})),
        },
        "first": counts.first_event_at,
        "last": counts.last_event_at,
    }


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=records(), cut=st.integers(0, 600))
def test_sql_counts_columns_and_erasure_match_the_repository_path(
    sql_store: Store, rows: list[TrackingEventRecord], cut: int
) -> None:
    """GROUP BY counts (all time and as of an instant), columns and anonymization agree."""
    with sql_store.unit_of_work() as uow:
        uow.tracking_events.add_many(rows)
        sql = uow.tracking_aggregates()
        assert isinstance(sql, TrackingAggregates)
        python = RepositoryTrackingAggregates(uow.tracking_events)
        ids = sorted({r.campaign_id for r in rows}) or ["agg-none"]
        before = T0 + timedelta(minutes=cut)
        for window in (None, before):
            a, b = sql.counts(ids, before=window), python.counts(ids, before=window)
            assert set(a) == set(b) == set(ids)
            for cid in ids:
                assert _normalized(a[cid]) == _normalized(b[cid])
        kwargs: dict[str, Any] = {"since": T0 + timedelta(minutes=cut // 2), "before": before}
        for extra in ({}, {"kinds": ["click"]}, {"fan_ids": ["f1", "f3"]}):
            left, right = (
                sql.columns(ids, **kwargs, **extra),
                python.columns(ids, **kwargs, **extra),
            )
            assert Counter(zip(*left.values())) == Counter(zip(*right.values()))
        changed = sql.anonymize_fan(ids, "f2", "erased-token")
        assert changed == sum(1 for r in rows if r.fan_id == "f2")
        assert python.anonymize_fan(ids, "f2", "erased-other") == 0
        uow.rollback()


def test_the_sql_store_declares_its_aggregates(sql_store: Store) -> None:
    """The SQL store declares tracking aggregates and its unit of work hands them out."""
    assert sql_store.capabilities().tracking_aggregates
    with sql_store.unit_of_work() as uow:
        assert isinstance(uow.tracking_aggregates(), TrackingAggregates)


def test_the_memory_store_has_no_sql_aggregates() -> None:
    """The in-memory store declares no tracking aggregates: the service takes the repository path."""
    store = make_store("memory")
    assert not store.capabilities().tracking_aggregates
    with store.unit_of_work() as uow:
        assert uow.tracking_aggregates() is None
