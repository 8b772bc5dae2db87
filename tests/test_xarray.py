"""Labelled arrays: HDF5 result -> xarray.Dataset -> netCDF -> xarray.Dataset."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")

import reducedpde as rp  # noqa: E402
from reducedpde import cli, io, labelled  # noqa: E402

SMALL = {"t_max": 0.05, "N": 20, "cells": 200, "n_times": 8, "seeds": 2}
STAIRCASE = Path(__file__).resolve().parents[1] / "validation" / "results" / "staircase.h5"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("xarray") / "small.h5"
    io.save(rp.validate("gaussians-quick", SMALL, progress=False), path)
    return path, io.load(path)


def test_round_trip_through_netcdf_is_identical(small, tmp_path):
    path, _ = small
    ds = rp.open_dataset(path)
    rp.to_netcdf(ds, tmp_path / "run.nc")
    xr.testing.assert_identical(rp.open_dataset(tmp_path / "run.nc"), ds)


def test_values_are_the_result_arrays(small):
    _, res = small
    ds = res.to_xarray()
    np.testing.assert_array_equal(ds.pde_risk.values, res.pde.risk)
    np.testing.assert_array_equal(ds.pde_density.values, res.pde.densities)
    np.testing.assert_array_equal(ds.sgd_risk.values, res.sgd.risk)
    np.testing.assert_array_equal(ds.sgd_histogram.values, res.sgd.histograms)
    np.testing.assert_array_equal(ds.sgd_snapshot_norm.values, res.sgd.extra["snapshot_norm"])
    np.testing.assert_array_equal(ds.comparison_risk_gap.values, res.comparison.arrays["risk_gap"])


def test_coordinates_label_time_seed_and_grid(small):
    _, res = small
    ds = res.to_xarray()
    assert ds.pde_risk.dims == ("pde_t",)
    assert ds.pde_density.dims == ("pde_snapshot_t", "norm")
    assert ds.sgd_risk.dims == ("seed", "sgd_t")
    assert ds.sgd_histogram.dims == ("seed", "sgd_snapshot_t", "bin")
    np.testing.assert_array_equal(ds.pde_t.values, res.pde.t)
    np.testing.assert_array_equal(ds.seed.values, res.sgd.seeds)
    np.testing.assert_array_equal(ds.norm.values, res.pde.grid_centres)
    np.testing.assert_array_equal(ds.norm_edge.values, res.pde.grid_edges)
    np.testing.assert_array_equal(ds.bin_edge.values, res.sgd.hist_edges)
    assert ds.pde_t.attrs["units"] == "1"


def test_attrs_hold_the_config_and_the_run_attributes(small):
    path, res = small
    ds = rp.open_dataset(path)
    assert json.loads(ds.attrs["config"]) == res.config
    assert ds.attrs["scenario"] == "gaussians-quick"
    assert ds.attrs["source_file"] == str(path.resolve())
    assert ds.attrs["pde_solver"] == res.pde.attrs["solver"]
    assert ds.attrs["sgd_N"] == res.sgd.attrs["N"]
    assert labelled.decode_attr(ds.attrs["comparison_passed"]) is res.comparison.passed
    assert labelled.decode_attr(ds.attrs["sgd_interrupted"]) is False


def test_multiindex_result_has_overlap_and_fourier_coordinates():
    res = io.load(STAIRCASE)
    ds = res.to_xarray()
    assert ds.pde_mean_s.dims == ("pde_t", "latent")
    np.testing.assert_array_equal(ds.latent.values, [1, 2, 3, 4])
    assert ds.sgd_snapshot_s.dims == ("seed", "sgd_snapshot_t", "particle", "latent")
    assert ds.pde_fourier.dims == ("pde_t", "fourier_set")
    assert list(ds.fourier_set.values[:6]) == ["1", "z1", "z2", "z3", "z4", "z1z2"]
    np.testing.assert_array_equal(ds.pde_fourier.sel(fourier_set="z1").values,
                                  res.pde.extra["fourier"][:, 1])


def test_export_command_writes_netcdf(small, tmp_path, capsys):
    path, res = small
    out = tmp_path / "run.nc"
    assert cli.main(["export", str(path), "-o", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    np.testing.assert_array_equal(rp.open_dataset(out).pde_risk.values, res.pde.risk)


def test_failed_write_keeps_the_existing_file(small, tmp_path):
    _, res = small
    out = tmp_path / "run.nc"
    rp.to_netcdf(res, out)
    before = out.read_bytes()
    bad = res.to_xarray()
    bad.attrs["unstorable"] = {"a": 1}  # a dict attribute: netCDF refuses it
    with pytest.raises((TypeError, ValueError)):
        rp.to_netcdf(bad, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]


def test_open_dataset_refuses_other_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        rp.open_dataset(tmp_path / "missing.nc")
    junk = tmp_path / "junk.nc"
    junk.write_text("not a result")
    with pytest.raises(ValueError, match="neither a reducedpde result"):
        rp.open_dataset(junk)


def test_missing_xarray_gives_the_install_command(small, monkeypatch):
    _, res = small
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(labelled.MissingDependencyError, match=r"reducedpde\[xarray\]"):
        res.to_xarray()


def test_export_command_without_xarray_exits_2_with_the_install_command(small, tmp_path,
                                                                       monkeypatch, capsys):
    path, _ = small
    monkeypatch.setitem(sys.modules, "xarray", None)
    assert cli.main(["export", str(path), "-o", str(tmp_path / "run.nc")]) == 2
    assert 'pip install "reducedpde[xarray]"' in capsys.readouterr().err
    assert not (tmp_path / "run.nc").exists()
