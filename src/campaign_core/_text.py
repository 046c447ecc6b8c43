"""Text every store can keep: no NUL, no unpaired surrogates.

PostgreSQL's ``text`` and ``jsonb`` cannot hold ``\\u0000``, and no UTF-8 database can
hold a lone surrogate (``\\ud800``-``\\udfff``, which Python strings allow). Validation
refuses both up front with the input's path, so every store sees the same input and
answers the same way.
"""

from __future__ import annotations

__all__ = ["is_storable", "text_problem"]


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text on every store, or ``None`` when it can.

    Args:
        value: the text.

    Returns:
        A message for a validation problem (``"must not contain NUL characters..."``), or
        ``None``.
    """
    if "\x00" in value:
        return "must not contain NUL characters (\\u0000)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain unpaired surrogates (\\ud800-\\udfff)"
    return None


def is_storable(value: object) -> bool:
    """Whether ``value`` is not text, or text every store can keep (see :func:`text_problem`)."""
    return not isinstance(value, str) or text_problem(value) is None
