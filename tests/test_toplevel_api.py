"""The top-level API: ``import reducedpde as rp`` gives the lazy names of the package."""

import subprocess
import sys

import numpy as np
import pytest

import reducedpde as rp
from reducedpde import api, io, scenarios
from reducedpde.results import RunResult

SMALL = {"t_max": 0.05, "N": 20, "cells": 200, "n_times": 8, "seeds": 2}


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("toplevel") / "small.h5"
    rp.save(rp.validate("gaussians-quick", SMALL, progress=False), path)
    return path


def test_import_loads_no_heavy_dependency():
    code = ("import sys, reducedpde; "
            "print(sorted(m for m in ('numpy', 'numba', 'h5py', 'matplotlib', 'xarray') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name, module, attribute", [
    ("run_pde", api, "run_pde"),
    ("run_sgd", api, "run_sgd"),
    ("validate", api, "validate"),
    ("save", io, "save"),
    ("info", io, "info"),
    ("list_scenarios", scenarios, "list_scenarios"),
    ("get_scenario", scenarios, "get_scenario"),
])
def test_lazy_names_are_the_package_functions(name, module, attribute):
    assert getattr(rp, name) is getattr(module, attribute)


def test_plot_is_the_plot_module():
    import reducedpde.plot

    assert rp.plot is reducedpde.plot
    assert callable(rp.plot.risk_curves)


def test_labelled_and_animation_names():
    from reducedpde import animation, display, labelled

    assert rp.to_xarray is labelled.to_xarray
    assert rp.open_dataset is labelled.open_dataset
    assert rp.to_netcdf is labelled.to_netcdf
    assert rp.animate is animation.animate
    assert rp.load is display.load
    assert rp.RunResult is RunResult


def test_sweep_is_the_callable_sweep_module_or_says_it_is_absent():
    code = (
        "import reducedpde as rp\n"
        "if 'sweep' in rp.__all__:\n"
        "    import reducedpde.sweep as module\n"
        "    print('present', rp.sweep is module and callable(rp.sweep))\n"
        "else:\n"
        "    try:\n"
        "        rp.sweep\n"
        "    except AttributeError as exc:\n"
        "        print('absent', 'reducedpde.sweep' in str(exc))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split()[1] == "True"


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        rp.no_such_thing  # noqa: B018


def test_dir_and_all_list_the_public_names():
    for name in ("run_pde", "validate", "load", "save", "plot", "open_dataset", "animate"):
        assert name in dir(rp)
        assert name in rp.__all__


def test_list_scenarios_through_the_top_level():
    assert "gaussians-quick" in rp.list_scenarios()


def test_load_reads_the_file_and_records_its_provenance(small_file):
    res = rp.load(small_file)
    plain = io.load(small_file)
    assert res.scenario == plain.scenario and res.config == plain.config
    np.testing.assert_array_equal(res.pde.risk, plain.pde.risk)
    assert res.source["file"] == str(small_file.resolve())
    assert res.source["package_version"] == rp.__version__
    assert "created" in res.source


def test_source_is_not_written_back(small_file, tmp_path):
    res = rp.load(small_file)
    rp.save(res, tmp_path / "again.h5")
    assert io.load(tmp_path / "again.h5").source is None


def test_repr_html_shows_scenario_figures_verdict_and_provenance(small_file):
    res = rp.load(small_file)
    text = res._repr_html_()
    assert "gaussians-quick" in text
    assert f"{res.pde.risk[-1]:.6g}" in text
    words = ("PASS",) if res.comparison.passed else ("FAIL", "INCONCLUSIVE")
    assert any(word in text for word in words)
    assert str(small_file.resolve()) in text
    assert "full configuration" in text


def test_repr_html_of_an_unsaved_result_says_so():
    res = RunResult(scenario="gaussians", config={"N": 3})
    assert "not read from a file" in res._repr_html_()
