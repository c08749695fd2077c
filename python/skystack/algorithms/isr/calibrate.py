# SPDX-License-Identifier: GPL-3.0-or-later
"""Bias subtraction, dark subtraction scaled by dark time, and flat-field division (in place).

All calibration frames are detector-shaped arrays in the units of the image being corrected
(electrons in `skystack.tasks.isr.IsrTask`): the bias as a level, the dark as a *rate* per second
of dark time, the flat as a relative response normalised to mean 1 (see
`skystack.algorithms.isr.combine`).
"""

from __future__ import annotations

import numpy as np

from .geometry import IsrInputError

__all__ = ["check_calibration", "divide_flat", "subtract_bias", "subtract_dark"]


def check_calibration(step: str, calib: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``calib`` as an array after checking it exists and has the image's shape.

    Raises
    ------
    IsrInputError
        Naming ``step`` and the fix when ``calib`` is None or has the wrong shape.
    """
    if calib is None:
        raise IsrInputError(
            f"ISR step '{step}' is on but no {step} calibration was given; pass {step}=... to run() "
            f"or switch the step off with config.do_{step} = False"
        )
    arr = np.asarray(calib)
    if arr.shape != shape:
        raise IsrInputError(
            f"ISR step '{step}': the {step} calibration has shape {arr.shape} but the detector image is "
            f"{shape}; use the master {step} of this detector (same camera geometry)"
        )
    return arr


def subtract_bias(image: np.ndarray, bias: np.ndarray) -> None:
    """``image -= bias`` in place (shapes must match; see `check_calibration`)."""
    image -= check_calibration("bias", bias, image.shape)


def subtract_dark(image: np.ndarray, dark_rate: np.ndarray, dark_time: float) -> None:
    """``image -= dark_rate × dark_time`` in place.

    Parameters
    ----------
    image : `numpy.ndarray`
        Image (electrons) to correct.
    dark_rate : `numpy.ndarray`
        Master dark as a rate (electrons per second of dark time).
    dark_time : `float`
        Dark time of the exposure in seconds.

    Raises
    ------
    IsrInputError
        If ``dark_time`` is negative or not finite, or the dark has the wrong shape.
    """
    rate = check_calibration("dark", dark_rate, image.shape)
    if not np.isfinite(dark_time) or dark_time < 0:
        raise IsrInputError(
            f"ISR step 'dark' needs a finite dark time >= 0 s, got {dark_time}; set VisitInfo.dark_time "
            "or pass dark_time=... to run()"
        )
    image -= np.float32(dark_time) * rate if image.dtype == np.float32 else dark_time * rate


def divide_flat(
    image: np.ndarray, flat: np.ndarray, variance: np.ndarray | None = None, min_flat: float = 1e-3
) -> np.ndarray:
    """Divide ``image`` (and ``variance`` by the flat squared) by the flat, in place.

    Pixels whose flat is below ``min_flat`` (dead or unexposed) or not finite are left undivided
    and returned as a boolean mask for the caller to flag (BAD).

    Returns
    -------
    bad : `numpy.ndarray`
        Boolean mask of pixels where the flat was unusable.
    """
    f = check_calibration("flat", flat, image.shape)
    bad = ~(f >= min_flat)
    safe = np.where(bad, 1.0, f).astype(image.dtype, copy=False) if bad.any() else f
    image /= safe
    if variance is not None:  # twice rather than by safe² to avoid an image-sized temporary
        variance /= safe
        variance /= safe
    return bad
