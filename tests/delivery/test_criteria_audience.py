"""Criteria audiences: a campaign's message delivered to the fans matching criteria, not segments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, ValidationError, Workspace
from tests.delivery.helpers import OWNER, DedupMessenger, run_until_idle

MESSAGE = {"channel": "dm", "template": "content_showcase", "topic": "promotions"}


def _fans(ws: Workspace, levels: dict[str, str]) -> None:
    ws.fans.import_fans({"fan_id": f, "spending_level": lvl} for f, lvl in levels.items())


def _campaign(ws: Workspace, **fields: Any) -> Any:
    return ws.campaigns.create_campaign(
        name="High spenders",
        type="promotion",
        platforms=["onlyfans"],
        content={"title": "For you"},
        **fields,
    )


def test_the_fans_matching_the_criteria_get_it_once(
    make: Callable[..., CampaignCore], messenger: DedupMessenger
) -> None:
    """Batches of 2 walk the matching fans from a cursor: each matching fan once, nobody else."""
    core = make(snapshot_batch_size=2)
    ws = core.for_actor(Actor(OWNER))
    levels = {f"fan-{i:02d}": ("high" if i % 3 else "low") for i in range(12)}
    _fans(ws, levels)
    campaign = _campaign(ws, audience_criteria={"spendingLevel": "high"}, message=MESSAGE)
    ws.campaigns.launch_campaign(campaign.id)
    run_until_idle(core)
    expected = {f for f, lvl in levels.items() if lvl == "high"}
    assert messenger.fans() == dict.fromkeys(expected, 1)
    status = ws.campaigns.get_delivery_status(campaign.id)
    assert (status.status, status.audience, status.sent) == ("done", 8, 8)


def test_the_snapshot_is_as_of_its_place_like_segments(
    make: Callable[..., CampaignCore], messenger: DedupMessenger
) -> None:
    """A fan who starts matching after the cursor passed them is not messaged; one ahead of it is."""
    core = make(snapshot_batch_size=2)
    ws = core.for_actor(Actor(OWNER))
    _fans(ws, {"a": "high", "b": "high", "c": "high", "d": "low", "e": "low"})
    campaign = _campaign(ws, audience_criteria={"spendingLevel": "high"}, message=MESSAGE)
    ws.campaigns.launch_campaign(campaign.id)
    core.tick()  # the first batch: a and b
    assert messenger.fans() == {"a": 1, "b": 1}
    ws.fans.upsert_fan("a", spending_level="low")  # passed: already sent
    ws.fans.upsert_fan("c", spending_level="low")  # left before their place: out
    ws.fans.upsert_fan("e", spending_level="high")  # ahead of the cursor: in
    run_until_idle(core)
    assert messenger.fans() == {"a": 1, "b": 1, "e": 1}


@pytest.mark.parametrize(
    ("fields", "path", "code"),
    [
        (
            {"audience_criteria": {"spendingLevel": "high"}, "segment_ids": ["seg"]},
            "audience_criteria",
            "invalid_value",
        ),
        ({"audience_criteria": {"spendingLevel": "high"}}, "audience_criteria", "required"),
        (
            {"audience_criteria": {"field": "nope", "op": "eq", "value": 1}, "message": MESSAGE},
            "audience_criteria",
            None,
        ),
    ],
)
def test_bad_audiences_are_refused_at_save(
    make: Callable[..., CampaignCore], fields: dict[str, Any], path: str, code: str | None
) -> None:
    """Both segments and criteria, criteria without a message, unknown fields: typed errors, nothing saved."""
    core = make()
    ws = core.for_actor(Actor(OWNER))
    segment = ws.segments.create_segment(name="seg", criteria={"spendingLevel": "high"})
    if "segment_ids" in fields:
        fields = {**fields, "segment_ids": [segment.id], "message": MESSAGE}
    with pytest.raises(ValidationError) as info:
        _campaign(ws, **fields)
    problem = info.value.problems[0]
    assert problem.path.startswith(path)
    if code is not None:
        assert problem.code == code
    assert not ws.campaigns.list_campaigns().items


def test_criteria_naming_another_accounts_segment_are_refused(
    make: Callable[..., CampaignCore],
) -> None:
    """An in_segment leaf must name one of the account's segments."""
    core = make()
    other = core.for_actor(Actor("someone-else")).segments.create_segment(
        name="theirs", criteria={"spendingLevel": "high"}
    )
    ws = core.for_actor(Actor(OWNER))
    with pytest.raises(ValidationError) as info:
        _campaign(ws, audience_criteria={"in_segment": other.id}, message=MESSAGE)
    assert info.value.problems[0].code == "not_found"


def test_update_and_duplicate_keep_the_criteria(
    make: Callable[..., CampaignCore], messenger: DedupMessenger
) -> None:
    """update_campaign sets criteria before launch; a duplicate delivers to the same criteria."""
    core = make()
    ws = core.for_actor(Actor(OWNER))
    _fans(ws, {"a": "high", "b": "low"})
    segment = ws.segments.create_segment(name="everyone", criteria={"spendingLevel": "low"})
    campaign = _campaign(ws, segment_ids=[segment.id], message=MESSAGE)
    with pytest.raises(ValidationError):  # segments and criteria: not both
        ws.campaigns.update_campaign(campaign.id, audience_criteria={"spendingLevel": "high"})
    ws.campaigns.update_campaign(
        campaign.id, segment_ids=[], audience_criteria={"spendingLevel": "high"}
    )
    copy = ws.campaigns.duplicate_campaign(campaign.id)
    ws.campaigns.launch_campaign(copy.id)
    run_until_idle(core)
    assert messenger.fans() == {"a": 1}
    with pytest.raises(ValidationError) as info:
        ws.campaigns.update_campaign(copy.id, audience_criteria={"spendingLevel": "low"})
    assert info.value.problems[0].code == "read_only"
