"""Text no store can keep (NUL, lone surrogates): refused up front, the same on every store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds, Settings
from campaign_core._text import is_storable, text_problem
from campaign_core.errors import CampaignCoreError, NotFoundError, ValidationError

BAD = {"nul": "a\x00b", "surrogate": "a\ud800b"}


@pytest.mark.parametrize(
    ("text", "storable"),
    [("plain", True), ("é ✓ 𝄞", True), ("", True), ("a\x00", False), ("\udc80", False)],
)
def test_text_problem_names_nul_and_lone_surrogates(text: str, storable: bool) -> None:
    """NUL and unpaired surrogates are the only text refused; everything else is kept."""
    assert (text_problem(text) is None) is storable
    assert is_storable(text) is storable
    assert is_storable(42)


def _calls(ws: Any, campaign_id: str) -> dict[str, Callable[[str], Any]]:
    """Entry points that take text, each with the bad text in one position."""

    def leaf(op: str) -> Callable[[str], Any]:
        return lambda v: ws.segments.calculate_segment_size(
            {"field": "time_zone", "op": op, "value": v}
        )

    return {
        "name": lambda v: ws.campaigns.create_campaign(
            name=v, type="ppv", platforms=["reddit"], content={"title": "t"}
        ),
        "content.title": lambda v: ws.campaigns.create_campaign(
            name="n", type="ppv", platforms=["reddit"], content={"title": v}
        ),
        "content": lambda v: ws.campaigns.create_campaign(
            name="n", type="ppv", platforms=["reddit"], content={"title": "t", v: 1}
        ),
        "description": lambda v: ws.campaigns.update_campaign(campaign_id, description=v),
        "search": lambda v: ws.campaigns.list_campaigns(search=v),
        "traits.nick": lambda v: ws.fans.upsert_fan("f2", traits={"nick": v}),
        "traits.tags[1]": lambda v: ws.fans.upsert_fan("f2", traits={"tags": ["ok", v]}),
        "properties.p": lambda v: ws.fans.record_event("f1", "purchase", properties={"p": v}),
        "criteria.value": leaf("eq"),
        "criteria.value ": leaf("contains"),
        "criteria.value  ": leaf("icontains"),
        "criteria.event": lambda v: ws.segments.calculate_segment_size(
            {"event": v, "measure": "count", "op": "gte", "value": 1}
        ),
        "segment name": lambda v: ws.segments.create_segment(
            name=v, criteria={"field": "engagement", "op": "gt", "value": 1}
        ),
    }


@pytest.mark.parametrize("kind", sorted(BAD))
def test_every_text_input_refuses_unstorable_text_with_its_path(any_store: Any, kind: str) -> None:
    """Names, content, JSON keys, traits, event properties and criteria values with NUL or a
    lone surrogate raise ValidationError with the input's path on every store; ids that
    cannot exist are simply not found."""
    core = CampaignCore(
        any_store,
        clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC)),
        ids=SequentialIds(""),
        settings=Settings(fan_traits={"nick": "string", "tags": "string_list"}),
    )
    ws = core.for_actor(Actor("acct"))
    ws.fans.upsert_fan("f1")
    campaign = ws.campaigns.create_campaign(
        name="C", type="ppv", platforms=["reddit"], content={"title": "t"}
    )
    bad = BAD[kind]
    for where, call in _calls(ws, campaign.id).items():
        with pytest.raises(ValidationError) as caught:
            call(bad)
        expected = "name" if where == "segment name" else where.strip()
        assert [p.path for p in caught.value.problems] == [expected], where
        assert caught.value.problems[0].code == "invalid_value", where
    for getter in (ws.campaigns.get_campaign, ws.segments.get_segment):
        with pytest.raises(NotFoundError):
            getter(bad)
    assert ws.campaigns.get_campaign(campaign.id).description == campaign.description


def test_a_residual_driver_data_error_is_typed_and_quotes_no_sql() -> None:
    """A DataError that reaches the SQL store's translation becomes a ValidationError whose
    message has the driver's first line only: no statement, no parameters."""
    sa = pytest.importorskip("sqlalchemy")
    from campaign_core_sqlalchemy._errors import translate_errors

    driver = Exception("PostgreSQL text fields cannot contain NUL (0x00) bytes\nLINE 1: secret")
    error = sa.exc.DataError("SELECT * FROM campaigns WHERE id = %(id)s", {"id": "p4ss"}, driver)
    with pytest.raises(CampaignCoreError) as caught, translate_errors("campaigns"):
        raise error
    assert isinstance(caught.value, ValidationError)
    text = str(caught.value) + repr(caught.value.to_json())
    assert "cannot contain NUL" in text
    for leaked in ("SELECT", "p4ss", "LINE", "secret"):
        assert leaked not in text
    assert caught.value.__cause__ is None
