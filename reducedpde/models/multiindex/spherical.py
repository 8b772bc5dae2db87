r"""BMZ23's spherical ``(a, s)`` model in closed form (Mehler's formula over the normalised
Hermite coefficients of σ and φ) and its plateau values."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...activations import Activation, PiecewiseLinear, relu
from ...quadrature import gaussian_rule, standard_normal_pdf
from .targets import HermiteTarget, bmz23_target

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

#: default Gauss–Hermite nodes per latent dimension (tensor rule with n^k nodes)
DEFAULT_NODES_PER_DIM = {1: 64, 2: 32, 3: 16, 4: 10}




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

    def kappa_second(self, c):
        """``κ''(c)`` (ReLU: ``1/(2π√(1 − c²))``, clipped away from ``|c| = 1``)."""
        c = np.clip(np.asarray(c, dtype=float), -1.0, 1.0)
        if self.relu:
            return 1.0 / (2.0 * np.pi * np.sqrt(np.maximum(1.0 - c * c, 1e-300)))
        return np.polynomial.polynomial.polyval(
            c, np.polynomial.polynomial.polyder(self.sigma_k**2, 2)
        )

    def v_second(self, s):
        c = self.phi_k * self.sigma_k[: self.phi_k.size]
        return np.polynomial.polynomial.polyval(np.asarray(s, float),
                                                np.polynomial.polynomial.polyder(c, 2))

    def velocity_jacobian(self, a, s, p) -> np.ndarray:
        r"""Jacobian of ``(ȧ, ṡ)`` (:meth:`velocity`) with respect to ``(a, s)``, shape
        ``(2M, 2M)``, blocks ``[[∂ȧ/∂a, ∂ȧ/∂s], [∂ṡ/∂a, ∂ṡ/∂s]]``.

        With ``K = κ(s sᵀ)``, ``q = p a``: ``g_a = −v(s) + K q``,
        ``g_s = −a (v'(s) − K' (q s))``, ``ȧ = −2ξ_a(g_a + λa)``,
        ``ṡ = −2ξ_w(1 − s²) g_s``. For the stiff fast second layer (``ξ_a ≫ ξ_w``) an
        implicit integrator with this exact Jacobian avoids ``2M`` velocity evaluations
        per Jacobian by finite differences.
        """
        a, s = self._state(a, s)
        s1 = s[:, 0]
        p = np.asarray(p, float)
        q = p * a
        C = np.outer(s1, s1)
        K, K1, K2 = self.kappa(C), self.kappa_prime(C), self.kappa_second(C)
        eye = np.eye(a.size)
        v1 = self.v_prime(s1)
        # g_a and its derivatives
        da_a = K * p[None, :]
        da_s = eye * (-v1 + (K1 * s1[None, :]) @ q)[:, None] + K1 * s1[:, None] * q[None, :]
        # g_s = −a h, h = v'(s) − K'(q s)
        h = v1 - K1 @ (q * s1)
        g_s = -a * h
        dh_a = -K1 * (p * s1)[None, :]
        dh_s = eye * (self.v_second(s1) - (K2 * s1[None, :]) @ (q * s1))[:, None] \
            - (K2 * (s1[:, None] * s1[None, :]) + K1) * q[None, :]
        dgs_a = -eye * h[:, None] - a[:, None] * dh_a
        dgs_s = -a[:, None] * dh_s
        factor = (1.0 - s1 * s1)[:, None]
        jac = np.empty((2 * a.size, 2 * a.size))
        m = a.size
        jac[:m, :m] = -2.0 * self.xi_a * (da_a + self.lam * eye)
        jac[:m, m:] = -2.0 * self.xi_a * da_s
        jac[m:, :m] = -2.0 * self.xi_w * factor * dgs_a
        jac[m:, m:] = -2.0 * self.xi_w * (factor * dgs_s - eye * (2.0 * s1 * g_s)[:, None])
        return jac

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

    # -- finite-N quantities ---------------------------------------------------------
    @property
    def sigma_second_moment(self) -> float:
        """``E σ(G)²``: the same-neuron kernel per unit ``a²`` (``‖u‖ = 1``), exact (the
        truncated series ``κ(1)`` misses its tail for activations other than ReLU)."""
        if not hasattr(self, "_sigma_second_moment"):
            self._sigma_second_moment = float(self.activation.gaussian_second_moment(1.0))
        return self._sigma_second_moment

    def diagonal(self, a, s, r=None) -> np.ndarray:
        r"""Same-neuron kernel ``D(a, s) = U(θ, θ) = a² E σ(G)²`` (``⟨u, u⟩ = 1``; the pair
        kernel ``a a' κ(s s')`` is for two neurons with independent ``⊥`` parts)."""
        a, _ = self._state(a, s)
        return a * a * self.sigma_second_moment

    def diagonal_gradient(self, a, s, r=None):
        """``(∂_a D, ∂_s D, ∂_r D) = (2a E σ(G)², 0, 0)`` (``D`` is constant on the sphere)."""
        a, s = self._state(a, s)
        return 2.0 * a * self.sigma_second_moment, np.zeros_like(s), np.zeros(a.shape[0])

    def iid_risk(self, a, s, r, p, N: int) -> float:
        r"""``E R_N = R(ρ̄) + (1/N)(∫ D dρ̄ − ∫∫ U dρ̄ dρ̄)`` for ``N`` i.i.d. neurons."""
        a, s = self._state(a, s)
        pa = np.asarray(p, float) * a
        pair = float(pa @ self.kappa(np.outer(s[:, 0], s[:, 0])) @ pa)
        diag = float(np.asarray(p, float) @ self.diagonal(a, s))
        return self.risk(a, s, r, p) + (diag - pair) / N

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
