r"""Classification metrics and the logistic-loss velocity of the radial (MMN18) reduction.

For a rotation-invariant neuron law with radial marginal ``ρ̄`` the mean-field output
depends on ``x`` only through ``τ = ‖x‖/√d``:

.. math::

    f_ρ(x) = ∫ E_c σ(r ‖x‖ c)\, ρ̄(dr) = ∫ \tilde A(r τ)\, ρ̄(dr), \qquad
    \tilde A(b) = E_c σ(b \sqrt d\, c),

where ``c`` is the cosine between a uniform direction of ``R^d`` and a fixed one (density
``∝ (1 − c²)^{(d−3)/2}``). Class ``±`` has ``τ = s_± χ_d/√d``, ``s_± = 1 ± Δ``. As
``d → ∞``, ``√d c → G ~ N(0, 1)`` and ``τ → s_±``: ``\tilde A(b) = q(b) = E σ(bG)`` and
the output is constant on each class.

Hence the population logistic loss and the classification error are one-dimensional
integrals over ``τ``:

.. math::

    L(ρ̄) = \frac12 Σ_± E_{τ∼±}\, ℓ(± f(τ)), \qquad
    \mathrm{err}(ρ̄) = \frac12 P_+(f(τ) ≤ 0) + \frac12 P_−(f(τ) ≥ 0)

(``ℓ(m) = log(1 + e^{−m})``; ``sign(0)`` counts as wrong). The loss uses Gauss–Legendre
nodes ``τ_q`` on the central range of each class law (weights times the ``χ_d`` density);
the error locates the sign changes of ``f`` (bracketed on the nodes, refined by Brent's
method) and sums the exact ``χ_d`` probabilities between them.

With the logistic loss the first variation of ``L`` is

.. math::

    Φ(r; ρ̄) = \frac{δL}{δρ}(w) = E[ℓ'(y f_ρ(x))\, y\, σ(⟨w, x⟩)]
             = \frac12 Σ_± (±1)\, E_{τ∼±}[ℓ'(± f(τ))\, \tilde A(r τ)],

so ``∂_r Φ = ½ Σ_± (±1) E_{τ∼±}[ℓ'(± f(τ)) τ \tilde A'(r τ)]``, again a 1-D integral per
class, which the same nodes evaluate: ``∂_r Φ(r_e) = Σ_q B_{eq} c_q`` with
``B_{eq} = τ_q \tilde A'(r_e τ_q)`` fixed on a grid and ``c_q = ½ y_q ω_q ℓ'(y_q f(τ_q))``
depending on ``ρ̄`` through ``f(τ_q) = Σ_j K_{qj} m_j``, ``K_{qj} = \tilde A(r_j τ_q)``. This
is not a pair interaction (``ℓ'`` is not linear in ``f``), but it costs two products with
fixed matrices per evaluation. The dynamics of the SGD step of
:mod:`.particles` (data part ``−s N ∇ℓ``) is

.. math::  ∂_t ρ̄ = ξ\, ∂_r\big(ρ̄\, (∂_r Φ + 2λ r)\big) = 2ξ\, ∂_r(ρ̄\, ∂_r ψ_λ),
           \quad ψ = Φ/2,

the package form with ``Ψ = ½ δL/δρ`` (the square loss has ``Ψ = ½ δR/δρ = V + ∫U dρ``).
With noise (``β < ∞``) the Scharfetter–Gummel steppers take the potential itself,
``ψ_λ(r_j) = Φ(r_j)/2 + λ r_j²/2 = λ r_j²/2 + ½ Σ_q c_q K_{qj}`` (:class:`LogisticPotential`),
the gradient of the convex discrete objective ``½ L(K m) + (λ/2) Σ_j m_j r_j²``.

For piecewise-linear ``σ = c_0 + s_0 t + Σ_k Δs_k (t − t_k)_+`` the angular means are in
closed form: with ``T(u) = E[c 1_{c > u}] = (1 − u²)_+^{(d−1)/2} / ((d − 1) B(½, (d−1)/2))``
and ``P(c > u)`` from the regularised incomplete beta function (``c² ∼ Beta(½, (d−1)/2)``),
``E(a c − t)_+ = a (T(u) − u P(c > u))`` and ``E[c 1_{ac > t}] = T(u)`` at ``u = t/a``
(``a > 0``). Other activations use Gauss–Jacobi quadrature in ``c``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import betaincc, betaln, roots_jacobi, roots_legendre
from scipy.stats import chi

from ...activations import PiecewiseLinear
from ...losses import logistic_loss, logistic_loss_derivative

__all__ = [
    "LogisticPotential",
    "LogisticTransportField",
    "RadialClassificationObserver",
    "RadialClassifier",
    "angular_mean",
    "angular_mean_derivative",
]

#: Gauss–Jacobi nodes in ``c`` for smooth activations
ANGULAR_NODES = 96
#: probability left out at each end of the class laws of ``τ``
TAIL = 1e-14


def _cosine_first_moment(u, d):
    """``T(u) = E[c 1_{c > u}]`` for the cosine ``c`` in ``R^d``."""
    u = np.clip(np.asarray(u, dtype=float), -1.0, 1.0)
    half = (d - 1.0) / 2.0
    sq = u * u
    with np.errstate(divide="ignore"):
        log_t = half * np.log1p(-sq) - math.log(d - 1.0) - betaln(0.5, half)
    return np.where(sq < 1.0, np.exp(log_t), 0.0)


def _cosine_tail(u, d):
    """``P(c > u)`` and ``T(u) = E[c 1_{c > u}]`` for the cosine ``c`` in ``R^d``."""
    u = np.clip(np.asarray(u, dtype=float), -1.0, 1.0)
    upper = 0.5 * betaincc(0.5, (d - 1.0) / 2.0, u * u)  # P(c > |u|)
    prob = np.where(u >= 0.0, upper, 1.0 - upper)
    return prob, _cosine_first_moment(u, d)


def _ratio(t, a):
    """``t/a`` for ``a ≥ 0`` with the limits ``±∞`` (and 0 for ``t = 0``) at ``a = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(a > 0, t / np.where(a > 0, a, 1.0), np.sign(t) * np.inf)
    return np.nan_to_num(u, nan=0.0, posinf=2.0, neginf=-2.0)


def angular_mean(activation, b, d):
    r"""``\tilde A(b) = E_c σ(b √d c)`` (``d = ∞``: ``E σ(bG)``), vectorised, even in ``b``."""
    b = np.abs(np.asarray(b, dtype=float))
    if math.isinf(d):
        return activation.gaussian_mean(b)
    a = b * math.sqrt(d)
    if isinstance(activation, PiecewiseLinear):
        out = np.full(a.shape, activation.offset)
        for tk, jump in zip(activation.knots, activation.slope_jumps):
            u = _ratio(tk, a)
            prob, tail = _cosine_tail(u, d)
            # E(ac − t)_+ = a(T(u) − u P(c > u)); at a = 0 it is (−t)_+
            out += jump * np.where(a > 0, a * (tail - u * prob), max(-tk, 0.0))
        return out
    c, w = _angular_rule(d)
    return activation.value(a[..., None] * c) @ w


def angular_mean_derivative(activation, b, d):
    r"""``\tilde A'(b) = √d E_c[c σ'(b √d c)]`` for ``b ≥ 0`` (``d = ∞``: ``q'(b)``)."""
    b = np.asarray(b, dtype=float)
    if math.isinf(d):
        return activation.hermite_coefficients_derivative(b, 0)[..., 0]
    a = b * math.sqrt(d)
    if isinstance(activation, PiecewiseLinear):
        out = np.zeros(a.shape)
        for tk, jump in zip(activation.knots, activation.slope_jumps):
            out += jump * _cosine_first_moment(_ratio(tk, a), d)
        return math.sqrt(d) * out
    c, w = _angular_rule(d)
    return math.sqrt(d) * (activation.derivative(a[..., None] * c) @ (w * c))


_RULES: dict = {}


def _angular_rule(d):
    """Gauss–Jacobi nodes and weights (summing to one) of the cosine law in ``R^d``."""
    if d not in _RULES:
        alpha = (d - 3.0) / 2.0
        c, w = roots_jacobi(ANGULAR_NODES, alpha, alpha)
        _RULES[d] = (c, w / w.sum())
    return _RULES[d]


class RadialClassifier:
    r"""Population logistic loss, classification error and logistic velocity of a radial law.

    Parameters
    ----------
    activation : Activation
    delta : float
        ``Δ ∈ (0, 1)``.
    d : float
        Dimension ``≥ 2`` or ``math.inf``.
    nodes : int
        Gauss–Legendre nodes per class for the integrals over ``τ = ‖x‖/√d``.

    Attributes
    ----------
    tau, weights, labels : ndarray (2·nodes,) (``d = ∞``: (2,))
        Nodes ``τ_q``, their probability weights ``ω_q`` (each class sums to one) and the
        class ``y_q = ±1`` of each node.
    """

    def __init__(self, activation, delta, d, nodes: int = 64):
        self.activation = activation
        self.delta = float(delta)
        self.d = float(d)
        self.scales = (1.0 + self.delta, 1.0 - self.delta)
        if math.isinf(self.d):
            self.tau = np.array(self.scales)
            self.weights = np.ones(2)
            self.labels = np.array([1.0, -1.0])
            return
        x, w = roots_legendre(int(nodes))
        lo, hi = chi.ppf(TAIL, self.d), chi.isf(TAIL, self.d)
        chis = 0.5 * (hi + lo) + 0.5 * (hi - lo) * x
        omega = 0.5 * (hi - lo) * w * chi.pdf(chis, self.d)
        omega /= omega.sum()
        root_d = math.sqrt(self.d)
        self.tau = np.concatenate([s * chis / root_d for s in self.scales])
        self.weights = np.concatenate([omega, omega])
        self.labels = np.repeat([1.0, -1.0], chis.size)

    # -- matrices on fixed radii --------------------------------------------------------
    def output_matrix(self, r) -> np.ndarray:
        r"""``K_{qj} = \tilde A(r_j τ_q)``, shape ``(n_nodes, len(r))``: ``f(τ_q) = K m``."""
        return angular_mean(self.activation, self.tau[:, None] * np.asarray(r)[None, :],
                            self.d)

    def velocity_matrix(self, r) -> np.ndarray:
        r"""``B_{eq} = τ_q \tilde A'(r_e τ_q)``, shape ``(len(r), n_nodes)``:
        ``∂_r Φ(r_e) = B c``."""
        return self.tau[None, :] * angular_mean_derivative(
            self.activation, np.asarray(r)[:, None] * self.tau[None, :], self.d)

    # -- functionals ---------------------------------------------------------------------
    def output(self, tau, at, masses) -> np.ndarray:
        """``f(τ) = Σ_j m_j \\tilde A(r_j τ)`` for ``ρ̄ = Σ_j m_j δ_{r_j}`` (``at`` = ``r_j``)."""
        tau = np.asarray(tau, dtype=float)
        return angular_mean(self.activation, tau[..., None] * np.asarray(at), self.d) @ masses

    def logistic_loss(self, f_nodes) -> float:
        """``½ Σ_± E ℓ(± f)`` from the output at the nodes."""
        return 0.5 * float(self.weights @ logistic_loss(self.labels * f_nodes))

    def square_risk(self, f_nodes) -> float:
        """``½ Σ_± E (±1 − f)²`` from the output at the nodes (a check of the quadrature
        against the exact kernel risk)."""
        return 0.5 * float(self.weights @ (self.labels - f_nodes) ** 2)

    def loss_coefficients(self, f_nodes) -> np.ndarray:
        """``c_q = ½ y_q ω_q ℓ'(y_q f(τ_q))``: ``∂_r Φ = B c``."""
        y = self.labels
        return 0.5 * y * self.weights * logistic_loss_derivative(y * f_nodes)

    def classification_error(self, at, masses, f_nodes=None) -> float:
        """``½ P_+(f ≤ 0) + ½ P_−(f ≥ 0)``: sign changes of ``f(τ)`` bracketed on the nodes
        (sorted), refined by Brent's method to ``1e-12`` in ``τ``, exact ``χ_d``
        probabilities between them (the mass beyond the node range, ``2·10⁻¹⁴`` per class,
        is given the sign of the nearest node)."""
        at = np.asarray(at, dtype=float)
        masses = np.asarray(masses, dtype=float)
        if f_nodes is None:
            f_nodes = self.output(self.tau, at, masses)
        if math.isinf(self.d):
            return 0.5 * float(f_nodes[0] <= 0.0) + 0.5 * float(f_nodes[1] >= 0.0)
        order = np.argsort(self.tau)
        tau, f = self.tau[order], f_nodes[order]
        positive = f > 0.0
        cuts = [0.0]
        for k in np.nonzero(positive[:-1] != positive[1:])[0]:
            cuts.append(brentq(lambda t: float(self.output(t, at, masses)), tau[k], tau[k + 1],
                               xtol=1e-12))
        cuts.append(math.inf)
        cuts = np.asarray(cuts)
        # each piece holds nodes of one side; its value: the node value largest in modulus
        # (0 only where f vanishes at every node of the piece: wrong for both classes)
        inside = np.searchsorted(cuts, tau, side="right") - 1
        sign = np.zeros(cuts.size - 1)
        for piece in range(cuts.size - 1):
            values = f[inside == piece]
            if values.size:
                sign[piece] = values[np.argmax(np.abs(values))]
        error = 0.0
        root_d = math.sqrt(self.d)
        for y, s in ((1.0, self.scales[0]), (-1.0, self.scales[1])):
            cdf = chi.cdf(cuts * root_d / s, self.d)
            prob = np.diff(cdf)
            error += 0.5 * float(prob[y * sign <= 0.0].sum())
        return error


class RadialClassificationObserver:
    r"""Per-output-time metrics of a radial law on a fixed grid: the population logistic loss
    and the classification error of the mean-field output (and, for ``loss = logistic``,
    the Lyapunov functional ``½ L + (λ/2) ∫ r² dρ̄`` of the noiseless dynamics as
    ``objective``).

    Called with the cell masses (point masses at the cell centres); returns a dict of
    floats. ``K`` is evaluated once at construction (or passed as ``output_matrix``).
    """

    def __init__(self, classifier: RadialClassifier, centres, lam: float = 0.0,
                 loss: str = "square", output_matrix=None):
        self.classifier = classifier
        self.centres = np.asarray(centres, dtype=float)
        self.K = np.ascontiguousarray(classifier.output_matrix(self.centres)
                                      if output_matrix is None else output_matrix)
        self.lam = float(lam)
        self.loss = loss

    def __call__(self, masses) -> dict[str, float]:
        c = self.classifier
        f = self.K @ masses
        out = {"logistic_loss": c.logistic_loss(f),
               "classification_error": c.classification_error(self.centres, masses, f)}
        if self.loss == "logistic":
            out["objective"] = (0.5 * out["logistic_loss"]
                                + 0.5 * self.lam * float(masses @ self.centres**2))
        return out


class LogisticTransportField:
    r"""Edge velocities of the noiseless logistic-loss radial equation on a grid:
    ``u_e = −(∂_r Φ(r_e; ρ̄) + 2λ r_e)`` with ``∂_r Φ = B c(K m)`` (module docstring),
    ``u = 0`` at the two outer edges (no flux).

    ``field(masses, out)`` fills ``out`` (``M + 1`` edges) and returns ``max |u|``.
    """

    def __init__(self, classifier: RadialClassifier, centres, edges, lam: float = 0.0):
        self.classifier = classifier
        self.K = np.ascontiguousarray(classifier.output_matrix(centres))
        self.B = np.ascontiguousarray(classifier.velocity_matrix(edges))
        self.decay = 2.0 * float(lam) * np.asarray(edges, dtype=float)

    def __call__(self, masses, out) -> float:
        f = self.K @ masses
        coefficients = self.classifier.loss_coefficients(f)
        np.matmul(self.B, coefficients, out=out)
        out += self.decay
        out *= -1.0
        out[0] = 0.0
        out[-1] = 0.0
        return float(np.max(np.abs(out)))


class LogisticPotential:
    r"""The potential ``ψ_λ = Φ/2 + λ r²/2`` of the noisy logistic-loss radial equation at the
    cell centres, in the form the Scharfetter–Gummel steppers take
    (:mod:`reducedpde.solvers.fv.steppers`, ``labels`` given):

    .. math::

        ψ_λ(r_j; m) = b_j + Σ_q w_q\, ℓ'(y_q A_q)\, K_{qj}, \qquad
        A_q = f(τ_q) = Σ_j K_{qj} m_j,

    with ``b_j = λ r_j²/2`` and ``w_q = ¼ y_q ω_q`` (so that ``Σ_q w_q ℓ'(y_q A_q) K_{qj} =
    ½ Σ_q c_q K_{qj} = Φ(r_j)/2``, ``c`` of :meth:`RadialClassifier.loss_coefficients`).
    The "moments" of the steppers are the outputs ``f(τ_q)`` at the ``τ``-nodes; ``Φ`` is a
    nonlinear function of them (not a pair interaction), and every step or stage takes the
    potential of the current moments, as for the square loss.

    ``ψ_λ`` is the exact gradient of the discrete entropy-free part
    ``F(m) = ½ L(K m) + (λ/2) Σ_j m_j r_j²`` (:meth:`energy`; ``L`` the node quadrature of
    :meth:`RadialClassifier.logistic_loss`), which is convex in ``m`` (``ℓ`` convex, ``f``
    linear in ``m``).
    """

    def __init__(self, classifier: RadialClassifier, centres, lam: float = 0.0,
                 output_matrix=None):
        self.classifier = classifier
        self.centres = np.asarray(centres, dtype=float)
        self.lam = float(lam)
        self.features = np.ascontiguousarray(classifier.output_matrix(self.centres)
                                             if output_matrix is None else output_matrix,
                                             dtype=float)
        self.labels = np.ascontiguousarray(classifier.labels, dtype=float)
        self.weights = np.ascontiguousarray(0.25 * classifier.labels * classifier.weights)
        self.base = 0.5 * self.lam * self.centres**2

    def outputs(self, masses) -> np.ndarray:
        """``f(τ_q) = Σ_j K_{qj} m_j``."""
        return self.features @ np.asarray(masses, dtype=float)

    def psi(self, masses) -> np.ndarray:
        """``ψ_λ(r_j; m) = Φ(r_j; m)/2 + λ r_j²/2`` at the cell centres."""
        f = self.outputs(masses)
        return self.base + 0.5 * (self.classifier.loss_coefficients(f) @ self.features)

    def energy(self, masses) -> float:
        """Entropy-free part ``½ L(m) + (λ/2) Σ_j m_j r_j²`` (``L`` the population logistic
        loss of the law ``Σ_j m_j δ_{r_j}``)."""
        masses = np.asarray(masses, dtype=float)
        return (0.5 * self.classifier.logistic_loss(self.outputs(masses))
                + 0.5 * self.lam * float(masses @ self.centres**2))


def point_mass_metrics(classifier: RadialClassifier, r: float, lam: float = 0.0,
                       loss: str = "square") -> dict[str, float]:
    """The metrics of :class:`RadialClassificationObserver` for the law ``δ_r``."""
    return RadialClassificationObserver(classifier, np.array([float(r)]), lam=lam,
                                        loss=loss)(np.ones(1))


def point_mass_logistic_radius(classifier: RadialClassifier, r0: float, taus, lam: float = 0.0,
                               rtol: float = 1e-10, atol: float = 1e-12) -> np.ndarray:
    r"""Radius of a point mass under the logistic radial equation,
    ``dr/dτ = −(∂_r Φ(r; δ_r) + 2λ r)`` (the atom feels only itself), at the times
    ``taus`` (``τ = ∫ξ``, starting at 0), by DOP853."""
    from scipy.integrate import solve_ivp

    def rate(_, y):
        r = y[:1]
        f = classifier.output_matrix(r)[:, 0]
        slope = classifier.velocity_matrix(r)[0] @ classifier.loss_coefficients(f)
        return [-(slope + 2.0 * lam * r[0])]

    taus = np.asarray(taus, dtype=float)
    sol = solve_ivp(rate, (0.0, float(taus[-1])), [float(r0)], method="DOP853",
                    t_eval=taus, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"point-mass logistic ODE failed: {sol.message}")
    return sol.y[0]
