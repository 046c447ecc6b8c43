"""CampaignTemplate.avgPerformance: the mean conversion rate of the account's completed campaigns."""

from __future__ import annotations

import pytest

from campaign_core import Actor, CampaignCore

TEMPLATE = "tpl_fitness_30_day_workout_challenge"


def _run(core: CampaignCore, owner: Actor, clicks: int, conversions: int, *, complete: bool) -> str:
    ws = core.for_actor(owner)
    campaign = ws.campaigns.create_from_template(
        TEMPLATE,
        {"name": f"c{clicks}-{conversions}", "mediaUrls": ["https://cdn.example.com/a.jpg"]},
    )
    ws.campaigns.launch_campaign(campaign.id)
    for i in range(clicks):
        ws.analytics.track_click(campaign.id, f"fan-{i}", platform="onlyfans")
    for i in range(conversions):
        ws.analytics.track_conversion(campaign.id, f"fan-{i}", 10.0, platform="onlyfans")
    if complete:
        ws.campaigns.complete_campaign(campaign.id)
    return campaign.id


def _performance(core: CampaignCore, owner: Actor) -> dict[str, float | None]:
    return {t.id: t.avg_performance for t in core.for_actor(owner).campaigns.get_templates()}


def test_avg_performance_is_the_mean_conversion_rate_of_completed_campaigns(
    core: CampaignCore, owner: Actor
) -> None:
    """Completed campaigns with clicks count; active ones and ones without clicks do not."""
    assert _performance(core, owner)[TEMPLATE] is None
    _run(core, owner, 10, 2, complete=True)  # 0.2
    _run(core, owner, 4, 3, complete=True)  # 0.75
    _run(core, owner, 5, 5, complete=False)  # still active: not counted
    _run(core, owner, 0, 0, complete=True)  # no clicks: no rate
    performance = _performance(core, owner)
    assert performance[TEMPLATE] == pytest.approx((0.2 + 0.75) / 2)
    assert performance["tpl_general_win_back_offer"] is None


def test_a_built_in_template_shows_each_account_its_own_campaigns(
    core: CampaignCore, owner: Actor
) -> None:
    """Another account's campaigns never move this account's figure."""
    other = Actor("owner-2")
    _run(core, owner, 10, 1, complete=True)
    _run(core, other, 10, 9, complete=True)
    assert _performance(core, owner)[TEMPLATE] == pytest.approx(0.1)
    assert _performance(core, other)[TEMPLATE] == pytest.approx(0.9)


def test_a_saved_template_reports_the_campaigns_made_from_it(
    core: CampaignCore, owner: Actor
) -> None:
    """The account's own templates are measured the same way."""
    ws = core.for_actor(owner)
    source = _run(core, owner, 2, 1, complete=True)
    mine = ws.campaigns.save_as_template(source, "Mine")
    assert _performance(core, owner)[mine.id] is None
    campaign = ws.campaigns.create_from_template(
        mine.id, {"name": "From mine", "mediaUrls": ["https://cdn.example.com/a.jpg"]}
    )
    ws.campaigns.launch_campaign(campaign.id)
    for i in range(4):
        ws.analytics.track_click(campaign.id, f"fan-{i}", platform="onlyfans")
    ws.analytics.track_conversion(campaign.id, "fan-0", 5.0, platform="onlyfans")
    ws.campaigns.complete_campaign(campaign.id)
    assert _performance(core, owner)[mine.id] == pytest.approx(0.25)
