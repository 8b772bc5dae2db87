r"""Differential entropy of a one-dimensional sample: the bias-corrected m-spacing estimator.

For a sample ``X_1, …, X_N`` of a law with density ``f`` on the line, the target is
:math:`h(f) = -\int f \log f`. The estimator is Vasicek's m-spacing estimator
(O. Vasicek, "A test for normality based on sample entropy", J. R. Statist. Soc. B 38
(1976) 54–59)

.. math::

    \hat h_V = \frac1N \sum_{i=1}^N \log\Big(\frac{N}{2m}\big(X_{(i+m)} - X_{(i-m)}\big)\Big),
    \qquad X_{(j)} = X_{(1)}\ (j < 1),\ X_{(j)} = X_{(N)}\ (j > N),

with the bias correction of R. Wieczorkowski and P. Grzegorzewski ("Entropy estimators —
improvements and comparisons", Commun. Statist. Simul. Comput. 28 (1999) 541–567)

.. math::

    \hat h = \hat h_V - \log N + \log(2m) - \Big(1 - \frac{2m}N\Big)\psi(2m) + \psi(N + 1)
             - \frac2N \sum_{i=1}^m \psi(i + m - 1)

(``ψ`` the digamma function). The correction is the exact bias of ``ĥ_V`` for the uniform
law: the windows of the ordered uniform sample are Beta variables
(``U_{(i+m)} − U_{(i−m)} ~ Beta(2m, N + 1 − 2m)`` inside, ``Beta(i + m − 1, ·)`` at the
ends), so ``E ĥ = h`` exactly for every uniform law, every ``N > 2m`` and every ``m``.

**Bias.** For other laws the estimator is consistent for fixed ``m`` as ``N → ∞``; the bias
comes from the variation of ``f`` inside a window (of order ``m²/N`` times a smoothness
constant) and from the end windows in the tails, and is ``O(1/N)`` at fixed ``m`` for
smooth, light-tailed densities. Measured with ``m = 6`` (the default) on ``N = 100 … 1000``
(4·10⁶/N samples each, Monte-Carlo error of ``N·bias`` at most 0.5): ``N·|bias| ≤ 1.2``
for the standard Gaussian, ``χ_3``, the ``χ_20`` law of ``‖w‖`` for ``w ~ N(0, κ²/20 I)``
and the exponential law, ``≤ 0.15`` for a uniform (Monte-Carlo noise); growing ``m``
raises the smoothing part (``N·bias ≈ +6.6`` at ``m = 16`` for the Gaussian).

**Variance.** ``N Var ĥ → Var log f(X) + e_m``: the first term is the efficient variance
(that of the oracle ``−(1/N) Σ log f(X_i)``), ``e_m`` the excess of the spacings
(``e_m ≈ 0.18/m`` for large ``N``; measured on the uniform, where ``Var log f = 0``:
``e_1 = 0.22``, ``e_4 = 0.047``, ``e_6 = 0.029``, ``e_8 = 0.021``). So the standard error
falls like ``N^{−1/2}``, and the bias is a fraction ``O(N^{−1/2})`` of it.

**Standard error.** :func:`spacing_entropy` returns the delete-one jackknife standard error
:math:`\big(\frac{N-1}N\sum_i(\hat h_{-i} - \bar h_{-\cdot})^2\big)^{1/2}`, with every
``ĥ_{−i}`` (the estimator on the ``N − 1`` other points, with its own correction) computed
from the ``2m + 1`` windows the deleted point changes, so ``O(Nm)`` work in all. By the
Efron–Stein inequality (B. Efron and C. Stein, "The jackknife estimate of variance",
Ann. Statist. 9 (1981) 586–596) the jackknife variance of a symmetric statistic is
conservative in expectation; measured on the laws above at ``N = 200`` and ``2000``,
``m = 6``, the jackknife standard error is 0–6% above the Monte-Carlo standard deviation
(2-SE coverage 0.95–0.97), and 35–45% above it for a uniform, where only the spacings'
excess ``e_m/N`` is left.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma

__all__ = ["DEFAULT_SPACING", "spacing_correction", "spacing_entropy", "spacing_jackknife"]

#: default window half-width ``m`` of :func:`spacing_entropy`
DEFAULT_SPACING = 6


def spacing_correction(n: int, m: int) -> float:
    r"""``−(1 − 2m/n) ψ(2m) + ψ(n + 1) − (2/n) Σ_{i=1}^m ψ(i + m − 1)``: with it,
    ``(1/n) Σ_i log(X_{(i+m)} − X_{(i−m)})`` plus this is the Wieczorkowski–Grzegorzewski
    estimator (``ĥ_V − log n + log 2m`` is that mean of logs)."""
    i = np.arange(1, m + 1)
    return float(-(1.0 - 2.0 * m / n) * digamma(2 * m) + digamma(n + 1)
                 - 2.0 / n * np.sum(digamma(i + m - 1.0)))


def _check(x, m, jackknife):
    x = np.sort(np.asarray(x, dtype=np.float64).ravel())
    n = x.size
    if m is None:
        m = max(1, min(DEFAULT_SPACING, (n - 2) // 2 if jackknife else (n - 1) // 2))
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    m = int(m)
    need = 2 * m + 2 if jackknife else 2 * m + 1
    if n < need:
        raise ValueError(f"the spacing estimator with m={m} needs at least {need} points"
                         f"{' (2m + 2, for the jackknife)' if jackknife else ''}, got {n}")
    if not np.all(np.isfinite(x)):
        raise ValueError("the sample must be finite")
    return x, n, m


def _log_windows(x, m):
    """``log(X_{(i+m)} − X_{(i−m)})`` with the ends clamped, for ``i = 0 … n−1``."""
    n = x.size
    i = np.arange(n)
    width = x[np.minimum(i + m, n - 1)] - x[np.maximum(i - m, 0)]
    if np.any(width <= 0):
        raise ValueError(f"the sample has more than 2m = {2 * m} equal values: the spacing "
                         "estimator needs a continuous law")
    return np.log(width)


def _delete_one(x, m, logs):
    """Sums of the log windows of the ``n`` samples with one point deleted (``(n,)``)."""
    n = x.size
    total = logs.sum()
    # the windows that contain the deleted point i, i.e. of the points k with |k − i| <= m,
    # change: remove them (and i's own) and add those of the reduced sample
    offsets = np.arange(-m, m + 1)
    i = np.arange(n)[:, None]
    k = i + offsets[None, :]
    inside = (k >= 0) & (k < n)
    kc = np.clip(k, 0, n - 1)
    old = np.where(inside, logs[kc], 0.0).sum(axis=1)
    # index of k in the reduced sample (n − 1 points), its window there, back in x
    keep = inside & (k != i)
    j = np.where(kc < i, kc, kc - 1)
    lo = np.maximum(j - m, 0)
    hi = np.minimum(j + m, n - 2)
    lo = np.where(lo < i, lo, lo + 1)
    hi = np.where(hi < i, hi, hi + 1)
    width = x[hi] - x[lo]
    new = np.where(keep, np.log(np.where(keep, width, 1.0)), 0.0).sum(axis=1)
    return total - old + new


def spacing_entropy(x, m: int | None = None, *, stderr: bool = True):
    r"""Bias-corrected m-spacing estimate of the differential entropy ``−∫ f log f``.

    Vasicek's estimator with the Wieczorkowski–Grzegorzewski correction (module
    docstring: definition, bias ``O(1/N)`` at fixed ``m``, variance
    ``(Var log f + e_m)/N``).

    Parameters
    ----------
    x : array_like
        The sample (flattened): at least ``2m + 1`` points (``2m + 2`` with ``stderr``),
        no ``2m + 1`` of them equal.
    m : int, optional
        Window half-width; default ``min(6, (N − 1) // 2)`` (``(N − 2) // 2`` with
        ``stderr``).
    stderr : bool
        Also return the delete-one jackknife standard error (``O(Nm)`` work).

    Returns
    -------
    float or (float, float)
        The estimate, and with ``stderr`` its jackknife standard error.
    """
    if stderr:
        estimate, _, se = spacing_jackknife(x, m)
        return estimate, se
    x, n, m = _check(x, m, False)
    return float(_log_windows(x, m).mean()) + spacing_correction(n, m)


def spacing_jackknife(x, m: int | None = None):
    """``(ĥ, ĥ_{−i}, jackknife standard error)`` of :func:`spacing_entropy`: the estimate,
    the ``N`` delete-one estimates (for the points of ``x`` in increasing order) and
    ``((N − 1)/N Σ_i (ĥ_{−i} − mean)²)^{1/2}``."""
    x, n, m = _check(x, m, True)
    logs = _log_windows(x, m)
    estimate = float(logs.mean()) + spacing_correction(n, m)
    partial = _delete_one(x, m, logs) / (n - 1) + spacing_correction(n - 1, m)
    spread = partial - partial.mean()
    return estimate, partial, math.sqrt((n - 1) / n * float(spread @ spread))
