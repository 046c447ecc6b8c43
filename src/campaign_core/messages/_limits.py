"""How long each part of a message may be on its channel, as data, and SMS segment counting.

An SMS is sent in segments: 160 GSM-7 characters fit one (153 each when the
message needs several, the rest carries the joining header), and one character
outside GSM-7 (an emoji, most non-Latin scripts) turns the whole message into
UCS-2, 70 UTF-16 code units (67 each when split). A direct message is counted in
characters. A host changes any limit with :meth:`MessageLimits.with_overrides`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs

from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.models import MESSAGE_PARTS
from campaign_core.publishing import text_length

__all__ = ["MessageLimits", "PartLimit", "RenderLimits", "SmsCount", "sms_segments"]

# GSM 03.38 basic character set, and the extension table (escape + char: 2 septets).
_GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION: Final = frozenset("^{}\\[~]|€\f")

Unit = Literal["codepoints", "utf16", "sms_segments"]


@attrs.frozen
class SmsCount:
    """How an SMS text is encoded and sent.

    Attributes:
        encoding: ``"GSM-7"`` or ``"UCS-2"``.
        units: septets (GSM-7) or UTF-16 code units (UCS-2).
        segments: how many messages the carrier sends (0 for an empty text).
    """

    encoding: str
    units: int
    segments: int


def sms_segments(text: str) -> SmsCount:
    """Count the segments an SMS text takes.

    >>> sms_segments("Hi Ana, 20% off today")
    SmsCount(encoding='GSM-7', units=21, segments=1)
    >>> sms_segments("x" * 161).segments
    2
    >>> sms_segments("Salut 👋").encoding
    'UCS-2'
    """
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in text):
        units = len(text) + sum(1 for ch in text if ch in _GSM7_EXTENSION)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = text_length(text, "utf16")
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = -(-units // multi)
    return SmsCount(encoding, units, segments)


@attrs.frozen
class PartLimit:
    """The most one part may measure.

    Attributes:
        max: the bound, in ``unit``.
        unit: ``codepoints``, ``utf16`` (UTF-16 code units) or ``sms_segments``.
    """

    max: int
    unit: Unit = "codepoints"

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        if isinstance(self.max, bool) or not isinstance(self.max, int) or self.max < 1:
            problems.add("max", "must be a positive integer", "invalid_value")
        if self.unit not in ("codepoints", "utf16", "sms_segments"):
            problems.add("unit", "must be codepoints, utf16 or sms_segments", "invalid_value")
        problems.raise_if_any()

    def measure(self, text: str) -> int:
        """The length of ``text`` in this limit's unit."""
        if self.unit == "sms_segments":
            return sms_segments(text).segments
        return text_length(text, "utf16" if self.unit == "utf16" else "codepoints")

    def problem(self, text: str) -> str | None:
        """Why ``text`` is too long, or ``None`` when it fits."""
        size = self.measure(text)
        if size <= self.max:
            return None
        unit = {"codepoints": "characters", "utf16": "UTF-16 code units"}.get(
            self.unit, "SMS segments"
        )
        return f"is {size:,} {unit} long; the channel allows {self.max:,}"


_DEFAULTS: Final[Mapping[str, Mapping[str, PartLimit]]] = {
    # RFC 5322 allows 998 per line; mail clients show far less, but it is not refused
    "email": {
        "subject": PartLimit(998),
        "html": PartLimit(262_144),
        "text": PartLimit(262_144),
    },
    # what iOS and Android show without cutting, for alert pushes
    "push": {"title": PartLimit(65), "body": PartLimit(240)},
    # the shortest DM limit of the built-in platforms (Instagram: 1,000 characters)
    "dm": {"text": PartLimit(1000)},
    "sms": {"text": PartLimit(10, "sms_segments")},
}


@attrs.frozen
class MessageLimits:
    """The length limit of each part on each channel.

    Attributes:
        parts: channel -> part -> :class:`PartLimit` (stored as sorted pairs).
    """

    parts: tuple[tuple[str, tuple[tuple[str, PartLimit], ...]], ...] = attrs.field(
        factory=lambda: MessageLimits._freeze(_DEFAULTS)
    )

    @staticmethod
    def _freeze(
        data: Mapping[str, Mapping[str, PartLimit]],
    ) -> tuple[tuple[str, tuple[tuple[str, PartLimit], ...]], ...]:
        return tuple(
            sorted((channel, tuple(sorted(parts.items()))) for channel, parts in data.items())
        )

    @classmethod
    def default(cls) -> MessageLimits:
        """The built-in limits."""
        return cls()

    def limit(self, channel: str, part: str) -> PartLimit | None:
        """The limit of ``part`` on ``channel``, or ``None`` when it has none."""
        for name, parts in self.parts:
            if name == channel:
                return dict(parts).get(part)
        return None

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> MessageLimits:
        """A copy with some limits changed: ``{"dm": {"text": {"max": 500}}}``.

        Raises:
            ValidationError: an unknown channel or part, or a bad limit, with its path.
        """
        problems = ProblemCollector()
        data = {channel: dict(parts) for channel, parts in self.parts}
        for channel, parts in overrides.items():
            if channel not in MESSAGE_PARTS:
                problems.add(channel, f"unknown channel {channel!r}", "unknown_field")
                continue
            for part, spec in parts.items():
                path = f"{channel}.{part}"
                if part not in MESSAGE_PARTS[channel]:
                    problems.add(path, f"{channel} has no part {part!r}", "unknown_field")
                    continue
                try:
                    limit = spec if isinstance(spec, PartLimit) else PartLimit(**dict(spec))
                except ValidationError as exc:
                    problems.extend(exc, path)
                    continue
                except TypeError:
                    problems.add(path, "expected {max, unit}", "invalid_type")
                    continue
                data.setdefault(channel, {})[part] = limit
        problems.raise_if_any()
        return MessageLimits(self._freeze(data))


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError.single(attribute.name, "must be a positive number")


@attrs.frozen
class RenderLimits:
    """What one message may cost to render; a template that goes past a bound fails.

    At save, a template longer than ``max_source_chars`` or nested deeper than
    ``max_nesting`` is refused, and a trial render with a sample fan must stay
    within the rest. At send, going past a bound is that fan's failure (reason
    ``resource_limit``), never a stopped batch.

    Attributes:
        max_source_chars: the longest source of one part.
        max_output_bytes: the most one rendered part may write (UTF-8 bytes).
        max_loop_iterations: the most iterations of nested loops (their product).
        max_nesting: the deepest nesting of blocks (``if`` in ``for``...).
        max_context_depth: the deepest scope stack.
        max_locals_bytes: the most ``assign`` and ``capture`` may hold.
        max_render_seconds: the longest one message may take to render (all parts).
    """

    max_source_chars: int = attrs.field(default=65_536, validator=_positive)
    max_output_bytes: int = attrs.field(default=262_144, validator=_positive)
    max_loop_iterations: int = attrs.field(default=10_000, validator=_positive)
    max_nesting: int = attrs.field(default=20, validator=_positive)
    max_context_depth: int = attrs.field(default=10, validator=_positive)
    max_locals_bytes: int = attrs.field(default=262_144, validator=_positive)
    max_render_seconds: float = attrs.field(default=0.25, validator=_positive)
