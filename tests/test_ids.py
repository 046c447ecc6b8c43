"""The id factories: the base-36 digits of cuid-like ids."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from campaign_core.ids import CuidIds, _base36, _base36_4, _base36_8


@given(st.integers(min_value=0, max_value=2**64))
def test_unrolled_base36_digits_equal_the_loop(number: int) -> None:
    """The unrolled 4- and 8-digit forms give the last digits the loop gives."""
    assert _base36_4(number) == _base36(number, 4)
    assert _base36_8(number) == _base36(number, 8)


def test_cuid_ids_keep_their_shape_and_differ() -> None:
    """Ids are ``c`` and 24 lowercase base-36 characters, none repeated."""
    ids = CuidIds()
    made = [ids.new_id("fan") for _ in range(2000)]
    assert all(re.fullmatch(r"c[0-9a-z]{24}", i) for i in made)
    assert len(set(made)) == len(made)
