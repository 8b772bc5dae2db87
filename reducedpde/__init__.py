"""reducedpde: reduced mean-field PDEs for two-layer networks and matching particle SGD.

The top-level names are loaded lazily (PEP 562 module ``__getattr__``): ``import
reducedpde`` reads no NumPy, Numba, h5py or matplotlib; each name imports its module on
first use. ::

    import reducedpde as rp

    res = rp.validate("gaussians-quick", {"seeds": 2})   # PDE + SGD + verdict
    rp.save(res, "q.h5"); res = rp.load("q.h5")
    rp.plot.risk_curves(res)                             # rp.plot is the plot module
    ds = rp.open_dataset("q.h5")                         # xarray.Dataset (extra "xarray")
    rp.animate(res, "q.gif")                             # density against SGD histogram

========================  ===============================================================
name                      what it is
========================  ===============================================================
``run_pde``               :func:`reducedpde.api.run_pde`
``run_sgd``               :func:`reducedpde.api.run_sgd`
``validate``              :func:`reducedpde.api.validate`
``load``                  :func:`reducedpde.display.load`: :func:`reducedpde.io.load`
                          that also records where the result came from (``result.source``)
``save``                  :func:`reducedpde.io.save`
``info``                  :func:`reducedpde.io.info`
``list_scenarios``        :func:`reducedpde.scenarios.list_scenarios`
``get_scenario``          :func:`reducedpde.scenarios.get_scenario`
``plot``                  the module :mod:`reducedpde.plot` (``rp.plot.risk_curves``,
                          ``rp.plot.densities``, ``rp.plot.save_figure`` …), not a function
``to_xarray``             :func:`reducedpde.labelled.to_xarray`
``open_dataset``          :func:`reducedpde.labelled.open_dataset`
``to_netcdf``             :func:`reducedpde.labelled.to_netcdf`
``animate``               :func:`reducedpde.animation.animate`
``sweep``                 the callable module :mod:`reducedpde.sweep`: ``rp.sweep(spec, out)``
                          is :func:`reducedpde.sweep.run_sweep` (where installed)
``RunResult``             :class:`reducedpde.results.RunResult`
========================  ===============================================================
"""

from __future__ import annotations

import importlib
import os

__version__ = "0.1.0"

#: public name -> (module, attribute in it; None for the module itself)
_LAZY = {
    "run_pde": ("reducedpde.api", "run_pde"),
    "run_sgd": ("reducedpde.api", "run_sgd"),
    "validate": ("reducedpde.api", "validate"),
    "load": ("reducedpde.display", "load"),
    "save": ("reducedpde.io", "save"),
    "info": ("reducedpde.io", "info"),
    "list_scenarios": ("reducedpde.scenarios", "list_scenarios"),
    "get_scenario": ("reducedpde.scenarios", "get_scenario"),
    "plot": ("reducedpde.plot", None),
    "to_xarray": ("reducedpde.labelled", "to_xarray"),
    "open_dataset": ("reducedpde.labelled", "open_dataset"),
    "to_netcdf": ("reducedpde.labelled", "to_netcdf"),
    "animate": ("reducedpde.animation", "animate"),
    "sweep": ("reducedpde.sweep", None),
    "RunResult": ("reducedpde.results", "RunResult"),
}

#: names whose module may be absent from an installation (left out of ``__all__``)
_OPTIONAL_MODULES = {"sweep": (os.path.join("sweep", "__init__.py"), "sweep.py")}


def _available(name: str) -> bool:
    paths = _OPTIONAL_MODULES.get(name)
    if paths is None:
        return True
    here = os.path.dirname(__file__)
    return any(os.path.exists(os.path.join(here, p)) for p in paths)


__all__ = ["__version__", *(name for name in _LAZY if _available(name))]


def __getattr__(name: str):
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'reducedpde' has no attribute {name!r}") from None
    if not _available(name):
        raise AttributeError(
            f"reducedpde.{name} is not available: this installation has no "
            f"module {module_name}"
        )
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
