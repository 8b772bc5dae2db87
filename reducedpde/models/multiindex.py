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
vanishes as ``N → ∞`` (:meth:`MultiIndexModel.finite_width_risk`).

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
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numba
import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import ndtr

from ..activations import (
    Activation,
    PiecewiseLinear,
    activation_derivative,
    activation_value,
    relu,
)
from ..quadrature import (
    gaussian_rule,
    hermite_polynomials,
    hypercube_points,
    standard_normal_pdf,
)

__all__ = [
    "BMZ23Plateaus",
    "CallableTarget",
    "GaussianLatent",
    "HermiteTarget",
    "HypercubeLatent",
    "MonomialTarget",
    "MultiIndexModel",
    "SphericalHermiteModel",
    "bmz23_plateau_values",
    "bmz23_rates",
    "bmz23_target",
    "multi_indices",
    "normalized_hermite_coefficients",
    "smoothed_features",
    "smoothed_features_numpy",
    "smoothed_r_derivative",
    "smoothed_second_derivative",
    "smoothed_second_moment",
    "staircase_target",
    "subsets",
]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

#: default Gauss–Hermite nodes per latent dimension (tensor rule with n^k nodes)
DEFAULT_NODES_PER_DIM = {1: 64, 2: 32, 3: 16, 4: 10}


# ---------------------------------------------------------------------------------------
# Gaussian smoothing σ_r and its derivatives
# ---------------------------------------------------------------------------------------


def _smooth_rule():
    """Composite Gauss–Legendre rule in ``G`` for smooth activations.

    40 panels of width 0.5 on ``[−10, 10]`` with 10 nodes each (400 nodes). For ``σ``
    analytic in a strip of half-width ``δ`` (``tanh``: ``δ = π/2``; logistic: ``δ = π``),
    ``g ↦ σ(t + rg)`` is analytic in a strip of half-width ``δ/r`` and the relative error
    is about ``(0.5 r/(4δ))^20``: below 1e-15 for tanh with ``r ≤ 2`` (1e-9 at ``r = 4``);
    the truncated Gaussian tail is below 1e-22.
    """
    return gaussian_rule(half_width=10.0, panel_width=0.5, order=10)


_SMOOTH_RULE = _smooth_rule()


def _pl_parts(activation: PiecewiseLinear):
    return (
        float(activation.offset),
        float(activation.left_slope),
        np.ascontiguousarray(activation.knots, dtype=float),
        np.ascontiguousarray(activation.slope_jumps, dtype=float),
    )


def smoothed_features_numpy(activation: Activation, t, r):
    r"""NumPy reference for ``(σ_r(t), ∂_t σ_r(t), ∂_r σ_r(t))`` (broadcasting ``t``, ``r``).

    Piecewise-linear activations use the closed forms of the module docstring; at ``r = 0``
    the ``r → 0⁺`` limits are returned (``Φ(0) = ½``, ``∂_r σ_0(t_j) = Δs_j φ(0)``). Other
    activations use ``E σ(t+rG)``, ``E σ'(t+rG)``, ``E[σ'(t+rG) G]`` with the composite
    Gauss–Legendre rule of :func:`_smooth_rule`.
    """
    t, r = np.broadcast_arrays(np.asarray(t, float), np.asarray(r, float))
    if isinstance(activation, PiecewiseLinear):
        offset, left, knots, jumps = _pl_parts(activation)
        pos = r > 0
        rs = np.where(pos, r, 1.0)
        v0 = offset + left * t
        v1 = np.full(t.shape, left)
        v2 = np.zeros(t.shape)
        for tj, ds in zip(knots, jumps):
            mu = t - tj
            x = mu / rs
            cdf = np.where(pos, ndtr(x), np.where(mu > 0, 1.0, np.where(mu < 0, 0.0, 0.5)))
            pdf = np.where(pos, standard_normal_pdf(x), np.where(mu == 0, _INV_SQRT_2PI, 0.0))
            v0 = v0 + ds * np.where(pos, mu * cdf + rs * pdf, np.maximum(mu, 0.0))
            v1 = v1 + ds * cdf
            v2 = v2 + ds * pdf
        return v0, v1, v2
    g, w = _SMOOTH_RULE
    x = t[..., None] + r[..., None] * g
    dv = activation.derivative(x)
    return activation.value(x) @ w, dv @ w, dv @ (w * g)


def smoothed_r_derivative(activation: Activation, t, r):
    r"""``∂_r σ_r(t) = E[σ'(t + rG) G] = r ∂²_t σ_r(t)`` (Gaussian integration by parts).

    Piecewise-linear: ``Σ_j Δs_j φ((t − t_j)/r)``.
    """
    return smoothed_features_numpy(activation, t, r)[2]


def smoothed_second_derivative(activation: Activation, t, r):
    r"""``∂²_t σ_r(t) = E σ''(t + rG)`` for ``r > 0``.

    Piecewise-linear: ``Σ_j Δs_j φ((t − t_j)/r)/r``; otherwise ``E[σ'(t+rG) G]/r``.
    """
    t, r = np.broadcast_arrays(np.asarray(t, float), np.asarray(r, float))
    if np.any(r <= 0):
        raise ValueError("smoothed_second_derivative needs r > 0")
    return smoothed_r_derivative(activation, t, r) / r


def smoothed_second_moment(activation: Activation, t, r):
    r"""``E_G σ(t + rG)²`` (the diagonal term of a finite network); closed form for
    piecewise-linear ``σ``, see :meth:`reducedpde.activations.Activation.smoothed_second_moment`."""
    return activation.smoothed_second_moment(t, r)


@numba.njit(cache=True)
def _pl_features_kernel(T, r, offset, left, knots, jumps, out0, out1, out2):
    """Compiled closed forms for a piecewise-linear σ at ``t = T[i, q]``, ``r = r[i]``."""
    m, q_n = T.shape
    n_knots = knots.shape[0]
    for i in range(m):
        ri = r[i]
        for q in range(q_n):
            t = T[i, q]
            v0 = offset + left * t
            v1 = left
            v2 = 0.0
            for j in range(n_knots):
                mu = t - knots[j]
                ds = jumps[j]
                if ri > 0.0:
                    x = mu / ri
                    cdf = 0.5 * math.erfc(-x / _SQRT2)
                    pdf = math.exp(-0.5 * x * x) * _INV_SQRT_2PI
                    v0 += ds * (mu * cdf + ri * pdf)
                    v1 += ds * cdf
                    v2 += ds * pdf
                else:
                    if mu > 0.0:
                        v0 += ds * mu
                        v1 += ds
                    elif mu == 0.0:
                        v1 += 0.5 * ds
                        v2 += ds * _INV_SQRT_2PI
            out0[i, q] = v0
            out1[i, q] = v1
            out2[i, q] = v2


@numba.njit(cache=True)
def _quad_features_kernel(T, r, code, params, g, w, out0, out1, out2):
    """Compiled ``E σ(t+rG)``, ``E σ'(t+rG)``, ``E[σ'(t+rG) G]`` by a fixed rule in ``G``."""
    m, q_n = T.shape
    n_g = g.shape[0]
    for i in range(m):
        ri = r[i]
        for q in range(q_n):
            t = T[i, q]
            v0 = 0.0
            v1 = 0.0
            v2 = 0.0
            for n in range(n_g):
                x = t + ri * g[n]
                dv = activation_derivative(code, params, x)
                v0 += w[n] * activation_value(code, params, x)
                v1 += w[n] * dv
                v2 += w[n] * dv * g[n]
            out0[i, q] = v0
            out1[i, q] = v1
            out2[i, q] = v2


def smoothed_features(activation: Activation, T, r):
    r"""Compiled ``(σ_r(T), ∂_t σ_r(T), ∂_r σ_r(T))`` for a matrix ``T[i, q]`` and ``r[i]``.

    Parameters
    ----------
    activation : Activation
    T : array_like, shape (M, Q)
        Pre-activations ``⟨s_i, z_q⟩``.
    r : array_like, shape (M,)
        Smoothing radii ``r_i ≥ 0``.

    Returns
    -------
    S0, S1, S2 : ndarray, shape (M, Q)
    """
    T = np.ascontiguousarray(T, dtype=float)
    r = np.ascontiguousarray(r, dtype=float)
    if T.ndim != 2 or r.shape != (T.shape[0],):
        raise ValueError(f"need T of shape (M, Q) and r of shape (M,), got {T.shape}, {r.shape}")
    out0 = np.empty_like(T)
    out1 = np.empty_like(T)
    out2 = np.empty_like(T)
    if isinstance(activation, PiecewiseLinear):
        offset, left, knots, jumps = _pl_parts(activation)
        _pl_features_kernel(T, r, offset, left, knots, jumps, out0, out1, out2)
    else:
        code, params = activation.numba_spec()
        g, w = _SMOOTH_RULE
        _quad_features_kernel(T, r, code, np.asarray(params, float), g, w, out0, out1, out2)
    return out0, out1, out2


# ---------------------------------------------------------------------------------------
# Latent distributions
# ---------------------------------------------------------------------------------------


class GaussianLatent:
    r"""``z ~ N(0, I_k)``; ``E_z`` by a tensor Gauss–Hermite rule with ``n^k`` nodes.

    The rule is exact for polynomials of degree ``≤ 2n − 1`` in each coordinate (so
    ``E φ²``, ``E[φ f̄]`` for polynomial parts are exact once ``n`` exceeds the degree).
    The smoothed activations ``σ_r(⟨s, z⟩)`` are entire functions of ``z`` for ``r > 0``;
    the error grows as ``r/|s|`` decreases (a kink appears as ``r → 0``). Use
    :meth:`MultiIndexModel.quadrature_error` for an a-posteriori estimate (difference with
    a finer rule).

    Parameters
    ----------
    k : int
        Latent dimension, ``1 ≤ k ≤ 4``.
    n_per_dim : int, optional
        Nodes per dimension (default 64, 32, 16, 10 for k = 1, 2, 3, 4).
    """

    kind = "gaussian"
    exact = False

    def __init__(self, k: int, n_per_dim: int | None = None):
        k = _check_k(k)
        n = DEFAULT_NODES_PER_DIM[k] if n_per_dim is None else int(n_per_dim)
        if n < 1:
            raise ValueError(f"n_per_dim must be >= 1, got {n_per_dim}")
        self.k = k
        self.n_per_dim = n
        x, w = hermegauss(n)
        w = w / w.sum()
        grids = np.meshgrid(*([x] * k), indexing="ij")
        wgrids = np.meshgrid(*([w] * k), indexing="ij")
        self.nodes = np.ascontiguousarray(np.stack([g.ravel() for g in grids], axis=1))
        self.weights = np.prod(np.stack([g.ravel() for g in wgrids], axis=1), axis=1)

    def refined(self, factor: float = 1.5) -> GaussianLatent:
        """The same latent law with ``⌈factor · n⌉`` (at least ``n + 4``) nodes per dimension."""
        return GaussianLatent(self.k, max(self.n_per_dim + 4, math.ceil(factor * self.n_per_dim)))

    def to_config(self) -> dict:
        return {"kind": self.kind, "k": self.k, "n_per_dim": self.n_per_dim}


class HypercubeLatent:
    """``z`` uniform on ``{±1}^k``: exact expectations by enumerating the ``2^k`` points."""

    kind = "hypercube"
    exact = True

    def __init__(self, k: int):
        self.k = _check_k(k)
        nodes, weights = hypercube_points(self.k)
        self.nodes = np.ascontiguousarray(nodes)
        self.weights = weights

    def refined(self, factor: float = 1.5) -> HypercubeLatent:
        return self

    def to_config(self) -> dict:
        return {"kind": self.kind, "k": self.k}


def _check_k(k) -> int:
    if int(k) != k or not 1 <= k <= 4:
        raise ValueError(f"latent dimension k must be an integer in 1..4, got {k}")
    return int(k)


def _make_latent(latent, k):
    if isinstance(latent, GaussianLatent | HypercubeLatent):
        if k is not None and latent.k != k:
            raise ValueError(f"latent has k={latent.k} but the target needs k={k}")
        return latent
    if k is None:
        raise ValueError("give the latent dimension k (the target does not fix it)")
    if latent == "gaussian":
        return GaussianLatent(k)
    if latent == "hypercube":
        return HypercubeLatent(k)
    raise ValueError(f"latent must be 'gaussian', 'hypercube' or a latent object, got {latent!r}")


# ---------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------


def multi_indices(k: int, max_degree: int) -> list[tuple[int, ...]]:
    """All ``α ∈ N^k`` with ``|α| ≤ max_degree``, ordered by total degree then lexicographically."""
    out = [a for a in itertools.product(range(max_degree + 1), repeat=k) if sum(a) <= max_degree]
    return sorted(out, key=lambda a: (sum(a), tuple(-x for x in a)))


def subsets(k: int) -> list[tuple[int, ...]]:
    """All subsets of ``{0, …, k−1}`` (0-based), ordered by size then lexicographically."""
    return [c for n in range(k + 1) for c in itertools.combinations(range(k), n)]


def _hermite_product(z, alpha) -> np.ndarray:
    """``He_α(z) = Π_j He_{α_j}(z_j)`` for ``z`` of shape (Q, k)."""
    z = np.asarray(z, dtype=float)
    out = np.ones(z.shape[0])
    for j, n in enumerate(alpha):
        if n:
            out = out * hermite_polynomials(z[:, j], n)[n]
    return out


class HermiteTarget:
    r"""``φ(z) = Σ_α c_α He_α(z)``, ``He_α(z) = Π_j He_{α_j}(z_j)`` (probabilists').

    With ``normalized=True`` the basis is ``He_α/√α!`` (orthonormal for ``N(0, I_k)``,
    BMZ23's convention); otherwise ``E[He_α He_β] = α! δ_αβ``.

    Parameters
    ----------
    coeffs : mapping
        ``{α: c_α}`` with ``α`` a tuple of ``k`` non-negative degrees (an ``int`` means
        ``k = 1``).
    normalized : bool
    """

    def __init__(self, coeffs: Mapping, normalized: bool = False):
        if not coeffs:
            raise ValueError("a Hermite target needs at least one coefficient")
        parsed = {}
        for key, c in coeffs.items():
            alpha = (int(key),) if np.isscalar(key) else tuple(int(x) for x in key)
            if any(x < 0 for x in alpha):
                raise ValueError(f"Hermite degrees must be >= 0, got {key!r}")
            parsed[alpha] = parsed.get(alpha, 0.0) + float(c)
        ks = {len(a) for a in parsed}
        if len(ks) != 1:
            raise ValueError(f"all multi-indices must have the same length, got {sorted(ks)}")
        self.k = ks.pop()
        self.normalized = bool(normalized)
        self.coeffs = parsed

    @property
    def degree(self) -> int:
        return max(sum(a) for a in self.coeffs)

    def orthonormal_coefficients(self) -> dict:
        """``{α: c_α √α!}`` (unnormalised input) or the input (normalised)."""
        if self.normalized:
            return dict(self.coeffs)
        return {
            a: c * math.sqrt(math.prod(math.factorial(x) for x in a))
            for a, c in self.coeffs.items()
        }

    def second_moment_gaussian(self) -> float:
        """``E φ(z)²`` for ``z ~ N(0, I_k)`` (exact: ``Σ_α c_α² α!``)."""
        return float(sum(c * c for c in self.orthonormal_coefficients().values()))

    def __call__(self, z) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, dtype=float))
        out = np.zeros(z.shape[0])
        for a, c in self.coeffs.items():
            scale = 1.0
            if self.normalized:
                scale = 1.0 / math.sqrt(math.prod(math.factorial(x) for x in a))
            out = out + c * scale * _hermite_product(z, a)
        return out

    def to_config(self) -> dict:
        return {
            "kind": "hermite",
            "normalized": self.normalized,
            "coeffs": [[list(a), c] for a, c in self.coeffs.items()],
        }


class MonomialTarget:
    r"""``φ(z) = Σ_S c_S Π_{j ∈ S} z_j`` (``S`` a tuple of 0-based coordinates).

    On the hypercube the monomials ``χ_S(z) = Π_{j∈S} z_j`` of distinct sets are the
    orthonormal Fourier–Walsh characters, e.g. ABM22's staircase
    ``{(0,): 1, (0, 1): 1, (0, 1, 2): 1, (0, 1, 2, 3): 1}``.

    Parameters
    ----------
    coeffs : mapping
        ``{S: c_S}``; ``()`` is the constant.
    k : int, optional
        Latent dimension (default: ``1 + max index``).
    """

    def __init__(self, coeffs: Mapping, k: int | None = None):
        parsed = {}
        for key, c in coeffs.items():
            S = (int(key),) if np.isscalar(key) else tuple(sorted(int(x) for x in key))
            if any(x < 0 for x in S):
                raise ValueError(f"coordinate indices are 0-based and >= 0, got {key!r}")
            parsed[S] = parsed.get(S, 0.0) + float(c)
        top = max((max(S) for S in parsed if S), default=-1) + 1
        self.k = max(top, 1) if k is None else int(k)
        if self.k < top:
            raise ValueError(f"k={k} is smaller than the largest coordinate used ({top})")
        self.coeffs = parsed

    @property
    def degree(self) -> int:
        return max(len(S) for S in self.coeffs)

    def __call__(self, z) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, dtype=float))
        out = np.zeros(z.shape[0])
        for S, c in self.coeffs.items():
            out = out + c * np.prod(z[:, list(S)], axis=1)
        return out

    def to_config(self) -> dict:
        return {"kind": "monomial", "coeffs": [[list(S), c] for S, c in self.coeffs.items()]}


class CallableTarget:
    """``φ`` given by a function of ``z`` (array of shape (Q, k) → (Q,))."""

    def __init__(self, fn: Callable, k: int, name: str = "callable"):
        self.fn = fn
        self.k = _check_k(k)
        self.name = name

    def __call__(self, z) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, dtype=float))
        return np.asarray(self.fn(z), dtype=float).reshape(z.shape[0])

    def to_config(self) -> dict:
        return {"kind": "callable", "name": self.name, "k": self.k}


def _make_target(target, k):
    if isinstance(target, HermiteTarget | MonomialTarget | CallableTarget):
        return target
    if callable(target):
        if k is None:
            raise ValueError("a callable target needs the latent dimension k")
        return CallableTarget(target, k)
    raise ValueError(
        "target must be a HermiteTarget, MonomialTarget, CallableTarget or a callable; "
        f"got {type(target).__name__}"
    )


def staircase_target(k: int = 4) -> MonomialTarget:
    """ABM22's staircase ``h*(z) = z1 + z1 z2 + … + z1 ⋯ zk`` (default ``k = 4``)."""
    return MonomialTarget({tuple(range(n)): 1.0 for n in range(1, k + 1)}, k=k)


def bmz23_target(normalized: bool = True) -> HermiteTarget:
    """BMZ23's ``φ = He_0 − He_1 + (2/3) He_2`` (orthonormal ``He`` by default)."""
    return HermiteTarget({0: 1.0, 1: -1.0, 2: 2.0 / 3.0}, normalized=normalized)


def bmz23_rates(eps: float) -> tuple[float, float]:
    r"""``(ξ_a, ξ_w)`` that make our flow BMZ23's: ``ε ȧ = −m ∂_a R_BMZ``, ``u̇ = −m P ∇_u R_BMZ``.

    BMZ23's risk carries ½, so ``−m ∂_{a_i} R_BMZ = −∂_a Ψ`` and ``−m ∇_u R_BMZ = −∇_u Ψ``;
    ours is ``−2ξ ∇Ψ``. Hence ``ξ_w = 1/2``, ``ξ_a = 1/(2ε)`` and the times coincide.
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    return 0.5 / eps, 0.5


# ---------------------------------------------------------------------------------------
# The (a, s, r) model
# ---------------------------------------------------------------------------------------


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
        return smoothed_features(self.activation, T, np.maximum(np.asarray(r, float), 0.0))

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

    def _weighted_residual(self, a, s, r, p):
        a, s, r = self._state(a, s, r)
        return self.qweights * (self.phi - (np.asarray(p, float) * a) @ self.features(s, r)[0])

    def psi(self, a, s, r, p, at=None) -> np.ndarray:
        r"""``Ψ(θ; ρ̄) = −a E_z[(φ − f̄) σ_r(⟨s,z⟩)]`` (no weight decay).

        ``ρ̄ = Σ p_i δ_{(a_i,s_i,r_i)}``; evaluated at the atoms, or at the points
        ``at = (a', s', r')`` (``r'`` ignored when spherical).
        """
        e = self._weighted_residual(a, s, r, p)
        ta, ts, tr = self._state(*(at if at is not None else (a, s, r)))
        return -ta * (self.features(ts, tr)[0] @ e)

    def psi_gradient(self, a, s, r, p, at=None):
        r"""``(∂_a Ψ, ∇_s Ψ, ∂_r Ψ)`` in the free coordinates (no weight decay).

        Returns arrays of shapes (M,), (M, k), (M,). In the spherical variant these are the
        partial derivatives of ``Ψ(a, s, r)`` before the constraint is applied.
        """
        e = self._weighted_residual(a, s, r, p)
        ta, ts, tr = self._state(*(at if at is not None else (a, s, r)))
        S0, S1, S2 = self.features(ts, tr)
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

    def velocity(self, a, s, r, p, at=None, bessel: bool = True):
        r"""Mean-field velocity ``(ȧ, ṡ, ṙ)`` of ``ρ̄`` at its atoms (or at ``at``).

        Free: ``ȧ = −2ξ_a(∂_aΨ + λa)``, ``ṡ = −2ξ_w(∇_sΨ + λs)``,
        ``ṙ = −2ξ_w(∂_rΨ + λr) [+ (2ξ_w/β)(d−k−1)/r]`` (the Bessel drift, when noisy and
        ``bessel``; the diffusion terms are not part of the velocity). The constraint
        ``r ≥ 0`` is kept by cancelling an inward ``ṙ`` at ``r ≤ 0``: for a kinked ``σ``,
        ``∂_r σ_r(t_j) → Δs_j φ(0) ≠ 0`` as ``r → 0`` and ``r`` can reach 0 in finite time
        (the neuron then lies in the target subspace).
        Spherical: ``ṡ = −2ξ_w(g_s − s c)``, ``ṙ = −2ξ_w(g_r − r c)``,
        ``c = ⟨s, g_s⟩ + r g_r``, so that ``|s|² + r²`` is conserved.
        """
        g_a, g_s, g_r = self.psi_gradient(a, s, r, p, at=at)
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

    def with_latent(self, latent) -> MultiIndexModel:
        """A copy of the model with another latent rule (same law)."""
        return MultiIndexModel(
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

    def finite_width_risk(self, a, s, r, N: int) -> float:
        r"""Risk of the network of ``N`` equal-weight neurons ``(a_i, s_i, r_i)`` (``d → ∞``).

        ``R_N = R(ρ̄_N) + (1/N²) Σ_i a_i² E_z[E_G σ(⟨s_i,z⟩ + r_iG)² − σ_{r_i}(⟨s_i,z⟩)²]``:
        the diagonal terms ``U(θ_i, θ_i)`` use the same neuron twice, whose ``⊥`` parts
        are not independent (:func:`smoothed_second_moment`).
        """
        a, s, r = self._state(a, s, r)
        if a.shape[0] != N:
            raise ValueError(f"expected N={N} neurons, got {a.shape[0]}")
        p = np.full(N, 1.0 / N)
        T = s @ self.nodes.T
        second = smoothed_second_moment(self.activation, T, np.maximum(r, 0.0)[:, None])
        S0 = self.features(s, r)[0]
        var = (second - S0**2) @ self.qweights
        return self.risk(a, s, r, p) + float(np.sum(a * a * var)) / N**2

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


def _normalized_hermite(x, n_max: int) -> np.ndarray:
    """``He_n(x)/√n!`` for ``n = 0 … n_max`` (stable recurrence, no factorials)."""
    x = np.asarray(x, dtype=float)
    out = np.empty((n_max + 1, *x.shape))
    out[0] = 1.0
    if n_max >= 1:
        out[1] = x
    for n in range(1, n_max):
        out[n + 1] = (x * out[n] - math.sqrt(n) * out[n - 1]) / math.sqrt(n + 1)
    return out


def normalized_hermite_coefficients(activation: Activation, n_max: int) -> np.ndarray:
    r"""``σ_k = E[σ(G) He_k(G)]/√k!`` for ``k = 0 … n_max``.

    Piecewise-linear ``σ``: closed form (no factorials, any ``n_max``)
    ``σ_k = Σ_j Δs_j φ(t_j) [He_{k−2}(t_j)/√(k−2)!] / √(k(k−1))`` for ``k ≥ 2``.
    Other activations: the composite Gauss–Legendre rule on ``|G| ≤ 13`` (reliable for
    ``n_max ≲ 40``, where ``He_k φ`` is negligible beyond the truncation).
    """
    n_max = int(n_max)
    if isinstance(activation, PiecewiseLinear):
        h = np.asarray(activation.hermite_coefficients(np.array(1.0), min(n_max, 1)), float)
        out = np.zeros(n_max + 1)
        out[: h.size] = h
        if n_max >= 2:
            k = np.arange(2, n_max + 1)
            for tj, ds in zip(activation.knots, activation.slope_jumps):
                he = _normalized_hermite(tj, n_max - 2)
                out[2:] += ds * float(standard_normal_pdf(tj)) * he / np.sqrt(k * (k - 1.0))
        return out
    g, w = gaussian_rule()
    return _normalized_hermite(g, n_max) @ (w * activation.value(g))


def _is_relu(activation) -> bool:
    return (
        isinstance(activation, PiecewiseLinear)
        and activation.knots.size == 1
        and activation.knots[0] == 0.0
        and activation.offset == 0.0
        and activation.left_slope == 0.0
        and activation.slope_jumps[0] == 1.0
    )


class SphericalHermiteModel:
    r"""BMZ23's mean-field dynamics, ``k = 1``, Gaussian ``z``, ``|u| = 1`` (state ``(a, s)``).

    With orthonormal Hermite coefficients ``φ_k`` (target) and ``σ_k`` (activation):

        E[φ(z) σ(⟨u, x⟩)] = v(s) = Σ_k φ_k σ_k s^k,
        E[σ(⟨u,x⟩) σ(⟨u',x⟩)] = κ(s s'),   κ(c) = Σ_k σ_k² c^k,

    (``⟨u, u'⟩ → s s'`` as ``d → ∞`` for two different neurons), so that for
    ``ρ̄ = Σ_j p_j δ_{(a_j, s_j)}``

        Ψ(a, s)  = −a [v(s) − Σ_j p_j a_j κ(s s_j)],
        R        = Σ_k φ_k² − 2 Σ_j p_j a_j v(s_j) + Σ_{ij} p_i p_j a_i a_j κ(s_i s_j)
                 = Σ_k (φ_k − σ_k m_k)²,   m_k = Σ_j p_j a_j s_j^k,
        ȧ = −2ξ_a(∂_aΨ + λa),   ṡ = −2ξ_w (1 − s²) ∂_sΨ.

    BMZ23's ``ε ȧ_i = −m ∂_{a_i} R_BMZ``, ``u̇_i = −m P_{u_i}^⊥ ∇_{u_i} R_BMZ`` with
    ``R_BMZ = R/2`` is ``ξ_a = 1/(2ε)``, ``ξ_w = 1/2`` (:func:`bmz23_rates`).

    ``κ`` is the arc-cosine kernel ``(√(1−c²) + (π − arccos c) c)/(2π)`` for ReLU and the
    series truncated at degree ``n_terms`` otherwise (tail ``≤ |c|^{n+1} Σ_{j>n} σ_j²``).

    Parameters
    ----------
    activation : Activation
    target : HermiteTarget with ``k = 1``
    xi_a, xi_w, lam : float
    n_terms : int
        Truncation degree of the series for non-ReLU activations.
    """

    spherical = True
    k = 1
    noisy = False

    def __init__(self, activation, target: HermiteTarget, *, xi_a=1.0, xi_w=1.0, lam=0.0,
                 n_terms: int = 200):
        if not isinstance(target, HermiteTarget) or target.k != 1:
            raise ValueError("SphericalHermiteModel needs a HermiteTarget with k = 1")
        self.activation = activation
        self.target = target
        self.xi_a = float(xi_a)
        self.xi_w = float(xi_w)
        self.lam = float(lam)
        coeffs = target.orthonormal_coefficients()
        deg = target.degree
        self.phi_k = np.zeros(deg + 1)
        for (n,), c in coeffs.items():
            self.phi_k[n] = c
        n = max(int(n_terms), deg)
        self.sigma_k = normalized_hermite_coefficients(activation, n)
        self.relu = _is_relu(activation)
        self.n_terms = n
        self.phi_second_moment = float(np.sum(self.phi_k**2))

    # v(s) = Σ φ_k σ_k s^k and its derivative
    def v(self, s):
        s = np.asarray(s, dtype=float)
        c = self.phi_k * self.sigma_k[: self.phi_k.size]
        return np.polynomial.polynomial.polyval(s, c)

    def v_prime(self, s):
        c = self.phi_k * self.sigma_k[: self.phi_k.size]
        return np.polynomial.polynomial.polyval(np.asarray(s, float),
                                                np.polynomial.polynomial.polyder(c))

    def kappa(self, c):
        """``κ(c) = E[σ(X) σ(Y)]`` for standard normals with correlation ``c``."""
        c = np.clip(np.asarray(c, dtype=float), -1.0, 1.0)
        if self.relu:
            return (np.sqrt(1.0 - c * c) + (np.pi - np.arccos(c)) * c) / (2.0 * np.pi)
        return np.polynomial.polynomial.polyval(c, self.sigma_k**2)

    def kappa_prime(self, c):
        c = np.clip(np.asarray(c, dtype=float), -1.0, 1.0)
        if self.relu:
            return (np.pi - np.arccos(c)) / (2.0 * np.pi)
        return np.polynomial.polynomial.polyval(
            c, np.polynomial.polynomial.polyder(self.sigma_k**2)
        )

    def _state(self, a, s, r=None):
        a = np.atleast_1d(np.asarray(a, dtype=float))
        s = np.asarray(s, dtype=float).reshape(a.shape[0], 1)
        return a, s

    def radius(self, s):
        s = np.asarray(s, dtype=float).reshape(-1)
        return np.sqrt(np.maximum(1.0 - s * s, 0.0))

    def risk(self, a, s, r, p) -> float:
        """``R = Σ_k φ_k² − 2 Σ p_j a_j v(s_j) + Σ p_i p_j a_i a_j κ(s_i s_j)`` (no ½)."""
        a, s = self._state(a, s)
        s = s[:, 0]
        pa = np.asarray(p, float) * a
        return float(
            self.phi_second_moment - 2.0 * pa @ self.v(s) + pa @ self.kappa(np.outer(s, s)) @ pa
        )

    def psi(self, a, s, r, p, at=None):
        a, s = self._state(a, s)
        ta, ts = self._state(*(at[:2] if at is not None else (a, s)))
        pa = np.asarray(p, float) * a
        return -ta * (self.v(ts[:, 0]) - self.kappa(np.outer(ts[:, 0], s[:, 0])) @ pa)

    def velocity(self, a, s, r, p, at=None, bessel=True):
        """``(ȧ, ṡ, ṙ)`` with ``ṡ = −2ξ_w(1 − s²)∂_sΨ`` and ``ṙ = −s ṡ / r``."""
        a, s = self._state(a, s)
        ta, ts = self._state(*(at[:2] if at is not None else (a, s)))
        s1, ts1 = s[:, 0], ts[:, 0]
        pa = np.asarray(p, float) * a
        g_a = -(self.v(ts1) - self.kappa(np.outer(ts1, s1)) @ pa)
        g_s = -ta * (self.v_prime(ts1) - self.kappa_prime(np.outer(ts1, s1)) @ (pa * s1))
        da = -2.0 * self.xi_a * (g_a + self.lam * ta)
        ds = -2.0 * self.xi_w * (1.0 - ts1 * ts1) * g_s
        tr = self.radius(ts1)
        dr = np.where(tr > 0, -ts1 * ds / np.where(tr > 0, tr, 1.0), 0.0)
        return da, ds[:, None], dr

    def hermite_coefficients(self, a, s, r, p, max_degree: int = 2):
        """``f̂_k = σ_k Σ_j p_j a_j s_j^k`` (orthonormal Hermite coefficients of f̄)."""
        a, s = self._state(a, s)
        pa = np.asarray(p, float) * a
        ks = np.arange(max_degree + 1)
        return [(int(j),) for j in ks], self.sigma_k[ks] * ((s[:, 0][:, None] ** ks).T @ pa)

    def to_config(self) -> dict:
        return {
            "model": "spherical-hermite",
            "activation": self.activation.to_config(),
            "target": self.target.to_config(),
            "xi_a": self.xi_a,
            "xi_w": self.xi_w,
            "lam": self.lam,
        }


# ---------------------------------------------------------------------------------------
# BMZ23 plateau values
# ---------------------------------------------------------------------------------------


@dataclass
class BMZ23Plateaus:
    """Plateau risks of BMZ23's staged learning (see :func:`bmz23_plateau_values`).

    Attributes
    ----------
    stages : list of int
        ``ℓ = 0, 1, …, degree``.
    risk : ndarray
        Our risk ``E(y − f̄)²`` (no ½) on the stage-``ℓ`` plateau.
    risk_bmz : ndarray
        BMZ23's risk (with ½) = ``risk / 2``.
    initial_risk, initial_risk_bmz : float
        ``E φ²`` (and ``E φ²/2``): the risk of the zero network (``a = 0``).
    phi_k, sigma_k : ndarray
        Orthonormal Hermite coefficients of the target and the activation.
    """

    stages: list
    risk: np.ndarray
    risk_bmz: np.ndarray
    initial_risk: float
    initial_risk_bmz: float
    phi_k: np.ndarray
    sigma_k: np.ndarray


def bmz23_plateau_values(activation: Activation | None = None, target: HermiteTarget | None = None,
                         normalized: bool = True, tol: float = 1e-14) -> BMZ23Plateaus:
    r"""Plateau risks of the BMZ23 single-index problem, stage by stage.

    In the ``d → ∞`` spherical model ``f̄ = Σ_k σ_k m_k He_k/√k!`` with
    ``m_k = ∫ a s^k dρ̄``, so ``R = Σ_k (φ_k − σ_k m_k)²``. On the stage-``ℓ`` plateau the
    overlaps are infinitesimal, ``s = O(δ)``, with second-layer weights ``a = O(δ^{−ℓ})``:
    ``m_0 … m_ℓ`` are free (``ℓ + 1`` distinct overlaps make the Vandermonde system
    solvable) while ``m_k = O(δ^{k−ℓ}) → 0`` for ``k > ℓ``. The best fit is therefore

        R_ℓ = Σ_{k > ℓ} φ_k² + Σ_{k ≤ ℓ, σ_k = 0} φ_k²

    (stage 0: constant only, through the second layer; stage 1: adds ``He_1``; …), and
    ``R_BMZ = R_ℓ/2``. This function evaluates that minimum numerically: it computes
    ``σ_k`` from the activation's Hermite coefficients and minimises
    ``Σ_{k≤ℓ}(φ_k − σ_k m_k)²`` over ``m`` by least squares.

    Parameters
    ----------
    activation : Activation, default ReLU
    target : HermiteTarget (k = 1), default ``He_0 − He_1 + (2/3) He_2``
    normalized : bool
        Basis of the default target (orthonormal ``He_k/√k!`` if True).
    tol : float
        ``|σ_k| ≤ tol`` counts as ``σ_k = 0``.
    """
    activation = relu() if activation is None else activation
    target = bmz23_target(normalized) if target is None else target
    if not isinstance(target, HermiteTarget) or target.k != 1:
        raise ValueError("bmz23_plateau_values needs a HermiteTarget with k = 1")
    deg = target.degree
    phi = np.zeros(deg + 1)
    for (n,), c in target.orthonormal_coefficients().items():
        phi[n] = c
    sig = normalized_hermite_coefficients(activation, deg)
    total = float(phi @ phi)
    risks = []
    for ell in range(deg + 1):
        # least squares over the free moments m_0..m_ℓ of Σ_k (φ_k − σ_k m_k)²
        A = np.diag(np.where(np.abs(sig[: ell + 1]) > tol, sig[: ell + 1], 0.0))
        m, *_ = np.linalg.lstsq(A, phi[: ell + 1], rcond=None)
        fit = A @ m
        risks.append(float(np.sum((phi[: ell + 1] - fit) ** 2) + np.sum(phi[ell + 1:] ** 2)))
    risks = np.array(risks)
    return BMZ23Plateaus(
        stages=list(range(deg + 1)),
        risk=risks,
        risk_bmz=0.5 * risks,
        initial_risk=total,
        initial_risk_bmz=0.5 * total,
        phi_k=phi,
        sigma_k=sig,
    )
