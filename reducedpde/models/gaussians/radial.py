r"""The radial reduction of the MMN18 problem: potential, kernel and risk of a radial law."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import chi2

from .kernel import LowRankKernel, radial_potential, radial_potential_derivative


class GaussianRadialModel:
    r"""The radial reduction of the MMN18 isotropic-Gaussian problem.

    For a rotation-invariant law with radial marginal ``ρ̄(r)``:

        ψ(r; ρ̄) = v(r) + ∫ u(r, r') ρ̄(dr'),      ψ_λ = ψ + λ r²/2,
        R(ρ̄)    = 1 + 2 ∫ v dρ̄ + ∫∫ u dρ̄ dρ̄,
        ∂_t ρ̄   = 2ξ ∂_r(ρ̄ ∂_r ψ_λ) + (2ξ/β) ∂_r(∂_r ρ̄ − ((d−1)/r) ρ̄).

    The Lyapunov functional (decreasing along the flow) is
    ``F = ½ R + (λ/2) ∫ r² dρ̄ + β⁻¹ ∫ ρ̄ log(ρ̄ / r^{d−1}) dr``.

    Parameters
    ----------
    activation : Activation
    delta : float
        ``Δ ∈ (0, 1)``.
    d : float
        Dimension ``≥ 2`` or ``math.inf``.
    lam : float
        Weight decay ``λ ≥ 0``.
    beta : float
        Inverse temperature ``β > 0`` (``math.inf``: noiseless).
    r_bound : float
        Largest radius the kernel must resolve (the grid's ``r_max``).
    kernel_tol : float
        Truncation tolerance of :class:`LowRankKernel`.
    """

    def __init__(self, activation, delta, d, lam=0.0, beta=math.inf, r_bound=4.0, kernel_tol=1e-10):
        self.activation = activation
        self.delta = float(delta)
        self.d = float(d)
        self.lam = float(lam)
        self.beta = float(beta)
        self.kernel = LowRankKernel(activation, delta, d, r_bound, tol=kernel_tol)

    @property
    def noisy(self) -> bool:
        return not math.isinf(self.beta)

    def potential(self, r):
        """``v(r)``."""
        return radial_potential(self.activation, self.delta, r)

    def potential_derivative(self, r):
        """``v'(r)``."""
        return radial_potential_derivative(self.activation, self.delta, r)

    def kernel_moments(self, r, masses) -> np.ndarray:
        """``A_l = Σ_j m_j f_l(r_j)`` for point masses ``m_j`` at ``r_j``."""
        return self.kernel.features(r) @ masses

    def psi(self, r, at, masses) -> np.ndarray:
        """``ψ(r; ρ̄)`` at ``r`` for ``ρ̄ = Σ_j m_j δ_{at_j}``."""
        moments = self.kernel_moments(at, masses)
        return self.potential(r) + np.einsum(
            "l,l,l...->...", self.kernel.weights, moments, self.kernel.features(r)
        )

    def psi_derivative(self, r, at, masses) -> np.ndarray:
        """``∂_r ψ(r; ρ̄)`` for ``ρ̄ = Σ_j m_j δ_{at_j}``."""
        moments = self.kernel_moments(at, masses)
        return self.potential_derivative(r) + np.einsum(
            "l,l,l...->...", self.kernel.weights, moments, self.kernel.feature_derivatives(r)
        )

    def risk(self, at, masses) -> float:
        """``R(ρ̄) = 1 + 2 Σ_j m_j v(r_j) + Σ_l w_l A_l²`` for ``ρ̄ = Σ_j m_j δ_{r_j}``."""
        moments = self.kernel_moments(at, masses)
        return float(
            1.0 + 2.0 * self.potential(at) @ masses + np.sum(self.kernel.weights * moments**2)
        )

    def single_particle_velocity(self, r):
        """``dr/dt = −2 ∂_r ψ_λ(r; δ_r)`` (``ξ = 1``): one atom interacting with itself."""
        r = np.asarray(r, dtype=float)
        f = self.kernel.features(r)
        df = self.kernel.feature_derivatives(r)
        self_force = np.einsum("l,l...,l...->...", self.kernel.weights, f, df)
        return -2.0 * (self.potential_derivative(r) + self_force + self.lam * r)


def scaled_chi_cdf(kappa: float, d: float):
    """Distribution function of ``r = ‖w‖`` for ``w ~ N(0, (κ²/d) I_d)``: ``r = κ χ_d / √d``.

    ``P(r ≤ x) = P(χ²_d ≤ d x² / κ²)``.
    """
    if not kappa > 0:
        raise ValueError(f"kappa must be > 0, got {kappa}")
    if math.isinf(d):
        raise ValueError(
            "for d = inf the initial law is the point mass at r = kappa; use the Lagrangian "
            "solver or a finite d"
        )

    def cdf(x):
        x = np.asarray(x, dtype=float)
        return chi2.cdf(d * (x / kappa) ** 2, d)

    return cdf
