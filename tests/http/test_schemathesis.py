"""Property-based API tests: schemathesis drives every operation of the OpenAPI document.

On the memory store and on PostgreSQL (``CAMPAIGN_CORE_TEST_POSTGRES_URL``; skipped without
it, required in CI): no 5xx, every status documented, every response matching its schema.
The example budget is small (two cases per operation) to keep each run within a minute.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytest

from campaign_core import CampaignCore, FakeClock, SequentialIds
from campaign_core.publishing import CredentialCipher
from campaign_core_http import create_app
from campaign_core_memory import InMemoryStore

from ..conftest import REQUIRE_SERVERS, SERVER_ENV, T0, fresh_database_url
from .conftest import fixed_actor

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("cryptography")  # the credentials routes seal secrets
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


def _schema(store: Any) -> Any:
    core = CampaignCore(
        store,
        clock=FakeClock(T0),
        ids=SequentialIds(),
        credential_keys=[CredentialCipher.generate_key()],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = create_app(core, actor_resolver=fixed_actor())
        return schemathesis.openapi.from_asgi("/openapi.json", app)


def _run(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)


SETTINGS = settings(
    max_examples=2, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
MEMORY = _schema(InMemoryStore())


@MEMORY.parametrize()
@SETTINGS
def test_api_on_the_memory_store(case: schemathesis.Case) -> None:
    _run(case)


if os.environ.get(SERVER_ENV["postgres"]):
    from campaign_core_sqlalchemy import SqlAlchemyStore

    _pg = SqlAlchemyStore(fresh_database_url("postgres", "http_schemathesis"))
    _pg.upgrade()
    POSTGRES = _schema(_pg)

    @pytest.mark.postgres
    @POSTGRES.parametrize()
    @SETTINGS
    def test_api_on_postgres(case: schemathesis.Case) -> None:
        _run(case)

else:

    @pytest.mark.postgres
    def test_api_on_postgres() -> None:
        message = f"schemathesis on PostgreSQL needs {SERVER_ENV['postgres']}"
        if REQUIRE_SERVERS:
            pytest.fail(message + "; CAMPAIGN_CORE_REQUIRE_SERVERS=1 forbids skipping")
        pytest.skip(message)
