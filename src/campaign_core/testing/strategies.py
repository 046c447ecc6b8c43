"""Hypothesis strategies for hosts' property-based tests, and a state machine over the engine.

Each strategy draws the input a host passes to a service, in the shape the
service takes (the seed's camelCase where the seed uses it)::

    from hypothesis import given
    from campaign_core.testing import strategies as cst

    @given(cst.campaigns())
    def test_any_valid_campaign_is_accepted(fields):
        ws.campaigns.create_campaign(**fields)

- valid and deliberately invalid inputs: :func:`campaigns` /
  :func:`invalid_campaigns` (``create_campaign`` keyword arguments),
  :func:`fans` / :func:`invalid_fans` (``upsert_fan`` arguments),
  :func:`criteria` / :func:`invalid_criteria` (the three forms ``normalize``
  takes: the seed's shorthand, expression strings, the canonical JSON tree);
- :func:`workflows` (the seed's workflow shape), :func:`event_streams` (fan
  events over time), :func:`tracking_events` and :func:`tracking_batches`;
- for the evaluators: ``criteria_trees`` and :func:`criteria_populations`
  (fans as evaluator input, with events and memberships) over
  ``CRITERIA_REGISTRY``;
- :class:`EngineMachine`: a ``RuleBasedStateMachine`` driving the core (fans,
  events, workflows, campaigns, time and ``tick``) on a store and ports a
  subclass provides, checking the engine's guarantees after every step.

This module imports hypothesis (a test dependency); the pytest-free helpers
are in :mod:`campaign_core.testing.helpers`.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from campaign_core._core import CampaignCore, RecordingMessenger
from campaign_core.analytics import EventBatch
from campaign_core.clock import FakeClock
from campaign_core.ids import SequentialIds
from campaign_core.permissions import Actor
from campaign_core.ports import Store
from campaign_core.testing._criteria_strategies import NOW as CRITERIA_NOW
from campaign_core.testing._criteria_strategies import REGISTRY as CRITERIA_REGISTRY
from campaign_core.testing._criteria_strategies import SEGMENTS as CRITERIA_SEGMENTS
from campaign_core.testing._criteria_strategies import fans as evaluator_fans
from campaign_core.testing._criteria_strategies import populations as criteria_populations
from campaign_core.testing._criteria_strategies import trees as criteria_trees

__all__ = [
    "CRITERIA_NOW",
    "CRITERIA_REGISTRY",
    "CRITERIA_SEGMENTS",
    "EngineMachine",
    "campaigns",
    "criteria",
    "criteria_populations",
    "criteria_trees",
    "evaluator_fans",
    "event_streams",
    "fans",
    "invalid_campaigns",
    "invalid_criteria",
    "invalid_fans",
    "tracking_batches",
    "tracking_events",
    "workflows",
]

T0 = datetime(2026, 3, 2, tzinfo=UTC)
CAMPAIGN_TYPES = ("ppv", "subscription", "promotion", "engagement", "retention")
PLATFORMS = ("onlyfans", "instagram", "tiktok", "reddit")
SPENDING_LEVELS = ("none", "low", "medium", "high", "vip")
SUBSCRIPTION_STATUSES = ("active", "expired", "cancelled", "none")
FAN_IDS = tuple(f"fan-{n}" for n in range(1, 9))
EVENT_NAMES = ("fan.subscribed", "message.opened", "purchase", "content.viewed")

_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=30).map(
    lambda s: s.strip() or "x"
)


@st.composite
def campaigns(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments ``create_campaign`` accepts (and ``launch_campaign`` can launch).

    Every platform drawn gets content it accepts: a short title and
    description, one image (Instagram and TikTok need media).
    """
    platforms = draw(st.lists(st.sampled_from(PLATFORMS), min_size=1, max_size=4, unique=True))
    fields: dict[str, Any] = {
        "name": draw(_words).title(),
        "type": draw(st.sampled_from(CAMPAIGN_TYPES)),
        "platforms": platforms,
        "content": {"title": draw(_words), "description": draw(_words)},
        "media_urls": ["https://cdn.example.com/a.jpg"],
    }
    if draw(st.booleans()):
        fields["budget"] = draw(st.integers(1, 10_000))
    if draw(st.booleans()):
        fields["description"] = draw(_words)
    return fields


@st.composite
def invalid_campaigns(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid campaign with one deliberate mistake, and the path of the problem it must report."""
    fields = draw(campaigns())
    mistake = draw(
        st.sampled_from(
            [
                ("name", ""),
                ("name", 42),
                ("type", "banner"),
                ("platforms", ["myspace"]),
                ("budget", -5),
                ("content", "not an object"),
                ("media_urls", "https://cdn.example.com/a.jpg"),
                ("colour", "red"),
            ]
        )
    )
    field, value = mistake
    fields[field] = value
    return fields, field


@st.composite
def fans(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """``(fan_id, fields)`` that ``upsert_fan(fan_id, **fields)`` accepts (no custom traits)."""
    fields: dict[str, Any] = {}
    choices: dict[str, st.SearchStrategy[Any]] = {
        "platform": st.sampled_from(PLATFORMS),
        "spending_level": st.sampled_from(SPENDING_LEVELS),
        "subscription_status": st.sampled_from(SUBSCRIPTION_STATUSES),
        "engagement": st.floats(0, 100, allow_nan=False).map(lambda v: round(v, 2)),
        "lifetime_value": st.floats(0, 5_000, allow_nan=False).map(lambda v: round(v, 2)),
        "time_zone": st.sampled_from(("UTC", "Europe/Paris", "America/New_York")),
        "opted_out": st.booleans(),
    }
    for name, values in choices.items():
        if draw(st.booleans()):
            fields[name] = draw(values)
    return draw(st.sampled_from(FAN_IDS)), fields


@st.composite
def invalid_fans(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    """``(fan_id, fields, path)``: fields with one mistake and the path of the problem."""
    fan_id, fields = draw(fans())
    field, value = draw(
        st.sampled_from(
            [
                ("spending_level", "platinum"),
                ("engagement", -1),
                ("engagement", "high"),
                ("platform", "myspace"),
                ("time_zone", "Mars/Olympus"),
                ("opted_out", "yes"),
                ("favourite_colour", "red"),
            ]
        )
    )
    fields[field] = value
    return fan_id, fields, field


_shorthand_number = st.sampled_from(("engagement", "lifetimeValue"))
_comparison = st.sampled_from((">", ">=", "<", "<="))


@st.composite
def _shorthand(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["spendingLevel"] = draw(st.sampled_from(SPENDING_LEVELS))
    if draw(st.booleans()) or not out:
        op, value = draw(_comparison), draw(st.sampled_from((0, 14, 50, 100)))
        out[draw(_shorthand_number)] = f"{op}{value}"
    return out


@st.composite
def _expression(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            op, value = draw(_comparison), draw(st.sampled_from((0, 14, 50, 100)))
            parts.append(f"{draw(st.sampled_from(('engagement', 'lifetime_value')))} {op} {value}")
        else:
            op = draw(st.sampled_from(("=", "!=")))
            parts.append(f"spending_level {op} '{draw(st.sampled_from(SPENDING_LEVELS))}'")
    joiner = draw(st.sampled_from((" and ", " or ")))
    return joiner.join(parts)


def criteria() -> st.SearchStrategy[Any]:
    """Criteria in each of the three forms ``normalize`` takes, over the built-in fields.

    The seed's shorthand (``{"spendingLevel": "high", "engagement": ">50"}``),
    expression strings (``"engagement >= 14 and spending_level != 'low'"``) and
    canonical JSON trees (``criteria_trees``; those use the traits of
    ``CRITERIA_REGISTRY`` and the segments ``CRITERIA_SEGMENTS``).
    """
    return st.one_of(_shorthand(), _expression(), criteria_trees)


def invalid_criteria() -> st.SearchStrategy[Any]:
    """Criteria ``normalize`` refuses with a ``ValidationError`` (one mistake each)."""
    return st.sampled_from(
        [
            {"favouriteColour": "red"},
            {"engagement": ">>50"},
            "engagement >",
            "spending_level = ",
            {"version": 1, "root": {"field": "engagement", "op": "sounds_like", "value": 1}},
            {"version": 1, "root": {"field": "engagement", "op": "gt", "value": "high"}},
            {"version": 99, "root": {"all": []}},
            {"version": 1, "root": {"field": "spending_level", "op": "eq", "value": "platinum"}},
            42,
        ]
    )


_durations = st.sampled_from(("5 minutes", "1 hour", "24 hours", "3 days"))


@st.composite
def _action(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    kind = draw(st.sampled_from(("wait", "send_message", "send_message", "check_engagement")))
    if kind == "wait" or (depth > 0 and kind == "check_engagement"):
        return {"type": "wait", "duration": draw(_durations)}
    if kind == "send_message":
        action: dict[str, Any] = {
            "type": "send_message",
            "template": draw(st.sampled_from(("welcome_message", "offer", "re_engagement"))),
        }
        if draw(st.booleans()):
            action["personalize"] = True
        return action
    return {
        "type": "check_engagement",
        "condition": draw(st.sampled_from(("engagement < 1", "engagement >= 1"))),
        "ifTrue": draw(_action(depth + 1)),
    }


@st.composite
def workflows(draw: st.DrawFn) -> dict[str, Any]:
    """Workflows in the seed's shape: an event trigger and 1-5 waits, messages and checks."""
    return {
        "name": draw(_words).title(),
        "trigger": {"type": "event", "event": draw(st.sampled_from(EVENT_NAMES[:2]))},
        "actions": draw(st.lists(_action(), min_size=1, max_size=5)),
    }


@st.composite
def event_streams(draw: st.DrawFn, max_size: int = 30) -> list[tuple[str, str, int]]:
    """``(fan_id, event name, minutes after the start)`` in time order."""
    events = draw(
        st.lists(
            st.tuples(
                st.sampled_from(FAN_IDS), st.sampled_from(EVENT_NAMES), st.integers(0, 7 * 24 * 60)
            ),
            max_size=max_size,
        )
    )
    return sorted(events, key=lambda e: e[2])


TRACKING_KINDS = ("impression", "click", "conversion", "spend")
TRACKING_PLATFORMS = ("instagram", "tiktok", "reddit", None)
TRACKING_VARIANTS = ("A", "B", None)
TRACKING_FANS = ("fan-1", "fan-2", "fan-3", "fan-4", "fan-5", None)


@st.composite
def tracking_events(
    draw: st.DrawFn, max_size: int = 120, days: int = 10, start: datetime = T0
) -> list[dict[str, Any]]:
    """Tracking events as the seed's dicts (``kind``, ``occurredAt``, ``fanId``...).

    Values only on conversions and spend; times within ``days`` from ``start``.
    """
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        kind = draw(st.sampled_from(TRACKING_KINDS))
        value = (
            draw(st.floats(0, 500, allow_nan=False).map(lambda v: round(v, 2)))
            if kind in ("conversion", "spend")
            else 0.0
        )
        out.append(
            {
                "kind": kind,
                "occurredAt": start + timedelta(minutes=draw(st.integers(0, days * 24 * 60 - 1))),
                "fanId": draw(st.sampled_from(TRACKING_FANS)),
                "platform": draw(st.sampled_from(TRACKING_PLATFORMS)),
                "variantId": draw(st.sampled_from(TRACKING_VARIANTS)),
                "value": value,
            }
        )
    return out


def tracking_batches(max_size: int = 120, days: int = 10) -> st.SearchStrategy[EventBatch]:
    """:func:`tracking_events` as a columnar :class:`~campaign_core.analytics.EventBatch`."""

    def batch(events: list[dict[str, Any]]) -> EventBatch:
        return EventBatch.from_columns(
            kind=[e["kind"] for e in events],
            occurred_at=[e["occurredAt"] for e in events],
            value=[e["value"] for e in events],
            fan_id=[e["fanId"] for e in events],
            platform=[e["platform"] for e in events],
            variant_id=[e["variantId"] for e in events],
        )

    return tracking_events(max_size=max_size, days=days).map(batch)


# -- the engine, driven by a state machine ------------------------------------------------------

OWNER = "creator-1"


class EngineMachine(RuleBasedStateMachine):
    """Fans, events, workflows, campaigns, time and ``tick()`` in any order; guarantees checked.

    After every step: no message went out twice (the engine's idempotency keys
    are unique), every message went to a fan of the account, ``tick()``
    reported no error, and every scheduled campaign that came due is active.

    A host subclasses it to run the engine on its own store and ports::

        from campaign_core.testing.strategies import EngineMachine

        class MyStoreEngine(EngineMachine):
            def make_store(self):
                return MyStore()

        TestMyStoreEngine = MyStoreEngine.TestCase

    Override :meth:`make_store` (default: a new in-memory store) and
    :meth:`make_core` (default: the core with a recording messenger and
    sequential ids) to plug in your own.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0)
        self.messenger = RecordingMessenger()
        self.store = self.make_store()
        self.core = self.make_core(self.store, self.clock, self.messenger)
        self.ws = self.core.for_actor(Actor(OWNER))
        self.known_fans: set[str] = set()
        self.workflow_count = 0
        self.scheduled: dict[str, Any] = {}
        self.errors: list[Any] = []

    # -- what a host overrides -------------------------------------------------------------
    def make_store(self) -> Store:
        """The store under test (a new, empty one per example)."""
        from campaign_core_memory import InMemoryStore

        return InMemoryStore()

    def make_core(
        self, store: Store, clock: FakeClock, messenger: RecordingMessenger
    ) -> CampaignCore:
        """The core the machine drives; keep ``clock`` and ``messenger`` (the checks read them)."""
        return CampaignCore(store, clock=clock, messenger=messenger, ids=SequentialIds())

    def teardown(self) -> None:
        """Close the store."""
        self.store.close()

    # -- rules -----------------------------------------------------------------------------
    @rule(data=st.data())
    def add_fan(self, data: st.DataObject) -> None:
        """A fan is created or updated with valid fields."""
        fan_id, fields = data.draw(fans())
        self.ws.fans.upsert_fan(fan_id, **fields)
        self.known_fans.add(fan_id)

    @rule(
        fan=st.sampled_from(("fan-1", "fan-2", "fan-3")),
        name=st.sampled_from(("fan.subscribed", "message.opened", "purchase")),
    )
    def record_event(self, fan: str, name: str) -> None:
        """A fan does something (the fan is created if new); event triggers fire."""
        self.ws.fans.record_event(fan, name)
        self.known_fans.add(fan)

    @precondition(lambda self: self.workflow_count < 3)
    @rule(data=st.data())
    def create_workflow(self, data: st.DataObject) -> None:
        """An active workflow in the seed's shape is created."""
        self.ws.automations.create_workflow(data.draw(workflows()), activate=True)
        self.workflow_count += 1

    @precondition(lambda self: len(self.scheduled) < 3)
    @rule(data=st.data(), hours=st.integers(1, 48))
    def schedule_campaign(self, data: st.DataObject, hours: int) -> None:
        """A valid campaign is created and scheduled for later."""
        campaign = self.ws.campaigns.create_campaign(**data.draw(campaigns()))
        when = self.clock.now() + timedelta(hours=hours)
        self.ws.campaigns.schedule_campaign(campaign.id, when)
        self.scheduled[campaign.id] = when

    @rule(minutes=st.sampled_from((1, 5, 60, 24 * 60, 3 * 24 * 60)))
    def advance_and_tick(self, minutes: int) -> None:
        """Time passes and a worker ticks."""
        self.clock.advance(timedelta(minutes=minutes))
        self.errors.extend(self.core.tick().errors)

    # -- guarantees ------------------------------------------------------------------------
    @invariant()
    def no_message_is_sent_twice(self) -> None:
        """Every idempotency key went out once."""
        keys = Counter(m["idempotency_key"] for m in self.messenger.messages)
        assert not [k for k, n in keys.items() if n > 1], keys

    @invariant()
    def messages_go_to_the_accounts_fans(self) -> None:
        """Every message went to a fan this account has."""
        for message in self.messenger.messages:
            assert message["owner_id"] == OWNER
            assert message["fan_id"] in self.known_fans

    @invariant()
    def ticks_report_no_errors(self) -> None:
        """tick() logged no failure."""
        assert not self.errors, self.errors

    @invariant()
    def due_campaigns_are_launched(self) -> None:
        """A scheduled campaign whose time has come (and a tick since) is active."""
        for campaign_id, when in self.scheduled.items():
            # the clock only moves in advance_and_tick, which ticks: a due campaign had its tick
            if when <= self.clock.now():
                assert self.ws.campaigns.get_campaign(campaign_id).status == "active"
