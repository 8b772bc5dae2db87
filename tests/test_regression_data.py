"""Every scenario's solver paths reproduce the results stored in ``data/regression/``.

The stored files were written by ``python validation/regression_cases.py``; the runs are
deterministic (fixed seeds, fixed evaluation order), so a fresh run on the same machine
gives the same arrays bit for bit. Another CPU or another build of NumPy/SciPy may round
differently in the last bit (vectorised transcendental functions, BLAS kernels), so values
are compared to a relative :data:`ROUND_OFF` of ``1e-8`` — far below any change of the
numerics (a change of scheme, grid or parameter moves results by ``1e-6`` or more). A change
that alters results on purpose regenerates the files in the same commit and says why.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from reducedpde import io

_CASES_FILE = Path(__file__).resolve().parent.parent / "validation" / "regression_cases.py"
_spec = importlib.util.spec_from_file_location("regression_cases", _CASES_FILE)
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

#: attributes that legitimately differ between two runs of the same case
VOLATILE_ATTRS = {"created", "package_version",
                  # work counts of adaptive solvers follow their step choices
                  "n_rhs", "n_steps"}


def _volatile(key: str) -> bool:
    return key in VOLATILE_ATTRS or key.endswith("wall_time_s")

#: relative agreement required of every stored number: round-off across machines, which
#: an adaptive ODE solver (LSODA at rtol 1e-9 in bmz23) may turn into a different step
#: sequence (measured 8e-10 there)
ROUND_OFF = 1e-8

#: absolute floor for quantities of order one that vanish by symmetry (e.g. mean a)
ROUND_OFF_FLOOR = 1e-13


def _assert_same_value(fresh, stored, where: str):
    """Numbers agree to :data:`ROUND_OFF` (relative to the array's largest magnitude);
    everything else exactly."""
    if isinstance(stored, dict):
        assert isinstance(fresh, dict) and set(stored) == set(fresh), where
        for key in stored:
            _assert_same_value(fresh[key], stored[key], f"{where}/{key}")
        return
    if isinstance(stored, (list, tuple)):
        assert len(fresh) == len(stored), where
        for k, (a, b) in enumerate(zip(fresh, stored)):
            _assert_same_value(a, b, f"{where}[{k}]")
        return
    stored_arr, fresh_arr = np.asarray(stored), np.asarray(fresh)
    if stored_arr.dtype.kind in "fc" and fresh_arr.dtype.kind in "fciu":
        scale = float(np.nanmax(np.abs(stored_arr))) if stored_arr.size else 0.0
        np.testing.assert_allclose(fresh_arr, stored_arr, rtol=ROUND_OFF,
                                   atol=max(ROUND_OFF * scale, ROUND_OFF_FLOOR), err_msg=where)
    else:
        np.testing.assert_array_equal(fresh_arr, stored_arr, err_msg=where)


def _assert_same_arrays(fresh: dict, stored: dict, where: str):
    """Every stored array is reproduced; arrays a newer version records in addition (new
    diagnostics) are allowed."""
    assert set(stored) <= set(fresh), (where, sorted(set(stored) - set(fresh)))
    for name in stored:
        _assert_same_value(fresh[name], stored[name], f"{where}/{name}")


def _assert_same_atom_histograms(fresh, stored):
    """Histograms of Lagrangian atoms: an atom within round-off of a cell edge may fall on
    either side, so each snapshot's law must agree within one cell width in W1 (the
    atoms themselves enter the risk and the moments, compared to round-off)."""
    from reducedpde.compare import wasserstein1_histograms

    edges = stored.grid_edges
    width = float(np.max(np.diff(edges)))
    assert fresh.densities.shape == stored.densities.shape
    for k, (a, b) in enumerate(zip(fresh.densities, stored.densities)):
        assert wasserstein1_histograms(edges, a, edges, b) <= width, f"pde/densities[{k}]"


def _assert_same_part(fresh, stored, name: str):
    assert (fresh is None) == (stored is None), name
    if stored is None:
        return
    arrays = {f.name: getattr(stored, f.name) for f in stored.__dataclass_fields__.values()
              if isinstance(getattr(stored, f.name), np.ndarray)}
    if name == "pde" and str(stored.attrs.get("solver", "")).startswith("lagrangian"):
        _assert_same_atom_histograms(fresh, stored)
        arrays.pop("densities")
    _assert_same_arrays({k: getattr(fresh, k) for k in arrays}, arrays, name)
    _assert_same_arrays(fresh.extra, stored.extra, f"{name}/extra")
    stable = {k: v for k, v in stored.attrs.items() if not _volatile(k)}
    for key, value in stable.items():
        assert key in fresh.attrs, f"{name} attrs: {key} missing"
        _assert_same_value(fresh.attrs[key], value, f"{name} attrs/{key}")


@pytest.mark.parametrize("name, scenario, entry, params", cases.CASES,
                         ids=[case[0] for case in cases.CASES])
def test_fresh_run_reproduces_the_stored_result(name, scenario, entry, params,
                                                           tmp_path):
    stored = io.load(cases.DATA / f"{name}.h5")
    fresh = io.load(io.save(cases.run_case(scenario, entry, params),
                            tmp_path / f"{name}.h5"))
    assert fresh.scenario == stored.scenario == scenario
    # parameters added since the files were written take their defaults
    assert {key: fresh.config.get(key) for key in stored.config} == stored.config
    _assert_same_part(fresh.pde, stored.pde, "pde")
    _assert_same_part(fresh.sgd, stored.sgd, "sgd")
    assert (fresh.comparison is None) == (stored.comparison is None)
    if stored.comparison is not None:
        _assert_same_value(fresh.comparison.metrics, stored.comparison.metrics, "metrics")
        assert fresh.comparison.passed == stored.comparison.passed
        _assert_same_arrays(fresh.comparison.arrays, stored.comparison.arrays, "comparison")
