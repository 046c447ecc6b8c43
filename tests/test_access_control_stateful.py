"""Several accounts and roles issue random calls; nobody ever touches another account's data.

Checked after every call:

- a call never returns a record of another account (no ``user_id``/``owner_id``
  of another account anywhere in its result);
- a denied call (permission, not found, validation, transition, conflict)
  leaves the store exactly as it was;
- a call that changed an audited record left an audit record for its account,
  in the same transaction, naming the actor.
"""

from __future__ import annotations

from typing import Any

import attrs
import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from campaign_core import Actor, CampaignCore, CampaignCoreError, FakeClock, SequentialIds
from campaign_core._naming import camel
from campaign_core.audit import (
    AUDITED_ENTITIES,
    COUNTER_FIELDS,
)
from campaign_core.testing.helpers import snapshot
from campaign_core_memory import InMemoryStore

ACCOUNTS = ("acct-a", "acct-b", "acct-c")
ROLES = ("owner", "admin", "editor", "viewer")


def actor(account: str, role: str) -> Actor:
    if role == "owner":
        return Actor(account)
    return Actor(f"{role}-of-{account}", role=role, account_id=account)


MEASURES = {camel(name) for name in COUNTER_FIELDS}


def substance(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without the fields that only measure (counts, activity times): not audited by design."""
    return [{k: v for k, v in row.items() if k not in MEASURES} for row in rows]


def owners_in(value: Any) -> set[str]:
    """Every account id a result mentions (records, lists, dicts, decisions)."""
    found: set[str] = set()
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if field.name in ("user_id", "owner_id", "account_id") and isinstance(item, str):
                found.add(item)
            else:
                found |= owners_in(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ("userId", "ownerId", "accountId") and isinstance(item, str):
                found.add(item)
            else:
                found |= owners_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= owners_in(item)
    return found


class AccessMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.core = CampaignCore(InMemoryStore(), clock=self.clock, ids=SequentialIds())
        self.ids: list[str] = []  # ids of anything created, by any account
        self.variant_ids: list[str] = []

    def call(self, who: Actor, method: str, *args: Any, **kwargs: Any) -> None:
        ws = self.core.for_actor(who)
        service_name, name = method.split(".")
        before = snapshot(self.core.store)
        try:
            result = getattr(getattr(ws, service_name), name)(*args, **kwargs)
        except CampaignCoreError:
            assert snapshot(self.core.store) == before, f"{method} failed but changed the store"
            return
        after = snapshot(self.core.store)
        assert owners_in(result) <= {who.account_id}, f"{method} leaked another account's data"
        changed = [
            repo
            for repo in AUDITED_ENTITIES
            if repo in after
            and repo != "ab_test_variants"
            and substance(before[repo]) != substance(after[repo])
        ]
        if changed:
            mine = [a for a in after["audit_records"] if a not in before["audit_records"]]
            assert mine, f"{method} changed {changed} without an audit record"
            assert all(a["accountId"] in (who.account_id, "") for a in mine)
            assert any(a["actorId"] == who.user_id for a in mine)
        for record in result if isinstance(result, list) else [result]:
            for attr in ("id", "test"):
                value = getattr(record, attr, None)
                if isinstance(value, str) and value not in self.ids:
                    self.ids.append(value)
                elif value is not None and hasattr(value, "id") and value.id not in self.ids:
                    self.ids.append(value.id)
            for variant in getattr(record, "variants", ()) or ():
                self.variant_ids.append(variant.id)

    def pick(self, data: st.DataObject, pool: list[str]) -> str:
        if not pool:
            return "missing-id"
        return data.draw(st.sampled_from([*pool, "missing-id"]))

    @rule(
        account=st.sampled_from(ACCOUNTS),
        role=st.sampled_from(ROLES),
        budget=st.one_of(st.none(), st.floats(-5, 1000), st.just(float("nan"))),
    )
    def create(self, account: str, role: str, budget: float | None) -> None:
        self.call(
            actor(account, role),
            "campaigns.create_campaign",
            name="C",
            type="ppv",
            platforms=["reddit"],
            content={"title": "t"},
            budget=budget,
        )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        role=st.sampled_from(ROLES),
        data=st.data(),
        method=st.sampled_from(
            [
                "campaigns.get_campaign",
                "campaigns.launch_campaign",
                "campaigns.pause_campaign",
                "campaigns.cancel_campaign",
                "campaigns.delete_campaign",
                "campaigns.duplicate_campaign",
                "campaigns.get_publish_status",
                "campaigns.get_ab_test",
                "campaigns.determine_winner",
                "campaigns.apply_winner",
            ]
        ),
    )
    def act_on(self, account: str, role: str, data: st.DataObject, method: str) -> None:
        self.call(actor(account, role), method, self.pick(data, self.ids))

    @rule(account=st.sampled_from(ACCOUNTS), role=st.sampled_from(ROLES), data=st.data())
    def update(self, account: str, role: str, data: st.DataObject) -> None:
        self.call(
            actor(account, role),
            "campaigns.update_campaign",
            self.pick(data, self.ids),
            name="renamed",
        )

    @rule(account=st.sampled_from(ACCOUNTS), role=st.sampled_from(ROLES), data=st.data())
    def spend(self, account: str, role: str, data: st.DataObject) -> None:
        self.call(actor(account, role), "campaigns.record_spend", self.pick(data, self.ids), 10)

    @rule(account=st.sampled_from(ACCOUNTS), role=st.sampled_from(ROLES), data=st.data())
    def ab_test(self, account: str, role: str, data: st.DataObject) -> None:
        self.call(
            actor(account, role),
            "campaigns.create_ab_test",
            self.pick(data, self.ids),
            [{"name": "A", "content": {}}, {"name": "B", "content": {"title": "x"}}],
        )

    @rule(account=st.sampled_from(ACCOUNTS), role=st.sampled_from(ROLES), data=st.data())
    def track(self, account: str, role: str, data: st.DataObject) -> None:
        self.call(
            actor(account, role),
            "campaigns.track_variant_performance",
            self.pick(data, self.variant_ids),
            {"impressions": 5},
        )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        role=st.sampled_from(ROLES),
        fan=st.sampled_from(["f1", "f2"]),
        engagement=st.one_of(st.floats(-1, 100), st.just(float("nan"))),
    )
    def fan(self, account: str, role: str, fan: str, engagement: float) -> None:
        self.call(actor(account, role), "fans.upsert_fan", fan, engagement=engagement)

    @rule(
        account=st.sampled_from(ACCOUNTS),
        role=st.sampled_from(ROLES),
        fan=st.sampled_from(["f1", "f2"]),
        method=st.sampled_from(
            ["fans.get_fan", "fans.export_fan", "fans.erase_fan", "fans.list_events"]
        ),
    )
    def fan_call(self, account: str, role: str, fan: str, method: str) -> None:
        self.call(actor(account, role), method, fan)

    @rule(
        account=st.sampled_from(ACCOUNTS),
        role=st.sampled_from(ROLES),
        kind=st.sampled_from(["static", "hybrid", "dynamic"]),
    )
    def segment(self, account: str, role: str, kind: str) -> None:
        criteria = None if kind == "static" else {"engagement": ">10"}
        self.call(
            actor(account, role), "segments.create_segment", name="S", type=kind, criteria=criteria
        )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        role=st.sampled_from(ROLES),
        data=st.data(),
        fan=st.sampled_from(["f1", "f2"]),
        method=st.sampled_from(["segments.add_fan_to_segment", "segments.remove_fan_from_segment"]),
    )
    def membership(
        self, account: str, role: str, data: st.DataObject, fan: str, method: str
    ) -> None:
        self.call(actor(account, role), method, fan, self.pick(data, self.ids))

    @rule(
        account=st.sampled_from(ACCOUNTS),
        role=st.sampled_from(ROLES),
        data=st.data(),
        method=st.sampled_from(
            [
                "segments.get_segment",
                "segments.refresh_segment",
                "segments.delete_segment",
                "segments.get_segment_performance",
                "automations.get_workflow",
                "automations.activate_workflow",
                "automations.delete_workflow",
            ]
        ),
    )
    def act_on_other(self, account: str, role: str, data: st.DataObject, method: str) -> None:
        self.call(actor(account, role), method, self.pick(data, self.ids))

    @rule(account=st.sampled_from(ACCOUNTS), role=st.sampled_from(ROLES))
    def workflow(self, account: str, role: str) -> None:
        self.call(
            actor(account, role),
            "automations.create_workflow",
            {
                "name": "W",
                "trigger": {"type": "event", "event": "fan.subscribed"},
                "actions": [{"type": "send_message", "template": "hi"}],
            },
        )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        role=st.sampled_from(ROLES),
        fan=st.sampled_from(["f1", "f2"]),
    )
    def event(self, account: str, role: str, fan: str) -> None:
        self.call(actor(account, role), "fans.record_event", fan, "fan.subscribed")

    @rule(account=st.sampled_from(ACCOUNTS), role=st.sampled_from(ROLES))
    def lists(self, account: str, role: str) -> None:
        self.call(actor(account, role), "campaigns.list_campaigns")
        self.call(actor(account, role), "campaigns.list_ab_tests")
        self.call(actor(account, role), "fans.list_fans")
        self.call(actor(account, role), "audit.list_records")
        self.call(actor(account, role), "segments.list_segments")
        self.call(actor(account, role), "automations.list_workflows")

    @invariant()
    def every_record_belongs_to_a_known_account(self) -> None:
        data = snapshot(self.core.store)
        for campaign in data["campaigns"]:
            assert campaign["userId"] in ACCOUNTS


AccessMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAccessControl = AccessMachine.TestCase
