r"""The smallest model: one linear neuron per particle, a linear target.

``x ~ N(0, 1)``, ``y = c x``; neuron ``σ*(x; θ) = θ x`` with ``θ ∈ R``; network
``ŷ = (1/N) Σ θ_i x``. Then ``V(θ) = −cθ``, ``U(θ, θ') = θθ'``, ``Ψ(θ; ρ) = θ(m − c)`` with
``m = ∫ θ dρ``, and the distributional dynamics ``∂_t ρ = 2∂_θ(ρ ∂_θΨ)`` translates the law
rigidly with velocity ``−2(m − c)``: ``m(t) = c + (m_0 − c) e^{−2t}``,
``R(t) = (c − m(t))²``. Online SGD: ``θ_i ← θ_i + 2ε (y − ŷ) x``.

This folder is the worked example of ``docs/architecture.md``: a parameter table, a
:class:`~reducedpde.models.base.Reduction` subclass, and one registration line.
"""

from __future__ import annotations

import numpy as np

from reducedpde.models.base import Reduction
from reducedpde.params import Param, parameter_table
from reducedpde.results import PDEResult, SGDResult

TOY_PARAMETERS = parameter_table(
    Param("c", "float", 1.0, "target slope: y = c x", low=-10, high=10),
    Param("m0", "float", 0.0, "mean of the initial law θ ~ N(m0, spread²)", low=-10, high=10),
    Param("spread", "float", 0.5, "standard deviation of the initial law", low=0, high=10,
          low_open=True),
    Param("t_max", "float", 2.0, "final time t = kε", low=0, high=1e3, low_open=True),
    Param("t_min", "float", 1e-2, "first non-zero output time", low=0, high=1e3,
          low_open=True),
    Param("n_times", "int", 20, "number of output times", low=2, high=1e4),
    Param("n_snapshots", "int", 3, "number of density snapshots", low=2, high=100),
    Param("N", "int", 400, "number of neurons (SGD)", low=1, high=1e6),
    Param("eps", "float", 1e-3, "SGD step size", low=0, high=1, low_open=True),
    Param("seeds", "int", 2, "number of SGD runs", low=1, high=100),
    Param("seed", "int", 0, "first seed", low=0, high=2**31 - 1),
)

EDGES = np.linspace(-4.0, 4.0, 161)


class ToyReduction(Reduction):
    """Linear neurons on a linear target: the law translates rigidly."""

    name = "toy"
    parameters = TOY_PARAMETERS

    def initial_law(self, initial_density=None) -> str:
        return "theta ~ N(m0, spread^2)"

    @property
    def neuron_dimension(self) -> float:
        return 1.0

    def reduced_model(self):
        return self  # the closed form below is the whole model

    def mean(self, t):
        c, m0 = self.config["c"], self.config["m0"]
        return c + (m0 - c) * np.exp(-2.0 * np.asarray(t, float))

    def population_risk(self, weights, second_layer=None) -> float:
        return float((self.config["c"] - np.mean(weights)) ** 2)

    def _density(self, mean):
        cdf = _normal_cdf((EDGES - mean) / self.config["spread"])
        return np.diff(cdf) / np.diff(EDGES)

    def solve_pde(self, times, snapshot_times, *, xi=None, initial_density=None,
                  progress=True, checkpointing=None):
        m = self.mean(times)
        spread = self.config["spread"]
        # E|θ| for θ ~ N(m, s²)
        mean_abs = spread * np.sqrt(2 / np.pi) * np.exp(-m**2 / (2 * spread**2)) + m * (
            1 - 2 * _normal_cdf(-m / spread))
        return PDEResult(t=times, risk=(self.config["c"] - m) ** 2, mean_norm=mean_abs,
                         snapshot_times=snapshot_times,
                         densities=np.stack([self._density(self.mean(s))
                                             for s in snapshot_times]),
                         grid_edges=EDGES, attrs={"solver": "closed form"})

    def run_particles(self, times, snapshot_times, *, xi=None, progress=True,
                      keep_weights=False, checkpointing=None):
        cfg = self.config
        steps = np.rint(np.asarray(times) / cfg["eps"]).astype(int)
        snap_steps = set(np.rint(np.asarray(snapshot_times) / cfg["eps"]).astype(int))
        seeds = np.arange(cfg["seed"], cfg["seed"] + cfg["seeds"])
        risk, norm, hists = [], [], []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            theta = cfg["m0"] + cfg["spread"] * rng.standard_normal(cfg["N"])
            r_row, n_row, h_row, k = [], [], [], 0
            for target in steps:
                while k < target:
                    x = rng.standard_normal()
                    theta += 2 * cfg["eps"] * (cfg["c"] * x - theta.mean() * x) * x
                    k += 1
                r_row.append(self.population_risk(theta))
                n_row.append(np.abs(theta).mean())
                if target in snap_steps:
                    h_row.append(np.histogram(theta, EDGES, density=True)[0])
            risk.append(r_row)
            norm.append(n_row)
            hists.append(h_row)
        return SGDResult(t=steps * cfg["eps"], risk=np.array(risk), mean_norm=np.array(norm),
                         snapshot_times=np.asarray(snapshot_times), histograms=np.array(hists),
                         hist_edges=EDGES, seeds=seeds, attrs={"N": cfg["N"]})


def _normal_cdf(z):
    from scipy.special import ndtr

    return ndtr(z)
