"""Hypothesis strategies shared by the statistics tests (imported, not collected)."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def binomial_sample(draw: st.DrawFn, max_n: int = 1_000_000, min_n: int = 1) -> tuple[int, int]:
    """A (successes, trials) pair with trials in [min_n, max_n]."""
    n = draw(st.integers(min_n, max_n))
    k = draw(st.integers(0, n))
    return k, n


@st.composite
def two_samples(
    draw: st.DrawFn, max_n: int = 1_000_000, min_n: int = 1
) -> tuple[int, int, int, int]:
    """Two binomial samples (k_a, n_a, k_b, n_b)."""
    ka, na = draw(binomial_sample(max_n=max_n, min_n=min_n))
    kb, nb = draw(binomial_sample(max_n=max_n, min_n=min_n))
    return ka, na, kb, nb
