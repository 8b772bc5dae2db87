r"""The ``O(1/N)`` expansion of the expected risk of ``N`` neurons (``correction=full``).

The network of ``N`` neurons trained by the gradient flow ``dw_i/dt = −N ∂R_N/∂w_i`` (the
``ε → 0`` limit of online SGD) has an empirical law ``μ_N`` that solves the mean-field
equation *exactly*,

.. math::  ∂_t μ = 2 ∇·(μ ∇Ψ[μ]),   Ψ[μ](w) = V(w) + ∫ U(w, w') μ(dw'),

from the random initial condition ``μ_N(0) = ρ_0 + N^{-1/2} η_0`` (``η_0`` the centred
empirical fluctuation of ``N`` i.i.d. draws). The equation is quadratic in ``μ``, so the
expansion ``μ_N = ρ + N^{-1/2} η + N^{-1} m + …`` is exact order by order:

* ``∂_t η = L_ρ η`` with ``L_ρ η = 2∇·(η∇Ψ[ρ]) + 2∇·(ρ∇(Uη))`` (the linearised equation,
  the dynamical central limit theorem of the mean-field limit);
* ``∂_t m = L_ρ m + 2∇·(η ∇(Uη))``, ``m(0) = 0``, whose mean is driven by the covariance
  of ``η`` (at ``t = 0`` this source is the self-interaction of each neuron).

The risk ``R(μ) = 1 + 2⟨V, μ⟩ + ⟨μ, Uμ⟩`` is quadratic too, so

.. math::  E R_N(t) = R(ρ_t) + \frac1N \big( E⟨η_t, U η_t⟩ + 2⟨Ψ[ρ_t], E m_t⟩ \big)
                      + o(1/N),

the *variance term* plus the *mean-shift term*. At ``t = 0`` the variance term is the static
i.i.d. term ``∫D dρ − ∫∫U dρ dρ`` and the mean shift vanishes.

Angular modes. ``ρ_t`` is rotation invariant, so ``L_ρ`` commutes with rotations and ``η``
splits into spherical-harmonic modes ``η_{ℓm}(r) Y_{ℓm}(ŵ)`` (``Y_{ℓm}`` orthonormal for the
uniform probability on the sphere) that evolve independently and identically in ``m``. With
the Funk–Hecke expansion ``U(w, w') = Σ_ℓ u_ℓ(r, r') Σ_m Y_{ℓm}(ŵ) Y_{ℓm}(ŵ')``, a test
function ``a(r) Y_{ℓm}`` gives the weak form of mode ``ℓ``:

.. math::  \frac{d}{dt} ∫ a\, dη_ℓ = −2∫ ψ' a'\, dη_ℓ
           − 2∫ \big(χ_ℓ' a' + λ_ℓ χ_ℓ a / r^2\big) ρ̄(dr),
           χ_ℓ(r) = ∫ u_ℓ(r, r') η_ℓ(dr'),   λ_ℓ = ℓ(ℓ + d − 2):

transport by the mean-field velocity, plus the response of the whole population to the
force of the fluctuation; the tangential part of that force enters through the eigenvalue
``λ_ℓ`` of the spherical Laplacian. The kernel of mode ``ℓ`` follows from Mehler's formula
``U = ½ Σ_± Σ_k h_k(s_± r) h_k(s_± r') t^k / k!`` (``t = ŵ·ŵ'``, ``s_± = 1 ± Δ``,
``h_k(a) = E[σ(aG) He_k(G)]``):

.. math::  u_ℓ(r, r') = ½ Σ_± Σ_{k ≥ ℓ,\; k ≡ ℓ (2)} \frac{h_k(s_± r) h_k(s_± r')}{k!}
           E[t^k P_ℓ(t)],

``P_ℓ`` the Gegenbauer polynomial of ``R^d`` normalised by ``P_ℓ(1) = 1`` and ``t`` the
cosine of the angle between two uniform directions; mode ``ℓ`` appears ``N_ℓ`` times
(the dimension of the degree-``ℓ`` harmonics).

Lagrangian discretisation. The noiseless mean field transports the initial law along
characteristics ``R_j(t)`` (atoms of a Gauss rule for the initial χ law, masses ``ρ_j``).
A mode is represented on the atoms as ``⟨η_ℓ, a⟩ = Σ_j ρ_j (α_j a(R_j) + β_j a'(R_j))`` —
a weight fluctuation ``α`` and a radial displacement ``β`` — and the weak form becomes the
linear system

.. math::  \dot α_j = −\frac{2 λ_ℓ}{R_j^2} χ_ℓ(R_j),   \dot β_j = −2ψ''(R_j) β_j − 2χ_ℓ'(R_j),

started from white noise (``Cov α = diag(1/ρ_j)``, minus ``1 1^T`` for ``ℓ = 0``; ``β = 0``).
Its covariance is carried as ``Z Zᵀ`` with ``Ż = A_ℓ Z``. Modes above ``modes`` are taken as
uncoupled (pure transport): their white noise stays white, and they contribute
``∫ (D − Σ_{ℓ ≤ L} N_ℓ u_ℓ(r, r)) dρ̄`` with the exact same-neuron kernel
``D(r) = Σ_ℓ N_ℓ u_ℓ(r, r)``. The mean shift is radial and needs a curvature part too,
``⟨E m, a⟩ = Σ_j ρ_j (β^m_j a'(R_j) + γ^m_j a''(R_j))``:

.. math::  \dot β^m_j = −2ψ'' β^m_j − 2ψ''' γ^m_j − 2χ_m'(R_j) − 2 Σ_ℓ N_ℓ
           E[α_j χ_ℓ'(R_j) + β_j χ_ℓ''(R_j)],
           \qquad \dot γ^m_j = −4ψ'' γ^m_j − 2 Σ_ℓ N_ℓ E[β_j χ_ℓ'(R_j)].

References: the fluctuation limit of mean-field neural networks is the dynamical central
limit theorem of Sirignano and Spiliopoulos (2020, "Mean field analysis of neural networks:
a central limit theorem") and of Chen, Rotskoff, Bruna and Vanden-Eijnden (2020, "A
dynamical central limit theorem for shallow neural networks"); Rotskoff and Vanden-Eijnden
(2022, "Trainability and accuracy of artificial neural networks: an interacting particle
system approach") show that gradient descent damps the ``O(1/N)`` error. The mode
decomposition, the Lagrangian representation and the mean-shift equation above are the
package's (docs/corrections.md).

Online SGD with step ``ε`` (``step_noise``, :mod:`.step_noise`). The gradient noise of
the shared samples adds a second, ``N``-independent channel of the same form:
``μ = ρ + √ε η^ε + ε m^ε``, where ``η^ε`` starts from 0 and is driven by the noise
covariance ``Q_ℓ`` of each mode (carried as ``Σ_ℓ`` with ``Σ̇ = AΣ + ΣAᵀ + Q``), and the
mean shift ``m^ε`` has, besides the quadratic source of ``η^ε``, the Itô term of each
neuron's own noise and the Euler drift ``−½ R̈``. Then
``E R_N^{SGD} = R(ρ_t) + A(t)/N + ε B(t) + o(1/N + ε)`` with
``B = E⟨η^ε, Uη^ε⟩ + 2⟨Ψ, E m^ε⟩``.

Weight decay ``λ > 0`` adds ``λ r²/2`` to ``ψ`` in the velocity; noise (``β < ∞``) is not
supported (the atoms follow noiseless characteristics).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import eval_gegenbauer, gammaln, roots_genlaguerre, roots_jacobi

from .corrections import diagonal_kernel, diagonal_kernel_derivative

__all__ = [
    "FluctuationExpansion",
    "StepCorrectionWarning",
    "add_fluctuation_prediction",
    "check_full_correction_options",
    "chi_atoms",
    "fluctuation_expansion",
    "gegenbauer_projections",
    "harmonic_dimension",
]

#: largest ``|ε B(t)| / R`` for which the ``O(ε)`` term is taken as a correction (above:
#: :class:`StepCorrectionWarning`)
STEP_CORRECTION_LIMIT = 0.25


class StepCorrectionWarning(UserWarning):
    """The ``O(ε)`` step correction is too large for the expansion to hold."""


#: relative tolerance of the expansion's DOP853 integration; the error estimate of the
#: correction is never below it (differences of two integrations below it are round-off)
EXPANSION_RTOL = 1e-8

#: relative step of the central differences of ``ψ'`` and ``h_k'`` (error ≈ step²)
DIFFERENCE_STEP = 1e-4


def harmonic_dimension(d: float, degree: int) -> float:
    """``N_ℓ(d)``: dimension of the spherical harmonics of degree ``ℓ`` on ``S^{d−1}``.

    ``N_0 = 1``, ``N_ℓ = (2ℓ + d − 2) Γ(ℓ + d − 2) / (Γ(ℓ + 1) Γ(d − 1))``; ``d = 3`` gives
    ``2ℓ + 1``.
    """
    if degree == 0:
        return 1.0
    return float(math.exp(gammaln(degree + d - 2) - gammaln(degree + 1) - gammaln(d - 1))
                 * (2 * degree + d - 2))


def gegenbauer_projections(d: float, k_max: int, l_max: int, nodes: int | None = None):
    """``e[k, ℓ] = E[t^k P_ℓ(t)]`` for ``k ≤ k_max``, ``ℓ ≤ l_max``.

    ``t`` has the density ``∝ (1 − t²)^{(d−3)/2}`` on ``[−1, 1]`` (the cosine between two
    uniform directions of ``R^d``) and ``P_ℓ = C_ℓ^{((d−2)/2)} / C_ℓ^{((d−2)/2)}(1)``. Then
    ``t^k = Σ_ℓ N_ℓ e[k, ℓ] P_ℓ(t)``. Gauss–Jacobi quadrature, exact for these polynomials.
    """
    if not d > 2:
        raise ValueError(f"parameter 'd' must be > 2 for the angular modes, got {d!r}")
    nodes = nodes or (k_max + l_max) // 2 + 2
    t, w = roots_jacobi(nodes, (d - 3) / 2, (d - 3) / 2)
    w = w / w.sum()
    order = (d - 2) / 2
    legendre = np.array([eval_gegenbauer(ell, order, t) / eval_gegenbauer(ell, order, 1.0)
                         for ell in range(l_max + 1)])
    powers = t[None, :] ** np.arange(k_max + 1)[:, None]
    return (powers * w) @ legendre.T


def chi_atoms(kappa: float, d: float, n_atoms: int):
    """Gauss rule for ``r = ‖w‖``, ``w ~ N(0, κ²/d I_d)``: positions and masses.

    ``u = d r² / (2κ²)`` is Gamma(``d/2``) distributed; generalised Gauss–Laguerre nodes in
    ``u`` integrate ``∫ f(r) ρ̄_0(dr)`` exactly for ``f`` polynomial in ``r²`` of degree
    ``< 2 n_atoms``.
    """
    u, w = roots_genlaguerre(int(n_atoms), d / 2 - 1)
    return kappa * np.sqrt(2 * u / d), w / w.sum()


class FluctuationExpansion:
    """State and right-hand side of the ``O(1/N)`` expansion on Lagrangian atoms.

    The state vector holds the atom positions ``R`` (``M``), the covariance factors
    ``Z_ℓ = [Z_α; Z_β]`` (``2M × M`` for each ``ℓ ≤ modes``) and the mean shift
    ``(β^m, γ^m)`` (``2M``). See the module docstring for the equations.

    Parameters
    ----------
    model : GaussianRadialModel
        The mean-field radial model (noiseless).
    positions, weights : array_like, shape (M,)
        Initial atoms and masses of the (smooth) initial law, e.g. :func:`chi_atoms`.
    modes : int
        Highest angular degree ``L`` treated with its coupling (higher modes: transport).
    degree : int
        Highest Hermite degree ``k`` in the mode kernels.
    """

    def __init__(self, model, positions, weights, modes: int = 4, degree: int = 21,
                 step_noise=None):
        if model.noisy:
            raise ValueError("parameter 'beta' must be inf for correction=full (the "
                             "fluctuation expansion follows noiseless characteristics)")
        if math.isinf(model.d):
            raise ValueError("parameter 'd' must be finite for correction=full")
        self.model = model
        self.positions = np.asarray(positions, float)
        self.weights = np.asarray(weights, float)
        if (self.positions.ndim != 1 or self.positions.shape != self.weights.shape
                or self.positions.size == 0):
            raise ValueError("positions and weights must be 1-D arrays of the same length "
                             f"≥ 1, got shapes {self.positions.shape} and "
                             f"{self.weights.shape}")
        if np.any(self.weights <= 0) or abs(self.weights.sum() - 1.0) > 1e-9:
            raise ValueError("weights must be positive and sum to one (the atoms of a law)")
        if np.any(self.positions <= 0):
            raise ValueError("positions must be radii > 0")
        self.n_atoms = self.positions.size
        self.modes = int(modes)
        self.degree = int(degree)
        d = model.d
        self.scales = np.array([1.0 + model.delta, 1.0 - model.delta])
        projections = gegenbauer_projections(d, self.degree, self.modes)
        inv_fact = np.array([1.0 / math.factorial(k) for k in range(self.degree + 1)])
        # c[ℓ, ±, k] = ½ e[k, ℓ]/k! for k ≥ ℓ of the parity of ℓ, else 0
        coeff = np.zeros((self.modes + 1, 2, self.degree + 1))
        for ell in range(self.modes + 1):
            ks = np.arange(ell, self.degree + 1, 2)
            coeff[ell, :, ks] = (0.5 * projections[ks, ell] * inv_fact[ks])[:, None]
        self.mode_coefficients = coeff.reshape(self.modes + 1, -1)
        self.multiplicity = np.array([harmonic_dimension(d, ell)
                                      for ell in range(self.modes + 1)])
        self.laplace_eigenvalue = np.array([ell * (ell + d - 2.0)
                                            for ell in range(self.modes + 1)])
        #: the SGD gradient noise (:class:`.step_noise.StepNoise`) or ``None`` (gradient flow)
        self.step_noise = step_noise
        if step_noise is not None and step_noise.modes > self.modes:
            raise ValueError("step_noise must not have more modes than the expansion")

    # -- state layout ---------------------------------------------------------------
    def initial_state(self) -> np.ndarray:
        m = self.n_atoms
        white = np.diag(1.0 / np.sqrt(self.weights))
        factors = np.zeros((self.modes + 1, 2 * m, m))
        factors[:, :m] = white
        # ℓ = 0: the empirical law has mass one exactly, Cov α = diag(1/ρ) − 1 1ᵀ
        factors[0, :m] = (np.eye(m) - np.outer(np.ones(m), self.weights)) @ white
        parts = [self.positions, factors.ravel(), np.zeros(2 * m)]
        if self.step_noise is not None:
            # the O(ε) channel: covariances Σ_ℓ (2M × 2M) from 0 and its mean shift
            parts += [np.zeros((self.step_noise.modes + 1) * 4 * m * m), np.zeros(2 * m)]
        return np.concatenate(parts)

    def unpack(self, y):
        """``(R, Z, (β^m, γ^m))``, and ``(Σ^ε, (β^ε, γ^ε))`` with the step noise."""
        m = self.n_atoms
        size = (self.modes + 1) * 2 * m * m
        end = m + size + 2 * m
        out = (y[:m], y[m:m + size].reshape(self.modes + 1, 2 * m, m),
               y[m + size:end].reshape(2, m))
        if self.step_noise is None:
            return out
        top = self.step_noise.modes
        step_size = (top + 1) * 4 * m * m
        return (*out, y[end:end + step_size].reshape(top + 1, 2 * m, 2 * m),
                y[end + step_size:].reshape(2, m))

    # -- features -------------------------------------------------------------------
    def _features(self, r):
        """``f_q^{(n)}(r)`` for ``q = (±, k)``, ``n = 0, 1, 2``: shape ``(3, M, 2(K+1))``."""
        act, k_max = self.model.activation, self.degree
        out = []
        for s in self.scales:
            a = s * r
            step = DIFFERENCE_STEP * np.maximum(1.0, a)
            first = act.hermite_coefficients_derivative(a, k_max)
            second = (act.hermite_coefficients_derivative(a + step, k_max)
                      - act.hermite_coefficients_derivative(a - step, k_max)) / (2 * step[:, None])
            out.append((act.hermite_coefficients(a, k_max), s * first, s * s * second))
        return np.array([np.concatenate([out[0][n], out[1][n]], axis=1) for n in range(3)])

    def _psi_derivatives(self, r):
        """``ψ_λ'``, ``ψ_λ''``, ``ψ_λ'''`` of the mean field of the atoms ``r``."""
        model, w = self.model, self.weights

        def first(x):
            return model.psi_derivative(x, r, w) + model.lam * x

        step = DIFFERENCE_STEP * np.maximum(1.0, r)
        mid, up, down = first(r), first(r + step), first(r - step)
        return mid, (up - down) / (2 * step), (up - 2 * mid + down) / step**2

    # -- dynamics -------------------------------------------------------------------
    def evaluate(self, y, with_terms: bool = True):
        """Time derivative of the state and the two ``O(1/N)`` risk terms at ``y``.

        Returns
        -------
        derivative : ndarray
        terms : dict or None
            ``variance`` (``E⟨η, Uη⟩``), ``mean_shift`` (``2⟨Ψ, E m⟩``),
            ``norm_shift`` (``⟨E m, r⟩``) and ``mean_field_risk`` (``R`` of the atoms);
            ``None`` when ``with_terms`` is false (the integrator's right-hand side).
        """
        r, factors, (beta_m, gamma_m), *step_state = self.unpack(y)
        rho = self.weights
        f0, f1, f2 = self._features(r)
        psi1, psi2, psi3 = self._psi_derivatives(r)
        d_factors = np.empty_like(factors)
        m = self.n_atoms
        variance = 0.0
        source_beta = np.zeros(m)
        source_gamma = np.zeros(m)
        diagonal = np.zeros(m)
        diagonal_slope = np.zeros(m)
        for ell in range(self.modes + 1):
            c = self.mode_coefficients[ell]
            z_alpha, z_beta = factors[ell, :m], factors[ell, m:]
            moments, d_factors[ell, :m], d_factors[ell, m:] = self._mode_response(
                ell, r, (f0, f1), psi2, z_alpha, z_beta)
            n_ell = self.multiplicity[ell]
            if with_terms:
                variance += n_ell * float(np.sum(c[:, None] * moments**2))
                diagonal += n_ell * np.sum(c * f0 * f0, axis=1)
            # covariance Z Zᵀ: E[α_j M_q] = (Z_α Mᵀ)_jq, E[β_j M_q] = (Z_β Mᵀ)_jq
            more_beta, more_gamma = self._shift_sources(ell, f1, f2, z_alpha @ moments.T,
                                                        z_beta @ moments.T)
            source_beta += more_beta
            source_gamma += more_gamma
            diagonal_slope += n_ell * np.sum(c * f1 * f0, axis=1)
        # modes above L: uncoupled white noise (D = Σ N_ℓ u_ℓ(r, r), D'/2 = Σ N_ℓ ∂_1 u_ℓ)
        model = self.model
        source_beta += 0.5 * diagonal_kernel_derivative(model.activation, model.delta, r) \
            - diagonal_slope
        d_beta_m, d_gamma_m = self._mean_shift_rate(beta_m, gamma_m, (f1, f2),
                                                    (psi2, psi3), source_beta, source_gamma)
        derivative = [-2.0 * psi1, d_factors.ravel(), d_beta_m, d_gamma_m]
        step_terms = None
        if self.step_noise is not None:
            d_step, step_terms = self._step_channel(r, step_state, (f0, f1, f2),
                                                    (psi1, psi2, psi3), with_terms)
            derivative += d_step
        derivative = np.concatenate(derivative)
        if not with_terms:
            return derivative, None
        variance += float(rho @ (diagonal_kernel(model.activation, model.delta, r) - diagonal))
        mean_shift, norm_shift = self._shift_terms(r, beta_m, gamma_m, psi1, psi2)
        terms = {
            "variance": variance,
            "mean_shift": mean_shift,
            "norm_shift": norm_shift,
            "mean_field_risk": model.risk(r, rho),
        }
        if step_terms is not None:
            terms.update(step_terms)
        return derivative, terms

    def _mode_response(self, ell, r, features, psi2, alpha, beta):
        """Moments ``M_q = Σ_j ρ_j (α_j f_q(R_j) + β_j f_q'(R_j))`` of the columns of a mode
        ``ℓ`` perturbation ``(α, β)`` and the linear map ``A_ℓ`` applied to them."""
        f0, f1 = features
        rho = self.weights
        moments = f0.T @ (rho[:, None] * alpha) + f1.T @ (rho[:, None] * beta)
        weighted = self.mode_coefficients[ell][:, None] * moments
        d_alpha = -(2.0 * self.laplace_eigenvalue[ell] / r**2)[:, None] * (f0 @ weighted)
        d_beta = -2.0 * psi2[:, None] * beta - 2.0 * (f1 @ weighted)
        return moments, d_alpha, d_beta

    def _shift_sources(self, ell, f1, f2, alpha_moments, beta_moments):
        """Sources of ``(β^m, γ^m)`` from the covariances ``E[α_j M_q]``, ``E[β_j M_q]`` of
        mode ``ℓ`` (all ``N_ℓ`` copies)."""
        c, n_ell = self.mode_coefficients[ell], self.multiplicity[ell]
        return (n_ell * np.sum(c * (f1 * alpha_moments + f2 * beta_moments), axis=1),
                n_ell * np.sum(c * f1 * beta_moments, axis=1))

    def _mean_shift_rate(self, beta, gamma, features, psi, source_beta, source_gamma):
        """``(β̇^m, γ̇^m)``: transport, the mode-0 response to the shift itself, and the
        quadratic sources (module docstring)."""
        f1, f2 = features
        psi2, psi3 = psi
        rho = self.weights
        shift_moments = f1.T @ (rho * beta) + f2.T @ (rho * gamma)
        chi_slope = f1 @ (self.mode_coefficients[0] * shift_moments)
        return (-2.0 * (psi2 * beta + psi3 * gamma + chi_slope + source_beta),
                -4.0 * psi2 * gamma - 2.0 * source_gamma)

    def _shift_terms(self, r, beta, gamma, psi1, psi2):
        """``2⟨Ψ, m⟩`` (without weight decay) and ``⟨m, r⟩`` of a mean shift ``(β, γ)``."""
        model, rho = self.model, self.weights
        mean_shift = 2.0 * float(rho @ (beta * (psi1 - model.lam * r)
                                        + gamma * (psi2 - model.lam)))
        return mean_shift, float(rho @ beta)

    def _velocity(self, r):
        """Mean-field velocity ``−2ψ_λ'(R_j)`` of the atoms ``r`` (their own law)."""
        model = self.model
        return -2.0 * (model.psi_derivative(r, r, self.weights) + model.lam * r)

    def _step_channel(self, r, state, features, psi, with_terms):
        r"""Right-hand side and risk terms of the ``O(ε)`` channel (SGD gradient noise).

        ``Σ̇_ℓ = A_ℓ Σ_ℓ + Σ_ℓ A_ℓᵀ + Q_ℓ`` (``Σ_ℓ(0) = 0``) and the mean shift with the
        sources of :mod:`.step_noise`: the quadratic interaction of ``η^ε`` (modes
        ``ℓ ≤ L``), the Itô term of each neuron's own noise and the Euler drift
        ``−½ R̈``.
        """
        sigma, (beta_e, gamma_e) = state
        f0, f1, f2 = features
        psi1, psi2, psi3 = psi
        rho = self.weights
        m = self.n_atoms
        noise, ito_beta, ito_gamma, _ = self.step_noise.evaluate(r, rho)
        d_sigma = np.empty_like(sigma)
        variance = 0.0
        source_beta = np.zeros(m)
        source_gamma = np.zeros(m)
        if with_terms:
            weighted_features = np.concatenate([rho[:, None] * f0, rho[:, None] * f1]).T
        for ell in range(self.step_noise.modes + 1):
            cov = sigma[ell]
            # moments (Q × 2M) = E[M_q (α, β)_i] for the covariance Σ itself
            moments, d_alpha, d_beta = self._mode_response(ell, r, (f0, f1), psi2,
                                                           cov[:m], cov[m:])
            response = np.concatenate([d_alpha, d_beta])
            d_sigma[ell] = response + response.T + noise[ell]
            if with_terms:
                variance += self.multiplicity[ell] * float(np.sum(
                    self.mode_coefficients[ell] * np.sum(moments * weighted_features, axis=1)))
            more_beta, more_gamma = self._shift_sources(ell, f1, f2, moments[:, :m].T,
                                                        moments[:, m:].T)
            source_beta += more_beta
            source_gamma += more_gamma
        # Euler drift: R̈ = (∇v) v along the atoms' own velocity v = −2ψ_λ'
        velocity = -2.0 * psi1
        step = DIFFERENCE_STEP * max(1.0, float(np.max(r))) / max(
            float(np.max(np.abs(velocity))), 1e-300)
        acceleration = (self._velocity(r + step * velocity)
                        - self._velocity(r - step * velocity)) / (2.0 * step)
        d_beta, d_gamma = self._mean_shift_rate(beta_e, gamma_e, (f1, f2), (psi2, psi3),
                                                source_beta, source_gamma)
        derivative = [d_sigma.ravel(), d_beta + ito_beta - 0.5 * acceleration,
                      d_gamma + ito_gamma]
        if not with_terms:
            return derivative, None
        mean_shift, norm_shift = self._shift_terms(r, beta_e, gamma_e, psi1, psi2)
        return derivative, {"step_variance": variance, "step_mean_shift": mean_shift,
                            "step_norm_shift": norm_shift}


def fluctuation_expansion(model, positions, weights, times, *, modes: int = 4,
                          degree: int = 21, step_batch: int | None = None,
                          rtol: float = EXPANSION_RTOL, atol: float = 1e-10,
                          progress: bool = False) -> dict:
    r"""The ``O(1/N)`` terms of the expected risk of ``N`` neurons at ``times``.

    ``E R_N(t) ≈ R(ρ_t) + (variance(t) + mean_shift(t)) / N`` and
    ``E mean‖w‖ ≈ ∫ r dρ_t + norm_shift(t) / N`` (see the module docstring); the
    coefficients do not depend on ``N``.

    Parameters
    ----------
    model : GaussianRadialModel
        Noiseless mean-field radial model.
    positions, weights : array_like, shape (M,)
        Atoms of the initial law (:func:`chi_atoms`).
    times : array_like
        Increasing output times, starting at ``t ≥ 0`` (the expansion starts at 0).
    modes, degree : int
        Coupled angular modes ``ℓ ≤ modes`` and Hermite degrees ``k ≤ degree``.
    step_batch : int, optional
        With the SGD batch size ``b``, also the ``O(ε)`` terms of online SGD with step
        ``ε`` (:mod:`.step_noise`): ``E R ≈ … + ε (step_variance + step_mean_shift)``.
        ``None``: the gradient flow (``ε → 0``) only.
    rtol, atol : float
        Tolerances of the DOP853 integration.
    progress : bool
        A progress bar over the output times.

    Returns
    -------
    dict
        Arrays on ``times``: ``variance``, ``mean_shift``, ``norm_shift``,
        ``mean_field_risk`` (of the atoms) and the integer ``n_rhs``; with ``step_batch``
        also ``step_variance``, ``step_mean_shift`` and ``step_norm_shift`` (coefficients
        of ``ε``).
    """
    from tqdm.auto import tqdm

    from .step_noise import StepNoise

    times = np.asarray(times, float)
    if times.ndim != 1 or times.size == 0 or times[0] < 0 or np.any(np.diff(times) < 0):
        raise ValueError("times must be a non-empty, non-decreasing array of times >= 0")
    for name, value, low in (("modes", modes, 0), ("degree", degree, 1)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise ValueError(f"parameter '{name}' must be an integer >= {low}, got {value!r}")
    step_noise = None if step_batch is None else StepNoise(model, modes, step_batch)
    expansion = FluctuationExpansion(model, positions, weights, modes=modes, degree=degree,
                                     step_noise=step_noise)
    keys = ("variance", "mean_shift", "norm_shift", "mean_field_risk")
    if step_noise is not None:
        keys += ("step_variance", "step_mean_shift", "step_norm_shift")
    bar = tqdm(total=float(times[-1]), desc="fluctuations", unit="t", disable=not progress,
               leave=False)

    def rhs(t, y):
        if t > bar.n:
            bar.update(t - bar.n)
        return expansion.evaluate(y, with_terms=False)[0]

    try:
        if times[-1] > 0:
            sol = solve_ivp(rhs, (0.0, float(times[-1])), expansion.initial_state(),
                            method="DOP853", t_eval=times, rtol=rtol, atol=atol)
            if not sol.success:
                raise RuntimeError(f"fluctuation expansion failed: {sol.message}")
            states, n_rhs = sol.y.T, int(sol.nfev)
        else:
            states, n_rhs = np.tile(expansion.initial_state(), (times.size, 1)), 0
    finally:
        bar.close()
    out = {key: np.empty(times.size) for key in keys}
    for i, state in enumerate(states):
        terms = expansion.evaluate(state)[1]
        for key in keys:
            out[key][i] = terms[key]
    out["n_rhs"] = n_rhs
    return out


def check_full_correction_options(*, xi=None, initial_density=None) -> None:
    """Refuse the run options ``correction=full`` cannot follow (clear ``ValueError``)."""
    if xi is not None:
        raise ValueError("xi: correction=full needs the constant step-size scale (ξ = 1)")
    if initial_density is not None:
        raise ValueError("initial_density: correction=full starts from the Gaussian initial "
                         "law N(0, κ²/d I)")


def add_fluctuation_prediction(reduction, pde, times, *, xi=None, initial_density=None,
                               progress: bool = False) -> None:
    r"""Store the prediction of ``N = config['N']`` neurons beside ``pde.risk``.

    ``pde.extra['risk_corrected'] = R(ρ_t) + (variance + mean_shift)/N + ε B(t)`` with the
    grid's mean-field risk ``R(ρ_t)``, ``pde.extra['mean_norm_corrected']`` likewise, the
    ``N``-free coefficients ``pde.extra['correction_variance']`` and
    ``pde.extra['correction_mean_shift']``, and, for online SGD
    (``particle_dynamics = sgd``) with step ``ε = config['eps']`` and batch
    ``b = config['batch']``, the step coefficient ``pde.extra['correction_step'] = B(t)``
    (:mod:`.step_noise`; the gradient flow, ``particle_dynamics = flow``, has ``B = 0``
    and records none; the ``ε → 0`` prediction is then also kept as
    ``pde.extra['risk_corrected_flow']``). ``attrs['correction_mean_field_gap']`` is the
    largest difference between the atoms' and the grid's mean-field risk (a check of the
    atoms); ``pde.extra['risk_corrected_error_estimate']`` (and its maximum,
    ``attrs['correction_error_estimate']``) is the change of the correction when the
    expansion runs on half the atoms, an a-posteriori estimate of its discretisation error
    (at least :data:`EXPANSION_RTOL` times the correction, the integration's tolerance).
    """
    import time as _time

    check_full_correction_options(xi=xi, initial_density=initial_density)
    cfg = reduction.config
    started = _time.perf_counter()
    sgd = cfg.get("particle_dynamics", "sgd") == "sgd"
    n = int(cfg["N"])
    eps = float(cfg["eps"]) if sgd else 0.0

    def expand(n_atoms):
        """The expansion's terms and its corrections of the risk: ``A/N`` and ``B``."""
        positions, weights = chi_atoms(cfg["kappa"], cfg["d"], n_atoms)
        terms = fluctuation_expansion(reduction.reduced_model(), positions, weights, times,
                                      modes=cfg["correction_modes"],
                                      degree=cfg["correction_degree"],
                                      step_batch=int(cfg["batch"]) if sgd else None,
                                      progress=progress)
        step = terms["step_variance"] + terms["step_mean_shift"] if sgd else 0.0
        return terms, (terms["variance"] + terms["mean_shift"]) / n, step

    terms, finite_n, step = expand(cfg["correction_atoms"])
    # a-posteriori error estimate: the same expansion on half the atoms
    _, coarse_finite_n, coarse_step = expand(max(4, cfg["correction_atoms"] // 2))
    correction = finite_n + eps * step
    # floored at the integration tolerance: below it the difference is round-off, which
    # differs between machines
    error = np.maximum(np.abs(correction - coarse_finite_n - eps * coarse_step),
                       EXPANSION_RTOL * np.abs(correction))
    pde.extra["risk_corrected_error_estimate"] = error
    pde.attrs["correction_error_estimate"] = float(np.max(error))
    pde.extra["correction_variance"] = terms["variance"]
    pde.extra["correction_mean_shift"] = terms["mean_shift"]
    risk = np.asarray(pde.risk, float) + finite_n
    norm = np.asarray(pde.mean_norm, float) + terms["norm_shift"] / n
    if sgd:
        pde.extra["risk_corrected_flow"] = risk.copy()
        pde.extra["correction_step"] = step
        risk = risk + eps * step
        norm = norm + eps * terms["step_norm_shift"]
        pde.attrs["correction_step_eps"] = eps
        pde.attrs["correction_step_batch"] = int(cfg["batch"])
        relative = np.abs(eps * pde.extra["correction_step"]) / np.maximum(
            np.abs(pde.extra["risk_corrected_flow"]), 1e-300)
        pde.attrs["correction_step_max_relative"] = float(np.max(relative))
        if np.max(relative) > STEP_CORRECTION_LIMIT:
            worst = int(np.argmax(relative))
            warnings.warn(
                f"the O(eps) step correction is {relative[worst]:.2g} of the predicted risk "
                f"at t = {times[worst]:.3g} (eps = {eps:g}): SGD with this step is outside "
                "the small-step regime there, and risk_corrected is unreliable; use a "
                "smaller eps (the gradient-flow prediction is /pde/extra/"
                "risk_corrected_flow)", StepCorrectionWarning, stacklevel=2)
    pde.extra["risk_corrected"] = risk
    pde.extra["mean_norm_corrected"] = norm
    pde.attrs["correction"] = "full"
    pde.attrs["correction_n_neurons"] = n
    pde.attrs["correction_mean_field_gap"] = float(
        np.max(np.abs(terms["mean_field_risk"] - np.asarray(pde.risk, float))))
    pde.attrs["correction_n_rhs"] = int(terms["n_rhs"])
    pde.attrs["correction_wall_time_s"] = float(_time.perf_counter() - started)
