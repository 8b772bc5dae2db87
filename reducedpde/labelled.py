"""Labelled arrays: a run result as an :class:`xarray.Dataset`, netCDF export.

Needs the optional packages ``xarray`` and ``h5netcdf`` (``pip install
"reducedpde[xarray]"``); without them the functions here raise
:class:`MissingDependencyError` with that instruction. Importing this module does not
import xarray.

**Dataset layout.** Dimensions and their coordinates (all quantities are dimensionless,
``units = "1"``)::

    pde_t            (n_t)        PDE output times t = kε
    pde_snapshot_t   (n_s)        times of the PDE density snapshots
    norm             (n_cells)    ‖w‖ at the PDE cell centres
    norm_edge        (n_cells+1)  ‖w‖ at the PDE cell edges
    sgd_t            (n_t)        SGD recording times
    seed             (n_seeds)    random seed of each SGD run
    sgd_snapshot_t   (n_s)        times of the SGD histograms and particle samples
    bin              (n_bins)     centres of the SGD histogram bins (variable: attribute
                                  ``hist_variable``, default ‖w‖)
    bin_edge         (n_bins+1)   SGD histogram bin edges
    latent           (k)          index j = 1..k of the overlap s_j (multi-index models)
    fourier_set      (n_sets)     Fourier–Walsh character, e.g. "z1z2" (hypercube inputs)
    hermite_index    (n_indices)  Hermite multi-index, e.g. "He2" or "He(1,0)" (Gaussian)
    particle         (n)          recorded neurons of an SGD snapshot (no coordinate)
    comparison_t     (n_t)        times of the PDE–SGD gaps
    w1_t             (n_w1)       times of the Wasserstein-1 distances

Data variables: ``pde_risk``, ``pde_mean_norm``, ``pde_density`` (density w.r.t. d‖w‖),
``pde_<name>`` for each entry of ``PDEResult.extra``; ``sgd_risk``, ``sgd_mean_norm``,
``sgd_histogram``, ``sgd_<name>`` for ``SGDResult.extra``; ``comparison_<name>`` for
``ComparisonResult.arrays``. An extra array whose axes are not recognised gets the
dimensions ``<variable>_dim<i>``.

Attributes of the dataset: ``scenario``, ``config`` (the full run configuration as JSON),
``reducedpde_version`` (the version that made the dataset), ``source_file``,
``source_created`` and ``source_package_version`` when made from a file, and the
attributes of the run (``run_<key>``), of its PDE part (``pde_<key>``), of its SGD part
(``sgd_<key>``) and of its comparison (``comparison_tolerance``, ``comparison_passed``,
``comparison_<metric>``). Strings, integers, floats and one-dimensional numeric arrays are
stored as they are; booleans, ``None``, lists and dictionaries as the string ``"json:"``
followed by their JSON text (the convention of :mod:`reducedpde.io`), so the dataset
writes to netCDF unchanged and reads back identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .results import RunResult

__all__ = [
    "MissingDependencyError",
    "decode_attr",
    "open_dataset",
    "to_netcdf",
    "to_xarray",
]

#: Prefix of attribute strings holding JSON (as in :mod:`reducedpde.io`).
JSON_PREFIX = "json:"

#: netCDF engine used for reading and writing.
ENGINE = "h5netcdf"

_INSTALL_HINT = 'pip install "reducedpde[xarray]"'
_INT64 = np.iinfo(np.int64)
_TIME_DOC = "t = kε (number of SGD steps times the step size)"


class MissingDependencyError(ImportError):
    """An optional package needed for this feature is not installed."""


def _xarray():
    try:
        import xarray
    except ImportError as exc:
        raise MissingDependencyError(
            f"labelled arrays need the optional package xarray ({exc}); install it with "
            f"{_INSTALL_HINT}"
        ) from exc
    return xarray


def _require_h5netcdf() -> None:
    try:
        import h5netcdf  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"netCDF files need the optional package h5netcdf ({exc}); install it with "
            f"{_INSTALL_HINT}"
        ) from exc


# -- attributes ------------------------------------------------------------------------


def _plain(value):
    """``value`` with NumPy scalars and arrays turned into JSON types."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _encode_attr(value):
    """A netCDF-storable form of an attribute value (see the module docstring)."""
    if isinstance(value, np.generic) and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, str) and not value.startswith(JSON_PREFIX) and "\x00" not in value:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and (
        _INT64.min <= value <= _INT64.max
    ):
        return np.int64(value)
    if isinstance(value, float):
        return np.float64(value)
    if (isinstance(value, np.ndarray) and value.ndim == 1 and value.size > 0
            and value.dtype.kind in "iuf"):
        return value
    return JSON_PREFIX + json.dumps(_plain(value), allow_nan=True, ensure_ascii=False)


def decode_attr(value):
    """Decode an attribute written by :func:`to_xarray` (inverse of its JSON encoding).

    Parameters
    ----------
    value
        An attribute value of a dataset made by :func:`to_xarray` or read by
        :func:`open_dataset`.

    Returns
    -------
    object
        ``value`` itself, or the decoded JSON value for strings beginning with ``"json:"``
        (booleans, ``None``, lists, dictionaries).
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str) and value.startswith(JSON_PREFIX):
        return json.loads(value[len(JSON_PREFIX):])
    if isinstance(value, np.generic):
        return value.item()
    return value


def _prefixed(attrs: dict, prefix: str) -> dict:
    return {f"{prefix}{key}": _encode_attr(value) for key, value in attrs.items()}


# -- dimensions of the arrays ----------------------------------------------------------


def _set_label(subset) -> str:
    """Fourier–Walsh character of a set of 0-based coordinates: ``[0, 1]`` → ``z1z2``."""
    return "".join(f"z{int(j) + 1}" for j in subset) or "1"


def _hermite_label(index) -> str:
    index = [int(i) for i in np.atleast_1d(index)]
    if len(index) == 1:
        return f"He{index[0]}"
    return "He(" + ",".join(str(i) for i in index) + ")"


class _Builder:
    """Collects variables and coordinates, keeping every dimension's size consistent."""

    def __init__(self):
        self.sizes: dict[str, int] = {}
        self.coords: dict = {}
        self.data_vars: dict = {}

    def dim(self, name: str, size: int, fallback: str) -> str:
        """``name`` if it is free or has this size, else ``fallback``."""
        if self.sizes.get(name, size) != size:
            name = fallback
        self.sizes[name] = size
        return name

    def coord(self, name: str, values, **attrs) -> None:
        values = np.asarray(values)
        self.sizes[name] = values.shape[0]
        self.coords[name] = ((name,), values, attrs)

    def variable(self, name: str, dims, values, **attrs) -> None:
        self.data_vars[name] = (tuple(dims), np.asarray(values), attrs)


def _label_dim(builder, size, labels, dim, fallback, label_fn, doc):
    """Dimension of a trailing axis labelled by ``labels`` (Fourier sets, Hermite indices)."""
    if labels is None or len(labels) != size:
        return builder.dim(fallback, size, fallback)
    if dim not in builder.coords:
        builder.coord(dim, np.array([label_fn(x) for x in labels], dtype=object),
                      long_name=doc)
        return dim
    return builder.dim(dim, size, fallback)


def _trailing_dims(builder, var: str, name: str, shape, start: int, part_attrs: dict):
    """Dimensions of the axes ``start:`` of an extra array, from its name."""
    dims = []
    base = name.removeprefix("snapshot_")
    for axis in range(start, len(shape)):
        size = shape[axis]
        fallback = f"{var}_dim{axis}"
        last = axis == len(shape) - 1
        if name.startswith("snapshot_") and axis == start and base in ("a", "s", "r", "norm"):
            dims.append(builder.dim("particle", size, f"particle_{base}"))
        elif last and base in ("s", "mean_s"):
            if "latent" not in builder.coords:
                builder.coord("latent", np.arange(1, size + 1),
                              long_name="index j of the overlap s_j = ⟨w, u_j⟩")
            dims.append(builder.dim("latent", size, fallback))
        elif last and base == "fourier":
            dims.append(_label_dim(builder, size, part_attrs.get("fourier_sets"),
                                   "fourier_set", fallback, _set_label,
                                   "Fourier–Walsh character Π_{j∈S} z_j"))
        elif last and base == "hermite":
            dims.append(_label_dim(builder, size, part_attrs.get("hermite_indices"),
                                   "hermite_index", fallback, _hermite_label,
                                   "normalised Hermite polynomial of the latent z"))
        else:
            dims.append(builder.dim(fallback, size, fallback))
    return dims


def _add_extras(builder, prefix: str, extra: dict, leads: list, part_attrs: dict) -> None:
    """Extra arrays of a part; ``leads`` lists ``(dims, shape)`` of recognised leading axes,
    tried in order (snapshot axes first for names beginning with ``snapshot_``)."""
    for name, value in extra.items():
        arr = np.asarray(value)
        var = f"{prefix}_{name}"
        snapshot = name.startswith("snapshot_")
        # names beginning with snapshot_ are tried on the snapshot axes first; longer
        # leading shapes before shorter ones
        ordered = sorted(leads, key=lambda lead: (snapshot != ("snapshot" in lead[0][-1]),
                                                  -len(lead[1])))
        lead_dims: tuple = ()
        for dims, shape in ordered:
            if arr.shape[:len(shape)] == shape:
                lead_dims = dims
                break
        rest = _trailing_dims(builder, var, name, arr.shape, len(lead_dims), part_attrs)
        builder.variable(var, (*lead_dims, *rest), arr, long_name=f"{prefix.upper()} {name}",
                         units="1")


# -- conversion ------------------------------------------------------------------------


def _add_pde(builder, pde) -> None:
    builder.coord("pde_t", pde.t, long_name="time of the PDE outputs", units="1",
                  description=_TIME_DOC)
    builder.coord("pde_snapshot_t", pde.snapshot_times,
                  long_name="time of the PDE density snapshots", units="1")
    edges = np.asarray(pde.grid_edges, dtype=float)
    builder.coord("norm", 0.5 * (edges[1:] + edges[:-1]),
                  long_name="‖w‖ at the cell centres of the PDE grid", units="1")
    builder.coord("norm_edge", edges, long_name="‖w‖ at the cell edges of the PDE grid",
                  units="1")
    builder.variable("pde_risk", ["pde_t"], pde.risk,
                     long_name="population risk R(ρ_t) of the PDE (no factor ½)", units="1")
    builder.variable("pde_mean_norm", ["pde_t"], pde.mean_norm,
                     long_name="mean neuron norm ∫‖w‖ dρ_t of the PDE", units="1")
    builder.variable("pde_density", ["pde_snapshot_t", "norm"], pde.densities,
                     long_name="PDE density of ‖w‖ (mass per unit length)", units="1")
    n_t, n_s = np.size(pde.t), np.size(pde.snapshot_times)
    leads = [(("pde_t",), (n_t,)), (("pde_snapshot_t",), (n_s,))]
    _add_extras(builder, "pde", pde.extra, leads, pde.attrs)


def _add_sgd(builder, sgd) -> None:
    builder.coord("sgd_t", sgd.t, long_name="time of the SGD recordings", units="1",
                  description=_TIME_DOC)
    builder.coord("seed", sgd.seeds, long_name="random seed of the SGD run")
    builder.coord("sgd_snapshot_t", sgd.snapshot_times,
                  long_name="time of the SGD histograms and particle samples", units="1")
    variable = str(sgd.attrs.get("hist_variable", "norm"))
    symbol = "‖w‖" if variable == "norm" else variable
    edges = np.asarray(sgd.hist_edges, dtype=float)
    builder.coord("bin", 0.5 * (edges[1:] + edges[:-1]),
                  long_name=f"{symbol} at the centres of the SGD histogram bins", units="1",
                  variable=variable)
    builder.coord("bin_edge", edges, long_name=f"{symbol} at the SGD histogram bin edges",
                  units="1", variable=variable)
    builder.variable("sgd_risk", ["seed", "sgd_t"], sgd.risk,
                     long_name="exact population risk of the finite network (no factor ½)",
                     units="1")
    builder.variable("sgd_mean_norm", ["seed", "sgd_t"], sgd.mean_norm,
                     long_name="mean neuron norm ‖w_i‖ over the N neurons", units="1")
    builder.variable("sgd_histogram", ["seed", "sgd_snapshot_t", "bin"], sgd.histograms,
                     long_name=f"normalised histogram of {symbol} (density)", units="1")
    n_seeds = np.shape(sgd.risk)[0]
    n_t, n_s = np.size(sgd.t), np.size(sgd.snapshot_times)
    leads = [(("seed", "sgd_t"), (n_seeds, n_t)),
             (("seed", "sgd_snapshot_t"), (n_seeds, n_s)),
             (("seed",), (n_seeds,))]
    _add_extras(builder, "sgd", sgd.extra, leads, sgd.attrs)


def _add_comparison(builder, comp) -> None:
    arrays = dict(comp.arrays)
    t = arrays.pop("t", None)
    w1_t = arrays.pop("w1_times", None)
    leads = []
    if t is not None:
        builder.coord("comparison_t", t, long_name="time of the PDE–SGD gaps", units="1")
        leads.append((("comparison_t",), (np.size(t),)))
    if w1_t is not None:
        builder.coord("w1_t", w1_t, long_name="time of the Wasserstein-1 distances",
                      units="1")
        leads.append((("w1_t",), (np.size(w1_t),)))
    for name, value in arrays.items():
        arr = np.asarray(value)
        var = f"comparison_{name}"
        order = leads[::-1] if name.startswith("w1") else leads
        lead_dims: tuple = ()
        for dims, shape in order:
            if arr.shape[:1] == shape:
                lead_dims = dims
                break
        rest = [builder.dim(f"{var}_dim{i}", n, f"{var}_dim{i}")
                for i, n in enumerate(arr.shape[len(lead_dims):], start=len(lead_dims))]
        builder.variable(var, (*lead_dims, *rest), arr, long_name=f"comparison {name}",
                         units="1")


def to_xarray(result: RunResult, source=None):
    """A run result as an :class:`xarray.Dataset` with labelled coordinates.

    Parameters
    ----------
    result : RunResult
        Any run: PDE only, SGD only, or a validation with a comparison.
    source : str or os.PathLike, optional
        File the result was read from, recorded in the attributes (``source_file``).
        By default ``result.source`` (set by :func:`reducedpde.load`) is used when present.

    Returns
    -------
    xarray.Dataset
        With the dimensions, coordinates, variables and attributes listed in the module
        docstring; the arrays are copies of the result's.

    Raises
    ------
    TypeError
        If ``result`` is not a :class:`RunResult`.
    MissingDependencyError
        If xarray is not installed.
    """
    if not isinstance(result, RunResult):
        raise TypeError(f"result must be a RunResult, got {type(result).__name__}")
    xr = _xarray()
    from . import __version__

    builder = _Builder()
    attrs = {
        "title": f"reducedpde run of scenario {result.scenario}",
        "scenario": str(result.scenario),
        "config": json.dumps(_plain(result.config), allow_nan=True, ensure_ascii=False),
        "reducedpde_version": __version__,
    }
    provenance = dict(getattr(result, "source", None) or {})
    if source is not None:
        provenance = {"file": str(source)}
    for key in ("file", "created", "package_version"):
        if key in provenance:
            attrs[f"source_{key}"] = str(provenance[key])
    attrs.update(_prefixed(result.attrs, "run_"))
    if result.pde is not None:
        _add_pde(builder, result.pde)
        attrs.update(_prefixed(result.pde.attrs, "pde_"))
    if result.sgd is not None:
        _add_sgd(builder, result.sgd)
        attrs.update(_prefixed(result.sgd.attrs, "sgd_"))
    comp = result.comparison
    if comp is not None:
        _add_comparison(builder, comp)
        attrs["comparison_tolerance"] = np.float64(comp.tolerance)
        attrs["comparison_passed"] = _encode_attr(bool(comp.passed))
        attrs.update(_prefixed(comp.metrics, "comparison_"))
    coords = {name: xr.Variable(*spec) for name, spec in builder.coords.items()}
    data_vars = {name: xr.Variable(*spec) for name, spec in builder.data_vars.items()}
    return xr.Dataset(data_vars=data_vars, coords=coords, attrs=attrs)


# -- files -----------------------------------------------------------------------------


def _is_result_file(path: Path) -> bool:
    from .io import ResultFileError, read_metadata

    try:
        read_metadata(path)
    except ResultFileError:
        return False
    return True


def open_dataset(path):
    """Open a result as an :class:`xarray.Dataset`: a reducedpde HDF5 file or a netCDF file.

    Parameters
    ----------
    path : str or os.PathLike
        A result file written by :func:`reducedpde.io.save` (converted with
        :func:`to_xarray`, ``source_file`` set to ``path``) or a netCDF file, e.g. one
        written by :func:`to_netcdf` or ``reducedpde export``.

    Returns
    -------
    xarray.Dataset
        Read completely into memory; the file is closed.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    MissingDependencyError
        If xarray (or, for netCDF files, h5netcdf) is not installed.
    ValueError
        If the file is neither a reducedpde result nor a netCDF file xarray can read.
    """
    path = Path(path)
    xr = _xarray()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if _is_result_file(path):
        from .display import load

        return to_xarray(load(path))
    _require_h5netcdf()
    try:
        return xr.load_dataset(path, engine=ENGINE)
    except (OSError, ValueError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(
            f"{path}: neither a reducedpde result file nor a readable netCDF file ({message})"
        ) from exc


def to_netcdf(data, path) -> Path:
    """Write a result or dataset to a netCDF-4 file (h5netcdf engine), atomically.

    Parameters
    ----------
    data : RunResult or xarray.Dataset
        A result (converted with :func:`to_xarray`) or a dataset made by it.
    path : str or os.PathLike
        Destination, conventionally ending in ``.nc``; its directory must exist. The file
        is written to a temporary file next to it and renamed into place when complete,
        so an existing file is never left half-written.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``data`` is neither a :class:`RunResult` nor an :class:`xarray.Dataset`.
    MissingDependencyError
        If xarray or h5netcdf is not installed.
    """
    xr = _xarray()
    _require_h5netcdf()
    if isinstance(data, RunResult):
        data = to_xarray(data)
    if not isinstance(data, xr.Dataset):
        raise TypeError(f"data must be a RunResult or an xarray.Dataset, got "
                        f"{type(data).__name__}")
    path = Path(path)
    with atomic_path(path) as tmp:
        data.to_netcdf(tmp, engine=ENGINE)
    return path
