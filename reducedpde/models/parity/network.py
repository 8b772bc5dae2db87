"""The mean-field network of the sparse-parity experiment and a NumPy reference of its
MFLD particle update.

A neuron is ``x = (x_1, x_2, x_3) ∈ R^d × R × R`` (stored as one row of length ``d + 2``)
and computes

.. math::  h_x(z) = \\bar R\\, \\frac{\\tanh(z \\cdot x_1 + x_2) + 2 \\tanh(x_3)}{3};

the network of ``M`` particles is ``f(z) = (1/M) Σ_j h_{x_j}(z)``. With the logistic loss
``ℓ(m) = log(1 + e^{−m})`` on ``n`` training pairs,

.. math::

    L(μ) = \\frac1n \\sum_i ℓ(y_i f_μ(z_i)), \\qquad
    \\frac{δL}{δμ}(x) = \\frac1n \\sum_i ℓ'(y_i f_μ(z_i))\\, y_i\\, h_x(z_i).

The prior adds ``c ‖x‖²`` to the first variation, with ``c = λλ'`` for ``prior="scaled"``
(the seed-000 objective ``L + λ KL(μ‖ν)``, ``ν ∝ e^{−λ'‖x‖²}``) and ``c = λ'`` for
``prior="fixed"`` (``L + λ'∫‖x‖² dμ + λ ∫ μ log μ``). One step of the particle MFLD is

.. math::  x_j ← x_j − η ∇_x\\Big(\\frac{δL}{δμ} + c‖x‖^2\\Big)(x_j) + \\sqrt{2λη}\\, ξ_j .

Everything here is plain NumPy (new arrays each call): it is the readable twin that the
compiled kernels of :mod:`reducedpde.models.parity.kernels` are tested against.
"""

from __future__ import annotations

import numpy as np

from ...losses import logistic_loss, logistic_loss_derivative

__all__ = [
    "PRIORS",
    "drift_numpy",
    "logistic_loss",
    "logistic_loss_derivative",
    "mfld_step_numpy",
    "network_output",
    "objective_numpy",
    "prior_coefficient",
]

#: The two prior forms: ``scaled`` (prior pull λλ'‖x‖²) and ``fixed`` (λ'‖x‖²).
PRIORS = ("scaled", "fixed")


def prior_coefficient(lam: float, lam_prime: float, prior: str) -> float:
    """Coefficient ``c`` of ``c‖x‖²`` in the first variation at temperature ``lam``.

    ``c = λλ'`` for ``prior="scaled"`` and ``c = λ'`` for ``prior="fixed"``.
    """
    if prior == "scaled":
        return lam * lam_prime
    if prior == "fixed":
        return lam_prime
    raise ValueError(f"parameter 'prior' must be one of {', '.join(PRIORS)}, got {prior!r}")


def network_output(X: np.ndarray, z: np.ndarray, Rbar: float) -> np.ndarray:
    """``f(z_i) = (1/M) Σ_j h_{x_j}(z_i)`` for the rows ``z_i`` of ``z``.

    Parameters
    ----------
    X : ndarray, shape (M, d + 2)
        Particles ``(x_1, x_2, x_3)``.
    z : ndarray, shape (n, d)
    Rbar : float
        Output scale ``R̄``.
    """
    d = z.shape[1]
    pre = z @ X[:, :d].T + X[:, d]
    return Rbar / 3.0 * (np.tanh(pre).mean(axis=1) + 2.0 * np.tanh(X[:, d + 1]).mean())


def objective_numpy(X, z, y, Rbar, prior_coef) -> float:
    """Entropy-free part of the objective, ``L(μ_M) + c ∫‖x‖² dμ_M``, of the particles.

    As a function of the ``M`` particles its gradient in ``x_j`` is ``(1/M)`` times the
    drift ``∇(δL/δμ + c‖x‖²)(x_j)`` of :func:`drift_numpy`.
    """
    loss = logistic_loss(y * network_output(X, z, Rbar)).mean()
    return float(loss + prior_coef * np.mean(np.sum(X * X, axis=1)))


def drift_numpy(X, z, y, Rbar, prior_coef) -> np.ndarray:
    """``∇_x (δL/δμ + c‖x‖²)(x_j)`` for every particle, shape ``(M, d + 2)``.

    With ``g_i = ℓ'(y_i f(z_i)) y_i / n`` and ``t_ij = tanh(z_i·x_{1,j} + x_{2,j})``:
    ``∇_{x_1} = (R̄/3) Σ_i g_i (1 − t_ij²) z_i``, ``∇_{x_2} = (R̄/3) Σ_i g_i (1 − t_ij²)``,
    ``∇_{x_3} = (2R̄/3)(1 − tanh² x_3) Σ_i g_i``, each plus ``2c x``.
    """
    n, d = z.shape
    f = network_output(X, z, Rbar)
    g = logistic_loss_derivative(y * f) * y / n
    t = np.tanh(z @ X[:, :d].T + X[:, d])  # (n, M)
    w = g[:, None] * (1.0 - t * t)  # (n, M)
    c = Rbar / 3.0
    out = np.empty_like(X)
    out[:, :d] = c * (w.T @ z)
    out[:, d] = c * w.sum(axis=0)
    out[:, d + 1] = 2.0 * c * (1.0 - np.tanh(X[:, d + 1]) ** 2) * g.sum()
    return out + 2.0 * prior_coef * X


def mfld_step_numpy(X, z, y, noise, lam, eta, Rbar, lam_prime, prior="scaled") -> np.ndarray:
    """One MFLD particle step (seed-000 form); returns the new particles.

    Parameters
    ----------
    X : ndarray, shape (M, d + 2)
    z, y : ndarray
        Training inputs ``(n, d)`` and labels ``(n,)``.
    noise : ndarray, shape (M, d + 2)
        Standard normal ``ξ`` of this step.
    lam : float
        Temperature ``λ`` of this step.
    eta, Rbar, lam_prime : float
        Step size ``η``, output scale ``R̄``, prior strength ``λ'``.
    prior : {"scaled", "fixed"}
    """
    c = prior_coefficient(lam, lam_prime, prior)
    return X - eta * drift_numpy(X, z, y, Rbar, c) + np.sqrt(2.0 * lam * eta) * noise
