"""Hypothesis strategies and builders shared by the analytics tests (imported, not collected)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from campaign_core.analytics import EventBatch, MetricTotals, TrackingEvent
from campaign_core.testing.strategies import tracking_events

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
KINDS = ("impression", "click", "conversion", "spend")
PLATFORMS = ("instagram", "tiktok", "reddit", None)
VARIANTS = ("A", "B", None)
FANS = ("fan-1", "fan-2", "fan-3", "fan-4", "fan-5", None)


def event_dicts(max_size: int = 120, days: int = 10) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Random tracking events as dicts (the shipped strategy, from this module's T0)."""
    return tracking_events(max_size=max_size, days=days, start=T0)


def batch_of(events: list[dict[str, Any]], *, with_fans: bool = True) -> EventBatch:
    """The columns of ``events`` as a batch (always with a fan column when asked)."""
    return EventBatch.from_columns(
        kind=[e["kind"] for e in events],
        occurred_at=[e["occurredAt"] for e in events],
        value=[e.get("value", 0.0) for e in events],
        fan_id=[e.get("fanId") for e in events] if with_fans else None,
        platform=[e.get("platform") for e in events],
        variant_id=[e.get("variantId") for e in events],
        campaign_id=[e["campaignId"] for e in events]
        if events and "campaignId" in events[0]
        else None,
    )


def ev(kind: str, minutes: float = 0, **fields: Any) -> TrackingEvent:
    """One event ``minutes`` after T0."""
    return TrackingEvent(kind=kind, occurred_at=T0 + timedelta(minutes=minutes), **fields)


def totals(
    impressions: int = 0,
    clicks: int = 0,
    conversions: int = 0,
    revenue: float = 0.0,
    spent: float = 0.0,
    sumsq: float | None = None,
) -> MetricTotals:
    """Totals from counts; ``sumsq`` defaults to equal order values (revenue²/conversions)."""
    if sumsq is None:
        sumsq = revenue * revenue / conversions if conversions else 0.0
    return MetricTotals.from_counts(
        impressions=impressions,
        clicks=clicks,
        conversions=conversions,
        revenue=revenue,
        spent=spent,
        revenue_sum_squares=sumsq,
    )


def walk_numbers(value: Any) -> list[float]:
    """Every float in nested JSON-like data."""
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [x for v in value.values() for x in walk_numbers(v)]
    if isinstance(value, list | tuple):
        return [x for v in value for x in walk_numbers(v)]
    return []
