"""The demo's flows: the seed's four end-to-end scenarios, one function each.

Each ``flow_N_<name>(ctx)`` drives the library through its public API in the
``DemoContext`` it is given and returns a JSON-safe summary dict; ``_demo``
lists them in ``FLOWS`` and runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from campaign_core.serialization import format_datetime, to_json

if TYPE_CHECKING:  # pragma: no cover
    from campaign_core.cli._demo import DemoContext

__all__ = [
    "WELCOME_SERIES",
    "flow_1_campaign",
    "flow_2_ab_test",
    "flow_3_automation",
    "flow_4_segment",
]


def flow_1_campaign(ctx: DemoContext) -> dict[str, Any]:
    """Flow 1: a campaign from a template, scheduled, launched by a tick, published, tracked.

    TikTok rate-limits the first post; the next tick retries it. An hour of
    traffic is then tracked in one batch (``ws.analytics.track_events``) and
    spend is tracked per platform until the budget is reached, which pauses
    the campaign and alerts the owner. A tick after the hour writes the hourly
    ``CampaignMetric`` snapshots; the PDF report covers this campaign.
    """
    campaigns = ctx.ws.campaigns
    steps: list[str] = []
    template_id = "tpl_fitness_30_day_workout_challenge"
    ctx.step("creating a campaign from a template")
    campaign = campaigns.create_from_template(
        template_id,
        {
            "name": "Summer shred",
            "content": {"price": 39.99},
            "budget": 500,
            "mediaUrls": ["https://cdn.example.com/summer-shred-teaser.jpg"],
        },
    )
    ctx.report_campaign_id = campaign.id
    platforms = [str(p) for p in campaign.platforms]
    steps.append(
        f"created {campaign.name!r} ({campaign.id}) from {template_id}: "
        f"{campaign.type} on {', '.join(platforms)}, budget {campaign.budget:.2f}"
    )

    ctx.step("scheduling it two days ahead")
    due = ctx.clock.now() + timedelta(days=2)
    scheduled = campaigns.schedule_campaign(campaign.id, due)
    steps.append(f"scheduled for {format_datetime(due)} (status {scheduled.status})")

    ctx.step("moving the clock 2 days and ticking")
    ctx.clock.advance("2 days")
    first_tick = ctx.tick()
    launched = campaigns.get_campaign(campaign.id)
    after_launch = [to_json(r) for r in campaigns.get_publish_status(campaign.id)]
    published = [r["platform"] for r in after_launch if r["status"] == "published"]
    waiting = [r for r in after_launch if r["status"] != "published"]
    steps.append(
        f"tick at {first_tick['now']}: launched {len(first_tick['campaignsLaunched'])} campaign, "
        f"{first_tick['publishAttempts']} publish attempts; status {launched.status}"
    )
    steps.append(
        "published on "
        + (", ".join(published) or "no platform")
        + "".join(
            f"; {r['platform']} {r['status']} ({r['error']}), next attempt {r['nextAttemptAt']}"
            for r in waiting
        )
    )

    ctx.step("moving the clock 5 minutes: the retry is due")
    ctx.clock.advance("5 minutes")
    second_tick = ctx.tick()
    final_status = [to_json(r) for r in campaigns.get_publish_status(campaign.id)]
    retried = [r for r in final_status if r["attempts"] > 1]
    steps.append(
        f"tick at {second_tick['now']}: {second_tick['publishAttempts']} retry; "
        + (
            ", ".join(f"{r['platform']} {r['status']} on attempt {r['attempts']}" for r in retried)
            or "nothing to retry"
        )
    )

    ctx.step("tracking an hour of traffic")
    analytics = ctx.ws.analytics
    ctx.clock.advance("55 minutes")
    tracked = analytics.track_events(_demo_traffic(campaign.id, platforms, ctx.clock.now()))
    steps.append(
        f"tracked {tracked.impressions:,} impressions, {tracked.clicks} clicks and "
        f"{tracked.conversions} conversions ({tracked.attributed_conversions} credited to a click)"
    )

    ctx.step("recording spend up to the budget")
    per_platform = 350 / len(platforms)
    for platform in platforms:
        analytics.track_spend(campaign.id, per_platform, platform=platform)
    final = analytics.track_spend(campaign.id, 150, platform=platforms[0])
    alerts = [a.message for a in ctx.alerter.alerts if a.entity_id == campaign.id]
    steps.append(
        f"tracked spend 350.00 (split over the platforms) + 150.00 = {final.spent:.2f} "
        f"of {final.budget:.2f}: status {final.status} ({final.paused_reason})"
    )
    steps.extend(f"alert to the owner: {message}" for message in alerts)

    ctx.step("moving the clock past the hour: the roll-up writes the hourly snapshots")
    ctx.clock.advance("1 hour")
    rollup_tick = ctx.tick()
    totals = analytics.get_campaign_metrics(campaign.id).totals
    steps.append(
        f"tick at {rollup_tick['now']}: {rollup_tick['metricSnapshots']} hourly snapshots of "
        f"{rollup_tick['campaignsRolledUp']} campaign; CTR {_pct(totals.ctr)}, conversion rate "
        f"{_pct(totals.conversion_rate)}, revenue {totals.revenue:.2f}, ROI {_pct(totals.roi)}"
    )
    return {
        "steps": steps,
        "campaignId": campaign.id,
        "templateId": template_id,
        "scheduledFor": format_datetime(due),
        "ticks": [first_tick, second_tick],
        "rollupTick": rollup_tick,
        "publishStatus": final_status,
        "tracked": to_json(tracked),
        "metrics": to_json(totals),
        "campaign": to_json(final),
        "alerts": alerts,
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _demo_traffic(
    campaign_id: str, platforms: Sequence[str], now: datetime
) -> list[dict[str, Any]]:
    """An hour of plausible traffic, the same on every run: impressions, clicks, conversions."""
    import random

    rng = random.Random(20260301)
    start = now - timedelta(minutes=50)
    events: list[dict[str, Any]] = []
    for n in range(1500):
        fan = f"fan-{rng.randrange(600):04d}"
        platform = platforms[n % len(platforms)]
        at = start + timedelta(milliseconds=1600 * n)  # 40 minutes of impressions
        events.append(
            {
                "kind": "impression",
                "campaignId": campaign_id,
                "fanId": fan,
                "platform": platform,
                "occurredAt": at,
            }
        )
        if rng.random() < 0.12:
            clicked = at + timedelta(seconds=1)
            events.append(
                {
                    "kind": "click",
                    "campaignId": campaign_id,
                    "fanId": fan,
                    "platform": platform,
                    "occurredAt": clicked,
                }
            )
            if rng.random() < 0.2:
                events.append(
                    {
                        "kind": "conversion",
                        "campaignId": campaign_id,
                        "fanId": fan,
                        "platform": platform,
                        "value": 39.99,
                        "occurredAt": clicked + timedelta(seconds=rng.randrange(30, 600)),
                    }
                )
    return events


def flow_2_ab_test(ctx: DemoContext) -> dict[str, Any]:
    """Flow 2: an A/B test on a campaign: fans assigned, traffic tracked, winner decided and applied.

    Needs the A/B test service on ``ws.campaigns`` (``create_ab_test``,
    ``get_variant_for_fan``, ``track_variant_performance``,
    ``determine_winner``, ``apply_winner``).
    """
    ctx.require(
        "campaigns.create_ab_test",
        "campaigns.get_variant_for_fan",
        "campaigns.track_variant_performance",
        "campaigns.determine_winner",
        "campaigns.apply_winner",
    )
    # Typed loosely: these methods arrive with the A/B test service.
    campaigns: Any = ctx.ws.campaigns
    steps: list[str] = []
    ctx.step("creating a campaign with two headlines to test")
    campaign = campaigns.create_from_template(
        "tpl_gaming_exclusive_stream_access",
        {"name": "Launch stream", "mediaUrls": ["https://cdn.example.com/stream-teaser.jpg"]},
    )
    control_title = campaign.content.get("title", "Exclusive stream access")
    challenger_title = "Tonight only: join the launch stream live 🎮"
    test = campaigns.create_ab_test(
        campaign.id,
        [
            {"name": "A", "content": {"title": control_title}, "isControl": True},
            {"name": "B", "content": {"title": challenger_title}},
        ],
        {"A": 50, "B": 50},
        planned_mde=0.5,
    )
    steps.append(
        f"A/B test {test.id} on {campaign.name!r}: A (control) {control_title!r} "
        f"vs B {challenger_title!r}, split 50/50, sized for a +50% lift"
    )

    ctx.step("assigning fans to variants")
    fans = [f"fan-{n:04d}" for n in range(1, 201)]
    seen = dict.fromkeys(("A", "B"), 0)
    for fan in fans:
        seen[campaigns.get_variant_for_fan(test.id, fan).name] += 1
    sticky = campaigns.get_variant_for_fan(test.id, fans[0]).name
    # a fair 50/50 hash still gives uneven counts on 200 fans: say how uneven is normal
    from campaign_core.stats import srm_test  # scipy, only when the demo runs

    balance = srm_test([seen["A"], seen["B"]], [50, 50])
    steps.append(
        f"assigned {len(fans)} fans by hashing: A {seen['A']}, B {seen['B']} "
        f"(sample-ratio check p = {balance.p_value:.3f}: "
        + (
            "a mismatch, the test would be blocked"
            if balance.mismatch
            else "chance at this size, not a broken split; only p < 0.001 blocks a winner"
        )
        + f"; {fans[0]} sees {sticky} on every visit)"
    )

    # Three days of traffic; B converts better. Counts are aggregated per day,
    # as a host's tracking would batch them.
    daily = {
        "A": {"impressions": 1500, "clicks": 300, "conversions": 45, "revenue": 450.0},
        "B": {"impressions": 1500, "clicks": 330, "conversions": 75, "revenue": 750.0},
    }
    names = {v.id: v.name for v in test.variants}
    decisions: list[dict[str, Any]] = []
    winner: str | None = None
    for day in range(1, 6):
        ctx.step(f"day {day}: tracking traffic and checking the test")
        ctx.clock.advance("1 day")
        for name, counts in daily.items():
            campaigns.track_variant_performance(test.variant(name).id, counts)
        decision = campaigns.determine_winner(test.id)
        decisions.append(decision.to_dict())
        shown = f"day {day}, {day * daily['A']['impressions']:,} impressions per variant: "
        if decision.winner_id is None:
            steps.append(shown + f"no winner yet ({decision.reason})")
            continue
        winner = names.get(decision.winner_id, decision.winner_id)
        steps.append(shown + f"{winner} wins (adjusted p = {decision.p_value:.2g})")
        break

    applied: dict[str, Any] = {}
    if winner is not None:
        ctx.step("applying the winner")
        done = campaigns.apply_winner(test.id)
        updated = campaigns.get_campaign(campaign.id)
        applied = {"status": str(done.test.status), "significance": done.test.significance}
        steps.append(
            f"applied {winner}: the campaign's title is now {updated.content.get('title')!r}; "
            f"test {done.test.status}"
        )
    else:
        steps.append("no winner after 5 days: nothing applied")
    return {
        "steps": steps,
        "campaignId": campaign.id,
        "testId": test.id,
        "assignments": seen,
        "decisions": decisions,
        "winner": winner,
        "applied": applied,
    }


#: The seed's welcome series, verbatim.
WELCOME_SERIES: Final[dict[str, Any]] = {
    "name": "New Fan Welcome Series",
    "trigger": {"type": "event", "event": "fan.subscribed"},
    "actions": [
        {"type": "wait", "duration": "5 minutes"},
        {"type": "send_message", "template": "welcome_message", "personalize": True},
        {"type": "wait", "duration": "24 hours"},
        {"type": "send_message", "template": "content_showcase", "includeMedia": True},
        {"type": "wait", "duration": "3 days"},
        {
            "type": "check_engagement",
            "condition": "engagement < 1",
            "ifTrue": {"type": "send_message", "template": "re_engagement"},
        },
    ],
}


def flow_3_automation(ctx: DemoContext) -> dict[str, Any]:
    """Flow 3: the seed's welcome series triggered by ``fan.subscribed`` and executed by ticks.

    Two fans subscribe; one of them opens a message (engagement), the other
    does not and receives the re-engagement message after 3 days.
    """
    ctx.require(
        "fans.upsert_fan",
        "fans.record_event",
        "automations.create_workflow",
        "automations.activate_workflow",
        "automations.get_execution_history",
    )
    steps: list[str] = []
    ctx.step("creating and activating the welcome series")
    workflow = ctx.ws.automations.create_workflow(WELCOME_SERIES, activate=True)
    steps.append(f"workflow {workflow.name!r} ({workflow.id}) is {workflow.status}")
    for fan in ("fan-alice", "fan-bob"):
        ctx.ws.fans.upsert_fan(fan, platform="onlyfans", time_zone="UTC")
        ctx.ws.fans.record_event(fan, "fan.subscribed")
    steps.append("fan-alice and fan-bob subscribed (fan.subscribed): two runs enrolled")
    messenger = ctx.core.runtime.messenger
    sent_before = len(getattr(messenger, "messages", []))
    for span, label in (("5 minutes", "5 minutes"), ("24 hours", "24 hours"), ("3 days", "3 days")):
        ctx.step(f"moving the clock {label} and ticking")
        if label == "3 days":
            ctx.ws.fans.record_event("fan-alice", "message.opened")
        ctx.clock.advance(span)
        report = ctx.tick()
        steps.append(
            f"after {label}: {report.get('automationSteps', report.get('runsAdvanced', 0))} step(s) run"
        )
    messages = getattr(messenger, "messages", [])[sent_before:]
    for message in messages:
        steps.append(f"sent {message['template']!r} to {message['fan_id']}")
    history = ctx.ws.automations.get_execution_history(workflow.id)
    statuses = [to_json(item)["status"] for item in history]
    counted = ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))
    steps.append(f"execution history: {len(history)} run(s): {counted or 'none'}")
    return {
        "steps": steps,
        "workflowId": workflow.id,
        "messages": [{"template": m["template"], "fan": m["fan_id"]} for m in messages],
        "executions": statuses,
    }


def flow_4_segment(ctx: DemoContext) -> dict[str, Any]:
    """Flow 4: an audience imported, a segment built from criteria, a campaign launched to it.

    500 fans with varied spending and engagement are imported; the seed's
    shorthand ``{"spendingLevel": "high", "engagement": ">50"}`` defines a
    dynamic segment whose size is computed in the database; the segment is
    refreshed (members recorded) and a campaign targeting it is launched with a
    message, which ``tick()`` delivers to each of the segment's fans (the delivery
    status counts them).
    """
    ctx.require(
        "fans.import_fans",
        "segments.create_segment",
        "segments.calculate_segment_size",
        "segments.get_segment_members",
        "segments.refresh_segment",
        "campaigns.get_delivery_status",
    )
    steps: list[str] = []
    levels = ("none", "low", "medium", "high", "vip")
    ctx.step("importing 500 fans")
    rows = [
        {
            "fanId": f"fan-{i:04d}",
            "spendingLevel": levels[(i * 7) % 5],
            "engagement": (i * 37) % 100,
            "lifetimeValue": float((i * 13) % 400),
            "subscriptionStatus": "active" if i % 4 else "expired",
            "platform": "onlyfans",
        }
        for i in range(500)
    ]
    imported = ctx.ws.fans.import_fans(rows)
    steps.append(f"imported {imported.created} fans")

    criteria = {"spendingLevel": "high", "engagement": ">50"}
    ctx.step("sizing and building the segment")
    size = ctx.ws.segments.calculate_segment_size(criteria)
    segment = ctx.ws.segments.create_segment(
        name="High spenders, engaged", type="dynamic", criteria=criteria
    )
    refreshed = ctx.ws.segments.refresh_segment(segment.id)
    members = ctx.ws.segments.get_segment_members(segment.id, limit=5)
    steps.append(
        f"segment {segment.name!r} ({segment.id}) from {criteria}: size {size}, "
        f"{refreshed.segment.member_count} members recorded, e.g. "
        + ", ".join(f.fan_id for f in members.items)
    )

    ctx.step("launching a campaign to the segment")
    campaign = ctx.ws.campaigns.create_from_template(
        "tpl_adult_vip_subscription_tier",
        {
            "name": "VIP upgrade for engaged high spenders",
            "segmentIds": [segment.id],
            "mediaUrls": ["https://cdn.example.com/vip-teaser.jpg"],
        },
    )
    ctx.ws.campaigns.update_campaign(
        campaign.id,
        message={
            "channel": "dm",
            "template": "content_showcase",
            "topic": "promotions",
            "variables": {"discount": 20},
        },
    )
    result = ctx.ws.campaigns.launch_campaign(campaign.id)
    steps.append(
        f"launched {campaign.name!r} to segment {segment.id}: "
        + ", ".join(f"{p.platform} {p.status}" for p in result.platforms)
    )
    ctx.step("delivering the campaign's message to the segment's fans")
    for _ in range(100):
        report = ctx.tick()
        status = ctx.ws.campaigns.get_delivery_status(campaign.id)
        if status.status == "done" or not report.get("messagesSent"):
            break
    steps.append(
        f"delivered to the segment: {status.sent} of {status.audience} fans messaged "
        f"({status.queued} queued, {status.suppressed} suppressed, {status.failed} failed)"
    )
    return {
        "steps": steps,
        "segmentId": segment.id,
        "criteria": criteria,
        "size": size,
        "members": refreshed.segment.member_count,
        "campaignId": campaign.id,
        "campaign": to_json(result.campaign),
        "delivery": to_json(status),
    }
