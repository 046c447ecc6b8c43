"""CUPED over 1,000,000 fans against a hand-written numpy version (issue 20).

``cuped_ttest`` (input checks, two passes of centered sums by dot products,
pooled theta, Welch on the adjusted values, the variance reduction) against
the textbook numpy/scipy version: ``np.cov`` for theta, the adjusted arrays
built explicitly, ``scipy.stats.ttest_ind(equal_var=False)``. Goal: ours /
numpy <= 1.5. Timed interleaved (min and median).
"""

from __future__ import annotations

import numpy as np
from _harness import Result, Scale, compare
from scipy import stats as sps

from campaign_core.stats import cuped_ttest


def cuped_million(scale: Scale) -> Result:
    fans = scale.n(1_000_000, minimum=1000) // 2
    rng = np.random.default_rng(1)
    xa, xb = rng.gamma(2.0, 10.0, fans), rng.gamma(2.0, 10.0, fans)  # pre-period spend
    ya = 0.5 * xa + rng.gamma(2.0, 5.0, fans)
    yb = 0.5 * xb + rng.gamma(2.0, 5.0, fans) + 0.1

    def numpy_version() -> object:
        x = np.concatenate([xa, xb])
        y = np.concatenate([ya, yb])
        theta = np.cov(x, y)[0, 1] / np.var(x, ddof=1)
        mean_x = x.mean()
        return sps.ttest_ind(
            yb - theta * (xb - mean_x), ya - theta * (xa - mean_x), equal_var=False
        )

    ours = cuped_ttest(ya, xa, yb, xb)
    reference = numpy_version()
    assert abs(ours.t - float(reference.statistic)) < 1e-6 * abs(float(reference.statistic))  # type: ignore[attr-defined]
    return compare(
        f"cuped_ttest, {2 * fans:,} fans (vs hand-written numpy)",
        lambda: cuped_ttest(ya, xa, yb, xb),
        numpy_version,
        goal="<= 1.5",
        repeat=scale.n(9, minimum=3),
        note=f"variance reduction {ours.variance_reduction:.0%}",
    )


BENCHMARKS = [cuped_million]
