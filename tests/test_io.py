"""Tests of the HDF5 result files: exact round trips, atomic writes, refusal of bad files."""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reducedpde
from reducedpde import atomic, io
from reducedpde.results import ComparisonResult, PDEResult, RunResult, SGDResult

# -- helpers ---------------------------------------------------------------------------



@contextlib.contextmanager
def edited(path):
    """Edit a saved file with h5py, then re-stamp its checksum (as a writer would)."""
    with h5py.File(path, "a") as f:
        yield f
    io._write_checksum(path)

def _same(a, b) -> bool:
    """Exact equality of JSON-like values, with matching types and nan == nan."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b


def _assert_array_identical(got, want):
    want = np.asarray(want)
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".tmp-" in p.name)


CONFIG = {
    "model": "gaussians",
    "d": 320,
    "delta": 0.5,
    "kappa": [0.1, 0.4],
    "beta": math.inf,
    "lam": -math.inf,
    "third": 1.0 / 3.0,
    "tiny": 5e-324,
    "neg_zero": -0.0,
    "big_int": 2**70,
    "noisy": False,
    "activation": {"kind": "piecewise-linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]},
    "nested": {"a": {"b": [1, [2.5, None], {"c": "x"}]}},
    "empty_dict": {},
    "empty_list": [],
    "unicode": "σ_r(t) — Δ",
    "prefix_lookalike": "json:[1, 2]",
}

PDE_ATTRS = {
    "solver": "scharfetter-gummel",
    "n_cells": 400,
    "wall_time": 1.25,
    "adaptive": True,
    "checkpoint": None,
    "tolerances": {"rtol": 1e-8, "atol": math.inf},
    "flags": [1, "two", 3.0, False, None],
    "nan_value": math.nan,
    "huge_int": 2**80,
    "empty": "",
    "looks_like_json": "json:null",
    "with_nul": "a\x00b",
    "unicode": "β = 2d, κ ∈ {0.1, 0.4}",
    "vector": np.array([1.5, -2.0, np.inf]),
    "int_vector": np.arange(4, dtype=np.int32),
}


def make_pde(n_t=7, n_s=3, n_cells=11) -> PDEResult:
    rng = np.random.default_rng(1)
    return PDEResult(
        t=np.linspace(0.0, 2.0, n_t),
        risk=rng.random(n_t),
        mean_norm=rng.random(n_t).astype(np.float32),
        snapshot_times=np.array([0.0, 1.0, 2.0])[:n_s],
        densities=rng.random((n_s, n_cells)),
        grid_edges=np.linspace(0.0, 3.0, n_cells + 1),
        attrs=dict(PDE_ATTRS),
        extra={
            "free_energy": rng.standard_normal(n_t),
            "steps": np.arange(n_t, dtype=np.int64),
            "positive": rng.random(n_t) > 0.5,
            "complex": rng.standard_normal(n_t) + 1j * rng.standard_normal(n_t),
            "big_endian": np.arange(n_t, dtype=">f8"),
            "scalar": np.array(3.5),
            "empty": np.zeros((0, 4)),
        },
    )


def make_sgd(n_seeds=3, n_t=5, n_s=2, n_bins=8) -> SGDResult:
    rng = np.random.default_rng(2)
    return SGDResult(
        t=np.linspace(0.0, 1.0, n_t),
        risk=rng.random((n_seeds, n_t)),
        mean_norm=rng.random((n_seeds, n_t)),
        snapshot_times=np.array([0.0, 1.0])[:n_s],
        histograms=rng.random((n_seeds, n_s, n_bins)),
        hist_edges=np.linspace(0.0, 2.0, n_bins + 1),
        seeds=np.arange(10, 10 + n_seeds, dtype=np.uint32),
        attrs={"N": 800, "d": 320, "eps": 1e-4, "seeds_from": [1, 2, 3], "tag": None},
        extra={"final_weights": rng.standard_normal((n_seeds, 4, 6)).astype(np.float32)},
    )


def make_comparison() -> ComparisonResult:
    return ComparisonResult(
        metrics={
            "sup_risk": 0.0123,
            "sup_mean_norm": 0.004,
            "w1_max": math.nan,
            "per_seed": [0.1, 0.2],
            "count": 3,
        },
        tolerance=0.05,
        passed=False,
        arrays={"w1": np.linspace(0.0, 0.1, 5), "t": np.linspace(0.0, 1.0, 5)},
    )


def make_run(**parts) -> RunResult:
    kwargs = {"pde": make_pde(), "sgd": make_sgd(), "comparison": make_comparison()}
    kwargs.update(parts)
    return RunResult(
        scenario="mmn18-fig4",
        config=dict(CONFIG),
        attrs={"host_note": "first run", "repeat": 2, "ok": True},
        **kwargs,
    )


@pytest.fixture
def saved(tmp_path):
    run = make_run()
    path = io.save(run, tmp_path / "run.h5")
    return run, path


# -- round trips -----------------------------------------------------------------------


def test_save_returns_the_path_written(tmp_path):
    path = io.save(make_run(), str(tmp_path / "out.h5"))
    assert path == tmp_path / "out.h5"
    assert path.is_file()
    assert _leftovers(tmp_path) == []


def test_pde_arrays_round_trip_exactly(saved):
    run, path = saved
    got = io.load(path).pde
    for name in ("t", "risk", "mean_norm", "snapshot_times", "densities", "grid_edges"):
        _assert_array_identical(getattr(got, name), getattr(run.pde, name))


def test_sgd_arrays_round_trip_exactly(saved):
    run, path = saved
    got = io.load(path).sgd
    for name in ("t", "risk", "mean_norm", "snapshot_times", "histograms", "hist_edges", "seeds"):
        _assert_array_identical(getattr(got, name), getattr(run.sgd, name))


def test_extra_arrays_round_trip_exactly(saved):
    run, path = saved
    got = io.load(path)
    assert list(got.pde.extra) == list(run.pde.extra)
    for name, want in run.pde.extra.items():
        _assert_array_identical(got.pde.extra[name], want)
    assert list(got.sgd.extra) == list(run.sgd.extra)
    _assert_array_identical(got.sgd.extra["final_weights"], run.sgd.extra["final_weights"])


def test_group_attrs_round_trip_exactly(saved):
    run, path = saved
    got = io.load(path)
    assert _same(got.pde.attrs, run.pde.attrs)
    assert _same(got.sgd.attrs, run.sgd.attrs)


def test_attr_scalars_come_back_as_python_types(saved):
    _, path = saved
    attrs = io.load(path).pde.attrs
    assert type(attrs["n_cells"]) is int
    assert type(attrs["wall_time"]) is float
    assert type(attrs["adaptive"]) is bool
    assert type(attrs["solver"]) is str
    assert attrs["checkpoint"] is None


def test_numpy_scalar_attrs_are_stored_as_python_scalars(tmp_path):
    run = RunResult(
        "s",
        {},
        attrs={"f": np.float32(0.5), "i": np.int16(-3), "b": np.bool_(True), "c": 1 + 2j},
    )
    got = io.load(io.save(run, tmp_path / "s.h5")).attrs
    assert _same(got, {"f": 0.5, "i": -3, "b": True, "c": 1 + 2j})


def test_run_attrs_round_trip_exactly(saved):
    run, path = saved
    assert _same(io.load(path).attrs, run.attrs)


def test_config_round_trips_exactly(saved):
    run, path = saved
    config = io.load(path).config
    assert _same(config, run.config)
    assert config["beta"] == math.inf and config["lam"] == -math.inf
    assert math.copysign(1.0, config["neg_zero"]) == -1.0
    assert type(config["d"]) is int and type(config["delta"]) is float


def test_config_nan_round_trips(tmp_path):
    run = RunResult("nan", {"x": math.nan, "l": [math.nan, 1.0]})
    got = io.load(io.save(run, tmp_path / "nan.h5")).config
    assert math.isnan(got["x"]) and math.isnan(got["l"][0]) and got["l"][1] == 1.0


def test_config_tuples_and_numpy_values_become_json(tmp_path):
    run = RunResult(
        "np", {"pair": (1, 2), "x": np.float64(0.1), "n": np.int64(7), "v": np.arange(3)}
    )
    got = io.load(io.save(run, tmp_path / "np.h5")).config
    assert _same(got, {"pair": [1, 2], "x": 0.1, "n": 7, "v": [0, 1, 2]})


def test_comparison_round_trips(saved):
    run, path = saved
    got = io.load(path).comparison
    assert got.tolerance == run.comparison.tolerance and type(got.tolerance) is float
    assert got.passed is False
    assert _same(got.metrics, run.comparison.metrics)
    assert list(got.arrays) == list(run.comparison.arrays)
    for name, want in run.comparison.arrays.items():
        _assert_array_identical(got.arrays[name], want)


def test_scenario_round_trips(saved):
    run, path = saved
    assert io.load(path).scenario == run.scenario


def test_scenario_that_looks_like_json_round_trips(tmp_path):
    run = RunResult("json:[1]", {})
    assert io.load(io.save(run, tmp_path / "s.h5")).scenario == "json:[1]"


def test_root_bookkeeping_attributes(saved):
    _, path = saved
    with h5py.File(path, "r") as f:
        assert f.attrs["format_version"] == io.FORMAT_VERSION
        assert f.attrs["package"] == "reducedpde"
        assert f.attrs["package_version"] == reducedpde.__version__
        assert f.attrs["scenario"] == "mmn18-fig4"
        assert isinstance(f.attrs["config"], str)
    meta = io.read_metadata(path)
    created = datetime.fromisoformat(meta["created"])
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)
    assert meta["format_version"] == io.FORMAT_VERSION


def test_file_with_only_pde(tmp_path):
    run = make_run(sgd=None, comparison=None)
    got = io.load(io.save(run, tmp_path / "pde.h5"))
    assert got.sgd is None and got.comparison is None
    _assert_array_identical(got.pde.densities, run.pde.densities)
    with h5py.File(tmp_path / "pde.h5", "r") as f:
        assert set(f) == {"pde"}


def test_file_with_only_sgd(tmp_path):
    run = make_run(pde=None, comparison=None)
    got = io.load(io.save(run, tmp_path / "sgd.h5"))
    assert got.pde is None and got.comparison is None
    _assert_array_identical(got.sgd.risk, run.sgd.risk)


def test_file_without_any_part(tmp_path):
    run = RunResult("empty", {"a": 1})
    got = io.load(io.save(run, tmp_path / "empty.h5"))
    assert (got.pde, got.sgd, got.comparison) == (None, None, None)
    assert got.config == {"a": 1} and got.attrs == {}


def test_large_arrays_are_compressed_and_exact(tmp_path):
    pde = make_pde()
    rng = np.random.default_rng(3)
    pde.densities = rng.random((20, 2000))
    pde.extra = {"big": np.arange(50_000, dtype=np.int32)}
    got = io.load(io.save(RunResult("big", {}, pde=pde), tmp_path / "big.h5"))
    _assert_array_identical(got.pde.densities, pde.densities)
    _assert_array_identical(got.pde.extra["big"], pde.extra["big"])
    with h5py.File(tmp_path / "big.h5", "r") as f:
        assert f["pde/densities"].compression == "gzip"
        assert f["pde/t"].compression is None


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "run.h5"
    io.save(RunResult("first", {}), path)
    io.save(RunResult("second", {}), path)
    assert io.load(path).scenario == "second"
    assert _leftovers(tmp_path) == []


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(config=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5), value=JSON_VALUES)
def test_any_json_value_round_trips_as_config_and_attr(tmp_path, config, value):
    run = RunResult("prop", config, attrs={"value": value})
    got = io.load(io.save(run, tmp_path / "prop.h5"))
    assert _same(got.config, config)
    assert _same(got.attrs["value"], value)


# -- refusing bad input on save --------------------------------------------------------


def test_unsupported_attr_value_raises_type_error_and_writes_nothing(tmp_path):
    run = make_run()
    run.pde.attrs["bad"] = object()
    with pytest.raises(TypeError, match="bad"):
        io.save(run, tmp_path / "run.h5")
    assert list(tmp_path.iterdir()) == []


def test_non_numeric_array_is_refused(tmp_path):
    run = make_run()
    run.pde.extra["labels"] = np.array(["a", "b"])
    with pytest.raises(TypeError, match="labels"):
        io.save(run, tmp_path / "run.h5")
    assert list(tmp_path.iterdir()) == []


def test_non_string_config_key_is_refused(tmp_path):
    with pytest.raises(TypeError, match="keys must be str"):
        io.save(RunResult("k", {1: "a"}), tmp_path / "k.h5")


def test_reserved_run_attr_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        io.save(RunResult("r", {}, attrs={"config": "x"}), tmp_path / "r.h5")


def test_extra_name_with_slash_is_refused(tmp_path):
    pde = make_pde()
    pde.extra = {"a/b": np.zeros(2)}
    with pytest.raises(ValueError, match="a/b"):
        io.save(RunResult("r", {}, pde=pde), tmp_path / "r.h5")


# -- atomicity -------------------------------------------------------------------------


def test_failed_save_leaves_previous_file_unchanged(tmp_path, monkeypatch):
    path = tmp_path / "run.h5"
    io.save(make_run(), path)
    before = path.read_bytes()
    original = io._write_array
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 4:
            raise RuntimeError("disk on fire")
        return original(*args, **kwargs)

    monkeypatch.setattr(io, "_write_array", flaky)
    with pytest.raises(RuntimeError, match="disk on fire"):
        io.save(RunResult("other", {"x": 1}, pde=make_pde()), path)
    assert len(calls) == 4
    assert path.read_bytes() == before
    assert io.load(path).scenario == "mmn18-fig4"
    assert _leftovers(tmp_path) == []


def test_failed_first_save_creates_no_file(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(io, "_write_comparison", boom)
    with pytest.raises(KeyboardInterrupt):
        io.save(make_run(), tmp_path / "run.h5")
    assert list(tmp_path.iterdir()) == []


def test_failure_at_rename_removes_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "run.h5"
    io.save(RunResult("old", {}), path)

    def no_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(atomic.os, "replace", no_replace)
    with pytest.raises(OSError, match="rename failed"):
        io.save(RunResult("new", {}), path)
    monkeypatch.undo()
    assert io.load(path).scenario == "old"
    assert _leftovers(tmp_path) == []


# -- refusing bad files on load --------------------------------------------------------


def _load_error(path) -> str:
    with pytest.raises(io.ResultFileError) as excinfo:
        io.load(path)
    message = str(excinfo.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_result_file_error_is_a_value_error():
    assert issubclass(io.ResultFileError, ValueError)


def test_load_missing_file(tmp_path):
    assert "no such file" in _load_error(tmp_path / "absent.h5")


def test_load_directory(tmp_path):
    assert "directory" in _load_error(tmp_path)


def test_load_random_bytes(tmp_path):
    path = tmp_path / "noise.h5"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    assert "not an HDF5 file" in _load_error(path)


def test_load_empty_file(tmp_path):
    path = tmp_path / "empty.h5"
    path.write_bytes(b"")
    assert "not an HDF5 file" in _load_error(path)


def test_load_truncated_file(saved):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in _load_error(path)


def test_load_foreign_hdf5_file(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f["t"] = np.arange(3.0)
        f.attrs["format_version"] = 1
    assert "foreign" in _load_error(path)


def test_load_file_of_another_package(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.attrs["package"] = "otherpkg"
        f.attrs["format_version"] = 1
    message = _load_error(path)
    assert "foreign" in message and "otherpkg" in message


def test_load_file_without_format_version(saved):
    _, path = saved
    with edited(path) as f:
        del f.attrs["format_version"]
    assert "format_version" in _load_error(path)


def test_load_newer_format_version(saved):
    _, path = saved
    with edited(path) as f:
        f.attrs["format_version"] = io.FORMAT_VERSION + 1
    message = _load_error(path)
    assert "newer reducedpde" in message and "upgrade" in message


def test_load_missing_dataset(saved):
    _, path = saved
    with edited(path) as f:
        del f["pde/risk"]
    assert "/pde/risk" in _load_error(path)


def test_load_missing_sgd_dataset(saved):
    _, path = saved
    with edited(path) as f:
        del f["sgd/histograms"]
    assert "/sgd/histograms" in _load_error(path)


def test_load_missing_comparison_metrics_group(saved):
    _, path = saved
    with edited(path) as f:
        del f["comparison/metrics"]
    assert "/comparison/metrics" in _load_error(path)


def test_load_missing_comparison_attribute(saved):
    _, path = saved
    with edited(path) as f:
        del f["comparison"].attrs["tolerance"]
    assert "tolerance" in _load_error(path)


def test_load_missing_config(saved):
    _, path = saved
    with edited(path) as f:
        del f.attrs["config"]
    assert "config" in _load_error(path)


def test_load_group_where_dataset_expected(saved):
    _, path = saved
    with edited(path) as f:
        del f["pde/t"]
        f["pde"].create_group("t")
    assert "/pde/t" in _load_error(path)


# -- summary ---------------------------------------------------------------------------


def test_info_summarises_the_file(saved):
    run, path = saved
    text = io.info(path)
    assert "mmn18-fig4" in text
    for group in ("/pde", "/sgd", "/comparison"):
        assert group in text
    assert "densities" in text and str(run.pde.densities.shape) in text
    assert f"{run.pde.risk[-1]:.6g}" in text
    assert f"{run.sgd.risk[:, -1].mean():.6g}" in text
    assert "solver=scharfetter-gummel" in text
    assert "FAILED" in text
    assert reducedpde.__version__ in text


def test_info_refuses_bad_files(tmp_path):
    path = tmp_path / "noise.h5"
    path.write_bytes(os.urandom(100))
    with pytest.raises(io.ResultFileError, match="not an HDF5 file"):
        io.info(path)


def test_load_without_extra_group_gives_empty_extra(saved):
    _, path = saved
    with edited(path) as f:
        del f["pde/extra"]
    assert io.load(path).pde.extra == {}


def test_file_changed_after_saving_fails_the_checksum(saved):
    _, path = saved
    with h5py.File(path, "a") as f:
        f["pde/risk"][0] = 42.0
    with pytest.raises(io.ResultFileError, match="checksum mismatch"):
        io.load(path)


def test_flipped_bytes_are_caught_before_hdf5_parses_the_file(saved, tmp_path):
    _, path = saved
    raw = bytearray(path.read_bytes())
    rng = np.random.default_rng(140)
    for _ in range(20):
        damaged = bytearray(raw)
        for pos in rng.integers(io.USERBLOCK_SIZE, len(raw), size=16):
            damaged[pos] ^= 0xFF
        bad = tmp_path / "flipped.h5"
        bad.write_bytes(bytes(damaged))
        with pytest.raises(io.ResultFileError, match=r"checksum mismatch|not an HDF5"):
            io.load(bad)


def test_temporary_files_of_dead_writers_are_removed_by_the_next_save(tmp_path):
    from reducedpde.results import RunResult

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    orphan = tmp_path / f".run.tmp-{int(dead.stdout)}-0123abcd.h5"
    orphan.write_bytes(b"half-written")
    other = tmp_path / ".other.tmp-1-0123abcd.h5"  # another target: not touched
    other.write_bytes(b"x")
    io.save(RunResult(scenario="gaussians", config={}), tmp_path / "run.h5")
    assert not orphan.exists()
    assert other.exists()
