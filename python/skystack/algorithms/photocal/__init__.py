# SPDX-License-Identifier: GPL-3.0-or-later
"""Photometric calibration of one detector: zero point and aperture corrections.

- `fit_zero_point` (`zero_point`): zero point (and optional colour term) from matched reference
  stars, with a `~skystack.image.PhotoCalib` built from it;
- `fit_aperture_corrections` / `apply_aperture_correction` (`aperture_correction`): spatially
  varying corrections from each flux algorithm to the calibration aperture, as an
  `~skystack.image.ApCorrMap`;
- `clipped_linear_fit` (`robust_fit`): the weighted, scatter-aware, sigma-clipped least squares
  both use.
"""

from .aperture_correction import (
    ApertureCorrectionFit,
    ApertureCorrectionResult,
    ap_corr_error_name,
    ap_corr_name,
    apply_aperture_correction,
    fit_aperture_corrections,
)
from .robust_fit import ClippedFit, clipped_linear_fit
from .zero_point import ZeroPointResult, fit_zero_point

__all__ = [
    "ApertureCorrectionFit",
    "ApertureCorrectionResult",
    "ClippedFit",
    "ZeroPointResult",
    "ap_corr_error_name",
    "ap_corr_name",
    "apply_aperture_correction",
    "clipped_linear_fit",
    "fit_aperture_corrections",
    "fit_zero_point",
]
