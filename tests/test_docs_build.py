"""The documentation builds with Sphinx, warnings as errors, in a fresh copy of docs/."""

import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_parser")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("sphinxarg")

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("_build", "auto_gallery", "generated", "sg_execution_times.rst")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docs")
    source = tmp / "docs"
    shutil.copytree(ROOT / "docs", source, ignore=shutil.ignore_patterns(*GENERATED))
    html = tmp / "html"
    env = {**os.environ, "REDUCEDPDE_ROOT": str(ROOT), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
         "-d", str(tmp / "doctrees"), str(source), str(html)],
        capture_output=True, text=True, env=env, cwd=tmp, timeout=600,
    )
    return proc, html


def test_sphinx_build_has_no_warnings(built):
    proc, _ = built
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "WARNING" not in proc.stderr


def test_cli_reference_lists_every_subcommand(built):
    from reducedpde.cli import build_parser

    _, html = built
    text = unescape(re.sub(r"<[^>]+>", "", (html / "cli.html").read_text()))
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"reducedpde {name}" in text


def test_gallery_draws_the_validation_figures(built):
    _, html = built
    for name in ("plot_fig4", "plot_fig4_densities", "plot_staircase", "plot_bmz23",
                 "plot_convergence"):
        assert (html / "_images" / f"sphx_glr_{name}_001.png").stat().st_size > 10_000


def test_api_reference_and_hdf5_layout_pages(built):
    _, html = built
    api = (html / "api.html").read_text()
    for name in ("reducedpde.api.run_pde", "reducedpde.io.load", "reducedpde.labelled.to_xarray",
                 "reducedpde.animation.animate", "reducedpde.plot.risk_curves"):
        assert f'id="{name}"' in api
    assert "File layout" in (html / "generated" / "hdf5.html").read_text()
    assert (html / "_downloads").exists()


@pytest.mark.parametrize("present", [(), ("architecture",), ("architecture", "mfld")])
def test_index_lists_the_optional_pages_that_exist(tmp_path, monkeypatch, present):
    import runpy

    monkeypatch.setattr(sys, "path", list(sys.path))  # conf.py prepends its parent
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(ROOT / "docs" / "conf.py", docs)
    for name in present:
        (docs / f"{name}.md").write_text(f"# {name}\n")
    conf = runpy.run_path(str(docs / "conf.py"))
    source = [(ROOT / "docs" / "index.md").read_text()]
    conf["_insert_optional_pages"](None, "index", source)
    assert conf["OPTIONAL_MARKER"] not in source[0]
    for name in ("architecture", "mfld"):
        assert (f"\n{name}\n" in source[0]) == (name in present)
