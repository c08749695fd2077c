# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the one-effect-at-a-time simulator tests: configs with a chosen set of effects on,
raw files read back in electrons, raw files sorted by observation type."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from skystack.instruments import Detector, SimCamTiny
from skystack.sim import SimulationResult, SimulatorConfig
from skystack.sim.raw_writer import assemble_raw, read_raw

__all__ = [
    "TINY_CAMERA",
    "effects_only",
    "electrons",
    "raws_of_kind",
    "segments_in_readout_order",
]

TINY_CAMERA = SimCamTiny().camera


def effects_only(*names: str, overrides: list[str] | None = None) -> SimulatorConfig:
    """The ``tiny`` preset with every boolean effect off except ``names``, then ``overrides``.

    One visit and no calibration exposures unless ``overrides`` ask for them; no galaxies,
    transients or lensed quasars so the scene is stars (and moving objects) only.
    """
    config = SimulatorConfig.preset("tiny")
    fields = type(config.effects).model_fields
    for name in fields:
        if isinstance(getattr(config.effects, name), bool):
            setattr(config.effects, name, False)
    for name in names:
        if name not in fields or not isinstance(getattr(config.effects, name), bool):
            raise ValueError(f"effects_only: {name!r} is not a boolean EffectsConfig switch")
        setattr(config.effects, name, True)
    config.apply_overrides(
        [
            "survey.n_visits=1",
            "calibrations.n_bias=0",
            "calibrations.n_dark=0",
            "calibrations.n_flat=0",
            "sky.galaxy_density=0",
            "sky.n_transients=0",
            "sky.n_lensed_quasars=0",
            *(overrides or []),
        ]
    )
    return config


def electrons(path: Path, detector: Detector) -> np.ndarray:
    """The data sections of a raw file in detector order, times each amplifier's gain (no bias removed)."""
    _, image, _ = assemble_raw(path)
    for amp in detector.amplifiers:
        image[amp.bbox.slices()] *= amp.gain
    return image


def segments_in_readout_order(path: Path) -> dict[str, np.ndarray]:
    """``{amplifier: data section}`` of a raw file as read out (float64 ADU, not flipped)."""
    _, amps = read_raw(path)
    out = {}
    for name, (header, seg) in amps.items():
        xs, ys = header["DATASEC"].strip("[]").split(",")
        x1, x2 = (int(v) for v in xs.split(":"))
        y1, y2 = (int(v) for v in ys.split(":"))
        out[name] = seg[y1 - 1 : y2, x1 - 1 : x2].astype(float)
    return out


def raws_of_kind(result: SimulationResult, kind: str) -> list[tuple[Path, int]]:
    """``(path, detector id)`` of the raws whose ``OBSTYPE`` is ``kind`` (science, bias, dark, flat)."""
    out = []
    for path in [*result.raw_files, *result.calib_files]:
        header = fits.getheader(path, 0)
        if header["OBSTYPE"] == kind:
            out.append((path, int(header["DETID"])))
    return out
