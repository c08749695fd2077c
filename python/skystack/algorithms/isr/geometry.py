# SPDX-License-Identifier: GPL-3.0-or-later
"""Structural types of the camera geometry the ISR algorithms need, and amplifier views.

The ISR code sits below `skystack.instruments` in the layer order, so it does not import
`~skystack.instruments.Detector`; it accepts any object with the attributes listed in
`AmplifierLike` and `DetectorLike` (the instrument classes satisfy them).

Readout orientation: an amplifier's raw segment is ``prescan | data | overscan`` in the order the
pixels were read. `readout_view` returns the amplifier's region of an *assembled* detector image
as a view in that readout orientation (flipped along the axes the readout reverses), so algorithms
defined in readout order (crosstalk, per-row overscan) can work on the assembled image in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from skystack.geom import Box2I

__all__ = ["AmplifierLike", "DetectorLike", "IsrInputError", "readout_view"]


class IsrInputError(ValueError):
    """A raw or calibration input does not match the detector or the ISR configuration."""


class AmplifierLike(Protocol):
    """What ISR needs to know about one amplifier (see `skystack.instruments.Amplifier`)."""

    @property
    def name(self) -> str: ...
    @property
    def bbox(self) -> Box2I: ...
    @property
    def gain(self) -> float: ...
    @property
    def read_noise(self) -> float: ...
    @property
    def saturation(self) -> float: ...
    @property
    def linearity_c2(self) -> float: ...
    @property
    def flip_x(self) -> bool: ...
    @property
    def flip_y(self) -> bool: ...
    @property
    def raw_shape(self) -> tuple[int, int]: ...
    @property
    def raw_data_bbox(self) -> Box2I: ...
    @property
    def raw_serial_overscan_bbox(self) -> Box2I: ...
    @property
    def raw_prescan_bbox(self) -> Box2I: ...


class DetectorLike(Protocol):
    """What ISR needs to know about one detector (see `skystack.instruments.Detector`)."""

    @property
    def name(self) -> str: ...
    @property
    def bbox(self) -> Box2I: ...
    @property
    def amplifiers(self) -> Sequence[AmplifierLike]: ...
    @property
    def crosstalk(self) -> np.ndarray: ...
    @property
    def defects(self) -> Sequence[Box2I]: ...


def readout_view(image: np.ndarray, amp: AmplifierLike) -> np.ndarray:
    """View of ``amp``'s pixels in the assembled ``image``, oriented in readout order.

    Parameters
    ----------
    image : `numpy.ndarray`
        Assembled detector image (rows, columns) whose origin is the detector's pixel (0, 0).
    amp : `AmplifierLike`
        The amplifier.

    Returns
    -------
    view : `numpy.ndarray`
        A view (no copy): writing to it writes ``image``.
    """
    view = image[amp.bbox.slices()]
    if amp.flip_x:
        view = view[:, ::-1]
    if amp.flip_y:
        view = view[::-1, :]
    return view
