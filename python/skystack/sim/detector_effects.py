# SPDX-License-Identifier: GPL-3.0-or-later
"""Detector effects: from an image of electrons to per-amplifier raw segments in integer ADU.

Order (as in a CCD): flat response (pixel response, vignetting, dead columns) → dark current and
hot pixels → photon noise → cosmic rays → full-well saturation with bleeding along columns →
per amplifier: electrons/gain → non-linearity → crosstalk → bias (level, row and column
structure) and read noise, also in the prescan/overscan → digitisation to 16-bit integers.
Static per-detector patterns (flat, hot pixels, column bias) come from `DetectorSignature`, seeded
by detector only, so every exposure and calibration frame of a detector shares them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from skystack.instruments import Camera, Detector

from .config import EffectsConfig

__all__ = [
    "DetectorSignature",
    "add_cosmic_rays",
    "bleed_saturation",
    "dark_electrons",
    "electrons_to_segments",
    "make_signature",
]


@dataclass(frozen=True, slots=True, eq=False)
class DetectorSignature:
    """Static properties of one detector: flat response, hot pixels, column bias pattern (ADU)."""

    flat: np.ndarray
    hot_pixels: np.ndarray  # (n, 2) rows, columns
    column_bias: dict[str, np.ndarray]


def make_signature(camera: Camera, detector: Detector, config: EffectsConfig, seed: int) -> DetectorSignature:
    """Draw the static signature of ``detector`` (deterministic for ``seed`` and the detector id)."""
    rng = np.random.default_rng([seed, 7100, detector.id])
    ny, nx = detector.bbox.shape
    flat = np.ones((ny, nx))
    if config.flat:
        flat += rng.normal(0.0, config.pixel_response_rms, (ny, nx))
        yy, xx = np.mgrid[0:ny, 0:nx]
        fx, fy = detector.pixel_to_focal_plane(xx, yy)
        flat *= 1.0 - config.vignetting * (fx * fx + fy * fy) / camera.field_radius**2
    if config.defects:
        flat[detector.defect_mask()] *= 0.05
    n_hot = rng.binomial(ny * nx, config.hot_pixel_fraction) if config.hot_pixels else 0
    hot = np.stack([rng.integers(0, ny, n_hot), rng.integers(0, nx, n_hot)], axis=1)
    cols = {
        a.name: rng.normal(0.0, config.bias_column_amplitude, a.raw_shape[1]) for a in detector.amplifiers
    }
    return DetectorSignature(flat=flat, hot_pixels=hot, column_bias=cols)


def add_cosmic_rays(
    image: np.ndarray, rng: np.random.Generator, rate: float, exposure_time: float, pixel_size_mm: float
) -> int:
    """Add straight cosmic-ray tracks (1–12 px long, 500–3000 e-/px) in place; returns their number."""
    ny, nx = image.shape
    area_cm2 = ny * nx * (pixel_size_mm / 10.0) ** 2
    n = int(rng.poisson(rate * area_cm2 * exposure_time))
    if n == 0:
        return 0
    x0, y0 = rng.uniform(0, nx, n), rng.uniform(0, ny, n)
    length = rng.uniform(1.0, 12.0, n)
    ang = rng.uniform(0, np.pi, n)
    charge = rng.uniform(500.0, 3000.0, n)
    steps = np.arange(0.0, 12.0, 0.5)[None, :]
    keep = steps <= length[:, None]
    xs = np.floor(x0[:, None] + steps * np.cos(ang)[:, None])[keep].astype(np.int64)
    ys = np.floor(y0[:, None] + steps * np.sin(ang)[:, None])[keep].astype(np.int64)
    q = np.broadcast_to(charge[:, None] / 2.0, keep.shape)[keep]  # two samples per pixel step
    ok = (xs >= 0) & (xs < nx) & (ys >= 0) & (ys < ny)
    np.add.at(image, (ys[ok], xs[ok]), q[ok])
    return n


@numba.njit(cache=True)
def _bleed(image: np.ndarray, full_well: float) -> None:
    ny, nx = image.shape
    for x in range(nx):
        for y in range(ny):
            excess = image[y, x] - full_well
            if excess <= 0.0:
                continue
            image[y, x] = full_well
            half = 0.5 * excess
            up, down = half, excess - half
            yy = y + 1
            while up > 0.0 and yy < ny:
                room = full_well - image[yy, x]
                take = min(room, up) if room > 0.0 else 0.0
                image[yy, x] += take
                up -= take
                yy += 1
            yy = y - 1
            while down > 0.0 and yy >= 0:
                room = full_well - image[yy, x]
                take = min(room, down) if room > 0.0 else 0.0
                image[yy, x] += take
                down -= take
                yy -= 1


def bleed_saturation(image: np.ndarray, full_well: float) -> int:
    """Clip pixels at ``full_well`` electrons and spill the excess up and down the column (in place).

    Returns the number of pixels at full well afterwards. Charge leaving the detector is lost.
    """
    if image.max() > full_well:
        _bleed(image, float(full_well))
    return int(np.count_nonzero(image >= full_well))


def electrons_to_segments(
    image: np.ndarray,
    detector: Detector,
    signature: DetectorSignature,
    config: EffectsConfig,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Per-amplifier raw segments (uint16, readout order, prescan|data|overscan) of an electron image."""
    segments: list[np.ndarray] = []
    adus: list[np.ndarray] = []
    for amp in detector.amplifiers:
        data = image[amp.bbox.slices()] / amp.gain
        if config.nonlinearity:
            data = data + amp.linearity_c2 * data * data
        if amp.flip_x:
            data = data[:, ::-1]
        if amp.flip_y:
            data = data[::-1, :]
        adus.append(data)
    if config.crosstalk and len(adus) > 1:
        if len({a.shape for a in adus}) != 1:
            raise ValueError(f"Detector {detector.name}: crosstalk needs amplifiers of equal size")
        stack = np.stack(adus)
        adus = list(stack + np.tensordot(detector.crosstalk, stack, axes=(1, 0)))
    for amp, data in zip(detector.amplifiers, adus, strict=True):
        rows, cols = amp.raw_shape
        seg = np.zeros((rows, cols))
        seg[amp.raw_data_bbox.slices()] = data
        if config.bias:
            seg += amp.bias_level
        if config.bias_structure:
            seg += (
                rng.normal(0.0, config.bias_row_amplitude, (rows, 1))
                + signature.column_bias[amp.name][None, :]
            )
        if config.read_noise:
            seg += rng.normal(0.0, amp.read_noise / amp.gain, seg.shape)
        limit = min(amp.saturation, 65535.0)
        segments.append(np.clip(np.rint(seg), 0, limit).astype(np.uint16))
    return segments


def dark_electrons(
    shape: tuple[int, int], dark_time: float, signature: DetectorSignature, config: EffectsConfig
) -> np.ndarray | float:
    """Mean dark electrons per pixel (array when hot pixels are on, else a scalar)."""
    level = config.dark_current * dark_time if config.dark else 0.0
    if not (config.hot_pixels and len(signature.hot_pixels)):
        return level
    dark = np.full(shape, level)
    dark[signature.hot_pixels[:, 0], signature.hot_pixels[:, 1]] += config.hot_pixel_current * dark_time
    return dark
