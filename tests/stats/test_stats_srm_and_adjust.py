"""The sample-ratio mismatch test and p-value adjustment."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from campaign_core.errors import ValidationError
from campaign_core.stats import (
    adjust_pvalues,
    srm_test,
)
from campaign_core.stats._srm import SRM_ALPHA

SETTINGS = settings(max_examples=200, deadline=None)


@st.composite
def counts_and_weights(draw: st.DrawFn) -> tuple[list[int], list[float]]:
    k = draw(st.integers(2, 6))
    weights = draw(st.lists(st.integers(1, 100), min_size=k, max_size=k))
    counts = draw(st.lists(st.integers(0, 10**6), min_size=k, max_size=k))
    return counts, [float(w) for w in weights]


@SETTINGS
@given(counts_and_weights())
def test_srm_matches_scipy_chisquare(data: tuple[list[int], list[float]]) -> None:
    """The SRM statistic and p-value equal scipy.stats.chisquare against the weighted expectation."""
    counts, weights = data
    total = sum(counts)
    result = srm_test(counts, weights)
    if total == 0:
        assert (result.statistic, result.p_value) == (0.0, 1.0)
        return
    expected = np.array(weights) / sum(weights) * total
    ref = sps.chisquare(counts, f_exp=expected)
    assert result.statistic == pytest.approx(float(ref.statistic), rel=1e-9, abs=1e-12)
    assert result.p_value == pytest.approx(float(ref.pvalue), rel=1e-9, abs=1e-300)
    assert result.df == len(counts) - 1
    assert result.mismatch == (result.p_value < SRM_ALPHA)


def test_srm_accepts_percent_or_fraction_weights_and_mappings() -> None:
    """Weights summing to 100 or to 1, or given as a mapping, give the same answer."""
    a = srm_test([5000, 5300], [50, 50])
    b = srm_test([5000, 5300], [0.5, 0.5])
    c = srm_test({"variantA": 5000, "variantB": 5300}, {"variantB": 50, "variantA": 50})
    assert a.p_value == b.p_value == c.p_value
    assert a.p_value < 0.01


def test_srm_flags_a_broken_split() -> None:
    """A 50/50 test that delivered 52/48 over 100k is a mismatch."""
    result = srm_test([52_000, 48_000], [50, 50])
    assert result.mismatch
    assert result.p_value < 1e-30


def test_srm_zero_weight_group() -> None:
    """A zero-weight group is ignored when empty and a certain mismatch when it has traffic."""
    ok = srm_test([500, 500, 0], [50, 50, 0])
    assert ok.df == 1
    assert ok.p_value == 1.0
    broken = srm_test([500, 500, 1], [50, 50, 0])
    assert broken.statistic == math.inf
    assert broken.p_value == 0.0


def test_srm_vectorizes_over_experiments() -> None:
    """A (m, k) array of counts tests each row."""
    rows = np.array([[500, 500], [520, 480], [600, 400]])
    result = srm_test(rows, [50, 50])
    assert result.p_value.shape == (3,)
    for i, row in enumerate(rows):
        assert result.p_value[i] == pytest.approx(
            srm_test(row.tolist(), [50, 50]).p_value, rel=1e-12
        )


@pytest.mark.parametrize(
    ("counts", "weights", "path"),
    [
        ([10, -1], [50, 50], "counts[1]"),
        ([10, 1.5], [50, 50], "counts[1]"),
        ([10, 10], [50, -50], "weights[1]"),
        ([10, 10], [50, float("nan")], "weights[1]"),
        ([10, 10], [0, 0], "weights"),
        ([10, 10], [50, 25, 25], "weights"),
        ([10], [100], "counts"),
        ({"a": 1, "b": 2}, {"a": 50, "c": 50}, "weights.c"),
    ],
)
def test_srm_rejects_bad_input(counts: object, weights: object, path: str) -> None:
    """Bad counts or weights raise ValidationError naming where."""
    with pytest.raises(ValidationError) as info:
        srm_test(counts, weights)  # type: ignore[arg-type]
    assert path in [p.path for p in info.value.problems]


pvalue_lists = st.lists(
    st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.05, 1e-300])), min_size=1, max_size=30
)


@pytest.mark.filterwarnings("ignore::RuntimeWarning:statsmodels.*")
@SETTINGS
@given(pvalue_lists, st.sampled_from(["holm", "bonferroni", "bh", "sidak"]))
def test_adjustment_matches_statsmodels_multipletests(pvalues: list[float], method: str) -> None:
    """Adjusted p-values equal statsmodels' multipletests (fdr_bh for 'bh')."""
    ours = adjust_pvalues(pvalues, method)  # type: ignore[arg-type]
    ref = multipletests(pvalues, method="fdr_bh" if method == "bh" else method)[1]
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300)
    assert (ours >= np.array(pvalues) - 1e-15).all()
    assert (ours <= 1.0).all()


def test_adjustment_runs_per_row() -> None:
    """A 2-D array adjusts each row as its own family."""
    p = np.array([[0.01, 0.04, 0.03], [0.2, 0.001, 0.5]])
    out = adjust_pvalues(p, "holm")
    for i in range(2):
        np.testing.assert_array_equal(out[i], adjust_pvalues(p[i], "holm"))


def test_holm_example() -> None:
    """Holm on (0.01, 0.04, 0.03) gives (0.03, 0.06, 0.06)."""
    np.testing.assert_allclose(adjust_pvalues([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert adjust_pvalues([], "bh").shape == (0,)


@pytest.mark.parametrize(
    ("pvalues", "method", "path"),
    [
        ([0.1, 1.2], "holm", "pvalues[1]"),
        ([0.1, -0.1], "holm", "pvalues[1]"),
        ([0.1, float("nan")], "bh", "pvalues[1]"),
        (0.1, "holm", "pvalues"),
        ([0.1], "fdr", "method"),
    ],
)
def test_adjustment_rejects_bad_input(pvalues: object, method: str, path: str) -> None:
    """Bad p-values or an unknown method raise ValidationError naming where."""
    with pytest.raises(ValidationError) as info:
        adjust_pvalues(pvalues, method)  # type: ignore[arg-type]
    assert info.value.problems[0].path == path
