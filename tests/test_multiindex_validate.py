"""Multi-index scenarios through the API and the CLI: PDE + SGD + comparison, HDF5 layout,
parameter errors, the staircase order and the initial risk against SGD's exact risk."""

import h5py
import numpy as np
import pytest

from reducedpde import api, io
from reducedpde.cli import main
from reducedpde.models.multiindex.expansions import hermite_expansion, make_target
from reducedpde.models.multiindex.particles import initial_parameters
from reducedpde.models.multiindex.population_risk import multiindex_gaussian_risk
from reducedpde.models.multiindex.runs import build_activation, sgd_target
from reducedpde.scenarios import SCENARIOS, resolve

TINY = {"d": 8, "N": 20, "eps": 1e-3, "t_max": 0.5, "t_min": 0.05, "n_times": 8,
        "n_snapshots": 3, "seeds": 2, "atoms_s": 4, "atoms_r": 2, "cells": 50,
        "latent_nodes": 24}


@pytest.fixture(scope="module")
def tiny_run():
    return api.validate("single-index-quick", TINY, progress=False)


@pytest.fixture(scope="module")
def tiny_file(tiny_run, tmp_path_factory):
    return io.save(tiny_run, tmp_path_factory.mktemp("mi") / "tiny.h5")


def test_multiindex_scenarios_are_listed(capsys):
    assert {"single-index-quick", "bmz23", "staircase"} <= set(SCENARIOS)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("single-index-quick", "bmz23", "staircase"):
        assert name in out
    assert main(["list", "bmz23"]) == 0
    out = capsys.readouterr().out
    for name in ("lr_ratio", "spherical", "target", "atoms_s"):
        assert name in out


def test_validation_file_has_the_documented_layout(tiny_file):
    with h5py.File(tiny_file) as fh:
        assert {"pde", "sgd", "comparison"} <= set(fh)
        for name in ("t", "risk", "mean_norm", "snapshot_times", "densities", "grid_edges"):
            assert name in fh["pde"]
        for name in ("mean_a", "mean_s", "mean_r", "hermite"):
            assert fh[f"pde/extra/{name}"].shape[0] == 8
        assert fh["pde/extra/mean_s"].shape == (8, 1)
        for name in ("t", "risk", "mean_norm", "snapshot_times", "histograms", "hist_edges",
                     "seeds"):
            assert name in fh["sgd"]
        assert fh["sgd/risk"].shape == (2, 8)
        assert fh["pde/densities"].shape == (3, 50)
        assert fh["sgd/histograms"].shape == (2, 3, 50)
        assert {"tolerance", "passed"} <= set(fh["comparison"].attrs)


def test_load_round_trips_the_multiindex_run(tiny_run, tiny_file):
    loaded = io.load(tiny_file)
    assert loaded.config == tiny_run.config
    for part in ("pde", "sgd"):
        original, back = getattr(tiny_run, part), getattr(loaded, part)
        for name, value in vars(original).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(getattr(back, name), value)
        for name, value in original.extra.items():
            np.testing.assert_array_equal(back.extra[name], value)
    assert loaded.comparison.metrics == tiny_run.comparison.metrics


def test_pde_and_sgd_share_times_cells_and_the_neuron_dimension(tiny_run):
    pde, sgd, cmp_ = tiny_run.pde, tiny_run.sgd, tiny_run.comparison
    np.testing.assert_allclose(sgd.t, pde.t, rtol=0, atol=TINY["eps"])
    np.testing.assert_array_equal(sgd.hist_edges, pde.grid_edges)
    assert sgd.attrs["hist_variable"] == "norm"
    np.testing.assert_allclose(pde.cell_masses.sum(axis=1), 1.0, atol=1e-12)
    assert cmp_.metrics["D"] == TINY["d"] + 1
    # both start from the same law: initial risks agree to the 1/N scale
    assert abs(pde.risk[0] - sgd.risk[:, 0].mean()) < 0.05


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"k": 0}, "'k'"),
        ({"target": "staircase", "k": 3, "d": 2, "init": "degenerate"}, "'k'"),
        ({"target": "nope"}, "'target'"),
        ({"lr_ratio": -1}, "'lr_ratio'"),
        ({"k": 2}, "'k'"),  # the single-index target needs k = 1
        ({"kapa": 1.0}, "did you mean 'kappa'"),
    ],
)
def test_bad_multiindex_parameters_name_the_parameter(params, name):
    with pytest.raises(ValueError, match=name):
        resolve("single-index-quick", params)


def test_cli_rejects_a_bad_parameter_with_one_line(capsys):
    assert main(["validate", "single-index-quick", "-q", "-p", "lr_ratio=-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'lr_ratio'" in err


def test_cli_refuses_sgd_for_the_spherical_model(capsys):
    assert main(["validate", "bmz23", "-q"]) == 2
    assert "'spherical'" in capsys.readouterr().err


def test_cli_pde_staircase_learns_in_staircase_order(tmp_path, capsys):
    out = tmp_path / "stair.h5"
    code = main(["pde", "staircase", "-q", "-p", "atoms_a=4", "-p", "t_max=12",
                 "-p", "n_times=120", "-p", "t_min=0.1", "-o", str(out)])
    assert code == 0
    res = io.load(out)
    sets = [tuple(S) for S in res.pde.attrs["fourier_sets"]]
    fourier = res.pde.extra["fourier"]
    assert fourier.shape == (120, 16)
    t = res.pde.t
    first = []  # first time each staircase coefficient reaches 0.1 (linear interpolation)
    for S in [(0,), (0, 1), (0, 1, 2), (0, 1, 2, 3)]:
        c = fourier[:, sets.index(S)]
        assert c[-1] > 0.1, S
        i = int(np.argmax(c > 0.1))
        first.append(t[i - 1] + (0.1 - c[i - 1]) * (t[i] - t[i - 1]) / (c[i] - c[i - 1]))
    assert np.all(np.diff(first) > 0.1), first
    assert res.pde.risk[-1] < 0.5 * res.pde.risk[0]


def test_reduced_initial_risk_equals_sgd_exact_risk_of_a_large_network():
    """t = 0, Gaussian latent, k = 2: the PDE's risk of the initial law against the exact
    population risk of N = 2000 neurons drawn from it (mean of 8 draws)."""
    params = {"inputs": "gaussian", "k": 2, "d": 200, "target": "staircase",
              "a_law": "normal", "a_init": 0.5, "a_spread": 1.0, "kappa": 1.0,
              "t_max": 1e-3, "t_min": 1e-4, "n_times": 2, "n_snapshots": 2, "atoms_a": 4,
              "atoms_s": 4, "atoms_r": 2, "latent_nodes": 16, "N": 2000}
    res = api.run_pde("single-index-quick", params, progress=False)
    cfg = res.config
    expansion = hermite_expansion(make_target(sgd_target(cfg), cfg["k"]))
    act = build_activation(cfg)
    risks = []
    for seed in range(8):
        A, W = initial_parameters(np.random.default_rng(seed), cfg["N"], cfg["d"], cfg["k"],
                                  a_init=cfg["a_init"], a_std=cfg["a_spread"],
                                  kappa=cfg["kappa"])
        risks.append(multiindex_gaussian_risk(W, A, expansion, act))
    risks = np.array(risks)
    stderr = risks.std(ddof=1) / np.sqrt(risks.size)
    # Monte-Carlo error plus the O(1/N) diagonal and O(1/d) kernel corrections
    assert abs(res.pde.risk[0] - risks.mean()) < 4 * stderr + 2e-3
    assert res.pde.risk[0] > 1.5  # a non-trivial initial risk (E φ² = 2)
