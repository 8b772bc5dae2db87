"""``python -m benchmarks [--quick] [--only pde|radial|sgd|sweep] [--out DIR]``.

Runs the benchmarks on one thread and writes ``results.md``, ``results.json`` and
``perf.png`` to ``benchmarks/results`` (``benchmarks/results/quick`` with ``--quick``).
With ``--only`` the other sections already in ``results.json`` are kept, so the Markdown
file always shows every section measured so far (each with its own date and load).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import common, report

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smallest sizes and the 1e-3 accuracy target only (< 1-2 min)")
    parser.add_argument("--only", choices=sorted(report.SECTIONS), action="append",
                        help="run one section (repeatable); default: all")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default benchmarks/results[/quick])")
    args = parser.parse_args(argv)
    out = args.out or (HERE / "results" / ("quick" if args.quick else ""))
    out.mkdir(parents=True, exist_ok=True)
    sections = args.only or list(report.SECTIONS)
    results = common.load(out / "results.json") if args.only else {}
    started = time.perf_counter()
    for key in sections:
        print(f"[{key}] {report.TITLES[key]}", flush=True)
        section_start = time.perf_counter()
        results[key] = report.SECTIONS[key].run(
            quick=args.quick, log=lambda msg: print(msg, flush=True)
        )
        results[key]["section_wall_s"] = time.perf_counter() - section_start
        # write after every section, so an interrupted run keeps what it measured
        common.write_json(results, out / "results.json")
    (out / "results.md").write_text(report.markdown(results), encoding="utf-8")
    drew = report.plot(results, out / "perf.png")
    print(report.fmt_summary(results))
    print(f"wrote {out / 'results.md'}, {out / 'results.json'}"
          + (f", {out / 'perf.png'}" if drew else "")
          + f" in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
