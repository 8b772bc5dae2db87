"""Compiled kernels of the sparse-parity MFLD particle update (plain arrays in, no
allocation per step).

The layout is the one of :mod:`reducedpde.models.parity.network`: particles ``X`` of shape
``(M, d + 2)`` with rows ``(x_1, x_2, x_3)``, inputs ``Z`` of shape ``(n, d)``. One step
(see :func:`~reducedpde.models.parity.network.mfld_step_numpy` for the equation):

1. forward: ``U = Z x_1ᵀ``, then in one pass ``U_ij ← tanh(U_ij + x_{2,j})`` and the
   network output ``f_i``; the loss weights ``g_i = ℓ'(y_i f_i) y_i / n``;
2. backward: in one pass ``U_ij ← g_i (1 − U_ij²)`` and its column sums (the ``x_2``
   gradients), then ``G = Uᵀ Z`` (the ``x_1`` gradients);
3. update of every particle with its prior pull and its noise.

Two kernels form the products differently. :func:`mfld_steps` takes any inputs and calls
BLAS (``2 n M d`` multiply–adds). :func:`mfld_steps_hypercube`, which the simulator runs,
uses that the inputs lie on a scaled hypercube: from the sign codes of
:func:`sign_codes` (blocks of ``B ≤ 5`` coordinates) both products are ``⌈d/B⌉`` table
reads and adds per sample and particle, the same sums in another order (1.2–1.3× faster
at the ``parity-mfld`` size, ``python -m benchmarks --only parity``).

Cost per step besides the products: ``n M`` hyperbolic tangents. They use
:func:`fast_tanh` (branch-free, so the loops vectorise; within a few units in the last
place of ``numpy.tanh``), five times faster than the scalar libm call. The work arrays
are allocated once (:func:`work_arrays`, :func:`code_work_arrays`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "block_bits_for",
    "code_work_arrays",
    "evaluate",
    "evaluate_codes",
    "fast_tanh",
    "loss_weights",
    "mfld_steps",
    "mfld_steps_hypercube",
    "network_output_codes_into",
    "network_output_into",
    "sign_codes",
    "work_arrays",
]

# Reassociation lets LLVM vectorise the sums; no 'nnan'/'ninf', so non-finite values are
# still detected (by a comparison: under any fastmath flag Numba folds math.isfinite to
# True). error_model="numpy": IEEE division without a zero check (which would
# stop vectorisation).
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_JIT = {"cache": True, "fastmath": _FASTMATH, "error_model": "numpy"}

# Taylor coefficients 1/k! of expm1, k = 1 … 15.
(_E1, _E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13, _E14,
 _E15) = (1.0 / math.factorial(k) for k in range(1, 16))


@njit(inline="always", **_JIT)
def fast_tanh(x):
    """``tanh(x)`` to a few ulp, without branches (vectorisable).

    With ``a = min(|x|, 20)`` (``tanh 20 = 1`` in double precision) and ``y = −2a/64``,
    ``m = expm1(y)`` from its Taylor polynomial of degree 15 (``|y| ≤ 0.625``: truncation
    below 1e-16 relative), then six doublings ``expm1(2y) = m (m + 2)`` (no cancellation,
    relative errors do not grow) give ``E = expm1(−2a)`` and ``tanh a = −E / (2 + E)``.
    """
    a = min(abs(x), 20.0)
    y = a * (-2.0 / 64.0)
    # Estrin's scheme (short dependency chains) for p(y) = Σ_{k=1}^{15} y^{k−1}/k!
    y2 = y * y
    y4 = y2 * y2
    y8 = y4 * y4
    q0 = (_E1 + _E2 * y) + (_E3 + _E4 * y) * y2
    q1 = (_E5 + _E6 * y) + (_E7 + _E8 * y) * y2
    q2 = (_E9 + _E10 * y) + (_E11 + _E12 * y) * y2
    q3 = (_E13 + _E14 * y) + _E15 * y2
    p = (q0 + q1 * y4) + (q2 + q3 * y4) * y8
    m = p * y
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    return math.copysign(-m / (2.0 + m), x)


@njit(**_JIT)
def _logistic(m):
    """``ℓ(m) = log(1 + e^{−m})`` without overflow."""
    if m > 0.0:
        return math.log1p(math.exp(-m))
    return -m + math.log1p(math.exp(m))


@njit(**_JIT)
def _logistic_derivative(m):
    """``ℓ'(m) = −1 / (1 + e^{m})`` without overflow."""
    if m > 0.0:
        e = math.exp(-m)
        return -e / (1.0 + e)
    return -1.0 / (1.0 + math.exp(m))


@njit(**_JIT)
def _load_first_layer(X, X1T, x2):
    """``X1T = x_1ᵀ`` (``d × M``, contiguous for BLAS) and ``x2``, from the particles."""
    M = X.shape[0]
    d = X1T.shape[0]
    for j in range(M):
        for q in range(d):
            X1T[q, j] = X[j, q]
        x2[j] = X[j, d]


@njit(**_JIT)
def _tanh_rows(U, rows, x2, f, second, scale):
    """``U[i] ← tanh(U[i] + x2)`` and ``f[i] = scale (Σ_j U[i, j] + 2 second)`` for the
    first ``rows`` rows."""
    M = U.shape[1]
    for i in range(rows):
        acc = 0.0
        for j in range(M):
            t = fast_tanh(U[i, j] + x2[j])
            U[i, j] = t
            acc += t
        f[i] = scale * (acc + 2.0 * second)


@njit(**_JIT)
def network_output_into(X, Z, Rbar, X1T, x2, U, f):
    """``f[i] = (1/M) Σ_j h_{x_j}(z_i)`` for the rows of ``Z`` (``n × d``), in blocks of
    ``U.shape[0]`` rows (work arrays ``X1T`` ``(d, M)``, ``x2`` ``(M,)``, ``U``
    ``(block, M)``)."""
    M = X.shape[0]
    n, d = Z.shape
    _load_first_layer(X, X1T, x2)
    second = _second_layer_sum(X, d)
    scale = Rbar / (3.0 * M)
    block = U.shape[0]
    for i0 in range(0, n, block):
        rows = min(block, n - i0)
        Ub = U[:rows]
        np.dot(Z[i0:i0 + rows], X1T, Ub)
        _tanh_rows(Ub, rows, x2, f[i0:i0 + rows], second, scale)


@njit(**_JIT)
def _loss_and_error(f, y):
    """Mean logistic loss and classification error ``P(y f ≤ 0)`` of the outputs ``f``."""
    n = y.size
    loss = 0.0
    wrong = 0
    for i in range(n):
        m = y[i] * f[i]
        loss += _logistic(m)
        if m <= 0.0:
            wrong += 1
    return loss / n, wrong / n


@njit(**_JIT)
def evaluate(X, Z, y, Rbar, X1T, x2, U, f):
    """Mean logistic loss and classification error ``P(y f ≤ 0)`` of the network on
    ``(Z, y)``; ``f`` receives the outputs (work arrays as for
    :func:`network_output_into`)."""
    network_output_into(X, Z, Rbar, X1T, x2, U, f)
    return _loss_and_error(f, y)


@njit(**_JIT)
def loss_weights(f, y, g):
    """``g_i = ℓ'(y_i f_i) y_i / n``; returns the mean loss ``(1/n) Σ ℓ(y_i f_i)``."""
    n = y.size
    loss = 0.0
    for i in range(n):
        m = y[i] * f[i]
        loss += _logistic(m)
        g[i] = _logistic_derivative(m) * y[i] / n
    return loss / n


@njit(**_JIT)
def _loss_weights_sum(f, y, g):
    """:func:`loss_weights` into ``g``; returns ``Σ_i g_i`` (the ``x_3`` gradient's sum)."""
    loss_weights(f, y, g)
    gsum = 0.0
    for i in range(y.size):
        gsum += g[i]
    return gsum


@njit(**_JIT)
def _second_layer_sum(X, d):
    """``Σ_j tanh x_{3,j}``."""
    second = 0.0
    for j in range(X.shape[0]):
        second += fast_tanh(X[j, d + 1])
    return second


@njit(**_JIT)
def _step_constants(lam, eta, lam_prime, scaled):
    """Prior pull ``c`` (``λλ'`` scaled, ``λ'`` fixed) and noise amplitude ``√(2λη)``."""
    coef = lam * lam_prime if scaled else lam_prime
    return coef, math.sqrt(2.0 * lam * eta)


@njit(**_JIT)
def _weight_rows(U, i, gi, s2):
    """``U[i] ← g_i (1 − U[i]²)`` and ``s2 += U[i]``."""
    for j in range(U.shape[1]):
        t = U[i, j]
        v = gi * (1.0 - t * t)
        U[i, j] = v
        s2[j] += v


@njit(**_JIT)
def _update_particles(X, G, s2, gsum, xi, eta, c3, coef, amp):
    """One Langevin update of every particle with the gradients ``G`` (``x_1``), ``s2``
    (``x_2``), ``gsum`` (``x_3``), the prior pull ``coef`` and the normals ``xi``; returns
    ``True`` if a coordinate became non-finite."""
    M, d = G.shape
    bad = False
    for j in range(M):
        for q in range(d):
            v = X[j, q] - eta * (c3 * G[j, q] + 2.0 * coef * X[j, q]) + amp * xi[j, q]
            X[j, q] = v
            bad |= not abs(v) < math.inf  # math.isfinite is folded away
        v = X[j, d] - eta * (c3 * s2[j] + 2.0 * coef * X[j, d]) + amp * xi[j, d]
        X[j, d] = v
        bad |= not abs(v) < math.inf
        th = fast_tanh(X[j, d + 1])
        v = (X[j, d + 1] - eta * (2.0 * c3 * (1.0 - th * th) * gsum
                                   + 2.0 * coef * X[j, d + 1]) + amp * xi[j, d + 1])
        X[j, d + 1] = v
        bad |= not abs(v) < math.inf
    return bad


@njit(**_JIT)
def mfld_steps(X, Z, y, noise, lams, eta, Rbar, lam_prime, scaled, X1T, x2, U, f, g, s2, G):
    """Advance the particles ``X`` in place by ``lams.size`` MFLD steps, for any inputs
    ``Z`` (BLAS products; :func:`mfld_steps_hypercube` is faster on the hypercube).

    Parameters
    ----------
    X : ndarray, shape (M, d + 2)
        Particles, overwritten.
    Z : ndarray, shape (n, d)
        Training inputs (C-contiguous).
    y : ndarray, shape (n,)
        Labels ±1.
    noise : ndarray, shape (≥ n_steps, M, d + 2)
        Standard normals; ``noise[s]`` is the ``ξ`` of step ``s``.
    lams : ndarray, shape (n_steps,)
        Temperature ``λ`` of each step.
    eta, Rbar, lam_prime : float
        Step size ``η``, output scale ``R̄``, prior strength ``λ'``.
    scaled : bool
        Prior pull ``λλ'‖x‖²`` (``True``) or ``λ'‖x‖²`` (``False``).
    X1T, x2, U, f, g, s2, G : ndarray
        Work arrays from :func:`work_arrays`.

    Returns
    -------
    int
        ``-1`` when every step stayed finite, else the index (within this call) of the
        first step that produced a non-finite particle coordinate (the call stops there).
    """
    M = X.shape[0]
    n, d = Z.shape
    c3 = Rbar / 3.0
    scale = Rbar / (3.0 * M)
    for s in range(lams.size):
        coef, amp = _step_constants(lams[s], eta, lam_prime, scaled)
        # forward: U = tanh(Z x_1ᵀ + x_2) (BLAS product, then one fused pass), f, g
        _load_first_layer(X, X1T, x2)
        second = _second_layer_sum(X, d)
        np.dot(Z, X1T, U)
        _tanh_rows(U, n, x2, f, second, scale)
        gsum = _loss_weights_sum(f, y, g)
        # backward: U ← g (1 − U²), s2 = Σ_i U, G = Uᵀ Z
        s2[:] = 0.0
        for i in range(n):
            _weight_rows(U, i, g[i], s2)
        np.dot(U.T, Z, G)
        if _update_particles(X, G, s2, gsum, noise[s], eta, c3, coef, amp):
            return s
    return -1


# -- inputs on the hypercube: sign codes instead of products ---------------------------
#
# Every input is z = c (2 b − 1) with bits b ∈ {0, 1}^d and one scale c (c = 1/√d). Cut the
# coordinates into blocks of at most B bits and let code_β(z) be the integer formed by the
# bits of block β. Then
#
#     z · x_1 = Σ_β T_β[code_β(z)],   T_β[m] = c Σ_{q ∈ β} (2 bit_q(m) − 1) x_{1,q},
#
# so the forward product costs one table build (2^B entries per block and particle) and
# ⌈d/B⌉ table reads per sample and particle instead of d multiply–adds. The gradient
# Σ_i W_i z_{i,q} is read from the histograms H_β[m] = Σ_{i: code_β(z_i) = m} W_i:
#
#     Σ_i W_i z_{i,q} = c (2 Σ_{m: bit_q(m) = 1} H_β[m] − Σ_i W_i),   q ∈ β.
#
# Both are the same sums as the products, in another order (round-off only).


def sign_codes(Z: np.ndarray, block_bits: int | None = None):
    """Sign codes of inputs on a scaled hypercube ``{±c}^d``.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        Inputs; every entry must be ``+c`` or ``−c`` for one ``c > 0``.
    block_bits : int, optional
        Bits per block ``B`` (1 … 12); by default the ``B ≤ 5`` of least work for ``n``
        samples (:func:`block_bits_for`).

    Returns
    -------
    codes : ndarray, shape (n, ⌈d/B⌉), int32
        ``codes[i, β] = Σ_k 2^k [z_{i, q_β + k} > 0]``.
    starts : ndarray, shape (⌈d/B⌉ + 1,), int64
        First coordinate of each block, then ``d``.
    scale : float
        ``c``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] < 1:
        raise ValueError(f"parameter 'Z' must be a 2-d array with d >= 1 columns, got "
                         f"shape {Z.shape}")
    n, d = Z.shape
    scale = float(np.abs(Z).max()) if Z.size else 1.0
    if not (scale > 0 and np.all(np.abs(Z) == scale)):
        raise ValueError("parameter 'Z' must have every entry equal to +c or -c for one "
                         "c > 0 (inputs on a scaled hypercube)")
    bits = block_bits_for(n, d) if block_bits is None else int(block_bits)
    if not 1 <= bits <= 12:
        raise ValueError(f"parameter 'block_bits' must be an int in [1, 12], got {bits}")
    starts = np.arange(0, d + bits, bits, dtype=np.int64)
    starts[-1] = d
    starts = np.unique(starts)
    positive = Z > 0
    codes = np.zeros((n, starts.size - 1), dtype=np.int32)
    for block in range(starts.size - 1):
        for k, q in enumerate(range(starts[block], starts[block + 1])):
            codes[:, block] |= positive[:, q].astype(np.int32) << k
    return codes, starts, scale


def block_bits_for(n: int, d: int) -> int:
    """Bits per block ``B ≤ min(5, d)`` of least work per particle: ``⌈d/B⌉ (2n + 2^B)``
    table reads and histogram adds plus ``d 2^{B−1}`` for the gradients' sums (``B ≤ 5``
    keeps a block's tables of 1000 particles in 256 kB)."""
    best, best_cost = 1, math.inf
    for bits in range(1, min(5, d) + 1):
        cost = -(-d // bits) * (2 * n + 2**bits) + d * 2 ** (bits - 1)
        if cost < best_cost:
            best, best_cost = bits, cost
    return best


@njit(**_JIT)
def _code_tables(X1T, starts, scale, T):
    """``T[β, m, j] = c Σ_{q ∈ β} (2 bit_q(m) − 1) x_{1,jq}`` (each entry a sum of at most
    ``B`` terms: the entries with bit ``k`` set are those without it plus ``2c x_{1,q}``)."""
    M = X1T.shape[1]
    for block in range(starts.size - 1):
        q0 = starts[block]
        width = starts[block + 1] - q0
        for j in range(M):
            acc = 0.0
            for q in range(q0, q0 + width):
                acc -= X1T[q, j]
            T[block, 0, j] = scale * acc
        for k in range(width):
            step = 1 << k
            for m in range(step):
                for j in range(M):
                    T[block, m + step, j] = T[block, m, j] + 2.0 * scale * X1T[q0 + k, j]


@njit(**_JIT)
def _tanh_rows_codes(T, codes, i0, rows, x2, U, f, second, scale):
    """``U[r] = tanh(x_2 + Σ_β T[β, codes[i0 + r, β]])`` and ``f[r]`` as in
    :func:`_tanh_rows`, for ``r < rows``."""
    M = U.shape[1]
    blocks = codes.shape[1]
    for r in range(rows):
        i = i0 + r
        for j in range(M):
            U[r, j] = x2[j]
        for block in range(blocks):
            table = T[block, codes[i, block]]
            for j in range(M):
                U[r, j] += table[j]
        acc = 0.0
        for j in range(M):
            t = fast_tanh(U[r, j])
            U[r, j] = t
            acc += t
        f[r] = scale * (acc + 2.0 * second)


@njit(**_JIT)
def _gradients_from_histograms(H, starts, scale, s2, GT):
    """``GT[q, j] = c (2 Σ_{m: bit_q(m) = 1} H[β, m, j] − s2[j])`` for ``q ∈ β``
    (the transposed ``x_1`` gradients)."""
    M = GT.shape[1]
    for block in range(starts.size - 1):
        q0 = starts[block]
        width = starts[block + 1] - q0
        for k in range(width):
            row = GT[q0 + k]
            row[:] = 0.0
            for m in range(1 << width):
                if (m >> k) & 1:
                    hist = H[block, m]
                    for j in range(M):
                        row[j] += hist[j]
            for j in range(M):
                row[j] = scale * (2.0 * row[j] - s2[j])


@njit(**_JIT)
def mfld_steps_hypercube(X, codes, starts, zscale, y, noise, lams, eta, Rbar, lam_prime,
                         scaled, X1T, x2, U, f, g, s2, G, T, H):
    """:func:`mfld_steps` for inputs on the hypercube, given by their sign codes.

    The same update with the products ``Z x_1ᵀ`` and ``Wᵀ Z`` formed from the block tables
    and histograms of :func:`sign_codes` (the same sums in another order). ``codes``,
    ``starts``, ``zscale`` are :func:`sign_codes` of the training inputs; the work arrays
    are :func:`work_arrays` followed by ``T, H`` from :func:`code_work_arrays`. Other
    parameters and the return value as for :func:`mfld_steps`.
    """
    M = X.shape[0]
    n = codes.shape[0]
    d = X1T.shape[0]
    blocks = codes.shape[1]
    c3 = Rbar / 3.0
    scale = Rbar / (3.0 * M)
    for s in range(lams.size):
        coef, amp = _step_constants(lams[s], eta, lam_prime, scaled)
        _load_first_layer(X, X1T, x2)
        second = _second_layer_sum(X, d)
        _code_tables(X1T, starts, zscale, T)
        _tanh_rows_codes(T, codes, 0, n, x2, U, f, second, scale)
        gsum = _loss_weights_sum(f, y, g)
        s2[:] = 0.0
        H[:] = 0.0
        for i in range(n):
            _weight_rows(U, i, g[i], s2)
            for block in range(blocks):
                hist = H[block, codes[i, block]]
                for j in range(M):
                    hist[j] += U[i, j]
        _gradients_from_histograms(H, starts, zscale, s2, X1T)  # x_1 no longer needed
        if _update_particles(X, X1T.T, s2, gsum, noise[s], eta, c3, coef, amp):
            return s
    return -1


@njit(**_JIT)
def network_output_codes_into(X, codes, starts, zscale, Rbar, X1T, x2, T, U, f):
    """:func:`network_output_into` for inputs given by their sign codes (work arrays as
    there, and ``T`` from :func:`code_work_arrays`)."""
    M = X.shape[0]
    n = codes.shape[0]
    d = X1T.shape[0]
    _load_first_layer(X, X1T, x2)
    second = _second_layer_sum(X, d)
    _code_tables(X1T, starts, zscale, T)
    scale = Rbar / (3.0 * M)
    block = U.shape[0]
    for i0 in range(0, n, block):
        rows = min(block, n - i0)
        _tanh_rows_codes(T, codes, i0, rows, x2, U, f[i0:i0 + rows], second, scale)


@njit(**_JIT)
def evaluate_codes(X, codes, starts, zscale, y, Rbar, X1T, x2, T, U, f):
    """:func:`evaluate` for inputs given by their sign codes."""
    network_output_codes_into(X, codes, starts, zscale, Rbar, X1T, x2, T, U, f)
    return _loss_and_error(f, y)


def code_work_arrays(M: int, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(T, H)``: block tables and histograms for :func:`mfld_steps_hypercube`, shape
    ``(blocks, 2^B, M)``."""
    widths = np.diff(starts)
    shape = (widths.size, 1 << int(widths.max()), M)
    return np.zeros(shape), np.zeros(shape)


def work_arrays(M: int, n: int, d: int) -> tuple[np.ndarray, ...]:
    """``(X1T, x2, U, f, g, s2, G)`` for :func:`mfld_steps` with ``M`` particles, ``n``
    samples in dimension ``d``; ``(X1T, x2, U[:block], f)`` serve
    :func:`network_output_into` and :func:`evaluate` on any number of rows."""
    return (np.empty((d, M)), np.empty(M), np.empty((n, M)), np.empty(n), np.empty(n),
            np.empty(M), np.empty((M, d)))
