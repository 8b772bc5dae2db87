"""Every scenario's solver paths reproduce the results stored in ``data/regression/``.

The stored files were written by ``python validation/regression_cases.py``; the runs are
deterministic (fixed seeds, fixed floating-point evaluation order), so a fresh run must
give the same arrays bit for bit. A change that alters results on purpose regenerates the
files in the same commit and says why.
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
VOLATILE_ATTRS = {"wall_time_s", "created", "package_version"}


def _assert_same_arrays(fresh: dict, stored: dict, where: str):
    """Every stored array is reproduced exactly; arrays a newer version records in
    addition (new diagnostics) are allowed."""
    assert set(stored) <= set(fresh), (where, sorted(set(stored) - set(fresh)))
    for name in stored:
        np.testing.assert_array_equal(fresh[name], stored[name], err_msg=f"{where}/{name}")


def _assert_same_part(fresh, stored, name: str):
    assert (fresh is None) == (stored is None), name
    if stored is None:
        return
    arrays = {f.name: getattr(stored, f.name) for f in stored.__dataclass_fields__.values()
              if isinstance(getattr(stored, f.name), np.ndarray)}
    _assert_same_arrays({k: getattr(fresh, k) for k in arrays}, arrays, name)
    _assert_same_arrays(fresh.extra, stored.extra, f"{name}/extra")
    stable = {k: v for k, v in stored.attrs.items() if k not in VOLATILE_ATTRS}
    assert {k: fresh.attrs.get(k) for k in stable} == stable, f"{name} attrs"


@pytest.mark.parametrize("name, scenario, entry, params", cases.CASES,
                         ids=[case[0] for case in cases.CASES])
def test_fresh_run_reproduces_the_stored_result_bit_for_bit(name, scenario, entry, params,
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
        assert fresh.comparison.metrics == stored.comparison.metrics
        assert fresh.comparison.passed == stored.comparison.passed
        _assert_same_arrays(fresh.comparison.arrays, stored.comparison.arrays, "comparison")
