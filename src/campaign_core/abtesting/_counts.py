"""What a variant counts, the metrics a test can decide on, and the minimum samples."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import attrs

from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = [
    "METRICS",
    "POLICIES",
    "SEED_MIN_SAMPLE",
    "Metric",
    "MinimumSample",
    "Policy",
    "VariantCounts",
]


Metric: TypeAlias = Literal[
    "conversion_rate", "click_through_rate", "click_conversion_rate", "revenue_per_impression"
]
Policy: TypeAlias = Literal["fixed_horizon", "always_valid", "bayesian", "group_sequential"]

#: metric -> (successes field, trials field); revenue uses means, not proportions.
_PROPORTION_METRICS: dict[str, tuple[str, str]] = {
    "conversion_rate": ("conversions", "impressions"),
    "click_through_rate": ("clicks", "impressions"),
    "click_conversion_rate": ("conversions", "clicks"),
}
METRICS: tuple[str, ...] = (*_PROPORTION_METRICS, "revenue_per_impression")
POLICIES: tuple[str, ...] = ("fixed_horizon", "always_valid", "bayesian", "group_sequential")


def _check_count(path: str, value: object, problems: ProblemCollector) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"must be an integer count, got {type(value).__name__}", "invalid_type")
    elif value < 0:
        problems.add(path, f"must be non-negative, got {value}", "out_of_range")
    elif value > 2**53:
        problems.add(path, "must be at most 2**53", "out_of_range")


def _check_finite(
    path: str, value: object, problems: ProblemCollector, *, minimum: float | None = None
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, f"must be a number, got {type(value).__name__}", "invalid_type")
    elif not math.isfinite(value):
        problems.add(path, f"must be finite, got {value}", "not_finite")
    elif minimum is not None and value < minimum:
        problems.add(path, f"must be at least {minimum:g}, got {value}", "out_of_range")


_JSON_FIELDS = {
    "id": "id",
    "name": "name",
    "isControl": "is_control",
    "is_control": "is_control",
    "impressions": "impressions",
    "clicks": "clicks",
    "conversions": "conversions",
    "revenue": "revenue",
    "revenueSumSquares": "revenue_sum_squares",
    "revenue_sum_squares": "revenue_sum_squares",
}


@attrs.frozen
class VariantCounts:
    """One variant's counters, as the seed's ``ABTestVariant`` stores them.

    Attributes:
        id: the variant's id (the ``winnerId`` when it wins).
        name: its display name (defaults to the id).
        is_control: whether this is the control (exactly one per test).
        impressions: times the variant was shown.
        clicks: clicks on it.
        conversions: conversions attributed to it.
        revenue: revenue attributed to it (finite; refunds may make it negative).
        revenue_sum_squares: the sum over impressions of squared revenue, needed
            only for the ``revenue_per_impression`` metric (Welch's t-test).

    Raises:
        ValidationError: on construction, for every bad field (path = field name).
    """

    id: str
    name: str = attrs.field(default=attrs.Factory(lambda self: self.id, takes_self=True))
    is_control: bool = False
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0
    revenue_sum_squares: float | None = None

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        # Typed fields, but hosts pass JSON: check what actually arrived.
        fields: dict[str, object] = attrs.asdict(self, recurse=False)
        if not isinstance(fields["id"], str) or not fields["id"]:
            problems.add("id", "must be a non-empty string", "invalid_type")
        if not isinstance(fields["name"], str):
            problems.add("name", "must be a string", "invalid_type")
        if not isinstance(fields["is_control"], bool):
            problems.add("is_control", "must be a boolean", "invalid_type")
        for field in ("impressions", "clicks", "conversions"):
            _check_count(field, getattr(self, field), problems)
        _check_finite("revenue", self.revenue, problems)
        if self.revenue_sum_squares is not None:
            _check_finite("revenue_sum_squares", self.revenue_sum_squares, problems, minimum=0.0)
        problems.raise_if_any()

    @classmethod
    def from_json(cls, data: object, *, path: str = "") -> VariantCounts:
        """Build from a JSON object with camelCase (the seed's) or snake_case keys.

        Args:
            data: ``{"id", "name"?, "isControl"?, "impressions"?, "clicks"?,
                "conversions"?, "revenue"?, "revenueSumSquares"?}``.
            path: where ``data`` sits in the caller's input.

        Returns:
            The variant.

        Raises:
            ValidationError: not an object, unknown keys, or bad values, with paths
                under ``path``.
        """
        if not isinstance(data, Mapping):
            raise ValidationError.single(path, "must be an object", "invalid_type")
        problems = ProblemCollector()
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            field = _JSON_FIELDS.get(key) if isinstance(key, str) else None
            if field is None:
                problems.add(join_path(path, str(key)), "is not a variant field", "unknown_field")
            else:
                kwargs[field] = value
        if "id" not in kwargs:
            problems.add(join_path(path, "id"), "is required", "required")
        problems.raise_if_any()
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise exc.prefixed(path) from None

    def to_json(self) -> dict[str, Any]:
        """The seed's camelCase JSON form."""
        return {
            "id": self.id,
            "name": self.name,
            "isControl": self.is_control,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "conversions": self.conversions,
            "revenue": self.revenue,
            "revenueSumSquares": self.revenue_sum_squares,
        }


@attrs.frozen
class MinimumSample:
    """Per-variant floors below which no winner is declared.

    Attributes:
        impressions: minimum impressions per variant.
        clicks: minimum clicks per variant.
        conversions: minimum conversions per variant.
    """

    impressions: int = 1000
    clicks: int = 100
    conversions: int = 30


#: The seed's ``MIN_SAMPLE_SIZE``: 1000 impressions, 100 clicks, 30 conversions per variant.
SEED_MIN_SAMPLE = MinimumSample()
