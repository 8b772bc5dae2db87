"""The benchmark suite runs end to end on its smallest sizes (no timing is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_writes_its_tables_and_figure(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("results.md", "results.json", "perf.png"):
        assert (tmp_path / name).stat().st_size > 0
    results = json.loads((tmp_path / "results.json").read_text())
    text = (tmp_path / "results.md").read_text()
    assert "Linear radial Fokker–Planck" in text and "Online SGD" in text
    assert results  # one entry per section that ran
