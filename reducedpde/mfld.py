r"""Mean-field Langevin free energy, proximal Gibbs law and Gibbs-gap certificate on a grid.

Plain NumPy over cell masses ``m_j`` (``Σ_j m_j = 1``) of a reduced law on a grid. With the
entropy-free part ``F`` of the objective (package form: ``F = ½ R + (λ/2) ∫ ‖θ‖² dρ``, whose
first variation is ``ψ_λ``), the reference weights ``w_j = h_j J(x_j)`` (cell width times
the reduced Jacobian, ``J(r) = r^{d−1}`` for the radial model) and ``β < ∞``:

* the objective :math:`\mathcal L(m) = F(m) + β^{-1} Σ_j m_j \log(m_j / w_j)`, the discrete
  form of :math:`F(q) + β^{-1}\int q \log q` (entropy w.r.t. Lebesgue measure in the full
  space, up to a constant, once the Jacobian is included);
* the proximal Gibbs law :math:`p_j(m) = w_j e^{-β ψ_j(m)} / Z(m)`, ``ψ = δF/δm``;
* the certificate :math:`β^{-1}\,\mathrm{KL}(m \Vert p(m))`.

When ``F`` is convex in ``m`` (the radial model: a quadratic form with non-negative kernel
weights plus a linear term), for every ``m*``

.. math::

    \mathcal L(m) - \mathcal L(m^*) \le β^{-1}\mathrm{KL}(m\Vert p(m))
        - β^{-1}\mathrm{KL}(m^*\Vert p(m)) \le β^{-1}\mathrm{KL}(m\Vert p(m)),

(seed 000, Proposition; the discrete proof is the continuous one with sums), and the
certificate vanishes exactly at the fixed point ``m = p(m)``, the discrete Gibbs state.

Particles (:func:`particle_free_energy`): the same objective in the radial model's
convention, estimated for the law of one neuron from the ``N`` norms of a particle run
(entropy by the spacing estimator of :mod:`reducedpde.entropy`); docs/mfld.md §6.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["describe_gap_rate", "describe_particle_free_energy", "entropy_objective",
           "fit_gap_rate", "gibbs_gap", "gibbs_masses", "log_gibbs_masses",
           "particle_free_energy", "particle_free_energy_summary"]


def _check_beta(beta: float) -> float:
    beta = float(beta)
    if not 0.0 < beta < math.inf:
        raise ValueError(f"beta must be finite and > 0 for a free energy, got {beta}")
    return beta


def log_gibbs_masses(psi, log_reference, beta) -> np.ndarray:
    r"""``log p_j = log w_j − β ψ_j − log Σ_k w_k e^{−β ψ_k}`` (computed in log space)."""
    beta = _check_beta(beta)
    logits = np.asarray(log_reference, dtype=float) - beta * np.asarray(psi, dtype=float)
    top = logits.max()
    return logits - (top + math.log(np.exp(logits - top).sum()))


def gibbs_masses(psi, log_reference, beta) -> np.ndarray:
    r"""Proximal Gibbs law ``p_j ∝ w_j exp(−β ψ_j)``, normalised to one."""
    return np.exp(log_gibbs_masses(psi, log_reference, beta))


def gibbs_gap(masses, psi, log_reference, beta) -> float:
    r"""Certificate ``β⁻¹ KL(m ‖ p(m)) = β⁻¹ Σ_j m_j log(m_j / p_j)`` (empty cells add 0).

    Parameters
    ----------
    masses : ndarray (M,)
        Cell masses ``m_j ≥ 0`` summing to one.
    psi : ndarray (M,)
        First variation ``ψ_j = ∂F/∂m_j`` at ``m`` (cell centres).
    log_reference : ndarray (M,)
        ``log w_j = log h_j + log J(x_j)``.
    beta : float
        Inverse temperature, ``0 < β < ∞``.
    """
    masses = np.asarray(masses, dtype=float)
    log_p = log_gibbs_masses(psi, log_reference, beta)
    pos = masses > 0
    m = masses[pos]
    return float(m @ (np.log(m) - log_p[pos])) / float(beta)


def entropy_objective(energy: float, masses, log_reference, beta) -> float:
    r"""``𝓛 = F + β⁻¹ Σ_j m_j log(m_j / w_j)`` for the entropy-free part ``energy = F(m)``."""
    beta = _check_beta(beta)
    masses = np.asarray(masses, dtype=float)
    log_reference = np.asarray(log_reference, dtype=float)
    pos = masses > 0
    m = masses[pos]
    return float(energy) + float(m @ (np.log(m) - log_reference[pos])) / beta


def fit_gap_rate(t, gap, floor: float = 1e-12, start_fraction: float = 0.1):
    r"""Exponential rate ``γ`` of ``gap(t) ≈ C e^{−γ t}`` by least squares on ``log gap``.

    Fitted on the output times with ``floor < gap ≤ start_fraction · max(gap)`` (past the
    initial transient, above round-off), which must be at least three.

    Returns
    -------
    (rate, t_first, t_last) : tuple of float
        ``nan`` values when fewer than three points qualify.
    """
    t = np.asarray(t, dtype=float)
    gap = np.asarray(gap, dtype=float)
    if t.shape != gap.shape:
        raise ValueError(f"t and gap must have the same shape, got {t.shape} and {gap.shape}")
    finite = np.isfinite(gap)
    if not finite.any():
        return math.nan, math.nan, math.nan
    top = gap[finite].max()
    first = int(np.argmax(finite & (gap <= start_fraction * top)))
    use = np.zeros(gap.shape, dtype=bool)
    use[first:] = True
    use &= finite & (gap > floor) & (gap <= start_fraction * top)
    if use.sum() < 3:
        return math.nan, math.nan, math.nan
    slope = np.polyfit(t[use], np.log(gap[use]), 1)[0]
    return float(-slope), float(t[use][0]), float(t[use][-1])


def describe_gap_rate(pde) -> str:
    """One line for the command line: the fitted exponential rate of ``extra['gibbs_gap']``
    (per round for annealed runs, from ``extra['round_gap_rate']``)."""
    extra = pde.extra
    if "round_gap_rate" in extra:
        parts = [f"beta={b:g}: {r:.4g} (end gap {g:.3g})" for b, r, g in
                 zip(extra["round_beta"], extra["round_gap_rate"], extra["round_gap"])]
        return "Gibbs gap rate per round: " + "; ".join(parts)
    rate, t0, t1 = fit_gap_rate(pde.t, extra["gibbs_gap"])
    if math.isnan(rate):
        return (f"Gibbs gap beta^-1 KL(rho||p_rho) = {extra['gibbs_gap'][-1]:.3g} at the end "
                "(too few points above round-off to fit a rate)")
    return (f"Gibbs gap beta^-1 KL(rho||p_rho) = {extra['gibbs_gap'][-1]:.3g} at the end; "
            f"fitted rate {rate:.4g} (gap ~ e^(-rate t) for t in [{t0:.3g}, {t1:.3g}])")


def particle_free_energy(norms, risk: float, *, d: float, lam: float, beta: float,
                         m: int | None = None) -> dict:
    r"""Estimate of the radial model's objective for the law ``q`` sampled by the neurons.

    For a rotation-invariant law ``q`` on ``R^d`` whose norm ``r = ‖w‖`` has the density
    ``p̄`` (w.r.t. ``dr``), ``q(w) = p̄(r) / (|S^{d−1}| r^{d−1})`` and
    ``∫ q log q = ∫ p̄ log p̄ − (d−1) E log r − log|S^{d−1}|``. The PDE's
    ``free_energy`` drops the constant ``−β⁻¹ log|S^{d−1}|`` (it is
    ``½R + (λ/2)∫r²dρ̄ + β⁻¹∫ρ̄ log(ρ̄/r^{d−1})``), and so does this estimate:

    .. math::

        \hat{\mathcal L} = \tfrac12 R_N + \frac{λ}{2}\,\frac1N\sum_i r_i^2
            - β^{-1}\Big(\hat h + (d-1)\frac1N\sum_i \log r_i\Big),

    ``ĥ`` the spacing estimate of the differential entropy ``−∫ p̄ log p̄`` of the ``r_i``
    (:func:`reducedpde.entropy.spacing_entropy`) and ``R_N`` the given risk (for SGD the
    exact population risk of the ``N``-neuron network, diagonal terms included).

    Parameters
    ----------
    norms : array_like (N,)
        ``r_i = ‖w_i‖ > 0``.
    risk : float
        ``R`` (no factor ½).
    d, lam, beta : float
        Dimension, weight decay, inverse temperature (``0 < β < ∞``).
    m : int, optional
        Window of the spacing estimator (its default otherwise).

    Returns
    -------
    dict
        ``free_energy_estimate``, ``norm_entropy`` (``ĥ``) and ``norm_entropy_stderr``
        (its delete-one jackknife error, treating the norms as independent). The error of
        the estimate as a whole is the spread over independent runs
        (:func:`particle_free_energy_summary`): the risk, the moments and ``ĥ`` fluctuate
        together, and at a Gibbs state their first-order fluctuations cancel
        (``ψ_λ + β⁻¹ log(ρ̄/r^{d−1})`` is constant there), leaving ``O(1/N)`` ones.
    """
    from .entropy import spacing_entropy

    beta = _check_beta(beta)
    r = np.asarray(norms, dtype=float).ravel()
    if r.size == 0 or not np.all(r > 0):
        raise ValueError("the norms must be > 0 (the entropy term has log r)")
    h, h_se = spacing_entropy(r, m)
    value = (0.5 * float(risk) + 0.5 * lam * float(np.mean(r * r))
             - (h + (d - 1.0) * float(np.mean(np.log(r)))) / beta)
    return {"free_energy_estimate": float(value), "norm_entropy": float(h),
            "norm_entropy_stderr": float(h_se)}


def particle_free_energy_summary(sgd) -> dict:
    r"""Seed mean of ``sgd.extra['free_energy_estimate']`` and its standard error.

    Returns ``{"t", "mean", "stderr", "entropy_stderr"}`` (arrays over the recording
    times): ``stderr = sd/√S`` over the ``S`` independent seeds (``nan`` for one seed), the
    error of the mean as a whole; ``entropy_stderr = β⁻¹√(Σ_s se_s²)/S`` from the
    within-seed jackknife errors of the entropy term alone (at the run's ``β``; for
    annealed runs at each time's). Raises ``KeyError`` for runs without the estimate
    (noiseless runs).
    """
    values = np.asarray(sgd.extra["free_energy_estimate"], dtype=float)
    within = np.asarray(sgd.extra["norm_entropy_stderr"], dtype=float)
    beta = np.asarray(sgd.extra.get("beta", sgd.attrs["beta"]), dtype=float)
    n_seeds = values.shape[0]
    seed_se = (values.std(axis=0, ddof=1) / math.sqrt(n_seeds) if n_seeds > 1
               else np.full(values.shape[1], np.nan))
    return {"t": np.asarray(sgd.t, dtype=float), "mean": values.mean(axis=0),
            "stderr": seed_se,
            "entropy_stderr": np.sqrt((within**2).sum(axis=0)) / n_seeds / beta}


def describe_particle_free_energy(sgd) -> str:
    """One line for the command line: the particle free-energy estimate at the last time."""
    s = particle_free_energy_summary(sgd)
    seeds = np.shape(sgd.extra["free_energy_estimate"])[0]
    spread = (f" +- {s['stderr'][-1]:.2g} (standard error over the seeds)" if seeds > 1
              else " (one seed: no standard error)")
    return (f"free energy estimate 1/2 R_N + lam/2 E|w|^2 + entropy/beta at "
            f"t={s['t'][-1]:g}: {s['mean'][-1]:.6g}{spread}")
