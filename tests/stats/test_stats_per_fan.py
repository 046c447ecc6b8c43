"""Welch's test on per-fan values, optionally winsorized (scipy is the oracle)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from campaign_core.errors import ValidationError
from campaign_core.stats import welch_ttest_per_fan


@settings(max_examples=60)
@given(
    st.integers(2, 400),
    st.integers(2, 400),
    st.sampled_from([None, 0.9, 0.99]),
    st.sampled_from(["two-sided", "larger", "smaller"]),
    st.integers(0, 2**31),
)
def test_matches_scipys_welch_on_the_capped_values(
    na: int, nb: int, quantile: float | None, alternative: str, seed: int
) -> None:
    """The result is scipy's ttest_ind(equal_var=False) on values capped at the pooled quantile."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(1.0, 1.5, na)
    b = rng.lognormal(1.1, 1.5, nb)
    result = welch_ttest_per_fan(a, b, cap_quantile=quantile, alternative=alternative)  # type: ignore[arg-type]
    if quantile is None:
        ca, cb = a, b
        assert result.cap is None
    else:
        cap = np.quantile(np.concatenate([a, b]), quantile)
        ca, cb = np.minimum(a, cap), np.minimum(b, cap)
        assert result.cap == pytest.approx(cap)
        assert result.capped_a == int((a > cap).sum())
    oracle = stats.ttest_ind(
        cb,
        ca,
        equal_var=False,
        alternative={"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative],
    )
    assert result.test.p_value == pytest.approx(oracle.pvalue, rel=1e-6, abs=1e-12)
    assert result.test.t == pytest.approx(oracle.statistic, rel=1e-6)


def test_capping_tames_a_whale() -> None:
    """One huge purchase flips a Welch test; capped at the 99th percentile it does not."""
    rng = np.random.default_rng(3)
    a = rng.exponential(10.0, 2000)
    b = rng.exponential(10.0, 2000)
    b[0] = 200_000.0  # one whale in the treatment
    raw = welch_ttest_per_fan(a, b)
    capped = welch_ttest_per_fan(a, b, cap_quantile=0.99)
    assert raw.test.difference > 50
    assert abs(capped.test.difference) < 2
    assert capped.capped_b >= 1


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"values_a": [1.0]}, "values_a"),
        ({"values_b": [1.0, math.nan]}, "values_b[1]"),
        ({"values_a": [[1.0, 2.0]]}, "values_a"),
        ({"cap_quantile": 1.0}, "cap_quantile"),
        ({"cap_quantile": 0.2}, "cap_quantile"),
        ({"cap_quantile": "0.99"}, "cap_quantile"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict[str, object], path: str) -> None:
    """Bad values or quantiles are a ValidationError at the argument's name."""
    args: dict[str, object] = {"values_a": [1.0, 2.0, 3.0], "values_b": [2.0, 3.0, 4.0]}
    args.update(kwargs)
    with pytest.raises(ValidationError) as info:
        welch_ttest_per_fan(**args)  # type: ignore[arg-type]
    assert path in [p.path for p in info.value.problems]
