"""Tests of the figures: risk curves with inset, density panels, atomic saving."""

from __future__ import annotations

import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import StepPatch

from reducedpde import io, plot
from reducedpde.results import PDEResult, RunResult, SGDResult

# -- synthetic results -----------------------------------------------------------------

T = np.concatenate([[0.0], np.geomspace(0.01, 100.0, 15)])
SNAPS = np.array([0.0, 0.1, 1.0, 10.0, 100.0])
EDGES = np.linspace(0.0, 2.0, 21)


def _bump(centre: float, edges: np.ndarray) -> np.ndarray:
    x = 0.5 * (edges[1:] + edges[:-1])
    g = np.exp(-0.5 * ((x - centre) / 0.15) ** 2)
    return g / (g.sum() * np.diff(edges))


def _pde(kappa: float) -> PDEResult:
    return PDEResult(
        t=T,
        risk=1.0 / (1.0 + T) + kappa,
        mean_norm=kappa + 0.5 * T / (1.0 + T),
        snapshot_times=SNAPS,
        densities=np.stack([_bump(kappa + 0.01 * s, EDGES) for s in SNAPS]),
        grid_edges=EDGES,
        attrs={"solver": "synthetic"},
    )


def _sgd(kappa: float, n_seeds: int = 3) -> SGDResult:
    rng = np.random.default_rng(0)
    noise = 0.01 * rng.standard_normal((n_seeds, T.size))
    edges = np.linspace(0.0, 2.0, 11)
    hist = np.stack([_bump(kappa + 0.01 * s, edges) for s in SNAPS])
    return SGDResult(
        t=T,
        risk=1.0 / (1.0 + T) + kappa + noise,
        mean_norm=kappa + 0.5 * T / (1.0 + T) + noise,
        snapshot_times=SNAPS,
        histograms=np.repeat(hist[None], n_seeds, axis=0),
        hist_edges=edges,
        seeds=np.arange(n_seeds),
        attrs={"N": 50, "d": 10, "eps": 1e-3},
    )


def _run(kappa: float = 0.1, pde: bool = True, sgd: bool = True, n_seeds: int = 3) -> RunResult:
    return RunResult(
        scenario="gaussians-fig4",
        config={"d": 10, "delta": 0.5, "kappa": kappa, "N": 50},
        pde=_pde(kappa) if pde else None,
        sgd=_sgd(kappa, n_seeds) if sgd else None,
    )


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _pde_lines(ax) -> list[Line2D]:
    return [ln for ln in ax.get_lines() if ln.get_linestyle() not in ("None", "")
            and ln.get_marker() in ("None", "", None)]


def _sgd_lines(ax) -> list[Line2D]:
    return [ln for ln in ax.get_lines() if ln.get_linestyle() in ("None", "")
            and ln.get_marker() not in ("None", "", None)]


def _bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


# -- risk_curves -----------------------------------------------------------------------


def test_risk_curves_returns_figure_with_log_time_axis():
    fig = plot.risk_curves(_run())
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "t"
    assert ax.get_ylabel() == "population risk R"


def test_risk_curves_pde_line_and_sgd_markers():
    ax = plot.risk_curves(_run()).axes[0]
    assert len(ax.get_lines()) == 2
    assert len(_pde_lines(ax)) == 1
    assert len(_sgd_lines(ax)) == 1


def test_risk_curves_skips_t_zero():
    ax = plot.risk_curves(_run()).axes[0]
    for line in ax.get_lines():
        assert np.all(np.asarray(line.get_xdata()) > 0)
        assert len(line.get_xdata()) == T.size - 1


def test_risk_curves_sgd_is_mean_over_seeds():
    run = _run()
    (sgd_line,) = _sgd_lines(plot.risk_curves(run).axes[0])
    np.testing.assert_allclose(sgd_line.get_ydata(), run.sgd.risk.mean(axis=0)[1:])


def test_risk_curves_band_for_several_seeds():
    ax = plot.risk_curves(_run(n_seeds=3)).axes[0]
    assert len(_bands(ax)) == 1
    assert "95% interval" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_risk_curves_no_band_for_one_seed():
    ax = plot.risk_curves(_run(n_seeds=1)).axes[0]
    assert _bands(ax) == []


def test_risk_curves_legend_labels_from_differing_config():
    fig = plot.risk_curves([_run(0.1), _run(0.4)])
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    for entry in ("PDE κ=0.1", "SGD κ=0.1", "PDE κ=0.4", "SGD κ=0.4"):
        assert entry in texts


def test_risk_curves_single_result_label_falls_back_to_scenario():
    fig = plot.risk_curves(_run())
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "PDE gaussians-fig4" in texts
    assert "SGD gaussians-fig4" in texts


def test_risk_curves_explicit_labels():
    fig = plot.risk_curves([_run(0.1), _run(0.4)], labels=["small", "large"])
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert {"PDE small", "SGD small", "PDE large", "SGD large"} <= set(texts)


def test_risk_curves_inset_has_its_own_lines():
    fig = plot.risk_curves(_run())
    inset = fig.reducedpde_inset
    assert inset is not None
    assert inset in fig.axes[0].child_axes
    assert inset.get_xscale() == "log"
    assert len(_pde_lines(inset)) == 1
    assert len(_sgd_lines(inset)) == 1
    pde_line = _pde_lines(inset)[0]
    np.testing.assert_allclose(pde_line.get_ydata(), _run().pde.mean_norm[1:])


def test_risk_curves_without_inset():
    fig = plot.risk_curves(_run(), inset=False)
    assert fig.reducedpde_inset is None
    assert len(fig.axes[0].child_axes) == 0


def test_risk_curves_two_results_give_twice_the_artists():
    one = plot.risk_curves(_run(0.1))
    two = plot.risk_curves([_run(0.1), _run(0.4)])
    for fig_one, fig_two in ((one.axes[0], two.axes[0]),
                             (one.reducedpde_inset, two.reducedpde_inset)):
        assert len(fig_two.get_lines()) == 2 * len(fig_one.get_lines())
        assert len(_bands(fig_two)) == 2 * len(_bands(fig_one))


def test_risk_curves_colors_per_result():
    ax = plot.risk_curves([_run(0.1), _run(0.4)], colors=["red", "blue"]).axes[0]
    pde = _pde_lines(ax)
    assert matplotlib.colors.same_color(pde[0].get_color(), "red")
    assert matplotlib.colors.same_color(pde[1].get_color(), "blue")


def test_risk_curves_log_risk_option():
    ax = plot.risk_curves(_run(), log_risk=True).axes[0]
    assert ax.get_yscale() == "log"


def test_risk_curves_only_pde():
    fig = plot.risk_curves(_run(sgd=False))
    ax = fig.axes[0]
    assert len(_pde_lines(ax)) == 1
    assert _sgd_lines(ax) == []
    assert len(fig.reducedpde_inset.get_lines()) == 1


def test_risk_curves_only_sgd():
    fig = plot.risk_curves(_run(pde=False))
    ax = fig.axes[0]
    assert _pde_lines(ax) == []
    assert len(_sgd_lines(ax)) == 1
    assert len(fig.reducedpde_inset.get_lines()) == 1


def test_risk_curves_draws_on_given_axes():
    fig = plt.figure()
    ax = fig.add_subplot()
    assert plot.risk_curves(_run(), ax=ax) is fig
    assert len(ax.get_lines()) == 2


def test_risk_curves_nothing_to_plot_raises():
    with pytest.raises(ValueError, match="nothing to plot"):
        plot.risk_curves(_run(pde=False, sgd=False))


def test_risk_curves_empty_list_raises():
    with pytest.raises(ValueError, match="empty"):
        plot.risk_curves([])


def test_risk_curves_label_count_mismatch_raises():
    with pytest.raises(ValueError, match="labels"):
        plot.risk_curves([_run(0.1), _run(0.4)], labels=["only one"])


# -- densities -------------------------------------------------------------------------


def test_densities_requested_panels_have_line_and_histogram():
    fig = plot.densities(_run(), times=[0.1, 1.0, 10.0])
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert len(ax.get_lines()) == 1
        assert any(isinstance(p, StepPatch) for p in ax.patches)
        assert ax.get_xlabel() == "‖w‖"
        assert ax.get_ylabel() == "density"


def test_densities_titles_use_nearest_snapshot():
    fig = plot.densities(_run(), times=[0.9, 12.0])
    assert [ax.get_title() for ax in fig.axes] == ["t = 1", "t = 10"]


def test_densities_pde_line_matches_snapshot():
    run = _run()
    fig = plot.densities(run, times=1.0)
    (line,) = fig.axes[0].get_lines()
    np.testing.assert_allclose(line.get_xdata(), run.pde.grid_centres)
    np.testing.assert_allclose(line.get_ydata(), run.pde.densities[2])


def test_densities_histogram_is_mean_over_seeds():
    run = _run()
    run.sgd.histograms[1] *= 3.0
    fig = plot.densities(run, times=1.0)
    (step,) = [p for p in fig.axes[0].patches if isinstance(p, StepPatch)]
    np.testing.assert_allclose(step.get_data().values, run.sgd.histograms[:, 2].mean(axis=0))


def test_densities_default_times_limited_by_max_panels():
    assert len(plot.densities(_run(), max_panels=3).axes) == 3
    assert len(plot.densities(_run()).axes) == SNAPS.size


def test_densities_default_times_include_first_and_last():
    fig = plot.densities(_run(), max_panels=3)
    assert [ax.get_title() for ax in fig.axes] == ["t = 0", "t = 0.1", "t = 100"]


def test_densities_draws_on_given_axes_for_one_time():
    fig = plt.figure()
    ax = fig.add_subplot()
    assert plot.densities(_run(), times=[10.0], ax=ax) is fig
    assert len(ax.get_lines()) == 1


def test_densities_only_pde_or_only_sgd():
    pde_ax = plot.densities(_run(sgd=False), times=[1.0]).axes[0]
    assert len(pde_ax.get_lines()) == 1 and len(pde_ax.patches) == 0
    sgd_ax = plot.densities(_run(pde=False), times=[1.0]).axes[0]
    assert len(sgd_ax.get_lines()) == 0 and len(sgd_ax.patches) == 1


def test_densities_time_out_of_range_raises():
    with pytest.raises(ValueError, match="outside the snapshot range"):
        plot.densities(_run(), times=[1.0, 1e3])


def test_densities_nothing_to_plot_raises():
    with pytest.raises(ValueError, match="nothing to plot"):
        plot.densities(_run(pde=False, sgd=False))


# -- save_figure -----------------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_save_figure_writes_png_without_leftovers(tmp_path):
    fig = plot.risk_curves(_run())
    out = plot.save_figure(fig, tmp_path / "risk.png")
    assert out == tmp_path / "risk.png"
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > len(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["risk.png"]


@pytest.mark.parametrize(("suffix", "magic"), [(".pdf", b"%PDF"), (".svg", b"<?xml")])
def test_save_figure_vector_formats(tmp_path, suffix, magic):
    out = plot.save_figure(plot.densities(_run(), times=[1.0]), tmp_path / f"dens{suffix}")
    assert out.read_bytes().startswith(magic)


def test_save_figure_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        plot.save_figure(plot.risk_curves(_run()), tmp_path / "risk.jpg")
    assert list(tmp_path.iterdir()) == []


def test_save_figure_failure_keeps_existing_file(tmp_path, monkeypatch):
    target = tmp_path / "risk.png"
    target.write_bytes(b"old")
    fig = plot.risk_curves(_run())

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        plot.save_figure(fig, target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["risk.png"]


# -- environment -----------------------------------------------------------------------


def test_import_does_not_load_pyplot():
    code = (
        "import sys\n"
        "import reducedpde.plot\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_works_headless_without_backend_setting(tmp_path):
    code = (
        "import sys, numpy as np\n"
        "from reducedpde import plot\n"
        "from reducedpde.results import PDEResult, RunResult\n"
        "t = np.array([0.0, 1.0, 2.0])\n"
        "pde = PDEResult(t, 1 / (1 + t), 1 + t, t[:1], np.ones((1, 2)), np.array([0, .5, 1.]))\n"
        "plot.save_figure(plot.risk_curves(RunResult('s', {}, pde=pde)), sys.argv[1])\n"
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    out = tmp_path / "headless.png"
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, timeout=120)
    assert out.read_bytes().startswith(PNG_MAGIC)


# -- files -----------------------------------------------------------------------------


def test_plots_after_io_round_trip(tmp_path):
    path = io.save(_run(), tmp_path / "run.h5")
    loaded = io.load(path)
    fig = plot.risk_curves(loaded)
    assert len(fig.axes[0].get_lines()) == 2
    assert len(plot.densities(loaded, times=[0.0, 100.0]).axes) == 2
    assert plot.save_figure(fig, tmp_path / "risk.png").read_bytes().startswith(PNG_MAGIC)


def _fourier_result(with_sgd=True):
    sets = [[], [0], [1], [0, 1]]
    t = np.concatenate([[0.0], np.geomspace(0.1, 10, 9)])
    coeffs = np.stack([np.zeros(10), np.tanh(t), 0.5 * np.tanh(t / 3), np.full(10, 0.01)],
                      axis=1)
    pde = PDEResult(t=t, risk=np.ones(10), mean_norm=np.ones(10),
                    snapshot_times=t[[0, 5, 9]], densities=np.ones((3, 4)),
                    grid_edges=np.linspace(0, 1, 5), attrs={"fourier_sets": sets},
                    extra={"fourier": coeffs})
    sgd = None
    if with_sgd:
        snap = np.stack([coeffs[[0, 5, 9]], coeffs[[0, 5, 9]] + 0.01])  # 2 seeds
        sgd = SGDResult(t=t, risk=np.ones((2, 10)), mean_norm=np.ones((2, 10)),
                        snapshot_times=t[[0, 5, 9]], histograms=np.ones((2, 3, 4)),
                        hist_edges=np.linspace(0, 1, 5), seeds=np.array([0, 1]),
                        attrs={"fourier_sets": sets}, extra={"snapshot_fourier": snap})
    return RunResult("staircase", {}, pde=pde, sgd=sgd)


def test_fourier_coefficients_draw_the_coefficients_above_threshold():
    fig = plot.fourier_coefficients(_fourier_result())
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["PDE z1", "SGD z1", "PDE z2", "SGD z2"]  # constant and z1z2 too small
    assert len(ax.collections) == 2  # a 95% band per SGD set


def test_fourier_coefficients_need_hypercube_data():
    pde = PDEResult(t=np.arange(3.0), risk=np.ones(3), mean_norm=np.ones(3),
                    snapshot_times=np.zeros(1), densities=np.ones((1, 2)),
                    grid_edges=np.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="no Fourier coefficients"):
        plot.fourier_coefficients(RunResult("gaussians", {}, pde=pde))
