r"""The gradient noise of online SGD in the radial (MMN18) model: the ``O(ε)`` terms.

Online SGD moves every neuron by ``Δw_i = −2ε ∇ψ_x(w_i)`` with the *same* sample ``x`` for
all neurons, ``ψ_x(w) = (ŷ(x) − y) σ(⟨w, x⟩)`` and ``E_x ψ_x = Ψ`` (square loss, batch
``b``: the mean over ``b`` samples). Written as the mean-field step plus a noise field,
``Δw_i = −2ε ∇Ψ(w_i) − 2ε ∇ζ_x(w_i)`` with ``ζ_x = ψ_x − Ψ``; over a time ``dt`` (``dt/ε``
steps) the displacements ``dB(w)`` are a Gaussian field with

.. math::  E[dB(w)\, dB(w')^T] = \frac{4ε}{b}\, C(w, w')\, dt,
           \qquad C(w, w') = E_x[∇ζ_x(w)\, ∇ζ_x(w')^T],

*common* to all neurons (it does not average out over ``N``). The leading weak-order
model of the ``N``-neuron SGD is therefore the stochastic modified equation (Li, Tai and
E, 2017, "Stochastic modified equations and adaptive stochastic gradient algorithms")
of the whole network,

.. math::  dΘ = \big(B(Θ) − \tfrac{ε}{2} (∇B) B\big)\, dt + \sqrt{4ε/b}\; C^{1/2}\, dW,

with ``B`` the ``N``-neuron gradient-flow velocity and ``C_{ij} = C(w_i, w_j)``. Its
empirical law ``μ = ρ + √ε\, η + ε\, m + …`` gives three ``O(ε)`` effects, all independent
of ``N`` (module :mod:`.fluctuations` integrates them):

1. a fluctuation ``dη = L_ρ η\, dt + dM`` driven by the common noise,
   ``⟨dM, a⟩ = ∫ ∇a · dB\, dρ``;
2. the Itô term of each neuron's own displacement, ``⟨\dot m, a⟩ ∋ (2/b) ∫ C(w, w) : ∇²a\,
   dρ``; for ``a(‖w‖)``: ``(2/b) ∫ (C_{rr} a'' + (\operatorname{tr} C − C_{rr}) a'/r) dρ̄``;
3. the Euler (modified-equation) drift ``−(ε/2)(∇B)B``, the second time derivative of the
   characteristics, ``−½ \ddot R``.

Angular modes of the noise. ``ρ̄`` is rotation invariant, so ``ŷ(x) = F(‖x‖)`` depends on
the norm only, and with ``x = q u`` (``q = ‖x‖``, ``u`` uniform, independent)

.. math::  E_x[ζ_x(w) ζ_x(w')] = Σ_ℓ q_ℓ(r, r') Σ_m Y_{ℓm}(ŵ) Y_{ℓm}(ŵ'),
           q_ℓ(r, r') = ½ Σ_± E_{q∼±}\big[(F(q) ∓ 1)^2\, \hat σ_ℓ(r q)\, \hat σ_ℓ(r' q)\big]
                        − δ_{ℓ0}\, Ψ(r) Ψ(r'),

with the Gegenbauer projections ``\hat σ_ℓ(a) = E_c[σ(a c) P_ℓ(c)]`` (Funk–Hecke; ``c``
the cosine law of ``R^d``, ``P_ℓ(1) = 1``). In the Lagrangian representation of a mode
(weights ``α_j``, radial displacements ``β_j`` on the atoms ``R_j``, see
:mod:`.fluctuations`) the noise potential ``φ = −2ζ`` adds ``dα_j = λ_ℓ φ(R_j)/R_j²``,
``dβ_j = φ'(R_j)`` (``λ_ℓ = ℓ(ℓ + d − 2)``), the same map as the deterministic interaction
force; its covariance per unit time is ``(4/b)`` times that of ``(λ_ℓ ζ/R², ∂_r ζ)``.

For piecewise-linear activations all angular means are closed forms in the tails
``E[P_ℓ(c) 1_{c > u}] = T(u) P^{(d+2)}_{ℓ−1}(u)`` (:func:`cosine_tail_projections`);
other activations use Gauss–Jacobi quadrature in ``c``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.special import betaincc, betaln, roots_jacobi

from ...activations import PiecewiseLinear

__all__ = [
    "StepNoise",
    "angular_projections",
    "angular_slope_moments",
    "cosine_first_moment",
    "cosine_tail_projections",
    "normalised_gegenbauer",
]

#: Gauss–Jacobi nodes in ``c`` for activations without closed forms
ANGULAR_NODES = 256
#: nodes per class in ``q = ‖x‖`` (generalised Gauss–Laguerre in ``q²``)
NORM_NODES = 24
#: dimensions in which the tail probability ``P(c > u)`` comes from a cubic spline in
#: ``|u|`` (the density of ``c`` is smooth up to ``|c| = 1`` and its width ``1/√d``
#: spans many spline intervals); elsewhere from the incomplete beta function
SPLINE_DIMENSIONS = (7.5, 2000.0)
#: intervals of that spline on ``|u| ∈ [0, 1]``
SPLINE_NODES = 4096


def normalised_gegenbauer(u, d: float, l_max: int) -> np.ndarray:
    r"""``P_ℓ^{(d)}(u)``, ``ℓ ≤ l_max``: Gegenbauer polynomials of ``R^d``, ``P_ℓ(1) = 1``.

    Three-term recurrence ``P_{ℓ+1} = ((2ℓ + d − 2) u P_ℓ − ℓ P_{ℓ−1}) / (ℓ + d − 2)``
    (``d = 3``: Legendre), bounded by 1 on ``[−1, 1]``; shape ``u.shape + (l_max + 1,)``.
    """
    u = np.asarray(u, dtype=float)
    out = np.empty((*u.shape, l_max + 1))
    out[..., 0] = 1.0
    if l_max >= 1:
        out[..., 1] = u
    for ell in range(1, l_max):
        out[..., ell + 1] = ((2 * ell + d - 2) * u * out[..., ell]
                             - ell * out[..., ell - 1]) / (ell + d - 2)
    return out


def _tail_probability(u, d: float):
    """``P(c > u)`` for the cosine ``c`` of ``R^d`` (``u`` in ``[−1, 1]``)."""
    if SPLINE_DIMENSIONS[0] <= d <= SPLINE_DIMENSIONS[1]:
        upper = _tail_spline(float(d))(np.abs(u))
    else:
        upper = 0.5 * betaincc(0.5, (d - 1.0) / 2.0, u * u)
    return np.where(u >= 0.0, upper, 1.0 - upper)


@functools.lru_cache(maxsize=32)
def _tail_spline(d: float):
    grid = np.linspace(0.0, 1.0, SPLINE_NODES + 1)
    return CubicSpline(grid, 0.5 * betaincc(0.5, (d - 1.0) / 2.0, grid * grid))


def cosine_first_moment(u, d: float):
    """``T(u) = E[c 1_{c > u}] = (1 − u²)^{(d−1)/2} / ((d − 1) B(½, (d − 1)/2))``."""
    u = np.clip(np.asarray(u, dtype=float), -1.0, 1.0)
    half = (d - 1.0) / 2.0
    with np.errstate(divide="ignore"):
        log_t = half * np.log1p(-u * u) - math.log(d - 1.0) - betaln(0.5, half)
    return np.where(u * u < 1.0, np.exp(log_t), 0.0)


def cosine_tail_projections(u, d: float, l_max: int):
    r"""``J_ℓ(u) = E[P_ℓ(c) 1_{c > u}]`` (``ℓ ≤ l_max + 1``) and
    ``K_ℓ(u) = E[c P_ℓ(c) 1_{c > u}]`` (``ℓ ≤ l_max``).

    ``c`` has the density ``∝ (1 − c²)^{(d−3)/2}``. From the derivative identity of the
    Gegenbauer polynomials, ``d/dc[(1 − c²)^{α+½} C^{α+1}_{ℓ−1}] = −\frac{ℓ(ℓ + 2α)}{2α}
    (1 − c²)^{α−½} C^α_ℓ`` (``α = (d − 2)/2``), the tails are, for ``ℓ ≥ 1``,

    .. math::  J_ℓ(u) = T(u)\, P^{(d+2)}_{ℓ−1}(u), \qquad
               T(u) = E[c 1_{c > u}] = \frac{(1 − u²)^{(d−1)/2}}{(d − 1) B(½, (d − 1)/2)},

    ``J_0 = P(c > u)``, and ``c P_ℓ = ((ℓ + d − 2) P_{ℓ+1} + ℓ P_{ℓ−1})/(2ℓ + d − 2)`` gives
    ``K``. Stable for every degree and dimension (no monomial expansion). Shapes
    ``u.shape + (l_max + 2,)`` and ``u.shape + (l_max + 1,)``; ``u`` is clipped to
    ``[−1, 1]``.
    """
    u = np.clip(np.asarray(u, dtype=float), -1.0, 1.0)
    tails = np.empty((*u.shape, l_max + 2))
    tails[..., 0] = _tail_probability(u, d)
    tails[..., 1:] = cosine_first_moment(u, d)[..., None] * normalised_gegenbauer(
        u, d + 2.0, l_max)
    ell = np.arange(l_max + 1)
    up = (ell + d - 2.0) / (2 * ell + d - 2.0)
    down = ell / (2 * ell + d - 2.0)
    below = np.concatenate([np.zeros((*u.shape, 1)), tails[..., :l_max]], axis=-1)
    return tails, up * tails[..., 1:] + down * below


def _cosine_rule(d: float):
    alpha = (d - 3.0) / 2.0
    c, w = roots_jacobi(ANGULAR_NODES, alpha, alpha)
    return c, w / w.sum()


def angular_projections(activation, a, d: float, l_max: int):
    r"""``\hat σ_ℓ(a) = E[σ(a c) P_ℓ(c)]`` and ``\hat σ'_ℓ(a) = E[σ'(a c)\, c\, P_ℓ(c)]``.

    ``∂_a \hat σ_ℓ(a) = \hat σ'_ℓ(a)``; ``σ(a u·ŵ) = Σ_ℓ N_ℓ \hat σ_ℓ(a) P_ℓ(u·ŵ)``
    (Funk–Hecke). ``a > 0``; returns two arrays of shape ``a.shape + (l_max + 1,)``. For
    ``σ = c_0 + s_0 t + Σ_k Δs_k (t − t_k)_+``:
    ``\hat σ_ℓ = c_0 δ_{ℓ0} + s_0 a K_ℓ(−1) + Σ_k Δs_k (a K_ℓ(u_k) − t_k J_ℓ(u_k))`` and
    ``\hat σ'_ℓ = s_0 K_ℓ(−1) + Σ_k Δs_k K_ℓ(u_k)`` at ``u_k = t_k/a``
    (:func:`cosine_tail_projections`).
    """
    a = np.asarray(a, dtype=float)
    if isinstance(activation, PiecewiseLinear):
        _, linear = cosine_tail_projections(np.full(a.shape, -1.0), d, l_max)
        values = activation.offset * (np.arange(l_max + 1) == 0) \
            + activation.left_slope * a[..., None] * linear
        slopes = activation.left_slope * linear
        for tk, jump in zip(activation.knots, activation.slope_jumps):
            tails, first = cosine_tail_projections(tk / a, d, l_max)
            values = values + jump * (a[..., None] * first - tk * tails[..., :-1])
            slopes = slopes + jump * first
        return values, slopes
    c, w = _cosine_rule(d)
    legendre = normalised_gegenbauer(c, d, l_max)          # (nodes, ℓ)
    arg = a[..., None] * c
    values = (activation.value(arg) * w) @ legendre
    slopes = (activation.derivative(arg) * (w * c)) @ legendre
    return values, slopes


def angular_slope_moments(activation, a, d: float):
    r"""``E[σ'(a c)²]`` and ``E[σ'(a c)² c²]`` (``a > 0``), the diagonal of the noise.

    Piecewise-linear ``σ``: ``σ'`` is constant between the ``u_k = t_k/a``, and
    ``E[c² 1_{c > u}] = ((d − 1) J_2(u) + J_0(u))/d``.
    """
    a = np.asarray(a, dtype=float)
    if isinstance(activation, PiecewiseLinear):
        slopes = np.concatenate([[activation.left_slope],
                                 activation.left_slope + np.cumsum(activation.slope_jumps)])
        bounds = [np.full(a.shape, -1.0)] + [tk / a for tk in activation.knots] \
            + [np.full(a.shape, 1.0)]
        moments = []
        for u in bounds:
            tails, _ = cosine_tail_projections(u, d, 1)
            moments.append((tails[..., 0], ((d - 1.0) * tails[..., 2] + tails[..., 0]) / d))
        zero, two = np.zeros(a.shape), np.zeros(a.shape)
        for k, slope in enumerate(slopes):
            zero = zero + slope**2 * (moments[k][0] - moments[k + 1][0])
            two = two + slope**2 * (moments[k][1] - moments[k + 1][1])
        return zero, two
    c, w = _cosine_rule(d)
    square = activation.derivative(a[..., None] * c) ** 2
    return square @ w, square @ (w * c * c)


class StepNoise:
    r"""Covariances and Itô sources of the SGD gradient noise on Lagrangian atoms.

    Parameters
    ----------
    model : GaussianRadialModel
        The radial model (square loss; its ``activation``, ``delta``, ``d``).
    modes : int
        Highest angular degree ``L`` of the noise modes.
    batch : int
        Samples per SGD step ``b``: the noise covariance is ``∝ 1/b``.
    norm_nodes : int
        Quadrature nodes per class in ``q = ‖x‖``.
    """

    def __init__(self, model, modes: int, batch: int = 1, norm_nodes: int = NORM_NODES):
        from .fluctuations import chi_atoms

        if isinstance(batch, bool) or int(batch) != batch or batch < 1:
            raise ValueError(f"parameter 'batch' must be an integer >= 1, got {batch!r}")
        self.model = model
        self.modes = int(modes)
        self.batch = int(batch)
        d = model.d
        nodes, weights, labels = [], [], []
        for sign in (1.0, -1.0):
            q, w = chi_atoms((1.0 + sign * model.delta) * math.sqrt(d), d, norm_nodes)
            nodes.append(q)
            weights.append(0.5 * w)
            labels.append(np.full(q.size, sign))
        #: nodes ``q_n`` (both classes), probability weights ``ω_n`` and labels ``y_n``
        self.norms = np.concatenate(nodes)
        self.weights = np.concatenate(weights)
        self.labels = np.concatenate(labels)
        self.laplace_eigenvalue = np.array([ell * (ell + d - 2.0)
                                            for ell in range(self.modes + 1)])

    def _projections(self, r):
        a = np.asarray(r, float)[:, None] * self.norms[None, :]
        return angular_projections(self.model.activation, a, self.model.d, self.modes)

    def output(self, r, rho):
        """``F(q_n) = Σ_j ρ_j \\hat σ_0(R_j q_n)``, the network output on the norm nodes."""
        values, _ = self._projections(r)
        return np.asarray(rho, float) @ values[..., 0]

    def evaluate(self, r, rho):
        r"""Noise covariances of the modes and the Itô sources at the atoms ``r``.

        Returns
        -------
        covariances : ndarray, shape (L + 1, 2M, 2M)
            ``Q_ℓ`` per unit time of ``(α, β)`` (already divided by ``b``).
        ito_beta, ito_gamma : ndarray, shape (M,)
            Sources of the radial displacement and of the curvature part of the mean shift,
            ``(2/b)(tr C − C_rr)/R`` and ``(2/b) C_rr``.
        psi_slope : ndarray, shape (M,)
            ``Ψ'(R)`` from the same quadrature (a consistency check).
        """
        r = np.asarray(r, float)
        rho = np.asarray(rho, float)
        values, slopes = self._projections(r)           # (M, Q, ℓ)
        residual = rho @ values[..., 0] - self.labels   # F(q) − y
        w = self.weights
        scale = 4.0 / self.batch
        m = r.size
        out = np.empty((self.modes + 1, 2 * m, 2 * m))
        for ell in range(self.modes + 1):
            features = np.concatenate([
                (self.laplace_eigenvalue[ell] / r**2)[:, None] * values[..., ell],
                self.norms[None, :] * slopes[..., ell]])     # (2M, Q)
            weighted = features * (w * residual**2)
            out[ell] = scale * (weighted @ features.T)
            if ell == 0:
                mean = features @ (w * residual)
                out[ell] -= scale * np.outer(mean, mean)
        psi_slope = slopes[..., 0] @ (w * residual * self.norms)
        zero, two = angular_slope_moments(self.model.activation,
                                          r[:, None] * self.norms[None, :], self.model.d)
        square = w * residual**2 * self.norms**2
        c_rr = two @ square - psi_slope**2
        c_tangential = (zero - two) @ square
        return out, 2.0 * c_tangential / (self.batch * r), 2.0 * c_rr / self.batch, psi_slope
