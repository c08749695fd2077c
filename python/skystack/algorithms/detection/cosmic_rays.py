# SPDX-License-Identifier: GPL-3.0-or-later
"""Cosmic rays on a single exposure: pixels sharper than the PSF allows (LDM-151 §8.2.1, §8.3).

`find_cosmic_rays` follows the criterion of Rubin's ``findCosmicRays`` (Shimasaku's SDSS
algorithm, as in meas_algorithms' ``CR.cc``). With ``v`` the pixel's value above the background,
``σ`` its noise, and for each of the four directions *d* (N–S, W–E and the two diagonals) ``m_d``
the mean of the two neighbours and ``σ_d`` the noise of that mean, a pixel is a cosmic-ray pixel if

1. (per cosmic ray) the summed flux of its connected pixels is at least ``min_flux``;
2. it stands out: ``v ≥ m_d + n_sigma·σ`` for some direction;
3. it is sharper than the PSF allows: ``t_d·(v − c·σ) > m_d + c·σ_d`` for some direction, where
   ``t_d = cond3_fac2·P(d)/P(0)`` is the PSF's neighbour-to-centre ratio in that direction scaled
   by a safety factor (so even a noise-high star core fails it) and ``c = cond3_fac``;
4. it is not a bad, saturated or already interpolated pixel.

The image is scanned in raster order and each cosmic-ray pixel found is replaced (in a two-row
working buffer, not in the image) by the neighbour mean that flagged it, so that the next pixels of
a track are judged against a cleaned neighbour. Then, ``n_grow`` times, the pixels touching a cosmic
ray are examined again with ``n_sigma/2`` and ``c = 0``, reading the cosmic-ray pixels' interpolated
values, which picks up their fainter edges.

`repair_cosmic_rays` replaces the flagged pixels by interpolation from the nearest good pixels
along the four directions (each direction gives a straight-line estimate between its two nearest
good pixels, weighted by the inverse square of their separation), and sets the ``CR`` and
``INTRP`` mask planes. `skystack.algorithms.isr.interpolate_rows` is not used: it interpolates
along rows only, which suits CCD column defects but not tracks running along a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
from scipy.special import erf

from skystack.image.footprint import PEAK_DTYPE
from skystack.image.footprint_set import FootprintSet
from skystack.image.mask import Mask, default_plane_dict

from .detect import bad_pixel_mask
from .segmentation import footprints_from_runs, label_runs

__all__ = ["CosmicRayResult", "find_cosmic_rays", "psf_neighbour_ratios", "repair_cosmic_rays"]

_FIND_BAD = ("BAD", "SAT", "INTRP", "NO_DATA")
_REPAIR_BAD = ("BAD", "SAT", "NO_DATA")
# The four directions: (dy, dx) of one neighbour (the other is the opposite one).
_DIRECTIONS = np.array([[1, 0], [0, 1], [1, 1], [1, -1]], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class CosmicRayResult:
    """Cosmic rays found by `find_cosmic_rays`.

    Attributes
    ----------
    mask : `numpy.ndarray`
        Boolean image, True on cosmic-ray pixels.
    footprints : `FootprintSet`
        One footprint per cosmic ray (8-connected), with one peak at its brightest pixel.
    """

    mask: np.ndarray
    footprints: FootprintSet

    @property
    def n_cosmic_rays(self) -> int:
        """Number of cosmic rays."""
        return len(self.footprints)

    @property
    def n_pixels(self) -> int:
        """Number of cosmic-ray pixels."""
        return int(sum(fp.area for fp in self.footprints))


def psf_neighbour_ratios(psf_fwhm: float | None = None, psf_image: npt.ArrayLike | None = None) -> np.ndarray:
    """The PSF's neighbour-to-centre ratios ``P(d)/P(0)`` for the N–S, W–E and two diagonal pairs.

    From a pixel-integrated circular Gaussian of FWHM ``psf_fwhm`` pixels, or from ``psf_image``
    (odd sizes, centred; each ratio is the mean of the two neighbours over the centre).

    Raises
    ------
    ValueError
        If neither or both are given, the FWHM is not positive, or the image is not odd-sized
        with a positive centre.
    """
    if (psf_fwhm is None) == (psf_image is None):
        raise ValueError("give exactly one of psf_fwhm (pixels) and psf_image")
    if psf_image is not None:
        psf = np.asarray(psf_image, dtype=np.float64)
        if psf.ndim != 2 or psf.shape[0] % 2 == 0 or psf.shape[1] % 2 == 0 or min(psf.shape) < 3:
            raise ValueError(f"psf_image must be 2-d with odd sizes >= 3, centred; got shape {psf.shape}")
        cy, cx = psf.shape[0] // 2, psf.shape[1] // 2
        centre = psf[cy, cx]
        if not centre > 0:
            raise ValueError("psf_image must have a positive central pixel")
        pairs = [((dy, dx), (-dy, -dx)) for dy, dx in _DIRECTIONS]
        return np.array(
            [(psf[cy + a[0], cx + a[1]] + psf[cy + b[0], cx + b[1]]) / (2 * centre) for a, b in pairs]
        )
    assert psf_fwhm is not None
    if not (np.isfinite(psf_fwhm) and psf_fwhm > 0):
        raise ValueError(f"psf_fwhm must be a positive number of pixels, got {psf_fwhm!r}")
    sigma = psf_fwhm / (2 * np.sqrt(2 * np.log(2)))
    s = np.sqrt(2) * sigma
    a0 = erf(0.5 / s)
    a1 = 0.5 * (erf(1.5 / s) - erf(0.5 / s))
    r = a1 / a0
    return np.array([r, r, r * r, r * r])


# -- numba kernels --------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _is_cr(
    v00: float,
    var00: float,
    means: np.ndarray,
    dmeans: np.ndarray,
    thresholds: np.ndarray,
    n_sigma: float,
    cond3_fac: float,
    background: float,
) -> float:  # pragma: no cover - numba
    """The replacement value if the pixel is a cosmic-ray pixel by conditions 2 and 3, else NaN."""
    peak = v00 - background
    if not peak >= 0:
        return np.nan
    sigma = np.sqrt(var00)
    limit = n_sigma * sigma
    stands_out = False
    for d in range(4):
        if v00 >= means[d] + limit:
            stands_out = True
    if not stands_out:
        return np.nan
    for d in range(4):
        if thresholds[d] * (peak - cond3_fac * sigma) > means[d] - background + cond3_fac * dmeans[d]:
            return means[d]
    return np.nan


@numba.njit(cache=True, nogil=True, fastmath=True)
def _candidates(
    prev: np.ndarray,
    cur: np.ndarray,
    below: np.ndarray,
    var_row: np.ndarray,
    n_sigma: float,
    flags: np.ndarray,
) -> None:  # pragma: no cover - numba
    """``flags[x] = 1`` where condition 2 may hold (a branch-free loop the compiler vectorises).

    Only a pre-selection: `_is_cr` decides, so the fast-math shortcuts cannot change the result.
    """
    n2 = n_sigma * n_sigma
    for x in range(1, cur.size - 1):
        m0 = 0.5 * (prev[x] + below[x])
        m1 = 0.5 * (cur[x - 1] + cur[x + 1])
        m2 = 0.5 * (prev[x - 1] + below[x + 1])
        m3 = 0.5 * (prev[x + 1] + below[x - 1])
        d = cur[x] - min(min(m0, m1), min(m2, m3))
        flags[x] = (d >= 0) & (d * d >= n2 * var_row[x])


@numba.njit(cache=True, nogil=True)
def _scan(
    image: np.ndarray,
    variance: np.ndarray,
    bad: np.ndarray,
    has_bad: bool,
    thresholds: np.ndarray,
    n_sigma: float,
    cond3_fac: float,
    background: float,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """First pass, raster order, replacing found pixels in a two-row buffer as it goes."""
    ny, nx = image.shape
    prev = np.empty(nx, dtype=image.dtype)
    cur = np.empty(nx, dtype=image.dtype)
    flags = np.zeros(nx, dtype=np.bool_)
    means = np.empty(4)
    dmeans = np.empty(4)
    ys = np.empty(1024, dtype=np.int64)
    xs = np.empty(1024, dtype=np.int64)
    n = 0
    prev[:] = image[0]
    for y in range(1, ny - 1):
        cur[:] = image[y]
        if n + nx > ys.size:
            new_cap = max(2 * ys.size, n + nx)
            ys2 = np.empty(new_cap, dtype=np.int64)
            xs2 = np.empty(new_cap, dtype=np.int64)
            ys2[:n] = ys[:n]
            xs2[:n] = xs[:n]
            ys, xs = ys2, xs2
        below = image[y + 1]
        _candidates(prev, cur, below, variance[y], n_sigma, flags)
        left_changed = False  # a cosmic ray just replaced cur[x - 1]: the pre-selection is stale
        for x in range(1, nx - 1):
            if not (flags[x] or left_changed):
                continue
            left_changed = False
            if has_bad and bad[y, x]:
                continue
            v00 = cur[x]
            # N-S, W-E, SW-NE, NW-SE neighbour means (row y-1 and the left pixel already cleaned)
            means[0] = 0.5 * (prev[x] + below[x])
            means[1] = 0.5 * (cur[x - 1] + cur[x + 1])
            means[2] = 0.5 * (prev[x - 1] + below[x + 1])
            means[3] = 0.5 * (prev[x + 1] + below[x - 1])
            var00 = variance[y, x]
            dmeans[0] = 0.5 * np.sqrt(variance[y - 1, x] + variance[y + 1, x])
            dmeans[1] = 0.5 * np.sqrt(variance[y, x - 1] + variance[y, x + 1])
            dmeans[2] = 0.5 * np.sqrt(variance[y - 1, x - 1] + variance[y + 1, x + 1])
            dmeans[3] = 0.5 * np.sqrt(variance[y - 1, x + 1] + variance[y + 1, x - 1])
            estimate = _is_cr(v00, var00, means, dmeans, thresholds, n_sigma, cond3_fac, background)
            if estimate == estimate:
                ys[n] = y
                xs[n] = x
                n += 1
                cur[x] = estimate
                left_changed = True
        prev, cur = cur, prev
    return ys[:n].copy(), xs[:n].copy()


@numba.njit(cache=True, nogil=True)
def _value(
    image: np.ndarray, crmask: np.ndarray, keys: np.ndarray, values: np.ndarray, y: int, x: int
) -> float:  # pragma: no cover
    """The image value, or the interpolated one for a cosmic-ray pixel."""
    if crmask[y, x]:
        i = np.searchsorted(keys, y * image.shape[1] + x)
        return values[i]
    return image[y, x]


@numba.njit(cache=True, nogil=True)
def _grow_pass(
    image: np.ndarray,
    variance: np.ndarray,
    bad: np.ndarray,
    has_bad: bool,
    crmask: np.ndarray,
    keys: np.ndarray,
    values: np.ndarray,
    thresholds: np.ndarray,
    n_sigma: float,
    background: float,
) -> np.ndarray:  # pragma: no cover - numba
    """Keys ``y·nx + x`` of the pixels touching a cosmic ray that pass the relaxed test."""
    ny, nx = image.shape
    means = np.empty(4)
    dmeans = np.zeros(4)
    out = np.empty(8 * keys.size, dtype=np.int64)
    n = 0
    for i in range(keys.size):
        cy, cx = keys[i] // nx, keys[i] % nx
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                y, x = cy + dy, cx + dx
                if y < 1 or x < 1 or y >= ny - 1 or x >= nx - 1 or crmask[y, x]:
                    continue
                if has_bad and bad[y, x]:
                    continue
                means[0] = 0.5 * (
                    _value(image, crmask, keys, values, y - 1, x)
                    + _value(image, crmask, keys, values, y + 1, x)
                )
                means[1] = 0.5 * (
                    _value(image, crmask, keys, values, y, x - 1)
                    + _value(image, crmask, keys, values, y, x + 1)
                )
                means[2] = 0.5 * (
                    _value(image, crmask, keys, values, y - 1, x - 1)
                    + _value(image, crmask, keys, values, y + 1, x + 1)
                )
                means[3] = 0.5 * (
                    _value(image, crmask, keys, values, y - 1, x + 1)
                    + _value(image, crmask, keys, values, y + 1, x - 1)
                )
                estimate = _is_cr(
                    image[y, x], variance[y, x], means, dmeans, thresholds, n_sigma, 0.0, background
                )
                if estimate == estimate:
                    out[n] = y * nx + x
                    n += 1
    return np.unique(out[:n])


@numba.njit(cache=True, nogil=True)
def _interpolate(
    image: np.ndarray, excluded: np.ndarray, ys: np.ndarray, xs: np.ndarray, max_distance: int
) -> np.ndarray:  # pragma: no cover - numba
    """Estimates at ``(ys, xs)`` from the nearest non-excluded pixels along four directions.

    Each direction with a good pixel on both sides within ``max_distance`` steps gives the
    straight line between them, weighted by ``1/L²`` (``L`` their separation); with none, the
    mean of the nearest good pixels on single sides is used; NaN if there is none at all.
    """
    ny, nx = image.shape
    out = np.empty(ys.size)
    for i in range(ys.size):
        y, x = ys[i], xs[i]
        wsum = 0.0
        vsum = 0.0
        one_sided = 0.0
        n_one = 0
        best_one = max_distance + 1
        for d in range(4):
            dy, dx = _DIRECTIONS[d, 0], _DIRECTIONS[d, 1]  # a global: frozen into the compiled code
            found_a = -1
            va = 0.0
            for t in range(1, max_distance + 1):
                yy, xx = y - t * dy, x - t * dx
                if yy < 0 or xx < 0 or yy >= ny or xx >= nx:
                    break
                v = image[yy, xx]
                if not excluded[yy, xx] and v == v:
                    found_a = t
                    va = v
                    break
            found_b = -1
            vb = 0.0
            for t in range(1, max_distance + 1):
                yy, xx = y + t * dy, x + t * dx
                if yy < 0 or xx < 0 or yy >= ny or xx >= nx:
                    break
                v = image[yy, xx]
                if not excluded[yy, xx] and v == v:
                    found_b = t
                    vb = v
                    break
            if found_a > 0 and found_b > 0:
                length = (found_a + found_b) * (1.4142135623730951 if dy != 0 and dx != 0 else 1.0)
                w = 1.0 / (length * length)
                wsum += w
                vsum += w * (va + (vb - va) * found_a / (found_a + found_b))
            else:
                for t, v in ((found_a, va), (found_b, vb)):
                    if t > 0:
                        if t < best_one:
                            best_one = t
                            one_sided = v
                            n_one = 1
                        elif t == best_one:
                            one_sided += v
                            n_one += 1
        if wsum > 0:
            out[i] = vsum / wsum
        elif n_one > 0:
            out[i] = one_sided / n_one
        else:
            out[i] = np.nan
    return out


@numba.njit(cache=True, nogil=True)
def _runs_from_keys(
    keys: np.ndarray, nx: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Spans of sorted pixel keys ``y·nx + x``."""
    n = keys.size
    ys = np.empty(n, dtype=np.int32)
    x0s = np.empty(n, dtype=np.int32)
    x1s = np.empty(n, dtype=np.int32)
    m = 0
    for i in range(n):
        y, x = keys[i] // nx, keys[i] % nx
        if m > 0 and ys[m - 1] == y and x1s[m - 1] == x - 1:
            x1s[m - 1] = x
        else:
            ys[m] = y
            x0s[m] = x
            x1s[m] = x
            m += 1
    return ys[:m].copy(), x0s[:m].copy(), x1s[:m].copy()


# -- public API -----------------------------------------------------------------------------------
def _pixel_labels(
    keys: np.ndarray, nx: int
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, np.ndarray, int]:
    """Spans of the pixels, the span labels, the label of each pixel, and the count."""
    runs = _runs_from_keys(keys, nx)
    labels, count = label_runs(*runs)
    lengths = runs[2] - runs[1] + 1
    return runs, labels, np.repeat(labels, lengths), count


def find_cosmic_rays(
    image: npt.ArrayLike,
    variance: npt.ArrayLike | float,
    mask: Mask | npt.ArrayLike | None = None,
    *,
    psf_fwhm: float | None = None,
    psf_image: npt.ArrayLike | None = None,
    n_sigma: float = 6.0,
    cond3_fac: float = 2.5,
    cond3_fac2: float = 0.6,
    min_flux: float = 0.0,
    n_grow: int = 3,
    background: float = 0.0,
    bad_mask_bits: int | Sequence[str] = _FIND_BAD,
    max_pixels: int = 1_000_000,
    xy0: tuple[int, int] | None = None,
) -> CosmicRayResult:
    """Find cosmic-ray pixels on one exposure (see the module docstring for the criterion).

    Parameters
    ----------
    image : array-like
        2-d floating-point image; not modified.
    variance : array-like or `float`
        Per-pixel variance (or one value).
    mask : `Mask`, integer or boolean array, optional
        Pixels with ``bad_mask_bits`` (True for a boolean array) are never flagged (condition 4).
    psf_fwhm : `float`, optional
        FWHM of the PSF in pixels (a Gaussian is assumed); or give ``psf_image``.
    psf_image : array-like, optional
        Image of the PSF (odd sizes, centred).
    n_sigma : `float`
        Condition 2: how many σ a pixel must exceed a neighbour pair's mean.
    cond3_fac : `float`
        Condition 3: noise allowance ``c`` in σ.
    cond3_fac2 : `float`
        Condition 3: factor applied to the PSF's neighbour ratio (< 1 protects stars).
    min_flux : `float`
        Condition 1: least summed flux (above ``background``) of a cosmic ray.
    n_grow : `int`
        Number of passes over the pixels touching cosmic rays with the relaxed test.
    background : `float`
        Background level still in the image (0 for a background-subtracted image).
    bad_mask_bits : `int` or sequence of `str`
        Bits or planes of pixels never flagged; default BAD, SAT, INTRP, NO_DATA.
    max_pixels : `int`
        Refuse to flag more pixels than this (a sign of a wrong PSF or variance).
    xy0 : `tuple` of `int`, optional
        Parent position of ``image[0, 0]`` (default: the `Mask`'s, else ``(0, 0)``).

    Returns
    -------
    result : `CosmicRayResult`

    Raises
    ------
    ValueError
        For bad shapes or types, a missing or invalid PSF, or more than ``max_pixels`` cosmic-ray
        pixels (the message suggests checking the PSF width and the variance).
    """
    arr = np.asarray(image)
    if arr.ndim != 2 or arr.dtype.kind != "f":
        raise ValueError(
            f"find_cosmic_rays needs a 2-d floating-point image, got {arr.dtype} of shape {arr.shape}"
        )
    if np.ndim(variance) == 0:
        value = float(variance)  # type: ignore[arg-type]
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"a scalar variance must be a positive number, got {value}")
        var = np.full(arr.shape, value, dtype=arr.dtype)  # one compiled kernel for arrays and scalars
    else:
        var = np.asarray(variance)
        if var.shape != arr.shape:
            raise ValueError(f"variance shape {var.shape} differs from the image shape {arr.shape}")
        var = np.ascontiguousarray(var, dtype=arr.dtype)
    arr = np.ascontiguousarray(arr)
    if n_grow < 0 or n_sigma <= 0:
        raise ValueError(f"need n_sigma > 0 and n_grow >= 0, got n_sigma={n_sigma}, n_grow={n_grow}")
    ratios = psf_neighbour_ratios(psf_fwhm, psf_image)
    thresholds = cond3_fac2 * ratios
    bad = bad_pixel_mask(mask, arr.shape, bad_mask_bits)
    has_bad = bad is not None
    bad_arr = bad if bad is not None else np.zeros((1, 1), dtype=bool)
    if xy0 is None:
        xy0 = (int(mask.xy0[0]), int(mask.xy0[1])) if isinstance(mask, Mask) else (0, 0)
    nx = arr.shape[1]

    ys, xs = _scan(
        arr, var, bad_arr, has_bad, thresholds, float(n_sigma), float(cond3_fac), float(background)
    )
    _check_count(ys.size, max_pixels)
    keys = ys * nx + xs
    # condition 1: the summed flux of each cosmic ray
    if keys.size and min_flux > 0:
        _, _, pixel_labels, count = _pixel_labels(keys, nx)
        flux = np.bincount(pixel_labels, weights=arr[ys, xs] - background, minlength=count + 1)
        keys = keys[flux[pixel_labels] >= min_flux]
    crmask = np.zeros(arr.shape, dtype=bool)
    crmask.ravel()[keys] = True
    excluded = crmask | bad if bad is not None else crmask
    for _ in range(n_grow):
        if keys.size == 0:
            break
        values = _interpolate(arr, excluded, keys // nx, keys % nx, 10)
        extra = _grow_pass(
            arr,
            var,
            bad_arr,
            has_bad,
            crmask,
            keys,
            values,
            thresholds,
            float(n_sigma) / 2,
            float(background),
        )
        if extra.size == 0:
            break
        _check_count(keys.size + extra.size, max_pixels)
        crmask.ravel()[extra] = True
        excluded.ravel()[extra] = True
        keys = np.union1d(keys, extra)
    return CosmicRayResult(crmask, _cr_footprints(arr, keys, xy0))


def _check_count(n: int, max_pixels: int) -> None:
    if n > max_pixels:
        raise ValueError(
            f"find_cosmic_rays flagged {n} pixels, more than max_pixels={max_pixels}: check that psf_fwhm is "
            "not too large and that the variance is in the image's units (or raise max_pixels)"
        )


def _cr_footprints(image: np.ndarray, keys: np.ndarray, xy0: tuple[int, int]) -> FootprintSet:
    nx = image.shape[1]
    if keys.size == 0:
        empty = np.zeros(0, np.int32)
        return footprints_from_runs(empty, empty, empty, empty, 0, image.shape, xy0)
    runs, labels, pixel_labels, count = _pixel_labels(keys, nx)
    values = image.ravel()[keys]
    order = np.lexsort((-values, pixel_labels))
    first = order[np.searchsorted(pixel_labels[order], np.arange(1, count + 1))]
    peaks = np.zeros(count, dtype=PEAK_DTYPE)
    peaks["id"] = np.arange(1, count + 1)
    peaks["x"], peaks["y"] = keys[first] % nx, keys[first] // nx
    peaks["value"] = values[first]
    return footprints_from_runs(*runs, labels, count, image.shape, xy0, peaks, np.arange(1, count + 1))


def repair_cosmic_rays(
    image: np.ndarray,
    cosmic_rays: CosmicRayResult | npt.ArrayLike,
    mask: Mask | np.ndarray | None = None,
    *,
    bad_mask_bits: int | Sequence[str] = _REPAIR_BAD,
    max_distance: int = 10,
    planes: Sequence[str] = ("CR", "INTRP"),
) -> int:
    """Replace cosmic-ray pixels by interpolation from good pixels, in place, and flag them.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-d floating-point image, modified in place.
    cosmic_rays : `CosmicRayResult` or boolean array
        The pixels to replace.
    mask : `Mask`, integer or boolean array, optional
        Its ``bad_mask_bits`` pixels (True ones for a boolean array) are not used as interpolation
        sources; the ``planes`` bits (default ``CR`` and ``INTRP``) are set on the replaced pixels
        (for a plain integer array, with the default plane dictionary's bits; a boolean array is
        not modified).
    bad_mask_bits : `int` or sequence of `str`
        Pixels not to interpolate from (besides the cosmic rays); default BAD, SAT, NO_DATA.
    max_distance : `int`
        How far (in steps) to look for a good pixel along each direction.
    planes : sequence of `str`
        Mask planes to set on the cosmic-ray pixels.

    Returns
    -------
    n_unfilled : `int`
        Cosmic-ray pixels left unchanged because no good pixel was within reach.

    Raises
    ------
    ValueError
        For a non-floating or read-only image or mismatched shapes.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype.kind != "f":
        raise ValueError(
            "repair_cosmic_rays needs a 2-d floating-point numpy image (it is modified in place)"
        )
    if not image.flags.writeable:
        raise ValueError("repair_cosmic_rays modifies the image in place, but it is read-only; pass a copy")
    crmask = (
        cosmic_rays.mask if isinstance(cosmic_rays, CosmicRayResult) else np.asarray(cosmic_rays, dtype=bool)
    )
    if crmask.shape != image.shape:
        raise ValueError(f"cosmic-ray mask shape {crmask.shape} differs from the image shape {image.shape}")
    if max_distance < 1:
        raise ValueError(f"max_distance must be >= 1, got {max_distance}")
    bad = bad_pixel_mask(mask, image.shape, bad_mask_bits)
    excluded = crmask | bad if bad is not None else crmask
    ys, xs = np.nonzero(crmask)
    values = _interpolate(image, excluded, ys.astype(np.int64), xs.astype(np.int64), int(max_distance))
    filled = np.isfinite(values)
    image[ys[filled], xs[filled]] = values[filled]
    if mask is not None and planes:
        if isinstance(mask, Mask):
            for plane in planes:
                mask.add_plane(plane)
            bits = mask.get_plane_bitmask(*planes)
            array = mask.array
        else:
            array = np.asarray(mask)
            if array.dtype == np.bool_:
                return int((~filled).sum())  # a boolean mask only marks bad pixels: no planes to set
            if array.dtype.kind not in "iu":
                raise ValueError(
                    f"repair_cosmic_rays can set planes only in an integer mask, got {array.dtype}"
                )
            bits = sum(1 << _default_bit(plane) for plane in planes)
        array[ys, xs] |= np.array(bits).astype(array.dtype)
    return int((~filled).sum())


def _default_bit(plane: str) -> int:
    planes = default_plane_dict()
    if plane not in planes:
        raise ValueError(f"Unknown mask plane {plane!r} for a plain integer mask; pass a skystack Mask")
    return planes[plane]
