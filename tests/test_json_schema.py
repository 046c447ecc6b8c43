"""json_schema(cls) describes exactly what to_json gives: checked on everything the seed's flows return."""

from __future__ import annotations

import copy
import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import attrs
import jsonschema
import pytest

import campaign_core
from campaign_core import Actor, CampaignCore, FakeClock
from campaign_core.analytics import ReportData
from campaign_core.models import Campaign
from campaign_core.serialization import json_schema, to_json
from campaign_core_memory import InMemoryStore

_VALIDATORS: dict[type[Any], jsonschema.Draft202012Validator] = {}


def validator(cls: type[Any]) -> jsonschema.Draft202012Validator:
    if cls not in _VALIDATORS:
        schema = json_schema(cls)
        jsonschema.Draft202012Validator.check_schema(schema)
        _VALIDATORS[cls] = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker()
        )
    return _VALIDATORS[cls]


def records_in(value: Any) -> Iterator[Any]:
    """Every attrs object in a service's return value (lists and dicts searched)."""
    if attrs.has(type(value)):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from records_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from records_in(item)


class Checked:
    """A service proxy: every result's to_json is validated against its class's schema."""

    def __init__(self, inner: Any, seen: dict[str, int]) -> None:
        self._inner, self._seen = inner, seen

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            result = target(*args, **kwargs)
            for record in records_in(result):
                errors = list(validator(type(record)).iter_errors(to_json(record)))
                assert not errors, f"{name} -> {type(record).__name__}: {errors[0]}"
                self._seen[type(record).__name__] = self._seen.get(type(record).__name__, 0) + 1
            return result

        return call


class CheckedWorkspace:
    def __init__(self, ws: Any, seen: dict[str, int]) -> None:
        self._ws, self._seen = ws, seen

    def __getattr__(self, name: str) -> Any:
        return Checked(getattr(self._ws, name), self._seen)


def test_every_result_of_the_seed_flows_matches_its_schema() -> None:
    """The demo's four flows on the embedded store: every record the services return validates."""
    from campaign_core.cli import _demo
    from campaign_core_sqlalchemy import SqlAlchemyStore

    store = SqlAlchemyStore("sqlite://", create=True)
    ctx = _demo.build_context(store, "sqlite://")
    seen: dict[str, int] = {}
    ctx.ws = CheckedWorkspace(ctx.ws, seen)  # type: ignore[assignment]
    outcomes = _demo.run_flows(ctx)
    assert [o.status for o in outcomes] == ["ok"] * len(outcomes)
    tick = ctx.core.tick()
    assert not list(validator(type(tick)).iter_errors(to_json(tick)))
    # the flows touched the main records and results of every service
    for name in ("Campaign", "ABTestDetails", "Segment", "Automation", "CampaignMetrics"):
        assert seen.get(name), f"no {name} was checked: {sorted(seen)}"
    assert len(seen) >= 12, sorted(seen)
    store.close()


def test_the_report_matches_its_schema_full_and_empty() -> None:
    clock = FakeClock()
    core = CampaignCore(InMemoryStore(), clock=clock)
    ws = core.for_actor(Actor("creator-1"))
    empty = ws.campaigns.create_campaign(
        name="Quiet", type="ppv", platforms=["reddit"], content={"title": "t"}
    )
    busy = ws.campaigns.create_campaign(
        name="Busy", type="ppv", platforms=["reddit"], content={"title": "t"}, budget=20
    )
    ws.campaigns.launch_campaign(busy.id)
    for i in range(30):
        ws.analytics.track_impression(busy.id, f"fan-{i}")
        if i % 3 == 0:
            ws.analytics.track_click(busy.id, f"fan-{i}")
        if i % 9 == 0:
            ws.analytics.track_conversion(busy.id, f"fan-{i}", value=12.5)
    ws.analytics.track_spend(busy.id, 7.5)
    clock.advance("2 days")
    for campaign in (empty, busy):
        report = ws.analytics.generate_report(campaign.id, "json")
        errors = list(validator(ReportData).iter_errors(report))
        assert not errors, errors[0]


def test_the_schema_rejects_what_to_json_would_never_give() -> None:
    """Not a schema that accepts anything: missing, extra and mistyped fields all fail."""
    ws = CampaignCore(InMemoryStore(), clock=FakeClock()).for_actor(Actor("c"))
    good = to_json(
        ws.campaigns.create_campaign(
            name="A", type="ppv", platforms=["reddit"], content={"title": "t"}
        )
    )
    check = validator(Campaign)
    assert check.is_valid(good)
    bad = []
    for change in (
        lambda d: d.pop("status"),
        lambda d: d.update(extra=1),
        lambda d: d.update(status="paused-ish"),
        lambda d: d.update(budget="10"),
        lambda d: d.update(createdAt="2026-01-01"),
        lambda d: d.update(platforms=["myspace"]),
        lambda d: d.update(isABTest=1),
    ):
        doc = copy.deepcopy(good)
        change(doc)
        bad.append(check.is_valid(doc))
    assert bad == [False] * len(bad)


def test_names_follow_the_records_spellings() -> None:
    schema = json_schema(Campaign)
    assert "isABTest" in schema["properties"]
    assert "userId" in schema["properties"]
    assert schema["required"] == list(schema["properties"])
    assert schema["$defs"]["CampaignStatus"]["enum"][0] == "draft"


def test_every_public_record_has_a_schema_or_a_clear_refusal() -> None:
    """Records and results get a valid schema; classes with no JSON form raise TypeError."""
    made, refusals = 0, []
    for info in pkgutil.walk_packages(campaign_core.__path__, "campaign_core."):
        if info.name.startswith(("campaign_core.testing", "campaign_core.cli")):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            cls = getattr(module, name, None)
            if not (isinstance(cls, type) and attrs.has(cls)):
                continue
            try:
                schema = json_schema(cls)
            except TypeError as error:
                refusals.append(str(error))
                continue
            jsonschema.Draft202012Validator.check_schema(schema)
            made += 1
    assert made > 100
    assert all("no JSON form" in message for message in refusals), refusals


@pytest.mark.parametrize("value", [dict, 3, "Campaign", None])
def test_only_attrs_classes(value: Any) -> None:
    with pytest.raises(TypeError):
        json_schema(value)
