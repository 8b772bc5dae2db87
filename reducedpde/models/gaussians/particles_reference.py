r"""Plain NumPy twin of the compiled SGD kernel (for tests and benchmarks).

:func:`sgd_step_numpy` is the textbook form of one step,

.. math::

    w_i ← (1 − 2λ s^w) w_i + \frac{2 s^w}{b} Σ_j e_j a_i σ'(⟨w_i, x_j⟩) x_j
          + \sqrt{4 s^w / β}\, g_i,\quad
    a_i ← (1 − 2λ s^a) a_i + \frac{2 s^a}{b} Σ_j e_j σ(⟨w_i, x_j⟩) + \sqrt{4 s^a/β}\, g'_i,

with ``e_j = y_j − (1/N) Σ_i a_i σ(⟨w_i, x_j⟩)``. :func:`simulate_gaussians_numpy` runs
the Gaussian-classes problem with the same random streams, in the same order, as
:func:`~.particles.simulate_gaussians`, so both give the same weights up to round-off.
"""

from __future__ import annotations

import math

import numpy as np

from ...activations import Activation, get_activation
from .particles import gaussian_initial_weights, gaussian_run_generators

__all__ = ["draw_gaussian_classes_numpy", "sgd_step_numpy", "simulate_gaussians_numpy"]


def sgd_step_numpy(
    W,
    A,
    X,
    Y,
    step,
    activation: Activation,
    lam=0.0,
    beta=math.inf,
    xi_a=1.0,
    xi_w=1.0,
    train_a=False,
    rng_noise=None,
):
    """One SGD step on the batch ``(X (b, d), Y (b,))``; returns new ``(W, A)``.

    ``rng_noise`` (needed when ``β < ∞``) is used like the compiled kernel does: for each
    neuron ``d`` values for ``w_i`` then, if ``train_a``, one for ``a_i``.
    """
    W = np.asarray(W, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.atleast_1d(np.asarray(Y, dtype=np.float64))
    N, d = W.shape
    b = X.shape[0]
    sw, sa = step * xi_w, step * xi_a
    H = X @ W.T  # (b, N)
    E = Y - activation.value(H) @ A / N  # (b,)
    G = (E[:, None] * activation.derivative(H)) * A  # (b, N)
    W_new = (1.0 - 2.0 * lam * sw) * W + (2.0 * sw / b) * (G.T @ X)
    A_new = A
    if train_a:
        A_new = (1.0 - 2.0 * lam * sa) * A + (2.0 * sa / b) * (activation.value(H).T @ E)
    if not math.isinf(beta):
        g = rng_noise.standard_normal((N, d + (1 if train_a else 0)))
        W_new = W_new + math.sqrt(4.0 * sw / beta) * g[:, :d]
        if train_a:
            A_new = A_new + math.sqrt(4.0 * sa / beta) * g[:, d]
    return W_new, A_new


def draw_gaussian_classes_numpy(rng, d, delta, batch=1):
    """A batch of the Gaussian classes, drawn exactly as the compiled sampler does."""
    X = np.empty((batch, d))
    Y = np.empty(batch)
    for j in range(batch):
        y = 1.0 if rng.random() < 0.5 else -1.0
        Y[j] = y
        X[j] = (1.0 + delta * y) * rng.standard_normal(d)
    return X, Y


def simulate_gaussians_numpy(
    N,
    d,
    delta,
    kappa,
    eps,
    n_steps,
    activation="mmn18",
    lam=0.0,
    beta=math.inf,
    batch=1,
    seed=0,
    W0=None,
):
    """``n_steps`` SGD steps (constant step ``eps``) on the Gaussian classes in NumPy.

    Uses the generators of :func:`~.particles.simulate_gaussians` for ``seed``; returns the
    final weights ``(N, d)``. ``W0`` overrides the initial weights.
    """
    act = get_activation(activation)
    rng_init, rng_x, rng_noise = gaussian_run_generators(seed)
    W = gaussian_initial_weights(rng_init, N, d, kappa) if W0 is None else np.array(W0, float)
    A = np.ones(N)
    for _ in range(n_steps):
        X, Y = draw_gaussian_classes_numpy(rng_x, d, delta, batch)
        W, _ = sgd_step_numpy(W, A, X, Y, eps, act, lam=lam, beta=beta, rng_noise=rng_noise)
    return W
