# SPDX-License-Identifier: GPL-3.0-or-later
"""Single-frame deblending with symmetric templates (the SDSS / Lupton deblender, LDM-151 §8.5.1).

A parent footprint with several peaks is split into one child per peak:

1. **Peaks.** Peaks closer than ``min_peak_separation`` to a brighter peak are merged into it
   (dropped), and only the ``max_children`` brightest are kept. A parent left with one peak is not
   deblended.
2. **Templates.** Each peak ``p`` gets the symmetric template ``T(x) = min(I(x), I(2p − x))`` over
   the parent's pixels whose mirror image is also in the parent (0 elsewhere, negative values
   clipped to 0): a source symmetric about its peak is recovered wherever its neighbours add
   flux on one side only. The centre ``p`` is sub-pixel (a parabola through the peak pixel and
   its neighbours, re-fitted twice on the peak's own share of the flux, step 4, so that the
   neighbours' wings do not pull it) and ``I(2p − x)`` is interpolated bilinearly. Optionally
   (``monotonic``) the template is then made non-increasing outwards from the peak along rays,
   which removes flux of neighbours lying on both sides.
3. **Point sources** (if ``psf_image`` is given). All peaks are fitted jointly as PSFs (amplitude and
   sub-pixel position, weighted by the variance); a peak whose local reduced χ² (over the pixels
   where its PSF exceeds 2 % of its maximum) is below ``psf_chisq_max`` is point-like and its
   template becomes the fitted PSF model.
4. **Apportioning.** Each pixel's flux is shared among the children in proportion to their
   templates: ``c_k(x) = I(x)·T_k(x)/Σ_j T_j(x)``. Pixels no template covers ("stray flux") are
   shared in proportion to ``1/(1 + r_k²)`` (``r_k`` the distance to peak ``k``), ignoring peaks
   whose share would be below ``stray_clip``. Every pixel is therefore fully assigned, so the
   children's pixels sum to the parent image.

The children are `HeavyFootprint` objects holding their share of the image; each has one peak, its
own. The pixel loops are numba.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import numpy.typing as npt
from scipy import ndimage

from skystack.geom import Box2I
from skystack.image.footprint import Footprint, HeavyFootprint
from skystack.image.footprint_set import FootprintSet

__all__ = ["DeblendedParent", "deblend", "deblend_footprint", "select_peaks"]


@dataclass(frozen=True, slots=True)
class DeblendedParent:
    """One parent footprint and its deblended children.

    Attributes
    ----------
    index : `int`
        Position of the parent in the `FootprintSet` given to `deblend`.
    parent : `Footprint`
        The parent footprint (with all its peaks).
    children : `list` [`HeavyFootprint`]
        One child per kept peak, brightest first; empty if the parent was not deblended (one
        peak, or one left after merging close peaks).
    point_like : `tuple` [`bool`, ...]
        For each child, whether its template was the fitted PSF.
    n_dropped_peaks : `int`
        Peaks merged into brighter ones or beyond ``max_children``.
    """

    index: int
    parent: Footprint
    children: list[HeavyFootprint] = field(default_factory=list)
    point_like: tuple[bool, ...] = ()
    n_dropped_peaks: int = 0

    @property
    def is_blended(self) -> bool:
        """Whether the parent was split into children."""
        return len(self.children) > 0


# -- numba kernels --------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _symmetric_templates(
    image: np.ndarray, inside: np.ndarray, cy: np.ndarray, cx: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - numba
    """``out[k] = max(min(I(x), I(2c_k − x)), 0)`` where ``x`` and its mirror are inside.

    The centre ``c_k`` is sub-pixel; ``I`` at the mirror point is interpolated bilinearly from
    four parent pixels (all of which must be inside).
    """
    h, w = image.shape
    for k in range(cy.size):
        t = out[k]
        for y in range(h):
            my = 2.0 * cy[k] - y
            iy = int(np.floor(my))
            fy = my - iy
            for x in range(w):
                t[y, x] = 0.0
                if not inside[y, x]:
                    continue
                mx = 2.0 * cx[k] - x
                ix = int(np.floor(mx))
                fx = mx - ix
                if iy < 0 or ix < 0 or iy + 1 >= h or ix + 1 >= w:
                    if not (0 <= my <= h - 1 and 0 <= mx <= w - 1):
                        continue
                    iy = min(iy, h - 2) if h > 1 else 0
                    ix = min(ix, w - 2) if w > 1 else 0
                    fy = my - iy
                    fx = mx - ix
                y1 = min(iy + 1, h - 1)
                x1 = min(ix + 1, w - 1)
                if not (inside[iy, ix] and inside[iy, x1] and inside[y1, ix] and inside[y1, x1]):
                    continue
                mirror = (1 - fy) * ((1 - fx) * image[iy, ix] + fx * image[iy, x1]) + fy * (
                    (1 - fx) * image[y1, ix] + fx * image[y1, x1]
                )
                v = min(image[y, x], mirror)
                t[y, x] = v if v > 0 else 0.0


@numba.njit(cache=True, nogil=True)
def _peak_centres(
    image: np.ndarray, py: np.ndarray, px: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Sub-pixel peak positions from a parabola through each peak and its two neighbours per axis."""
    h, w = image.shape
    cy = py.astype(np.float64)
    cx = px.astype(np.float64)
    for k in range(py.size):
        y, x = py[k], px[k]
        if 0 < x < w - 1:
            den = image[y, x - 1] - 2 * image[y, x] + image[y, x + 1]
            if den < 0:
                cx[k] += min(max(0.5 * (image[y, x - 1] - image[y, x + 1]) / den, -0.5), 0.5)
        if 0 < y < h - 1:
            den = image[y - 1, x] - 2 * image[y, x] + image[y + 1, x]
            if den < 0:
                cy[k] += min(max(0.5 * (image[y - 1, x] - image[y + 1, x]) / den, -0.5), 0.5)
    return cy, cx


@numba.njit(cache=True, nogil=True)
def _make_monotonic(template: np.ndarray, cy: int, cx: int) -> None:  # pragma: no cover - numba
    """Clip each pixel to its neighbour one step closer to the peak (chessboard rings outwards)."""
    h, w = template.shape
    dmax = max(cy, h - 1 - cy, cx, w - 1 - cx)
    for d in range(1, dmax + 1):
        for dy in range(-d, d + 1):
            y = cy + dy
            if y < 0 or y >= h:
                continue
            step = 1 if (dy == -d or dy == d) else 2 * d  # top/bottom: the whole row; else its ends
            for dx in range(-d, d + 1, step):
                x = cx + dx
                if x < 0 or x >= w:
                    continue
                sy = int(np.floor(dy / d + 0.5)) if dy >= 0 else -int(np.floor(-dy / d + 0.5))
                sx = int(np.floor(dx / d + 0.5)) if dx >= 0 else -int(np.floor(-dx / d + 0.5))
                inner = template[y - sy, x - sx]
                if template[y, x] > inner:
                    template[y, x] = inner


@numba.njit(cache=True, nogil=True)
def _apportion(
    image: np.ndarray,
    inside: np.ndarray,
    templates: np.ndarray,
    py: np.ndarray,
    px: np.ndarray,
    stray_clip: float,
    fraction: np.ndarray,
) -> None:  # pragma: no cover - numba
    """``fraction[k]``: share of each parent pixel given to child ``k`` (the shares sum to 1)."""
    n, h, w = templates.shape
    weights = np.empty(n)
    for y in range(h):
        for x in range(w):
            if not inside[y, x]:
                for k in range(n):
                    fraction[k, y, x] = 0.0
                continue
            total = 0.0
            for k in range(n):
                total += templates[k, y, x]
            if total > 0:
                for k in range(n):
                    fraction[k, y, x] = templates[k, y, x] / total
                continue
            # stray flux: shares ∝ 1/(1 + r²), tiny shares dropped and the rest renormalised
            wsum = 0.0
            for k in range(n):
                r2 = (y - py[k]) ** 2 + (x - px[k]) ** 2
                weights[k] = 1.0 / (1.0 + r2)
                wsum += weights[k]
            kept = 0.0
            for k in range(n):
                if weights[k] < stray_clip * wsum:
                    weights[k] = 0.0
                kept += weights[k]
            for k in range(n):
                fraction[k, y, x] = weights[k] / kept


# -- peaks ----------------------------------------------------------------------------------------
def select_peaks(peaks: np.ndarray, min_separation: float, max_children: int) -> np.ndarray:
    """Indices of the peaks to deblend, brightest first.

    Peaks are taken in order of decreasing value; one within ``min_separation`` pixels of an
    already kept peak is merged into it (dropped). At most ``max_children`` are kept (0: no
    limit).
    """
    order = np.argsort(-peaks["value"], kind="stable")
    kept: list[int] = []
    for i in order:
        if max_children and len(kept) >= max_children:
            break
        if kept:
            dist = np.hypot(peaks["x"][kept] - float(peaks["x"][i]), peaks["y"][kept] - float(peaks["y"][i]))
            if np.any(dist < min_separation):
                continue
        kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)


# -- PSF fitting ----------------------------------------------------------------------------------
def _check_psf(psf_image: npt.ArrayLike) -> np.ndarray:
    psf = np.asarray(psf_image, dtype=np.float64)
    if psf.ndim != 2 or psf.shape[0] % 2 == 0 or psf.shape[1] % 2 == 0:
        raise ValueError(
            f"psf_image must be a 2-d array of odd sizes centred on the PSF, got shape {psf.shape}"
        )
    total = psf.sum()
    if not (np.isfinite(total) and total > 0):
        raise ValueError("psf_image must have a positive, finite sum")
    return psf / total


def _place(psf: np.ndarray, shape: tuple[int, int], cx: float, cy: float) -> np.ndarray:
    """The PSF centred at sub-pixel ``(cx, cy)`` (array indices) on an array of ``shape``."""
    ix, iy = int(np.floor(cx + 0.5)), int(np.floor(cy + 0.5))
    shifted = ndimage.shift(psf, (cy - iy, cx - ix), order=3, mode="constant")
    out = np.zeros(shape)
    ry, rx = psf.shape[0] // 2, psf.shape[1] // 2
    y0, x0 = iy - ry, ix - rx
    ys = slice(max(y0, 0), min(y0 + psf.shape[0], shape[0]))
    xs = slice(max(x0, 0), min(x0 + psf.shape[1], shape[1]))
    if ys.start < ys.stop and xs.start < xs.stop:
        out[ys, xs] = shifted[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
    return out


def _fit_psfs(
    image: np.ndarray,
    variance: np.ndarray,
    inside: np.ndarray,
    psf: np.ndarray,
    cy: np.ndarray,
    cx: np.ndarray,
    chisq_max: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Joint PSF fit of all peaks from the starting centres ``(cx, cy)``; returns each peak's
    model image and whether it is point-like."""
    shape = image.shape
    n = cy.size
    cx, cy = cx.astype(float), cy.astype(float)  # copies, refined below
    pix = np.flatnonzero(inside.ravel())
    data = image.ravel()[pix]
    weight = 1.0 / np.sqrt(np.maximum(variance.ravel()[pix], 1e-30))
    amplitudes = np.zeros(n)
    for iteration in range(3):  # amplitude + position (linearised), twice; then amplitudes only
        models = [_place(psf, shape, cx[k], cy[k]) for k in range(n)]
        columns = [m.ravel()[pix] for m in models]
        fit_position = iteration < 2
        if fit_position:
            for m in models:
                gy, gx = np.gradient(m)
                columns += [gx.ravel()[pix], gy.ravel()[pix]]
        design = np.stack(columns, axis=1) * weight[:, None]
        coef, *_ = np.linalg.lstsq(design, data * weight, rcond=None)
        amplitudes = coef[:n]
        if fit_position:
            for k in range(n):
                if amplitudes[k] > 0:
                    # a·P(x − δ) ≈ a·P − a·δ·∇P: the gradient coefficients are −a·δ
                    cx[k] -= np.clip(coef[n + 2 * k] / amplitudes[k], -1.0, 1.0)
                    cy[k] -= np.clip(coef[n + 2 * k + 1] / amplitudes[k], -1.0, 1.0)
    fitted = np.stack([amplitudes[k] * _place(psf, shape, cx[k], cy[k]) for k in range(n)])
    residual = image - fitted.sum(axis=0)
    chi = np.where(inside, residual**2 / np.maximum(variance, 1e-30), 0.0)
    point_like = np.zeros(n, dtype=bool)
    for k in range(n):
        if amplitudes[k] <= 0:
            continue
        core = inside & (fitted[k] > 0.02 * fitted[k].max())
        dof = int(core.sum()) - 3
        if dof > 0 and chi[core].sum() / dof < chisq_max:
            point_like[k] = True
    return np.where(inside, np.maximum(fitted, 0.0), 0.0), point_like


# -- public API -----------------------------------------------------------------------------------
def _check_image(image: npt.ArrayLike, name: str = "image") -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a 2-d numeric array, got {arr.dtype} of shape {arr.shape}")
    return arr


def _deblend(
    image: np.ndarray,
    footprint: Footprint,
    variance: np.ndarray | None,
    psf: np.ndarray | None,
    xy0: tuple[int, int],
    max_children: int,
    min_peak_separation: float,
    monotonic: bool,
    psf_chisq_max: float,
    stray_clip: float,
    n_centre_iterations: int = 2,
) -> tuple[list[HeavyFootprint], tuple[bool, ...], int]:
    peaks = footprint.peaks
    keep = select_peaks(peaks, min_peak_separation, max_children) if len(peaks) else np.zeros(0, np.int64)
    n_dropped = len(peaks) - keep.size
    if keep.size < 2:
        return [], (), n_dropped
    box = footprint.bbox
    image_box = Box2I.from_shape(image.shape, xy0)
    if not image_box.contains_box(box):
        raise ValueError(
            f"Footprint bbox {box!r} is not inside the image bbox {image_box!r}; clip the footprint "
            "with footprint.clipped_to(image_bbox) or pass the right xy0"
        )
    rows = slice(box.min_y - xy0[1], box.max_y - xy0[1] + 1)
    cols = slice(box.min_x - xy0[0], box.max_x - xy0[0] + 1)
    sub = np.ascontiguousarray(image[rows, cols], dtype=np.float64)
    inside = footprint.to_mask_array(box) & np.isfinite(sub)
    sub = np.where(inside, sub, 0.0)
    kept = peaks[keep]
    py = (kept["y"] - box.min_y).astype(np.int64)
    px = (kept["x"] - box.min_x).astype(np.int64)
    templates = np.zeros((keep.size, *sub.shape))
    fraction = np.empty_like(templates)
    cy, cx = _peak_centres(sub, py, px)
    for iteration in range(n_centre_iterations + 1):
        _symmetric_templates(sub, inside, cy, cx, templates)
        if monotonic:
            for k in range(keep.size):
                _make_monotonic(templates[k], int(py[k]), int(px[k]))
        if iteration < n_centre_iterations:
            # re-centre each peak on its own share of the flux, freed of its neighbours' wings
            _apportion(sub, inside, templates, py, px, stray_clip, fraction)
            for k in range(keep.size):
                cyk, cxk = _peak_centres(sub * fraction[k], py[k : k + 1], px[k : k + 1])
                cy[k], cx[k] = cyk[0], cxk[0]
    point_like = np.zeros(keep.size, dtype=bool)
    if psf is not None:
        assert variance is not None
        sub_var = np.ascontiguousarray(variance[rows, cols], dtype=np.float64)
        models, point_like = _fit_psfs(sub, sub_var, inside, psf, cy, cx, psf_chisq_max)
        templates[point_like] = models[point_like]
    _apportion(sub, inside, templates, py, px, stray_clip, fraction)
    children = []
    for k in range(keep.size):
        share = fraction[k] > 0
        child_fp = Footprint.from_mask_array(share, box.xy0)
        child_fp.add_peak(int(kept["x"][k]), int(kept["y"][k]), float(kept["value"][k]), int(kept["id"][k]))
        # boolean indexing walks the pixels row by row, left to right: the footprint's span order
        children.append(HeavyFootprint(child_fp, sub[share] * fraction[k][share]))
    return children, tuple(bool(p) for p in point_like), n_dropped


def _check_options(
    image: np.ndarray,
    variance: npt.ArrayLike | None,
    psf_image: npt.ArrayLike | None,
    max_children: int,
    min_peak_separation: float,
    stray_clip: float,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    if max_children < 0:
        raise ValueError(f"max_children must be >= 0 (0 = no limit), got {max_children}")
    if not min_peak_separation >= 0:
        raise ValueError(f"min_peak_separation must be >= 0 pixels, got {min_peak_separation}")
    if not 0 <= stray_clip < 1:
        raise ValueError(f"stray_clip must be in [0, 1), got {stray_clip}")
    var = None
    if variance is not None:
        var = _check_image(variance, "variance")
        if var.shape != image.shape:
            raise ValueError(f"variance shape {var.shape} differs from the image shape {image.shape}")
    psf = None
    if psf_image is not None:
        if var is None:
            raise ValueError(
                "PSF-constrained deblending (psf_image) needs the variance to judge the PSF fits; "
                "pass variance"
            )
        psf = _check_psf(psf_image)
    return var, psf


def deblend_footprint(
    image: npt.ArrayLike,
    footprint: Footprint,
    *,
    variance: npt.ArrayLike | None = None,
    psf_image: npt.ArrayLike | None = None,
    xy0: tuple[int, int] = (0, 0),
    max_children: int = 50,
    min_peak_separation: float = 2.0,
    monotonic: bool = True,
    psf_chisq_max: float = 1.5,
    stray_clip: float = 0.001,
) -> list[HeavyFootprint]:
    """Split a multi-peak footprint into children whose pixels sum to the parent image.

    Parameters
    ----------
    image : array-like
        2-d background-subtracted image containing the footprint; not modified.
    footprint : `Footprint`
        The parent, with its peaks (e.g. from `detect_sources`).
    variance : array-like, optional
        Per-pixel variance of ``image``; required with ``psf_image``.
    psf_image : array-like, optional
        Image of the PSF (odd sizes, centred; normalised here). If given, point-like peaks get the
        fitted PSF as template.
    xy0 : `tuple` of `int`
        Parent position of ``image[0, 0]``.
    max_children : `int`
        Deblend at most this many peaks (the brightest); 0 for no limit.
    min_peak_separation : `float`
        Peaks closer than this (pixels) to a brighter peak are merged into it.
    monotonic : `bool`
        Make templates non-increasing outwards from their peak.
    psf_chisq_max : `float`
        Largest reduced χ² of a point-like peak's PSF fit.
    stray_clip : `float`
        Stray-flux shares below this fraction are dropped (and the others renormalised).

    Returns
    -------
    children : `list` [`HeavyFootprint`]
        One per kept peak, brightest first, each with its own peak; empty if the footprint has
        fewer than two peaks after merging. Their values sum to the parent's pixels.

    Raises
    ------
    ValueError
        If the footprint is not inside the image, shapes differ, ``psf_image`` is given without
        ``variance`` or is not an odd-sized 2-d array, or an option is out of range.
    """
    arr = _check_image(image)
    var, psf = _check_options(arr, variance, psf_image, max_children, min_peak_separation, stray_clip)
    children, _, _ = _deblend(
        arr, footprint, var, psf, xy0, max_children, min_peak_separation, monotonic, psf_chisq_max, stray_clip
    )
    return children


def deblend(
    image: npt.ArrayLike,
    footprint_set: FootprintSet,
    *,
    variance: npt.ArrayLike | None = None,
    psf_image: npt.ArrayLike | None = None,
    xy0: tuple[int, int] | None = None,
    max_children: int = 50,
    min_peak_separation: float = 2.0,
    monotonic: bool = True,
    psf_chisq_max: float = 1.5,
    stray_clip: float = 0.001,
) -> list[DeblendedParent]:
    """Deblend every footprint of a set (see `deblend_footprint` for the parameters).

    ``xy0`` defaults to the set's region origin.

    Returns
    -------
    parents : `list` [`DeblendedParent`]
        One per footprint, in the set's order, each with its children (none if not blended).
    """
    arr = _check_image(image)
    var, psf = _check_options(arr, variance, psf_image, max_children, min_peak_separation, stray_clip)
    origin = footprint_set.region.xy0 if xy0 is None else xy0
    origin = (int(origin[0]), int(origin[1]))
    out = []
    for index, fp in enumerate(footprint_set):
        if len(fp.peaks) < 2:
            out.append(DeblendedParent(index, fp))
            continue
        children, point_like, dropped = _deblend(
            arr, fp, var, psf, origin, max_children, min_peak_separation, monotonic, psf_chisq_max, stray_clip
        )
        out.append(DeblendedParent(index, fp, children, point_like, dropped))
    return out
