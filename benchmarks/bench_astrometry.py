# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: astrometric and photometric calibration of one 4k×4k detector (BootstrapImChar steps).

Scene (tests/algorithms/astrometry/astrometry_scenes.py): a SimCamBench detector at a random
boresight with the telescope's WCS off by the simulator's default errors (3″ per axis, 0.2°),
~500 reference stars around the detector and ~2000 sources (stars and galaxies). Timed, median of
repeated runs: `match_pattern`, `fit_tan_sip_wcs` (SIP order 3) and both together; then
`fit_zero_point` on 500 stars and `fit_aperture_corrections` for three flux algorithms on 300
stars. There is no peer in the same run (Rubin's ``matchOptimisticB``/``FitTanSipWcsTask`` need
the LSST stack); the target is a small share of BootstrapImChar's 15 s budget per detector.
Accuracy is reported beside speed: matched stars' fitted positions against the true WCS.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "algorithms" / "astrometry"))

from astrometry_scenes import AstrometryScene, make_scene

from _util import Row, median_time, print_rows
from skystack.algorithms.astrometry import PatternMatch, fit_tan_sip_wcs, gnomonic_project, match_pattern
from skystack.algorithms.astrometry.wcs_fit import WcsFitResult
from skystack.algorithms.photocal import fit_aperture_corrections, fit_zero_point
from skystack.geom import Box2I

TARGET_SECONDS = 0.25  # match + fit per detector


def _match(scene: AstrometryScene) -> PatternMatch:
    return match_pattern(
        scene.source_x,
        scene.source_y,
        scene.ref_ra,
        scene.ref_dec,
        scene.approx_wcs,
        source_flux=scene.source_flux,
        ref_flux=scene.ref_flux,
        bbox=scene.bbox,
    )


def _fit(scene: AstrometryScene, match: PatternMatch) -> WcsFitResult:
    si, ri = match.source_index, match.ref_index
    return fit_tan_sip_wcs(
        scene.source_x[si], scene.source_y[si], scene.ref_ra[ri], scene.ref_dec[ri], bbox=scene.bbox
    )


def _both(scene: AstrometryScene) -> WcsFitResult:
    return _fit(scene, _match(scene))


def _truth_rms_mas(scene: AstrometryScene, match: PatternMatch, fit: WcsFitResult) -> float:
    si, ri = match.source_index, match.ref_index
    bright = (scene.source_mag[si] < 19.0) & (scene.source_ref[si] == ri)
    ra, dec = fit.wcs.pixel_to_sky(scene.source_x[si][bright], scene.source_y[si][bright])
    ra0, dec0 = fit.wcs.sky_origin.ra.degrees, fit.wcs.sky_origin.dec.degrees
    x1, y1 = gnomonic_project(ra, dec, ra0, dec0)
    x2, y2 = gnomonic_project(scene.ref_true_ra[ri][bright], scene.ref_true_dec[ri][bright], ra0, dec0)
    return float(np.sqrt(np.mean((x1 - x2) ** 2 + (y1 - y2) ** 2)) * 3.6e6)


def main() -> None:
    rows: list[Row] = []
    scenes = [make_scene(seed, n_refs=300, galaxy_fraction=0.7) for seed in range(5)]
    n_refs = int(np.median([s.ref_ra.size for s in scenes]))
    n_src = int(np.median([s.source_x.size for s in scenes]))
    match_times, fit_times, total_times, truth_rms = [], [], [], []
    for scene in scenes:
        match = _match(scene)
        fit = _fit(scene, match)
        truth_rms.append(_truth_rms_mas(scene, match, fit))
        match_times.append(median_time(functools.partial(_match, scene), repeat=7))
        fit_times.append(median_time(functools.partial(_fit, scene, match), repeat=7))
        total_times.append(median_time(functools.partial(_both, scene), repeat=7))
    label = f"{n_refs} refs / {n_src} sources"
    rows.append(Row(f"match_pattern, {label}", float(np.median(match_times))))
    rows.append(Row("fit_tan_sip_wcs (order 3), matched stars", float(np.median(fit_times))))
    total = float(np.median(total_times))
    rows.append(
        Row(
            "match + fit per 4k detector",
            total,
            target=f"<= {TARGET_SECONDS} s",
            passed=total <= TARGET_SECONDS,
        )
    )
    rms = float(np.median(truth_rms))
    rows.append(
        Row("  bright stars vs truth (median of 5)", rms, unit="mas", target="<= 10 mas", passed=rms <= 10)
    )

    rng = np.random.default_rng(1)
    n = 500
    ref = 10 ** rng.uniform(3.5, 5.0, n)
    inst = ref * 30.0 * (1 + rng.normal(0, 0.01, n))
    zp_time = median_time(lambda: fit_zero_point(inst, 0.01 * inst, ref, 0.01 * ref), repeat=7)
    rows.append(Row("fit_zero_point, 500 stars", zp_time))

    box = Box2I(0, 0, 4096, 4096)
    m = 300
    x, y = rng.uniform(0, 4095, m), rng.uniform(0, 4095, m)
    cal = 10 ** rng.uniform(5, 6.5, m)
    fluxes = {name: (cal / k * (1 + rng.normal(0, 0.003, m)), 0.003 * cal / k) for name, k in
              (("base_PsfFlux", 1.08), ("ap9", 1.25), ("ap12", 1.1))}  # fmt: skip
    ap_time = median_time(
        lambda: fit_aperture_corrections(x, y, cal, 0.002 * cal, fluxes, box, order=2), repeat=7
    )
    rows.append(Row("fit_aperture_corrections, 3 fluxes, 300 stars", ap_time))
    print_rows("Astrometric and photometric calibration of one detector (one core)", rows)


if __name__ == "__main__":
    main()
