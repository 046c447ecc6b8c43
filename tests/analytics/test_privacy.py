"""Privacy: keyed pseudonyms, and no raw fan identifier in any analytics output."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.analytics import (
    PrivacyViolationError,
    assert_no_fan_ids,
    build_report,
    compute_metrics,
    conversion_funnel,
    performance_trend,
    pseudonymize,
    render_report,
    rollup_hour,
)
from campaign_core.analytics._privacy import find_fan_ids
from campaign_core.errors import ValidationError
from campaign_core.serialization import to_json

from .strategies import FANS, T0, batch_of, event_dicts

KEY = b"0123456789abcdef-secret"


def test_pseudonym_is_keyed_hmac_sha256_truncated() -> None:
    """fan_ + the first 24 hex digits of HMAC-SHA256(key, id): stable, keyed, not a plain hash."""
    expected = "fan_" + hmac.new(KEY, b"fan-42", hashlib.sha256).hexdigest()[:24]
    assert pseudonymize("fan-42", KEY) == expected
    assert pseudonymize("fan-42", KEY.decode()) == expected
    assert pseudonymize("fan-42", KEY) != pseudonymize("fan-43", KEY)
    assert pseudonymize("fan-42", KEY) != pseudonymize("fan-42", KEY + b"!")
    assert hashlib.sha256(b"fan-42").hexdigest()[:24] not in pseudonymize("fan-42", KEY)
    assert len(pseudonymize("x", KEY)) == 28


def test_pseudonymize_refuses_weak_keys_and_empty_ids() -> None:
    """Keys under 16 bytes and empty ids are refused."""
    with pytest.raises(ValidationError) as info:
        pseudonymize("f", b"short")
    assert info.value.problems[0].path == "key"
    with pytest.raises(ValidationError):
        pseudonymize("", KEY)
    with pytest.raises(ValidationError):
        pseudonymize("f", 12345)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_pseudonyms_never_contain_the_id(fan_id: str) -> None:
    """A pseudonym is hex: it never reveals an identifier of 6 characters or more."""
    pseudonym = pseudonymize(fan_id, KEY)
    assert not find_fan_ids(pseudonym, [fan_id]) or len(fan_id) < 6


def test_guard_finds_ids_anywhere_and_names_only_paths() -> None:
    """Exact values, tokens, substrings and keys are found; the error never repeats the id."""
    output = {
        "rows": [{"fan": "f-1234567"}, {"note": "seen fan f-1234567 twice"}],
        "f-1234567": 1,
        "count": 1234567,
        "short": "id ab here",
    }
    assert find_fan_ids(output, ["f-1234567", "ab"]) == [
        "rows[0].fan",
        "rows[1].note",
        "<redacted key>",
        "short",
    ]
    with pytest.raises(PrivacyViolationError) as info:
        assert_no_fan_ids(output, ["f-1234567"])
    assert "f-1234567" not in str(info.value)
    assert "f-1234567" not in json.dumps(info.value.to_json())
    assert info.value.http_status == 500
    assert_no_fan_ids(
        {"count": 1234567, "label": "about"}, ["1234567", "ab"]
    )  # numbers and inner short ids pass


@settings(max_examples=40, deadline=None)
@given(event_dicts(max_size=60))
def test_no_fan_id_in_any_analytics_output(events: list[dict[str, object]]) -> None:
    """Metrics, funnels, trends, roll-ups and every report format hold no fan identifier."""
    fans = [f for f in FANS if f]
    batch = batch_of(events)
    metrics = compute_metrics(batch, campaign_id="c1")
    trend = performance_trend(batch, start=T0, end=T0 + timedelta(days=10))
    rows = rollup_hour("c1", T0 + timedelta(hours=5), batch)
    report = build_report(
        campaign=_campaign(), metrics=metrics, trend=trend, generated_at=T0 + timedelta(days=10)
    )
    for output in (metrics, conversion_funnel(metrics.totals), trend, list(rows), report):
        assert_no_fan_ids(to_json(output), fans)
    assert_no_fan_ids(render_report(report, "json"), fans)
    assert_no_fan_ids(render_report(report, "csv"), fans)


def _campaign() -> object:
    from campaign_core.analytics import ReportCampaign

    return ReportCampaign(id="c1", name="Spring", platforms=("instagram", "tiktok"))


def test_guard_wants_a_collection_of_ids() -> None:
    """Passing one id as a string (a common slip) is refused rather than read letter by letter."""
    with pytest.raises(ValidationError):
        find_fan_ids({"a": "fan-1"}, "fan-1")
