r"""Compiled online-SGD kernel for two-layer networks.

Network ``ŷ(x) = (1/N) Σ_i a_i σ(⟨w_i, x⟩)`` (``a_i ≡ 1`` and untrained for models without a
second layer). One step with the batch ``(x_j, y_j)_{j ≤ b}`` and step size ``s_k``:

.. math::

    e_j &= y_j − ŷ(x_j), \\
    w_i &← (1 − 2λ s^w_k) w_i + \frac{2 s^w_k}{b} Σ_j e_j a_i σ'(⟨w_i, x_j⟩) x_j
          + \sqrt{4 s^w_k / β}\, g_i, \\
    a_i &← (1 − 2λ s^a_k) a_i + \frac{2 s^a_k}{b} Σ_j e_j σ(⟨w_i, x_j⟩)
          + \sqrt{4 s^a_k / β}\, g'_i,

with ``s^w_k = ξ_w s_k``, ``s^a_k = ξ_a s_k`` and independent standard Gaussians ``g, g'``
(``β = ∞``: no noise). All neurons use the pre-update parameters of the step.

Memory traffic: the update of neuron ``i`` and its pre-activations for the *next* batch are
computed in the same visit of the row ``w_i`` (the next batch is drawn before the update), so
a step streams the ``N × d`` weights once (read + write) instead of twice.

Randomness comes from two :class:`numpy.random.Generator` objects used inside the compiled
code (Numba supports them natively; no global ``np.random`` state is involved): one for the
data (samples ``x``, labels), one for the Langevin noise. Coordinates supplied by the caller
(the ``k`` relevant coordinates of multi-index problems and their labels) come from the
caller's own generator, in blocks. The states live in the generators, so a run is
reproducible, and bit for bit independent of how its steps are split into kernel calls (the
pre-activations of a block's first batch are computed by the same code as every update).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..activations import activation_derivative, activation_value

__all__ = [
    "SAMPLER_GAUSSIAN_CLASSES",
    "SAMPLER_GAUSSIAN_SUBSPACE",
    "SAMPLER_GIVEN",
    "SAMPLER_HYPERCUBE_SUBSPACE",
    "KernelState",
    "draw_batch",
    "sgd_block",
]

#: y = ±1 w.p. ½, x ~ N(0, (1 + Δ y)² I_d)
SAMPLER_GAUSSIAN_CLASSES = 0
#: first k coordinates (and y) supplied, the other d − k coordinates ~ N(0, 1)
SAMPLER_GAUSSIAN_SUBSPACE = 1
#: first k coordinates (and y) supplied, the other d − k coordinates uniform in {±1}
SAMPLER_HYPERCUBE_SUBSPACE = 2
#: whole x (and y) supplied
SAMPLER_GIVEN = 3

# reassociation lets LLVM vectorise the dot-product reductions
_FASTMATH = {"reassoc", "contract", "nsz"}
_TWO_POW_52 = 4503599627370496.0


# the small helpers are inlined: a call passing array structs costs more than a short row
@numba.njit(cache=True, fastmath=_FASTMATH, inline="always")
def _dot(u, v):
    acc = 0.0
    for l in range(u.shape[0]):
        acc += u[l] * v[l]
    return acc


@numba.njit(cache=True, fastmath=_FASTMATH, inline="always")
def _row_step(row, decay, c, x, x_next):
    """``row ← decay·row + c·x`` and return ``⟨row, x_next⟩`` (one pass over the row)."""
    acc = 0.0
    for l in range(row.shape[0]):
        v = decay * row[l] + c * x[l]
        row[l] = v
        acc += v * x_next[l]
    return acc


@numba.njit(cache=True, fastmath=_FASTMATH, inline="always")
def _row_step_noisy(row, decay, c, x, noise, g, x_next):
    """``row ← decay·row + c·x + noise·g`` and return ``⟨row, x_next⟩``."""
    acc = 0.0
    for l in range(row.shape[0]):
        v = decay * row[l] + c * x[l] + noise * g[l]
        row[l] = v
        acc += v * x_next[l]
    return acc


@numba.njit(cache=True)
def draw_batch(sampler, rng, delta, Zb, Yb, offset, X, Y):
    """Fill ``X`` (b, d) and ``Y`` (b,) with the next batch.

    ``Zb``/``Yb`` hold the supplied coordinates and labels (rows ``offset … offset+b−1``)
    for the samplers that need them.
    """
    b, d = X.shape
    if sampler == SAMPLER_GAUSSIAN_CLASSES:
        for j in range(b):
            y = 1.0 if rng.random() < 0.5 else -1.0
            scale = 1.0 + delta * y
            Y[j] = y
            for l in range(d):
                X[j, l] = scale * rng.standard_normal()
    elif sampler == SAMPLER_GIVEN:
        for j in range(b):
            for l in range(d):
                X[j, l] = Zb[offset + j, l]
            Y[j] = Yb[offset + j]
    else:
        k = Zb.shape[1]
        for j in range(b):
            for l in range(k):
                X[j, l] = Zb[offset + j, l]
            Y[j] = Yb[offset + j]
            if sampler == SAMPLER_GAUSSIAN_SUBSPACE:
                for l in range(k, d):
                    X[j, l] = rng.standard_normal()
            else:
                # 52 random signs from each uniform double
                bits = 0
                n_bits = 0
                for l in range(k, d):
                    if n_bits == 0:
                        bits = int(rng.random() * _TWO_POW_52)
                        n_bits = 52
                    X[j, l] = 1.0 if bits & 1 else -1.0
                    bits >>= 1
                    n_bits -= 1


@numba.njit(cache=True, fastmath=_FASTMATH)
def sgd_block(
    W,
    A,
    steps,
    xi_a,
    xi_w,
    lam,
    inv_beta,
    train_a,
    code,
    params,
    sampler,
    delta,
    Zb,
    Yb,
    rng_x,
    rng_noise,
    X,
    Y,
    Xn,
    Yn,
    H,
    Hn,
    E,
    coef,
    g,
):
    """Advance ``(W, A)`` in place by ``len(steps)`` SGD steps (see the module docstring).

    Parameters
    ----------
    W : float64 (N, d), C-contiguous
    A : float64 (N,)
    steps : float64 (n,)
        ``s_k`` for the steps of this block.
    xi_a, xi_w, lam, inv_beta : float
        Learning-rate factors, weight decay ``λ`` and ``1/β`` (0 for no noise).
    train_a : bool
        Whether the second layer is updated.
    code, params :
        Activation, from ``Activation.numba_spec()``.
    sampler, delta, Zb, Yb, rng_x :
        Data source (see :func:`draw_batch`); ``Zb``/``Yb`` must hold ``n·b`` rows when
        the sampler uses them.
    rng_noise : numpy.random.Generator
        Langevin noise (drawn neuron by neuron: ``d`` values for ``w_i``, then one for
        ``a_i`` when ``train_a``).
    X, Y, Xn, Yn, H, Hn, E, coef, g :
        Work arrays of shapes (b, d), (b,), (b, d), (b,), (b, N), (b, N), (b,), (b,), (d,).
    """
    N, d = W.shape
    b = X.shape[0]
    n = steps.shape[0]
    inv_n = 1.0 / N
    noisy = inv_beta > 0.0
    # Step −1 is a no-op update (decay 1, zero gradient, no noise drawn) that computes the
    # pre-activations of the first batch with the very code of the later steps, so results
    # do not depend on how the steps are split into blocks.
    draw_batch(sampler, rng_x, delta, Zb, Yb, 0, Xn, Yn)
    offset = b
    for step in range(-1, n):
        first = step < 0
        sw = 0.0
        sa = 0.0
        if first:
            for j in range(b):
                E[j] = 0.0
        else:
            sw = steps[step] * xi_w
            sa = steps[step] * xi_a
            # residuals e_j (times 2/b)
            for j in range(b):
                acc = 0.0
                for i in range(N):
                    acc += A[i] * activation_value(code, params, H[j, i])
                E[j] = (2.0 / b) * (Y[j] - acc * inv_n)
            if step + 1 < n:
                draw_batch(sampler, rng_x, delta, Zb, Yb, offset, Xn, Yn)
                offset += b
        prefetch = step + 1 < n
        draw_noise = noisy and not first
        decay_w = 1.0 - 2.0 * lam * sw
        decay_a = 1.0 - 2.0 * lam * sa
        noise_w = math.sqrt(4.0 * sw * inv_beta)
        noise_a = math.sqrt(4.0 * sa * inv_beta)
        for i in range(N):
            ai = A[i]
            grad_a = 0.0
            for j in range(b):
                h = H[j, i]
                coef[j] = sw * E[j] * ai * activation_derivative(code, params, h)
                if train_a:
                    grad_a += E[j] * activation_value(code, params, h)
            row = W[i]
            if draw_noise:
                for l in range(d):
                    g[l] = rng_noise.standard_normal()
            if b == 1:
                if noisy:
                    Hn[0, i] = _row_step_noisy(row, decay_w, coef[0], X[0], noise_w, g, Xn[0])
                else:
                    Hn[0, i] = _row_step(row, decay_w, coef[0], X[0], Xn[0])
            else:
                if noisy:
                    for l in range(d):
                        row[l] = decay_w * row[l] + noise_w * g[l]
                else:
                    for l in range(d):
                        row[l] = decay_w * row[l]
                for j in range(b):
                    cj = coef[j]
                    xj = X[j]
                    for l in range(d):
                        row[l] += cj * xj[l]
            if train_a:
                a_new = decay_a * ai + sa * grad_a
                if draw_noise:
                    a_new += noise_a * rng_noise.standard_normal()
                A[i] = a_new
            if prefetch and b > 1:
                for j in range(b):
                    Hn[j, i] = _dot(row, Xn[j])
        if prefetch:
            X, Xn = Xn, X
            Y, Yn = Yn, Y
            H, Hn = Hn, H


_EMPTY_Z = np.empty((0, 1))
_EMPTY_Y = np.empty(0)


class KernelState:
    """Parameters, generators and work arrays of one SGD run, advanced by :func:`sgd_block`.

    Parameters
    ----------
    W : ndarray (N, d)
        First-layer weights (copied, float64).
    A : ndarray (N,) or None
        Second-layer weights (copied); ``None`` means ``a ≡ 1``, not trained.
    activation : Activation
    sampler : int
        One of the ``SAMPLER_*`` constants.
    rng_x, rng_noise : numpy.random.Generator
        Data and noise streams.
    batch : int
    lam, beta, xi_a, xi_w, delta : float
    """

    def __init__(
        self,
        W,
        A,
        activation,
        sampler,
        rng_x,
        rng_noise,
        *,
        batch=1,
        lam=0.0,
        beta=math.inf,
        xi_a=1.0,
        xi_w=1.0,
        delta=0.0,
    ):
        self.W = np.array(W, dtype=np.float64, order="C", copy=True)
        N, d = self.W.shape
        self.train_a = A is not None and xi_a > 0
        self.A = np.ones(N) if A is None else np.array(A, dtype=np.float64, copy=True)
        self.code, self.params = activation.numba_spec()
        self.params = np.ascontiguousarray(self.params, dtype=np.float64)
        self.sampler = int(sampler)
        self.rng_x = rng_x
        self.rng_noise = rng_noise
        self.batch = int(batch)
        self.lam = float(lam)
        self.inv_beta = 0.0 if math.isinf(beta) else 1.0 / float(beta)
        self.xi_a = float(xi_a)
        self.xi_w = float(xi_w)
        self.delta = float(delta)
        self.step = 0
        b = self.batch
        self._work = (
            np.zeros((b, d)),
            np.zeros(b),
            np.zeros((b, d)),
            np.zeros(b),
            np.zeros((b, N)),
            np.zeros((b, N)),
            np.zeros(b),
            np.zeros(b),
            np.zeros(d),
        )

    def advance(self, steps, Zb=None, Yb=None) -> None:
        """Run ``len(steps)`` steps with step sizes ``steps``.

        ``Zb`` (rows: ``len(steps)·batch``) and ``Yb`` supply the data for the samplers
        that need them.
        """
        steps = np.ascontiguousarray(steps, dtype=np.float64)
        if steps.size == 0:
            return
        Zb = _EMPTY_Z if Zb is None else np.ascontiguousarray(Zb, dtype=np.float64)
        Yb = _EMPTY_Y if Yb is None else np.ascontiguousarray(Yb, dtype=np.float64)
        if self.sampler != SAMPLER_GAUSSIAN_CLASSES:
            need = steps.size * self.batch
            d = self.W.shape[1]
            if Zb.ndim != 2 or Zb.shape[0] != need or Yb.shape != (need,):
                raise ValueError(
                    f"Zb and Yb must hold {need} samples, got shapes {Zb.shape}, {Yb.shape}"
                )
            if Zb.shape[1] > d or (self.sampler == SAMPLER_GIVEN and Zb.shape[1] != d):
                raise ValueError(f"Zb has {Zb.shape[1]} columns, incompatible with d = {d}")
        sgd_block(
            self.W,
            self.A,
            steps,
            self.xi_a,
            self.xi_w,
            self.lam,
            self.inv_beta,
            self.train_a,
            self.code,
            self.params,
            self.sampler,
            self.delta,
            Zb,
            Yb,
            self.rng_x,
            self.rng_noise,
            *self._work,
        )
        self.step += steps.size
