"""Short runs of every scenario whose results are stored in ``data/regression/``.

Each case is ``(name, scenario, entry point, parameter overrides)``; the entry point is
``"pde"``, ``"sgd"`` or ``"validate"`` of :mod:`reducedpde.api`. The horizons are short so
that the whole set runs in seconds, but every solver path of every scenario is exercised:
the radial finite volumes (noiseless and each noisy stepper), the Lagrangian and the
finite-volume multi-index solvers, the spherical BMZ23 model and both SGD problems.

``python validation/regression_cases.py`` rewrites the stored files;
``tests/test_regression_data.py`` checks that fresh runs reproduce them.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "regression"

CASES = [
    ("gaussians-pde", "gaussians", "pde", {"t_max": 0.3, "n_times": 12}),
    ("gaussians-sgd", "gaussians", "sgd", {"t_max": 0.05, "N": 20, "eps": 1e-3,
                                            "n_times": 8}),
    ("gaussians-flow", "gaussians", "sgd", {"t_max": 0.3, "N": 20, "d": 40,
                                            "particle_dynamics": "flow", "n_times": 8}),
    ("gaussians-quick-full-correction", "gaussians-quick", "pde", {"t_max": 0.3,
                                                                   "n_times": 12}),
    ("gaussians-fig4-pde", "gaussians-fig4", "pde", {"t_max": 0.3, "kappa": 0.4,
                                                     "n_times": 12}),
    ("gaussians-quick-validate", "gaussians-quick", "validate", {"t_max": 0.3,
                                                                 "n_times": 12}),
    ("gaussians-noisy-validate", "gaussians-noisy", "validate", {"t_max": 0.3,
                                                                 "n_times": 12}),
    ("gaussians-noisy-implicit-euler", "gaussians-noisy", "pde",
     {"t_max": 0.3, "n_times": 12, "stepper": "implicit-euler", "step_tol": 2e-3}),
    ("gaussians-noisy-trbdf2", "gaussians-noisy", "pde", {"t_max": 0.3, "n_times": 12,
                                                          "stepper": "trbdf2"}),
    ("gaussians-noisy-esdirk4", "gaussians-noisy", "pde", {"t_max": 0.3, "n_times": 12,
                                                           "stepper": "esdirk4"}),
    ("single-index-quick-validate", "single-index-quick", "validate", {"t_max": 1.0,
                                                                       "n_times": 10}),
    ("single-index-quick-fv", "single-index-quick", "pde",
     {"t_max": 0.5, "n_times": 6, "solver": "fv", "fv_cells_a": 24, "fv_cells_s": 24,
      "fv_cells_r": 24}),
    ("single-index-quick-fv-noisy", "single-index-quick", "pde",
     {"t_max": 0.5, "n_times": 6, "solver": "fv", "beta": 50.0, "lam": 0.1,
      "fv_cells_a": 24, "fv_cells_s": 24, "fv_cells_r": 16, "fv_boundary_tol": 1e-4,
      "fv_a_min": -3.0, "fv_s_min": -3.0}),
    ("bmz23-pde", "bmz23", "pde", {"t_max": 1.0, "n_times": 20}),
    ("bmz23-free-sgd", "bmz23", "sgd", {"spherical": False, "d": 50, "N": 20, "eps": 1e-4,
                                        "lr_ratio": 10.0, "t_max": 0.05, "n_times": 8}),
    ("staircase-validate", "staircase", "validate", {"t_max": 2.0, "n_times": 12, "N": 40,
                                                     "d": 40, "seeds": 2, "n_test": 2000}),
]


def run_case(scenario: str, entry: str, params: dict):
    """The :class:`~reducedpde.results.RunResult` of one case."""
    from reducedpde import api

    return getattr(api, {"pde": "run_pde", "sgd": "run_sgd", "validate": "validate"}[entry])(
        scenario, params, progress=False)


def main():
    from reducedpde import io

    DATA.mkdir(parents=True, exist_ok=True)
    for name, scenario, entry, params in CASES:
        print("wrote", io.save(run_case(scenario, entry, params), DATA / f"{name}.h5"))


if __name__ == "__main__":
    main()
