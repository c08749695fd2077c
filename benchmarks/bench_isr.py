# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: IsrTask on one 4k×4k SimCamBench detector raw (8 amplifiers), one core.

The raw is made with the simulator's own detector effects (`skystack.sim.detector_effects`) for ONE
detector of the bench camera and a minimal scene (flat sky, flat response, dark current, hot
pixels, photon and read noise, bias structure, non-linearity, crosstalk, saturation), without
writing files. Masters: a bias built by `IsrTask.make_master_bias` from one simulated bias raw,
the true dark rate and the true flat response.

Peer (same run): a plain-numpy ISR of the same raw — per-amplifier median overscan subtraction,
assembly, gain, bias, dark and flat, and the variance plane — the minimum any ISR does.
Target: IsrTask ≤ 2 s (DESIGN.md). The per-step breakdown comes from the task metadata and the
peak memory from tracemalloc (numpy allocations) during one run.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import sys  # noqa: E402  (after the thread settings)
import time  # noqa: E402  (after the thread settings)
import tracemalloc  # noqa: E402  (after the thread settings)
from pathlib import Path  # noqa: E402  (after the thread settings)
from typing import Any  # noqa: E402  (after the thread settings)

import numpy as np  # noqa: E402  (after the thread settings)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Row, median_time, print_rows  # noqa: E402  (after the thread settings)
from skystack.config import SourceKind  # noqa: E402  (after the thread settings)
from skystack.instruments import Detector, get_simcam  # noqa: E402  (after the thread settings)
from skystack.sim import SimulatorConfig  # noqa: E402  (after the thread settings)
from skystack.sim.detector_effects import dark_electrons, electrons_to_segments, make_signature  # noqa: E402  (after the thread settings)
from skystack.tasks.isr import IsrConfig, IsrTask  # noqa: E402  (after the thread settings)

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 2.0
EXPTIME = 30.0
SKY_E = 1500.0


def make_raws() -> tuple[Detector, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """One science raw and one bias raw of bench detector 0, and the true calibrations."""
    sim = SimulatorConfig.preset("bench")
    camera = get_simcam("SimCamBench").camera
    det = camera.get_detector(0)
    sig = make_signature(camera, det, sim.effects, sim.seed)
    rng = np.random.default_rng(11)
    image = SKY_E * sig.flat + dark_electrons(det.bbox.shape, EXPTIME, sig, sim.effects)
    image = rng.poisson(image).astype(float)
    science = electrons_to_segments(image, det, sig, sim.effects, rng)
    bias = electrons_to_segments(np.zeros(det.bbox.shape), det, sig, sim.effects, rng)
    names = [a.name for a in det.amplifiers]
    dark_rate = np.asarray(dark_electrons(det.bbox.shape, 1.0, sig, sim.effects), dtype=np.float32)
    flat = (sig.flat / sig.flat.mean()).astype(np.float32)
    return (
        det,
        dict(zip(names, science, strict=True)),
        dict(zip(names, bias, strict=True)),
        {"dark": dark_rate, "flat": flat, "sky": np.float32(SKY_E * sig.flat.mean())},
    )


def numpy_isr(
    raw: dict[str, np.ndarray], det: Detector, bias: np.ndarray, dark: np.ndarray, flat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The peer: plain numpy overscan (median), assembly, gain, bias, dark, flat and variance."""
    image = np.empty(det.bbox.shape, dtype=np.float32)
    variance = np.empty_like(image)
    for amp in det.amplifiers:
        seg = raw[amp.name]
        data = seg[amp.raw_data_bbox.slices()].astype(np.float32)
        data -= np.float32(np.median(seg[amp.raw_serial_overscan_bbox.slices()]))
        if amp.flip_x:
            data = data[:, ::-1]
        if amp.flip_y:
            data = data[::-1]
        sl = amp.bbox.slices()
        image[sl] = data * np.float32(amp.gain)
        image[sl] -= bias[sl]
        variance[sl] = np.maximum(image[sl], 0) + np.float32(amp.read_noise**2)
    image -= np.float32(EXPTIME) * dark
    image /= flat
    variance /= flat * flat
    return image, variance


def main() -> None:
    t0 = time.perf_counter()
    det, raw, bias_raw, truth = make_raws()
    print(f"simulated one 4096x4096 SimCamBench raw (8 amps) in {time.perf_counter() - t0:.1f} s")
    config = IsrConfig()
    config.load_overrides(REPO / "config" / "simcam" / "isr.yaml", SourceKind.INSTRUMENT)
    task = IsrTask(config=config)
    bias = task.make_master_bias([bias_raw], det)
    calibs = {"bias": bias, "dark": truth["dark"], "flat": truth["flat"]}

    def ours() -> object:
        return task.run(raw, detector=det, dark_time=EXPTIME, **calibs)

    def peer() -> object:
        return numpy_isr(raw, det, bias, truth["dark"], truth["flat"])

    t_ours = median_time(ours, repeat=3)
    t_peer = median_time(peer, repeat=3)
    task.empty_metadata()
    tracemalloc.start()
    result = task.run(raw, detector=det, dark_time=EXPTIME, **calibs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    peer()
    _, peak_peer = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    rows = [
        Row(
            "IsrTask.run, 4k x 4k, 8 amps (all steps)",
            t_ours,
            peer=t_peer,
            peer_name="numpy",
            target=f"<= {TARGET_S:.0f} s",
            passed=t_ours <= TARGET_S,
        ),
        Row("peak traced memory", peak / 2**20, unit="MB", peer=peak_peer / 2**20, peer_name="numpy"),
    ]
    timing = task.metadata.to_dict()["timing"]
    steps = [
        "assemble",
        "flag_saturation",
        "subtract_overscan",
        "correct_crosstalk",
        "linearize",
        "apply_gain",
        "process_snap",
        "interpolate",
        "run",
    ]
    for step in steps:
        if step in timing:
            rows.append(Row(f"  step {step}", float(timing[step]["wall_s"])))
    print_rows("ISR (one 4k x 4k detector, one core)", rows)
    exp = result.exposure
    mid = exp.image.array[1000:1100, 1000:1100]
    sigma = np.sqrt(np.median(exp.variance.array[1000:1100, 1000:1100]))
    print(
        f"\nsanity: median sky {np.median(mid):.1f} e- (expected {truth['sky']:.1f}; mean-1 flat), "
        f"noise {np.std(mid):.2f} vs sqrt(variance) {sigma:.2f}, planes {exp.mask.count_planes()}"
    )


if __name__ == "__main__":
    main()
