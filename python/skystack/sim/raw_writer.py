# SPDX-License-Identifier: GPL-3.0-or-later
"""Raw SimCam files: one FITS file per exposure and detector, one image HDU per amplifier.

Each amplifier HDU holds the segment in readout order (``prescan | data | overscan`` columns, 16-bit
ADU) with IRAF-style ``DATASEC``, ``BIASSEC``, ``PRESEC`` and ``DETSEC`` (reversed ranges where the
readout flips an axis), ``GAIN``, ``RDNOISE`` and ``SATURATE``. `read_raw` and `assemble_raw` read
them back (the latter without any ISR: it only places the data sections in detector order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from skystack.geom import Box2I
from skystack.instruments import Amplifier, Detector

__all__ = ["assemble_raw", "read_raw", "section", "write_raw"]


def section(box: Box2I, flip_x: bool = False, flip_y: bool = False) -> str:
    """IRAF section ``[x1:x2,y1:y2]`` (1-based, inclusive) of ``box``, reversed along flipped axes."""
    x1, x2 = box.min_x + 1, box.min_x + box.width
    y1, y2 = box.min_y + 1, box.min_y + box.height
    if flip_x:
        x1, x2 = x2, x1
    if flip_y:
        y1, y2 = y2, y1
    return f"[{x1}:{x2},{y1}:{y2}]"


def _amp_header(amp: Amplifier, detector: Detector) -> fits.Header:
    h = fits.Header()
    h["EXTNAME"] = (amp.name, "amplifier name")
    h["CCDNAME"] = (detector.name, "detector name")
    h["DATASEC"] = (section(amp.raw_data_bbox), "data section of this segment")
    h["BIASSEC"] = (section(amp.raw_serial_overscan_bbox), "serial overscan section")
    if amp.prescan:
        h["PRESEC"] = (section(amp.raw_prescan_bbox), "prescan section")
    h["DETSEC"] = (section(amp.bbox, amp.flip_x, amp.flip_y), "where DATASEC lies in the detector")
    h["GAIN"] = (amp.gain, "nominal gain (e-/ADU)")
    h["RDNOISE"] = (amp.read_noise, "nominal read noise (e-)")
    h["SATURATE"] = (amp.saturation, "saturation level (ADU)")
    return h


def write_raw(path: str | Path, primary: fits.Header, detector: Detector, segments: list[np.ndarray]) -> Path:
    """Write one raw file: ``primary`` header, then one HDU per amplifier segment (in camera order)."""
    if len(segments) != len(detector.amplifiers):
        raise ValueError(
            f"write_raw: detector {detector.name} has {len(detector.amplifiers)} amplifiers, "
            f"got {len(segments)} segments"
        )
    hdus = [fits.PrimaryHDU(header=primary)]
    for amp, seg in zip(detector.amplifiers, segments, strict=True):
        if seg.shape != amp.raw_shape:
            raise ValueError(
                f"write_raw: segment of {amp.name} has shape {seg.shape}, expected {amp.raw_shape}"
            )
        hdus.append(fits.ImageHDU(data=seg, header=_amp_header(amp, detector)))
    out = Path(path)
    fits.HDUList(hdus).writeto(out, overwrite=True)
    return out


def read_raw(path: str | Path) -> tuple[fits.Header, dict[str, tuple[fits.Header, np.ndarray]]]:
    """The primary header and ``{amplifier name: (header, segment)}`` of a raw file."""
    with fits.open(path) as hdus:
        primary = hdus[0].header.copy()
        amps = {h.name: (h.header.copy(), np.asarray(h.data)) for h in hdus[1:]}
    return primary, amps


def _parse(sec: str) -> tuple[int, int, int, int]:
    xs, ys = sec.strip("[]").split(",")
    x1, x2 = (int(v) for v in xs.split(":"))
    y1, y2 = (int(v) for v in ys.split(":"))
    return x1, x2, y1, y2


def assemble_raw(path: str | Path, subtract_overscan: bool = False) -> tuple[fits.Header, np.ndarray, Any]:
    """Place the data sections of a raw file in detector order (float64 ADU), no other correction.

    With ``subtract_overscan`` each segment's median serial overscan per row is subtracted.
    Returns the primary header, the assembled image and ``{amp name: gain}``.
    """
    primary, amps = read_raw(path)
    boxes = [_parse(h["DETSEC"]) for h, _ in amps.values()]
    nx = max(max(b[0], b[1]) for b in boxes)
    ny = max(max(b[2], b[3]) for b in boxes)
    image = np.empty((ny, nx))
    gains = {}
    for (name, (h, seg)), (x1, x2, y1, y2) in zip(amps.items(), boxes, strict=True):
        dx1, dx2, dy1, dy2 = _parse(h["DATASEC"])
        data = seg[dy1 - 1 : dy2, dx1 - 1 : dx2].astype(float)
        if subtract_overscan:
            bx1, bx2, by1, by2 = _parse(h["BIASSEC"])
            data -= np.median(seg[by1 - 1 : by2, bx1 - 1 : bx2], axis=1)[:, None]
        if x1 > x2:
            data = data[:, ::-1]
        if y1 > y2:
            data = data[::-1, :]
        image[min(y1, y2) - 1 : max(y1, y2), min(x1, x2) - 1 : max(x1, x2)] = data
        gains[name] = float(h["GAIN"])
    return primary, image, gains
