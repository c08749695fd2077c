# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: exact circular-aperture photometry, skystack vs sep, one core.

20,000 sources at random positions on a 4k×4k float32 image with a variance plane; apertures of
3, 6 and 12 pixels (and Rubin's seven radii 3–25 px), exact pixel/circle overlap (sep
``subpix=0``). skystack measures all radii in one pass (`aperture_fluxes`); sep is called once per
radius, as it takes one radius per source. Single-radius calls are compared too. Median of 7 runs
after a warm-up (numba compiled and cached). Target (DESIGN.md): no slower than sep.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import sys  # noqa: E402  (after the thread settings)
from pathlib import Path  # noqa: E402  (after the thread settings)

import numpy as np  # noqa: E402  (after the thread settings)
import sep  # noqa: E402  (after the thread settings)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Row, median_time, print_rows  # noqa: E402  (after the thread settings)
from skystack.algorithms.measure import aperture_flux, aperture_fluxes  # noqa: E402  (after the thread settings)

N_SOURCES = 20_000
SHAPE = (4096, 4096)
RADII = (3.0, 6.0, 12.0)
RUBIN_RADII = (3.0, 4.5, 6.0, 9.0, 12.0, 17.0, 25.0)
REPEAT = 7


def main() -> None:
    rng = np.random.default_rng(42)
    image = rng.normal(100.0, 10.0, size=SHAPE).astype(np.float32)
    variance = np.full(SHAPE, 100.0, dtype=np.float32)
    x = rng.uniform(0.0, SHAPE[1] - 1.0, N_SOURCES)
    y = rng.uniform(0.0, SHAPE[0] - 1.0, N_SOURCES)

    # Same numbers first (sep's overlaps agree to ~1e-7 of the flux).
    ours = aperture_fluxes(image, x, y, RADII, variance=variance)
    for k, r in enumerate(RADII):
        flux, _, _ = sep.sum_circle(image, x, y, r, var=variance, subpix=0)
        ok = np.isfinite(ours.flux[:, k])
        diff = np.max(np.abs(ours.flux[ok, k] - flux[ok]) / np.maximum(np.abs(flux[ok]), 1.0))
        print(f"r={r:4.1f}: max relative difference to sep {diff:.1e}")

    rows: list[Row] = []

    def compare(name: str, ours_fn: object, sep_fn: object) -> None:
        t_ours = median_time(ours_fn, repeat=REPEAT)  # type: ignore[arg-type]
        t_sep = median_time(sep_fn, repeat=REPEAT)  # type: ignore[arg-type]
        rows.append(
            Row(name, t_ours, peer=t_sep, peer_name="sep", target="<= 1.0x sep", passed=t_ours <= t_sep)
        )

    compare(
        f"{N_SOURCES} src x 3 radii {RADII}, with var",
        lambda: aperture_fluxes(image, x, y, RADII, variance=variance),
        lambda: [sep.sum_circle(image, x, y, r, var=variance, subpix=0) for r in RADII],
    )
    compare(
        f"{N_SOURCES} src x 3 radii, no var",
        lambda: aperture_fluxes(image, x, y, RADII),
        lambda: [sep.sum_circle(image, x, y, r, subpix=0) for r in RADII],
    )
    compare(
        f"{N_SOURCES} src x 7 Rubin radii 3-25, with var",
        lambda: aperture_fluxes(image, x, y, RUBIN_RADII, variance=variance),
        lambda: [sep.sum_circle(image, x, y, r, var=variance, subpix=0) for r in RUBIN_RADII],
    )
    for r in RADII:
        compare(
            f"{N_SOURCES} src, single radius {r:g}, with var",
            lambda r=r: aperture_flux(image, x, y, r, variance=variance),
            lambda r=r: sep.sum_circle(image, x, y, r, var=variance, subpix=0),
        )
    print_rows("Exact circular apertures on a 4k x 4k image (one core, median of 7)", rows)


if __name__ == "__main__":
    main()
