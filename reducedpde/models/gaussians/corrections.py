r"""Finite-N corrections of the radial (MMN18) prediction.

A network of ``N`` neurons has the risk (diagonal terms included)

.. math::  R_N(w_1, …, w_N) = 1 + \frac{2}{N} Σ_i V(w_i) + \frac{1}{N^2} Σ_{i,j} U(w_i, w_j),

so two ``O(1/N)`` effects separate it from the mean-field risk ``R(ρ_t)``:

* **i.i.d. risk** (issue 17, 1(b)). For neurons drawn i.i.d. from ``ρ``,
  ``E R_N = R(ρ) + (1/N)(∫ D dρ − ∫∫ U dρ dρ)`` with the *same-neuron* value
  ``D(w) = U(w, w) = E σ(⟨w, x⟩)²``. For the Gaussian classes
  ``⟨w, x⟩ = s_± r G`` with ``s_± = 1 ± Δ``, hence

  .. math::  D(r) = ½ Σ_± E σ(s_± r G)²,

  which is *not* the angle-averaged ``u(r, r)`` (two independent directions).
* **self-interaction** (issue 17, 1(a)). The exact gradient flow of ``R_N`` in the SGD time
  (``dw_i/dt = −(N/2)·2 ∂R_N/∂w_i``, the ``ε → 0`` limit of online SGD) is
  ``dw_i/dt = −2 ∇Ψ_N(w_i)`` with

  .. math::  Ψ_N(w_i) = V(w_i) + \frac1N Σ_{j ≠ i} U(w_i, w_j) + \frac{1}{2N} D(w_i):

  the diagonal term ``U(w_i, w_i)/N²`` of ``R_N`` has gradient ``∇D(w_i)/N² =
  2 ∇_1 U(w, w')|_{w'=w=w_i}/N²`` (``U`` symmetric), half of what a term ``j = i`` in the
  pair sum would give, hence the factor ``½``. Replacing the other ``N − 1`` neurons by
  ``ρ_t`` gives the corrected potential

  .. math::  Ψ_N(w; ρ) = V(w) + (1 − 1/N) ∫ U(w, w') ρ(dw') + \frac{1}{2N} D(w).

:class:`FiniteNRadialModel` is the radial model with ``v → v + D/(2N)`` and the kernel
weights scaled by ``1 − 1/N``: the existing radial solver integrates the corrected equation
unchanged, and the risk it records,
``1 + 2∫(v + D/(2N)) dρ̄ + (1 − 1/N)∫∫u dρ̄ dρ̄ = R(ρ̄) + (1/N)(∫D dρ̄ − ∫∫u dρ̄ dρ̄)``,
is exactly the i.i.d. risk of the corrected law. Both corrections vanish as ``N → ∞``.
The complete ``O(1/N)`` expansion, with the fluctuations of ``√N(ρ_N − ρ_t)``, is
``correction=full`` (:mod:`.fluctuations`); see ``docs/corrections.md``.
"""

from __future__ import annotations

import numpy as np

from .radial import GaussianRadialModel

__all__ = [
    "CORRECTIONS",
    "FiniteNRadialModel",
    "ScaledKernel",
    "check_correction",
    "diagonal_kernel",
    "diagonal_kernel_derivative",
    "iid_risk",
]

#: values of the ``correction`` parameter: ``none`` (the mean-field PDE only),
#: ``finite-n`` (self-interaction + i.i.d. risk), ``full`` (the ``O(1/N)`` expansion with
#: the fluctuations, :mod:`.fluctuations`)
CORRECTIONS = ("none", "finite-n", "full")


def diagonal_kernel(activation, delta: float, r):
    r"""Same-neuron kernel ``D(r) = U(w, w) = ½ Σ_± E σ(s_± r G)²``, ``s_± = 1 ± Δ``.

    Parameters
    ----------
    activation : Activation
    delta : float
        Class separation ``Δ ∈ (0, 1)``.
    r : array_like
        Norms ``‖w‖ ≥ 0``.
    """
    r = np.asarray(r, dtype=float)
    return 0.5 * sum(activation.gaussian_second_moment(s * r)
                     for s in (1.0 + delta, 1.0 - delta))


def diagonal_kernel_derivative(activation, delta: float, r, rel_step: float = 1e-5):
    r"""``D'(r)`` by a central difference of the closed-form ``D``.

    ``D'(r) ≈ (D(r + h) − D(r − h)) / (2h)``, ``h = rel_step · max(1, r)``; ``D`` is smooth
    (a Gaussian average) and even in ``r`` (``D'(0) = 0`` exactly), so the error is
    ``O(h² D''')``, about ``1e-10`` relative with the default step.
    """
    r = np.asarray(r, dtype=float)
    h = rel_step * np.maximum(1.0, np.abs(r))
    return (diagonal_kernel(activation, delta, np.abs(r + h))
            - diagonal_kernel(activation, delta, np.abs(r - h))) / (2.0 * h)


def _check_neurons(n_neurons) -> int:
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, (int, np.integer)) \
            or n_neurons < 1:
        raise ValueError(f"parameter 'N' must be an integer >= 1, got {n_neurons!r}")
    return int(n_neurons)


def iid_risk(model, at, masses, n_neurons: int) -> float:
    r"""Expected risk of ``N`` i.i.d. neurons from ``ρ̄ = Σ_j m_j δ_{at_j}``.

    ``E R_N = R(ρ̄) + (1/N)(∫ D dρ̄ − ∫∫ u dρ̄ dρ̄)`` with ``model`` a
    :class:`~.radial.GaussianRadialModel` (uncorrected).
    """
    n = _check_neurons(n_neurons)
    at = np.asarray(at, dtype=float)
    masses = np.asarray(masses, dtype=float)
    moments = model.kernel_moments(at, masses)
    pair = float(np.sum(model.kernel.weights * moments**2))
    diag = float(diagonal_kernel(model.activation, model.delta, at) @ masses)
    return model.risk(at, masses) + (diag - pair) / n


class ScaledKernel:
    """A low-rank kernel with every weight multiplied by ``factor`` (features unchanged)."""

    def __init__(self, kernel, factor: float):
        self.base = kernel
        self.factor = float(factor)
        self.weights = kernel.weights * self.factor
        self.degrees = kernel.degrees
        self.m_max = kernel.m_max
        self.tol = kernel.tol
        #: the truncation bound scales with the weights
        self.tail_bound = kernel.tail_bound * abs(self.factor)

    @property
    def rank(self) -> int:
        return self.weights.size

    def features(self, r):
        return self.base.features(r)

    def feature_derivatives(self, r):
        return self.base.feature_derivatives(r)

    def __call__(self, r, r_prime):
        return self.factor * self.base(r, r_prime)


class FiniteNRadialModel(GaussianRadialModel):
    r"""The radial model of ``N`` neurons with their self-interaction.

    ``ψ_N(r; ρ̄) = v(r) + D(r)/(2N) + (1 − 1/N) ∫ u(r, r') ρ̄(dr')``; its :meth:`risk` is the
    i.i.d. risk ``R(ρ̄) + (1/N)(∫ D dρ̄ − ∫∫ u dρ̄ dρ̄)`` (see the module docstring).

    Parameters
    ----------
    base : GaussianRadialModel
        The mean-field model (left unchanged).
    n_neurons : int
        ``N ≥ 1``.
    """

    def __init__(self, base: GaussianRadialModel, n_neurons: int):
        self.__dict__.update(base.__dict__)
        self.n_neurons = _check_neurons(n_neurons)
        self.base = base
        self.kernel = ScaledKernel(base.kernel, 1.0 - 1.0 / self.n_neurons)

    def diagonal(self, r):
        """``D(r)``."""
        return diagonal_kernel(self.activation, self.delta, r)

    def potential(self, r):
        """``v(r) + D(r)/(2N)``."""
        return self.base.potential(r) + self.diagonal(r) / (2.0 * self.n_neurons)

    def potential_derivative(self, r):
        """``v'(r) + D'(r)/(2N)``."""
        return (self.base.potential_derivative(r)
                + diagonal_kernel_derivative(self.activation, self.delta, r)
                / (2.0 * self.n_neurons))


def check_correction(correction: str) -> None:
    """Refuse ``correction`` values this model does not know (clear ``ValueError``)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"parameter 'correction' must be one of {', '.join(CORRECTIONS)}, "
                         f"got {correction!r}")


def add_finite_n_prediction(reduction, pde, grid, masses, times, snapshot_times, *, xi=None,
                            progress=False) -> None:
    r"""Solve the self-interacting radial PDE of ``N = config['N']`` neurons and store its
    i.i.d. risk in ``pde.extra['risk_corrected']`` (and its mean norm in
    ``pde.extra['mean_norm_corrected']``), beside the mean-field ``pde.risk``.

    The corrected equation is the radial PDE of :class:`FiniteNRadialModel`, solved by the
    same solver, grid, initial masses and numerical parameters as the uncorrected one.
    """
    from ...solvers.fv.radial import solve_radial

    cfg = reduction.config
    model = FiniteNRadialModel(reduction.reduced_model(), cfg["N"])
    corrected = solve_radial(
        model, grid, masses, times, snapshot_times=snapshot_times, xi=xi, cfl=cfg["cfl"],
        limiter_theta=cfg["limiter_theta"], step_tol=cfg["step_tol"], stepper=cfg["stepper"],
        min_resolved_cells=cfg["min_resolved_cells"], progress=progress, checkpointing=None,
    )
    pde.extra["risk_corrected"] = np.asarray(corrected.risk, float)
    pde.extra["mean_norm_corrected"] = np.asarray(corrected.mean_norm, float)
    pde.attrs["correction"] = "finite-n"
    pde.attrs["correction_n_neurons"] = int(cfg["N"])
    pde.attrs["correction_wall_time_s"] = float(corrected.attrs.get("wall_time_s", 0.0))
