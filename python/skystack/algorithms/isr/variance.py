# SPDX-License-Identifier: GPL-3.0-or-later
"""Variance plane from the signal, the gain and the read noise.

In electrons (what `skystack.tasks.isr.IsrTask` produces) the variance of a pixel holding ``S``
electrons (bias removed, dark current included) is ``S + σ_read²``: Poisson noise of the collected
charge plus the amplifier's read noise (electrons). In ADU the same statement is
``S_adu / g + (σ_read / g)²`` with ``g`` the gain in e-/ADU. Negative signals (noise on an empty
pixel) contribute no Poisson term.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .geometry import DetectorLike

__all__ = ["compute_variance"]


def compute_variance(
    image: np.ndarray,
    detector: DetectorLike,
    units: Literal["electron", "adu"] = "electron",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Per-pixel variance of an assembled, bias-subtracted image.

    Parameters
    ----------
    image : `numpy.ndarray`
        Signal per pixel, bias removed, in ``units``.
    detector : `DetectorLike`
        Gives each amplifier's box, ``gain`` (e-/ADU) and ``read_noise`` (e-).
    units : {"electron", "adu"}
        Units of ``image`` and of the returned variance (squared).
    out : `numpy.ndarray`, optional
        Array to fill (same shape); a new array of the image's dtype otherwise.

    Returns
    -------
    variance : `numpy.ndarray`
        ``max(S, 0) + σ_read²`` (electrons) or ``max(S, 0)/g + (σ_read/g)²`` (ADU).

    Raises
    ------
    ValueError
        If ``units`` is unknown or a gain is not positive.
    """
    if units not in ("electron", "adu"):
        raise ValueError(f"compute_variance: units must be 'electron' or 'adu', got {units!r}")
    var = np.empty_like(image) if out is None else out
    np.maximum(image, 0, out=var)
    for amp in detector.amplifiers:
        if not amp.gain > 0:
            raise ValueError(f"Amplifier {amp.name} has gain {amp.gain}; the variance needs a gain > 0")
        sl = amp.bbox.slices()
        if units == "electron":
            var[sl] += amp.read_noise**2
        else:
            var[sl] /= amp.gain
            var[sl] += (amp.read_noise / amp.gain) ** 2
    return var
