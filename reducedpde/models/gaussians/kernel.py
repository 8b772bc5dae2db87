r"""Isotropic Gaussian classes (MMN18) and their radial reduction.

Data: ``y = +1`` with ``x ~ N(0, (1+Δ)² I_d)``, ``y = −1`` with ``x ~ N(0, (1−Δ)² I_d)``,
each with probability ½; neuron ``σ*(x; w) = σ(⟨w, x⟩)``, ``w ∈ R^d``.

Given ``w`` with ``‖w‖ = r``, ``⟨w, x⟩ = s_± r G`` with ``s_± = 1 ± Δ``, hence

    V(w) = −E[y σ(⟨w,x⟩)] = v(r) = −½ q((1+Δ) r) + ½ q((1−Δ) r),   q(a) = E σ(aG).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ...activations import Activation
from ...quadrature import angle_moments

__all__ = [
    "KernelTruncationWarning",
    "LowRankKernel",
    "radial_potential",
    "radial_potential_derivative",
]


def radial_potential(activation: Activation, delta: float, r):
    """``v(r) = −½ q((1+Δ) r) + ½ q((1−Δ) r)`` (the single-neuron potential ``V(w)``)."""
    r = np.asarray(r, dtype=float)
    return 0.5 * (
        activation.gaussian_mean((1.0 - delta) * r) - activation.gaussian_mean((1.0 + delta) * r)
    )


def radial_potential_derivative(activation: Activation, delta: float, r):
    """``v'(r) = −½ (1+Δ) q'((1+Δ) r) + ½ (1−Δ) q'((1−Δ) r)``, ``q' = ∂_a h_0``."""
    r = np.asarray(r, dtype=float)
    sp, sm = 1.0 + delta, 1.0 - delta
    dqp = activation.hermite_coefficients_derivative(sp * r, 0)[..., 0]
    dqm = activation.hermite_coefficients_derivative(sm * r, 0)[..., 0]
    return 0.5 * (sm * dqm - sp * dqp)


class KernelTruncationWarning(UserWarning):
    """The interaction kernel could not be truncated to the requested tolerance."""


class LowRankKernel:
    r"""Angle-averaged interaction ``u(r, r')`` as a sum of separable terms.

    ``U(w, w') = E[σ(⟨w,x⟩) σ(⟨w',x⟩)]`` averaged over the angle between two independent
    uniform directions of ``R^d`` is, by Mehler's formula,

        u(r, r') = ½ Σ_± Σ_{m ≥ 0} E[c^{2m}] h_{2m}(s_± r) h_{2m}(s_± r') / (2m)!
                 = Σ_l w_l f_l(r) f_l(r'),

    with ``f_l(r) = h_{2m}(s_± r)`` and ``w_l = ½ E[c^{2m}]/(2m)!``. For ``d = ∞`` only
    ``m = 0`` survives (rank 2). For finite ``d`` the series is truncated at the smallest
    ``m_max`` whose tail bound

        |tail(r, r')| ≤ ½ Σ_± E[c^{2 m_max + 2}] √(T_±(r) T_±(r')),
        T_±(r) = E σ(s_± r G)² − Σ_{k ≤ 2 m_max + 1} h_k(s_± r)² / k!   (Parseval),

    is below ``tol`` for every ``r ≤ r_bound``.

    Parameters
    ----------
    activation : Activation
    delta : float
        Class separation ``Δ ∈ (0, 1)``.
    d : float
        Dimension (``math.inf`` for the infinite-dimensional limit).
    r_bound : float
        Largest radius at which the kernel will be evaluated.
    tol : float
        Truncation tolerance on ``|u − u_trunc|``.
    m_cap : int
        Largest admissible ``m_max`` (Hermite degree ``2 m_cap``).
    """

    def __init__(self, activation, delta, d, r_bound, tol=1e-10, m_cap=30):
        self.activation = activation
        self.delta = float(delta)
        self.d = float(d)
        self.scales = np.array([1.0 + delta, 1.0 - delta])
        probe = np.linspace(0.0, float(r_bound), 401)
        moments = angle_moments(self.d, m_cap + 1)
        if math.isinf(self.d):
            m_max, bound = 0, 0.0
        else:
            coeffs = [
                activation.hermite_coefficients(s * probe, 2 * m_cap + 1) for s in self.scales
            ]
            second = [activation.gaussian_second_moment(s * probe) for s in self.scales]
            fact = np.array([math.factorial(k) for k in range(2 * m_cap + 2)], dtype=float)
            m_max, bound = m_cap, math.inf
            for m in range(m_cap + 1):
                tails = [
                    np.maximum(
                        sec - np.sum(c[:, : 2 * m + 2] ** 2 / fact[: 2 * m + 2], axis=1), 0.0
                    )
                    for c, sec in zip(coeffs, second)
                ]
                bound_m = 0.5 * moments[m + 1] * sum(t.max() for t in tails)
                if bound_m <= tol:
                    m_max, bound = m, bound_m
                    break
                bound = bound_m
        if bound > tol:
            warnings.warn(
                f"interaction kernel truncated at Hermite degree {2 * m_max} with error bound "
                f"{bound:.2g} > kernel_tol={tol:g} (slow Hermite decay at small d={d:g}); "
                "results carry this kernel error",
                KernelTruncationWarning,
                stacklevel=2,
            )
        self.m_max = m_max
        #: a-priori bound on the truncation error |u - u_trunc| for r, r' ≤ r_bound
        self.tail_bound = float(bound)
        self.tol = float(tol)
        degrees = 2 * np.arange(m_max + 1)
        inv_fact = np.array([1.0 / math.factorial(int(k)) for k in degrees])
        w = 0.5 * moments[: m_max + 1] * inv_fact
        #: weights w_l, ordered (s_+, m=0..m_max), (s_-, m=0..m_max)
        self.weights = np.concatenate([w, w])
        self.degrees = degrees

    @property
    def rank(self) -> int:
        return self.weights.size

    def features(self, r) -> np.ndarray:
        """``f_l(r) = h_{2m}(s_± r)``, shape ``(rank,) + r.shape``."""
        r = np.asarray(r, dtype=float)
        k_max = int(self.degrees[-1])
        parts = [
            np.moveaxis(
                self.activation.hermite_coefficients(s * r, k_max)[..., self.degrees], -1, 0
            )
            for s in self.scales
        ]
        return np.concatenate(parts, axis=0)

    def feature_derivatives(self, r) -> np.ndarray:
        """``f_l'(r) = s_± ∂_a h_{2m}(s_± r)``, shape ``(rank,) + r.shape``."""
        r = np.asarray(r, dtype=float)
        k_max = int(self.degrees[-1])
        parts = [
            s
            * np.moveaxis(
                self.activation.hermite_coefficients_derivative(s * r, k_max)[..., self.degrees],
                -1,
                0,
            )
            for s in self.scales
        ]
        return np.concatenate(parts, axis=0)

    def __call__(self, r, r_prime) -> np.ndarray:
        """``u(r, r')`` on the outer product of ``r`` and ``r_prime``."""
        f = self.features(np.atleast_1d(r))
        g = self.features(np.atleast_1d(r_prime))
        return np.einsum("l,li,lj->ij", self.weights, f, g)
