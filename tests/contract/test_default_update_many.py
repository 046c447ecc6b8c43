"""The default ``Repository.update_many`` (what a third-party store inherits) passes the contract."""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from campaign_core.entities import ENTITIES
from campaign_core.ports import Repository, Store, UnitOfWork
from campaign_core.testing import StoreContract
from campaign_core_memory import InMemoryStore


class _DefaultUpdateManyStore(InMemoryStore):
    """The in-memory store with every repository's update_many replaced by the port's default."""

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        with super().unit_of_work() as uow:
            for name in ENTITIES:
                repo = uow.repository(name)
                repo.update_many = types.MethodType(Repository.update_many, repo)  # type: ignore[method-assign]
            yield uow


class TestDefaultUpdateMany(StoreContract):
    """The whole contract suite, update_many through ``Repository.update_many``."""

    @pytest.fixture
    def store(self) -> Store:
        return _DefaultUpdateManyStore()
