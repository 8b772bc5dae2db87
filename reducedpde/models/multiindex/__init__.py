r"""Multi-index targets: the ``(a, s, r)`` reduction (and the spherical ``(a, s)`` variant).

Data and network
----------------
``x ∈ R^d`` (Gaussian ``N(0, I_d)`` or uniform on ``{±1}^d``), ``y = φ(z)`` with
``z = Π x ∈ R^k`` (``1 ≤ k ≤ 4``); the network is ``ŷ(x) = (1/N) Σ_i a_i σ(⟨w_i, x⟩)``.
Write ``w = U s + w_⊥`` with ``s = Uᵀ w ∈ R^k`` and ``r = ‖w_⊥‖``. The law of the data is
invariant under the rotations that fix the target subspace, so a neuron law that is invariant
under them stays invariant, and is described by the law ``ρ̄`` of ``(a, s, r)``.

The ``d → ∞`` limit
-------------------
For a neuron with ``⊥``-part ``w_⊥`` (delocalised), ``⟨w_⊥, x_⊥⟩ → r G`` with
``G ~ N(0, 1)`` independent of ``z`` (exact for Gaussian ``x`` at any ``d``; by the CLT on
the hypercube), so with the Gaussian smoothing

    σ_r(t) = E_G σ(t + rG),

    f̄(z) = ∫ a σ_r(⟨s, z⟩) ρ̄(da, ds, dr).

For two *different* neurons the ``⊥``-parts are independent uniform directions of
``R^{d−k}`` whose overlap ``⟨w_⊥, w'_⊥⟩ = r r' c`` has ``c = O(d^{−1/2})``; in the limit the
two Gaussians ``⟨w_⊥, x_⊥⟩``, ``⟨w'_⊥, x_⊥⟩`` are independent, hence (conventions of the
package, risk without ½)

    V(a, s, r)            = −E[y a σ(⟨w, x⟩)]        = −a E_z[φ(z) σ_r(⟨s, z⟩)],
    U((a,s,r),(a',s',r')) = E[a σ(⟨w,x⟩) a' σ(⟨w',x⟩)] = a a' E_z[σ_r(⟨s, z⟩) σ_{r'}(⟨s', z⟩)],
    Ψ(a, s, r; ρ̄)         = V + ∫ U dρ̄               = −a E_z[(φ − f̄)(z) σ_r(⟨s, z⟩)],
    R(ρ̄)                  = E φ² + 2∫V dρ̄ + ∫∫U dρ̄ dρ̄ = E_z[(φ(z) − f̄(z))²].

The diagonal ``i = j`` term of a network of ``N`` neurons is different,
``U(θ, θ) = a² E_z E_G σ(⟨s,z⟩ + rG)² ≠ a² E_z[σ_r(⟨s,z⟩)²]``; it enters the risk of the
finite network as ``R_N = R(ρ̄_N) + (1/N²) Σ_i a_i² E_z Var_G σ(⟨s_i,z⟩ + r_i G)``, which
vanishes as ``N → ∞`` (:meth:`MultiIndexModel.finite_width_risk`). The same-neuron kernel
``D(θ) = U(θ, θ)`` also enters the i.i.d. risk and the self-interaction of the finite-``N``
prediction (:mod:`.corrections`).

Velocity field
--------------
With ``Ψ_λ = Ψ + (λ/2)(a² + |s|² + r²)`` (``‖w‖² = |s|² + r²``) and separate rates
``ξ_a``, ``ξ_w``, the full-space velocity ``(ȧ, ẇ) = −2(ξ_a ∂_a, ξ_w ∇_w) Ψ_λ`` projects to

    ȧ = −2 ξ_a ∂_a Ψ_λ,   ṡ = −2 ξ_w ∇_s Ψ_λ,   ṙ = −2 ξ_w ∂_r Ψ_λ,

because ``∇_w Ψ = U ∇_s Ψ + (w_⊥/r) ∂_r Ψ``. Explicitly (``e = φ − f̄``)

    ∂_a Ψ = −E_z[e(z) σ_r(⟨s,z⟩)]                   (independent of a),
    ∇_s Ψ = −a E_z[e(z) σ_r'(⟨s,z⟩) z]              (linear in a),
    ∂_r Ψ = −a E_z[e(z) ∂_r σ_r(⟨s,z⟩)]             (linear in a),

with, by Gaussian integration by parts (heat equation ``∂_r σ_r = r ∂_t² σ_r``),

    ∂_r σ_r(t) = E[σ'(t + rG) G] = r E σ''(t + rG).

For a piecewise-linear ``σ(t) = c_0 + s_left t + Σ_j Δs_j (t − t_j)_+``, with
``μ_j = t − t_j`` and ``Φ``, ``φ`` the standard normal cdf and density,

    σ_r(t)       = c_0 + s_left t + Σ_j Δs_j [μ_j Φ(μ_j/r) + r φ(μ_j/r)],
    ∂_t σ_r(t)   = s_left + Σ_j Δs_j Φ(μ_j/r),
    ∂²_t σ_r(t)  = Σ_j Δs_j φ(μ_j/r)/r,
    ∂_r σ_r(t)   = r ∂²_t σ_r(t) = Σ_j Δs_j φ(μ_j/r).

Smooth activations use a composite Gauss–Legendre rule in ``G``.

Noise
-----
The DD in full space has the diffusion ``(2ξ_a/β) ∂_a² ρ + (2ξ_w/β) Δ_w ρ``. For a density
``g(a, s, |w_⊥|)`` on ``R × R^k × R^{d−k}``, the Laplacian in ``w_⊥`` is the radial one,
``g'' + ((d−k−1)/r) g'``; the density w.r.t. ``da ds dr`` is
``ρ̄ = |S^{d−k−1}| r^{d−k−1} g`` and

    ∂_t ρ̄ = ∂_a(2ξ_a ρ̄ ∂_a Ψ_λ) + ∇_s·(2ξ_w ρ̄ ∇_s Ψ_λ) + ∂_r(2ξ_w ρ̄ ∂_r Ψ_λ)
          + (2ξ_a/β) ∂_a² ρ̄ + (2ξ_w/β) Δ_s ρ̄ + (2ξ_w/β) ∂_r(∂_r ρ̄ − ((d−k−1)/r) ρ̄).

Equivalently ``dr = [−2ξ_w ∂_r Ψ_λ + (2ξ_w/β)(d−k−1)/r] dt + √(4ξ_w/β) dB``: the *Bessel
drift* is ``(2ξ_w/β)(d−k−1)/r``; the Gibbs state is ``ρ̄ ∝ r^{d−k−1} exp(−β Ψ_λ)``. We use
the density w.r.t. ``da ds dr`` throughout; the form ``(1/r) ∂_r(r ·)`` found in lecture
notes is the same (noiseless) equation written for a density w.r.t. ``r dr``.

Spherical variant (BMZ23)
-------------------------
First-layer weights on the unit sphere: ``|s|² + r² = 1``, state ``(a, s)``,
``r = √(1 − |s|²)``. The projected gradient flow on the sphere gives, with ``g_s = ∇_s Ψ``,
``g_r = ∂_r Ψ`` and ``c = ⟨s, g_s⟩ + r g_r``,

    ṡ = −2 ξ_w (g_s − s c) = −2 ξ_w (I − s sᵀ) ∇_s Ψ̃(s),   Ψ̃(s) = Ψ(s, √(1−|s|²)),

(weight decay acts on ``a`` only). For ``k = 1``, Gaussian ``z`` and normalised Hermite
coefficients ``σ_k = E[σ(G) He_k(G)]/√k!``, ``φ_k = E[φ(G) He_k(G)]/√k!``, Mehler's formula
gives BMZ23's closed forms ``E[φ(z) σ(⟨u, x⟩)] = Σ_k φ_k σ_k s^k`` and, for two neurons,
``E[σ(⟨u,x⟩) σ(⟨u',x⟩)] = κ(s s')``, ``κ(c) = Σ_k σ_k² c^k`` (:class:`SphericalHermiteModel`).

Modules, one concern each: :mod:`.parameters` (table and checks), :mod:`.smoothing`
(``σ_r`` and derivatives), :mod:`.latents` (laws of ``z``), :mod:`.targets` (``φ``),
:mod:`.reduced` (the ``(a, s, r)`` model), :mod:`.spherical` (BMZ23's ``(a, s)`` model),
:mod:`.expansions` and :mod:`.population_risk` (exact risk of a finite network),
:mod:`.corrections` (the finite-``N`` self-interaction and i.i.d. risk,
``correction=finite-n``), :mod:`.particles` (particle SGD), :mod:`.runs` (initial laws and
solver calls) and
:mod:`.reduction` (:class:`MultiIndexReduction`, the model behind the protocol).
Names are imported lazily.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BMZ23Plateaus": "spherical",
    "CallableTarget": "targets",
    "FiniteNMultiIndexModel": "corrections",
    "FiniteNSphericalModel": "corrections",
    "GaussianLatent": "latents",
    "HermiteTarget": "targets",
    "HypercubeLatent": "latents",
    "MULTIINDEX_PARAMETERS": "parameters",
    "MonomialTarget": "targets",
    "MultiIndexModel": "reduced",
    "MultiIndexReduction": "reduction",
    "SphericalHermiteModel": "spherical",
    "bmz23_plateau_values": "spherical",
    "bmz23_rates": "targets",
    "bmz23_target": "targets",
    "multiindex_gaussian_risk": "population_risk",
    "simulate_multiindex": "particles",
    "smoothed_features": "smoothing",
    "staircase_target": "targets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
