# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: calibration products and ISR's run_quantum on 4k×4k SimCamBench detectors, one core.

Frames are made with the simulator's detector effects for ONE bench detector (as bench_isr.py):
five bias frames, five 300-s darks and three flats. Measured, median of a few runs:

- `BiasTask.run`, `DarkTask.run`, `FlatTask.run` on those frames (ISR of each frame, then the
  clipped combination of `skystack.algorithms.isr.combine`; the per-part split comes from the
  task metadata);
- `IsrTask.run_quantum` on a raw read from a FITS file (through an in-memory quantum context:
  FITS unpacking, visit information from the header translator, defect boxes) against
  `IsrTask.run` on the same segments, i.e. the cost of being a PipelineTask.

Peer: none for the masters (Rubin's cp_pipe is not installed here); DESIGN.md's ISR target
(≤ 2 s per detector) for the ISR rows.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import sys  # noqa: E402  (after the thread settings)
import tempfile  # noqa: E402  (after the thread settings)
import time  # noqa: E402  (after the thread settings)
from pathlib import Path  # noqa: E402  (after the thread settings)
from typing import Any  # noqa: E402  (after the thread settings)

import numpy as np  # noqa: E402  (after the thread settings)
from astropy.io import fits  # noqa: E402  (after the thread settings)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Row, median_time, print_rows  # noqa: E402  (after the thread settings)
from skystack.butler.storage_classes import get_storage_class  # noqa: E402  (after the thread settings)
from skystack.config import SourceKind  # noqa: E402  (after the thread settings)
from skystack.instruments import get_simcam  # noqa: E402  (after the thread settings)
from skystack.pipe import InMemoryQuantumContext, InMemoryRef  # noqa: E402  (after the thread settings)
from skystack.sim import SimulatorConfig  # noqa: E402  (after the thread settings)
from skystack.sim.detector_effects import (  # noqa: E402  (after the thread settings)
    dark_electrons,
    electrons_to_segments,
    make_signature,
)
from skystack.sim.raw_writer import write_raw  # noqa: E402  (after the thread settings)
from skystack.tasks.cpp import BiasTask, DarkTask, FlatTask  # noqa: E402  (after the thread settings)
from skystack.tasks.isr import IsrConfig, IsrTask  # noqa: E402  (after the thread settings)

REPO = Path(__file__).resolve().parent.parent
INSTRUMENT = "SimCamBench"
TARGET_S = 2.0
DARK_T, FLAT_T, SCIENCE_T = 300.0, 5.0, 30.0


def _config(task: Any, name: str) -> Any:
    config = task.ConfigClass()
    config.load_overrides(REPO / "config" / "simcam" / f"{name}.yaml", SourceKind.INSTRUMENT)
    return config


def _header(det: Any, exptime: float) -> fits.Header:
    cards = {
        "INSTRUME": INSTRUMENT, "OBSTYPE": "science", "EXPID": 1, "OBSID": "bench_1", "GROUPID": "1",
        "SNAP": 0, "DAYOBS": 20250101, "SEQNUM": 1, "DATE-BEG": "2025-01-01T00:00:00",
        "DATE-END": "2025-01-01T00:00:30", "EXPTIME": exptime, "DARKTIME": exptime,
        "FILTER": "SimCam-r", "BAND": "r", "RA": 150.0, "DEC": 2.0, "ROTPA": 0.0, "AIRMASS": 1.2,
        "DETID": det.id, "DETNAME": det.name, "DETSER": det.serial,
    }  # fmt: skip
    return fits.Header(list(cards.items()))


def main() -> None:
    t0 = time.perf_counter()
    sim = SimulatorConfig.preset("bench")
    camera = get_simcam(INSTRUMENT).camera
    det = camera.get_detector(0)
    sig = make_signature(camera, det, sim.effects, sim.seed)
    rng = np.random.default_rng(5)
    names = [a.name for a in det.amplifiers]

    def frame(electrons: np.ndarray | float) -> dict[str, np.ndarray]:
        image = rng.poisson(np.broadcast_to(electrons, det.bbox.shape)).astype(float)
        return dict(zip(names, electrons_to_segments(image, det, sig, sim.effects, rng), strict=True))

    biases = [frame(0.0) for _ in range(5)]
    darks = [frame(dark_electrons(det.bbox.shape, DARK_T, sig, sim.effects)) for _ in range(5)]
    flats = [frame(20000.0 * sig.flat) for _ in range(3)]
    science = frame(1500.0 * sig.flat + dark_electrons(det.bbox.shape, SCIENCE_T, sig, sim.effects))
    print(f"simulated 14 frames of a 4096x4096 SimCamBench detector in {time.perf_counter() - t0:.1f} s")

    rows = []
    bias_task = BiasTask(config=_config(BiasTask, "cp_bias"))
    t_bias = median_time(lambda: bias_task.run(biases, detector=det), repeat=3, warmup=0)
    bias = bias_task.run(biases, detector=det).bias
    dark_task = DarkTask(config=_config(DarkTask, "cp_dark"))
    t_dark = median_time(
        lambda: dark_task.run(darks, detector=det, dark_times=[DARK_T] * 5, bias=bias), repeat=3, warmup=0
    )
    dark = dark_task.run(darks, detector=det, dark_times=[DARK_T] * 5, bias=bias).dark
    flat_task = FlatTask(config=_config(FlatTask, "cp_flat"))
    t_flat = median_time(
        lambda: flat_task.run(flats, detector=det, dark_times=[FLAT_T] * 3, bias=bias, dark=dark),
        repeat=3,
        warmup=0,
    )
    flat = flat_task.run(flats, detector=det, dark_times=[FLAT_T] * 3, bias=bias, dark=dark).flat
    for label, t, task, frames, times, calibs in (
        ("BiasTask.run, 5 frames", t_bias, bias_task, biases, None, {}),
        ("DarkTask.run, 5 frames", t_dark, dark_task, darks, DARK_T, {"bias": bias}),
        ("FlatTask.run, 3 frames", t_flat, flat_task, flats, FLAT_T, {"bias": bias, "dark": dark}),
    ):
        t_frame = median_time(lambda: task.process_frame(frames[0], det, times, calibs), repeat=3, warmup=0)  # noqa: B023
        rows.append(Row(label, t))
        rows.append(Row("  of which the ISR of one frame", t_frame))

    # ISR as a PipelineTask: FITS raw through an in-memory quantum context vs run() on segments
    with tempfile.TemporaryDirectory() as tmp:
        path = write_raw(Path(tmp) / "raw.fits", _header(det, SCIENCE_T), det, [science[n] for n in names])
        formatter = get_storage_class("RawFits").get_formatter()
        t_read = median_time(lambda: formatter.read(path), repeat=3)
        hdus = formatter.read(path)
    isr = IsrTask(config=_isr_config())
    key = {"instrument": INSTRUMENT, "detector": det.id}
    refs = {"raw": InMemoryRef.make("raw", exposure=1, **key)}
    datasets: dict[Any, Any] = {refs["raw"]: hdus}
    for name, value in (
        ("bias", bias),
        ("dark", dark),
        ("flat", flat),
        ("defects", {"bbox": np.zeros((0, 4))}),
    ):
        refs[name] = InMemoryRef.make(name, **key)
        datasets[refs[name]] = value
    out = {"post_isr": InMemoryRef.make("post_isr", exposure=1, **key)}

    def quantum() -> object:
        return isr.run_quantum(InMemoryQuantumContext(datasets), refs, out)

    segments = {h.header["EXTNAME"]: h.data for h in hdus[1:]}
    t_quantum = median_time(quantum, repeat=3)
    t_run = median_time(
        lambda: isr.run(segments, detector=det, bias=bias, dark=dark, flat=flat, dark_time=SCIENCE_T),
        repeat=3,
    )
    rows += [
        Row("read raw FITS (RawFits formatter)", t_read),
        Row("IsrTask.run_quantum (in-memory context)", t_quantum, target=f"<= {TARGET_S:.0f} s",
            passed=t_quantum <= TARGET_S),
        Row("IsrTask.run on the same segments", t_run, target=f"<= {TARGET_S:.0f} s",
            passed=t_run <= TARGET_S),
    ]  # fmt: skip
    print_rows("Calibration products and ISR quanta (one 4k x 4k detector, one core)", rows)
    print(
        f"\nsanity: master dark median {np.median(dark.image.array):.4f} e-/s "
        f"(truth {sim.effects.dark_current}), flat mean outside the curated defects "
        f"{flat.image.array[~det.defect_mask()].mean():.4f}"
    )


def _isr_config() -> IsrConfig:
    config = IsrConfig()
    config.load_overrides(REPO / "config" / "simcam" / "isr.yaml", SourceKind.INSTRUMENT)
    return config


if __name__ == "__main__":
    main()
