# SPDX-License-Identifier: GPL-3.0-or-later
"""Crosstalk removal between the amplifiers of one detector.

The model (`skystack.instruments.Detector.crosstalk`) is ``victim_i += C[i, j] × source_j`` with
both images in *readout* order (so a bright star in amplifier ``j`` leaves a ghost mirrored
wherever the two readouts run in opposite directions). `subtract_crosstalk` subtracts
``C[i, j] × source_j`` from every victim in place, with the sources taken as they were before any
subtraction (a snapshot of each source amplifier with a non-zero coefficient); the first-order
correction leaves errors of order ``C²`` (≈ 1e-8 of the source for SimCam).
"""

from __future__ import annotations

import numpy as np

from .geometry import DetectorLike, IsrInputError, readout_view

__all__ = ["subtract_crosstalk"]


def subtract_crosstalk(
    image: np.ndarray, detector: DetectorLike, coefficients: np.ndarray | None = None
) -> int:
    """Subtract the crosstalk of every source amplifier from every victim amplifier, in place.

    Parameters
    ----------
    image : `numpy.ndarray`
        Assembled detector image with the bias (overscan) removed, in ADU.
    detector : `DetectorLike`
        The detector; its amplifiers' boxes and flips define readout orientation.
    coefficients : `numpy.ndarray`, optional
        ``(n_amp, n_amp)`` matrix, victim row, source column (default: ``detector.crosstalk``).

    Returns
    -------
    n_pairs : `int`
        Number of (victim, source) pairs corrected.

    Raises
    ------
    IsrInputError
        If the matrix shape does not match the number of amplifiers, or two amplifiers with a
        non-zero coefficient have different shapes.
    """
    amps = list(detector.amplifiers)
    matrix = np.asarray(detector.crosstalk if coefficients is None else coefficients, dtype=np.float64)
    if matrix.shape != (len(amps), len(amps)):
        raise IsrInputError(
            f"Crosstalk matrix of shape {matrix.shape} does not match the {len(amps)} amplifiers of detector "
            f"{detector.name}; pass an (n_amp, n_amp) matrix in amplifier order"
        )
    pairs = [(i, j) for i, j in zip(*np.nonzero(matrix), strict=True) if i != j]
    sources = {j: readout_view(image, amps[j]).copy() for j in {j for _, j in pairs}}
    for i, j in pairs:
        victim = readout_view(image, amps[i])
        if victim.shape != sources[j].shape:
            raise IsrInputError(
                f"Crosstalk from {amps[j].name} to {amps[i].name} on detector {detector.name} needs equal "
                f"amplifier shapes, got {sources[j].shape} and {victim.shape}"
            )
        victim -= float(matrix[i, j]) * sources[j]  # a Python float keeps float32 images float32
    return len(pairs)
