"""ScriptedPublisher: scripted failures per platform and attempt, deduplication, call records."""

from __future__ import annotations

import threading

import attrs
import pytest

from campaign_core.errors import ValidationError
from campaign_core.ports import Publisher
from campaign_core.publishing import (
    LostResponse,
    PublishFailure,
    PublishRequest,
    PublishSuccess,
    RateLimit,
    RecordingPublisher,
    Reject,
    ScriptedPublisher,
    ServerError,
    Succeed,
    Timeout,
    call_publisher,
)


def _req(key: str = "k1", platform: str = "instagram", caption: str = "hi") -> PublishRequest:
    return PublishRequest("c1", "u1", platform, {"caption": caption}, ("https://x/a.jpg",), key)


def test_it_is_a_publisher() -> None:
    """ScriptedPublisher satisfies the Publisher port."""
    assert isinstance(ScriptedPublisher(), Publisher)


def test_steps_play_in_order_per_attempt_then_succeed() -> None:
    """Timeout raises, rate limit and server error are retryable, then the default succeeds."""
    pub = ScriptedPublisher({"instagram": [Timeout(), RateLimit(retry_after=90), ServerError()]})
    with pytest.raises(TimeoutError):
        pub.publish(_req())
    limited = pub.publish(_req())
    assert limited == PublishFailure("rate limited by the platform", True, 90, "rate_limited")
    server = pub.publish(_req())
    assert isinstance(server, PublishFailure)
    assert server.retryable
    assert server.retry_after is None
    ok = pub.publish(_req())
    assert ok == PublishSuccess("instagram-post-1", "https://instagram.example/p/1")
    assert [c.attempt for c in pub.calls] == [1, 2, 3, 4]
    assert pub.attempts("k1") == 4


def test_rejection_is_not_retryable() -> None:
    """A Reject step is a non-retryable failure with its reason."""
    pub = ScriptedPublisher({"reddit": [Reject("title breaks rule 3")]})
    assert pub.publish(_req(platform="reddit")) == PublishFailure(
        "title breaks rule 3", False, None, "rejected"
    )


def test_each_key_walks_its_own_script() -> None:
    """Attempts are counted per idempotency key, so each post meets the script from the start."""
    pub = ScriptedPublisher({"tiktok": [ServerError()]})
    assert isinstance(pub.publish(_req("a", "tiktok")), PublishFailure)
    assert isinstance(pub.publish(_req("b", "tiktok")), PublishFailure)
    assert isinstance(pub.publish(_req("a", "tiktok")), PublishSuccess)
    assert isinstance(pub.publish(_req("onlyfans-key", "onlyfans")), PublishSuccess)


def test_a_published_key_is_never_posted_twice() -> None:
    """A second call with a published key returns the first success and posts nothing."""
    pub = ScriptedPublisher()
    first = pub.publish(_req())
    second = pub.publish(_req())
    assert first == second
    assert len(pub.posts) == 1
    assert [c.deduplicated for c in pub.calls] == [False, True]
    assert pub.calls[1].step is None


def test_a_lost_response_is_found_again_by_its_key() -> None:
    """The post made before the answer was lost is returned on retry, not posted again."""
    pub = ScriptedPublisher({"instagram": [LostResponse()]})
    with pytest.raises(TimeoutError):
        pub.publish(_req())
    assert len(pub.posts) == 1
    assert pub.calls[0].posted
    again = pub.publish(_req())
    assert again == PublishSuccess("instagram-post-1", "https://instagram.example/p/1")
    assert len(pub.posts_for("instagram")) == 1


def test_without_dedupe_a_lost_response_duplicates_the_post() -> None:
    """A platform without idempotency keys posts twice after a lost answer: the danger shown."""
    pub = ScriptedPublisher({"instagram": [LostResponse()]}, dedupe=False)
    with pytest.raises(TimeoutError):
        pub.publish(_req())
    pub.publish(_req())
    assert len(pub.posts) == 2


def test_a_key_reused_for_other_content_is_refused() -> None:
    """The same key with different content is a non-retryable idempotency conflict."""
    pub = ScriptedPublisher()
    pub.publish(_req(caption="one"))
    outcome = pub.publish(_req(caption="two"))
    assert isinstance(outcome, PublishFailure)
    assert (outcome.retryable, outcome.code) == (False, "idempotency_conflict")
    assert len(pub.posts) == 1


def test_success_steps_can_name_the_post() -> None:
    """A Succeed step may give the external id and URL to answer."""
    pub = ScriptedPublisher({"reddit": [Succeed("t3_abc", "https://reddit.com/r/x/t3_abc")]})
    assert pub.publish(_req(platform="reddit")) == PublishSuccess(
        "t3_abc", "https://reddit.com/r/x/t3_abc"
    )


def test_a_custom_default_step_applies_past_the_script() -> None:
    """``then`` is played once the script is used up and for unscripted platforms."""
    pub = ScriptedPublisher(then=Reject("account suspended"))
    outcome = pub.publish(_req(platform="onlyfans"))
    assert isinstance(outcome, PublishFailure)
    assert not outcome.retryable


def test_calls_can_be_filtered() -> None:
    """calls_for filters by platform and key."""
    pub = ScriptedPublisher()
    pub.publish(_req("a", "reddit"))
    pub.publish(_req("b", "tiktok"))
    assert [c.request.idempotency_key for c in pub.calls_for(platform="tiktok")] == ["b"]
    assert [c.request.platform for c in pub.calls_for(key="a")] == ["reddit"]


def test_a_bad_script_is_rejected_with_paths() -> None:
    """Unknown platforms and things that are not steps are reported at their paths."""
    with pytest.raises(ValidationError) as exc:
        ScriptedPublisher({"myspace": [Timeout()], "reddit": [Timeout(), "fail"]})  # type: ignore[list-item]
    assert {p.path for p in exc.value.problems} == {"script.myspace", "script.reddit[1]"}
    with pytest.raises(ValidationError):
        ScriptedPublisher(then="ok")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ScriptedPublisher({"reddit": Timeout()})  # type: ignore[dict-item]


def test_concurrent_calls_with_one_key_post_once() -> None:
    """Calls from many threads with the same key create exactly one post."""
    pub = ScriptedPublisher()
    threads = [threading.Thread(target=pub.publish, args=(_req(),)) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pub.posts) == 1
    assert len(pub.calls) == 16


class _Exploding:
    def publish(self, request: PublishRequest) -> PublishSuccess:
        raise ConnectionResetError("peer reset")


class _Confused:
    def publish(self, request: PublishRequest) -> object:
        return {"ok": True}


def test_call_publisher_turns_exceptions_into_retryable_failures() -> None:
    """An exception from a publisher becomes a retryable failure naming it."""
    outcome = call_publisher(_Exploding(), _req())
    assert outcome == PublishFailure("ConnectionResetError: peer reset", True, None, "exception")
    with_timeout = call_publisher(ScriptedPublisher({"instagram": [Timeout()]}), _req())
    assert isinstance(with_timeout, PublishFailure)
    assert with_timeout.retryable


def test_call_publisher_refuses_a_non_outcome() -> None:
    """A publisher returning something else is a non-retryable failure."""
    outcome = call_publisher(_Confused(), _req())  # type: ignore[arg-type]
    assert isinstance(outcome, PublishFailure)
    assert not outcome.retryable
    assert outcome.code == "invalid_outcome"


def test_recording_publisher_still_dedupes() -> None:
    """The default RecordingPublisher records and deduplicates by key."""
    pub = RecordingPublisher()
    assert pub.publish(_req()) == pub.publish(_req())
    assert len(pub.requests) == 1


def test_a_crash_between_publishing_and_recording_does_not_duplicate() -> None:
    """After a worker dies between the platform's answer and its own write, the rerun posts nothing new."""
    pub = ScriptedPublisher()
    jobs = {"k1": {"status": "pending", "attempts": 0, "external_id": None}}
    # worker 1 claims the job (attempt count committed), calls the platform, then dies
    jobs["k1"]["attempts"] = 1
    first = call_publisher(pub, _req())
    assert isinstance(first, PublishSuccess)
    # ... crash: the success is never written; the job still says "pending"
    # worker 2 after restart finds the pending job and calls again with the same key
    jobs["k1"]["attempts"] = 2
    second = call_publisher(pub, attrs.evolve(_req(), attempt=2))
    assert second == first
    jobs["k1"].update(status="published", external_id=second.external_id)
    assert len(pub.posts) == 1
    assert [c.deduplicated for c in pub.calls] == [False, True]
