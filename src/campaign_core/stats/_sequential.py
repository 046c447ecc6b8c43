"""Always-valid inference: the mixture sequential probability ratio test (mSPRT).

Re-checking a fixed-horizon z-test as data arrives and stopping at the first
``p < alpha`` inflates the false-positive rate far above ``alpha`` (the
peeking problem). The mSPRT of Johari, Koomen, Pekelis and Walsh ("Peeking
at A/B tests", KDD 2017; the method behind Optimizely's stats engine) gives a
p-value that is valid at every look, however often one looks:

With the observed difference ``d = rate_b - rate_a``, its variance
``V = rate_a (1 - rate_a)/n_a + rate_b (1 - rate_b)/n_b`` and a normal mixing
distribution ``N(0, tau²)`` over the true difference, the mixture likelihood
ratio against ``H0: difference = theta`` is

    Lambda(theta) = sqrt(V / (V + tau²)) exp(tau² (d - theta)² / (2 V (V + tau²)))

Under H0, ``Lambda`` is (approximately, through the normal approximation) a
non-negative martingale with mean 1, so by Ville's inequality
``P(Lambda ever >= 1/alpha) <= alpha``. Hence ``p = min(1, 1/Lambda(0))`` is
an always-valid p-value (rejecting whenever it is at most alpha, at any look,
keeps the type-I error at most alpha), and ``{theta : Lambda(theta) < 1/alpha}``,
the interval

    d ± sqrt(V (V + tau²) / tau² (2 log(1/alpha) + log((V + tau²) / V)))

is a confidence sequence: it covers the true difference at every look
simultaneously with probability ``1 - alpha``. The two agree: ``p <= alpha``
exactly when 0 is outside the interval.

``tau`` is the scale of effects you expect: the test is most powerful for
differences around ``tau``; a planned minimum detectable effect (absolute) is
a good choice. It must be fixed before looking at the data.
"""

from __future__ import annotations

import math
from typing import Any, Generic, overload

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core._numeric_checks import (
    FloatArray,
    Scalar,
    array_real,
    first_index_path,
    open_unit,
    scalar_real,
)
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.stats._common import F, broadcast_or_raise, parse_two_samples

__all__ = ["MsprtResult", "msprt_from_moments", "msprt_sequence", "msprt_test"]


@attrs.frozen
class MsprtResult(Generic[F]):
    """The result of :func:`msprt_test` or :func:`msprt_sequence`.

    Attributes:
        p_value: the always-valid p-value, in ``[0, 1]``.
        log_likelihood_ratio: ``log Lambda(0)`` (kept in logs: Lambda overflows).
        difference: the observed ``rate_b - rate_a``.
        std_error: ``sqrt(V)``.
        lower: the confidence sequence's lower limit for the difference.
        upper: its upper limit.
        tau: the mixing standard deviation.
        confidence: ``1 - alpha`` of the confidence sequence.
    """

    p_value: F
    log_likelihood_ratio: F
    difference: F
    std_error: F
    lower: F
    upper: F
    tau: float
    confidence: float


def msprt_from_moments(
    difference: npt.ArrayLike,
    variance: npt.ArrayLike,
    *,
    tau: float,
    confidence: float = 0.95,
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The mSPRT for any asymptotically normal estimate of a difference.

    Use it for metrics other than proportions, e.g. a difference of means
    with variance ``var_a / n_a + var_b / n_b`` (what ``decide`` does for
    revenue per impression under the ``always_valid`` policy).

    Args:
        difference: the estimate (treatment minus control), number or array.
        variance: its variance ``V`` (non-negative), broadcastable with it.
        tau: the mixing standard deviation (positive), on the difference's scale.
        confidence: ``1 - alpha`` for the confidence sequence.
        bounds: the parameter's natural range; the sequence is clipped to it.

    Returns:
        ``(p_value, log_likelihood_ratio, lower, upper)`` as float64 arrays of
        the broadcast shape (0-d for numbers). When ``V`` is 0 the normal
        approximation carries no information: ``p = 1``, ``log Lambda = 0``
        and the sequence is the whole ``bounds``.

    Raises:
        ValidationError: a non-finite difference, a negative or non-finite
            variance, ``tau`` not positive and finite, a confidence outside
            (0, 1), or shapes that do not broadcast.
    """
    t = _check_tau(tau)
    level = open_unit("confidence", confidence)
    problems = ProblemCollector()
    d = array_real("difference", difference, problems)
    v = array_real("variance", variance, problems, low=0.0)
    problems.raise_if_any()
    broadcast_or_raise({"difference": d, "variance": v})
    return _msprt_core(d, v, t, level, bounds)


def _msprt_core(
    difference: Any, variance: Any, tau: float, confidence: float, bounds: tuple[float, float]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    d = np.asarray(difference, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    tau2 = tau * tau
    alpha = 1.0 - confidence
    positive = v > 0.0
    safe_v = np.where(positive, v, 1.0)
    log_lr = 0.5 * np.log(safe_v / (safe_v + tau2)) + tau2 * d * d / (
        2.0 * safe_v * (safe_v + tau2)
    )
    log_lr = np.where(positive, log_lr, 0.0)
    p = np.minimum(1.0, np.exp(-log_lr))
    radius = np.sqrt(
        safe_v
        * (safe_v + tau2)
        / tau2
        * (2.0 * math.log(1.0 / alpha) + np.log((safe_v + tau2) / safe_v))
    )
    lower = np.where(positive, np.maximum(d - radius, bounds[0]), bounds[0])
    upper = np.where(positive, np.minimum(d + radius, bounds[1]), bounds[1])
    return p, log_lr, lower, upper


def _check_tau(tau: object) -> float:
    problems = ProblemCollector()
    value = scalar_real("tau", tau, problems, low=0.0, low_open=True)
    problems.raise_if_any()
    return value


@overload
def msprt_test(
    successes_a: Scalar,
    n_a: Scalar,
    successes_b: Scalar,
    n_b: Scalar,
    *,
    tau: float,
    confidence: float = ...,
) -> MsprtResult[float]: ...
@overload
def msprt_test(
    successes_a: npt.ArrayLike,
    n_a: npt.ArrayLike,
    successes_b: npt.ArrayLike,
    n_b: npt.ArrayLike,
    *,
    tau: float,
    confidence: float = ...,
) -> MsprtResult[FloatArray]: ...
def msprt_test(
    successes_a: Any,
    n_a: Any,
    successes_b: Any,
    n_b: Any,
    *,
    tau: float,
    confidence: float = 0.95,
) -> MsprtResult[Any]:
    """The always-valid mSPRT p-value and confidence sequence at the current look.

    This is stateless: it uses the cumulative counts so far. Declaring a
    difference whenever ``p_value <= alpha`` at any look keeps the type-I
    error at most ``alpha``. To report a p-value that never increases and an
    interval that never widens over a series of looks, use
    :func:`msprt_sequence` (running minimum and intersection).

    Args:
        successes_a: control successes so far.
        n_a: control trials so far (at least 1).
        successes_b: treatment successes so far.
        n_b: treatment trials so far (at least 1).
        tau: the mixing standard deviation on the difference scale (e.g. the
            planned absolute minimum detectable effect, 0.005 for half a point).
        confidence: ``1 - alpha`` for the confidence sequence, default 0.95.

    Returns:
        An :class:`MsprtResult`; the sequence is clipped to ``[-1, 1]``. When
        the estimated variance is 0 (every rate 0 or 1) there is no information:
        ``p = 1`` and the sequence is ``[-1, 1]``.

    Raises:
        ValidationError: bad counts (as :func:`two_proportion_ztest`), ``tau``
            not positive and finite, or a confidence outside (0, 1).
    """
    t = _check_tau(tau)
    level = open_unit("confidence", confidence)
    scalar, ka, na, kb, nb = parse_two_samples(successes_a, n_a, successes_b, n_b)
    pa = np.true_divide(ka, na)
    pb = np.true_divide(kb, nb)
    diff = pb - pa
    var = pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb
    p, log_lr, lower, upper = _msprt_core(diff, var, t, level, (-1.0, 1.0))
    if scalar:
        return MsprtResult(
            float(p),
            float(log_lr),
            float(diff),
            math.sqrt(float(var)),
            float(lower),
            float(upper),
            t,
            level,
        )
    shape = p.shape
    return MsprtResult(
        p,
        log_lr,
        np.broadcast_to(np.asarray(diff, dtype=np.float64), shape).copy(),
        np.broadcast_to(np.sqrt(np.asarray(var, dtype=np.float64)), shape).copy(),
        lower,
        upper,
        t,
        level,
    )


def msprt_sequence(
    successes_a: npt.ArrayLike,
    n_a: npt.ArrayLike,
    successes_b: npt.ArrayLike,
    n_b: npt.ArrayLike,
    *,
    tau: float,
    confidence: float = 0.95,
) -> MsprtResult[FloatArray]:
    """The mSPRT over a series of looks: monotone p-values and nested intervals.

    The inputs are cumulative counts, one look per position along the last
    axis (in time order). The p-value at a look is the running minimum of the
    instantaneous ones and the interval the running intersection; both stay
    valid because the guarantees hold simultaneously over all looks.

    Args:
        successes_a: cumulative control successes per look.
        n_a: cumulative control trials per look (non-decreasing, at least 1).
        successes_b: cumulative treatment successes per look.
        n_b: cumulative treatment trials per look.
        tau: the mixing standard deviation (see :func:`msprt_test`).
        confidence: ``1 - alpha``.

    Returns:
        An :class:`MsprtResult` of arrays shaped like the broadcast inputs.

    Raises:
        ValidationError: as :func:`msprt_test`, a scalar input, or trials that
            decrease from one look to the next.
    """
    looks = msprt_test(
        np.asarray(successes_a),
        np.asarray(n_a),
        np.asarray(successes_b),
        np.asarray(n_b),
        tau=tau,
        confidence=confidence,
    )
    if looks.p_value.ndim == 0:
        raise ValidationError.single("n_a", "must hold one entry per look", "invalid_value")
    for name, arr in (("n_a", n_a), ("n_b", n_b)):
        steps = np.diff(np.asarray(arr, dtype=np.float64), axis=-1)
        if steps.size and (steps < 0).any():
            raise ValidationError.single(
                first_index_path(
                    name,
                    np.concatenate([np.zeros((*steps.shape[:-1], 1), bool), steps < 0], axis=-1),
                ),
                "must not decrease from one look to the next (counts are cumulative)",
                "invalid_value",
            )
    return attrs.evolve(
        looks,
        p_value=np.minimum.accumulate(looks.p_value, axis=-1),
        lower=np.maximum.accumulate(looks.lower, axis=-1),
        upper=np.minimum.accumulate(looks.upper, axis=-1),
    )
