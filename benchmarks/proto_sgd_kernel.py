"""Prototype of a faster batch-1 path for :func:`reducedpde.sgd.kernels.sgd_block`.

Not used by the package: it measures what two changes to the kernel would gain. For batch 1
without noise and without a second layer it computes the same update as ``sgd_block`` (same
random streams; same weights up to the summation order), with

1. **read-only rows when the gradient vanishes**: with the MMN18 activation ``σ' = 0``
   outside ``(0.5, 1.5]``, so most neurons have a zero gradient on a given sample. When
   ``coef = 0`` and there is no weight decay the row does not change, but ``sgd_block``
   still rewrites it (``row ← 1·row + 0·x``, 16 B/weight). Reading it for the next
   pre-activation only (8 B/weight) gives the same numbers.
2. **activations vectorised over the neurons**: ``sgd_block`` evaluates ``σ`` and ``σ'``
   neuron by neuron with ``activation_value``/``activation_derivative`` (a search of the
   interval with data-dependent branches, twice per neuron and step, in two passes). Here the
   row pass only stores the pre-activations; then one branch-free loop per knot,
   ``σ = c₀ + s₀h + Σ_k Δs_k (h − t_k)_+``, ``σ' = s₀ + Σ_k Δs_k 1[h > t_k]``, which
   LLVM vectorises. This removes a fixed cost of ~10–25 ns per neuron and step that
   dominates when ``d`` is small.

:func:`check_same_weights` compares the weights after many steps with ``KernelState``.
"""

from __future__ import annotations

if __package__ in (None, ""):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"
    import benchmarks  # noqa: F401  (one thread everywhere, before NumPy and Numba load)

import math

import numba
import numpy as np

from reducedpde.sgd.kernels import SAMPLER_GAUSSIAN_CLASSES, KernelState, _row_step
from reducedpde.sgd.kernels import _dot as _row_dot

from . import common  # noqa: F401  (single-thread environment)

_FASTMATH = {"reassoc", "contract", "nsz"}


@numba.njit(cache=True)
def _draw(rng, delta, x):
    y = 1.0 if rng.random() < 0.5 else -1.0
    scale = 1.0 + delta * y
    for l in range(x.shape[0]):
        x[l] = scale * rng.standard_normal()
    return y


@numba.njit(cache=True, fastmath=_FASTMATH, inline="always")
def _activations(h, offset, left, knots, jumps, sig, dsig):
    """``σ(h_i)``, ``σ'(h_i)`` for all neurons, branch-free and vectorised over ``i``:
    ``σ(t) = c₀ + s₀t + Σ_k Δs_k (t − t_k)_+``, ``σ'(t) = s₀ + Σ_k Δs_k 1[t > t_k]`` (the left
    slope at a kink, as in the package); returns ``Σ_i σ(h_i)``."""
    N = h.shape[0]
    for i in range(N):
        sig[i] = offset + left * h[i]
        dsig[i] = left
    for k in range(knots.shape[0]):
        tk = knots[k]
        jk = jumps[k]
        for i in range(N):
            u = h[i] - tk
            sig[i] += jk * max(u, 0.0)
            dsig[i] += jk if u > 0.0 else 0.0
    total = 0.0
    for i in range(N):
        total += sig[i]
    return total


@numba.njit(cache=True, fastmath=_FASTMATH)
def advance(W, steps, lam, offset, left, knots, jumps, delta, rng_x, state, x, x_next, h, sig,
            dsig):
    """The prototype loop: a pass over the rows (update and next pre-activation, or only the
    pre-activation when the gradient is zero), then the activations of all neurons.
    ``state[0]`` holds the pending label, ``state[1]`` ``Σ_i σ(h_i)``; ``dsig`` the
    ``σ'(h_i)`` on the pending sample ``x``."""
    N, d = W.shape
    inv_n = 1.0 / N
    y = state[0]
    sig_sum = state[1]
    n = steps.shape[0]
    for step in range(n):
        sw = steps[step]
        e = 2.0 * (y - sig_sum * inv_n)
        decay = 1.0 - 2.0 * lam * sw
        y_next = _draw(rng_x, delta, x_next)
        for i in range(N):
            c = sw * e * dsig[i]
            row = W[i]
            if c == 0.0 and decay == 1.0:
                h[i] = _row_dot(row, x_next)
            else:
                h[i] = _row_step(row, decay, c, x, x_next)
        sig_sum = _activations(h, offset, left, knots, jumps, sig, dsig)
        for l in range(d):
            x[l] = x_next[l]
        y = y_next
    state[0] = y
    state[1] = sig_sum


class Prototype:
    """Same generator use as ``KernelState`` (Gaussian classes, batch 1, no noise)."""

    def __init__(self, W, activation, rng_x, delta, lam=0.0):
        if not hasattr(activation, "slope_jumps"):
            raise ValueError("the prototype covers piecewise-linear activations only")
        self.W = np.array(W, dtype=np.float64, order="C", copy=True)
        N, d = self.W.shape
        self.offset = float(activation.offset)
        self.left = float(activation.left_slope)
        self.knots = np.ascontiguousarray(activation.knots, dtype=np.float64)
        self.jumps = np.ascontiguousarray(activation.slope_jumps, dtype=np.float64)
        self.sig = np.zeros(N)
        self.h = np.zeros(N)
        self.rng_x = rng_x
        self.delta = float(delta)
        self.lam = float(lam)
        self.x = np.zeros(d)
        self.x_next = np.zeros(d)
        self.dsig = np.zeros(N)
        self.state = np.zeros(2)
        self._primed = False

    def advance(self, steps):
        steps = np.ascontiguousarray(steps, dtype=np.float64)
        if steps.size == 0:
            return
        if not self._primed:
            # like sgd_block's step −1: draw the first sample, compute its pre-activations
            _prime(self.W, self.offset, self.left, self.knots, self.jumps, self.delta,
                   self.rng_x, self.state, self.x, self.h, self.sig, self.dsig)
            self._primed = True
        advance(self.W, steps, self.lam, self.offset, self.left, self.knots, self.jumps,
                self.delta, self.rng_x, self.state, self.x, self.x_next, self.h, self.sig,
                self.dsig)


@numba.njit(cache=True, fastmath=_FASTMATH)
def _prime(W, offset, left, knots, jumps, delta, rng_x, state, x, h, sig, dsig):
    N = W.shape[0]
    state[0] = _draw(rng_x, delta, x)
    for i in range(N):
        h[i] = _row_step(W[i], 1.0, 0.0, x, x)
    state[1] = _activations(h, offset, left, knots, jumps, sig, dsig)


def prototype_steps(W0, act, delta, eps, beta):
    """Factory with the signature of :data:`benchmarks.bench_sgd.IMPLEMENTATIONS`."""
    if not math.isinf(beta):
        raise ValueError("the prototype covers the noiseless kernel only")
    proto = Prototype(W0, act, np.random.default_rng(1), delta)
    return lambda n: proto.advance(np.full(n, eps))


def check_same_weights(N=200, d=64, n_steps=3000, eps=0.02, delta=0.5, kappa=0.4):
    """Largest |ΔW| between the prototype and ``KernelState`` after ``n_steps`` steps
    (split into several calls), and the fraction of (neuron, step) pairs with σ' = 0."""
    from reducedpde.activations import mmn18

    act = mmn18()
    W0 = (kappa / math.sqrt(d)) * np.random.default_rng(0).standard_normal((N, d))
    ref = KernelState(W0, None, act, SAMPLER_GAUSSIAN_CLASSES, np.random.default_rng(1),
                      np.random.default_rng(2), delta=delta)
    proto = Prototype(W0, act, np.random.default_rng(1), delta)
    for chunk in (1, 7, n_steps - 8):
        ref.advance(np.full(chunk, eps))
        proto.advance(np.full(chunk, eps))
    return float(np.abs(ref.W - proto.W).max()), zero_gradient_fraction(W0, act, delta)


def zero_gradient_fraction(W, act, delta, samples=200):
    rng = np.random.default_rng(3)
    zero = 0
    for _ in range(samples):
        y = 1.0 if rng.random() < 0.5 else -1.0
        x = (1.0 + delta * y) * rng.standard_normal(W.shape[1])
        zero += int(np.count_nonzero(act.derivative(W @ x) == 0.0))
    return zero / (samples * W.shape[0])
