"""No secret in any output of a credential call: errors, paths, JSON, logs, audit, reprs.

A recognisable secret is planted in every position of every ``ws.credentials`` call
(platform, the secret object itself, a secret's name, a secret's value of every wrong
type, too long, too many), with and without keys; every output is then searched for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, SequentialIds
from campaign_core.errors import CampaignCoreError
from campaign_core.publishing import CredentialCipher, Secret
from campaign_core.serialization import to_json
from campaign_core.testing.helpers import snapshot

PLANT = "SUPERSECRET-7f3a9c"
KEY = CredentialCipher.generate_key()


def _secrets() -> list[Any]:
    """Every shape of the ``secret`` argument that carries the plant."""
    return [
        PLANT,
        [PLANT],
        (PLANT, PLANT),
        {PLANT: "value"},
        {PLANT: PLANT},
        {"token": PLANT},
        {"token": Secret(PLANT)},
        {"token": [PLANT]},
        {"token": {"nested": PLANT}},
        {"token": PLANT.encode()},
        {"token": PLANT * 2000},
        {"ok": "v", PLANT: 5},
        {f"{PLANT}{i}": "v" for i in range(60)},
        {f"n{i}": PLANT * 500 for i in range(20)},
        {"": PLANT, " ": PLANT},
        {5: PLANT},
    ]


def _texts(value: Any) -> list[str]:
    """What a host could print or send of ``value``: str, repr, JSON."""
    out = [str(value), repr(value)]
    if isinstance(value, CampaignCoreError):
        out.append(json.dumps(value.to_json(), default=str))
        out.extend(str(getattr(p, "path", "")) for p in getattr(value, "problems", ()))
        cause: BaseException | None = value.__cause__ or value.__context__
        while cause is not None:
            out.append(repr(cause))
            cause = cause.__cause__ or cause.__context__
    else:
        with contextlib.suppress(Exception):
            out.append(json.dumps(to_json(value), default=str))
    return out


@pytest.mark.parametrize("keys", [[KEY], None], ids=["keys", "no-keys"])
def test_a_planted_secret_reaches_no_output(
    local_store: Any, clock: Any, caplog: pytest.LogCaptureFixture, keys: Any
) -> None:
    """Whatever position the secret is passed in, no error, log line, audit record, stored
    field, return value or repr shows it."""
    caplog.set_level(logging.DEBUG)
    core = CampaignCore(local_store, clock=clock, ids=SequentialIds(), credential_keys=keys)
    ws = core.for_actor(Actor("o1"))
    calls: list[Callable[[], Any]] = [
        lambda: ws.credentials.set_platform_credentials(PLANT, {"token": "fine"}),
        lambda: ws.credentials.set_platform_credentials(Secret(PLANT), {"token": "fine"}),
        lambda: ws.credentials.delete_platform_credentials(PLANT),
        *(
            (lambda s=s: ws.credentials.set_platform_credentials("reddit", s))  # type: ignore[misc]
            for s in _secrets()
        ),
        lambda: ws.credentials.set_platform_credentials("instagram", {"accessToken": PLANT}),
        ws.credentials.list_platform_credentials,
        ws.credentials.rotate_credentials,
        lambda: ws.credentials.delete_platform_credentials("instagram"),
    ]
    outputs: list[str] = []
    for call in calls:
        try:
            outputs.extend(_texts(call()))
        except CampaignCoreError as error:
            outputs.extend(_texts(error))
    outputs.append(caplog.text)
    outputs.extend(record.getMessage() for record in caplog.records)
    outputs.append(json.dumps(snapshot(core.store), default=str))  # audit records included
    leaked = [text for text in outputs if PLANT in text or PLANT.lower() in text.lower()]
    assert leaked == []
