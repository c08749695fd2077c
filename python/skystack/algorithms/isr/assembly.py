# SPDX-License-Identifier: GPL-3.0-or-later
"""Amplifier assembly: raw per-amplifier segments → one detector image in detector orientation.

A raw exposure of a detector is a mapping ``{amplifier name: segment}``, each segment a 2-d array
``prescan | data | serial overscan`` in readout order (as written by `skystack.sim.raw_writer`).
`assemble_amplifiers` copies (and converts) each amplifier's data section into its place in the
detector image, undoing the readout flips; this is the only full-image copy ISR makes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from .geometry import DetectorLike, IsrInputError, readout_view

__all__ = ["assemble_amplifiers", "check_raw_segments"]


def check_raw_segments(segments: Mapping[str, np.ndarray], detector: DetectorLike) -> None:
    """Check that ``segments`` has one segment of the right shape per amplifier of ``detector``.

    Raises
    ------
    IsrInputError
        Naming the missing/unexpected amplifier, or the amplifier whose segment has the wrong shape
        with the expected shape and data/overscan boxes.
    """
    names = [a.name for a in detector.amplifiers]
    missing = [n for n in names if n not in segments]
    extra = [n for n in segments if n not in names]
    if missing or extra:
        raise IsrInputError(
            f"Raw for detector {detector.name}: amplifiers {missing} missing and {extra} unexpected; "
            f"the camera expects segments for {names} (is this raw from another detector?)"
        )
    for amp in detector.amplifiers:
        shape = np.shape(segments[amp.name])
        if shape != amp.raw_shape:
            raise IsrInputError(
                f"Raw segment of amplifier {amp.name} on detector {detector.name} has shape {shape}, "
                f"expected {amp.raw_shape} (data {amp.raw_data_bbox}, serial overscan "
                f"{amp.raw_serial_overscan_bbox}); the raw does not match the camera geometry"
            )


def assemble_amplifiers(
    segments: Mapping[str, np.ndarray], detector: DetectorLike, dtype: npt.DTypeLike = np.float32
) -> np.ndarray:
    """Place every amplifier's data section in detector orientation.

    Parameters
    ----------
    segments : `~collections.abc.Mapping` [`str`, `numpy.ndarray`]
        Raw segments by amplifier name, in readout order.
    detector : `DetectorLike`
        The detector geometry.
    dtype : numpy dtype
        Pixel type of the result (float32 by default).

    Returns
    -------
    image : `numpy.ndarray`
        ``detector.bbox.shape`` array of raw ADU values (nothing subtracted).

    Raises
    ------
    IsrInputError
        If the segments do not match the detector (see `check_raw_segments`).
    """
    check_raw_segments(segments, detector)
    image = np.empty(detector.bbox.shape, dtype=dtype)
    for amp in detector.amplifiers:
        readout_view(image, amp)[...] = segments[amp.name][amp.raw_data_bbox.slices()]
    return image
