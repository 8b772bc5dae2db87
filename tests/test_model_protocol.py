"""The model protocol: a new model is one folder plus one registration line.

``tests/toy_model`` (linear neurons on a linear target, closed-form PDE) is registered
here and then runs through the unchanged API — ``run_pde``, ``run_sgd``, ``validate`` and
the HDF5 round trip — exactly like the package's own models.
"""

import numpy as np
import pytest
from toy_model import ToyReduction  # tests/toy_model, on the path of the test modules

from reducedpde import api, io
from reducedpde.config import RunConfig
from reducedpde.models import MODEL_REGISTRY, build_model, get_model, register_model
from reducedpde.models.base import Reduction
from reducedpde.scenarios import SCENARIOS, Scenario, register_scenario, resolve


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(MODEL_REGISTRY, "toy", MODEL_REGISTRY.get("toy"))
    monkeypatch.setitem(SCENARIOS, "toy-line", None)
    register_model("toy", ToyReduction)  # the one registry line
    register_scenario(Scenario("toy-line", "toy", "linear neurons, linear target",
                               "docs/architecture.md", {"c": 1.5}))
    yield


def test_every_registered_model_implements_the_protocol():
    for name in MODEL_REGISTRY:
        model = get_model(name)
        assert issubclass(model, Reduction) and model.name == name
        assert model.parameters and all(p.name == key for key, p in model.parameters.items())


def test_resolve_returns_one_immutable_config():
    config = resolve("gaussians-quick")
    assert isinstance(config, RunConfig) and config.model == "gaussians"
    with pytest.raises(TypeError):
        config["kappa"] = 1.0
    assert config.replace(kappa=1.0)["kappa"] == 1.0 and config["kappa"] == 0.4


def test_a_model_is_built_from_its_config_once():
    config = resolve("gaussians-quick")
    model = build_model(config)
    assert model.config is config and model.reduced_model() is model.reduced_model()


def test_a_registered_toy_model_runs_through_the_unchanged_api(toy_registered, tmp_path):
    result = api.validate("toy-line", {"t_max": 1.0, "N": 400, "seeds": 4}, progress=False)
    t = result.pde.t
    np.testing.assert_allclose(result.pde.risk, (1.5 * np.exp(-2 * t)) ** 2)
    assert result.comparison.passed
    # SGD follows the closed form within the fluctuations of N = 400 neurons
    assert abs(result.sgd.risk_mean[-1] - result.pde.risk[-1]) < 0.02
    loaded = io.load(io.save(result, tmp_path / "toy.h5"))
    assert loaded.scenario == "toy-line" and loaded.config["c"] == 1.5
    np.testing.assert_array_equal(loaded.sgd.risk, result.sgd.risk)


def test_a_model_bound_to_another_models_config_is_refused():
    with pytest.raises(ValueError, match="config of model 'gaussians'"):
        ToyReduction(resolve("gaussians-quick"))
