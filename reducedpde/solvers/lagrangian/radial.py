r"""Lagrangian (characteristics) solver for reduced mean-field dynamics.

Without noise the law ``ρ̄_t`` is transported by the velocity field of the model: it is the
image of ``ρ̄_0`` under the flow of ``dr/dt = u(r; ρ̄_t)``. Representing ``ρ̄_0`` by weighted
atoms ``Σ_i p_i δ_{r_i}`` (a quadrature of the initial law, or samples) turns the PDE into
an ODE system for the atom positions, which is solved here with an adaptive high-order
Runge–Kutta method (SciPy's DOP853). With a low-rank interaction the cost of one velocity
evaluation is ``O(M · rank)`` for ``M`` atoms. This is exact for degenerate initial laws
(point masses) where Eulerian grids fail, and it is the independent reference for the
finite-volume solver.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

__all__ = ["quantile_atoms", "solve_radial_particles"]


def quantile_atoms(ppf, n_atoms: int):
    """``n_atoms`` equal-weight atoms at the mid-quantiles ``F⁻¹((i + ½)/n)`` of a law."""
    levels = (np.arange(n_atoms) + 0.5) / n_atoms
    return np.asarray(ppf(levels), dtype=float), np.full(n_atoms, 1.0 / n_atoms)


def solve_radial_particles(model, positions, weights, times, tracers=None, rtol=1e-10,
                           atol=1e-12, stats=None):
    """Positions of the atoms at ``times`` for the noiseless radial dynamics (``ξ = 1``).

    Parameters
    ----------
    model : GaussianRadialModel or compatible (noiseless)
    positions, weights : array_like, shape (M,)
        Initial atoms and their masses (summing to one). A Gauss quadrature of a smooth
        initial law (e.g. Gauss–Hermite for a Gaussian) makes the moments ``A_l(t)``
        spectrally accurate, because ``A_l(t) = ∫ f_l(X_t(r)) ρ̄_0(dr)`` with a smooth flow
        map ``X_t``.
    times : array_like
        Increasing output times starting at 0.
    tracers : array_like, shape (K,), optional
        Massless points moved by the same velocity field. In one dimension the flow is
        monotone, so the distribution function satisfies ``F_t(X_t(r)) = F_0(r)``
        exactly: tracers give the law at time ``t`` to interpolation accuracy.
    stats : dict, optional
        Receives ``n_rhs``, the number of velocity evaluations.

    Returns
    -------
    atoms : ndarray, shape (len(times), M)
    tracer_positions : ndarray, shape (len(times), K)
        Only when ``tracers`` is given.
    """
    if model.noisy:
        raise ValueError("the Lagrangian solver handles noiseless dynamics only (beta=inf)")
    positions = np.asarray(positions, dtype=float)
    weights = np.asarray(weights, dtype=float)
    times = np.asarray(times, dtype=float)
    n_atoms = positions.size
    start = positions if tracers is None else np.concatenate([positions, tracers])
    kernel = model.kernel

    def rhs(_t, r):
        moments = kernel.features(r[:n_atoms]) @ weights
        grad = (
            model.potential_derivative(r)
            + (kernel.weights * moments) @ kernel.feature_derivatives(r)
            + model.lam * r
        )
        return -2.0 * grad

    sol = solve_ivp(rhs, (times[0], times[-1]), start, method="DOP853", t_eval=times,
                    rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"Lagrangian solver failed: {sol.message}")
    if stats is not None:
        stats["n_rhs"] = int(sol.nfev)
    states = sol.y.T
    if tracers is None:
        return states
    return states[:, :n_atoms], states[:, n_atoms:]
