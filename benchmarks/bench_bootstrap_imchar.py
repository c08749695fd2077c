# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: BootstrapImCharTask on one 4k×4k SimCamBench detector, one core, beside sep.

The input is a post-ISR-like exposure rendered by the simulator (bench preset, detector 0, a star
field dense enough for astrometry: 40,000 stars/deg², reference catalogue to r = 22) with Poisson
and read noise and the telescope's reported WCS. Figures: the whole task (target ≤ 15 s), its
breakdown by step from the task metadata, and peak memory (tracemalloc, numpy allocations) —
beside sep's ``Background`` + ``extract`` + ``sum_circle`` on the same image (sep measures no PSF,
WCS or zero point: it is the floor a characterisation cannot go below). ``--quick``: one repeat.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import argparse  # noqa: E402  (after the thread settings)
import copy  # noqa: E402  (after the thread settings)
import sys  # noqa: E402  (after the thread settings)
import time  # noqa: E402  (after the thread settings)
import tracemalloc  # noqa: E402  (after the thread settings)
from pathlib import Path  # noqa: E402  (after the thread settings)
from typing import Any  # noqa: E402  (after the thread settings)

import numpy as np  # noqa: E402  (after the thread settings)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Row, print_rows  # noqa: E402  (after the thread settings)
from skystack.image import Exposure, VisitInfo  # noqa: E402  (after the thread settings)
from skystack.instruments import get_simcam  # noqa: E402  (after the thread settings)
from skystack.sim import SimulatorConfig, render_electrons  # noqa: E402  (after the thread settings)
from skystack.sim.refcat import make_refcat  # noqa: E402  (after the thread settings)
from skystack.sim.sky import make_sky  # noqa: E402  (after the thread settings)
from skystack.sim.survey import detector_wcs, make_survey  # noqa: E402  (after the thread settings)
from skystack.tasks.bootstrap_imchar import BootstrapImCharTask  # noqa: E402  (after the thread settings)

TARGET_S = 15.0
STEPS = ("combine_snaps", "characterize_psf")
SUBTASKS = ("background", "fine_background", "repair", "detection", "deblend", "measurement", "ap_corr")
SUBTASKS += ("astrometry", "photocal")


def make_input() -> tuple[Exposure, Any]:
    config = SimulatorConfig.preset("bench")
    config.sky.star_density = 40000.0
    config.sky.n_moving = 0
    config.refcat_mag_max = 22.0
    camera = get_simcam(config.instrument).camera
    visit = make_survey(config, camera)[0]
    det = camera.detectors[0]
    s = config.survey
    radius = camera.field_radius * camera.plate_scale / 3600.0 + 3 * s.dither + 0.01
    sky = make_sky(config.sky, s.ra, s.dec, radius, s.start_mjd, config.seed)
    refcat = make_refcat(sky, config.refcat_mag_max, config.refcat_epoch, 5.0, 0.01, config.seed)
    model, _ = render_electrons(config, camera, det, visit, sky, visit.mjd, None)
    rng = np.random.default_rng(5)
    image = (rng.poisson(np.clip(model, 0, None)) + rng.normal(0, 5.0, model.shape)).astype(np.float32)
    wcs = detector_wcs(camera, det, visit.reported_ra, visit.reported_dec, visit.reported_rotation)
    info = VisitInfo(mjd_tai=visit.mjd, exposure_time=visit.exposure_time, band=visit.band)
    mask = np.zeros(model.shape, dtype=np.int32)
    exposure = Exposure.from_arrays(
        image, mask, (np.clip(model, 0, None) + 25.0).astype(np.float32), wcs=wcs, visit_info=info
    )
    return exposure, refcat


def run_ours(exposure: Exposure, refcat: Any) -> tuple[float, BootstrapImCharTask, int]:
    task = BootstrapImCharTask()
    work = Exposure.from_arrays(
        exposure.image.array.copy(),
        exposure.mask.array.copy(),
        exposure.variance.array,
        wcs=exposure.wcs,
        visit_info=copy.deepcopy(exposure.visit_info),
    )
    t0 = time.perf_counter()
    result = task.run(work, [refcat])
    return time.perf_counter() - t0, task, len(result.source_catalog)


def run_sep(exposure: Exposure) -> tuple[float, int]:
    import sep

    data = exposure.image.array.astype(np.float64)
    t0 = time.perf_counter()
    bkg = sep.Background(data)
    sub = data - bkg.back()
    objects = sep.extract(sub, 5.0, err=bkg.globalrms)
    sep.sum_circle(sub, objects["x"], objects["y"], 12.0, err=bkg.globalrms)
    return time.perf_counter() - t0, len(objects)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repeat instead of three")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    exposure, refcat = make_input()
    run_ours(exposure, refcat)  # warm up numba caches
    times, tasks, n_src = [], [], 0
    for _ in range(repeat):
        t, task, n_src = run_ours(exposure, refcat)
        times.append(t)
        tasks.append(task)
    tracemalloc.start()
    run_ours(exposure, refcat)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    try:
        sep_times = [run_sep(exposure) for _ in range(repeat)]
        sep_t: float | None = float(np.median([t for t, _ in sep_times]))
        n_sep = sep_times[0][1]
    except ImportError:
        sep_t, n_sep = None, 0
    ours = float(np.median(times))
    rows = [
        Row(
            "BootstrapImChar, 4k×4k detector",
            ours,
            peer=sep_t,
            peer_name="sep bkg+extract+sum_circle",
            target=f"<= {TARGET_S:.0f} s",
            passed=ours <= TARGET_S,
        )
    ]
    task = tasks[len(tasks) // 2]
    for step in STEPS:
        rows.append(Row(f"  {step}", float(task.metadata[f"timing.{step}.wall_s"])))
    for name in SUBTASKS:
        sub = getattr(task, name)
        timing = sub.metadata.to_dict().get("timing", {})
        wall = sum(float(v["wall_s"]) for v in timing.values())
        rows.append(Row(f"  {name}", wall))
    rows.append(Row("peak numpy memory", peak, unit="MiB"))
    print_rows("BootstrapImChar on one bench detector (one core)", rows)
    print(
        f"\nsources: ours {n_src}, sep {n_sep}; astrometric matches {task.astrometry.metadata['n_matches']}"
    )


if __name__ == "__main__":
    main()
