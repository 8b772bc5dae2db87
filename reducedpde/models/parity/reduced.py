r"""Reduced Langevin particles of the sparse-parity MFLD: the irrelevant coordinates
summarised by their norm.

A neuron ``x = (x_1, x_2, x_3)`` with ``x_1 = (u, x_⊥)``, ``u ∈ R^k`` (the relevant
coordinates) and ``x_⊥ ∈ R^{d−k}``, is reduced to ``(u, r, x_2, x_3)`` with ``r = ‖x_⊥‖``.
The population objective (the average over the whole hypercube) replaces the training
set, and the projection ``z_⊥·x_⊥`` of the irrelevant inputs is replaced by

.. math::  z_⊥·x_⊥ \;\approx\; \frac{r}{\sqrt d}\, G, \qquad G \sim N(0, 1),

the Gaussian (large-``d``) approximation; its variance ``r²/d`` is exact for every
``x_⊥`` on the hypercube (``docs/mfld.md`` §5 says what else is exact and where this
enters). With the ``2^k`` relevant patterns ``s`` (``z_S ∈ {±1/√d}^k``, label
``y_s = sign(∏ z_S)``) and Gauss–Hermite nodes ``(g_q, w_q)`` for ``G``, the mean field is

.. math::

    \bar f(s) = \frac1M \sum_j \Big[\frac{\bar R}3 \sum_q w_q
        \tanh(z_s·u_j + x_{2,j} + σ r_j g_q) + \frac{2\bar R}3 \tanh x_{3,j}\Big],
    \qquad σ = d^{−1/2},

the population loss ``L = 2^{−k} Σ_s ℓ(y_s \bar f(s))``, and with
``ω_s = 2^{−k} ℓ'(y_s \bar f(s)) y_s``, ``T = 1 − \tanh^2(·)``, the gradient of ``δL/δμ`` at
a neuron is ``(R̄/3) Σ_s ω_s Σ_q w_q T (z_s, σ g_q, 1)`` in ``(u, r, x_2)`` and
``(2R̄/3)(1 − \tanh^2 x_3) Σ_s ω_s`` in ``x_3``.

Step (seed-000 units, step ``η``, temperature ``λ_r``, prior coefficient ``c``, noise
``s = √(2λη)``): ``u, x_2, x_3`` take the full simulation's Euler step; for ``r`` the full
step of ``x_⊥`` has the radial drift ``a = (1 − 2ηc) r − η ∂_r(δL/δμ)`` along ``x_⊥/r`` plus
isotropic noise, so its norm is drawn exactly, at a cost independent of ``d``:

.. math::  r' = \sqrt{(a + s ξ)^2 + s^2 Q}, \qquad ξ \sim N(0,1),\ Q \sim χ^2_{d−k−1}.

Its mean is ``a + λη(d − k − 1)/r + O(η^2)``: the Itô drift ``(d − k − 1)/(βr)`` (β = 1/λ)
of the Jacobian ``r^{d−k−1}``, in seed-000 time ``τ = kη`` (in package time ``t = τ/2``
it reads ``2(d − k − 1)/(βr)``, DESIGN's factor 2), while ``r`` stays positive.

Recorded (the names of the full simulation, :data:`SERIES`): ``train_loss`` and
``population_error`` of the mean field (the objective that is trained, ``M = ∞`` outputs);
``test_loss`` and ``test_error`` of the ``M``-neuron network at a random input, with the
``M`` projections ``G_j`` independent (independent directions of the ``x_⊥``): given ``s``,
``f = (1/M) Σ_j h_j`` is then a sum of ``M`` independent terms, approximated as
``N(\bar f(s), v_s/M)`` with ``v_s`` the mean over neurons of ``Var_G h_j`` (central limit
theorem), so ``test_error = 2^{−k} Σ_s Φ(−y_s \bar f(s)/\sqrt{v_s/M})`` and the test loss is
the Gauss–Hermite average of ``ℓ`` under that law.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import ndtr
from tqdm.auto import tqdm

from ...results import PDEResult
from .network import prior_coefficient
from .parameters import validate_parity

__all__ = [
    "REDUCED_SERIES",
    "ReducedParityState",
    "initial_reduced_state",
    "reduced_drift",
    "reduced_mean_field",
    "reduced_observables",
    "reduced_step",
    "simulate_reduced_parity",
]

#: Series recorded by :func:`simulate_reduced_parity` (``PDEResult.extra[name]``, ``(n_t,)``).
REDUCED_SERIES = (
    "train_loss",
    "population_error",
    "test_loss",
    "test_error",
    "objective",
    "temperature",
    "relevant_norm",
    "irrelevant_norm",
    "mean_norm",
)

_MODEL = "parity-mfld reduced"
_HIST_BINS = 40


class ReducedParityState:
    """Reduced particles ``(u, r, x_2, x_3)`` and the fixed quadrature of one run.

    Attributes
    ----------
    U : ndarray, shape (M, k)
        Relevant first-layer weights.
    r : ndarray, shape (M,)
        Norm of the irrelevant first-layer weights, ``r >= 0``.
    x2, x3 : ndarray, shape (M,)
        Bias and output-shift coordinates.
    """

    def __init__(self, U, r, x2, x3, d: int, quad_nodes: int = 24):
        self.U = np.ascontiguousarray(U, dtype=np.float64)
        self.r = np.asarray(r, dtype=np.float64).copy()
        self.x2 = np.asarray(x2, dtype=np.float64).copy()
        self.x3 = np.asarray(x3, dtype=np.float64).copy()
        self.d = int(d)
        k = self.U.shape[1]
        signs = 1.0 - 2.0 * ((np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1)
        #: relevant input patterns z_S, shape (2^k, k), and their labels
        self.patterns = signs / np.sqrt(d)
        self.labels = np.prod(signs, axis=1)
        g, w = hermegauss(quad_nodes)
        self.g = g
        self.w = w / np.sqrt(2.0 * np.pi)

    @property
    def M(self) -> int:
        return self.r.size

    @property
    def k(self) -> int:
        return self.U.shape[1]


def initial_reduced_state(cfg: Mapping, rng: np.random.Generator,
                          quad_nodes: int = 24) -> ReducedParityState:
    """The reduced law of ``x ~ N(0, init_scale² I_{d+2})``: ``u, x_2, x_3`` Gaussian and
    ``r = init_scale · χ_{d−k}`` (drawn as the norm of ``d − k`` normals, in law)."""
    M, d, k, s = cfg["M"], cfg["d"], cfg["k"], cfg["init_scale"]
    U = s * rng.standard_normal((M, k))
    m = d - k
    r = s * np.sqrt(rng.chisquare(m, size=M)) if m > 0 else np.zeros(M)
    x2 = s * rng.standard_normal(M)
    x3 = s * rng.standard_normal(M)
    return ReducedParityState(U, r, x2, x3, d, quad_nodes)


def _tangents(state: ReducedParityState) -> np.ndarray:
    """``tanh(z_s·u_j + x_{2,j} + σ r_j g_q)``, shape (2^k, M, Q)."""
    pre = state.patterns @ state.U.T + state.x2[None, :]
    spread = state.r / np.sqrt(state.d)
    return np.tanh(pre[:, :, None] + spread[None, :, None] * state.g[None, None, :])


def reduced_mean_field(state: ReducedParityState, Rbar: float):
    """Mean-field output per pattern and the per-pattern variance over one neuron.

    Returns
    -------
    f : ndarray, shape (2^k,)
        ``\\bar f(s)``.
    v : ndarray, shape (2^k,)
        Mean over neurons of ``Var_G h_j(s, G)``.
    T : ndarray, shape (2^k, M, Q)
        The tangents, for the drift.
    """
    T = _tangents(state)
    mean_t = T @ state.w
    second = (T * T) @ state.w
    f = Rbar / 3.0 * (mean_t.mean(axis=1) + 2.0 * np.tanh(state.x3).mean())
    v = (Rbar / 3.0) ** 2 * np.maximum(second - mean_t**2, 0.0).mean(axis=1)
    return f, v, T


def reduced_drift(state: ReducedParityState, Rbar: float):
    """Gradient of ``δL/δμ`` (population loss) at every reduced particle.

    Returns
    -------
    gU : ndarray (M, k); gr, g2, g3 : ndarray (M,)
        ``∂_u``, ``∂_r``, ``∂_{x_2}``, ``∂_{x_3}`` of ``δL/δμ`` (no prior term).
    f : ndarray (2^k,)
        The mean field at the patterns.
    """
    f, _, T = reduced_mean_field(state, Rbar)
    y = state.labels
    m = y * f
    omega = -y / (1.0 + np.exp(np.clip(m, -700, 700))) / y.size   # 2^{-k} ℓ'(y f) y
    D = 1.0 - T * T                                                 # (S, M, Q)
    A = D @ state.w                                                 # (S, M)
    B = D @ (state.w * state.g)                                     # (S, M)
    c = Rbar / 3.0
    gU = c * (A * omega[:, None]).T @ state.patterns                # (M, k)
    g2 = c * omega @ A
    gr = c / np.sqrt(state.d) * omega @ B
    g3 = 2.0 * c * (1.0 - np.tanh(state.x3) ** 2) * omega.sum()
    return gU, gr, g2, g3, f


def reduced_step(state: ReducedParityState, lam: float, eta: float, c: float, Rbar: float,
                 rng: np.random.Generator) -> None:
    """One reduced Langevin step in place (module docstring; ``c``: prior coefficient)."""
    gU, gr, g2, g3, _ = reduced_drift(state, Rbar)
    s = np.sqrt(2.0 * lam * eta)
    decay = 1.0 - 2.0 * eta * c
    M, k = state.U.shape
    noise = rng.standard_normal((M, k + 3))
    state.U = decay * state.U - eta * gU + s * noise[:, :k]
    state.x2 = decay * state.x2 - eta * g2 + s * noise[:, k]
    state.x3 = decay * state.x3 - eta * g3 + s * noise[:, k + 1]
    m = state.d - k
    if m > 0:
        a = decay * state.r - eta * gr + s * noise[:, k + 2]
        q = rng.chisquare(m - 1, size=M) if m > 1 else 0.0
        state.r = np.sqrt(a * a + s * s * q)


def _logistic(mv):
    return np.logaddexp(0.0, -mv)


def reduced_observables(state: ReducedParityState, cfg: Mapping, lam: float) -> dict:
    """The recorded observables (module docstring) of the current reduced particles."""
    f, v, _ = reduced_mean_field(state, cfg["Rbar"])
    y = state.labels
    margin = y * f
    sd = np.sqrt(v / cfg["M"])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, -margin / np.where(sd > 0, sd, 1.0),
                     np.where(margin > 0, -np.inf, np.inf))
    test_error = float(np.mean(ndtr(z)))
    test_loss = float(np.mean(_logistic(margin[:, None] + sd[:, None] * state.g[None, :])
                              @ state.w))
    c = prior_coefficient(lam, cfg["lam_prime"], cfg["prior"])
    sq = (np.sum(state.U**2, axis=1) + state.r**2 + state.x2**2 + state.x3**2).mean()
    train_loss = float(np.mean(_logistic(margin)))
    return {
        "train_loss": train_loss,
        "population_error": float(np.mean(margin <= 0)),
        "test_loss": test_loss,
        "test_error": test_error,
        "objective": train_loss + c * float(sq),
        "temperature": lam,
        "relevant_norm": float(np.linalg.norm(state.U, axis=1).mean()),
        "irrelevant_norm": float(state.r.mean()),
        "mean_norm": float(np.sqrt(np.sum(state.U**2, axis=1) + state.r**2).mean()),
    }


def simulate_reduced_parity(params: Mapping | None = None, *, progress: bool = True,
                            quad_nodes: int = 24, hist_edges=None) -> PDEResult:
    """Run the reduced Langevin particles with the annealing of the full simulation.

    Parameters
    ----------
    params : mapping, optional
        Values for :data:`~reducedpde.models.parity.parameters.PARITY_PARAMETERS` (``n``,
        ``n_test`` are not used: the reduced dynamics is the population one).
    progress : bool
        Show a tqdm progress bar.
    quad_nodes : int
        Gauss–Hermite nodes for ``G`` (``>= 2``).
    hist_edges : array, optional
        Bins of the ``‖u‖`` histograms (default: 40 bins up to 1.05 × the largest value).

    Returns
    -------
    PDEResult
        ``t`` (package time ``kη/2``) at the full simulation's recording steps, ``risk``
        (test loss of the ``M``-neuron network), ``mean_norm`` (mean ``‖x_1‖``),
        histograms of ``‖u‖`` at ``t = 0`` and each round end in ``densities``, and the
        series of :data:`REDUCED_SERIES`, ``steps``, ``tau``, ``beta`` in ``extra``.

    Raises
    ------
    ValueError
        Bad parameters (naming the parameter and its range), or ``quad_nodes < 2``.
    ParityDivergenceError
        A reduced coordinate became non-finite (step, cause and advice in the message).
    """
    from .simulate import ParityDivergenceError, _divergence_message, _record_plan

    cfg = validate_parity(params)
    if int(quad_nodes) < 2:
        raise ValueError(f"parameter 'quad_nodes' must be an int >= 2, got {quad_nodes}")
    _, init_seq, noise_seq = np.random.SeedSequence(cfg["seed"]).spawn(3)
    state = initial_reduced_state(cfg, np.random.default_rng(init_seq), int(quad_nodes))
    rng = np.random.default_rng(noise_seq)
    record_steps, round_ends = _record_plan(cfg)
    series: dict[str, list[float]] = {name: [] for name in REDUCED_SERIES}
    snaps, snap_steps, steps = [], [], []
    start = time.perf_counter()
    step = 0

    def record():
        lam = float(np.ldexp(cfg["lam0"], -(max(step - 1, 0) // cfg["round_steps"])))
        obs = reduced_observables(state, cfg, lam)
        for name in REDUCED_SERIES:
            series[name].append(obs[name])
        steps.append(step)
        if step in round_ends:
            snap_steps.append(step)
            snaps.append(np.linalg.norm(state.U, axis=1))

    bar = tqdm(total=int(record_steps[-1]), desc="parity MFLD (reduced)", unit="step",
               disable=not progress, dynamic_ncols=True, smoothing=0.05)
    record()
    for target in record_steps[1:]:
        while step < target:
            lam = float(np.ldexp(cfg["lam0"], -(step // cfg["round_steps"])))
            c = prior_coefficient(lam, cfg["lam_prime"], cfg["prior"])
            reduced_step(state, lam, cfg["eta"], c, cfg["Rbar"], rng)
            step += 1
            if not (np.isfinite(state.r).all() and np.isfinite(state.U).all()
                    and np.isfinite(state.x2).all() and np.isfinite(state.x3).all()):
                raise ParityDivergenceError(
                    _divergence_message(cfg, step, "a reduced coordinate became non-finite"),
                    step)
        bar.update(int(target) - bar.n)
        record()
    bar.close()
    eps = cfg["eta"] / 2.0
    rows = np.stack(snaps)
    if hist_edges is None:
        top = float(rows.max())
        hist_edges = np.linspace(0.0, 1.05 * top if top > 0 else 1.0, _HIST_BINS + 1)
    edges = np.asarray(hist_edges, dtype=np.float64)
    widths = np.diff(edges)
    dens = np.stack([np.histogram(row, bins=edges)[0] / (row.size * widths) for row in rows])
    steps_a = np.asarray(steps, dtype=np.int64)
    extra = {name: np.asarray(v, dtype=np.float64) for name, v in series.items()}
    extra.update(steps=steps_a, tau=steps_a * cfg["eta"], beta=1.0 / extra["temperature"])
    wall = time.perf_counter() - start
    attrs = {
        "model": _MODEL,
        "solver": "reduced Langevin particles (u, r, x2, x3), Gaussian approximation "
                  "z_perp.x_perp ~ (r/sqrt d) G",
        "n_cells": int(widths.size),
        "n_steps": int(step),
        "n_particles": int(cfg["M"]),
        "quad_nodes": int(quad_nodes),
        "d": cfg["d"],
        "k": cfg["k"],
        "time": "t = k eta/2 (package time); extra/tau = k eta (seed-000 time)",
        "risk": "test logistic loss of the M-neuron network (CLT over the irrelevant "
                "projections); extra/train_loss: population loss of the mean field",
        "hist_variable": "‖u‖ = ‖x1[:k]‖ at t = 0 and each round end",
        "wall_time_s": float(wall),
        "steps_per_s": float(step / wall) if wall > 0 else 0.0,
    }
    return PDEResult(
        t=steps_a * eps,
        risk=extra["test_loss"].copy(),
        mean_norm=extra["mean_norm"].copy(),
        snapshot_times=np.asarray(snap_steps, dtype=np.int64) * eps,
        densities=dens,
        grid_edges=edges,
        attrs=attrs,
        extra=extra,
    )
