"""Fixtures for the message-template tests: a renderer, a fixed time, a template factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("liquid")

from campaign_core.messages import MessageRenderer
from campaign_core.models import MessageTemplate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def renderer() -> MessageRenderer:
    return MessageRenderer()


@pytest.fixture
def now() -> datetime:
    return NOW


def make_template(
    parts: dict[str, dict[str, str]], channel: str = "dm", default_locale: str = "en", **kw: Any
) -> MessageTemplate:
    """A template record for tests (not validated)."""
    return MessageTemplate(
        id="t1",
        name=kw.pop("name", "t"),
        channel=channel,
        parts=parts,
        default_locale=default_locale,
        created_at=NOW,
        updated_at=NOW,
        **kw,
    )


@pytest.fixture
def template() -> Callable[..., MessageTemplate]:
    return make_template
