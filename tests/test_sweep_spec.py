"""Sweeps without a cluster: specs, task files, per-point comparison, summary, plots, CLI."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from reducedpde import api, io
from reducedpde.cli import main
from reducedpde.sweep import build_plan, combine_seeds, load_spec, parse_spec, read_summary
from reducedpde.sweep.plot import fitted_slope, sweep_plot
from reducedpde.sweep.summary import summary_columns, write_summary
from reducedpde.sweep.tasks import run_point, run_task

TINY = {"t_max": 0.05, "N": 20, "cells": 200, "n_times": 8}


def tiny_spec(**changes):
    spec = {"scenario": "gaussians-quick", "seeds": 2, "parameters": dict(TINY),
            "grid": {"kappa": [0.3, 0.4]}}
    spec.update(changes)
    return spec


# -- spec parsing --------------------------------------------------------------------------


def test_grid_is_the_product_of_its_axes_in_order():
    spec = parse_spec(tiny_spec(grid={"kappa": [0.3, 0.4], "delta": [0.2, 0.5, 0.6]}))
    assert [(p["kappa"], p["delta"]) for p in spec.points] == [
        (k, d) for k in (0.3, 0.4) for d in (0.2, 0.5, 0.6)]
    assert spec.varied == ("kappa", "delta")
    assert all(p["t_max"] == 0.05 for p in spec.points)


def test_zip_axes_vary_together_and_multiply_the_grid():
    spec = parse_spec(tiny_spec(parameters={"t_max": 0.05},
                                zip={"N": [20, 40], "eps": [1e-5, 5e-6]}))
    assert [(p["kappa"], p["N"], p["eps"]) for p in spec.points] == [
        (0.3, 20, 1e-5), (0.3, 40, 5e-6), (0.4, 20, 1e-5), (0.4, 40, 5e-6)]


def test_array_of_zip_tables_gives_one_product_axis_each():
    spec = parse_spec(tiny_spec(parameters={"t_max": 0.05}, grid={},
                                zip=[{"N": [20, 40], "eps": [1e-5, 5e-6]},
                                     {"kappa": [0.3, 0.4], "delta": [0.4, 0.5]}]))
    assert [(p["N"], p["kappa"]) for p in spec.points] == [(20, 0.3), (20, 0.4), (40, 0.3),
                                                           (40, 0.4)]
    assert spec.varied == ("N", "eps", "kappa", "delta")


def test_log_range_of_an_integer_parameter_gives_rounded_integers():
    spec = parse_spec(tiny_spec(parameters={"t_max": 0.05}, grid={
        "N": {"log": [100, 3200], "num": 6}}))
    assert [p["N"] for p in spec.points] == [100, 200, 400, 800, 1600, 3200]


def test_linear_range_of_a_float_parameter():
    spec = parse_spec(tiny_spec(grid={"kappa": {"linear": [0.1, 0.4], "num": 4}}))
    assert [p["kappa"] for p in spec.points] == [0.1, 0.2, 0.3, 0.4]


def test_no_grid_is_a_seed_ensemble_of_one_point():
    spec = parse_spec({"scenario": "gaussians-quick", "seeds": 3, "seed": 5,
                       "parameters": TINY})
    assert len(spec.points) == 1 and spec.seed_list == [5, 6, 7]


def test_overrides_replace_fixed_parameters():
    spec = load_spec(tiny_spec(), overrides={"t_max": 0.02})
    assert {p["t_max"] for p in spec.points} == {0.02}


def test_spec_from_toml_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('scenario = "gaussians-quick"\nseeds = 2\n[parameters]\nt_max = 0.05\n'
                    '[grid]\nkappa = [0.1, 0.4]\n')
    assert [p["kappa"] for p in load_spec(path).points] == [0.1, 0.4]


@pytest.mark.parametrize(("change", "message"), [
    ({"sedes": 3}, r"unknown key\(s\) 'sedes'; allowed keys: scenario"),
    ({"grid": {"kapa": [0.1]}}, r"point 0 \(kapa=0.1\): unknown parameter 'kapa' for scenario "
                                r"'gaussians-quick' \(did you mean 'kappa'\?\)"),
    ({"grid": {"kappa": []}}, r"grid.kappa is empty"),
    ({"grid": {"kappa": [0.4, -1.0]}}, r"point 1 \(kappa=-1.0\): parameter 'kappa' must be "
                                        r"float in \(0, "),
    ({"grid": {"kappa": {"log": [0.0, 1.0], "num": 3}}}, r"grid.kappa.log needs positive ends"),
    ({"grid": {"kappa": {"log": [0.1, 1.0]}}}, r"grid.kappa must be \{log = \[a, b\], num = n\}"),
    ({"grid": {"kappa": 0.4}}, r"grid.kappa must be a list of values or a range table"),
    ({"zip": {"n_times": [8, 9], "eps": [1e-5]}}, r"axes of zip must have equal lengths, got "
                                                   r"n_times: 2, eps: 1"),
    ({"grid": {"seed": [1, 2]}}, r"'seed' cannot be a parameter of a sweep; set the top-level"),
    ({"grid": {"t_max": [0.1]}}, r"'t_max' are both fixed \(under \[parameters\]\) and varied"),
    ({"seeds": 0}, r"'seeds' must be an integer >= 1, got 0"),
    ({"scenario": "gausians"}, r"unknown scenario 'gausians' \(did you mean 'gaussians'\?\)"),
    ({"grid": {"N": {"log": [1, 2], "num": 5}}}, r"grid.N repeats values after rounding"),
])
def test_bad_spec_gives_one_message_naming_the_problem(change, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(tiny_spec(**change))


def test_every_bad_point_is_listed_in_the_one_message():
    with pytest.raises(ValueError, match=r"point 0 \(N=0\).*point 1 \(N=-3\)"):
        parse_spec(tiny_spec(parameters={"t_max": 0.05}, grid={"N": [0, -3]}))


# -- tasks and their files -----------------------------------------------------------------


def test_plan_has_one_pde_per_point_and_one_sgd_per_point_and_seed():
    plan = build_plan(parse_spec(tiny_spec()))
    assert (len(plan.pde), len(plan.sgd), len(plan.points)) == (2, 4, 2)
    assert plan.n_tasks == 8


def test_file_names_are_hashes_of_the_resolved_config():
    a = build_plan(parse_spec(tiny_spec()))
    # the same config written differently (a default given explicitly) gives the same files
    b = build_plan(parse_spec(tiny_spec(parameters={**TINY, "delta": 0.5})))
    assert sorted(a.sgd) == sorted(b.sgd) and sorted(a.pde) == sorted(b.pde)
    c = build_plan(parse_spec(tiny_spec(seed=1)))
    # seeds 1, 2 share seed 1 with seeds 0, 1; the PDE does not depend on the seeds
    assert len(set(a.sgd) & set(c.sgd)) == 2 and sorted(a.pde) == sorted(c.pde)


@pytest.fixture(scope="module")
def point_dir(tmp_path_factory):
    """The PDE and two SGD tasks of the point kappa = 0.4, run in this process."""
    out = tmp_path_factory.mktemp("point")
    plan = build_plan(parse_spec(tiny_spec(grid={"kappa": [0.4]})))
    task, pde_key, sgd_keys = plan.points[0]
    infos = {key: run_task(t, str(out)) for key, t in {**plan.pde, **plan.sgd}.items()}
    row = run_point(task, infos[pde_key], [infos[k] for k in sgd_keys], str(out))
    return out, plan, infos, row


def test_point_file_is_what_validate_returns(point_dir):
    out, _, _, row = point_dir
    point = io.load(out / row["point_file"])
    direct = api.validate("gaussians-quick", {**TINY, "kappa": 0.4, "seeds": 2}, progress=False)
    assert point.config == direct.config
    np.testing.assert_array_equal(point.sgd.risk, direct.sgd.risk)
    np.testing.assert_array_equal(point.sgd.extra["snapshot_norm"],
                                  direct.sgd.extra["snapshot_norm"])
    np.testing.assert_array_equal(point.pde.risk, direct.pde.risk)
    for key, value in direct.comparison.metrics.items():
        assert point.comparison.metrics[key] == value, key
    assert row["discrepancy"] == direct.comparison.metrics["sup_risk"]
    assert row["sgd_final_risk"] == pytest.approx(direct.sgd.risk[:, -1].mean(), rel=1e-15)


def test_multiindex_point_file_is_what_validate_returns(tmp_path):
    params = {"t_max": 0.5, "N": 20, "n_times": 8}
    plan = build_plan(parse_spec({"scenario": "single-index-quick", "seeds": 2,
                                  "parameters": params}))
    task, pde_key, sgd_keys = plan.points[0]
    infos = {key: run_task(t, str(tmp_path)) for key, t in {**plan.pde, **plan.sgd}.items()}
    row = run_point(task, infos[pde_key], [infos[k] for k in sgd_keys], str(tmp_path))
    direct = api.validate("single-index-quick", {**params, "seeds": 2}, progress=False)
    # the tolerance uses D = d + 1 (second-layer weight) as validate does
    assert io.load(tmp_path / row["point_file"]).comparison.metrics == direct.comparison.metrics
    assert row["tolerance"] == direct.comparison.tolerance


def test_finished_task_is_skipped_without_rewriting(point_dir):
    out, plan, _, _ = point_dir
    task = next(iter(plan.sgd.values()))
    before = (out / task.file).stat().st_mtime_ns
    assert run_task(task, str(out))["status"] == "skipped"
    assert (out / task.file).stat().st_mtime_ns == before


def test_interrupted_sgd_file_is_resumed_from_its_checkpoint(tmp_path):
    plan = build_plan(parse_spec(tiny_spec(seeds=1, grid={"kappa": [0.4]})))
    task = next(iter(plan.sgd.values()))
    path = tmp_path / task.file
    path.parent.mkdir()
    saved = []

    def keep_first(partial):
        if not saved:
            saved.append(io.save(partial, path))

    full = api.run_sgd(task.scenario, task.params, progress=False, checkpoint_every_s=0.0,
                       on_checkpoint=keep_first)
    assert io.load(path).sgd.checkpoint is not None
    info = run_task(task, str(tmp_path))
    assert info["status"] == "resumed"
    resumed = io.load(path)
    assert resumed.sgd.checkpoint is None
    np.testing.assert_array_equal(resumed.sgd.risk, full.sgd.risk)


def test_unreadable_task_file_is_run_again(tmp_path):
    plan = build_plan(parse_spec(tiny_spec(seeds=1, grid={"kappa": [0.4]})))
    task = next(iter(plan.pde.values()))
    (tmp_path / "runs").mkdir()
    (tmp_path / task.file).write_bytes(b"not hdf5")
    assert run_task(task, str(tmp_path))["status"] == "ran"
    assert io.load(tmp_path / task.file).pde is not None


def test_combine_seeds_concatenates_per_seed_arrays():
    params = {**TINY, "kappa": 0.4}
    both = api.run_sgd("gaussians-quick", {**params, "seeds": 2, "seed": 3}, progress=False).sgd
    parts = [api.run_sgd("gaussians-quick", {**params, "seeds": 1, "seed": s},
                         progress=False).sgd for s in (3, 4)]
    combined = combine_seeds(parts)
    np.testing.assert_array_equal(combined.seeds, [3, 4])
    np.testing.assert_array_equal(combined.risk, both.risk)
    np.testing.assert_array_equal(combined.histograms, both.histograms)
    np.testing.assert_array_equal(combined.extra["snapshot_norm"], both.extra["snapshot_norm"])


# -- summary and plots ---------------------------------------------------------------------


def synthetic_rows(exponent=-0.5):
    rows = []
    for i, n in enumerate([100, 200, 400, 800]):
        for kappa in (0.1, 0.4):
            rows.append({"point": i, "status": "ok", "N": n, "kappa": kappa, "t_max": 1.0,
                         "seeds": 2, "seed": 0, "pde_final_risk": 0.1 + kappa,
                         "sgd_final_risk": 0.1 + kappa + 1 / n, "sgd_final_risk_std": 0.01,
                         "discrepancy": kappa * n ** exponent, "passed": True,
                         "sgd_files": ["runs/a.h5", "runs/b.h5"]})
    rows.append({"point": 8, "status": "failed", "N": 1600, "kappa": 0.1, "t_max": 1.0,
                 "seeds": 2, "seed": 0, "error": "task pde-x failed: SolverError: r_max"})
    return rows


def write_synthetic(directory, rows):
    return write_summary(directory / "summary.csv", rows, summary_columns(("N", "kappa"),
                                                                          {"t_max": 1.0}))


def test_summary_csv_has_one_row_per_point_and_empty_corrected_column(tmp_path):
    write_synthetic(tmp_path, synthetic_rows())
    with (tmp_path / "summary.csv").open(newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 9
    assert list(table[0])[:5] == ["point", "status", "N", "kappa", "t_max"]
    assert {row["discrepancy_corrected"] for row in table} == {""}
    assert table[0]["sgd_files"] == "runs/a.h5;runs/b.h5"
    assert table[-1]["discrepancy"] == "" and table[-1]["error"].startswith("task pde-x")


def test_summary_round_trips_numbers(tmp_path):
    rows = synthetic_rows()
    write_synthetic(tmp_path, rows)
    back = read_summary(tmp_path)
    assert back[3]["N"] == 200 and back[3]["discrepancy"] == rows[3]["discrepancy"]
    assert back[0]["passed"] is True and back[-1]["pde_final_risk"] is None


def test_summary_is_readable_by_pandas(tmp_path):
    pandas = pytest.importorskip("pandas")
    write_synthetic(tmp_path, synthetic_rows())
    frame = pandas.read_csv(tmp_path / "summary.csv")
    assert frame.shape[0] == 9 and frame["N"].dtype.kind == "i"


def test_fitted_slope_recovers_a_power_law():
    n = np.array([100.0, 200.0, 400.0, 800.0])
    assert fitted_slope(n, 3.0 * n ** -0.5) == pytest.approx(-0.5, abs=1e-12)


def test_discrepancy_plot_is_log_log_with_one_fitted_curve_per_other_parameter(tmp_path):
    write_synthetic(tmp_path, synthetic_rows())
    fig = sweep_plot(tmp_path, "N", "discrepancy")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["kappa=0.1: discrepancy (slope -0.50)",
                      "kappa=0.4: discrepancy (slope -0.50)"]


def test_final_risk_plot_draws_pde_and_sgd(tmp_path):
    write_synthetic(tmp_path, synthetic_rows())
    ax = sweep_plot(tmp_path, "kappa", "final_risk").axes[0]
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "N=100: PDE" in labels and "N=800: SGD (± seed spread)" in labels


def test_plot_unknown_column_names_the_choices(tmp_path):
    write_synthetic(tmp_path, synthetic_rows())
    with pytest.raises(ValueError, match=r"--x must be a parameter column .*N, kappa"):
        sweep_plot(tmp_path, "beta", "discrepancy")


# -- command line --------------------------------------------------------------------------


def test_cli_plot_of_a_sweep_directory_writes_the_figure(tmp_path, capsys):
    write_synthetic(tmp_path, synthetic_rows())
    assert main(["plot", str(tmp_path), "--x", "N", "--y", "discrepancy"]) == 0
    assert (tmp_path / "discrepancy_vs_N.png").stat().st_size > 0
    assert "wrote" in capsys.readouterr().out


def test_cli_bad_spec_is_one_line_and_status_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('scenario = "gaussians-quick"\n[grid]\nkappa = []\n')
    assert main(["sweep", str(path), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "grid.kappa is empty" in err
    assert not (tmp_path / "out").exists()


def test_unreachable_scheduler_fails_fast_before_any_task(tmp_path):
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import sys, time\n"
        "from reducedpde.sweep import run_sweep\n"
        "t = time.perf_counter()\n"
        "try:\n"
        f"    run_sweep({tiny_spec()!r}, sys.argv[1], scheduler='tcp://127.0.0.1:{port}',\n"
        "              connect_timeout=1.0, progress=False)\n"
        "except ConnectionError as exc:\n"
        "    print(round(time.perf_counter() - t, 1), exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    seconds, message = out.split(" ", 1)
    assert f"scheduler 'tcp://127.0.0.1:{port}': no Dask scheduler answered within 1 s" in message
    assert "dask scheduler" in message
    assert float(seconds) < 10.0
    assert not (tmp_path / "out" / "summary.csv").exists()

