"""One platform's failure stays with that platform: credentials the core cannot open,
unexpected errors in a job, and retries asked for before their backoff is over."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    FakeClock,
    NotFoundError,
    SequentialIds,
    Settings,
    ValidationError,
)
from campaign_core.alerts import AlertKind
from campaign_core.metrics import InMemoryMetrics
from campaign_core.publishing import (
    AdaptationRequest,
    AdaptationResult,
    BuiltinContentAdapter,
    CredentialCipher,
    RateLimit,
    Reject,
    RetryPolicy,
    ScriptedPublisher,
    ServerError,
)
from campaign_core.query import Order
from campaign_core.testing.helpers import snapshot

KEY_1 = CredentialCipher.generate_key()
KEY_2 = CredentialCipher.generate_key()
SECRET = {"access_token": "tok-very-secret-123"}
MEDIA = ["https://cdn.example/a.jpg"]
# three attempts, 30 s apart and doubling, no jitter: retries fall due at known times
QUICK_RETRIES = RetryPolicy(max_attempts=3, base="30 seconds", jitter="none")

# the core runs with another key than the one that sealed the credential, or with none at all
CORE_KEYS = pytest.mark.parametrize(
    ("keys", "code", "says"),
    [
        ([KEY_2], "credential_undecryptable", "cannot be decrypted with the configured"),
        (None, "credential_keys_missing", "no credential_keys are configured"),
    ],
    ids=["other_key", "no_keys"],
)


def seal_credential(store: Any, clock: FakeClock, owner: str, platform: str) -> None:
    """Store ``owner``'s credential for ``platform``, sealed with KEY_1."""
    sealing = CampaignCore(store, clock=clock, ids=SequentialIds("seal"), credential_keys=[KEY_1])
    sealing.for_actor(Actor(owner)).credentials.set_platform_credentials(platform, SECRET)


def new_campaign(
    core: CampaignCore, owner: str, platforms: list[str], title: str = "Spring"
) -> Any:
    return core.for_actor(Actor(owner)).campaigns.create_campaign(
        name=f"{owner} {title}",
        type="promotion",
        platforms=platforms,
        content={"title": title, "description": "sale"},
        media_urls=MEDIA,
    )


def status_of(core: CampaignCore, owner: str, campaign_id: str) -> dict[str, tuple[str, int]]:
    return {
        s.platform: (s.status, s.attempts)
        for s in core.for_actor(Actor(owner)).campaigns.get_publish_status(campaign_id)
    }


@CORE_KEYS
def test_a_credential_the_core_cannot_open_waits_for_the_fix_and_then_publishes(
    local_store: Any, clock: FakeClock, keys: Any, code: str, says: str
) -> None:
    """A configuration error, not a failure: the launch returns, that platform waits without
    spending attempts, the owner is alerted once, every tick reports it until the core runs with
    the key again, and then the platform is published; the other platforms publish at once."""
    seal_credential(local_store, clock, "o1", "instagram")
    sink = InMemoryMetrics()
    publisher = ScriptedPublisher()
    core = CampaignCore(
        local_store,
        clock=clock,
        ids=SequentialIds(),
        publisher=publisher,
        metrics=sink,
        credential_keys=keys,
    )
    c = new_campaign(core, "o1", ["reddit", "instagram", "tiktok"])
    result = core.for_actor(Actor("o1")).campaigns.launch_campaign(c.id)
    assert result.campaign.status == "active"
    by_platform = {p.platform: p for p in result.platforms}
    assert {p: (r.status, r.attempts) for p, r in by_platform.items()} == {
        "instagram": ("retrying", 0),
        "reddit": ("published", 1),
        "tiktok": ("published", 1),
    }
    assert says in (by_platform["instagram"].error or "")
    assert by_platform["instagram"].next_attempt_at == clock.now() + timedelta(minutes=5)
    assert sorted(p.platform for p in publisher.posts) == ["reddit", "tiktok"]
    assert not publisher.calls_for(platform="instagram")  # never sent without its credential
    assert core.alerter.of_kind(AlertKind.PUBLISH_FAILED) == []
    alerts = core.alerter.of_kind(AlertKind.CREDENTIALS_UNUSABLE)
    assert len(alerts) == 1
    assert says in alerts[0].message
    assert alerts[0].data == {"platform": "instagram", "code": code}
    for secret in (SECRET["access_token"], KEY_1, KEY_2):
        assert secret not in repr(alerts[0])
        assert secret not in repr(result)
    assert sink.total("PublishAttempts", Platform="instagram") == 0

    for _ in range(3):
        clock.advance("5 minutes")
        report = core.tick()
        assert report.publish_attempts == 1
        assert [(e.job, e.entity_id) for e in report.errors] == [("publish", c.id)]
        assert says in report.errors[0].error
        for secret in (SECRET["access_token"], KEY_1, KEY_2):
            assert secret not in repr(report)
    assert status_of(core, "o1", c.id)["instagram"] == ("retrying", 0)
    assert len(core.alerter.of_kind(AlertKind.CREDENTIALS_UNUSABLE)) == 1  # alerted once

    fixed = CampaignCore(
        local_store,
        clock=clock,
        ids=SequentialIds("f"),
        publisher=publisher,
        credential_keys=[KEY_1],
    )
    clock.advance("5 minutes")
    report = fixed.tick()
    assert (report.publish_attempts, report.errors) == (1, ())
    assert status_of(fixed, "o1", c.id)["instagram"] == ("published", 1)
    assert sorted(p.platform for p in publisher.posts) == ["instagram", "reddit", "tiktok"]
    assert publisher.calls_for(platform="instagram")[0].request.credential is not None


@CORE_KEYS
def test_in_tick_a_credential_the_core_cannot_open_does_not_block_other_accounts(
    local_store: Any, clock: FakeClock, keys: Any, code: str, says: str
) -> None:
    """Retries pending when the keys change: the broken job (first in the batch) waits, keeps
    its attempts, alerts and is reported; another account's retry in the same tick is published."""
    seal_credential(local_store, clock, "a1", "instagram")
    publisher = ScriptedPublisher(
        {"instagram": [RateLimit(retry_after=60)], "reddit": [RateLimit(retry_after=120)]}
    )
    before = CampaignCore(
        local_store,
        clock=clock,
        ids=SequentialIds("k1"),
        publisher=publisher,
        credential_keys=[KEY_1],
    )
    broken = new_campaign(before, "a1", ["instagram"])
    before.for_actor(Actor("a1")).campaigns.launch_campaign(broken.id)
    other = new_campaign(before, "b2", ["reddit"])
    before.for_actor(Actor("b2")).campaigns.launch_campaign(other.id)
    assert status_of(before, "a1", broken.id) == {"instagram": ("retrying", 1)}
    assert status_of(before, "b2", other.id) == {"reddit": ("retrying", 1)}

    sink = InMemoryMetrics()
    core = CampaignCore(
        local_store,
        clock=clock,
        ids=SequentialIds("k2"),
        publisher=publisher,
        metrics=sink,
        credential_keys=keys,
    )
    clock.advance("10 minutes")
    report = core.tick()
    assert report.publish_attempts == 2
    assert [(e.job, e.entity_id) for e in report.errors] == [("publish", broken.id)]
    assert status_of(core, "a1", broken.id) == {"instagram": ("retrying", 1)}
    assert status_of(core, "b2", other.id) == {"reddit": ("published", 2)}
    alerts = core.alerter.of_kind(AlertKind.CREDENTIALS_UNUSABLE)
    assert [(a.owner_id, a.data["code"]) for a in alerts] == [("a1", code)]
    assert says in alerts[0].message
    assert core.alerter.of_kind(AlertKind.PUBLISH_FAILED) == []
    assert sink.total("PublishFailures", Platform="instagram") == 0
    assert sink.total("PublishAttempts", Platform="reddit") == 1
    assert len(publisher.calls_for(platform="instagram")) == 1  # only the attempt under KEY_1

    # the host puts the old key back behind a new one: the job resumes where it was
    fixed = CampaignCore(
        local_store,
        clock=clock,
        ids=SequentialIds("k3"),
        publisher=publisher,
        credential_keys=[KEY_2, KEY_1],
    )
    clock.advance("5 minutes")
    assert fixed.tick().errors == ()
    assert status_of(fixed, "a1", broken.id) == {"instagram": ("published", 2)}
    clock.advance("10 minutes")
    assert fixed.tick().did_work is False
    assert len(fixed.alerter.of_kind(AlertKind.PUBLISH_FAILED)) == 0


def test_setting_the_credential_again_wakes_the_waiting_jobs(
    local_store: Any, clock: FakeClock
) -> None:
    """The owner seals the credential again under the keys the core runs with: the waiting
    platform is due at once and the next tick publishes it (no attempt was spent meanwhile)."""
    seal_credential(local_store, clock, "o1", "instagram")
    publisher = ScriptedPublisher()
    core = CampaignCore(
        local_store, clock=clock, ids=SequentialIds(), publisher=publisher, credential_keys=[KEY_2]
    )
    ws = core.for_actor(Actor("o1"))
    c = new_campaign(core, "o1", ["instagram"])
    assert ws.campaigns.launch_campaign(c.id).platforms[0].status == "retrying"
    ws.credentials.set_platform_credentials("instagram", SECRET)  # sealed with KEY_2 now
    waiting = ws.campaigns.get_publish_status(c.id)[0]
    assert waiting.next_attempt_at == clock.now()
    report = core.tick()
    assert (report.publish_attempts, report.errors) == (1, ())
    assert status_of(core, "o1", c.id) == {"instagram": ("published", 1)}
    assert len(core.alerter.of_kind(AlertKind.CREDENTIALS_UNUSABLE)) == 1


def test_set_platform_credentials_refuses_keys_that_cannot_open_the_accounts_others(
    local_store: Any, clock: FakeClock
) -> None:
    """Storing a credential under a key that cannot open the account's other credentials would
    leave them sealed under two keys: refused, nothing stored; with the old key kept as well it
    is stored, and listing and rotation work."""
    from campaign_core.publishing import CredentialError

    seal_credential(local_store, clock, "o1", "instagram")
    wrong = CampaignCore(local_store, clock=clock, ids=SequentialIds("w"), credential_keys=[KEY_2])
    before = snapshot(local_store)
    with pytest.raises(CredentialError) as refused:
        wrong.for_actor(Actor("o1")).credentials.set_platform_credentials("reddit", SECRET)
    assert refused.value.reason == "decryption_failed"
    assert "instagram" in str(refused.value)
    for secret in (SECRET["access_token"], KEY_1, KEY_2):
        assert secret not in str(refused.value)
        assert secret not in repr(refused.value.to_json())
    assert snapshot(local_store) == before
    # another account's credentials are not its business
    wrong.for_actor(Actor("o2")).credentials.set_platform_credentials("reddit", SECRET)

    both = CampaignCore(
        local_store, clock=clock, ids=SequentialIds("b"), credential_keys=[KEY_2, KEY_1]
    )
    ws = both.for_actor(Actor("o1"))
    ws.credentials.set_platform_credentials("reddit", SECRET)
    assert [i.platform for i in ws.credentials.list_platform_credentials()] == [
        "instagram",
        "reddit",
    ]
    assert ws.credentials.rotate_credentials() == 1
    newest = CampaignCore(local_store, clock=clock, ids=SequentialIds("n"), credential_keys=[KEY_2])
    listed = newest.for_actor(Actor("o1")).credentials.list_platform_credentials()
    assert [i.platform for i in listed] == ["instagram", "reddit"]


class ArmedCredentials:
    """``open_credential`` as shipped, except that it crashes for owners in ``crash_for`` (a bug).

    It runs on every attempt (the adapted content is kept on the job after the
    first one, so the generator is not called again).
    """

    def __init__(self) -> None:
        from campaign_core.jobs import credentials

        self.crash_for: set[str] = set()
        self.platforms: set[str] | None = None  # None: every platform
        self._inner = credentials.open_credential
        self._inner_found = credentials.open_found

    def __call__(self, rt: Any, tx: Any, owner_id: str, platform: str) -> Any:
        self._check(owner_id, platform)
        return self._inner(rt, tx, owner_id, platform)

    def found(self, rt: Any, found: Any, owner_id: str, platform: str) -> Any:
        """``open_found`` (the tick opens the credentials it read with its claim)."""
        self._check(owner_id, platform)
        return self._inner_found(rt, found, owner_id, platform)

    def _check(self, owner_id: str, platform: str) -> None:
        if owner_id in self.crash_for and (self.platforms is None or platform in self.platforms):
            raise RuntimeError("credential store bug")

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from campaign_core.jobs import publishing

        monkeypatch.setattr(publishing, "open_credential", self)
        monkeypatch.setattr(publishing, "open_found", self.found)


def test_an_unexpected_error_in_one_job_does_not_stop_the_others(
    local_store: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job that raises counts a failed attempt with backoff and is reported by the tick;
    the others in the batch run; out of attempts, it fails and alerts once."""

    armed = ArmedCredentials()
    armed.install(monkeypatch)
    publisher = ScriptedPublisher({"reddit": [RateLimit(retry_after=60)]})
    sink = InMemoryMetrics()
    core = CampaignCore(
        local_store,
        clock=clock,
        ids=SequentialIds(),
        publisher=publisher,
        metrics=sink,
        settings=Settings(publish_retry=QUICK_RETRIES),
    )
    crashing = new_campaign(core, "a1", ["reddit"], title="Boom")
    core.for_actor(Actor("a1")).campaigns.launch_campaign(crashing.id)
    fine = new_campaign(core, "b2", ["reddit"])
    core.for_actor(Actor("b2")).campaigns.launch_campaign(fine.id)
    armed.crash_for.add("a1")

    clock.advance("1 minute")
    report = core.tick()
    assert report.publish_attempts == 2
    assert [(e.job, e.entity_id) for e in report.errors] == [("publish", crashing.id)]
    assert "RuntimeError: credential store bug" in report.errors[0].error
    assert status_of(core, "b2", fine.id) == {"reddit": ("published", 2)}
    waiting = core.for_actor(Actor("a1")).campaigns.get_publish_status(crashing.id)[0]
    assert (waiting.status, waiting.attempts) == ("retrying", 2)
    assert waiting.error == "unexpected error: RuntimeError: credential store bug"
    assert waiting.next_attempt_at == clock.now() + timedelta(seconds=60)  # 30 s x 2
    assert sink.total("PublishFailures", Platform="reddit") == 3  # 2 rate limits, the bug

    clock.advance("59 seconds")
    assert core.tick().publish_attempts == 0  # the backoff holds
    clock.advance("1 second")
    report = core.tick()
    assert (report.publish_attempts, len(report.errors)) == (1, 1)
    assert status_of(core, "a1", crashing.id) == {"reddit": ("failed", 3)}
    alerts = core.alerter.of_kind(AlertKind.PUBLISH_FAILED)
    assert [(a.owner_id, a.data["reason"]) for a in alerts] == [("a1", "attempts_exhausted")]
    clock.advance("1 hour")
    assert core.tick().did_work is False
    assert len(core.alerter.of_kind(AlertKind.PUBLISH_FAILED)) == 1


def test_an_unexpected_error_at_launch_is_reported_in_the_result(
    local_store: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that raises during the launch does not make the launch raise; tick() retries it."""
    armed = ArmedCredentials()
    armed.install(monkeypatch)
    publisher = ScriptedPublisher()
    core = CampaignCore(local_store, clock=clock, ids=SequentialIds(), publisher=publisher)
    c = new_campaign(core, "o1", ["reddit", "tiktok"])
    armed.crash_for.add("o1")
    armed.platforms = {"reddit"}  # only the launch's reddit attempt breaks
    result = core.for_actor(Actor("o1")).campaigns.launch_campaign(c.id)
    by_platform = {p.platform: p for p in result.platforms}
    assert (by_platform["reddit"].status, by_platform["reddit"].attempts) == ("retrying", 1)
    assert by_platform["reddit"].error == "unexpected error: RuntimeError: credential store bug"
    assert by_platform["tiktok"].status == "published"
    armed.crash_for.clear()
    clock.advance("1 minute")
    assert core.tick().publish_attempts == 1
    assert status_of(core, "o1", c.id) == {"reddit": ("published", 2), "tiktok": ("published", 1)}


def test_publish_to_platforms_waits_for_the_backoff_unless_forced(
    local_store: Any, clock: FakeClock
) -> None:
    """Calls before the retry is due report the state without spending attempts; force retries."""
    publisher = ScriptedPublisher({"reddit": [ServerError()] * 10})
    core = CampaignCore(local_store, clock=clock, ids=SequentialIds(), publisher=publisher)
    ws = core.for_actor(Actor("o1"))
    c = new_campaign(core, "o1", ["reddit"])
    first = ws.campaigns.launch_campaign(c.id).platforms[0]
    assert (first.status, first.attempts) == ("retrying", 1)
    assert first.next_attempt_at > clock.now()
    for _ in range(5):
        assert ws.campaigns.publish_to_platforms(c.id, ["reddit"]) == [first]
    assert len(publisher.calls) == 1

    before = snapshot(core.store)
    with pytest.raises(ValidationError) as info:
        ws.campaigns.publish_to_platforms(c.id, ["reddit"], force="yes")
    assert [p.path for p in info.value.problems] == ["force"]
    assert snapshot(core.store) == before

    forced = ws.campaigns.publish_to_platforms(c.id, ["reddit"], force=True)[0]
    assert (forced.status, forced.attempts) == ("retrying", 2)
    assert len(publisher.calls) == 2
    clock.set(forced.next_attempt_at)
    due = ws.campaigns.publish_to_platforms(c.id, ["reddit"])[0]
    assert (due.status, due.attempts) == ("retrying", 3)
    assert len(publisher.calls) == 3


def test_a_failed_platform_gets_a_new_round_once_its_cause_is_fixed(
    local_store: Any, clock: FakeClock
) -> None:
    """Once the platform accepts again (the account was reinstated), retry_failed publishes the
    failed platform (once), and leaves published ones alone; without it nothing is retried."""
    publisher = ScriptedPublisher({"instagram": [Reject("account suspended")]})
    core = CampaignCore(local_store, clock=clock, ids=SequentialIds(), publisher=publisher)
    ws = core.for_actor(Actor("o1"))
    c = new_campaign(core, "o1", ["reddit", "instagram"])
    ws.campaigns.launch_campaign(c.id)
    assert status_of(core, "o1", c.id) == {"instagram": ("failed", 1), "reddit": ("published", 1)}
    again = ws.campaigns.publish_to_platforms(c.id, ["instagram"], force=True)
    assert [(r.platform, r.status) for r in again] == [("instagram", "failed")]
    clock.advance("1 minute")
    retried = ws.campaigns.publish_to_platforms(c.id, ["instagram", "reddit"], retry_failed=True)
    assert {(r.platform, r.status, r.attempts) for r in retried} == {
        ("instagram", "published", 1),
        ("reddit", "published", 1),
    }
    assert sorted(p.platform for p in publisher.posts) == ["instagram", "reddit"]
    before = snapshot(local_store)
    with pytest.raises(ValidationError) as bad:
        ws.campaigns.publish_to_platforms(c.id, ["instagram"], retry_failed="yes")
    assert bad.value.problems[0].path == "retry_failed"
    assert snapshot(local_store) == before


def test_preview_shows_each_platforms_content_and_what_adaptation_changed(
    local_store: Any, clock: FakeClock
) -> None:
    """A draft can be checked before launch: the adapted content with its report; nothing written."""
    core = CampaignCore(local_store, clock=clock, ids=SequentialIds())
    ws = core.for_actor(Actor("o1"))
    c = ws.campaigns.create_campaign(
        name="Long",
        type="promotion",
        platforms=["reddit", "instagram"],
        content={
            "title": "t" * 400,
            "description": "sale",
            "hashtags": [f"h{i}" for i in range(40)],
        },
        media_urls=MEDIA,
    )
    before = snapshot(local_store)
    previews = {p.platform: p for p in ws.campaigns.preview_platform_content(c.id)}
    assert set(previews) == {"reddit", "instagram"}
    reddit = {(ch.field, ch.action) for ch in previews["reddit"].changes}
    assert ("title", "truncated") in reddit
    assert len(previews["reddit"].content["title"]) <= 300
    assert ("hashtags", "dropped") in {
        (ch.field, ch.action) for ch in previews["instagram"].changes
    }
    only = ws.campaigns.preview_platform_content(c.id, ["instagram"])
    assert [p.platform for p in only] == ["instagram"]
    with pytest.raises(ValidationError) as bad:
        ws.campaigns.preview_platform_content(c.id, ["tiktok"])
    assert bad.value.problems[0].path == "platforms[0]"
    assert snapshot(local_store) == before
    with pytest.raises(NotFoundError):  # another account's campaign is not found
        core.for_actor(Actor("o2")).campaigns.preview_platform_content(c.id)


class Rewording:
    """A generator that answers differently on every call (as a language model might)."""

    def __init__(self) -> None:
        self.calls = 0
        self._inner = BuiltinContentAdapter()

    def adapt(self, request: AdaptationRequest) -> AdaptationResult:
        self.calls += 1
        adapted = self._inner.adapt(request)
        content = {**adapted.content, "title": f"{adapted.content['title']} (take {self.calls})"}
        return AdaptationResult(request.platform, content, adapted.media_urls, adapted.changes)


def test_a_generator_that_rewords_on_retry_keeps_the_jobs_key_and_posts_once(
    local_store: Any, clock: FakeClock
) -> None:
    """A retry sends the post the first attempt sent, under the same key: one post.

    The first attempt's post is made but its answer is lost. The job kept the
    adapted content, so the retry does not ask the generator again (which
    would word it differently) and the platform, seeing the same key and the
    same post, answers with the post it made. Before, the retry sent other
    words under the same key, and a platform that checks that (as this
    scripted one does) refused it for good.
    """
    from campaign_core.publishing import LostResponse

    generator = Rewording()
    publisher = ScriptedPublisher({"reddit": [LostResponse()]})
    core = CampaignCore(
        local_store,
        clock=clock,
        ids=SequentialIds(),
        publisher=publisher,
        content=generator,
        settings=Settings(publish_retry=QUICK_RETRIES),
    )
    campaign = new_campaign(core, "a1", ["reddit"])
    core.for_actor(Actor("a1")).campaigns.launch_campaign(campaign.id)
    adapted_at_launch = generator.calls
    for _ in range(3):
        clock.advance("1 minute")
        core.tick()
    assert status_of(core, "a1", campaign.id) == {"reddit": ("published", 2)}
    assert generator.calls == adapted_at_launch == 1  # the launch's check; the job kept it
    assert len(publisher.calls) == 2
    assert len({call.request.idempotency_key for call in publisher.calls}) == 1
    assert publisher.calls[0].request.content == publisher.calls[1].request.content
    assert len(publisher.posts) == 1


def _second_core(
    store: Any, clock: FakeClock, publisher: ScriptedPublisher, overrides: dict[str, Any]
) -> CampaignCore:
    """Another deploy on the same store, with other platform limits."""
    from campaign_core.publishing import PlatformRules

    rules = PlatformRules.default().with_overrides(overrides)
    return CampaignCore(
        store,
        clock=clock,
        ids=SequentialIds("second"),
        publisher=publisher,
        settings=Settings(publish_retry=QUICK_RETRIES, platform_rules=rules),
    )


def _launch_failing_once(store: Any, clock: FakeClock, publisher: ScriptedPublisher) -> Any:
    first = CampaignCore(
        store,
        clock=clock,
        ids=SequentialIds(),
        publisher=publisher,
        settings=Settings(publish_retry=QUICK_RETRIES),
    )
    campaign = new_campaign(first, "a1", ["reddit"], title="A rather long title")
    first.for_actor(Actor("a1")).campaigns.launch_campaign(campaign.id)
    assert status_of(first, "a1", campaign.id) == {"reddit": ("retrying", 1)}
    return campaign


def test_a_kept_post_that_no_longer_fits_is_adapted_again(
    local_store: Any, clock: FakeClock
) -> None:
    """Limits tightened since the launch: the retry adapts again and keeps the new post."""
    publisher = ScriptedPublisher({"reddit": [ServerError()]})
    campaign = _launch_failing_once(local_store, clock, publisher)
    second = _second_core(local_store, clock, publisher, {"reddit": {"title": 5}})
    clock.advance("1 minute")
    second.tick()
    assert status_of(second, "a1", campaign.id) == {"reddit": ("published", 2)}
    titles = [call.request.content["title"] for call in publisher.calls]
    assert titles == ["A rather long title", "A ra…"]
    with local_store.unit_of_work() as uow:
        [job] = uow.publish_jobs.find()
    assert job.adapted_content["content"]["title"] == "A ra…"


def test_a_post_that_cannot_fit_new_limits_fails_that_platform(
    local_store: Any, clock: FakeClock
) -> None:
    """Limits the content cannot meet at all (no images on reddit): failed for good, with a code."""
    publisher = ScriptedPublisher({"reddit": [ServerError()]})
    campaign = _launch_failing_once(local_store, clock, publisher)
    overrides = {"reddit": {"mediaRequired": True, "mediaKinds": ["video"]}}
    second = _second_core(local_store, clock, publisher, overrides)
    clock.advance("1 minute")
    second.tick()
    [status] = second.for_actor(Actor("a1")).campaigns.get_publish_status(campaign.id)
    assert (status.status, status.attempts) == ("failed", 2)
    assert "content does not fit" in (status.error or "")
    assert "content.reddit.mediaUrls[0]" in (status.error or "")
    assert len(publisher.calls) == 1
    [alert] = second.alerter.of_kind(AlertKind.PUBLISH_FAILED)
    assert alert.data["code"] == "content_does_not_fit"


def test_an_open_job_of_an_older_content_version_is_superseded(
    local_store: Any, clock: FakeClock
) -> None:
    """Paused and edited before the platform was published: the edit is what gets published."""
    publisher = ScriptedPublisher({"reddit": [ServerError()]})
    campaign = _launch_failing_once(local_store, clock, publisher)
    core = CampaignCore(local_store, clock=clock, ids=SequentialIds("edit"), publisher=publisher)
    campaigns = core.for_actor(Actor("a1")).campaigns
    campaigns.pause_campaign(campaign.id)
    campaigns.update_campaign(campaign.id, content={"title": "Corrected title"})
    campaigns.resume_campaign(campaign.id)
    for _ in range(3):  # the new version's first attempt meets the scripted server error too
        clock.advance("10 minutes")
        core.tick()
    assert status_of(core, "a1", campaign.id) == {"reddit": ("published", 2)}
    with local_store.unit_of_work() as uow:
        jobs = uow.publish_jobs.find(order_by=[Order("content_version")])
    assert [(j.content_version, j.status.value, j.last_error) for j in jobs] == [
        (1, "cancelled", "superseded by content version 2"),
        (2, "published", None),
    ]
    assert [c.request.content["title"] for c in publisher.calls] == [
        "A rather long title",
        "Corrected title",
        "Corrected title",
    ]
    assert len({c.request.idempotency_key for c in publisher.calls}) == 2


def test_a_post_kept_by_another_attempt_meanwhile_is_not_overwritten(
    local_store: Any, clock: FakeClock
) -> None:
    """Two attempts of one job adapting at once (threads sharing a core): the first kept post wins.

    The job has no kept post (queued before posts were kept). While this
    attempt's generator runs, another attempt keeps its own post; this attempt
    then writes nothing and calls no publisher, and the next attempt sends the
    post that was kept.
    """
    publisher = ScriptedPublisher({"reddit": [ServerError()]})
    campaign = _launch_failing_once(local_store, clock, publisher)

    class Racing:
        def __init__(self) -> None:
            self.calls = 0
            self._inner = BuiltinContentAdapter()

        def adapt(self, request: AdaptationRequest) -> AdaptationResult:
            self.calls += 1
            if self.calls == 1:  # the other attempt keeps its post first
                with local_store.unit_of_work() as uow:
                    [job] = uow.publish_jobs.find()
                    other = {"content": {"title": "Theirs"}, "mediaUrls": list(MEDIA)}
                    uow.publish_jobs.update(
                        attrs.evolve(job, adapted_content=other, version=job.version + 1)
                    )
                    uow.commit()
            return self._inner.adapt(request)

    with local_store.unit_of_work() as uow:
        [job] = uow.publish_jobs.find()
        uow.publish_jobs.update(attrs.evolve(job, adapted_content=None, version=job.version + 1))
        uow.commit()
    generator = Racing()
    core = CampaignCore(
        local_store,
        clock=clock,
        ids=SequentialIds("race"),
        publisher=publisher,
        content=generator,
        settings=Settings(publish_retry=QUICK_RETRIES),
    )
    clock.advance("1 minute")
    core.tick()
    assert len(publisher.calls) == 1  # this attempt stood back
    clock.advance("10 minutes")  # its lease expires
    core.tick()
    assert status_of(core, "a1", campaign.id) == {"reddit": ("published", 2)}
    assert [c.request.content["title"] for c in publisher.calls] == [
        "A rather long title",
        "Theirs",
    ]
    assert generator.calls == 1
