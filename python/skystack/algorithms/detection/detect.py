# SPDX-License-Identifier: GPL-3.0-or-later
"""Source detection: above-threshold footprints and peaks of the PSF-smoothed image.

The image is correlated with a Gaussian of the PSF's sigma (the matched filter for point sources,
`skystack.algorithms.detection.smoothing`), thresholded, split into 8-connected footprints, and the
footprints are grown by a few PSF sigmas so that they hold the wings of their sources; footprints
that come to touch are merged (the Rubin ``SourceDetectionTask`` recipe, LDM-151 §5.1.1.10 and §8.4).
Peaks are the local maxima (3×3) of the smoothed image inside each footprint before growing.

Threshold types:

``"stdev"``
    ``threshold`` is in units of the smoothed image's own standard deviation, per pixel:
    ``S ≥ threshold·sqrt(Var(S))`` with ``Var(S) = K²⊗V`` (normalised at edges and bad pixels). A
    point source is then detected at about its PSF-fit signal-to-noise ratio.
``"variance"``
    as ``"stdev"`` but with one σ for the whole image, from the median of the variance plane
    (``σ_S = sqrt(median V)·Σk²``); cheaper, ignores variance structure.
``"value"``
    ``threshold`` is a value of the smoothed image itself (the variance is not used).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skystack.geom import Box2I
from skystack.image.footprint import PEAK_DTYPE
from skystack.image.footprint_set import FootprintSet
from skystack.image.mask import Mask, default_plane_dict

from .segmentation import (
    MODE_SIGMA,
    MODE_VALUE,
    find_peaks,
    footprints_from_runs,
    grow_runs,
    label_runs,
    paint_runs,
    threshold_runs,
)
from .smoothing import smooth_gaussian

__all__ = ["THRESHOLD_TYPES", "DetectionResult", "bad_pixel_mask", "detect_sources"]

#: Accepted values of ``threshold_type``.
THRESHOLD_TYPES = ("stdev", "variance", "value")

_DEFAULT_BAD = ("BAD", "NO_DATA")


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """Footprints found by `detect_sources`.

    Attributes
    ----------
    footprints : `FootprintSet`
        The positive footprints, then the negative ones (each grown; peaks brightest first —
        most negative first for negative footprints —, ids 1, 2, … over the whole set).
    n_positive, n_negative : `int`
        Number of positive and negative footprints.
    threshold : `float`
        The threshold as given, in units of ``threshold_type``.
    threshold_type : `str`
        One of `THRESHOLD_TYPES`.
    threshold_value : `float`
        The threshold in units of the smoothed image (for ``"stdev"`` the per-pixel threshold's
        median over the image).
    sigma : `float`
        The smoothed image's typical standard deviation (median over the image; NaN for
        ``"value"`` thresholds without a variance).
    grow_radius : `int`
        Radius in pixels by which footprints were grown.
    smoothed, smoothed_variance : `numpy.ndarray` or `None`
        The smoothed image and its variance, if ``return_smoothed`` was set.
    """

    footprints: FootprintSet
    n_positive: int
    n_negative: int
    threshold: float
    threshold_type: str
    threshold_value: float
    sigma: float
    grow_radius: int
    smoothed: np.ndarray | None = None
    smoothed_variance: np.ndarray | None = None

    @property
    def positive(self) -> FootprintSet:
        """The positive footprints as their own set."""
        return FootprintSet(self.footprints.footprints[: self.n_positive], self.footprints.region)

    @property
    def negative(self) -> FootprintSet:
        """The negative footprints as their own set."""
        return FootprintSet(self.footprints.footprints[self.n_positive :], self.footprints.region)

    @property
    def num_peaks(self) -> int:
        """Total number of peaks in all footprints."""
        return self.footprints.num_peaks


def bad_pixel_mask(
    mask: Mask | npt.ArrayLike | None, shape: tuple[int, ...], bad_mask_bits: int | Sequence[str]
) -> np.ndarray | None:
    """Boolean array of the pixels to exclude, or None if there are none to consider.

    ``mask`` may be a `Mask` (plane names resolved with its own dictionary), an integer array
    (names resolved with the default plane dictionary), or a boolean array (True = bad, the bits
    are then ignored). ``bad_mask_bits`` is an integer bit mask or a sequence of plane names.

    Raises
    ------
    ValueError
        If the mask's shape differs from ``shape`` or its type is not integer/boolean.
    skystack.image.mask.MaskPlaneError
        If a plane name is unknown.
    """
    if mask is None:
        return None
    if isinstance(mask, Mask):
        arr = mask.array
        bits = (
            int(bad_mask_bits)
            if isinstance(bad_mask_bits, int | np.integer)
            else mask.get_plane_bitmask(*bad_mask_bits)
        )
    else:
        arr = np.asarray(mask)
        if arr.dtype == np.bool_:
            bits = -1
        elif arr.dtype.kind in "iu":
            if isinstance(bad_mask_bits, int | np.integer):
                bits = int(bad_mask_bits)
            else:
                planes = default_plane_dict()
                unknown = [name for name in bad_mask_bits if name not in planes]
                if unknown:
                    raise ValueError(
                        f"Unknown mask plane(s) {unknown} for a plain integer mask; pass a skystack Mask "
                        f"or an integer bad_mask_bits (default planes: {sorted(planes)})"
                    )
                bits = sum(1 << planes[name] for name in bad_mask_bits)
        else:
            raise ValueError(f"mask must be a skystack Mask, an integer or a boolean array, got {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"mask shape {arr.shape} differs from the image shape {tuple(shape)}")
    if arr.dtype == np.bool_:
        return arr
    if bits == 0:
        return None
    return (arr & np.array(bits).astype(arr.dtype)) != 0


def _typical(values: np.ndarray, bad: np.ndarray | None) -> float:
    """Median of a regular subsample of ~250,000 finite, good pixels."""
    step = max(1, int(np.sqrt(values.size / 250_000)))
    sample = values[::step, ::step]
    if bad is not None:
        sample = sample[~bad[::step, ::step]]
    sample = sample[np.isfinite(sample)]
    return float(np.median(sample)) if sample.size else float("nan")


def _check_inputs(
    image: npt.ArrayLike, variance: npt.ArrayLike | float | None, threshold_type: str, psf_sigma: float
) -> tuple[np.ndarray, np.ndarray | float | None]:
    arr = np.asarray(image)
    if arr.ndim != 2 or arr.dtype.kind != "f":
        raise ValueError(
            f"detect_sources needs a 2-d floating-point image, got {arr.dtype} of shape {arr.shape}"
        )
    if threshold_type not in THRESHOLD_TYPES:
        raise ValueError(f"threshold_type must be one of {THRESHOLD_TYPES}, got {threshold_type!r}")
    if not (np.isfinite(psf_sigma) and psf_sigma > 0):
        raise ValueError(f"psf_sigma must be a positive number of pixels, got {psf_sigma!r}")
    if variance is None:
        if threshold_type != "value":
            raise ValueError(
                f"threshold_type={threshold_type!r} needs the variance (an array or one value); "
                "pass it, or use threshold_type='value'"
            )
        return arr, None
    if np.ndim(variance) == 0:
        value = float(variance)  # type: ignore[arg-type]
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"a scalar variance must be a positive number, got {value}")
        return arr, value
    var = np.asarray(variance)
    if var.shape != arr.shape:
        raise ValueError(f"variance shape {var.shape} differs from the image shape {arr.shape}")
    return arr, var


def detect_sources(
    image: npt.ArrayLike,
    variance: npt.ArrayLike | float | None,
    mask: Mask | npt.ArrayLike | None = None,
    *,
    psf_sigma: float,
    threshold: float = 5.0,
    threshold_type: str = "stdev",
    min_pixels: int = 1,
    grow: float = 2.4,
    negative: bool = False,
    bad_mask_bits: int | Sequence[str] = _DEFAULT_BAD,
    xy0: tuple[int, int] | None = None,
    return_smoothed: bool = False,
    truncate: float = 4.0,
) -> DetectionResult:
    """Detect sources: footprints and peaks of the PSF-smoothed image above a threshold.

    Parameters
    ----------
    image : array-like
        2-d floating-point, background-subtracted image. Not modified.
    variance : array-like, `float` or `None`
        Its per-pixel variance (or one value); may be None only for ``threshold_type="value"``.
    mask : `Mask`, integer or boolean array, optional
        Pixels with any of ``bad_mask_bits`` (True for a boolean array) are excluded from the
        smoothing and never detected. If a `Mask` is given, its ``DETECTED`` plane (and
        ``DETECTED_NEGATIVE`` if ``negative``) is cleared and then set on the grown footprints.
    psf_sigma : `float`
        Gaussian sigma of the PSF in pixels: the smoothing kernel's width.
    threshold : `float`
        Detection threshold in units of ``threshold_type`` (see the module docstring).
    threshold_type : `str`
        ``"stdev"`` (default), ``"variance"`` or ``"value"``. With ``"stdev"`` pixels whose
        smoothed variance is zero (e.g. a zero variance plane over missing data) are never
        detected.
    min_pixels : `int`
        Above-threshold regions with fewer pixels (before growing) are dropped.
    grow : `float`
        Grow footprints by ``round(grow·psf_sigma)`` pixels (a disc); 0 disables. Footprints that
        come to touch are merged, keeping all their peaks.
    negative : `bool`
        Also detect negative sources (``S ≤ -threshold``), e.g. in difference images.
    bad_mask_bits : `int` or sequence of `str`
        The bits (or plane names) marking pixels to exclude; default ``("BAD", "NO_DATA")``.
    xy0 : `tuple` of `int`, optional
        Parent position of ``image[0, 0]`` (default: the `Mask`'s, else ``(0, 0)``).
    return_smoothed : `bool`
        Keep the smoothed image (and its variance, for ``"stdev"``) in the result.
    truncate : `float`
        Smoothing kernel half-width in sigmas.

    Returns
    -------
    result : `DetectionResult`

    Raises
    ------
    ValueError
        For a non-2-d or non-floating image, mismatched shapes, an unknown threshold type, a
        non-positive ``psf_sigma``, a missing variance, ``min_pixels < 1`` or ``grow < 0``.
    """
    arr, var = _check_inputs(image, variance, threshold_type, psf_sigma)
    if min_pixels < 1:
        raise ValueError(f"min_pixels must be >= 1, got {min_pixels}")
    if not (np.isfinite(grow) and grow >= 0):
        raise ValueError(f"grow must be a non-negative number of PSF sigmas, got {grow}")
    if threshold_type != "value" and not threshold > 0:
        raise ValueError(f"a threshold of type {threshold_type!r} must be > 0, got {threshold}")
    bad = bad_pixel_mask(mask, arr.shape, bad_mask_bits)
    if xy0 is None:
        xy0 = (int(mask.xy0[0]), int(mask.xy0[1])) if isinstance(mask, Mask) else (0, 0)

    per_pixel = threshold_type == "stdev"
    smoothed = smooth_gaussian(
        arr, psf_sigma, variance=var if per_pixel else None, bad=bad, truncate=truncate
    )
    norm = float(np.sum(smoothed.kernel**2))  # σ_S per unit pixel σ, away from edges
    s_var = smoothed.variance
    if per_pixel:
        assert s_var is not None
        sigma = float(np.sqrt(_typical(s_var, bad)))
        mode, thr = MODE_SIGMA, float(threshold)
        threshold_value = threshold * sigma
    elif threshold_type == "variance":
        typical_var = var if isinstance(var, float) else _typical(np.asarray(var), bad)
        sigma = float(np.sqrt(typical_var)) * norm
        if not sigma > 0:
            raise ValueError(
                f"threshold_type='variance' needs a positive variance, but its median is {typical_var}; "
                "check the variance plane (or use threshold_type='value')"
            )
        mode, thr = MODE_VALUE, float(threshold) * sigma
        threshold_value = thr
    else:
        sigma = float("nan")
        if var is not None:
            typical_var = var if isinstance(var, float) else _typical(np.asarray(var), bad)
            sigma = float(np.sqrt(typical_var)) * norm
        mode, thr = MODE_VALUE, float(threshold)
        threshold_value = thr
    radius = int(np.floor(grow * psf_sigma + 0.5))

    region = Box2I.from_shape(arr.shape, xy0)
    footprints = []
    grown_runs = []
    counts = []
    next_id = 1
    for sign in (1.0, -1.0) if negative else (1.0,):
        fps, runs, next_id = _detect_one_sign(
            smoothed.image, s_var, mode, thr, sign, min_pixels, radius, xy0, next_id
        )
        footprints.extend(fps.footprints)
        grown_runs.append(runs)
        counts.append(len(fps))
    if isinstance(mask, Mask):
        planes = ("DETECTED", "DETECTED_NEGATIVE")
        for plane, runs in zip(planes, grown_runs, strict=False):
            mask.add_plane(plane)
            mask.clear_plane(plane)
            paint_runs(mask.array, *runs, mask.get_plane_bitmask(plane))
    return DetectionResult(
        footprints=FootprintSet(footprints, region),
        n_positive=counts[0],
        n_negative=counts[1] if negative else 0,
        threshold=float(threshold),
        threshold_type=threshold_type,
        threshold_value=float(threshold_value),
        sigma=sigma,
        grow_radius=radius,
        smoothed=smoothed.image if return_smoothed else None,
        smoothed_variance=s_var if return_smoothed else None,
    )


def _detect_one_sign(
    smoothed: np.ndarray,
    s_var: np.ndarray | None,
    mode: int,
    thr: float,
    sign: float,
    min_pixels: int,
    radius: int,
    xy0: tuple[int, int],
    first_id: int,
) -> tuple[FootprintSet, tuple[np.ndarray, np.ndarray, np.ndarray], int]:
    """Footprints of one polarity; returns them, their grown spans and the next free peak id."""
    kw = {"threshold": thr, "mode": mode, "variance": s_var if mode == MODE_SIGMA else None, "sign": sign}
    ys, x0s, x1s = threshold_runs(smoothed, **kw)  # type: ignore[arg-type]
    labels, count = label_runs(ys, x0s, x1s)
    if min_pixels > 1 and count:
        sizes = np.bincount(labels, weights=(x1s - x0s + 1), minlength=count + 1)
        keep = sizes >= min_pixels
        keep[0] = False
        remap = np.zeros(count + 1, dtype=np.int32)
        remap[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        span_keep = keep[labels]
        ys, x0s, x1s, labels = ys[span_keep], x0s[span_keep], x1s[span_keep], remap[labels[span_keep]]
        count = int(keep.sum())
    py, px, plabel = find_peaks(smoothed, ys, x0s, x1s, labels, **kw)  # type: ignore[arg-type]
    if radius > 0 and count:
        gys, gx0s, gx1s = grow_runs(smoothed.shape, ys, x0s, x1s, radius)
        glabels, gcount = label_runs(gys, gx0s, gx1s)
        # each original footprint lies inside one grown footprint: find the grown span that
        # holds its first pixel (spans are raster-sorted, so a search on (y, x0) keys finds it)
        _, first = np.unique(labels, return_index=True)
        width = np.int64(smoothed.shape[1] + 1)
        gkeys = gys.astype(np.int64) * width + gx0s
        keys = ys[first].astype(np.int64) * width + x0s[first]
        owner = np.zeros(count + 1, dtype=np.int32)
        owner[1:] = glabels[np.searchsorted(gkeys, keys, side="right") - 1]
        plabel = owner[plabel]
        ys, x0s, x1s, labels, count = gys, gx0s, gx1s, glabels, gcount
    values = smoothed[py, px].astype(np.float64)
    order = np.lexsort((-sign * values, plabel))
    peaks = np.zeros(py.size, dtype=PEAK_DTYPE)
    peaks["x"], peaks["y"], peaks["value"] = px[order], py[order], values[order]
    peaks["id"] = np.arange(first_id, first_id + py.size)
    fps = footprints_from_runs(ys, x0s, x1s, labels, count, smoothed.shape, xy0, peaks, plabel[order])
    return fps, (ys, x0s, x1s), first_id + py.size
