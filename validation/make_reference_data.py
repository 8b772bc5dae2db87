"""Regenerate the reference files shipped in ``data/``.

* ``data/fig4_pde_kappa0.1.h5``, ``data/fig4_pde_kappa0.4.h5`` — PDE curves of the
  ``gaussians-fig4`` scenario (defaults, t ≤ 10) for both initial scales;
* ``data/gaussians_quick.h5`` — a full ``reducedpde validate gaussians-quick`` result.

``tests/test_reference_data.py`` checks that a fresh PDE run reproduces the shipped curves.

Usage::

    python validation/make_reference_data.py
"""

from __future__ import annotations

from pathlib import Path

from reducedpde import api, io

DATA = Path(__file__).resolve().parent.parent / "data"


def main():
    DATA.mkdir(exist_ok=True)
    for kappa in (0.1, 0.4):
        result = api.run_pde("gaussians-fig4", {"kappa": kappa}, progress=False)
        print("wrote", io.save(result, DATA / f"fig4_pde_kappa{kappa:g}.h5"))
    result = api.validate("gaussians-quick", progress=False)
    print("wrote", io.save(result, DATA / "gaussians_quick.h5"))


if __name__ == "__main__":
    main()
