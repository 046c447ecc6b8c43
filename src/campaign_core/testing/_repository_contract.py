"""The repository contract on one entity: copies, time, transactions, updates, queries, claims."""

from __future__ import annotations

import itertools
import threading
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from campaign_core.errors import ConflictError, NotFoundError, ValidationError
from campaign_core.models import CampaignTemplate, FanEvent, Platform, PublishJob
from campaign_core.ports import Store
from campaign_core.query import (
    And,
    Eq,
    Gt,
    Gte,
    HasAny,
    In,
    IsNull,
    Lt,
    Lte,
    Ne,
    Not,
    NotIn,
    NotNull,
    Or,
    Order,
    TextMatch,
    matches,
)
from campaign_core.query import Cond as _Cond
from campaign_core.testing.helpers import T0, make_campaign

__all__ = ["RepositoryContract"]

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def _job(**changes: Any) -> PublishJob:
    base: dict[str, Any] = {
        "id": "job-1",
        "campaign_id": "camp-1",
        "owner_id": "owner-1",
        "platform": "instagram",
        "content_version": 1,
        "idempotency_key": "camp-1:instagram:v1",
        "created_at": T0,
        "updated_at": T0,
    }
    base.update(changes)
    return PublishJob(**base)


class RepositoryContract:
    """The repository methods in depth, on campaigns, templates and publish jobs."""

    # -- basics ------------------------------------------------------------------
    def test_added_record_reads_back_equal(self, store: Store) -> None:
        """A record added and committed reads back equal, field for field."""
        record = make_campaign(
            content={"title": "Hi", "nested": {"list": [1, 2.5, "x", None, True]}},
            platforms=("instagram", "reddit"),
            segment_ids=("s1", "s2"),
            media_urls=("https://cdn.example/a.jpg",),
            scheduled_for=datetime(2026, 2, 1, 12, 30, 15, 123000, tzinfo=UTC),
            budget=99.5,
            goals={"conversions": 10},
            is_ab_test=True,
        )
        with store.unit_of_work() as uow:
            uow.campaigns.add(record)
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.campaigns.get(record.id) == record

    def test_missing_id_reads_none(self, store: Store) -> None:
        """Getting an id that does not exist returns None."""
        with store.unit_of_work() as uow:
            assert uow.campaigns.get("nope") is None

    def test_datetimes_come_back_aware_utc_to_the_millisecond(self, store: Store) -> None:
        """Datetimes in any zone come back in UTC, truncated to milliseconds."""
        paris = timezone(timedelta(hours=1))
        at = datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=paris)
        record = make_campaign(scheduled_for=at)
        with store.unit_of_work() as uow:
            uow.campaigns.add(record)
            uow.commit()
        with store.unit_of_work() as uow:
            got = uow.campaigns.get(record.id)
        assert got is not None
        assert got.scheduled_for is not None
        assert got.scheduled_for.tzinfo is not None
        assert got.scheduled_for.utcoffset() == timedelta(0)
        assert got.scheduled_for == datetime(2026, 5, 1, 9, 0, 0, 123000, tzinfo=UTC)

    def test_returned_records_are_copies(self, store: Store) -> None:
        """Mutating a returned record's JSON never changes what is stored."""
        record = make_campaign(content={"title": "A", "tags": ["x"]})
        with store.unit_of_work() as uow:
            uow.campaigns.add(record)
            record.content["title"] = "mutated after add"
            uow.commit()
        with store.unit_of_work() as uow:
            got = uow.campaigns.get(record.id)
            assert got is not None
            got.content["tags"].append("y")
            again = uow.campaigns.get(record.id)
        assert again is not None
        assert again.content == {"title": "A", "tags": ["x"]}

    def test_duplicate_id_conflicts(self, store: Store) -> None:
        """Adding an id that exists raises ConflictError."""
        record = make_campaign()
        with store.unit_of_work() as uow:
            uow.campaigns.add(record)
            with pytest.raises(ConflictError):
                uow.campaigns.add(attrs.evolve(record, name="other"))

    def test_unit_of_work_stays_usable_after_a_failed_write(self, store: Store) -> None:
        """A write that fails changes nothing, and the unit of work goes on."""
        record = make_campaign(id="u1")
        with store.unit_of_work() as uow:
            uow.campaigns.add(record)
            with pytest.raises(ConflictError):
                uow.campaigns.add(attrs.evolve(record, name="dup"))
            with pytest.raises(ConflictError):
                uow.campaigns.update(attrs.evolve(record, name="stale", version=5))
            uow.campaigns.add(make_campaign(id="u2"))
            uow.commit()
        with store.unit_of_work() as uow:
            assert sorted(c.id for c in uow.campaigns.find()) == ["u1", "u2"]
            assert uow.campaigns.get("u1") == record

    def test_unique_key_conflicts_and_nulls_are_distinct(self, store: Store) -> None:
        """A unique key clash raises ConflictError; keys with a NULL never clash."""
        with store.unit_of_work() as uow:
            uow.publish_jobs.add(_job())
            with pytest.raises(ConflictError):
                uow.publish_jobs.add(_job(id="job-2"))
        template = CampaignTemplate(
            id="t1", name="T", niche="general", type="ppv", created_at=T0, updated_at=T0, key="k"
        )
        with store.unit_of_work() as uow:
            uow.templates.add(template)
            uow.templates.add(attrs.evolve(template, id="t2"))  # owner NULL: no clash
            uow.templates.add(attrs.evolve(template, id="t3", owner_id="o1"))
            with pytest.raises(ConflictError):
                uow.templates.add(attrs.evolve(template, id="t4", owner_id="o1"))

    # -- transactions ------------------------------------------------------------
    def test_uncommitted_writes_roll_back(self, store: Store) -> None:
        """Leaving a unit of work without commit discards its writes."""
        with store.unit_of_work() as uow:
            uow.campaigns.add(make_campaign(id="gone"))
        with store.unit_of_work() as uow:
            assert uow.campaigns.get("gone") is None

    def test_exception_rolls_back_everything(self, store: Store) -> None:
        """An exception inside a unit of work undoes all of its writes."""
        keep = make_campaign(id="keep")
        with store.unit_of_work() as uow:
            uow.campaigns.add(keep)
            uow.commit()
        with pytest.raises(RuntimeError), store.unit_of_work() as uow:  # noqa: PT012
            uow.campaigns.add(make_campaign(id="new"))
            uow.campaigns.update(attrs.evolve(keep, name="changed", version=2))
            uow.campaigns.delete_where(Eq("id", "keep"))
            raise RuntimeError("boom")
        with store.unit_of_work() as uow:
            assert uow.campaigns.get("new") is None
            assert uow.campaigns.get("keep") == keep

    def test_failed_batch_inserts_nothing(self, store: Store) -> None:
        """add_many is all or nothing."""
        with store.unit_of_work() as uow:
            uow.campaigns.add(make_campaign(id="b2"))
            uow.commit()
        with store.unit_of_work() as uow:
            with pytest.raises(ConflictError):
                uow.campaigns.add_many([make_campaign(id="b1"), make_campaign(id="b2")])
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.campaigns.get("b1") is None

    # -- updates -----------------------------------------------------------------
    def test_versioned_update_and_stale_write(self, store: Store) -> None:
        """An update with the next version succeeds; a stale one raises ConflictError."""
        record = make_campaign()
        with store.unit_of_work() as uow:
            uow.campaigns.add(record)
            uow.commit()
        with store.unit_of_work() as uow:
            uow.campaigns.update(attrs.evolve(record, name="v2", version=2))
            with pytest.raises(ConflictError):
                uow.campaigns.update(attrs.evolve(record, name="stale", version=2))
            uow.commit()
        with store.unit_of_work() as uow:
            got = uow.campaigns.get(record.id)
        assert got is not None
        assert (got.name, got.version) == ("v2", 2)

    def test_update_many_writes_only_the_named_fields(self, store: Store) -> None:
        """update_many writes ``fields`` (and the version) of each record; the rest is kept."""
        records = [make_campaign(id=f"um{i}", name=f"n{i}", spent=float(i)) for i in range(3)]
        with store.unit_of_work() as uow:
            uow.campaigns.add_many(records)
            uow.commit()
        changed = [
            attrs.evolve(r, name=f"new{i}", spent=99.0, version=2) for i, r in enumerate(records)
        ]
        with store.unit_of_work() as uow:
            uow.campaigns.update_many(changed, fields=["name"])
            uow.commit()
        with store.unit_of_work() as uow:
            got = uow.campaigns.find(In("id", ["um0", "um1", "um2"]), order_by=[Order("id")])
        assert [(g.name, g.spent, g.version) for g in got] == [
            ("new0", 0.0, 2),
            ("new1", 1.0, 2),
            ("new2", 2.0, 2),
        ]
        # all fields when none are named
        with store.unit_of_work() as uow:
            uow.campaigns.update_many([attrs.evolve(got[0], spent=5.0, version=3)])
            uow.commit()
            assert uow.campaigns.get("um0") == attrs.evolve(got[0], spent=5.0, version=3)

    def test_update_many_is_all_or_nothing_on_a_stale_record(self, store: Store) -> None:
        """One stale or missing record: ConflictError (reason "stale") and nothing written."""
        records = [make_campaign(id=f"us{i}") for i in range(3)]
        with store.unit_of_work() as uow:
            uow.campaigns.add_many(records)
            uow.campaigns.update(attrs.evolve(records[1], name="moved on", version=2))
            uow.commit()
        batches = [
            [attrs.evolve(r, name="batch", version=2) for r in records],  # us1 is stale
            [
                attrs.evolve(records[0], name="batch", version=2),
                make_campaign(id="gone", version=2),
            ],
        ]
        said = ["'us1' (batch item 1) was changed by someone else (stored version 2, expected 1)"]
        said.append("'gone' (batch item 1) no longer exists")
        for batch, stale_id, says in zip(batches, ["us1", "gone"], said, strict=True):
            with store.unit_of_work() as uow:
                with pytest.raises(ConflictError) as raised:
                    uow.campaigns.update_many(batch, fields=["name"])
                assert raised.value.details["reason"] == "stale"
                assert raised.value.details["id"] == stale_id  # the error says which, and why
                assert says in str(raised.value)
                # the unit of work is still usable, and nothing of the batch was written
                assert [r.name for r in uow.campaigns.find(order_by=[Order("id")])] == [
                    records[0].name,
                    "moved on",
                    records[2].name,
                ]
                uow.commit()

    def test_update_many_edge_batches(self, store: Store) -> None:
        """Repeated field names count once; one id twice is refused; no field to write is a no-op."""
        record = make_campaign(id="ue")
        event = FanEvent(
            id="ev-1", owner_id="o", fan_id="f", name="n", occurred_at=T0, created_at=T0
        )
        with store.unit_of_work() as uow:
            uow.campaigns.add(record)
            uow.fan_events.add(event)
            uow.campaigns.update_many(
                [attrs.evolve(record, name="twice", version=2)], fields=["name", "name"]
            )
            assert uow.campaigns.get("ue") == attrs.evolve(record, name="twice", version=2)
            again = attrs.evolve(record, name="again", version=3)
            with pytest.raises(ConflictError) as duplicate:
                uow.campaigns.update_many([again, again], fields=["name"])
            assert duplicate.value.details["reason"] == "duplicate_in_batch"
            assert uow.campaigns.get("ue") == attrs.evolve(record, name="twice", version=2)
            # an unversioned record with no field named: nothing to write, nothing checked
            uow.fan_events.update_many([attrs.evolve(event, name="x")], fields=[])
            assert uow.fan_events.get("ev-1") == event

    def test_local_times_that_differ_by_fold_stay_different_instants(self, store: Store) -> None:
        """01:30 New York time, before and after clocks go back, are stored an hour apart."""
        first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)
        second = first.replace(fold=1)
        with store.unit_of_work() as uow:
            uow.campaigns.add_many(
                [
                    make_campaign(id="fold-0", scheduled_for=first),
                    make_campaign(id="fold-1", scheduled_for=second),
                ]
            )
            uow.commit()
        with store.unit_of_work() as uow:
            got = [uow.campaigns.get(f"fold-{i}") for i in (0, 1)]
        assert [g.scheduled_for for g in got if g] == [
            datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
            datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
        ]

    def test_update_many_refuses_unknown_fields(self, store: Store) -> None:
        """An unknown field name: ValidationError with its path, nothing written."""
        record = make_campaign(id="uv")
        with store.unit_of_work() as uow:
            uow.campaigns.add(record)
            uow.commit()
        with store.unit_of_work() as uow:
            with pytest.raises(ValidationError) as raised:
                uow.campaigns.update_many(
                    [attrs.evolve(record, name="x", version=2)], fields=["name", "nmae"]
                )
            assert [p.path for p in raised.value.problems] == ["fields[1]"]
            assert raised.value.problems[0].code == "unknown_field"
            uow.campaigns.update_many([])  # an empty batch is a no-op
            assert uow.campaigns.get("uv") == record

    def test_update_of_missing_record_is_not_found(self, store: Store) -> None:
        """Updating or incrementing a missing id raises NotFoundError."""
        with store.unit_of_work() as uow:
            with pytest.raises(NotFoundError):
                uow.campaigns.update(make_campaign(id="ghost", version=2))
            with pytest.raises(NotFoundError):
                uow.campaigns.increment("ghost", {"spent": 1.0})

    def test_increment_adds_exactly(self, store: Store) -> None:
        """increment adds to numeric fields without touching the version."""
        record = make_campaign(spent=1.25)
        with store.unit_of_work() as uow:
            uow.campaigns.add(record)
            uow.campaigns.increment(record.id, {"spent": 2.5})
            uow.campaigns.increment(record.id, {"spent": -0.75})
            uow.commit()
        with store.unit_of_work() as uow:
            got = uow.campaigns.get(record.id)
        assert got is not None
        assert got.spent == pytest.approx(3.0)
        assert got.version == 1

    def test_concurrent_increments_are_exact(self, store: Store) -> None:
        """Increments from several threads all count."""
        with store.unit_of_work() as uow:
            uow.templates.add(
                CampaignTemplate(
                    id="t", name="T", niche="general", type="ppv", created_at=T0, updated_at=T0
                )
            )
            uow.commit()

        def work() -> None:
            for _ in range(10):
                with store.unit_of_work() as uow:
                    uow.templates.increment("t", {"usage_count": 1})
                    uow.commit()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with store.unit_of_work() as uow:
            got = uow.templates.get("t")
        assert got is not None
        assert got.usage_count == 40

    def test_delete(self, store: Store) -> None:
        """delete removes one record; delete_where removes every match and counts them."""
        with store.unit_of_work() as uow:
            uow.campaigns.add_many(
                [make_campaign(id=f"d{i}", user_id="a" if i < 3 else "b") for i in range(5)]
            )
            assert uow.campaigns.delete("d0") is True
            assert uow.campaigns.delete("d0") is False
            assert uow.campaigns.delete_where(Eq("user_id", "a")) == 2
            uow.commit()
        with store.unit_of_work() as uow:
            assert sorted(c.id for c in uow.campaigns.find()) == ["d3", "d4"]

    # -- queries -----------------------------------------------------------------
    def _population(self, store: Store) -> None:
        rows = [
            make_campaign(
                id="q1",
                name="Spring Sale",
                budget=10.0,
                platforms=("instagram", "tiktok"),
                scheduled_for=T0 + timedelta(days=1),
                description="big 50% off_sale",
            ),
            make_campaign(
                id="q2", name="summer", budget=None, platforms=("reddit",), scheduled_for=None
            ),
            make_campaign(
                id="q3",
                name="Autumn",
                budget=30.0,
                platforms=(),
                status="active",
                started_at=T0,  # as a launch leaves it (a SQL server checks it)
                scheduled_for=T0 + timedelta(days=3),
            ),
            make_campaign(
                id="q4",
                name="winter SALE",
                budget=20.0,
                platforms=("tiktok",),
                user_id="owner-2",
                scheduled_for=T0 + timedelta(days=2),
            ),
        ]
        with store.unit_of_work() as uow:
            uow.campaigns.add_many(rows)
            uow.commit()

    def _ids(self, store: Store, where: Any, **kwargs: Any) -> list[str]:
        with store.unit_of_work() as uow:
            return [c.id for c in uow.campaigns.find(where, **kwargs)]

    def test_conditions_follow_sql_null_semantics(self, store: Store) -> None:
        """Comparisons with a missing value never match, not even Ne, NotIn or Not."""
        self._population(store)
        by_id = [Order("id")]
        assert self._ids(store, Eq("budget", 10.0), order_by=by_id) == ["q1"]
        assert self._ids(store, Ne("budget", 10.0), order_by=by_id) == ["q3", "q4"]
        assert self._ids(store, Gt("budget", 10.0), order_by=by_id) == ["q3", "q4"]
        assert self._ids(store, Gte("budget", 20.0), order_by=by_id) == ["q3", "q4"]
        assert self._ids(store, Lt("budget", 30.0), order_by=by_id) == ["q1", "q4"]
        assert self._ids(store, Lte("budget", 10.0), order_by=by_id) == ["q1"]
        assert self._ids(store, In("budget", [10.0, 30.0]), order_by=by_id) == ["q1", "q3"]
        assert self._ids(store, In("budget", []), order_by=by_id) == []
        assert self._ids(store, NotIn("budget", [10.0]), order_by=by_id) == ["q3", "q4"]
        assert self._ids(store, Not(Eq("budget", 10.0)), order_by=by_id) == ["q3", "q4"]
        assert self._ids(store, IsNull("budget"), order_by=by_id) == ["q2"]
        assert self._ids(store, Eq("budget", None), order_by=by_id) == ["q2"]
        assert self._ids(store, NotNull("budget"), order_by=by_id) == ["q1", "q3", "q4"]
        assert self._ids(store, Gt("scheduled_for", T0 + timedelta(days=1)), order_by=by_id) == [
            "q3",
            "q4",
        ]

    def test_boolean_combinations(self, store: Store) -> None:
        """And, Or and Not combine as in SQL."""
        self._population(store)
        by_id = [Order("id")]
        assert self._ids(
            store, And(Eq("user_id", "owner-1"), Gt("budget", 5.0)), order_by=by_id
        ) == ["q1", "q3"]
        assert self._ids(store, Or(Eq("id", "q2"), Eq("status", "active")), order_by=by_id) == [
            "q2",
            "q3",
        ]
        assert self._ids(store, And(), order_by=by_id) == ["q1", "q2", "q3", "q4"]
        assert self._ids(store, Or(), order_by=by_id) == []
        assert self._ids(store, Not(Or(Eq("id", "q1"), Eq("id", "q2"))), order_by=by_id) == [
            "q3",
            "q4",
        ]

    def test_array_and_text_conditions(self, store: Store) -> None:
        """HasAny matches array overlap; TextMatch is a case-insensitive literal substring."""
        self._population(store)
        by_id = [Order("id")]
        assert self._ids(store, HasAny("platforms", [Platform.TIKTOK]), order_by=by_id) == [
            "q1",
            "q4",
        ]
        assert self._ids(store, HasAny("platforms", ["reddit", "instagram"]), order_by=by_id) == [
            "q1",
            "q2",
        ]
        assert self._ids(store, HasAny("platforms", []), order_by=by_id) == []
        assert self._ids(store, TextMatch(("name",), "sale"), order_by=by_id) == ["q1", "q4"]
        assert self._ids(store, TextMatch(("name", "description"), "50% OFF_"), order_by=by_id) == [
            "q1"
        ]
        assert self._ids(store, TextMatch(("name",), "%"), order_by=by_id) == []

    def test_every_condition_node_matches_the_reference(self, store: Store) -> None:
        """Each node of campaign_core.query, alone and combined, selects what query.matches selects."""
        self._population(store)
        leaves: list[Any] = [
            Eq("budget", 20.0),
            Eq("scheduled_for", None),
            Ne("name", "summer"),
            Gt("scheduled_for", T0 + timedelta(days=1)),
            Gte("budget", 20.0),
            Lt("scheduled_for", T0 + timedelta(days=3)),
            Lte("budget", 20.0),
            In("status", ["active", "paused"]),
            NotIn("user_id", ["owner-2"]),
            IsNull("budget"),
            NotNull("scheduled_for"),
            HasAny("platforms", ["tiktok"]),
            TextMatch(("name", "description"), "SALE"),
        ]
        conditions = [
            *leaves,
            *(Not(leaf) for leaf in leaves),
            *(And(a, b) for a, b in itertools.pairwise(leaves)),
            *(Or(a, Not(b)) for a, b in zip(leaves, leaves[2:], strict=False)),
        ]
        used = set()
        stack: list[Any] = list(conditions)
        while stack:
            node = stack.pop()
            used.add(type(node))
            stack.extend(getattr(node, "conds", ()))
            stack.extend([node.cond] if isinstance(node, Not) else [])
        assert used >= set(_Cond.__subclasses__()), "a condition node is not exercised"
        with store.unit_of_work() as uow:
            everything = uow.campaigns.find(order_by=[Order("id")])
            for where in conditions:
                expected = [c.id for c in everything if matches(c, where) is True]
                found = [c.id for c in uow.campaigns.find(where, order_by=[Order("id")])]
                assert found == expected, where
                assert uow.campaigns.count(where) == len(expected), where

    def test_text_match_folds_case_beyond_ascii(self, store: Store) -> None:
        """TextMatch folds accented and non-Latin letters too (SQLite's own lower() does not)."""
        with store.unit_of_work() as uow:
            for record_id, name in (
                ("u1", "Crème Éclair drop"),
                ("u2", "ΣΟΦΙΑ special"),
                ("u3", "plain eclair"),
            ):
                uow.campaigns.add(make_campaign(id=record_id, name=name))
            uow.commit()
        by_id = [Order("id")]
        for needle in ("Éclair", "éclair", "ÉCLAIR", "CRÈME"):
            assert self._ids(store, TextMatch(("name",), needle), order_by=by_id) == ["u1"]
        assert self._ids(store, TextMatch(("name",), "eclair"), order_by=by_id) == ["u3"]
        assert self._ids(store, TextMatch(("name",), "σοφια"), order_by=by_id) == ["u2"]

    def test_ordering_pagination_and_counts(self, store: Store) -> None:
        """Orders put missing values first ascending and last descending; limit/offset page."""
        self._population(store)
        assert self._ids(store, None, order_by=[Order("scheduled_for"), Order("id")]) == [
            "q2",
            "q1",
            "q4",
            "q3",
        ]
        assert self._ids(store, None, order_by=[Order("scheduled_for", True), Order("id")]) == [
            "q3",
            "q4",
            "q1",
            "q2",
        ]
        assert self._ids(store, None, order_by=[Order("id")], limit=2, offset=1) == ["q2", "q3"]
        assert self._ids(store, None, order_by=[Order("id")], offset=3) == ["q4"]
        with store.unit_of_work() as uow:
            assert uow.campaigns.count() == 4
            assert uow.campaigns.count(Eq("user_id", "owner-1")) == 3
            assert [c.id for c in uow.campaigns.iter_all(batch=3)] == ["q1", "q2", "q3", "q4"]

    # -- claims ------------------------------------------------------------------
    def test_claim_leases_due_records_once(self, store: Store) -> None:
        """A claim takes free records; a second claim skips leased ones until the lease expires."""
        jobs = [_job(id=f"j{i}", idempotency_key=f"k{i}") for i in range(5)]
        with store.unit_of_work() as uow:
            uow.publish_jobs.add_many(jobs)
            uow.commit()
        now = T0
        with store.unit_of_work() as uow:
            first = uow.publish_jobs.claim(
                Eq("status", "pending"),
                order_by=[Order("id")],
                limit=3,
                owner="w1",
                until=now + timedelta(minutes=5),
                now=now,
            )
            uow.commit()
        assert [j.id for j in first] == ["j0", "j1", "j2"]
        assert all(j.lease_owner == "w1" and j.version == 2 for j in first)
        with store.unit_of_work() as uow:
            second = uow.publish_jobs.claim(
                Eq("status", "pending"),
                order_by=[Order("id")],
                limit=10,
                owner="w2",
                until=now + timedelta(minutes=5),
                now=now,
            )
            uow.commit()
        assert [j.id for j in second] == ["j3", "j4"]
        later = now + timedelta(minutes=6)
        with store.unit_of_work() as uow:
            third = uow.publish_jobs.claim(
                Eq("status", "pending"),
                order_by=[Order("id")],
                limit=10,
                owner="w3",
                until=later + timedelta(minutes=5),
                now=later,
            )
            uow.commit()
        assert [j.id for j in third] == ["j0", "j1", "j2", "j3", "j4"]
        with store.unit_of_work() as uow:
            stored = uow.publish_jobs.get("j0")
        assert stored is not None
        assert stored.lease_owner == "w3"

    def test_concurrent_claims_never_share_a_record(self, store: Store) -> None:
        """Threads claiming at once each get distinct records, and all are taken."""
        jobs = [_job(id=f"c{i:03d}", idempotency_key=f"ck{i}") for i in range(60)]
        with store.unit_of_work() as uow:
            uow.publish_jobs.add_many(jobs)
            uow.commit()
        taken: list[str] = []
        lock = threading.Lock()

        def worker(name: str) -> None:
            while True:
                with store.unit_of_work() as uow:
                    got = uow.publish_jobs.claim(
                        Eq("status", "pending"),
                        order_by=[Order("id")],
                        limit=4,
                        owner=name,
                        until=T0 + timedelta(hours=1),
                        now=T0,
                    )
                    uow.commit()
                if not got:
                    return
                with lock:
                    taken.extend(j.id for j in got)

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(taken) == sorted(j.id for j in jobs)
