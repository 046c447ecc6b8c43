"""What the parts of the segment service share: one actor's view of the account's segments.

:class:`~campaign_core.services.segments.SegmentService` is composed of parts
(sizes and explanations in ``_segment_sizes``, performance and comparison in
``_segment_performance``); each checks the actor, loads segments and criteria
the same way through this base.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from campaign_core._runtime import Runtime, Service, Tx
from campaign_core.audience import registry_for, valid_segment_criteria
from campaign_core.criteria import (
    Criteria,
    FieldRegistry,
    InSegment,
    ensure_no_segment_cycle,
    normalize,
)
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.jobs.segments import forget_segment_sizes
from campaign_core.models import Segment
from campaign_core.permissions import Actor
from campaign_core.query import And, Eq, In

__all__ = ["SegmentScope"]

_CHUNK: Final = 500


class SegmentScope:
    """The segments of one account as one actor: loading and checking what a call names.

    Args:
        runtime: the core's runtime.
        actor: who acts (their account is the scope; their role is checked).
    """

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

    @property
    def _account(self) -> str:
        return self._svc.account_id

    @property
    def registry(self) -> FieldRegistry:
        """The fields criteria may use here: built-ins plus the declared traits."""
        return registry_for(self._rt.settings)

    def _load(self, tx: Tx, segment_id: Any, path: str = "segment_id") -> Segment:
        if not isinstance(segment_id, str):
            raise ValidationError.single(path, "expected a segment id", "invalid_type")
        segment: Segment = self._svc._owned(tx.uow.segments.get(segment_id), "segment", segment_id)
        return segment

    def _owned_segment(self, tx: Tx, segment_id: str) -> Segment | None:
        segment = tx.uow.segments.get(segment_id)
        return segment if segment is not None and segment.user_id == self._account else None

    def _criteria(
        self, raw: Any, problems: ProblemCollector, path: str = "criteria"
    ) -> Criteria | None:
        """Normalize criteria in any input form (problems get ``path`` in front)."""
        try:
            return normalize(raw, registry=self.registry, path=path)
        except ValidationError as error:
            problems.extend(error)
            return None

    def _check_references(
        self, tx: Tx, criteria: Criteria, segment_id: str, path: str = "criteria"
    ) -> None:
        """Referenced segments must be the account's, with no cycle back to ``segment_id``."""
        if not criteria.segment_ids():
            return  # nothing referenced: nothing to look up, no cycle possible
        problems = ProblemCollector()
        for node_path, node in criteria.nodes():
            if isinstance(node, InSegment) and self._owned_segment(tx, node.segment_id) is None:
                problems.add(
                    f"{path}.{node_path}.in_segment",
                    f"no segment {node.segment_id!r} in this account",
                    "not_found",
                )
        problems.raise_if_any()

        def resolve(other: str) -> Criteria | None:
            if other == segment_id:
                return criteria
            found = self._owned_segment(tx, other)
            return None if found is None else valid_segment_criteria(found, self.registry)

        ensure_no_segment_cycle(segment_id, criteria, resolve, path=path)

    def _check_fans(self, tx: Tx, fan_ids: Sequence[str], path: str) -> None:
        problems = ProblemCollector()
        known: set[str] = set()
        for start in range(0, len(fan_ids), _CHUNK):
            chunk = list(fan_ids[start : start + _CHUNK])
            found = tx.uow.fans.find(And(Eq("owner_id", self._account), In("fan_id", chunk)))
            known.update(f.fan_id for f in found)
        for index, fan_id in enumerate(fan_ids):
            if fan_id not in known:
                problems.add(
                    join_path(path, index), f"no fan {fan_id!r} in this account", "not_found"
                )
        problems.raise_if_any()

    def _forget_sizes(self, tx: Tx) -> None:
        rt, account = self._rt, self._account
        tx.after_commit.append(lambda: forget_segment_sizes(rt, account))
