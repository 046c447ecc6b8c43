"""The segment service's sizes and explanations: who matches criteria, and why one fan does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

import attrs

from campaign_core._validate import v_id
from campaign_core.audience import audience_for, fan_record
from campaign_core.criteria import Explanation, compile_criteria
from campaign_core.errors import NotFoundError, ProblemCollector
from campaign_core.jobs.segments import segment_size_cache
from campaign_core.permissions import Permission
from campaign_core.query import And, Eq, In
from campaign_core.services._segment_scope import SegmentScope

__all__ = ["SEGMENT_SIZE_TTL", "CriteriaEvaluation", "SegmentSizes"]

SEGMENT_SIZE_TTL: Final = timedelta(minutes=5)
"""How long ``calculate_segment_size`` answers from its cache (the seed's TTL)."""


@attrs.frozen
class CriteriaEvaluation:
    """Whether one fan matches criteria, and why.

    Attributes:
        fan_id: the fan.
        matched: the verdict.
        criteria: the canonical criteria evaluated.
        explanation: every node with the value seen and its result (``to_json()``).
    """

    fan_id: str
    matched: bool
    criteria: dict[str, Any]
    explanation: Explanation

    def to_json(self) -> dict[str, Any]:
        return {
            "fanId": self.fan_id,
            "matched": self.matched,
            "criteria": self.criteria,
            "explanation": self.explanation.to_json(),
        }


class SegmentSizes(SegmentScope):
    """Criteria sizes and one fan's explanation (``ws.segments`` delegates here)."""

    def calculate_segment_size(self, criteria: Any) -> int:
        """See :meth:`SegmentService.calculate_segment_size` (the public face of this method)."""
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        tree = self._criteria(criteria, problems)
        problems.raise_if_any()
        assert tree is not None
        cache = segment_size_cache(self._rt)
        key = (self._account, tree)  # a Criteria keeps its hash
        cached = cache.get(key)
        if isinstance(cached, int):
            return cached
        now = self._rt.now()
        with self._rt.transaction(read_only=True) as tx:
            self._check_references(tx, tree, "\x00size")
            size = audience_for(tx.uow).count_matching(
                self._account, tree, now=now, registry=self.registry
            )
        cache.put(key, size)
        return size

    def evaluate_criteria(self, fan_id: str, criteria: Any) -> CriteriaEvaluation:
        """See :meth:`SegmentService.evaluate_criteria` (the public face of this method)."""
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        tree = self._criteria(criteria, problems)
        problems.raise_if_any()
        assert tree is not None
        now = self._rt.now()
        with self._rt.transaction() as tx:
            self._check_references(tx, tree, "\x00evaluate")
            found = tx.uow.fans.find(
                And(Eq("owner_id", self._account), Eq("fan_id", fan_id)), limit=1
            )
            if not found:
                raise NotFoundError("fan", fan_id)
            names = sorted(tree.event_names())
            events = (
                tx.uow.fan_events.find(
                    And(Eq("owner_id", self._account), Eq("fan_id", fan_id), In("name", names))
                )
                if names
                else []
            )
            referenced = sorted(tree.segment_ids())
            memberships = {
                row.segment_id
                for row in (
                    tx.uow.segment_members.find(
                        And(In("segment_id", referenced), Eq("fan_id", fan_id))
                    )
                    if referenced
                    else []
                )
            }
        compiled = compile_criteria(tree, registry=self.registry)
        explanation = compiled.explain(
            fan_record(found[0], self.registry), events, now=now, segments=memberships
        )
        return CriteriaEvaluation(
            fan_id=fan_id,
            matched=explanation.matched,
            criteria=tree.to_json(),
            explanation=explanation,
        )
