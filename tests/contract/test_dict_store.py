"""The toy store of docs/howto/write-a-store.md passes the whole contract suite."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from campaign_core.ports import Store
from campaign_core.testing import StoreContract

PAGE = Path(__file__).resolve().parents[2] / "docs" / "howto" / "write-a-store.md"


def _page_module(name: str) -> types.ModuleType:
    """The page's block that starts with ``# <name>.py``, as a module."""
    text = PAGE.read_text(encoding="utf-8")
    (source,) = re.findall(rf"^```python\n(# {name}\.py\n.*?)^```", text, re.MULTILINE | re.DOTALL)
    module = types.ModuleType(name)
    exec(compile(source, f"{PAGE.name}:{name}.py", "exec"), module.__dict__)
    return module


DictStore = _page_module("dict_store").DictStore


class TestDictStore(StoreContract):
    """The documented dict store, certified by the shipped suite."""

    @pytest.fixture
    def store(self) -> Store:
        return DictStore()  # type: ignore[no-any-return]
