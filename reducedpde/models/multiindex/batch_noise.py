r"""Reduced mini-batch SGD: the ``(a, s, r)`` atoms driven by the sampling noise of the
relevant coordinates.

Online SGD with batches of ``b`` fresh samples (:mod:`reducedpde.models.multiindex.particles`)
moves every neuron by the batch average of the per-sample gradient. The batch is common
to all neurons, so its noise does not average out over ``N``: it moves the whole law by
``O(√(ε/b))`` per unit time. Split a sample as ``x = (z, x_⊥)``. Averaged over the
directions of the neurons' ``w_⊥`` (the degree-0 part of the noise on the sphere of the
orthogonal complement, which is what the reduced state ``(a, s, r)`` carries), the
contribution of a sample depends on ``z`` alone: ``⟨w_⊥, x_⊥⟩`` becomes ``rG`` with
``G ~ N(0, 1)``, so every feature is the smoothed one ``σ_r`` of the mean-field model
(:mod:`reducedpde.models.multiindex.reduced`). One step of the reduced dynamics is then
the mean-field velocity with the latent expectation ``E_z`` replaced by the batch's
empirical average,

.. math::

    θ_i ← θ_i + ε\, v_{\hat P_b}(θ_i; ρ̄),\qquad
    \hat P_b = \frac1b \sum_{j=1}^b δ_{z_j},\quad z_j \text{ i.i.d. from the latent law},

an Euler step of the mean-field flow (the same step ``ε`` as SGD's, ``t = kε``) plus a
common noise of covariance ``(ε²/b)·Cov_z`` of the per-sample velocity. Its mean is the
PDE's velocity, so the reduced dynamics reduces to the Lagrangian PDE as ``ε/b → 0``.

What it leaves out: the degree ``ℓ ≥ 1`` parts of the noise (each neuron's own noise in
its ``w_⊥`` directions, whose Itô drift ``∝ ε(d − k − 1)/r`` is of relative order
``ε d / b`` per step, and the correlations of the neurons' ``w_⊥`` with the batch's
``x_⊥``), and every finite-``N`` and finite-``d`` effect. On the hypercube the latent
law is uniform on ``{±1}^k`` and a batch is a multinomial draw of counts over its ``2^k``
points; only exact (enumerated) latents are supported.

:func:`simulate_reduced_particles` keeps the part that differs between neurons: ``N``
neurons in ``(a, s, r)``, each sample's ``⟨w_⊥,i, x_⊥,j⟩ = r_i g_ij`` with ``g_ij``
independent standard normals (the ``d → ∞`` limit at fixed ``N``: distinct neurons'
``w_⊥`` directions are orthogonal to leading order, and a fresh sample's ``x_⊥`` is
independent of the past), the norm updated exactly from
``w_⊥ ← w_⊥ + Σ_j c_ij x_⊥,j``:

.. math::

    r_i^2 ← r_i^2 + 2 r_i \sum_j c_{ij} g_{ij} + (d − k) \sum_j c_{ij}^2,

the last term the Itô drift of the step (``|x_⊥|² = d − k`` on the hypercube). Dropped:
the cross terms ``c_ij c_ij' ⟨x_⊥,j, x_⊥,j'⟩`` (zero mean, relative size
``c √(b d)`` per step) and the overlaps the shared updates build between different
neurons' ``w_⊥`` (``O(ε² d t / b)``). Its cost per step is ``O(N b k)``, free of ``d``.
"""

from __future__ import annotations

import math

import numpy as np
from tqdm.auto import tqdm

__all__ = ["simulate_batch_noise", "simulate_reduced_particles"]


def simulate_batch_noise(model, a, s, r, p, *, eps: float, batch: int, t_max: float,
                         record_times, seeds=(0,), smoothing_nodes: int | None = 30,
                         progress: bool = True) -> dict:
    r"""Reduced mini-batch SGD of the atoms ``(a, s, r, p)`` (module docstring).

    Parameters
    ----------
    model : MultiIndexModel
        Free (not spherical), noiseless model with an exact latent (the hypercube).
    a, s, r, p : array_like
        Initial atoms, shapes (M,), (M, k), (M,), (M,) (weights summing to 1).
    eps : float
        SGD step ``ε > 0`` (time ``t = kε``).
    batch : int
        Batch size ``b ≥ 1``.
    t_max : float
        Final time, ``≥ ε``.
    record_times : array_like
        Times at which the population risk ``R(ρ̄)`` is recorded (rounded to the step
        grid), in ``[0, t_max]``.
    seeds : sequence of int
        One independent run per seed (the batches' generator).
    smoothing_nodes : int or None
        Gauss–Hermite nodes of the Gaussian smoothing ``σ_r`` of a smooth activation in
        the steps (``None``: the model's own 400-node rule, 10× slower); the recorded
        risks always use the model's rule. The largest relative difference of the two
        velocities at the initial and the final atoms is returned as ``smoothing_error``.
    progress : bool
        tqdm bar over the steps.

    Returns
    -------
    dict
        ``t`` (recorded times), ``risk`` (shape (seeds, times)), ``steps``,
        ``smoothing_error``.
    """
    _check_steps(eps, batch, t_max)
    if not model.latent.exact:
        raise ValueError("the reduced batch noise needs an exact latent (inputs='hypercube'); "
                         f"got the {model.latent.kind!r} latent")
    if model.spherical or model.noisy:
        raise ValueError("the reduced batch noise is for the free, noiseless (a, s, r) model")
    stepper, smoothing_error = model, 0.0
    if smoothing_nodes is not None:
        stepper = model.with_smoothing_nodes(smoothing_nodes)
        smoothing_error = _velocity_difference(model, stepper, (a, s, r), p)
    n_steps = round(t_max / eps)
    record = _record_steps(record_times, eps, n_steps)
    Q = model.qweights.size
    p = np.asarray(p, float)

    def step(state, rng):
        a_, s_, r_ = state
        weights = rng.multinomial(batch, model.qweights) / batch
        da, ds, dr = stepper.velocity(a_, s_, r_, p, weights=weights)
        return a_ + eps * da, s_ + eps * ds, np.maximum(r_ + eps * dr, 0.0)

    risks, finals = _run_seeds(model._state(a, s, r), step, lambda *x: model.risk(*x, p),
                               n_steps=n_steps, record=record, seeds=seeds,
                               desc="reduced batch SGD", progress=progress,
                               what=f"reduced batch SGD (eps {eps}, batch {batch}, "
                                    f"{Q} latent points)")
    if stepper is not model:  # the short rule checked at the end states as well
        smoothing_error = max([smoothing_error] + [
            _velocity_difference(model, stepper, final, p) for final in finals])
    return {"t": record * eps, "risk": risks, "steps": n_steps,
            "smoothing_error": smoothing_error}


def simulate_reduced_particles(model, a, s, r, *, eps: float, batch: int, d: float,
                               t_max: float, record_times, seeds=(0,),
                               progress: bool = True) -> dict:
    r"""SGD of ``N`` neurons in reduced coordinates at ``d → ∞`` (module docstring).

    One step with a batch ``z_1 … z_b`` from the latent law, ``g_ij ~ N(0, 1)``,
    ``h_ij = ⟨s_i, z_j⟩ + r_i g_ij``, ``e_j = φ(z_j) − (1/N) Σ_i a_i σ(h_ij)`` and
    ``c_ij = (2ξ_w ε/b) e_j a_i σ'(h_ij)`` (the convention of
    :mod:`reducedpde.models.multiindex.particles`, ``s_k = ε``, ``t = kε``):
    ``a_i ← (1 − 2λξ_aε) a_i + (2ξ_a ε/b) Σ_j e_j σ(h_ij)``,
    ``s_i ← (1 − 2λξ_wε) s_i + Σ_j c_ij z_j`` and ``r_i`` as in the module docstring (with
    the decay factor on ``w_⊥``).

    Parameters
    ----------
    model : MultiIndexModel
        Free, noiseless model with a hypercube latent (its activation, target, ``ξ_a``,
        ``ξ_w``, ``λ``).
    a, s, r : array_like
        Initial neurons, shapes (N,), (N, k), (N,).
    eps, batch, t_max, record_times, seeds, progress
        As for :func:`simulate_batch_noise`.
    d : float
        Input dimension ``d > k`` (only in the Itô drift ``(d − k) Σ_j c_ij²``).

    Returns
    -------
    dict
        ``t``, ``risk`` (shape (seeds, times): the population risk of the ``N``-neuron
        network, :meth:`MultiIndexModel.finite_width_risk`), ``steps``.
    """
    _check_steps(eps, batch, t_max)
    if model.latent.kind != "hypercube":
        raise ValueError("the reduced particles sample the hypercube latent; got the "
                         f"{model.latent.kind!r} latent")
    if model.spherical or model.noisy:
        raise ValueError("the reduced particles are for the free, noiseless (a, s, r) model")
    a0, s0, r0 = model._state(a, s, r)
    N, k = s0.shape
    if not (d > k and math.isfinite(d)):
        raise ValueError(f"parameter 'd' must be finite and > k = {k}, got {d}")
    n_steps = round(t_max / eps)
    record = _record_steps(record_times, eps, n_steps)
    act = model.activation
    lr_a, lr_w = 2.0 * model.xi_a * eps / batch, 2.0 * model.xi_w * eps / batch
    decay_a, decay_w = 1.0 - 2.0 * model.lam * model.xi_a * eps, 1.0 - 2.0 * model.lam \
        * model.xi_w * eps
    def step(state, rng):
        a_, s_, r_ = state
        z = 2.0 * rng.integers(0, 2, size=(batch, k)) - 1.0
        g = rng.standard_normal((N, batch))
        h = s_ @ z.T + r_[:, None] * g
        sig = act.value(h)
        e = model.target(z) - (a_ @ sig) / N
        c = lr_w * (a_[:, None] * act.derivative(h)) * e
        r2 = (decay_w * r_) ** 2 + 2.0 * decay_w * r_ * np.sum(c * g, axis=1) \
            + (d - k) * np.sum(c * c, axis=1)
        return (decay_a * a_ + lr_a * (sig @ e), decay_w * s_ + c @ z,
                np.sqrt(np.maximum(r2, 0.0)))

    risks, _ = _run_seeds((a0, s0, r0), step, lambda *x: model.finite_width_risk(*x, N),
                          n_steps=n_steps, record=record, seeds=seeds,
                          desc="reduced particle SGD", progress=progress,
                          what=f"reduced particle SGD (eps {eps}, batch {batch})")
    return {"t": record * eps, "risk": risks, "steps": n_steps}


def _velocity_difference(model, other, state, p) -> float:
    """Largest ``|v_other − v_model|`` over ``max |v_model|`` at the atoms ``state``."""
    exact = np.concatenate([np.ravel(v) for v in model.velocity(*state, p)])
    short = np.concatenate([np.ravel(v) for v in other.velocity(*state, p)])
    return float(np.abs(short - exact).max() / max(np.abs(exact).max(), 1e-300))


def _run_seeds(state0, step, risk, *, n_steps, record, seeds, desc, progress, what):
    """Run ``step(state, rng) -> state`` ``n_steps`` times from ``state0`` for every seed,
    recording ``risk(*state)`` at the step indices ``record``; returns the risks (seeds ×
    records) and the final states."""
    risks = np.empty((len(seeds), record.size))
    finals = []
    bar = tqdm(total=n_steps * len(seeds), disable=not progress, unit="step", desc=desc,
               dynamic_ncols=True)
    for row, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        state = tuple(np.array(x, dtype=float) for x in state0)
        next_rec = 0
        for k in range(n_steps + 1):
            while next_rec < record.size and record[next_rec] == k:
                risks[row, next_rec] = risk(*state)
                next_rec += 1
            if k == n_steps:
                break
            state = step(state, rng)
            if k % 1000 == 999:
                bar.update(1000)
        bar.update(n_steps % 1000)
        finals.append(state)
        if not np.all(np.isfinite(risks[row])):
            raise FloatingPointError(f"{what} diverged (seed {seed})")
    bar.close()
    return risks, finals


def _check_steps(eps, batch, t_max):
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"parameter 'eps' must be a finite number > 0, got {eps}")
    if int(batch) != batch or batch < 1:
        raise ValueError(f"parameter 'batch' must be an int >= 1, got {batch}")
    if not (t_max >= eps and math.isfinite(t_max)):
        raise ValueError(f"parameter 't_max' must be finite and >= eps = {eps}, got {t_max}")


def _record_steps(record_times, eps, n_steps):
    return np.unique(np.clip(np.round(np.asarray(record_times, float) / eps), 0,
                             n_steps).astype(np.int64))
