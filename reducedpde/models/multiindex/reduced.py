r"""The free ``(a, s, r)`` reduced model: output, risk, potential ``Ψ`` and velocity of a law
given by atoms (or cell centres) with weights; the mathematics is in the package docstring
(:mod:`reducedpde.models.multiindex`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ...activations import Activation
from .latents import _make_latent
from .smoothing import smoothed_features, smoothed_second_moment_features
from .targets import (
    HermiteTarget,
    MonomialTarget,
    _hermite_product,
    _make_target,
    multi_indices,
    subsets,
)

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

#: default Gauss–Hermite nodes per latent dimension (tensor rule with n^k nodes)
DEFAULT_NODES_PER_DIM = {1: 64, 2: 32, 3: 16, 4: 10}




class MultiIndexModel:
    r"""Mean-field ``(a, s, r)`` dynamics for ``y = φ(z)``, ``z = Π x ∈ R^k`` (``d → ∞``).

    Measures are represented by weighted atoms ``ρ̄ = Σ_i p_i δ_{(a_i, s_i, r_i)}``;
    every latent expectation is a sum over the ``Q`` nodes of the latent rule, so one
    velocity evaluation costs ``O(M Q)``: the network output
    ``f̄(z_q) = Σ_i p_i a_i σ_{r_i}(⟨s_i, z_q⟩)`` is computed once, then each atom needs
    ``Σ_q w_q e(z_q) (σ_r, σ_r' z, ∂_r σ_r)(⟨s_i, z_q⟩)``, ``e = φ − f̄`` (see the module
    docstring for the equations).

    Parameters
    ----------
    activation : Activation
    target : HermiteTarget, MonomialTarget, CallableTarget, dict or callable
        A dict means Hermite coefficients ``{α: c_α}`` (``φ = Σ c_α Π_j He_{α_j}(z_j)``)
        for the Gaussian latent and monomials ``{S: c_S}`` (``φ = Σ c_S Π_{j∈S} z_j``,
        0-based ``S``) for the hypercube; a callable maps ``z`` of shape (Q, k) to (Q,).
    latent : {"gaussian", "hypercube"} or GaussianLatent / HypercubeLatent
    k : int, optional
        Latent dimension (taken from the target or the latent object when omitted).
    xi_a, xi_w : float
        Learning-rate profiles of ``a`` and ``w`` (constant); ``ξ_a/ξ_w`` is the ratio of
        the second- to the first-layer rate.
    lam : float
        Weight decay ``λ ≥ 0``: ``Ψ_λ = Ψ + (λ/2)(a² + |s|² + r²)`` (``a`` only when
        ``spherical``).
    beta : float
        Inverse temperature (``inf``: noiseless).
    d : float
        Input dimension, used only by the Bessel drift ``(2ξ_w/β)(d−k−1)/r``; the kernel is
        the ``d → ∞`` one.
    spherical : bool
        BMZ23's variant: ``|s|² + r² = 1``, state ``(a, s)``.
    """

    def __init__(
        self,
        activation: Activation,
        target,
        latent="gaussian",
        *,
        k: int | None = None,
        xi_a: float = 1.0,
        xi_w: float = 1.0,
        lam: float = 0.0,
        beta: float = math.inf,
        d: float = math.inf,
        spherical: bool = False,
    ):
        if isinstance(target, Mapping):
            kind = latent if isinstance(latent, str) else getattr(latent, "kind", None)
            if kind == "gaussian":
                target = HermiteTarget(target)
            elif kind == "hypercube":
                target = MonomialTarget(target, k=k)
            else:
                raise ValueError(f"cannot interpret a coefficient dict for latent {latent!r}")
        if k is None:
            k = getattr(target, "k", None)
            if k is None and not isinstance(latent, str):
                k = latent.k
        self.latent = _make_latent(latent, k)
        self.k = self.latent.k
        self.target = _make_target(target, self.k)
        if getattr(self.target, "k", self.k) > self.k:
            raise ValueError(f"target uses k={self.target.k} coordinates, latent has k={self.k}")
        self.activation = activation
        for name, val in (("xi_a", xi_a), ("xi_w", xi_w)):
            if not (val > 0 and math.isfinite(val)):
                raise ValueError(f"{name} must be a positive finite number, got {val}")
        if not (lam >= 0 and math.isfinite(lam)):
            raise ValueError(f"lam must be >= 0 and finite, got {lam}")
        if not beta > 0:
            raise ValueError(f"beta must be > 0 (inf: noiseless), got {beta}")
        self.xi_a = float(xi_a)
        self.xi_w = float(xi_w)
        self.lam = float(lam)
        self.beta = float(beta)
        self.d = float(d)
        self.spherical = bool(spherical)
        if self.noisy:
            if self.spherical:
                raise ValueError("noise is not supported for the spherical variant")
            if math.isinf(self.d) or self.d <= self.k + 1:
                raise ValueError(f"a noisy model needs a finite d > k + 1, got d={d}")
        #: rule for the Gaussian smoothing of smooth activations (None: the default one)
        self.smoothing_rule = None
        self.nodes = self.latent.nodes
        self.qweights = self.latent.weights
        self.phi = self.target(self.nodes)
        if isinstance(self.target, HermiteTarget) and self.latent.kind == "gaussian":
            self.phi_second_moment = self.target.second_moment_gaussian()
        else:
            self.phi_second_moment = float(self.qweights @ self.phi**2)

    # -- helpers -------------------------------------------------------------------------
    @property
    def noisy(self) -> bool:
        return not math.isinf(self.beta)

    def _state(self, a, s, r):
        a = np.atleast_1d(np.asarray(a, dtype=float))
        s = np.asarray(s, dtype=float).reshape(a.shape[0], self.k)
        if self.spherical:
            r = np.sqrt(np.maximum(1.0 - np.sum(s * s, axis=1), 0.0))
        else:
            if r is None:
                raise ValueError("r is required for the free (a, s, r) model")
            r = np.atleast_1d(np.asarray(r, dtype=float)).reshape(a.shape[0])
        return a, s, r

    def radius(self, s) -> np.ndarray:
        """``r = √(1 − |s|²)`` (spherical variant)."""
        s = np.asarray(s, dtype=float).reshape(-1, self.k)
        return np.sqrt(np.maximum(1.0 - np.sum(s * s, axis=1), 0.0))

    def features(self, s, r):
        """``(σ_r, ∂_tσ_r, ∂_rσ_r)`` at ``⟨s_i, z_q⟩``: three arrays of shape (M, Q).

        ``r < 0`` (a trial stage of the time integrator) is evaluated at ``r = 0``.
        """
        T = np.asarray(s, dtype=float).reshape(-1, self.k) @ self.nodes.T
        return smoothed_features(self.activation, T, np.maximum(np.asarray(r, float), 0.0),
                                 self.smoothing_rule)

    # -- the mean-field quantities -------------------------------------------------------
    def output(self, a, s, r, p) -> np.ndarray:
        """``f̄(z_q) = Σ_i p_i a_i σ_{r_i}(⟨s_i, z_q⟩)`` at the latent nodes, shape (Q,)."""
        a, s, r = self._state(a, s, r)
        S0 = self.features(s, r)[0]
        return (np.asarray(p, dtype=float) * a) @ S0

    def risk(self, a, s, r, p) -> float:
        """``R(ρ̄) = E_z[(φ − f̄)²]`` (population risk of the mean-field network, no ½).

        Computed as ``E φ² − 2 E[φ f̄] + E f̄²`` with ``E φ²`` exact when known.
        """
        f = self.output(a, s, r, p)
        w = self.qweights
        return float(self.phi_second_moment - 2.0 * (w @ (self.phi * f)) + w @ (f * f))

    def residual(self, a, s, r, p) -> np.ndarray:
        """``e(z_q) = φ(z_q) − f̄(z_q)``."""
        return self.phi - self.output(a, s, r, p)

    def _weighted_residual(self, a, s, r, p, weights=None, S0=None):
        a, s, r = self._state(a, s, r)
        w = self.qweights if weights is None else weights
        S0 = self.features(s, r)[0] if S0 is None else S0
        return w * (self.phi - (np.asarray(p, float) * a) @ S0)

    def psi(self, a, s, r, p, at=None) -> np.ndarray:
        r"""``Ψ(θ; ρ̄) = −a E_z[(φ − f̄) σ_r(⟨s,z⟩)]`` (no weight decay).

        ``ρ̄ = Σ p_i δ_{(a_i,s_i,r_i)}``; evaluated at the atoms, or at the points
        ``at = (a', s', r')`` (``r'`` ignored when spherical).
        """
        e = self._weighted_residual(a, s, r, p)
        ta, ts, tr = self._state(*(at if at is not None else (a, s, r)))
        return -ta * (self.features(ts, tr)[0] @ e)

    def psi_gradient(self, a, s, r, p, at=None, weights=None):
        r"""``(∂_a Ψ, ∇_s Ψ, ∂_r Ψ)`` in the free coordinates (no weight decay).

        Returns arrays of shapes (M,), (M, k), (M,). In the spherical variant these are the
        partial derivatives of ``Ψ(a, s, r)`` before the constraint is applied.
        ``weights`` (shape (Q,)) replaces the latent rule's weights in the expectation
        ``E_z``, for instance by a mini-batch's empirical ones.
        """
        ta, ts, tr = self._state(*(at if at is not None else (a, s, r)))
        S0, S1, S2 = self.features(ts, tr)
        # at the atoms themselves the features serve the residual too
        e = self._weighted_residual(a, s, r, p, weights, S0 if at is None else None)
        g_a = -(S0 @ e)
        g_s = -ta[:, None] * ((S1 * e) @ self.nodes)
        g_r = -ta * (S2 @ e)
        return g_a, g_s, g_r

    def bessel_drift(self, r) -> np.ndarray:
        r"""``(2ξ_w/β)(d − k − 1)/r`` (zero when noiseless)."""
        r = np.asarray(r, dtype=float)
        if not self.noisy:
            return np.zeros_like(r)
        return 2.0 * self.xi_w * (self.d - self.k - 1.0) / (self.beta * r)

    def velocity(self, a, s, r, p, at=None, bessel: bool = True, weights=None):
        r"""Mean-field velocity ``(ȧ, ṡ, ṙ)`` of ``ρ̄`` at its atoms (or at ``at``).

        Free: ``ȧ = −2ξ_a(∂_aΨ + λa)``, ``ṡ = −2ξ_w(∇_sΨ + λs)``,
        ``ṙ = −2ξ_w(∂_rΨ + λr) [+ (2ξ_w/β)(d−k−1)/r]`` (the Bessel drift, when noisy and
        ``bessel``; the diffusion terms are not part of the velocity). The constraint
        ``r ≥ 0`` is kept by cancelling an inward ``ṙ`` at ``r ≤ 0``: for a kinked ``σ``,
        ``∂_r σ_r(t_j) → Δs_j φ(0) ≠ 0`` as ``r → 0`` and ``r`` can reach 0 in finite time
        (the neuron then lies in the target subspace).
        Spherical: ``ṡ = −2ξ_w(g_s − s c)``, ``ṙ = −2ξ_w(g_r − r c)``,
        ``c = ⟨s, g_s⟩ + r g_r``, so that ``|s|² + r²`` is conserved.
        ``weights``: as for :meth:`psi_gradient`.
        """
        g_a, g_s, g_r = self.psi_gradient(a, s, r, p, at=at, weights=weights)
        ta, ts, tr = self._state(*(at if at is not None else (a, s, r)))
        da = -2.0 * self.xi_a * (g_a + self.lam * ta)
        if self.spherical:
            c = np.sum(ts * g_s, axis=1) + tr * g_r
            ds = -2.0 * self.xi_w * (g_s - ts * c[:, None])
            dr = -2.0 * self.xi_w * (g_r - tr * c)
            return da, ds, dr
        ds = -2.0 * self.xi_w * (g_s + self.lam * ts)
        dr = -2.0 * self.xi_w * (g_r + self.lam * np.maximum(tr, 0.0))
        if bessel and self.noisy:
            dr = dr + self.bessel_drift(np.abs(tr))
        # r = ‖w_⊥‖ ≥ 0: at r = 0 an inward velocity is cancelled (w_⊥ = 0 is absorbing
        # when ∂_rΨ_λ(0⁺) ≥ 0, which happens for kinked σ exactly at a kink)
        return da, ds, np.where(tr <= 0.0, np.maximum(dr, 0.0), dr)

    # -- diagnostics ---------------------------------------------------------------------
    def fourier_walsh(self, a, s, r, p, sets=None):
        r"""Fourier–Walsh coefficients ``f̂(S) = E[f̄(z) Π_{j∈S} z_j]`` (hypercube latent).

        Returns ``(sets, coefficients)``; ``sets`` defaults to all ``2^k`` subsets.
        """
        sets = subsets(self.k) if sets is None else [tuple(S) for S in sets]
        f = self.output(a, s, r, p) * self.qweights
        chi = np.stack([np.prod(self.nodes[:, list(S)], axis=1) for S in sets])
        return sets, chi @ f

    def hermite_coefficients(self, a, s, r, p, max_degree: int = 2):
        r"""Orthonormal Hermite coefficients ``E[f̄(z) He_α(z)]/√α!``, ``|α| ≤ max_degree``.

        Returns ``(indices, coefficients)``.
        """
        idx = multi_indices(self.k, max_degree)
        f = self.output(a, s, r, p) * self.qweights
        basis = np.stack(
            [
                _hermite_product(self.nodes, al)
                / math.sqrt(math.prod(math.factorial(x) for x in al))
                for al in idx
            ]
        )
        return idx, basis @ f

    def quadrature_error(self, a, s, r, p, factor: float = 1.5) -> float:
        """``|R_Q − R_Q'|``: risk with this rule vs a finer one (0 on the hypercube)."""
        if self.latent.exact:
            return 0.0
        fine = self.with_latent(self.latent.refined(factor))
        return abs(self.risk(a, s, r, p) - fine.risk(a, s, r, p))

    def with_smoothing_rule(self, nodes, weights) -> MultiIndexModel:
        """A copy of the model whose smooth-activation averages (features and second
        moments) use the rule ``E f(G) ≈ Σ_j weights_j f(nodes_j)``, ``G ~ N(0, 1)``
        (for instance a short Gauss–Hermite rule where speed matters more than the last
        digits)."""
        copy = self.with_latent(self.latent)
        copy.smoothing_rule = (np.ascontiguousarray(nodes, dtype=float),
                               np.ascontiguousarray(weights, dtype=float))
        return copy

    def with_smoothing_nodes(self, n: int) -> MultiIndexModel:
        """:meth:`with_smoothing_rule` with the ``n``-node Gauss–Hermite rule of ``N(0, 1)``;
        ``n = 0``: the default composite rule."""
        if n:
            g, w = np.polynomial.hermite_e.hermegauss(int(n))
            return self.with_smoothing_rule(g, w / w.sum())
        copy = self.with_latent(self.latent)
        copy.smoothing_rule = None
        return copy

    def with_latent(self, latent) -> MultiIndexModel:
        """A copy of the model with another latent rule (same law)."""
        model = MultiIndexModel(
            self.activation,
            self.target,
            latent,
            xi_a=self.xi_a,
            xi_w=self.xi_w,
            lam=self.lam,
            beta=self.beta,
            d=self.d,
            spherical=self.spherical,
        )
        model.smoothing_rule = self.smoothing_rule
        return model

    # -- finite-N quantities (docs/multiindex.md, "Finite N") ---------------------------
    def diagonal(self, a, s, r) -> np.ndarray:
        r"""Same-neuron kernel ``D(θ) = U(θ, θ) = a² E_z E_G σ(⟨s, z⟩ + rG)²``, shape (M,).

        One neuron paired with itself: its ``⊥`` part ``⟨w_⊥, x_⊥⟩ = rG`` is the *same*
        Gaussian twice, so ``D`` is not the pair kernel ``a² E_z σ_r(⟨s,z⟩)²`` on its
        diagonal (two independent ``⊥`` parts). ``E_z`` is the model's latent rule; on the
        hypercube ``⟨w_⊥, x_⊥⟩`` is the same Gaussian ``rG`` as in ``σ_r`` (the CLT for a
        delocalised ``w_⊥``). Exact for Gaussian inputs at any ``d``.
        """
        a, s, r = self._state(a, s, r)
        T = s @ self.nodes.T
        m = smoothed_second_moment_features(self.activation, T, r, self.smoothing_rule)[0]
        return a * a * (m @ self.qweights)

    def diagonal_gradient(self, a, s, r):
        r"""``(∂_a D, ∇_s D, ∂_r D)`` of :meth:`diagonal` in the free coordinates.

        ``∂_a D = 2a E_z m``, ``∇_s D = a² E_z[∂_t m · z]``, ``∂_r D = a² E_z ∂_r m`` with
        ``m(t, r) = E_G σ(t + rG)²``, ``∂_t m = 2E[σσ']``, ``∂_r m = 2E[σσ' G]``
        (:func:`smoothed_second_moment_features`). Shapes (M,), (M, k), (M,).
        """
        a, s, r = self._state(a, s, r)
        T = s @ self.nodes.T
        m, m_t, m_r = smoothed_second_moment_features(self.activation, T, r,
                                                      self.smoothing_rule)
        w = self.qweights
        return 2.0 * a * (m @ w), (a * a)[:, None] * ((m_t * w) @ self.nodes), a * a * (m_r @ w)

    def iid_risk(self, a, s, r, p, N: int) -> float:
        r"""Expected risk of ``N`` neurons drawn i.i.d. from ``ρ̄ = Σ_i p_i δ_{θ_i}``.

        ``E R_N = R(ρ̄) + (1/N)(∫ D dρ̄ − ∫∫ U dρ̄ dρ̄)``, ``∫∫U dρ̄ dρ̄ = E_z f̄²``: the
        ``N`` diagonal pairs ``i = j`` of the double sum carry ``D``, the ``N(N − 1)``
        others ``U`` of two independent draws.
        """
        a, s, r = self._state(a, s, r)
        p = np.asarray(p, dtype=float)
        f = self.output(a, s, r, p)
        pair = float(self.qweights @ (f * f))
        return self.risk(a, s, r, p) + (float(p @ self.diagonal(a, s, r)) - pair) / N

    def finite_width_risk(self, a, s, r, N: int) -> float:
        r"""Risk of the network of ``N`` equal-weight neurons ``(a_i, s_i, r_i)`` (``d → ∞``).

        ``R_N = R(ρ̄_N) + (1/N²) Σ_i [D(θ_i) − a_i² E_z σ_{r_i}(⟨s_i,z⟩)²]``
        ``= R(ρ̄_N) + (1/N²) Σ_i a_i² E_z Var_G σ(⟨s_i,z⟩ + r_iG)``: the diagonal terms
        ``U(θ_i, θ_i) = D(θ_i)`` (:meth:`diagonal`) use the same neuron twice, whose ``⊥``
        parts are not independent. Its mean over i.i.d. neurons is :meth:`iid_risk`.
        """
        a, s, r = self._state(a, s, r)
        if a.shape[0] != N:
            raise ValueError(f"expected N={N} neurons, got {a.shape[0]}")
        p = np.full(N, 1.0 / N)
        S0 = self.features(s, r)[0]
        pair_diagonal = a * a * ((S0**2) @ self.qweights)
        return self.risk(a, s, r, p) + float(np.sum(self.diagonal(a, s, r)
                                                    - pair_diagonal)) / N**2

    def to_config(self) -> dict:
        return {
            "model": "multiindex",
            "activation": self.activation.to_config(),
            "target": self.target.to_config(),
            "latent": self.latent.to_config(),
            "xi_a": self.xi_a,
            "xi_w": self.xi_w,
            "lam": self.lam,
            "beta": self.beta,
            "d": self.d,
            "spherical": self.spherical,
        }


# ---------------------------------------------------------------------------------------
# BMZ23: the spherical k = 1 model with their normalised-Hermite formulas
# ---------------------------------------------------------------------------------------
