# SPDX-License-Identifier: GPL-3.0-or-later
"""Linear model-fit fluxes at fixed positions: PSF flux and Gaussian flux.

The model ``P`` (the PSF image at the source position, or an elliptical Gaussian), normalised to
unit sum over its stamp, is scaled to the pixels by linear least squares. With
``weighting="variance"`` (default; the maximum-likelihood estimate for Gaussian noise)::

    flux = Σ P I / V  /  Σ P² / V,        σ² = 1 / Σ P² / V

and with ``weighting="uniform"`` (Rubin's ``PsfFlux``; unbiased even when the variance plane was
computed from the noisy pixels themselves, which biases variance weighting by about
``−N_pix / (flux × gain)`` for source-dominated noise)::

    flux = Σ P I / Σ P²,                   σ² = Σ P² V / (Σ P²)²

Both report ``chi2 = Σ (I − flux P)² / V`` and the number of pixels used. The sums run over the
model stamp clipped to the image (flag `FIT_EDGE` when clipped: the flux is still the model
amplitude, so unbiased, just noisier); pixels with ``bad_mask_bits`` set or non-finite values are
left out (`FIT_MASKED`). Without a variance plane the weights are uniform and the error and chi2
are NaN.

PSF images come from `skystack.image.psf.Psf.compute_image`, one call per source (the `Psf`
interface evaluates one position at a time); they are gathered in batches of ``batch_size`` into
one array and fitted by a single numba pass per batch. The Gaussian model is evaluated inside the
kernel.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal, NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from ._inputs import as_image, as_mask, as_positions, as_variance, check_xy0, per_source

if TYPE_CHECKING:
    from skystack.image.psf import Psf

__all__ = [
    "FIT_EDGE",
    "FIT_MASKED",
    "FIT_NO_GOOD_PIXELS",
    "FluxFitResult",
    "fit_model_flux",
    "gaussian_flux",
    "psf_flux",
    "psf_gaussian_flux",
    "psf_images",
]

#: Flag bit: the model stamp was cut by the image edge.
FIT_EDGE = 1
#: Flag bit: masked or non-finite pixels were left out of the fit.
FIT_MASKED = 2
#: Flag bit: no usable pixel, invalid position or model; the flux is NaN.
FIT_NO_GOOD_PIXELS = 4

Weighting = Literal["variance", "uniform"]


class FluxFitResult(NamedTuple):
    """Fitted fluxes (image units), errors, chi², number of pixels used and flag bits."""

    flux: np.ndarray
    flux_err: np.ndarray
    chi2: np.ndarray
    n_pixels: np.ndarray
    flag: np.ndarray


@numba.njit(cache=True, nogil=True, inline="always")
def _finish(
    s: int, a: float, b: float, c: float, npix: int, use_var: bool, has_var: bool,
    out: np.ndarray, flags: np.ndarray,
) -> None:  # pragma: no cover - numba  # fmt: skip
    """Flux and variance from the sums ``a = Σ wPI``, ``b = Σ wP²``, ``c = Σ P²V`` (chi² by the caller)."""
    if npix == 0 or not b > 0.0:
        out[s, 0] = np.nan
        out[s, 1] = np.nan
        out[s, 2] = np.nan
        out[s, 3] = npix
        flags[s] |= FIT_NO_GOOD_PIXELS
        return
    flux = a / b
    out[s, 0] = flux
    out[s, 3] = npix
    if not has_var:
        out[s, 1] = np.nan
        out[s, 2] = np.nan
    elif use_var:
        out[s, 1] = 1.0 / b
        out[s, 2] = np.nan  # filled by the caller's second pass
    else:
        out[s, 1] = c / (b * b)
        out[s, 2] = np.nan  # filled by the caller's second pass


@numba.njit(cache=True, nogil=True)
def _fit_stamps(
    image: np.ndarray,
    var: np.ndarray,
    has_var: bool,
    mask: np.ndarray,
    has_mask: bool,
    bad_bits: np.int64,
    stamps: np.ndarray,
    sx0: np.ndarray,
    sy0: np.ndarray,
    use_var: bool,
    out: np.ndarray,
    flags: np.ndarray,
) -> None:  # pragma: no cover - numba
    ny, nx = image.shape
    n, ky, kx = stamps.shape
    weighted = use_var and has_var
    for s in range(n):
        x0 = sx0[s]
        y0 = sy0[s]
        flag = 0
        if x0 < 0 or y0 < 0 or x0 + kx > nx or y0 + ky > ny:
            flag |= FIT_EDGE
        a = 0.0
        b = 0.0
        c = 0.0
        npix = 0
        for jj in range(ky):
            j = y0 + jj
            if j < 0 or j >= ny:
                continue
            for kk in range(kx):
                i = x0 + kk
                if i < 0 or i >= nx:
                    continue
                p = stamps[s, jj, kk]
                v = image[j, i]
                if not np.isfinite(v) or not np.isfinite(p) or (has_mask and (mask[j, i] & bad_bits) != 0):
                    flag |= FIT_MASKED
                    continue
                vv = var[j, i] if has_var else 1.0
                if has_var and not vv > 0.0:
                    flag |= FIT_MASKED
                    continue
                w = 1.0 / vv if weighted else 1.0
                a += w * p * v
                b += w * p * p
                c += p * p * vv
                npix += 1
        flags[s] = flag
        _finish(s, a, b, c, npix, weighted, has_var, out, flags)
        if has_var and np.isfinite(out[s, 0]):
            flux = out[s, 0]
            chi2 = 0.0
            for jj in range(ky):
                j = y0 + jj
                if j < 0 or j >= ny:
                    continue
                for kk in range(kx):
                    i = x0 + kk
                    if i < 0 or i >= nx:
                        continue
                    p = stamps[s, jj, kk]
                    v = image[j, i]
                    vv = var[j, i]
                    if not np.isfinite(v) or not np.isfinite(p) or not vv > 0.0:
                        continue
                    if has_mask and (mask[j, i] & bad_bits) != 0:
                        continue
                    r = v - flux * p
                    chi2 += r * r / vv
            out[s, 2] = chi2


@numba.njit(cache=True, nogil=True)
def _fit_gaussians(
    image: np.ndarray,
    var: np.ndarray,
    has_var: bool,
    mask: np.ndarray,
    has_mask: bool,
    bad_bits: np.int64,
    xs: np.ndarray,
    ys: np.ndarray,
    shapes: np.ndarray,
    n_sigma: float,
    max_radius: float,
    use_var: bool,
    out: np.ndarray,
    flags: np.ndarray,
) -> None:  # pragma: no cover - numba
    ny, nx = image.shape
    weighted = use_var and has_var
    for s in range(xs.size):
        cx = xs[s]
        cy = ys[s]
        mxx = shapes[s, 0]
        myy = shapes[s, 1]
        mxy = shapes[s, 2]
        det = mxx * myy - mxy * mxy
        if not (np.isfinite(cx) and np.isfinite(cy) and det > 0.0 and mxx > 0.0):
            flags[s] = FIT_NO_GOOD_PIXELS
            for q in range(4):
                out[s, q] = np.nan
            out[s, 3] = 0
            continue
        ixx = myy / det
        iyy = mxx / det
        ixy = -mxy / det
        hx = min(n_sigma * math.sqrt(mxx), max_radius)
        hy = min(n_sigma * math.sqrt(myy), max_radius)
        i0 = math.floor(cx - hx + 0.5)
        i1 = math.floor(cx + hx + 0.5)
        j0 = math.floor(cy - hy + 0.5)
        j1 = math.floor(cy + hy + 0.5)
        flag = 0
        if i0 < 0 or j0 < 0 or i1 > nx - 1 or j1 > ny - 1:
            flag |= FIT_EDGE
        # Normalise the model to unit sum over its whole stamp (on or off the image).
        norm = 0.0
        for j in range(j0, j1 + 1):
            dy = j - cy
            for i in range(i0, i1 + 1):
                dx = i - cx
                norm += math.exp(-0.5 * (ixx * dx * dx + 2.0 * ixy * dx * dy + iyy * dy * dy))
        inv_norm = 1.0 / norm
        a = 0.0
        b = 0.0
        c = 0.0
        npix = 0
        for j in range(max(j0, 0), min(j1, ny - 1) + 1):
            dy = j - cy
            for i in range(max(i0, 0), min(i1, nx - 1) + 1):
                v = image[j, i]
                if not np.isfinite(v) or (has_mask and (mask[j, i] & bad_bits) != 0):
                    flag |= FIT_MASKED
                    continue
                vv = var[j, i] if has_var else 1.0
                if has_var and not vv > 0.0:
                    flag |= FIT_MASKED
                    continue
                dx = i - cx
                p = math.exp(-0.5 * (ixx * dx * dx + 2.0 * ixy * dx * dy + iyy * dy * dy)) * inv_norm
                w = 1.0 / vv if weighted else 1.0
                a += w * p * v
                b += w * p * p
                c += p * p * vv
                npix += 1
        flags[s] = flag
        _finish(s, a, b, c, npix, weighted, has_var, out, flags)
        if has_var and np.isfinite(out[s, 0]):
            flux = out[s, 0]
            chi2 = 0.0
            for j in range(max(j0, 0), min(j1, ny - 1) + 1):
                dy = j - cy
                for i in range(max(i0, 0), min(i1, nx - 1) + 1):
                    v = image[j, i]
                    vv = var[j, i]
                    if not np.isfinite(v) or not vv > 0.0 or (has_mask and (mask[j, i] & bad_bits) != 0):
                        continue
                    dx = i - cx
                    p = math.exp(-0.5 * (ixx * dx * dx + 2.0 * ixy * dx * dy + iyy * dy * dy)) * inv_norm
                    r = v - flux * p
                    chi2 += r * r / vv
            out[s, 2] = chi2


@numba.njit(cache=True, nogil=True)
def _gaussians_on_stamps(
    stamps: np.ndarray,
    sx0: np.ndarray,
    sy0: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    shapes: np.ndarray,
    n_sigma: float,
    max_radius: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    n, ky, kx = stamps.shape
    for s in range(n):
        cx = xs[s]
        cy = ys[s]
        mxx = shapes[s, 0]
        myy = shapes[s, 1]
        mxy = shapes[s, 2]
        det = mxx * myy - mxy * mxy
        if not (np.isfinite(cx) and np.isfinite(cy) and det > 0.0 and mxx > 0.0):
            out[s] = np.nan
            continue
        ixx = myy / det
        iyy = mxx / det
        ixy = -mxy / det
        hx = min(n_sigma * math.sqrt(mxx), max_radius)
        hy = min(n_sigma * math.sqrt(myy), max_radius)
        i0 = math.floor(cx - hx + 0.5)
        i1 = math.floor(cx + hx + 0.5)
        j0 = math.floor(cy - hy + 0.5)
        j1 = math.floor(cy + hy + 0.5)
        norm = 0.0
        gg = 0.0
        gp = 0.0
        for j in range(j0, j1 + 1):
            dy = j - cy
            jj = j - sy0[s]
            for i in range(i0, i1 + 1):
                dx = i - cx
                g = math.exp(-0.5 * (ixx * dx * dx + 2.0 * ixy * dx * dy + iyy * dy * dy))
                norm += g
                gg += g * g
                ii = i - sx0[s]
                if 0 <= jj < ky and 0 <= ii < kx:
                    gp += g * stamps[s, jj, ii]
        # Uniform-weight fit of the unit-sum model G / norm to the stamp: (gp / norm) / (gg / norm²).
        out[s] = gp * norm / gg if gg > 0.0 else np.nan


def _check_weighting(weighting: str) -> bool:
    if weighting not in ("variance", "uniform"):
        raise ValueError(f"weighting must be 'variance' or 'uniform', got {weighting!r}")
    return weighting == "variance"


def _result(out: np.ndarray, flags: np.ndarray) -> FluxFitResult:
    with np.errstate(invalid="ignore"):
        return FluxFitResult(
            out[:, 0].copy(),
            np.sqrt(out[:, 1]),
            out[:, 2].copy(),
            np.nan_to_num(out[:, 3], nan=0.0).astype(np.int32),
            flags,
        )


def psf_images(psf: Psf, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PSF images at source positions, stacked: ``(stamps, x0, y0)``.

    Parameters
    ----------
    psf : `skystack.image.psf.Psf`
        The PSF model.
    x, y : array_like
        Positions in parent pixels (finite).

    Returns
    -------
    stamps : `numpy.ndarray`
        ``(n, k, k)`` float64, each summing to 1 and centred at its position.
    x0, y0 : `numpy.ndarray`
        int64 parent pixel of each stamp's ``[0, 0]``.
    """
    xs, ys = as_positions(x, y)
    k = int(psf.kernel_size)
    stamps = np.empty((xs.size, k, k))
    sx0 = np.empty(xs.size, dtype=np.int64)
    sy0 = np.empty(xs.size, dtype=np.int64)
    for idx, (xv, yv) in enumerate(zip(xs.tolist(), ys.tolist(), strict=True)):  # one Psf call each
        stamp, box = psf.compute_image(xv, yv)
        stamps[idx] = stamp
        sx0[idx] = box.min_x
        sy0[idx] = box.min_y
    return stamps, sx0, sy0


def fit_model_flux(
    image: npt.ArrayLike,
    stamps: npt.ArrayLike,
    stamp_x0: npt.ArrayLike,
    stamp_y0: npt.ArrayLike,
    *,
    variance: npt.ArrayLike | None = None,
    mask: npt.ArrayLike | None = None,
    bad_mask_bits: int = 0,
    xy0: tuple[int, int] = (0, 0),
    weighting: Weighting = "variance",
) -> FluxFitResult:
    """Fit the amplitude of given model stamps (e.g. PSF images) to the image, one per source.

    Parameters
    ----------
    image : array_like
        2-d background-subtracted image; ``image[j, i]`` is pixel ``(i + x0, j + y0)``.
    stamps : array_like
        ``(n, ky, kx)`` model images, each normalised as the flux should be (unit sum for PSFs).
    stamp_x0, stamp_y0 : array_like
        Parent pixel of each stamp's ``[0, 0]``.
    variance, mask, bad_mask_bits, xy0
        Variance plane, mask plane, bits to leave out and ``xy0`` of the image.
    weighting : {"variance", "uniform"}
        Inverse-variance (maximum likelihood) or uniform pixel weights (see the module docstring).

    Returns
    -------
    result : `FluxFitResult`
        ``flux``, ``flux_err``, ``chi2``, ``n_pixels`` and ``flag`` (bits `FIT_EDGE`,
        `FIT_MASKED`, `FIT_NO_GOOD_PIXELS`).

    Raises
    ------
    ValueError, TypeError
        For inconsistent shapes or an unknown weighting.
    """
    use_var = _check_weighting(weighting)
    img = as_image(image)
    var, has_var = as_variance(variance, img.shape)
    msk, has_mask, bits = as_mask(mask, img.shape, bad_mask_bits)
    x0, y0 = check_xy0(xy0)
    st = np.asarray(stamps, dtype=np.float64)
    if st.ndim != 3:
        raise ValueError(f"stamps must be an (n, ky, kx) stack of model images, got shape {st.shape}")
    sx = np.asarray(stamp_x0, dtype=np.int64).ravel() - x0
    sy = np.asarray(stamp_y0, dtype=np.int64).ravel() - y0
    if sx.size != st.shape[0] or sy.size != st.shape[0]:
        raise ValueError(
            f"stamp_x0/stamp_y0 need one value per stamp ({st.shape[0]}), got {sx.size}, {sy.size}"
        )
    out = np.empty((st.shape[0], 4))
    flags = np.zeros(st.shape[0], dtype=np.int32)
    if st.shape[0]:
        _fit_stamps(
            img, var, has_var, msk, has_mask, bits, np.ascontiguousarray(st), sx, sy, use_var, out, flags
        )
    return _result(out, flags)


def psf_flux(
    image: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    psf: Psf,
    *,
    variance: npt.ArrayLike | None = None,
    mask: npt.ArrayLike | None = None,
    bad_mask_bits: int = 0,
    xy0: tuple[int, int] = (0, 0),
    weighting: Weighting = "variance",
    batch_size: int = 4096,
) -> FluxFitResult:
    """PSF-fit fluxes at fixed positions.

    Parameters
    ----------
    image, variance, mask, bad_mask_bits, xy0, weighting
        As for `fit_model_flux`.
    x, y : array_like
        Source positions (the centroids) in parent pixels.
    psf : `skystack.image.psf.Psf`
        The PSF model; its image at each position (unit sum over the stamp) is the model.
    batch_size : `int`
        Number of PSF images gathered per numba pass (memory: ``batch_size × k²`` doubles).

    Returns
    -------
    result : `FluxFitResult`
        As for `fit_model_flux`; sources at non-finite positions get NaN and
        `FIT_NO_GOOD_PIXELS`.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    use_var = _check_weighting(weighting)
    img = as_image(image)
    var, has_var = as_variance(variance, img.shape)
    msk, has_mask, bits = as_mask(mask, img.shape, bad_mask_bits)
    x0, y0 = check_xy0(xy0)
    xs, ys = as_positions(x, y)
    n = xs.size
    out = np.full((n, 4), np.nan)
    out[:, 3] = 0
    flags = np.full(n, FIT_NO_GOOD_PIXELS, dtype=np.int32)
    good = np.flatnonzero(np.isfinite(xs) & np.isfinite(ys))
    for start in range(0, good.size, batch_size):
        rows = good[start : start + batch_size]
        stamps, sx, sy = psf_images(psf, xs[rows], ys[rows])
        sub_out = np.empty((rows.size, 4))
        sub_flags = np.zeros(rows.size, dtype=np.int32)
        _fit_stamps(
            img, var, has_var, msk, has_mask, bits, stamps, sx - x0, sy - y0, use_var, sub_out, sub_flags
        )
        out[rows] = sub_out
        flags[rows] = sub_flags
    return _result(out, flags)


def gaussian_flux(
    image: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    xx: npt.ArrayLike,
    yy: npt.ArrayLike,
    xy: npt.ArrayLike,
    *,
    variance: npt.ArrayLike | None = None,
    mask: npt.ArrayLike | None = None,
    bad_mask_bits: int = 0,
    xy0: tuple[int, int] = (0, 0),
    weighting: Weighting = "variance",
    n_sigma: float = 5.0,
    max_radius: float = 50.0,
) -> FluxFitResult:
    """Fluxes of fixed elliptical Gaussian models (Rubin's ``GaussianFlux`` with a linear fit).

    Parameters
    ----------
    image, variance, mask, bad_mask_bits, xy0, weighting
        As for `fit_model_flux`.
    x, y : array_like
        Model centres in parent pixels.
    xx, yy, xy : `float` or array_like
        Model second moments in pixels² (e.g. the adaptive moments), one or one per source.
    n_sigma : `float`
        Half-size of the model stamp in sigmas along each axis (the model is normalised to unit
        sum over it).
    max_radius : `float`
        Largest half-size of the stamp in pixels.

    Returns
    -------
    result : `FluxFitResult`
        As for `fit_model_flux`; sources whose moments are not positive definite get NaN and
        `FIT_NO_GOOD_PIXELS`.
    """
    use_var = _check_weighting(weighting)
    if not (n_sigma > 0 and max_radius > 0):
        raise ValueError(f"n_sigma and max_radius must be positive, got {n_sigma}, {max_radius}")
    img = as_image(image)
    var, has_var = as_variance(variance, img.shape)
    msk, has_mask, bits = as_mask(mask, img.shape, bad_mask_bits)
    x0, y0 = check_xy0(xy0)
    xs, ys = as_positions(x, y)
    n = xs.size
    shapes = np.stack([per_source(xx, n, "xx"), per_source(yy, n, "yy"), per_source(xy, n, "xy")], axis=1)
    out = np.empty((n, 4))
    flags = np.zeros(n, dtype=np.int32)
    if n:
        _fit_gaussians(
            img, var, has_var, msk, has_mask, bits, xs - x0, ys - y0, shapes,
            float(n_sigma), float(max_radius), use_var, out, flags,
        )  # fmt: skip
    return _result(out, flags)


def psf_gaussian_flux(
    psf: Psf,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    xx: npt.ArrayLike,
    yy: npt.ArrayLike,
    xy: npt.ArrayLike,
    *,
    n_sigma: float = 5.0,
    max_radius: float = 50.0,
    batch_size: int = 4096,
) -> np.ndarray:
    """The `gaussian_flux` (uniform weights) of the unit PSF image at each position and shape.

    A point source of flux ``F`` has ``gaussian_flux = F × psf_gaussian_flux`` with the same
    Gaussian, so dividing a Gaussian flux by it puts the flux on the PSF-model normalisation
    (the per-source aperture correction that `extendedness` needs). Exact for
    ``weighting="uniform"``; with variance weights it holds for background-dominated noise.

    Parameters
    ----------
    psf : `skystack.image.psf.Psf`
        The PSF model.
    x, y, xx, yy, xy, n_sigma, max_radius
        As for `gaussian_flux`.
    batch_size : `int`
        PSF images gathered per numba pass.

    Returns
    -------
    fraction : `numpy.ndarray`
        float64 per source (NaN for invalid positions or shapes).
    """
    if batch_size < 1 or not (n_sigma > 0 and max_radius > 0):
        raise ValueError("batch_size, n_sigma and max_radius must be positive")
    xs, ys = as_positions(x, y)
    n = xs.size
    shapes = np.stack([per_source(xx, n, "xx"), per_source(yy, n, "yy"), per_source(xy, n, "xy")], axis=1)
    out = np.full(n, np.nan)
    good = np.flatnonzero(np.isfinite(xs) & np.isfinite(ys))
    for start in range(0, good.size, batch_size):
        rows = good[start : start + batch_size]
        stamps, sx, sy = psf_images(psf, xs[rows], ys[rows])
        sub = np.empty(rows.size)
        _gaussians_on_stamps(
            stamps,
            sx,
            sy,
            xs[rows],
            ys[rows],
            np.ascontiguousarray(shapes[rows]),
            float(n_sigma),
            float(max_radius),
            sub,
        )
        out[rows] = sub
    return out
