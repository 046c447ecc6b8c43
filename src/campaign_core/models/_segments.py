"""Segment records: the seed's ``Segment`` and ``SegmentMember`` models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from campaign_core.models._common import StrEnum

__all__ = ["MemberSource", "Segment", "SegmentMember", "SegmentType"]


class SegmentType(StrEnum):
    STATIC = "static"
    DYNAMIC = "dynamic"
    HYBRID = "hybrid"


class MemberSource(StrEnum):
    CRITERIA = "criteria"
    MANUAL = "manual"


@attrs.frozen(kw_only=True)
class Segment:
    """An audience segment (table ``segments``).

    ``criteria`` holds the canonical criteria tree (dynamic and hybrid segments).
    Additions: ``version``.
    """

    id: str
    user_id: str
    name: str
    description: str | None = None
    type: SegmentType = attrs.field(converter=SegmentType)
    criteria: dict[str, Any] = attrs.field(factory=dict)
    member_count: int = 0
    last_refreshed_at: datetime | None = None
    avg_engagement: float | None = None
    avg_revenue: float | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 1


@attrs.frozen(kw_only=True)
class SegmentMember:
    """A fan in a segment (table ``segment_members``; unique per segment and fan).

    ``fan_id`` is the seed's ``userId`` column. Addition: ``source`` says whether
    the criteria or a manual add put the fan there.
    """

    id: str
    segment_id: str
    fan_id: str = attrs.field(metadata={"name": "userId"})
    added_at: datetime
    source: MemberSource = attrs.field(default=MemberSource.CRITERIA, converter=MemberSource)
