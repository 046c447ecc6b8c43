"""Error parity: the same typed error for the same bad input, on every store, and nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
import pytest

from campaign_core.entities import ENTITIES
from campaign_core.errors import CampaignCoreError, ConflictError, NotFoundError, ValidationError
from campaign_core.ports import Store, UnitOfWork
from campaign_core.query import Eq, Gt, In, IsNull, Not, Order, TextMatch
from campaign_core.serialization import to_json
from campaign_core.testing.helpers import T0, sample_record

__all__ = ["ErrorParityContract"]

NAIVE = datetime(2026, 1, 1, 12, 0)  # noqa: DTZ001 - the bad input under test
"""A datetime without a time zone: every store refuses it (it names no instant)."""

_Case = Callable[[UnitOfWork], object]


def _campaign(n: int, **changes: Any) -> Any:
    return sample_record("campaigns", n, **changes)


def _claim(uow: UnitOfWork, repository: str, *, now: datetime = T0, until: datetime = T0) -> object:
    return uow.repository(repository).claim(
        IsNull("lease_owner"), order_by=[Order("id")], limit=5, owner="w", until=until, now=now
    )


#: (case, bad input, the error every store raises, its first problem's code or None)
CASES: dict[str, tuple[_Case, type[CampaignCoreError], str | None]] = {
    "add: naive datetime": (
        lambda uow: uow.campaigns.add(_campaign(5, created_at=NAIVE)),
        ValidationError,
        "invalid_type",
    ),
    "add_many: naive datetime": (
        lambda uow: uow.campaigns.add_many([_campaign(5), _campaign(6, updated_at=NAIVE)]),
        ValidationError,
        "invalid_type",
    ),
    "update: naive datetime": (
        lambda uow: uow.campaigns.update(_campaign(0, version=2, updated_at=NAIVE)),
        ValidationError,
        "invalid_type",
    ),
    "update_many: naive datetime": (
        lambda uow: uow.campaigns.update_many([_campaign(0, version=2, updated_at=NAIVE)]),
        ValidationError,
        "invalid_type",
    ),
    "find: naive datetime in Eq": (
        lambda uow: uow.campaigns.find(Eq("created_at", NAIVE)),
        ValidationError,
        "invalid_type",
    ),
    "find: naive datetime in Gt": (
        lambda uow: uow.campaigns.find(Gt("created_at", NAIVE)),
        ValidationError,
        "invalid_type",
    ),
    "find: naive datetime in In": (
        lambda uow: uow.campaigns.find(Not(In("created_at", [T0, NAIVE]))),
        ValidationError,
        "invalid_type",
    ),
    "claim: naive now": (
        lambda uow: _claim(uow, "publish_jobs", now=NAIVE),
        ValidationError,
        "invalid_type",
    ),
    "add: a record of another entity": (
        lambda uow: uow.campaigns.add(sample_record("fans", 0)),
        ValidationError,
        "invalid_type",
    ),
    "find: unknown field": (
        lambda uow: uow.campaigns.find(Eq("no_such_field", 1)),
        ValidationError,
        "unknown_field",
    ),
    "find: unknown order": (
        lambda uow: uow.campaigns.find(order_by=[Order("no_such_field")]),
        ValidationError,
        "unknown_field",
    ),
    "find: unknown text field": (
        lambda uow: uow.campaigns.find(TextMatch(("name", "no_such_field"), "x")),
        ValidationError,
        "unknown_field",
    ),
    "count: unknown field": (
        lambda uow: uow.campaigns.count(Eq("no_such_field", 1)),
        ValidationError,
        "unknown_field",
    ),
    "delete_where: unknown field": (
        lambda uow: uow.campaigns.delete_where(Eq("no_such_field", 1)),
        ValidationError,
        "unknown_field",
    ),
    "claim: a type without a lease": (
        lambda uow: _claim(uow, "campaigns"),
        ValidationError,
        "unknown_field",
    ),
    "increment: unknown field": (
        lambda uow: uow.campaigns.increment(_campaign(0).id, {"no_such_field": 1}),
        ValidationError,
        "unknown_field",
    ),
    "increment: a text field": (
        lambda uow: uow.campaigns.increment(_campaign(0).id, {"name": 1}),
        ValidationError,
        "invalid_type",
    ),
    "update_many: unknown field name": (
        lambda uow: uow.campaigns.update_many([_campaign(0, version=2)], fields=["nmae"]),
        ValidationError,
        "unknown_field",
    ),
    "find: negative limit": (
        lambda uow: uow.campaigns.find(limit=-1),
        ValidationError,
        "invalid_value",
    ),
    "find: negative offset": (
        lambda uow: uow.campaigns.find(offset=-1),
        ValidationError,
        "invalid_value",
    ),
    "add: an id that exists": (
        lambda uow: uow.campaigns.add(_campaign(0, name="again")),
        ConflictError,
        None,
    ),
    "add_many: one id twice": (
        lambda uow: uow.campaigns.add_many([_campaign(7), _campaign(7)]),
        ConflictError,
        None,
    ),
    "update: stale version": (
        lambda uow: uow.campaigns.update(_campaign(0, name="lost", version=5)),
        ConflictError,
        None,
    ),
    "update: missing record": (
        lambda uow: uow.campaigns.update(_campaign(9, version=2)),
        NotFoundError,
        None,
    ),
    "increment: missing record": (
        lambda uow: uow.campaigns.increment("no-such-id", {"spent": 1.0}),
        NotFoundError,
        None,
    ),
    "update_many: missing record": (
        lambda uow: uow.campaigns.update_many([_campaign(9, version=2)]),
        ConflictError,
        None,
    ),
}


def _contents(uow: UnitOfWork) -> dict[str, list[Any]]:
    """What the unit of work sees of every entity, as JSON (to prove nothing changed)."""
    return {
        name: [to_json(r) for r in uow.repository(name).find(order_by=[Order("id")])]
        for name in ENTITIES
    }


class ErrorParityContract:
    """Each bad input raises the reference stores' typed error and changes nothing."""

    @pytest.mark.parametrize("case", sorted(CASES))
    def test_bad_input_raises_the_same_typed_error(self, store: Store, case: str) -> None:
        """The error's type and code are the memory and SQL stores'; the unit of work goes on."""
        bad, error, code = CASES[case]
        with store.unit_of_work() as uow:
            uow.campaigns.add(_campaign(0))
            uow.publish_jobs.add(sample_record("publish_jobs", 0, lease_owner=None))
            uow.commit()
        with store.unit_of_work() as uow:
            before = _contents(uow)
            with pytest.raises(CampaignCoreError) as raised:
                bad(uow)
            assert type(raised.value) is error, f"{case}: {raised.value!r}"
            if code is not None:
                assert isinstance(raised.value, ValidationError)
                assert raised.value.problems[0].code == code, raised.value.problems
            assert _contents(uow) == before
            # the unit of work is still usable after the refused input
            uow.campaigns.update(attrs.evolve(_campaign(0), name="after", version=2))
            uow.commit()
        with store.unit_of_work() as uow:
            stored = uow.campaigns.get(_campaign(0).id)
        assert stored is not None
        assert stored.name == "after"
