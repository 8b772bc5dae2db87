"""Adaptive quadrature of a one-dimensional initial law (``a_rule='adaptive'``)."""

from types import SimpleNamespace

import numpy as np
import pytest

from reducedpde import api
from reducedpde.activations import Tanh
from reducedpde.models.multiindex import MultiIndexModel
from reducedpde.models.multiindex.adaptive_rule import (
    _panel_errors,
    adapt_label_rule,
    label_rule_error,
    panel_rule,
)
from reducedpde.models.multiindex.latents import HypercubeLatent
from reducedpde.models.multiindex.targets import staircase_target

JUMP, WIDTH = 0.3137, 2e-4


def test_panel_rule_integrates_polynomials_of_degree_below_twice_the_order():
    x, w = panel_rule([-1.0, -0.2, 0.5, 1.0], 5)
    assert x.size == 15 and abs(w.sum() - 1.0) < 1e-15
    for power in range(10):
        exact = (1.0 - (-1.0) ** (power + 1)) / (power + 1) / 2.0
        assert abs(w @ x**power - exact) < 1e-14


def test_panel_rule_with_a_density_gives_its_moments():
    x, w = panel_rule(np.linspace(-8.0, 8.0, 17), 8, lambda v: np.exp(-0.5 * v * v))
    assert abs(w @ x**2 - 1.0) < 1e-12 and abs(w @ x**4 - 3.0) < 1e-11


def test_error_estimate_vanishes_for_polynomial_integrands():
    x, _ = panel_rule(np.linspace(0.0, 1.0, 5), 8)
    values = np.stack([x**3 - x, 2.0 + x**5], axis=1)
    e = _panel_errors(values, 8, np.full(4, 0.25))
    assert np.max(e) < 1e-15


def test_error_estimate_flags_the_panel_with_a_jump():
    edges = np.linspace(0.0, 1.0, 5)
    x, _ = panel_rule(edges, 8)
    values = np.tanh((x - JUMP) / WIDTH)[:, None]
    e = _panel_errors(values, 8, np.full(4, 0.25))[:, 0]
    assert np.argmax(e) == 1 and e[1] > 100 * max(e[0], e[2], e[3])


# a stand-in for the dynamics: every atom's overlap s_1 jumps at a_0 = JUMP
MODEL = MultiIndexModel(Tanh(), staircase_target(2), HypercubeLatent(2))


def fake_solution(x, w):
    s = np.stack([np.tanh((x - JUMP) / WIDTH), 0.5 + 0.2 * x], axis=1)
    a, r = 1.0 + 0.5 * x, np.full(x.size, 0.3)
    risk = MODEL.risk(a, s, r, w)
    return SimpleNamespace(a=a[None], s=s[None], r=r[None], weights=w, risk=np.array([risk]))


def exact_output():
    # panels graded geometrically towards the jump on both sides
    offsets = WIDTH * 2.0 ** np.arange(-3, 13)
    edges = np.unique(np.concatenate([[-1.0, JUMP, 1.0], JUMP - offsets, JUMP + offsets]))
    edges = edges[(edges >= -1.0) & (edges <= 1.0)]
    x, w = panel_rule(edges, 30)
    sol = fake_solution(x, w)
    return MODEL.output(sol.a[0], sol.s[0], sol.r[0], w), sol.risk[0]


def test_adaptive_rule_refines_towards_the_jump_until_the_estimate_meets_the_target():
    rule = adapt_label_rule(fake_solution, MODEL, -1.0, 1.0, order=8, panels=8, tol=1e-6,
                            stride=1)
    assert rule.converged and rule.history[-1]["estimate"] < 1e-6
    widths = np.diff(rule.edges)
    narrowest = np.argmin(widths)
    assert rule.edges[narrowest] - 1e-3 <= JUMP <= rule.edges[narrowest + 1] + 1e-3
    assert widths.max() >= 0.25  # smooth parts keep their coarse panels


def test_adaptive_rule_error_is_within_its_estimate():
    rule = adapt_label_rule(fake_solution, MODEL, -1.0, 1.0, order=8, panels=8, tol=1e-6,
                            stride=1)
    exact_f, exact_risk = exact_output()
    sol = rule.solution
    true_error = abs(sol.risk[0] - exact_risk)
    assert true_error <= rule.error_estimate[0]
    assert rule.error_estimate[0] < 1e-6 * sol.risk[0]
    f = MODEL.output(sol.a[0], sol.s[0], sol.r[0], sol.weights)
    assert np.max(np.abs(f - exact_f)) < 1e-6


def test_a_fixed_rule_misses_the_jump_by_far_more_than_the_adaptive_one():
    x, w = panel_rule(np.linspace(-1.0, 1.0, 9), 16)  # 128 atoms, equal panels
    exact_risk = exact_output()[1]
    fixed = abs(fake_solution(x, w).risk[0] - exact_risk)
    rule = adapt_label_rule(fake_solution, MODEL, -1.0, 1.0, order=8, panels=8, tol=1e-6)
    assert fixed > 100 * abs(rule.solution.risk[0] - exact_risk)


def test_label_rule_error_fills_skipped_times_from_their_neighbours():
    x, w = panel_rule(np.linspace(-1.0, 1.0, 5), 8)
    one = fake_solution(x, w)
    three = SimpleNamespace(a=np.repeat(one.a, 3, 0), s=np.repeat(one.s, 3, 0),
                            r=np.repeat(one.r, 3, 0), risk=np.repeat(one.risk, 3))
    absolute, _ = label_rule_error(MODEL, np.linspace(-1.0, 1.0, 5), 8, three.a, three.s,
                                   three.r, three.risk, stride=2)
    assert np.all(np.isfinite(absolute)) and np.ptp(absolute) == 0.0


def test_adaptive_rule_refuses_too_few_nodes_per_panel():
    with pytest.raises(ValueError, match="'order' must be >= 4"):
        adapt_label_rule(fake_solution, MODEL, -1.0, 1.0, order=3)


@pytest.mark.parametrize("params, words", [
    ({"a_rule": "adaptive", "init": "gaussian"}, ("'a_rule'", "init='degenerate'")),
    ({"a_rule": "adaptive", "atoms_a": 3}, ("'atoms_a'", ">= 4")),
    ({"smoothing_nodes": 5}, ("'smoothing_nodes'", ">= 10")),
])
def test_bad_rule_parameters_are_refused_by_name(params, words):
    with pytest.raises(ValueError) as info:
        api.run_pde("staircase", params, progress=False)
    for word in words:
        assert word in str(info.value)


def test_staircase_run_records_its_rule_and_error_estimate():
    pde = api.run_pde("staircase", {"t_max": 12.0}, progress=False).pde
    assert pde.attrs["a_rule"] == "adaptive" and pde.attrs["a_rule_converged"]
    assert pde.extra["risk_error_estimate"].shape == pde.t.shape
    assert pde.attrs["risk_rel_error_estimate"] < 1e-3
    assert pde.attrs["smoothing_error"] < 1e-9
    edges = pde.extra["a_rule_edges"]
    assert edges[0] == -1.0 and edges[-1] == 1.0 and np.all(np.diff(edges) > 0)


def test_an_unconverged_adaptive_run_warns_and_says_so():
    with pytest.warns(RuntimeWarning, match="a_rule_rounds"):
        pde = api.run_pde("staircase", {"t_max": 40.0, "a_rule_rounds": 1},
                          progress=False).pde
    assert not pde.attrs["a_rule_converged"] and pde.attrs["a_rule_rounds"] == 1
