"""An app over the memory store, its clock and a client, for the HTTP tests."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds
from campaign_core_memory import InMemoryStore

pytest.importorskip("starlette")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette prefers httpx2 for its test client
    from starlette.testclient import TestClient

from campaign_core_http import create_app

from ..conftest import T0

OWNER = Actor("creator-1")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def core(clock: FakeClock) -> Iterator[CampaignCore]:
    core = CampaignCore(InMemoryStore(), clock=clock, ids=SequentialIds())
    yield core
    core.close()


def fixed_actor(actor: Actor = OWNER) -> Any:
    return lambda request: actor


@pytest.fixture
def client(core: CampaignCore) -> Iterator[TestClient]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield TestClient(create_app(core, actor_resolver=fixed_actor()))


def new_campaign(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Drop",
        "type": "ppv",
        "platforms": ["reddit"],
        "content": {"title": "New set tonight"},
        **overrides,
    }
    response = client.post("/campaigns", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())
