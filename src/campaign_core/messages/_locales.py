"""Locale tags and the fallback chain a fan's message follows (``fr-CA`` -> ``fr`` -> default)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

__all__ = ["choose_locale", "locale_chain", "normalize_locale"]

# BCP 47 as hosts write it: a language, then optional script, region or variant subtags.
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}$")


def normalize_locale(tag: object) -> str | None:
    """The canonical spelling of a locale tag, or ``None`` when it is not one.

    ``fr_ca``, ``FR-ca`` and ``fr-CA`` are the same locale: the language is lower
    case, a four-letter script title case, a region upper case, ``_`` becomes ``-``.

    >>> normalize_locale("pt_br")
    'pt-BR'
    >>> normalize_locale("zh-hant-tw")
    'zh-Hant-TW'
    >>> normalize_locale("not a locale") is None
    True
    """
    if not isinstance(tag, str):
        return None
    return _normalize(tag)


@functools.lru_cache(maxsize=4096)
def _normalize(tag: str) -> str | None:
    if not _TAG.match(tag):
        return None
    language, *rest = re.split(r"[-_]", tag)
    out = [language.lower()]
    for sub in rest:
        if len(sub) == 4 and sub.isalpha():
            out.append(sub.title())
        elif len(sub) in (2, 3) and (sub.isalpha() or sub.isdigit()):
            out.append(sub.upper())
        else:
            out.append(sub.lower())
    return "-".join(out)


def locale_chain(requested: str | None, default: str) -> tuple[str, ...]:
    """The locales to try, most specific first, ending with ``default``.

    >>> locale_chain("fr-CA", "en")
    ('fr-CA', 'fr', 'en')
    >>> locale_chain("zh-Hant-TW", "en")
    ('zh-Hant-TW', 'zh-Hant', 'zh', 'en')
    >>> locale_chain(None, "en")
    ('en',)
    """
    chain: list[str] = []
    tag = normalize_locale(requested) if requested else None
    while tag:
        chain.append(tag)
        tag = tag.rpartition("-")[0]
    default_tag = normalize_locale(default) or default
    if default_tag not in chain:
        chain.append(default_tag)
    return tuple(chain)


def choose_locale(requested: str | None, available: Iterable[str], default: str) -> str | None:
    """The first locale of the fallback chain that ``available`` holds, or ``None``.

    ``available`` may be spelled any way :func:`normalize_locale` accepts; the
    answer is the spelling ``available`` uses.

    >>> choose_locale("fr-CA", ["en", "fr"], "en")
    'fr'
    >>> choose_locale("de-AT", ["en", "fr"], "en")
    'en'
    """
    by_tag = {normalize_locale(tag) or tag: tag for tag in available}
    for tag in locale_chain(requested, default):
        if tag in by_tag:
            return by_tag[tag]
    return None
