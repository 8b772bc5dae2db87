"""The validation pipeline: PDE + SGD + comparison, HDF5 layout, CLI verdicts."""

import copy

import h5py
import numpy as np
import pytest

from reducedpde import api, io
from reducedpde.cli import main
from reducedpde.compare import (
    compare,
    mmn18_error_scale,
    wasserstein1_histograms,
    wasserstein1_samples,
)

TINY = {"d": 10, "N": 20, "eps": 1e-4, "t_max": 0.5, "t_min": 0.01, "kappa": 0.4,
        "cells": 200, "n_times": 12, "n_snapshots": 4, "seeds": 2, "kernel_tol": 1e-6}


@pytest.fixture(scope="module")
def tiny_run():
    return api.validate("gaussians", TINY, progress=False)


@pytest.fixture(scope="module")
def tiny_file(tiny_run, tmp_path_factory):
    return io.save(tiny_run, tmp_path_factory.mktemp("validate") / "tiny.h5")


def test_validation_file_has_the_documented_layout(tiny_file):
    with h5py.File(tiny_file) as fh:
        assert {"format_version", "package", "package_version", "scenario", "config",
                "created"} <= set(fh.attrs)
        assert {"pde", "sgd", "comparison"} <= set(fh)
        for name in ("t", "risk", "mean_norm", "snapshot_times", "densities", "grid_edges"):
            assert name in fh["pde"]
        for name in ("t", "risk", "mean_norm", "snapshot_times", "histograms", "hist_edges",
                     "seeds"):
            assert name in fh["sgd"]
        assert fh["sgd/risk"].shape == (2, 12)
        assert fh["pde/densities"].shape == (4, 200)
        assert {"tolerance", "passed"} <= set(fh["comparison"].attrs)


def test_load_round_trips_every_array_and_the_config(tiny_run, tiny_file):
    loaded = io.load(tiny_file)
    assert loaded.config == tiny_run.config
    for part in ("pde", "sgd"):
        original, back = getattr(tiny_run, part), getattr(loaded, part)
        for name, value in vars(original).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(getattr(back, name), value)
    assert loaded.comparison.metrics == tiny_run.comparison.metrics
    assert loaded.comparison.passed == tiny_run.comparison.passed


def test_sgd_records_at_the_pde_times(tiny_run):
    np.testing.assert_allclose(tiny_run.sgd.t, tiny_run.pde.t, rtol=0, atol=TINY["eps"])


def _as_sgd(pde, sgd_template):
    """An SGD result whose curves and histograms are exactly the PDE's."""
    fake = copy.deepcopy(sgd_template)
    fake.t = pde.t.copy()
    fake.risk = np.stack([pde.risk, pde.risk])
    fake.mean_norm = np.stack([pde.mean_norm, pde.mean_norm])
    fake.snapshot_times = pde.snapshot_times.copy()
    fake.hist_edges = pde.grid_edges.copy()
    fake.histograms = np.stack([pde.densities, pde.densities])
    fake.extra = {}  # no per-neuron samples: W1 from the histograms
    return fake


def test_comparison_is_zero_for_identical_inputs_and_grows_with_perturbation(tiny_run):
    pde = tiny_run.pde
    same = _as_sgd(pde, tiny_run.sgd)
    zero = compare(pde, same, n_neurons=20, eps=1e-4, dim=10)
    assert zero.metrics["sup_risk"] == 0.0
    assert zero.metrics["sup_mean_norm"] == 0.0
    assert zero.metrics["max_w1"] < 1e-14
    shifted = _as_sgd(pde, tiny_run.sgd)
    shifted.risk = shifted.risk + 0.01
    shifted.hist_edges = shifted.hist_edges + 0.05
    perturbed = compare(pde, shifted, n_neurons=20, eps=1e-4, dim=10)
    assert perturbed.metrics["sup_risk"] == pytest.approx(0.01)
    assert perturbed.metrics["max_w1"] == pytest.approx(0.05, rel=1e-6)


def test_wasserstein_distance_of_shifted_histograms_is_the_shift():
    edges = np.linspace(0, 1, 11)
    density = np.full(10, 1.0)
    assert wasserstein1_histograms(edges, density, edges + 0.3, density) == pytest.approx(0.3)
    assert wasserstein1_histograms(edges, density, edges, density) == 0.0


def test_tolerance_is_the_mmn18_scale():
    assert mmn18_error_scale(800, 1e-4, 320) == pytest.approx(
        np.sqrt(1 / 800) * np.sqrt(320 + np.log(800 / 1e-4))
    )


def test_cli_validate_writes_file_and_plot_and_returns_verdict(tmp_path, capsys):
    out, png = tmp_path / "v.h5", tmp_path / "v.png"
    args = ["validate", "gaussians", "-q", "-o", str(out), "--plot", str(png)]
    for key, value in TINY.items():
        args += ["-p", f"{key}={value}"]
    code = main(args)
    text = capsys.readouterr().out
    assert code in (0, 1)
    assert ("PASS" in text) == (code == 0)
    assert "sup_t |R_sgd - R_pde|" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert io.load(out).comparison is not None


def test_cli_plot_writes_a_png(tiny_file, tmp_path):
    png = tmp_path / "risk.png"
    dens = tmp_path / "dens.png"
    assert main(["plot", str(tiny_file), "-o", str(png), "--densities", str(dens)]) == 0
    assert png.stat().st_size > 1000 and dens.stat().st_size > 1000


@pytest.mark.parametrize("command", ["plot", "info"])
def test_cli_refuses_foreign_and_truncated_files(tmp_path, tiny_file, capsys, command):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as fh:
        fh["x"] = np.arange(3)
    truncated = tmp_path / "truncated.h5"
    data = tiny_file.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    for path in (foreign, truncated):
        assert main([command, str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and str(path) in err


NOISY = {"N": 100, "d": 20, "eps": 2e-5, "t_max": 6.0, "seeds": 2, "kernel_tol": 1e-8,
         "cells": 600, "r_max": 6.0, "n_snapshots": 4}


@pytest.fixture(scope="module")
def noisy_run():
    return api.validate("gaussians-noisy", NOISY, progress=False)


def _w1_to_pde(run, pde):
    hist = run.sgd.histograms.mean(axis=0)[-1]
    return wasserstein1_histograms(run.sgd.hist_edges, hist, pde.grid_edges, pde.densities[-1])


def test_noisy_sgd_reaches_the_pde_steady_state(noisy_run):
    """Long-time SGD histogram of ‖w‖ vs the PDE steady state, within the package tolerance,
    and closer to it than to the steady states at β/2 and 2β (the latter is what the
    √(2s/β) noise convention would produce)."""
    w1 = _w1_to_pde(noisy_run, noisy_run.pde)
    assert w1 <= noisy_run.comparison.tolerance
    beta = noisy_run.config["beta"]
    for other_beta in (beta / 2, 2 * beta):
        other = api.run_pde("gaussians-noisy", {**NOISY, "beta": other_beta}, progress=False)
        assert w1 < _w1_to_pde(noisy_run, other.pde)


def test_wasserstein_distance_of_samples_matches_scipy():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(0)
    samples = rng.normal(1.0, 0.2, 300)
    edges = np.linspace(0, 2, 2001)
    centres = 0.5 * (edges[1:] + edges[:-1])
    density = np.exp(-0.5 * ((centres - 1.1) / 0.25) ** 2)
    density /= density.sum() * 0.001
    # the histogram law is close to a fine sample from it
    fine = rng.choice(centres, size=400_000, p=density * 0.001) + rng.uniform(-5e-4, 5e-4, 400_000)
    expected = wasserstein_distance(samples, fine)
    assert wasserstein1_samples(samples, edges, density) == pytest.approx(expected, abs=2e-3)
