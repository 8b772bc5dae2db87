r"""Compiled online-SGD kernel for two-layer networks.

Network ``ŷ(x) = (1/N) Σ_i a_i σ(⟨w_i, x⟩)`` (``a_i ≡ 1`` and untrained for models without a
second layer). One step with the batch ``(x_j, y_j)_{j ≤ b}`` and step size ``s_k``:

.. math::

    e_j &= −\tfrac12 ∂_f ℓ(y_j, ŷ(x_j)), \\
    w_i &← (1 − 2λ s^w_k) w_i + \frac{2 s^w_k}{b} Σ_j e_j a_i σ'(⟨w_i, x_j⟩) x_j
          + \sqrt{4 s^w_k / β}\, g_i, \\
    a_i &← (1 − 2λ s^a_k) a_i + \frac{2 s^a_k}{b} Σ_j e_j σ(⟨w_i, x_j⟩)
          + \sqrt{4 s^a_k / β}\, g'_i,

with ``s^w_k = ξ_w s_k``, ``s^a_k = ξ_a s_k`` and independent standard Gaussians ``g, g'``
(``β = ∞``: no noise). All neurons use the pre-update parameters of the step. The loss
``ℓ`` (:mod:`reducedpde.losses`) is the square loss ``(y − f)²``, for which
``e_j = y_j − ŷ(x_j)``, or the logistic loss ``log(1 + e^{−y f})`` of labels ``±1``, for which
``e_j = ½ y_j σ_log(−y_j ŷ(x_j))``: in both cases the step is
``θ_i ← θ_i − s_k N ∇_{θ_i} ℓ`` (plus decay and noise).

Memory traffic: the update of neuron ``i`` and its pre-activations for the *next* batch are
computed in the same visit of the row ``w_i`` (the next batch is drawn before the update), so
a step streams the ``N × d`` weights once (read + write) instead of twice. A row that cannot
change (zero gradient coefficients, e.g. ``σ' = 0`` on the flat pieces of the MMN18
activation, with no weight decay and no noise) is only read. ``σ`` and ``σ'`` of all neurons
are evaluated before the pass over the rows, for piecewise-linear activations in one
branch-free loop per knot vectorised over the neurons.

Randomness comes from two :class:`numpy.random.Generator` objects used inside the compiled
code (Numba supports them natively; no global ``np.random`` state is involved): one for the
data (samples ``x``, labels), one for the Langevin noise. Coordinates supplied by the caller
(the ``k`` relevant coordinates of multi-index problems and their labels) come from the
caller's own generator, in blocks. The states live in the generators, so a run is
reproducible, and bit for bit independent of how its steps are split into kernel calls: a
call keeps nothing but ``W``, ``A`` and the generators, and recomputes the pre-activations of
its first batch by read-only passes over the rows; every pre-activation, read-only or fused
with an update, comes from the same fixed-order dot product of
:mod:`reducedpde.solvers.particles.rowops`, and the kernel is compiled without fast-math
flags (each floating-point operation is evaluated as written, wherever LLVM inlines or
duplicates it).
"""

from __future__ import annotations

import json
import math

import numba
import numpy as np

from ...activations import CODE_PIECEWISE_LINEAR, activation_derivative, activation_value
from ...losses import LOSS_SQUARE, check_loss, logistic_residual
from .rowops import dot, row_step, row_step_noisy

__all__ = [
    "SAMPLER_GAUSSIAN_CLASSES",
    "SAMPLER_GAUSSIAN_SUBSPACE",
    "SAMPLER_GIVEN",
    "SAMPLER_HYPERCUBE_SUBSPACE",
    "KernelState",
    "draw_batch",
    "generator_state",
    "set_generator_state",
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

_TWO_POW_52 = 4503599627370496.0


@numba.njit(cache=True)
def _piecewise_linear_terms(code, params):
    """``(c₀, s₀, knots, Δs)`` with ``σ(t) = c₀ + s₀ t + Σ_k Δs_k (t − t_k)_+`` for the
    piecewise-linear ``params = [n, left_slope, right_slope, knots(n), values(n)]`` of
    ``numba_spec()``, by the arithmetic of :class:`~reducedpde.activations.PiecewiseLinear`
    (so the values are those of its ``offset`` and ``slope_jumps``); empty terms for other
    codes."""
    if code != CODE_PIECEWISE_LINEAR:
        return 0.0, 0.0, np.empty(0), np.empty(0)
    n = int(params[0])
    left = params[1]
    knots = params[3 : 3 + n].copy()
    values = params[3 + n : 3 + 2 * n]
    jumps = np.empty(n)
    slope = left
    for k in range(n):
        if k + 1 < n:
            next_slope = (values[k + 1] - values[k]) / (knots[k + 1] - knots[k])
        else:
            next_slope = params[2]
        jumps[k] = next_slope - slope
        slope = next_slope
    return values[0] - left * knots[0], left, knots, jumps


@numba.njit(cache=True)
def _activations(code, params, offset, left, knots, jumps, h, sig, dsig):
    """``sig[i] = σ(h[i])``, ``dsig[i] = σ'(h[i])`` for all neurons.

    Piecewise-linear activations (``offset, left, knots, jumps`` from
    :func:`_piecewise_linear_terms`) use one branch-free loop per knot, vectorised over the
    neurons: ``σ = c₀ + s₀ h + Σ_k Δs_k (h − t_k)_+`` and ``σ' = s₀ + Σ_k Δs_k 1[h > t_k]``
    (the left slope at a kink, as :func:`~reducedpde.activations.activation_derivative`),
    term by term in the order of ``PiecewiseLinear.value``/``derivative``, so the values
    are bit for bit those of the NumPy methods. Other codes use the scalar evaluators.
    """
    N = h.shape[0]
    if code == CODE_PIECEWISE_LINEAR:
        for i in range(N):
            sig[i] = offset + left * h[i]
            dsig[i] = left
        for k in range(knots.shape[0]):
            tk = knots[k]
            jk = jumps[k]
            for i in range(N):
                u = h[i] - tk
                # max(u, 0) propagating NaN, like np.maximum
                sig[i] += jk * (0.0 if u <= 0.0 else u)
                dsig[i] += jk if h[i] > tk else 0.0
    else:
        for i in range(N):
            sig[i] = activation_value(code, params, h[i])
            dsig[i] = activation_derivative(code, params, h[i])


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


@numba.njit(cache=True)
def sgd_block(
    W,
    A,
    steps,
    xi_a,
    xi_w,
    lam,
    inv_beta,
    train_a,
    loss,
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
    S,
    D,
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
    loss : int
        ``LOSS_SQUARE`` or ``LOSS_LOGISTIC`` (:mod:`reducedpde.losses`).
    code, params :
        Activation, from ``Activation.numba_spec()``.
    sampler, delta, Zb, Yb, rng_x :
        Data source (see :func:`draw_batch`); ``Zb``/``Yb`` must hold ``n·b`` rows when
        the sampler uses them.
    rng_noise : numpy.random.Generator
        Langevin noise (drawn neuron by neuron: ``d`` values for ``w_i``, then one for
        ``a_i`` when ``train_a``).
    X, Y, Xn, Yn, H, Hn, E, coef, g, S, D :
        Work arrays (C-contiguous) of shapes (b, d), (b,), (b, d), (b,), (b, N), (b, N),
        (b,), (b,), (d,), (b, N), (b, N); nothing in them carries over between calls.
    """
    N, d = W.shape
    b = X.shape[0]
    n = steps.shape[0]
    inv_n = 1.0 / N
    noisy = inv_beta > 0.0
    if n == 0:
        return
    offset, left, knots, jumps = _piecewise_linear_terms(code, params)
    # The first batch and its pre-activations (read-only passes over the rows). Every
    # pre-activation, fused with an update or not, comes from the same fixed-order dot
    # product (see rowops), so results do not depend on how the steps are split into blocks.
    draw_batch(sampler, rng_x, delta, Zb, Yb, 0, X, Y)
    for j in range(b):
        x = X[j]
        for i in range(N):
            H[j, i] = dot(W, i, x)
    offset_z = b
    for step in range(n):
        prefetch = step + 1 < n
        sw = steps[step] * xi_w
        sa = steps[step] * xi_a
        # σ, σ' of the batch, then the residuals e_j (times 2/b): −∂_f ℓ / b
        for j in range(b):
            _activations(code, params, offset, left, knots, jumps, H[j], S[j], D[j])
            if loss == LOSS_SQUARE:
                E[j] = (2.0 / b) * (Y[j] - dot(S, j, A) * inv_n)
            else:
                E[j] = logistic_residual(Y[j], dot(S, j, A) * inv_n) / b
        if prefetch:
            draw_batch(sampler, rng_x, delta, Zb, Yb, offset_z, Xn, Yn)
            offset_z += b
        decay_w = 1.0 - 2.0 * lam * sw
        decay_a = 1.0 - 2.0 * lam * sa
        noise_w = math.sqrt(4.0 * sw * inv_beta)
        noise_a = math.sqrt(4.0 * sa * inv_beta)
        # a row whose gradient vanishes is only read (for the next pre-activations) when
        # nothing else changes it
        fixed_rows = decay_w == 1.0 and not noisy
        if b == 1:
            # the same update as below, with the batch's views hoisted
            e = E[0]
            x = X[0]
            x_next = Xn[0]
            h_next = Hn[0]
            sig = S[0]
            dsig = D[0]
            for i in range(N):
                ai = A[i]
                c = sw * e * ai * dsig[i]
                if noisy:
                    for l in range(d):
                        g[l] = rng_noise.standard_normal()
                    h_next[i] = row_step_noisy(W, i, decay_w, c, x, noise_w, g, x_next)
                elif c != 0.0 or not fixed_rows:
                    h_next[i] = row_step(W, i, decay_w, c, x, x_next)
                elif prefetch:
                    h_next[i] = dot(W, i, x_next)
                if train_a:
                    a_new = decay_a * ai + sa * (e * sig[i])
                    if noisy:
                        a_new += noise_a * rng_noise.standard_normal()
                    A[i] = a_new
        else:
            for i in range(N):
                ai = A[i]
                grad_a = 0.0
                moving = not fixed_rows
                for j in range(b):
                    cj = sw * E[j] * ai * D[j, i]
                    coef[j] = cj
                    moving = moving or cj != 0.0
                    if train_a:
                        grad_a += E[j] * S[j, i]
                row = W[i]
                if noisy:
                    for l in range(d):
                        g[l] = rng_noise.standard_normal()
                if moving:
                    if noisy:
                        for l in range(d):
                            row[l] = decay_w * row[l] + noise_w * g[l]
                    elif decay_w != 1.0:
                        for l in range(d):
                            row[l] = decay_w * row[l]
                    for j in range(b):
                        cj = coef[j]
                        if cj != 0.0:
                            xj = X[j]
                            for l in range(d):
                                row[l] += cj * xj[l]
                if prefetch:
                    for j in range(b):
                        Hn[j, i] = dot(W, i, Xn[j])
                if train_a:
                    a_new = decay_a * ai + sa * grad_a
                    if noisy:
                        a_new += noise_a * rng_noise.standard_normal()
                    A[i] = a_new
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
    loss : {"square", "logistic"}
        The loss of the step (:mod:`reducedpde.losses`; default square).
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
        loss="square",
    ):
        self.loss = check_loss(loss)
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
            np.zeros((b, N)),
            np.zeros((b, N)),
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
            self.loss,
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

    def get_state(self) -> dict:
        """Copy of what determines the rest of the run: ``W``, ``A``, the step count and
        the states of the two generators (JSON text, exact for their 128-bit integers).

        The kernel keeps nothing else between calls (each call recomputes the
        pre-activations of its first batch), so :meth:`set_state` on a state made by the
        same construction continues the run bit for bit.
        """
        return {
            "W": self.W.copy(),
            "A": self.A.copy(),
            "kernel_step": int(self.step),
            "rng_x": generator_state(self.rng_x),
            "rng_noise": generator_state(self.rng_noise),
        }

    def set_state(self, state: dict) -> None:
        """Restore a state from :meth:`get_state` (shapes must match this run's)."""
        for name, target in (("W", self.W), ("A", self.A)):
            value = np.asarray(state[name], dtype=np.float64)
            if value.shape != target.shape:
                raise ValueError(
                    f"checkpoint array {name} has shape {value.shape}, this run needs "
                    f"{target.shape} (different N or d?)"
                )
            target[...] = value
        self.step = int(state["kernel_step"])
        set_generator_state(self.rng_x, state["rng_x"])
        set_generator_state(self.rng_noise, state["rng_noise"])


def generator_state(rng: np.random.Generator) -> str:
    """The state of ``rng``'s bit generator as JSON text."""
    return json.dumps(rng.bit_generator.state)


def set_generator_state(rng: np.random.Generator, text: str) -> None:
    """Set ``rng``'s bit generator to a state from :func:`generator_state`."""
    state = json.loads(text)
    name = type(rng.bit_generator).__name__
    if state.get("bit_generator") != name:
        raise ValueError(
            f"checkpoint generator is {state.get('bit_generator')!r}, this run uses {name!r}"
        )
    rng.bit_generator.state = state
