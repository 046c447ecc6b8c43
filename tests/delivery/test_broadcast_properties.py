"""Hypothesis: under random consent changes, suppressions, pauses and resumes, a broadcast
never messages a fan who may not get it, and every fan who may gets exactly one message.

The model keeps each fan's state (consent to the topic, address suppressed) as the test
changes it between ticks; the messenger checks the model at the moment of each send.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds, Settings
from campaign_core.delivery import MessagingSettings
from campaign_core.testing.helpers import T0
from campaign_core_memory import InMemoryStore
from tests.delivery.helpers import OWNER, broadcast_campaign, seed_audience

FANS = 12

actions = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.integers(0, 3)),
        st.tuples(st.just("consent"), st.integers(0, FANS - 1), st.booleans()),
        st.tuples(st.just("suppress"), st.integers(0, FANS - 1)),
        st.tuples(st.just("pause")),
        st.tuples(st.just("resume")),
    ),
    max_size=25,
)


class ModelMessenger:
    def __init__(self) -> None:
        self.refused: set[str] = set()
        self.sent: dict[str, int] = {}
        self.violations: list[str] = []

    def send(
        self,
        *,
        owner_id: str,
        fan_id: str,
        template: str,
        variables: Any,
        idempotency_key: str,
        channel: str = "dm",
        address: str | None = None,
        parts: Any = None,
    ) -> str:
        if fan_id in self.refused:
            self.violations.append(fan_id)
        self.sent[fan_id] = self.sent.get(fan_id, 0) + 1
        return f"pm-{idempotency_key}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=actions, opt_in=st.booleans())
def test_no_refused_fan_is_messaged_and_every_other_once(
    script: list[tuple[Any, ...]], opt_in: bool
) -> None:
    store = InMemoryStore()
    clock = FakeClock(T0)
    messenger = ModelMessenger()
    core = CampaignCore(
        store,
        clock=clock,
        ids=SequentialIds(),
        messenger=messenger,
        settings=Settings(
            tick_batch_size=3,
            messaging=MessagingSettings(
                snapshot_batch_size=5,
                rate_per_second={"dm": 2},
                topics={"promotions": {"default": "opt_in" if opt_in else "opt_out"}},
                default_topic=None,
            ),
        ),
    )
    fans = seed_audience(store, FANS)
    ws = core.for_actor(Actor(OWNER))
    if opt_in:
        messenger.refused = set(fans)
    ever_refused = set(messenger.refused)
    campaign = broadcast_campaign(ws)
    ws.campaigns.launch_campaign(campaign.id)
    paused = False
    for action in script:
        kind = action[0]
        if kind == "tick":
            clock.advance(f"{action[1]} seconds")
            assert not core.tick().errors
        elif kind == "consent":
            fan, granted = fans[action[1]], action[2]
            ws.fans.set_consent(
                fan, channel="dm", topic="promotions", granted=granted, source="api"
            )
            if granted:
                messenger.refused.discard(fan)
            else:
                messenger.refused.add(fan)
                ever_refused.add(fan)
        elif kind == "suppress":
            fan = fans[action[1]]
            ws.fans.suppress("dm", fan, fan_id=fan)
            messenger.refused.add(fan)
            ever_refused.add(fan)
        elif kind == "pause" and not paused:
            ws.campaigns.pause_campaign(campaign.id)
            paused = True
        elif kind == "resume" and paused:
            ws.campaigns.resume_campaign(campaign.id)
            paused = False
    if paused:
        ws.campaigns.resume_campaign(campaign.id)
    for _ in range(200):
        clock.advance("1 second")
        report = core.tick()
        assert not report.errors
        if not report.did_work and ws.campaigns.get_delivery_status(campaign.id).queued == 0:
            break
    assert messenger.violations == []
    assert all(count == 1 for count in messenger.sent.values()), messenger.sent
    # every fan never refused got exactly one; every fan refused at the end got none
    assert set(fans) - ever_refused <= set(messenger.sent)
    status = ws.campaigns.get_delivery_status(campaign.id)
    assert status.sent + status.suppressed == FANS
    assert status.sent == len(messenger.sent)
