"""HDF5 storage of run results: one file per run, written atomically.

This module turns a :class:`reducedpde.results.RunResult` into one HDF5 file and back. It
knows the containers of :mod:`reducedpde.results` and nothing about the physics behind
them. This docstring is the reference for the file format.

File layout (``FORMAT_VERSION = 1``)
------------------------------------
::

    /                       attributes
        format_version      int, the layout version (``FORMAT_VERSION``)
        package             "reducedpde" (marks the file as ours)
        package_version     version of reducedpde that wrote the file
        scenario            scenario name (str; encoded like any attribute string)
        config              the run configuration as a JSON string
        created             creation time, ISO-8601 in UTC ("2025-01-31T12:00:00+00:00")
        <key>               every entry of ``RunResult.attrs`` (encoded as below)
    /pde                    present iff ``RunResult.pde`` is not None
        t                   (n_t,)            output times
        risk                (n_t,)            population risk
        mean_norm           (n_t,)            mean neuron norm
        snapshot_times      (n_s,)            times of the density snapshots
        densities           (n_s, n_cells)    density in each cell at each snapshot
        grid_edges          (n_cells + 1,)    cell edges
        extra/<name>        one dataset per entry of ``PDEResult.extra``
        risk_corrected      (n_t,)  the finite-N prediction, when the run has one: the same
                            dataset as ``extra/risk_corrected`` (a hard link)
        checkpoint/         as for ``/sgd`` (``PDEResult.checkpoint``)
        attributes          ``PDEResult.attrs`` (solver, grid size, dt policy, wall time …)
    /sgd                    present iff ``RunResult.sgd`` is not None
        t                   (n_t,)
        risk                (n_seeds, n_t)    exact population risk
        mean_norm           (n_seeds, n_t)
        snapshot_times      (n_s,)
        histograms          (n_seeds, n_s, n_bins)
        hist_edges          (n_bins + 1,)
        seeds               (n_seeds,)
        extra/<name>        one dataset per entry of ``SGDResult.extra``
        checkpoint/         present iff the run stopped early with checkpointing on:
                            ``SGDResult.checkpoint``, a nested dict written as groups
                            (dicts), datasets (arrays, uncompressed) and attributes
                            (everything else); what a resumed run needs
        attributes          ``SGDResult.attrs`` (N, d, eps, wall time …)
    /comparison             present iff ``RunResult.comparison`` is not None
        attributes          tolerance (float), passed (bool)
        metrics/            empty group; its attributes are ``ComparisonResult.metrics``
        arrays/<name>       one dataset per entry of ``ComparisonResult.arrays``

Required on reading: the root attributes ``package``, ``format_version``, ``scenario``
and ``config``; every dataset listed for ``/pde`` and ``/sgd`` when the group is present;
``tolerance``, ``passed`` and ``metrics/`` in ``/comparison``. The ``extra/`` and
``arrays/`` subgroups may be absent (read as empty); unknown groups are ignored.

The shapes listed are those documented by the result containers; this module stores
whatever arrays it is given and checks none of them. Datasets keep their dtype and
shape exactly; arrays with more than ``COMPRESS_THRESHOLD`` elements are written
gzip-compressed (lossless). Only numeric and boolean arrays are accepted. The order of
datasets and attributes is kept (HDF5 creation-order tracking).

Attribute values
----------------
HDF5 attributes hold ``str``, ``int``, ``float``, ``complex``, ``bool`` and numeric
arrays natively; these are written as they are and read back as the Python scalar type
(NumPy scalars come back as the matching Python scalar) or as ``ndarray``. Every other
value, ``None``, lists, tuples and dicts (nested to any depth), integers outside the
int64 range, and strings that begin with ``"json:"`` or contain a NUL character, is
written as the string ``"json:"`` followed by its JSON text and decoded on reading. JSON
floats are written with ``repr`` (exact round trip) and ``inf``/``nan`` are allowed, so
these values round-trip exactly, except that tuples come back as lists. Dictionary keys
must be strings.

The ``config`` attribute is plain JSON (no ``"json:"`` prefix) under the same rules.

Writing and reading
-------------------
Integrity: the first ``USERBLOCK_SIZE`` = 512 bytes of every file are an HDF5 user block
holding ``reducedpde-sha256:`` and the SHA-256 of the rest of the file. :func:`load` checks
it before the HDF5 library parses anything (some corruptions of HDF5 metadata make the
library loop rather than fail); a file without the stamp is left to HDF5's own checks.

:func:`save` writes to a temporary file in the target directory
(``.<stem>.tmp-<hex><suffix>``, see :mod:`reducedpde.atomic`) and moves it into place
with :func:`os.replace` only after it is complete and closed; if anything fails, the
temporary file is removed and an existing file at the target path is left untouched.
:func:`load` refuses missing, unreadable, truncated and foreign files, files written by
a newer format version and files lacking a required dataset, group or attribute, raising
:class:`ResultFileError` (a :class:`ValueError`) with a one-line message that names the
file and the problem. :func:`info` gives a short human-readable summary of a file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from . import __version__
from .atomic import atomic_path
from .results import ComparisonResult, PDEResult, RunResult, SGDResult

__all__ = [
    "COMPRESS_THRESHOLD",
    "FORMAT_VERSION",
    "ResultFileError",
    "info",
    "load",
    "read_metadata",
    "save",
]

#: Version of the file layout written by :func:`save`; :func:`load` refuses newer ones.
FORMAT_VERSION = 1

#: Arrays with more elements than this are stored gzip-compressed.
COMPRESS_THRESHOLD = 10_000

#: bytes reserved before the HDF5 data; they hold ``CHECKSUM_MAGIC`` + SHA-256 (hex) of the
#: rest of the file, checked by :func:`load` before the HDF5 library reads anything
USERBLOCK_SIZE = 512
CHECKSUM_MAGIC = b"reducedpde-sha256:"

PACKAGE_NAME = "reducedpde"

#: Prefix of attribute strings that hold JSON-encoded values.
JSON_PREFIX = "json:"

#: Root attributes written by :func:`save`; ``RunResult.attrs`` may not use these keys.
RESERVED_ROOT_ATTRS = (
    "format_version",
    "package",
    "package_version",
    "scenario",
    "config",
    "created",
)

_GROUP_CLASSES = {"pde": PDEResult, "sgd": SGDResult}
_DICT_FIELDS = ("attrs", "extra", "checkpoint")

#: entries of ``extra`` that are also linked at the top of their group (a hard link: one
#: dataset, two names), under the paths documented for them: ``/pde/risk_corrected``
_TOP_LEVEL_ALIASES = {"pde": ("risk_corrected",)}
_INT64 = np.iinfo(np.int64)


class ResultFileError(ValueError):
    """A file cannot be read as a reducedpde result (missing, corrupt, foreign, too new …)."""


# -- value encoding --------------------------------------------------------------------


def _to_jsonable(value, where: str):
    """Return ``value`` as plain JSON types (dict/list/str/int/float/bool/None).

    NumPy scalars become Python scalars, arrays and tuples become lists. Anything else,
    and dictionaries with non-string keys, raise :class:`TypeError` naming ``where``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        # bool is handled above; int/float subclasses (np.float64) become plain numbers
        return int(value) if isinstance(value, int) else float(value)
    if isinstance(value, np.generic):
        return _to_jsonable(value.item(), where)
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist(), where)
    if isinstance(value, Mapping):  # dicts, and read-only mappings such as RunConfig
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: dictionary keys must be str, got {key!r}")
            out[key] = _to_jsonable(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{where}: cannot store a value of type {type(value).__name__}")


def _dump_json(value, where: str) -> str:
    return json.dumps(_to_jsonable(value, where), allow_nan=True, ensure_ascii=False)


def _encode_attr(value, where: str):
    """Map a Python value to something h5py stores as an attribute (see module doc)."""
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        value = value.item()
    if isinstance(value, str):
        if value.startswith(JSON_PREFIX) or "\x00" in value:
            return JSON_PREFIX + _dump_json(value, where)
        return value
    if isinstance(value, bool):
        return np.bool_(value)
    if isinstance(value, int):
        if _INT64.min <= value <= _INT64.max:
            return np.int64(value)
        return JSON_PREFIX + _dump_json(value, where)
    if isinstance(value, float):
        return np.float64(value)
    if isinstance(value, complex):
        return np.complex128(value)
    if isinstance(value, np.ndarray) and value.ndim > 0:
        _check_array_dtype(value, where)
        return value
    return JSON_PREFIX + _dump_json(value, where)


def _decode_attr(value):
    """Inverse of :func:`_encode_attr`."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        if value.startswith(JSON_PREFIX):
            return json.loads(value[len(JSON_PREFIX) :])
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_array_dtype(arr: np.ndarray, where: str) -> None:
    if arr.dtype.kind not in "biufc":
        raise TypeError(
            f"{where}: only numeric and bool arrays can be stored, got dtype {arr.dtype}"
        )


def _check_name(name, where: str) -> None:
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{where}: {name!r} is not a valid dataset name (non-empty, no '/')")


# -- writing ---------------------------------------------------------------------------


def _write_attrs(obj, attrs: dict, where: str) -> None:
    """Write every entry of ``attrs`` as an HDF5 attribute of ``obj``."""
    if not isinstance(attrs, dict):
        raise TypeError(f"{where} must be a dict, got {type(attrs).__name__}")
    for key, value in attrs.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"{where}: attribute names must be non-empty str, got {key!r}")
        obj.attrs[key] = _encode_attr(value, f"{where}[{key!r}]")


def _write_array(group, name: str, value, where: str) -> None:
    """Write one array as a dataset, compressing large ones."""
    _check_name(name, where)
    arr = np.asarray(value)
    _check_array_dtype(arr, f"{where}/{name}")
    if arr.ndim > 0 and arr.size > COMPRESS_THRESHOLD:
        group.create_dataset(name, data=arr, compression="gzip", compression_opts=4, shuffle=True)
    else:
        group.create_dataset(name, data=arr)


def _write_arrays(group, arrays: dict, where: str) -> None:
    if not isinstance(arrays, dict):
        raise TypeError(f"{where} must be a dict of arrays, got {type(arrays).__name__}")
    for name, value in arrays.items():
        _write_array(group, name, value, where)


def _write_part(parent, name: str, part) -> None:
    """Write a :class:`PDEResult` or :class:`SGDResult` into group ``/name``."""
    group = parent.create_group(name, track_order=True)
    where = f"/{name}"
    for f in dataclasses.fields(part):
        if f.name in _DICT_FIELDS:
            continue
        value = getattr(part, f.name)
        if value is None:
            continue
        _write_array(group, f.name, value, where)
    extra = group.create_group("extra", track_order=True)
    _write_arrays(extra, part.extra, f"{where}/extra")
    for alias in _TOP_LEVEL_ALIASES.get(name, ()):
        if alias in extra:  # the same dataset, also at the group's top level
            group[alias] = extra[alias]
    _write_attrs(group, part.attrs, f"{where} attrs")
    checkpoint = getattr(part, "checkpoint", None)
    if checkpoint is not None:
        _write_tree(group.create_group("checkpoint", track_order=True), checkpoint,
                    f"{where}/checkpoint")


def _write_tree(group, tree: dict, where: str) -> None:
    """Write a nested dict: dicts become groups, arrays datasets (uncompressed: mostly
    random mantissas), everything else attributes."""
    if not isinstance(tree, dict):
        raise TypeError(f"{where} must be a dict, got {type(tree).__name__}")
    for key, value in tree.items():
        _check_name(key, where)
        if isinstance(value, dict):
            _write_tree(group.create_group(key, track_order=True), value, f"{where}/{key}")
        elif isinstance(value, np.ndarray):
            _check_array_dtype(value, f"{where}/{key}")
            group.create_dataset(key, data=value)
        else:
            group.attrs[key] = _encode_attr(value, f"{where}[{key!r}]")


def _write_comparison(parent, comp: ComparisonResult) -> None:
    """Write a :class:`ComparisonResult` into group ``/comparison``."""
    group = parent.create_group("comparison", track_order=True)
    group.attrs["tolerance"] = np.float64(float(comp.tolerance))
    group.attrs["passed"] = np.bool_(bool(comp.passed))
    metrics = group.create_group("metrics", track_order=True)
    _write_attrs(metrics, comp.metrics, "/comparison/metrics")
    arrays = group.create_group("arrays", track_order=True)
    _write_arrays(arrays, comp.arrays, "/comparison/arrays")


def _write_file(h5file, result: RunResult) -> None:
    """Write the whole of ``result`` into the open HDF5 file ``h5file``."""
    if not isinstance(result, RunResult):
        raise TypeError(f"save expects a RunResult, got {type(result).__name__}")
    clash = sorted(set(result.attrs) & set(RESERVED_ROOT_ATTRS))
    if clash:
        raise ValueError(f"RunResult.attrs may not use the reserved names {clash}")
    root = h5file.attrs
    root["format_version"] = np.int64(FORMAT_VERSION)
    root["package"] = PACKAGE_NAME
    root["package_version"] = __version__
    root["scenario"] = _encode_attr(str(result.scenario), "scenario")
    root["config"] = _dump_json(result.config, "config")
    root["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    _write_attrs(h5file, result.attrs, "RunResult.attrs")
    for name in _GROUP_CLASSES:
        part = getattr(result, name)
        if part is not None:
            _write_part(h5file, name, part)
    if result.comparison is not None:
        _write_comparison(h5file, result.comparison)


def save(result: RunResult, path) -> Path:
    """Write ``result`` to the HDF5 file ``path`` atomically.

    The file is first written to a temporary file in the same directory and moved into
    place with :func:`os.replace` once it is complete; if anything goes wrong the
    temporary file is removed and a file already at ``path`` is left untouched.

    Parameters
    ----------
    result : RunResult
        The run to store. ``result.config`` must be JSON-serialisable (nested dicts with
        string keys, lists, str, int, float including inf/nan, bool, None; NumPy scalars
        and arrays are converted to numbers and lists). Attribute dictionaries follow the
        rules of the module docstring and may not use the reserved root names
        ``RESERVED_ROOT_ATTRS``.
    path : str or os.PathLike
        Destination; its directory must exist. An existing file is replaced.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If a value cannot be stored (unsupported type, non-numeric array, non-string key).
    ValueError
        If a run attribute uses a reserved name or a dataset name is invalid.
    OSError
        If the file cannot be written.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        h5file = h5py.File(tmp, "w", track_order=True, userblock_size=USERBLOCK_SIZE)
        try:
            _write_file(h5file, result)
            h5file.flush()
        finally:
            h5file.close()
        _write_checksum(tmp)
    return path


def _content_digest(handle) -> str:
    """SHA-256 of everything after the user block."""
    handle.seek(USERBLOCK_SIZE)
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _write_checksum(path: Path) -> None:
    """Store the SHA-256 of the HDF5 content in the file's user block (bytes 0–511)."""
    with open(path, "r+b") as handle:
        stamp = CHECKSUM_MAGIC + _content_digest(handle).encode("ascii")
        handle.seek(0)
        handle.write(stamp.ljust(USERBLOCK_SIZE, b"\0"))


def _verify_checksum(path: Path) -> None:
    """Refuse a file whose content does not match the checksum in its user block.

    Runs before the HDF5 library parses anything: some corruptions of HDF5 metadata make
    the library loop instead of failing. Files without a stamp are left to HDF5's checks.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(USERBLOCK_SIZE)
            if not head.startswith(CHECKSUM_MAGIC):
                return
            stored = head[len(CHECKSUM_MAGIC) : len(CHECKSUM_MAGIC) + 64].decode("ascii", "replace")
            actual = _content_digest(handle)
    except OSError as exc:
        raise ResultFileError(f"{path}: cannot be read ({_one_line(exc)})") from exc
    if stored != actual:
        raise ResultFileError(f"{path}: checksum mismatch, the file is truncated or corrupt")


# -- reading ---------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _open_checked(path: Path):
    """Open ``path`` read-only after checking that it is one of our files."""
    if not path.exists():
        raise ResultFileError(f"{path}: no such file")
    if path.is_dir():
        raise ResultFileError(f"{path}: is a directory, not a result file")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as exc:
        raise ResultFileError(f"{path}: cannot be read ({_one_line(exc)})") from exc
    if not is_hdf5:
        raise ResultFileError(f"{path}: not an HDF5 file")
    _verify_checksum(path)
    try:
        h5file = h5py.File(path, "r")
    except OSError as exc:
        raise ResultFileError(
            f"{path}: HDF5 file is truncated or corrupt ({_one_line(exc)})"
        ) from exc
    try:
        _check_header(path, h5file)
    except ResultFileError:
        h5file.close()
        raise
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        # h5py reports corrupt metadata while reading the attributes
        h5file.close()
        raise ResultFileError(f"{path}: HDF5 file is corrupt ({_one_line(exc)})") from exc
    except BaseException:
        h5file.close()
        raise
    return h5file


def _check_header(path: Path, h5file) -> None:
    attrs = h5file.attrs
    package = _decode_attr(attrs["package"]) if "package" in attrs else None
    if package != PACKAGE_NAME:
        what = "no 'package' attribute" if package is None else f"package = {package!r}"
        raise ResultFileError(f"{path}: foreign HDF5 file, not a reducedpde result ({what})")
    if "format_version" not in attrs:
        raise ResultFileError(
            f"{path}: foreign HDF5 file, not a reducedpde result (no 'format_version' attribute)"
        )
    version = _decode_attr(attrs["format_version"])
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ResultFileError(f"{path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ResultFileError(
            f"{path}: file format version {version} was written by a newer reducedpde "
            f"(this one, {__version__}, reads up to version {FORMAT_VERSION}); upgrade reducedpde"
        )


def _require(path: Path, group, name: str, kind: str):
    if name not in group:
        location = group.name.rstrip("/") + "/" + name
        raise ResultFileError(f"{path}: required {kind} '{location}' is missing")
    obj = group[name]
    wanted = h5py.Dataset if kind == "dataset" else h5py.Group
    if not isinstance(obj, wanted):
        raise ResultFileError(f"{path}: '{obj.name}' should be a {kind}")
    return obj


def _require_attr(path: Path, obj, name: str):
    if name not in obj.attrs:
        location = "/" if obj.name == "/" else obj.name
        raise ResultFileError(f"{path}: required attribute '{name}' of '{location}' is missing")
    return _decode_attr(obj.attrs[name])


def _read_attrs(obj, skip=()) -> dict:
    return {key: _decode_attr(value) for key, value in obj.attrs.items() if key not in skip}


def _read_array(dataset) -> np.ndarray:
    return np.asarray(dataset[()])


def _read_arrays(path: Path, group) -> dict:
    out = {}
    for name, obj in group.items():
        if not isinstance(obj, h5py.Dataset):
            raise ResultFileError(f"{path}: '{obj.name}' should be a dataset")
        out[name] = _read_array(obj)
    return out


def _read_part(path: Path, h5file, name: str):
    cls = _GROUP_CLASSES[name]
    group = _require(path, h5file, name, "group")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in _DICT_FIELDS:
            continue
        has_default = (
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        )
        if f.name not in group and has_default:
            continue
        kwargs[f.name] = _read_array(_require(path, group, f.name, "dataset"))
    extra = _read_arrays(path, group["extra"]) if "extra" in group else {}
    part = cls(**kwargs, attrs=_read_attrs(group), extra=extra)
    if "checkpoint" in group:
        part.checkpoint = _read_tree(group["checkpoint"])
    return part


def _read_tree(group) -> dict:
    """Inverse of :func:`_write_tree`."""
    out = _read_attrs(group)
    for name, obj in group.items():
        out[name] = _read_tree(obj) if isinstance(obj, h5py.Group) else _read_array(obj)
    return out


def _read_comparison(path: Path, h5file) -> ComparisonResult:
    group = _require(path, h5file, "comparison", "group")
    tolerance = _require_attr(path, group, "tolerance")
    passed = _require_attr(path, group, "passed")
    metrics = _read_attrs(_require(path, group, "metrics", "group"))
    arrays = _read_arrays(path, group["arrays"]) if "arrays" in group else {}
    return ComparisonResult(
        metrics=metrics, tolerance=float(tolerance), passed=bool(passed), arrays=arrays
    )


def _read_run(path: Path, h5file) -> RunResult:
    scenario = _require_attr(path, h5file, "scenario")
    config_text = _require_attr(path, h5file, "config")
    try:
        config = json.loads(config_text)
    except (TypeError, ValueError) as exc:
        raise ResultFileError(f"{path}: attribute 'config' is not valid JSON") from exc
    return RunResult(
        scenario=str(scenario),
        config=config,
        pde=_read_part(path, h5file, "pde") if "pde" in h5file else None,
        sgd=_read_part(path, h5file, "sgd") if "sgd" in h5file else None,
        comparison=_read_comparison(path, h5file) if "comparison" in h5file else None,
        attrs=_read_attrs(h5file, skip=RESERVED_ROOT_ATTRS),
    )


def _metadata(h5file) -> dict:
    return {
        key: _decode_attr(h5file.attrs[key])
        for key in ("format_version", "package", "package_version", "created")
        if key in h5file.attrs
    }


def _read(path) -> tuple[RunResult, dict]:
    path = Path(path)
    h5file = _open_checked(path)
    try:
        return _read_run(path, h5file), _metadata(h5file)
    except ResultFileError:
        raise
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise ResultFileError(f"{path}: cannot be read ({_one_line(exc)})") from exc
    finally:
        h5file.close()


def load(path) -> RunResult:
    """Read a result file written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    RunResult
        With ``pde``, ``sgd`` and ``comparison`` set for the groups present in the file.

    Raises
    ------
    ResultFileError
        (a :class:`ValueError`) if the file is missing, is not HDF5, is truncated or
        corrupt, is not a reducedpde result file, was written by a newer format version,
        or lacks a required group, dataset or attribute. The one-line message names the
        file and the problem.
    """
    return _read(path)[0]


def read_metadata(path) -> dict:
    """The bookkeeping attributes of a result file.

    Returns
    -------
    dict
        ``format_version``, ``package``, ``package_version`` and ``created`` (those
        present). The file is checked as in :func:`load` (missing, foreign, too new).
    """
    path = Path(path)
    h5file = _open_checked(path)
    try:
        return _metadata(h5file)
    finally:
        h5file.close()


# -- summary ---------------------------------------------------------------------------


def _short(value, width: int = 48) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, np.ndarray):
        text = f"array{value.shape}"
    else:
        text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def _attrs_line(attrs: dict) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in attrs.items())


def _array_lines(arrays: dict, indent: str) -> list[str]:
    return [f"{indent}{name:<16} {arr.shape} {arr.dtype}" for name, arr in arrays.items()]


def _last(arr) -> float | None:
    arr = np.asarray(arr, dtype=float)
    if arr.size == 0:
        return None
    if arr.ndim == 1:
        return float(arr[-1])
    return float(np.mean(arr.reshape(-1, arr.shape[-1])[:, -1]))


def _part_lines(name: str, part) -> list[str]:
    lines = [f"/{name}"]
    if part.attrs:
        lines.append(f"  attrs: {_attrs_line(part.attrs)}")
    t = np.asarray(part.t)
    if t.size:
        lines.append(
            f"  t: {t.size} points in [{_short(float(t.min()))}, {_short(float(t.max()))}]"
        )
    final = _last(part.risk)
    if final is not None:
        label = "final risk" if np.ndim(part.risk) == 1 else "final risk (mean over seeds)"
        lines.append(f"  {label}: {final:.6g}")
    arrays = {
        f.name: np.asarray(getattr(part, f.name))
        for f in dataclasses.fields(part)
        if f.name not in _DICT_FIELDS and getattr(part, f.name) is not None
    }
    lines.append("  arrays:")
    lines += _array_lines(arrays, "    ")
    lines += _array_lines({f"extra/{k}": np.asarray(v) for k, v in part.extra.items()}, "    ")
    checkpoint = getattr(part, "checkpoint", None)
    if checkpoint is not None:
        lines.append(f"  checkpoint: {_checkpoint_summary(checkpoint)}")
    return lines


def _checkpoint_summary(checkpoint: dict) -> str:
    runs = checkpoint.get("runs")
    if isinstance(runs, dict) and runs:
        steps = [run.get("step") for run in runs.values() if isinstance(run, dict)]
        return (f"resumable ({len(runs)} runs at steps {_short(steps)}; "
                "continue with --resume FILE)")
    if "next_output" in checkpoint and "times" in checkpoint:
        done = int(checkpoint["next_output"])
        return (f"resumable ({done} of {np.size(checkpoint['times'])} output times done; "
                "continue with --resume FILE)")
    return "resumable (continue with --resume FILE)"


def info(path) -> str:
    """A short human-readable summary of a result file.

    Lists the scenario, when and by which version the file was written, the groups
    present with their attributes, array shapes and dtypes, and the final risk.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str
        Several lines, no trailing newline.

    Raises
    ------
    ResultFileError
        As :func:`load`.
    """
    path = Path(path)
    result, meta = _read(path)
    lines = [
        f"{path}: reducedpde result file",
        f"  scenario: {result.scenario}",
        f"  created: {meta.get('created', '?')} by reducedpde {meta.get('package_version', '?')}"
        f" (format {meta.get('format_version', '?')})",
    ]
    groups = [n for n in ("pde", "sgd", "comparison") if getattr(result, n) is not None]
    lines.append(f"  groups: {', '.join('/' + g for g in groups) if groups else '(none)'}")
    if result.attrs:
        lines.append(f"  attrs: {_attrs_line(result.attrs)}")
    for name in _GROUP_CLASSES:
        part = getattr(result, name)
        if part is not None:
            lines += _part_lines(name, part)
    comp = result.comparison
    if comp is not None:
        verdict = "passed" if comp.passed else (
            "inconclusive" if str(comp.metrics.get("verdict", "")).startswith("inconclusive")
            else "FAILED")
        lines.append(f"/comparison: {verdict} (tolerance {_short(comp.tolerance)})")
        if comp.metrics:
            lines.append(f"  metrics: {_attrs_line(comp.metrics)}")
        if comp.arrays:
            lines.append("  arrays:")
            lines += _array_lines(comp.arrays, "    ")
    return "\n".join(lines)
