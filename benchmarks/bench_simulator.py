# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: the survey simulator, ``skystack.sim.simulate``.

1. The whole ``demo`` preset (6 visits × 4 SimCam detectors of 1k×1k, 44 calibration raws, refcat,
   truth), written to a temporary folder; median of ``--repeat`` runs. Target (issue #6): under a
   minute on 2 cores.
2. One visit of one ``bench``-preset detector (4096×4096, 8 amplifiers): the detector's static
   signature (flat, hot pixels, column bias; drawn once per detector per simulation), the scene
   rendering (sky, stars, galaxies, ...), the detector effects and digitisation, and writing the
   raw FITS file; medians of ``--repeat`` runs after a warm-up.
3. The whole ``bench`` preset's time: estimated from (2) and its exposure count, or measured with
   ``--full-bench`` (about ten minutes).

Usage: ``python benchmarks/bench_simulator.py [--repeat N] [--full-bench]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Row, median_time, print_rows
from skystack.instruments import get_simcam
from skystack.sim import SimulatorConfig, simulate
from skystack.sim.detector_effects import make_signature
from skystack.sim.raw_writer import write_raw

# the steps of simulate (private), timed one by one
from skystack.sim.simulator import _finish, _primary_header, render_electrons
from skystack.sim.sky import make_sky
from skystack.sim.survey import make_survey

DEMO_TARGET_S = 60.0


def bench_demo(repeat: int) -> tuple[list[Row], dict[str, float]]:
    """Median wall time of the whole demo preset, and the step timings of the last run."""
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}

    def run() -> None:
        with tempfile.TemporaryDirectory() as out:
            result = simulate(SimulatorConfig.preset("demo"), out)
            timings.update(result.timings)
            counts.update(result.counts)

    t = median_time(run, repeat=repeat, warmup=1)
    rows = [
        Row(
            f"demo preset, whole ({counts['raws']} raws + {counts['calib_raws']} calib raws)",
            t,
            target=f"< {DEMO_TARGET_S:.0f} s (2 cores)",
            passed=t < DEMO_TARGET_S,
        )
    ]
    rows += [Row(f"  step {k} (last run)", v) for k, v in timings.items() if k != "total"]
    return rows, {"raws": counts["raws"], "calib_raws": counts["calib_raws"]}


def bench_one_detector(repeat: int) -> tuple[list[Row], dict[str, float]]:
    """Median times of the steps of one bench visit on one 4k×4k detector."""
    config = SimulatorConfig.preset("bench")
    camera = get_simcam(config.instrument).camera
    det = camera.get_detector(0)
    visits = make_survey(config, camera)
    radius = camera.field_radius * camera.plate_scale / 3600.0 + 3 * config.survey.dither + 0.01
    t0 = time.perf_counter()
    sky = make_sky(
        config.sky, config.survey.ra, config.survey.dec, radius, config.survey.start_mjd, config.seed
    )
    t_sky = time.perf_counter() - t0
    visit = visits[0]
    sig = make_signature(camera, det, config.effects, config.seed)
    state: dict[str, object] = {}

    def signature() -> None:
        make_signature(camera, det, config.effects, config.seed)

    def render() -> None:
        state["image"], state["rows"] = render_electrons(config, camera, det, visit, sky, visit.mjd, sig)

    def effects() -> None:
        image = np.array(state["image"], copy=True)
        rng = np.random.default_rng([config.seed, visit.exposure_ids[0], det.id])
        state["segments"] = _finish(image, config, det, sig, visit.exposure_time, rng, {})

    with tempfile.TemporaryDirectory() as out:
        header = _primary_header(
            camera,
            det,
            "science",
            visit.exposure_ids[0],
            str(visit.visit_id),
            0,
            visit.day_obs,
            visit.seq_nums[0],
            visit.mjd,
            visit.exposure_time,
            visit.physical_filter,
            visit,
        )

        def write() -> None:
            write_raw(Path(out) / "raw.fits", header, det, state["segments"])  # type: ignore[arg-type]

        t_sig = median_time(signature, repeat=repeat, warmup=0)
        t_render = median_time(render, repeat=repeat, warmup=1)
        t_effects = median_time(effects, repeat=repeat, warmup=1)
        t_write = median_time(write, repeat=repeat, warmup=1)
    n_objects = len(state["rows"]["x"])  # type: ignore[index]
    per_exposure = t_render + t_effects + t_write
    rows = [
        Row("bench visit x detector (4k x 4k, 8 amps): total", per_exposure),
        Row(f"  render scene ({n_objects} objects on the detector)", t_render),
        Row("  detector effects + digitisation", t_effects),
        Row("  write raw FITS (8 HDUs, 16-bit)", t_write),
        Row("  detector signature (once per detector)", t_sig),
        Row(f"  sky catalogue ({len(sky)} objects, once)", t_sky),
    ]
    return rows, {
        "render": t_render,
        "effects": t_effects,
        "write": t_write,
        "signature": t_sig,
        "sky": t_sky,
    }


def estimate_bench(parts: dict[str, float]) -> tuple[float, int, int]:
    """Estimated time of the whole bench preset: science exposures render, effect and write; the
    calibration exposures only effect and write; one signature per detector."""
    config = SimulatorConfig.preset("bench")
    n_det = len(get_simcam(config.instrument).camera)
    science = config.survey.n_visits * config.survey.snaps * n_det
    n_bands = len(set((config.survey.bands * config.survey.n_visits)[: config.survey.n_visits]))
    c = config.calibrations
    calib = (c.n_bias + c.n_dark + c.n_flat * n_bands) * n_det
    total = (
        parts["sky"]
        + n_det * parts["signature"]
        + science * (parts["render"] + parts["effects"] + parts["write"])
        + calib * (parts["effects"] + parts["write"])
    )
    return total, science, calib


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs per figure (median).")
    parser.add_argument("--full-bench", action="store_true", help="Also run the whole bench preset once.")
    args = parser.parse_args(argv)
    rows, _ = bench_demo(args.repeat)
    print_rows("simulate: demo preset (SimCam, 4 x 1k x 1k detectors)", rows)
    rows, parts = bench_one_detector(args.repeat)
    total, n_science, n_calib = estimate_bench(parts)
    rows.append(Row(f"bench preset, whole: estimate ({n_science} science + {n_calib} calib raws)", total))
    if args.full_bench:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            result = simulate(SimulatorConfig.preset("bench"), out)
            measured = time.perf_counter() - t0
        rows.append(
            Row(
                f"bench preset, whole: measured ({len(result.raw_files)} + {len(result.calib_files)} raws)",
                measured,
            )
        )
    print_rows("simulate: bench preset (SimCamBench, 4k x 4k detectors)", rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"\npeak resident memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
