"""Property-based API tests: schemathesis drives every operation of the OpenAPI document.

On the memory store: no 5xx, every status documented, every response matching its schema.
The example budget is small (a few cases per operation) so the run stays well under a minute.
"""

from __future__ import annotations

import warnings

import pytest

from campaign_core import CampaignCore, FakeClock, SequentialIds
from campaign_core.publishing import CredentialCipher
from campaign_core_http import create_app
from campaign_core_memory import InMemoryStore

from ..conftest import T0
from .conftest import fixed_actor

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytest.importorskip("cryptography")  # the credentials routes seal secrets
CORE = CampaignCore(
    InMemoryStore(),
    clock=FakeClock(T0),
    ids=SequentialIds(),
    credential_keys=[CredentialCipher.generate_key()],
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    APP = create_app(CORE, actor_resolver=fixed_actor())
    schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@schema.parametrize()
@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
