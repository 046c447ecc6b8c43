"""Message templates: what a fan receives, per channel and language (our addition)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

import attrs

__all__ = ["MESSAGE_PARTS", "MessageTemplate"]

MESSAGE_PARTS: Final[Mapping[str, tuple[str, ...]]] = {
    "email": ("subject", "html", "text"),
    "push": ("title", "body"),
    "dm": ("text",),
    "sms": ("text",),
}
"""The parts a template has on each channel (``email`` needs a ``subject`` and a body)."""


@attrs.frozen(kw_only=True)
class MessageTemplate:
    """A Liquid message template (table ``message_templates``).

    ``parts`` maps a locale (``en``, ``fr-CA``) to the template's parts on its
    channel (``MESSAGE_PARTS``), each a Liquid source. ``default_locale`` is
    the locale a fan falls back to when none of theirs is present. Built-in
    templates have ``owner_id`` None; an account overrides one by saving a
    template of the same ``name``.
    """

    id: str
    owner_id: str | None = None
    name: str
    channel: str
    topic: str | None = None
    description: str | None = None
    parts: dict[str, dict[str, str]] = attrs.field(factory=dict)
    default_locale: str = "en"
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def is_builtin(self) -> bool:
        return self.owner_id is None

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales the template has parts for, in the order they were given."""
        return tuple(self.parts)
