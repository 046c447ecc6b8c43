"""Every store passes the one contract suite (campaign_core.testing.StoreContract)."""

from __future__ import annotations

import pytest

from campaign_core.ports import Store
from campaign_core.testing import StoreContract
from tests.conftest import ALL_BACKENDS, backend_params, make_store


@pytest.mark.parametrize("backend", backend_params(ALL_BACKENDS))
class TestStoreContract(StoreContract):
    """The contract, on memory, SQLite, PostgreSQL and MariaDB."""

    @pytest.fixture
    def store(self, backend: str) -> Store:
        return make_store(backend)
