"""Validation of a message template when it is saved: every problem with its path.

Paths point into the input: ``parts.fr.subject`` for a part, ``default_locale``,
``channel``. A part's Liquid problems carry the line and column in the message
(``line 2, column 14: unknown fan field in 'fan.frist_name' (did you mean
'first_name'?)``). Codes: ``syntax_error``, ``unknown_variable``,
``unknown_filter``, ``too_deep``, ``too_long``, ``too_large``, ``required``,
``unknown_field``, ``invalid_type``, ``invalid_value``, and the render
failures of the trial render (``resource_limit``, ``render_error``...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from campaign_core._text import text_problem
from campaign_core.errors import ProblemCollector
from campaign_core.messages._fields import MessageFields
from campaign_core.messages._locales import normalize_locale
from campaign_core.messages._render import (
    AccountProfile,
    MessageRenderer,
    _describe,
    sample_fan,
)
from campaign_core.models import MESSAGE_PARTS, MessageTemplate

__all__ = ["REQUIRED_PARTS", "validate_template"]

_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_TOPIC: Final = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")

REQUIRED_PARTS: Final[Mapping[str, tuple[tuple[str, ...], ...]]] = {
    "email": (("subject",), ("html", "text")),
    "push": (("body",),),
    "dm": (("text",),),
    "sms": (("text",),),
}
"""Per channel, groups of parts of which each locale needs at least one (email: a
subject, and an HTML or a text body)."""


def validate_template(
    *,
    name: Any,
    channel: Any,
    parts: Any,
    default_locale: Any = "en",
    topic: Any = None,
    description: Any = None,
    renderer: MessageRenderer,
    fields: MessageFields | None = None,
    now: datetime,
    account: AccountProfile | None = None,
) -> dict[str, Any]:
    """Check a template as a user wrote it; the clean values, or every problem at once.

    Args:
        name: the template's name (letters, digits, ``_``, ``.``, ``-``; at most 100).
        channel: ``email``, ``push``, ``dm`` or ``sms``.
        parts: locale -> part -> Liquid source.
        default_locale: the locale fans fall back to; must have parts.
        topic: the subscription topic the message belongs to, if any.
        description: free text.
        renderer: compiles the parts and runs the trial render.
        fields: the account's variables (declared traits).
        now: the time of the trial render.
        account: the account, for the trial render.

    Returns:
        ``name``, ``channel``, ``topic``, ``description``, ``parts`` (locale keys
        in canonical spelling) and ``default_locale``.

    Raises:
        ValidationError: every problem, each with its path.
    """
    problems = ProblemCollector()
    fields = fields or MessageFields.from_registry()
    if not isinstance(name, str) or not _NAME.match(name):
        problems.add(
            "name",
            "a name is a letter or digit, then letters, digits, '_', '.' or '-' (at most 100)",
        )
    if not isinstance(channel, str) or channel not in MESSAGE_PARTS:
        problems.add(
            "channel", f"unknown channel {channel!r}; expected one of " + ", ".join(MESSAGE_PARTS)
        )
    if topic is not None and (not isinstance(topic, str) or not _TOPIC.match(topic)):
        problems.add("topic", "a topic is lowercase letters, digits, '_', '.' or '-'")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        problems.add("description", "must be text of at most 2,000 characters")
    elif isinstance(description, str) and (why := text_problem(description)):
        problems.add("description", why)
    default = normalize_locale(default_locale)
    if default is None:
        problems.add("default_locale", f"{default_locale!r} is not a locale tag (en, fr-CA)")
    clean_parts: dict[str, dict[str, str]] = {}
    if not isinstance(parts, Mapping) or not parts:
        problems.add("parts", "expected an object of locale -> parts, with at least one locale")
    else:
        clean_parts = _check_parts(parts, channel, renderer, fields, problems)
        if default is not None and clean_parts and default not in clean_parts:
            problems.add(
                "default_locale",
                f"the default locale {default!r} has no parts (locales: "
                + ", ".join(clean_parts)
                + ")",
                "required",
            )
    if not problems:
        _trial_render(
            name, channel, clean_parts, default or "en", renderer, fields, now, account, problems
        )
    problems.raise_if_any()
    return {
        "name": name,
        "channel": channel,
        "topic": topic,
        "description": description,
        "parts": clean_parts,
        "default_locale": default,
    }


def _check_parts(
    parts: Mapping[Any, Any],
    channel: Any,
    renderer: MessageRenderer,
    fields: MessageFields,
    problems: ProblemCollector,
) -> dict[str, dict[str, str]]:
    allowed = MESSAGE_PARTS.get(channel, ()) if isinstance(channel, str) else ()
    known_filters = renderer.engine.filter_names()
    clean: dict[str, dict[str, str]] = {}
    for raw_locale, locale_parts in parts.items():
        tag = normalize_locale(raw_locale)
        base = f"parts.{raw_locale}"
        if tag is None:
            problems.add(base, f"{raw_locale!r} is not a locale tag (en, fr-CA)")
            continue
        if tag in clean:
            problems.add(base, f"locale {tag!r} is given twice")
            continue
        if not isinstance(locale_parts, Mapping):
            problems.add(base, "expected an object of part -> template", "invalid_type")
            continue
        kept: dict[str, str] = {}
        for part, source in locale_parts.items():
            path = f"{base}.{part}"
            if allowed and part not in allowed:
                problems.add(
                    path,
                    f"{channel} messages have no part {part!r}; they have " + ", ".join(allowed),
                    "unknown_field",
                )
                continue
            if not isinstance(source, str):
                problems.add(path, "expected template text", "invalid_type")
                continue
            if len(source) > renderer.render_limits.max_source_chars:
                problems.add(
                    path,
                    f"is {len(source):,} characters; at most "
                    f"{renderer.render_limits.max_source_chars:,}",
                    "too_large",
                )
                continue
            if why := text_problem(source):
                problems.add(path, why)
                continue
            if _check_source(
                path, source, part, channel, renderer, fields, known_filters, problems
            ):
                kept[part] = source
        for group in REQUIRED_PARTS.get(channel, ()) if isinstance(channel, str) else ():
            if not any(locale_parts.get(p) for p in group):
                problems.add(
                    f"{base}.{group[0]}",
                    f"{channel} messages need " + " or ".join(repr(p) for p in group),
                    "required",
                )
        clean[tag] = kept
    return clean


def _check_source(
    path: str,
    source: str,
    part: str,
    channel: Any,
    renderer: MessageRenderer,
    fields: MessageFields,
    known_filters: frozenset[str],
    problems: ProblemCollector,
) -> bool:
    from liquid.exceptions import BlockNestingError, LiquidError

    try:
        compiled = renderer.parse(source, html=channel == "email" and part == "html")
    except BlockNestingError as exc:
        problems.add(path, _describe(exc), "too_deep")
        return False
    except LiquidError as exc:
        problems.add(path, _describe(exc), "syntax_error")
        return False
    analysis = compiled.analyze(include_partials=False)
    before = len(problems.problems)
    for variables in analysis.globals.values():
        for variable in variables:
            why = fields.problem(variable.segments)
            if why is not None:
                line, column = variable.span.line_col(source)
                problems.add(path, f"line {line}, column {column + 1}: {why}", "unknown_variable")
    for name, spans in analysis.filters.items():
        if name not in known_filters:
            line, column = spans[0].line_col(source)
            problems.add(
                path, f"line {line}, column {column + 1}: unknown filter {name!r}", "unknown_filter"
            )
    return len(problems.problems) == before


def _trial_render(
    name: str,
    channel: str,
    parts: Mapping[str, Mapping[str, str]],
    default_locale: str,
    renderer: MessageRenderer,
    fields: MessageFields,
    now: datetime,
    account: AccountProfile | None,
    problems: ProblemCollector,
) -> None:
    # one render per locale with a fan that has every field: catches what only
    # rendering shows (a loop past the bound, 10 MB of output, a part too long)
    fan = sample_fan(fields, now=now)
    draft = MessageTemplate(
        id="draft",
        name=name,
        channel=channel,
        parts={k: dict(v) for k, v in parts.items()},
        default_locale=default_locale,
        created_at=now,
        updated_at=now,
    )
    for locale in parts:
        result = renderer.render(
            draft,
            fan,
            now=now,
            locale=locale,
            account=account,
            fields=fields,
            unsubscribe_url="https://example.com/unsubscribe/sample",
        )
        if not result.ok:
            problems.add(
                f"parts.{result.part}" if result.part else f"parts.{locale}",
                f"fails for a sample fan: {result.detail}",
                result.reason or "render_error",
            )
