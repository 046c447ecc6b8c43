"""A platform the host declares in Settings alone: campaigns target it, publish to it, and
fans, criteria, tracking and metrics know it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, Settings, ValidationError
from campaign_core.metrics import InMemoryMetrics
from campaign_core.publishing import RecordingPublisher
from campaign_core_memory import InMemoryStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
THREADS = {
    "threads": {
        "limits": {
            "caption": {"maxLength": 60},
            "maxHashtags": 2,
            "links": "unclickable",
            "linkFallback": "Link in bio",
            "maxMedia": 4,
        },
        "metricDimension": "threads_app",
    }
}
CONTENT = {
    "title": "Spring drop",
    "description": "A long description that certainly does not fit sixty characters at all.",
    "hashtags": ["spring", "drop", "new", "sale"],
    "link": "https://example.com/shop",
}


@pytest.fixture
def setup() -> tuple[CampaignCore, FakeClock, RecordingPublisher, InMemoryMetrics]:
    """A core whose settings declare the ``threads`` platform, nothing else changed."""
    clock = FakeClock(T0)
    publisher = RecordingPublisher()
    metrics = InMemoryMetrics()
    core = CampaignCore(
        InMemoryStore(),
        clock=clock,
        publisher=publisher,
        metrics=metrics,
        settings=Settings(platforms=THREADS),
    )
    return core, clock, publisher, metrics


def test_a_declared_platform_is_published_to_through_the_publisher(
    setup: tuple[CampaignCore, FakeClock, RecordingPublisher, InMemoryMetrics],
) -> None:
    """create -> preview -> schedule -> tick: the publish job for the new platform succeeds."""
    core, clock, publisher, metrics = setup
    ws = core.for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_campaign(
        name="Spring", type="promotion", platforms=["threads", "reddit"], content=CONTENT
    )
    assert campaign.platforms == ("threads", "reddit")

    (preview, _) = ws.campaigns.preview_platform_content(campaign.id)
    assert preview.platform == "threads"
    assert len(preview.content["caption"]) <= 60
    assert "https://" not in preview.content["caption"]
    assert preview.content["caption"].count("#") <= 2
    assert {c.field for c in preview.changes} >= {"hashtags", "link"}

    ws.campaigns.schedule_campaign(campaign.id, T0 + timedelta(hours=1))
    clock.advance(timedelta(hours=1))
    core.tick()

    status = {r.platform: r for r in ws.campaigns.get_publish_status(campaign.id)}
    assert status["threads"].status == "published"
    sent = [r for r in publisher.requests if r.platform == "threads"]
    assert len(sent) == 1
    assert dict(sent[0].content) == dict(preview.content)
    assert metrics.total("PublishAttempts", Platform="threads_app") == 1


def test_an_undeclared_platform_is_still_refused(
    setup: tuple[CampaignCore, FakeClock, RecordingPublisher, InMemoryMetrics],
) -> None:
    """Only declared platforms are accepted; the error lists the registry's platforms."""
    core, _, _, _ = setup
    ws = core.for_actor(Actor("creator-1"))
    with pytest.raises(ValidationError) as exc:
        ws.campaigns.create_campaign(name="X", type="promotion", platforms=["mastodon"])
    (problem,) = exc.value.problems
    assert problem.path == "platforms[0]"
    assert problem.message.endswith("onlyfans, instagram, tiktok, reddit, threads")


def test_fans_criteria_and_tracking_know_a_declared_platform(
    setup: tuple[CampaignCore, FakeClock, RecordingPublisher, InMemoryMetrics],
) -> None:
    """A fan on the new platform is valid, criteria select it, and events on it are tracked."""
    core, _, _, _ = setup
    ws = core.for_actor(Actor("creator-1"))
    ws.fans.upsert_fan("f1", platform="threads")
    ws.fans.upsert_fan("f2", platform="tiktok")
    segment = ws.segments.create_segment(name="On threads", criteria={"platform": "threads"})
    assert segment.member_count == 1
    campaign = ws.campaigns.create_campaign(
        name="Spring", type="promotion", platforms=["threads"], content=CONTENT
    )
    ws.campaigns.launch_campaign(campaign.id)
    ws.analytics.track_impression(campaign.id, fan_id="f1", platform="threads")
    assert ws.analytics.get_campaign_metrics(campaign.id).totals.impressions == 1
    with pytest.raises(ValidationError):
        ws.fans.upsert_fan("f3", platform="mastodon")
