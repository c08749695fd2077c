# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: PSF star selection and PSF determination on a 4k×4k detector, one core.

Scene (`tests/algorithms/psf/psf_sim_scene.py`, rendered by the simulator's renderer): 4096×4096
pixels, ~200 bright Moffat stars (beta 3.5, FWHM 4 px growing by 8 % across the detector), 300
Sérsic galaxies, 600 faint stars and 20 close pairs, sky 1000 e-, read noise 5 e-. A catalog of all
sources is measured first (aperture flux, adaptive moments; timed apart, as measurement is not
part of the PSF step); then timed: `select_psf_candidates` on the catalog, `determine_psf` on the
candidates (degree-2 PixelPsf, 20 % reserved), and the two together.

Peer (same run, if installed): photutils ``EPSFBuilder`` (oversampling 1, 10 iterations) on the
same candidates — a constant effective PSF, so it cannot follow the field variation; its time and
FWHM error at the centre are shown for scale. Quality figures: model FWHM against the effective
(pixel-integrated) truth at the centre and corners, and the reserved stars' chi2/dof with the true
variance. Target: the PSF step is a small part of BootstrapImChar's 15 s (DESIGN.md): <= 2 s.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import sys  # noqa: E402  (after the thread settings)
import time  # noqa: E402  (after the thread settings)
import warnings  # noqa: E402  (after the thread settings)
from pathlib import Path  # noqa: E402  (after the thread settings)

import numpy as np  # noqa: E402  (after the thread settings)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "algorithms" / "psf"))

from psf_sim_scene import make_star_field, measure_catalog, true_fwhm  # noqa: E402

from _util import Row, median_time, print_rows  # noqa: E402  (after the thread settings)
from skystack.algorithms.psf import (  # noqa: E402  (after the thread settings)
    determine_psf,
    fit_psf_stars,
    select_psf_candidates,
)
from skystack.image.psf import PixelPsf  # noqa: E402  (after the thread settings)

TARGET_S = 2.0
SIZE = 4096


def _peer_epsf(image: np.ndarray, x: np.ndarray, y: np.ndarray, size: int) -> tuple[float, np.ndarray] | None:
    """photutils EPSFBuilder on the candidates: (seconds, ePSF image), or None if not installed."""
    try:
        from astropy.nddata import NDData
        from astropy.table import Table
        from photutils.psf import EPSFBuilder, extract_stars
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        stars = extract_stars(NDData(data=image), Table({"x": x, "y": y}), size=size)
        builder = EPSFBuilder(oversampling=1, maxiters=10, progress_bar=False)
        epsf, _ = builder(stars)
        return time.perf_counter() - t0, np.asarray(epsf.data)


def main() -> None:
    t0 = time.perf_counter()
    field = make_star_field(
        shape=(SIZE, SIZE),
        n_stars=220,
        fwhm0=4.0,
        n_galaxies=300,
        n_faint=600,
        n_companions=20,
        min_separation=60.0,
        seed=21,
    )
    x, y, _, kind = field.all_sources()
    print(f"simulated {SIZE}x{SIZE} with {x.size} sources in {time.perf_counter() - t0:.1f} s")
    catalog = measure_catalog(field.image, field.variance, x, y)

    def select() -> object:
        return select_psf_candidates(
            catalog.x,
            catalog.y,
            catalog.flux,
            catalog.flux_err,
            catalog.ixx,
            catalog.iyy,
            catalog.ixy,
            flags={"edge": catalog.edge},
        )

    selection = select_psf_candidates(
        catalog.x,
        catalog.y,
        catalog.flux,
        catalog.flux_err,
        catalog.ixx,
        catalog.iyy,
        catalog.ixy,
        flags={"edge": catalog.edge},
    )
    cx, cy = catalog.x[selection.mask], catalog.y[selection.mask]

    def determine() -> object:
        return determine_psf(field.image, field.variance, cx, cy)

    def both() -> object:
        sel = select_psf_candidates(
            catalog.x,
            catalog.y,
            catalog.flux,
            catalog.flux_err,
            catalog.ixx,
            catalog.iyy,
            catalog.ixy,
            flags={"edge": catalog.edge},
        )
        return determine_psf(field.image, field.variance, catalog.x[sel.mask], catalog.y[sel.mask])

    t_measure = median_time(lambda: measure_catalog(field.image, field.variance, x, y), repeat=3)
    t_select = median_time(select, repeat=5)
    t_determine = median_time(determine, repeat=5)
    t_both = median_time(both, repeat=5)
    result = determine_psf(field.image, field.variance, cx, cy)
    peer = _peer_epsf(field.image, cx, cy, result.stamp_size)

    rows = [
        Row(f"measure catalog ({x.size} sources), not PSF", t_measure),
        Row(f"select_psf_candidates ({x.size} sources)", t_select),
        Row(
            f"determine_psf ({cx.size} candidates)",
            t_determine,
            peer=None if peer is None else peer[0],
            peer_name="photutils EPSF",
        ),
        Row("select + determine", t_both, target=f"<= {TARGET_S:.0f} s", passed=t_both <= TARGET_S),
    ]
    print_rows(f"PSF star selection and modelling ({SIZE}x{SIZE}, one core, medians)", rows)

    n_stars = int(np.count_nonzero(kind == 0))
    picked_stars = int(np.count_nonzero(selection.mask & (kind == 0)))
    others = int(np.count_nonzero(selection.mask & (kind != 0)))
    print(
        f"\nselection: {selection.n_selected} candidates, {picked_stars} of {n_stars} bright stars, "
        f"{others} other sources; rejected by {selection.reasons}"
    )
    print(
        f"model: {result.n_used} used, {result.n_reserved} reserved, {result.n_rejected} rejected, "
        f"stamp {result.stamp_size} px, {result.n_iterations} iterations"
    )
    names = {
        "center": ((SIZE - 1) / 2, (SIZE - 1) / 2),
        "lower_left": (0.0, 0.0),
        "lower_right": (SIZE - 1.0, 0.0),
        "upper_left": (0.0, SIZE - 1.0),
        "upper_right": (SIZE - 1.0, SIZE - 1.0),
    }
    errors = {
        k: result.fwhm[k] / true_fwhm(float(field.moffat_fwhm(px, py))) - 1 for k, (px, py) in names.items()
    }
    print("FWHM model/truth - 1: " + ", ".join(f"{k} {100 * v:+.2f} %" for k, v in errors.items()))
    res = result.reserved
    fits = fit_psf_stars(result.psf, field.image, field.true_variance, result.x[res], result.y[res])
    ok = fits.ok
    overall = np.sum(fits.chi2[ok]) / np.sum(fits.dof[ok])
    print(
        f"reserved stars, true variance: chi2/dof overall {overall:.3f}, "
        f"median {np.median(fits.chi2_per_dof[ok]):.3f}; determiner's own (pipeline variance): "
        f"{result.chi2_per_dof_reserved:.3f}"
    )
    if peer is not None:
        peer_fwhm = PixelPsf(peer[1][None], 0).fwhm()
        truth = true_fwhm(float(field.moffat_fwhm(*names["center"])))
        print(f"peer (constant ePSF) FWHM vs truth at the centre: {100 * (peer_fwhm / truth - 1):+.2f} %")


if __name__ == "__main__":
    main()
