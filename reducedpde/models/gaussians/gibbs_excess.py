r"""The ``O(1/N)`` excess of the particle free-energy estimate over the PDE's at a Gibbs state.

Noisy SGD of ``N`` neurons (``ε → 0``) is the Langevin dynamics of the ``N``-particle law
``Q`` with invariant law ``Q_N ∝ exp(−βN 𝓕(μ_w))``, ``μ_w`` the empirical law of the
neurons and ``𝓕 = ½R + (λ/2)∫‖w‖²`` (the SGD's mean step is ``−2∇_{w_i}(N𝓕)``, its noise
``√(4s/β)``). :func:`reducedpde.mfld.particle_free_energy` estimates

.. math::  \hat{\mathcal L} = 𝓕(μ_w) + β^{-1}\!\int \bar q \log \bar q
    \quad(\text{the recorded } R_N = R(μ_w),\ \bar q \text{ the law of one neuron}).

Since ``R`` is quadratic in the law, ``𝓕(μ_w) = 𝓕(q̄) + ∫ψ_λ d(μ_w − q̄) + ½∫∫U dδ dδ``
with ``δ = μ_w − q̄`` and the pair kernel ``U(w, w') = ½Σ_± E σ(s_±⟨w, x⟩)σ(s_±⟨w', x⟩)``
(a positive-semidefinite kernel), so for every exchangeable ``Q``, at every time,

.. math::  E_Q\hat{\mathcal L} = \mathcal L(\bar q) + \tfrac12 E_Q\!\iint U\,dδ\,dδ .

Hence ``E L̂ ≥ 𝓛(q̄) ≥ 𝓛(q*)`` (``q*`` the mean-field Gibbs state, the PDE's limit); and
``E L̂ ≤ N⁻¹𝔉_N(Q)`` (subadditivity of entropy), the ``N``-particle free energy, which
decreases along the dynamics to its minimum, at most its value ``𝓛(q*) + V*/(2N)`` at
``q*^{⊗N}``, ``V* = ∫D dq* − ∫∫U dq* dq*`` the i.i.d. risk excess (``E R_N = R + V/N``,
:mod:`.corrections`). So at the ``N``-particle equilibrium
``0 ≤ E L̂ − 𝓛(q*) ≤ V*/(2N)``.

At that equilibrium ``𝓛(q̄) − 𝓛(q*) = O(N⁻²)`` (``q*`` is a critical point and
``q̄ − q* = O(1/N)``), and ``√N δ`` is asymptotically Gaussian with covariance
``(I + βΣU)⁻¹Σ``, ``Σ`` that of one neuron under ``q*`` (Laplace's method for mean-field
Gibbs measures: G. Ben Arous and M. Brunaud, "Méthode de Laplace: étude variationnelle des
fluctuations de diffusions de type « champ moyen »", Stochastics 31–32 (1990) 79–144).
Therefore

.. math::  N\,(E\hat{\mathcal L} - \mathcal L(q^*)) \to \tfrac12\sum_k \frac{μ_k}{1 + βμ_k}
    \;\le\; \tfrac12\sum_k μ_k = \tfrac12 V^*,

``μ_k`` the eigenvalues of ``ΣU``: each mode the Gibbs law pins (``βμ_k ≫ 1``) contributes
``1/(2β)`` instead of ``μ_k/2``. For the radial model the eigenvalues separate by
spherical-harmonic degree ``ℓ`` (multiplicity ``N_ℓ``): with Mehler's series
``U = ½Σ_± Σ_k c^k ĥ_k(s_±r)ĥ_k(s_±r')`` (``c`` the cosine, ``ĥ_k`` the normalised Hermite
coefficients of ``σ``) and Funk–Hecke, ``c^k`` acts on degree ``ℓ`` as
``λ_{kℓ} = E[c^k P̃_ℓ(c)]`` (``c`` with density ``∝ (1 − c²)^{(d−3)/2}``, ``P̃_ℓ`` the
Gegenbauer polynomial of index ``(d−2)/2`` with ``P̃_ℓ(1) = 1``), so on degree ``ℓ`` the
operator is the radial kernel ``K_ℓ(r, r') = ½Σ_± Σ_k λ_{kℓ} ĥ_k(s_±r)ĥ_k(s_±r')`` against
``ρ̄`` (``ℓ = 0``: against ``ρ̄`` minus its mean). The sum rule ``Σ_ℓ N_ℓ λ_{kℓ} = 1`` makes
``Σ_ℓ N_ℓ Tr K_ℓρ̄ = V*`` (a check of the truncation).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import eval_gegenbauer, roots_jacobi

from ...pair_expectation import hermite_table
from .corrections import diagonal_kernel
from .kernel import radial_potential

__all__ = ["gibbs_free_energy_excess", "harmonic_multiplicity"]


def harmonic_multiplicity(ell: int, d: int) -> int:
    """Dimension of the spherical harmonics of degree ``ℓ`` on ``S^{d−1}``."""
    lower = math.comb(ell + d - 3, ell - 2) if ell >= 2 else 0
    return math.comb(ell + d - 1, ell) - lower


def gibbs_free_energy_excess(activation, delta: float, d: int, beta: float, r, masses,
                             risk: float, *, k_max: int = 120, mass_floor: float = 1e-14
                             ) -> dict:
    r"""``N (E L̂ − 𝓛(q*))`` to leading order at the ``N``-particle Gibbs state, and ``V*``.

    Parameters
    ----------
    activation : Activation
    delta : float
        Class separation ``Δ``.
    d : int
        Dimension.
    beta : float
        Inverse temperature.
    r, masses : ndarray (M,)
        Atoms (e.g. the PDE's cell centres) and masses of the radial Gibbs law ``ρ̄``.
    risk : float
        ``R(ρ̄)`` (gives ``∫∫U = R − 1 − 2∫v``).
    k_max : int
        Highest Hermite degree of the series (and harmonic degree).
    mass_floor : float
        Atoms below this fraction of the largest mass are dropped.

    Returns
    -------
    dict
        ``iid_excess`` ``V*``; ``predicted`` ``½Σ_k μ_k/(1 + βμ_k)`` plus ``½`` the part of
        ``V*`` the truncated series misses (high degrees, where ``βμ ≪ 1``);
        ``traced`` ``Σ_ℓ N_ℓ Tr K_ℓρ̄`` (``≈ V*``); ``by_degree``: ``(ℓ, N_ℓ, N_ℓ Tr,
        ½ N_ℓ Σ μ/(1 + βμ))`` for ``ℓ ≤ 5``.
    """
    r = np.asarray(r, dtype=float)
    m = np.asarray(masses, dtype=float)
    m = m / m.sum()
    keep = m > mass_floor * m.max()
    r, m = r[keep], m[keep]
    tables = [hermite_table(activation, s * r, k_max) for s in (1.0 + delta, 1.0 - delta)]
    diag = diagonal_kernel(activation, delta, r)
    pair = float(risk) - 1.0 - 2.0 * m @ radial_potential(activation, delta, r)
    iid = float(m @ diag - pair)
    alpha = 0.5 * (d - 2.0)
    x, w = roots_jacobi(k_max + 2, alpha - 0.5, alpha - 0.5)
    w = w / w.sum()
    degrees = np.arange(k_max + 1)
    powers = x[None, :] ** degrees[:, None]  # (k, nodes)
    # K_ℓ = G diag(λ_ℓ, λ_ℓ)/2 Gᵀ with G = [H₊, H₋]: the non-zero eigenvalues of
    # W^½ K_ℓ W^½ are those of the small Gram form (λ/2)^½ Gᵀ W G (λ/2)^½
    features = np.concatenate(tables, axis=1)  # (M, 2(k_max + 1))
    gram = features.T @ (m[:, None] * features)
    mean = features.T @ m
    gram_centred = gram - np.outer(mean, mean)
    traced = pinned = 0.0
    rows = []
    for ell in range(k_max + 1):
        p = eval_gegenbauer(ell, alpha, x) / eval_gegenbauer(ell, alpha, 1.0)
        lam = np.clip(powers @ (w * p), 0.0, None)  # Funk–Hecke: λ_kℓ ≥ 0
        lam[(degrees < ell) | ((degrees - ell) % 2 == 1)] = 0.0
        scale = np.sqrt(0.5 * np.concatenate([lam, lam]))
        use = scale > 0
        g = gram_centred if ell == 0 else gram
        small = scale[use, None] * g[np.ix_(use, use)] * scale[None, use]
        mu = np.clip(np.linalg.eigvalsh(small), 0.0, None)
        n_ell = harmonic_multiplicity(ell, d)
        traced += n_ell * float(mu.sum())
        part = n_ell * float(np.sum(mu / (1.0 + beta * mu)))
        pinned += part
        if ell <= 5:
            rows.append((ell, n_ell, n_ell * float(mu.sum()), 0.5 * part))
    return {"iid_excess": iid, "traced": traced,
            "predicted": 0.5 * pinned + 0.5 * max(iid - traced, 0.0), "by_degree": rows}
