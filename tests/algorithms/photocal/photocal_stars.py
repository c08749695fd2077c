# SPDX-License-Identifier: GPL-3.0-or-later
"""Simulated calibration stars for the photometric-calibration tests.

`make_stars` draws reference stars with the simulator's luminosity-function slope between
``mag_min`` and ``mag_max``; their instrumental fluxes (electrons in a 30 s exposure with a known
zero point) carry Poisson and sky noise; their reference fluxes (nJy) carry fractional errors of
``ref_error``; a fraction ``outlier_fraction`` are variables or blends, off by 0.1–0.8 mag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from skystack.image.photocalib import AB_ZERO_POINT_NJY_MAG

__all__ = ["CalibrationStars", "make_stars"]

EXPOSURE_TIME = 30.0
ZERO_POINT_PER_SECOND = 28.1 - 0.12 * 1.2  # r band at airmass 1.2 (the simulator's defaults)
TRUE_ZERO_POINT = ZERO_POINT_PER_SECOND + 2.5 * math.log10(EXPOSURE_TIME)  # mag of 1 electron


@dataclass
class CalibrationStars:
    """Matched stars: instrumental and reference fluxes, colours and which are outliers."""

    inst_flux: np.ndarray
    inst_flux_err: np.ndarray
    ref_flux: np.ndarray
    ref_flux_err: np.ndarray
    colour: np.ndarray
    outlier: np.ndarray


def make_stars(
    seed: int,
    n: int = 200,
    *,
    mag_min: float = 16.0,
    mag_max: float = 20.5,
    ref_error: float = 0.01,
    outlier_fraction: float = 0.05,
    colour_term: float = 0.0,
    sky_per_aperture: float = 25 * 800.0,
) -> CalibrationStars:
    """Draw ``n`` stars; ``m_ref - m_inst = TRUE_ZERO_POINT + colour_term (colour - 0.7)``."""
    rng = np.random.default_rng([seed, 77])
    lo, hi = 10 ** (0.3 * mag_min), 10 ** (0.3 * mag_max)
    mag = np.log10(lo + rng.uniform(size=n) * (hi - lo)) / 0.3
    colour = rng.uniform(0.2, 1.4, n)
    inst_mag = mag - TRUE_ZERO_POINT - colour_term * (colour - 0.7)
    electrons = 10 ** (-0.4 * inst_mag)
    inst_err = np.sqrt(electrons + sky_per_aperture)
    inst = electrons + rng.normal(0, 1, n) * inst_err
    ref_true = 10 ** (-0.4 * (mag - AB_ZERO_POINT_NJY_MAG))  # nJy (exact AB; the simulator rounds to 31.4)
    ref = ref_true * (1.0 + rng.normal(0, ref_error, n))
    outlier = rng.uniform(size=n) < outlier_fraction
    k = int(outlier.sum())
    inst[outlier] *= 10 ** (0.4 * rng.choice([-1.0, 1.0], k) * rng.uniform(0.1, 0.8, k))
    return CalibrationStars(inst, inst_err, ref, ref_true * ref_error, colour, outlier)
