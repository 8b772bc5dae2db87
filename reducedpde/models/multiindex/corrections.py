r"""Finite-N corrections of the multi-index ``(a, s, r)`` prediction (``correction=finite-n``).

The analogue of the radial model's :mod:`reducedpde.models.gaussians.corrections`
(``docs/corrections.md``). A network of ``N`` neurons ``θ_i = (a_i, w_i)`` has the risk
(no ½, diagonal terms included)

.. math::  R_N = E φ² + \frac{2}{N} Σ_i V(θ_i) + \frac{1}{N^2} Σ_{i,j} U(θ_i, θ_j),

where, in the reduced coordinates ``(a, s, r)`` and the ``d → ∞`` limit, two *different*
neurons have independent ``⊥`` parts, ``U = a a' E_z[σ_r(⟨s,z⟩) σ_{r'}(⟨s',z⟩)]``, while one
neuron with itself has the same ``⊥`` Gaussian ``rG`` twice:

.. math::  D(θ) = U(θ, θ) = a² E_z E_G σ(⟨s, z⟩ + rG)²

(:meth:`~.reduced.MultiIndexModel.diagonal`; exact for Gaussian inputs at every ``d``; on
the hypercube ``⟨w_⊥, x_⊥⟩`` is replaced by the same Gaussian ``rG`` the model's ``σ_r``
uses, the CLT for a delocalised ``w_⊥``; ``E_z`` is the model's latent rule, ``E_G`` the
closed form for piecewise-linear ``σ`` or the rule of ``σ_r``). BMZ23's spherical model
(``‖w‖ = 1``) has ``D = a² E σ(G)²``.

* **i.i.d. risk** (the mean of ``R_N`` over ``N`` neurons drawn i.i.d. from ``ρ̄``):
  ``E R_N = R(ρ̄) + (1/N)(∫ D dρ̄ − ∫∫ U dρ̄ dρ̄)``
  (:meth:`~.reduced.MultiIndexModel.iid_risk`; :meth:`~.reduced.MultiIndexModel.finite_width_risk`
  is ``R_N`` of one explicit network, with the same ``D``).
* **self-interaction.** SGD's ``ε → 0`` limit at fixed ``N`` is the gradient flow
  ``θ̇_i = −N (ξ_a ∂_a, ξ_w ∇_w) R_N(θ_i)`` (the update of
  :mod:`.particles` divided by ``ε``), and ``N ∇_{θ_i} R_N = 2∇Ψ_N(θ_i)`` with

  .. math::  Ψ_N(θ_i) = V(θ_i) + \frac1N Σ_{j≠i} U(θ_i, θ_j) + \frac{1}{2N} D(θ_i):

  the diagonal term ``D(θ_i)/N²`` appears once in the double sum, not twice as a pair
  does, hence the ``½``. With ``∇_w = U∇_s + (w_⊥/r)∂_r`` the reduced velocity is
  ``(ȧ, ṡ, ṙ) = −2(ξ_a ∂_a, ξ_w ∇_s, ξ_w ∂_r)Ψ_N`` (plus weight decay), and replacing the
  other ``N − 1`` neurons by ``ρ̄_t``,

  .. math::  Ψ_N(θ; ρ̄) = V(θ) + (1 − 1/N) ∫ U(θ, θ') ρ̄(dθ') + \frac{1}{2N} D(θ).

``Ψ`` depends on ``ρ̄`` only through ``f̄``, linearly in the weights, so ``(1 − 1/N)∫U dρ̄``
is the mean-field interaction of the weights ``(1 − 1/N) p``: :class:`FiniteNMultiIndexModel`
(and :class:`FiniteNSphericalModel` for BMZ23's closed-form model) evaluates the model's own
gradient at the scaled weights and adds ``∇D/(2N)``, and its :meth:`risk` is the i.i.d. risk
of the corrected law. The Lagrangian solver then integrates the corrected equation unchanged.
Both corrections vanish like ``1/N``; the fluctuations of ``√N(ρ̄_N − ρ̄_t)`` (the radial
model's ``correction=full``) are not included.
"""

from __future__ import annotations

import time

import numpy as np

from .parameters import CORRECTIONS, correction_message
from .reduced import MultiIndexModel
from .spherical import SphericalHermiteModel

__all__ = [
    "CORRECTIONS",
    "FiniteNMultiIndexModel",
    "FiniteNSphericalModel",
    "add_finite_n_prediction",
    "check_correction",
    "finite_n_model",
]


def check_correction(correction: str, solver: str = "lagrangian") -> None:
    """Refuse ``correction`` values the multi-index model does not know (``ValueError``
    naming the parameter)."""
    message = correction_message(correction, solver)
    if message:
        raise ValueError(message)


def _check_neurons(n_neurons) -> int:
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, (int, np.integer)) \
            or n_neurons < 1:
        raise ValueError(f"parameter 'N' must be an integer >= 1, got {n_neurons!r}")
    return int(n_neurons)


class FiniteNMultiIndexModel(MultiIndexModel):
    r"""The ``(a, s, r)`` model of ``N`` neurons with their self-interaction.

    ``Ψ_N(θ; ρ̄) = V(θ) + (1 − 1/N) ∫ U(θ, θ') ρ̄(dθ') + D(θ)/(2N)``; the inherited
    :meth:`velocity` (weight decay, the spherical projection, the constraint ``r ≥ 0``)
    uses it through :meth:`psi_gradient`. :meth:`risk` is the i.i.d. risk
    ``R(ρ̄) + (1/N)(∫ D dρ̄ − ∫∫ U dρ̄ dρ̄)`` (module docstring).

    Parameters
    ----------
    base : MultiIndexModel
        The mean-field model (left unchanged).
    n_neurons : int
        ``N ≥ 1``.
    """

    def __init__(self, base: MultiIndexModel, n_neurons: int):
        self.__dict__.update(base.__dict__)
        self.base = base
        self.n_neurons = _check_neurons(n_neurons)
        self.interaction = 1.0 - 1.0 / self.n_neurons

    def _points(self, a, s, r, at):
        return at if at is not None else (a, s, r)

    def psi(self, a, s, r, p, at=None) -> np.ndarray:
        """``Ψ_N`` at the atoms (or at ``at``), no weight decay."""
        scaled = self.interaction * np.asarray(p, dtype=float)
        return (self.base.psi(a, s, r, scaled, at=at)
                + self.base.diagonal(*self._points(a, s, r, at)) / (2.0 * self.n_neurons))

    def psi_gradient(self, a, s, r, p, at=None, weights=None):
        """``(∂_a, ∇_s, ∂_r) Ψ_N`` in the free coordinates (no weight decay); population
        expectations only (``weights`` must be ``None``)."""
        if weights is not None:
            raise ValueError("the finite-n model takes no mini-batch weights (its diagonal "
                             "term is a population expectation)")
        scaled = self.interaction * np.asarray(p, dtype=float)
        g_a, g_s, g_r = self.base.psi_gradient(a, s, r, scaled, at=at)
        d_a, d_s, d_r = self.base.diagonal_gradient(*self._points(a, s, r, at))
        h = 0.5 / self.n_neurons
        return g_a + h * d_a, g_s + h * d_s, g_r + h * d_r

    def risk(self, a, s, r, p) -> float:
        """i.i.d. risk of ``N`` neurons from ``ρ̄`` (:meth:`MultiIndexModel.iid_risk`)."""
        return self.base.iid_risk(a, s, r, p, self.n_neurons)

    def with_latent(self, latent) -> FiniteNMultiIndexModel:
        return FiniteNMultiIndexModel(self.base.with_latent(latent), self.n_neurons)

    def to_config(self) -> dict:
        return {**self.base.to_config(), "correction": "finite-n",
                "n_neurons": self.n_neurons}


class FiniteNSphericalModel(SphericalHermiteModel):
    r"""BMZ23's closed-form spherical model of ``N`` neurons with their self-interaction.

    ``Ψ_N = −a[v(s) − (1 − 1/N) Σ_j p_j a_j κ(s s_j)] + a² E σ(G)²/(2N)``: the diagonal
    term is constant on the sphere and acts on ``a`` only, ``ȧ`` gaining
    ``−2ξ_a a E σ(G)²/N``.
    """

    def __init__(self, base: SphericalHermiteModel, n_neurons: int):
        self.__dict__.update(base.__dict__)
        self.base = base
        self.n_neurons = _check_neurons(n_neurons)
        self.interaction = 1.0 - 1.0 / self.n_neurons

    def psi(self, a, s, r, p, at=None):
        scaled = self.interaction * np.asarray(p, dtype=float)
        ta, ts = self._state(*(at[:2] if at is not None else (a, s)))
        return self.base.psi(a, s, r, scaled, at=at) + self.base.diagonal(ta, ts) / (
            2.0 * self.n_neurons)

    def velocity(self, a, s, r, p, at=None, bessel=True):
        scaled = self.interaction * np.asarray(p, dtype=float)
        da, ds, dr = self.base.velocity(a, s, r, scaled, at=at, bessel=bessel)
        ta, ts = self._state(*(at[:2] if at is not None else (a, s)))
        d_a = self.base.diagonal_gradient(ta, ts)[0]
        return da - 2.0 * self.xi_a * d_a / (2.0 * self.n_neurons), ds, dr

    def risk(self, a, s, r, p) -> float:
        return self.base.iid_risk(a, s, r, p, self.n_neurons)

    def to_config(self) -> dict:
        return {**self.base.to_config(), "correction": "finite-n",
                "n_neurons": self.n_neurons}


def finite_n_model(model, n_neurons: int):
    """The self-interacting model of ``N`` neurons for a :class:`MultiIndexModel` or a
    :class:`SphericalHermiteModel`."""
    if isinstance(model, MultiIndexModel):
        return FiniteNMultiIndexModel(model, n_neurons)
    if isinstance(model, SphericalHermiteModel):
        return FiniteNSphericalModel(model, n_neurons)
    raise TypeError(f"no finite-N correction for {type(model).__name__}")


def add_finite_n_prediction(cfg: dict, pde, model, atoms, times) -> None:
    r"""Solve the self-interacting ``(a, s, r)`` dynamics of ``N = cfg['N']`` neurons from
    the same atoms, integrator and tolerances as the mean-field run, and store its i.i.d.
    risk in ``pde.extra['risk_corrected']`` and its ``∫‖w‖ dρ̄`` in
    ``pde.extra['mean_norm_corrected']`` (beside the mean-field ``pde.risk``)."""
    from ...solvers.fv.radial import SolverError
    from ...solvers.lagrangian.multiindex import solve_multiindex_particles

    corrected = finite_n_model(model, cfg["N"])
    a, s, r, p = atoms
    start = time.perf_counter()
    try:
        sol = solve_multiindex_particles(corrected, a, s, r, p, times, method=cfg["method"],
                                         rtol=cfg["rtol"], atol=1e-3 * cfg["rtol"])
    except RuntimeError as exc:
        raise SolverError(f"correction=finite-n: {exc}") from None
    pde.extra["risk_corrected"] = np.asarray(sol.risk, float)
    pde.extra["mean_norm_corrected"] = np.asarray(sol.mean_norm, float)
    pde.attrs["correction"] = "finite-n"
    pde.attrs["correction_n_neurons"] = int(cfg["N"])
    pde.attrs["correction_wall_time_s"] = time.perf_counter() - start
    if "quadrature_error" in sol.attrs:
        pde.attrs["correction_quadrature_error"] = float(sol.attrs["quadrature_error"])
