# SPDX-License-Identifier: GPL-3.0-or-later
"""Fit a pixel PSF model to star stamps: flux, sub-pixel position and local background, and χ².

For each star the model is ``d = F m(x_n + dx, y_n + dy) + b`` on a square stamp, where ``m`` is
the `~skystack.image.psf.PixelPsf` at the star's position, shifted by band-limited (sinc)
interpolation of its basis grid to the sub-pixel centre and normalised to unit sum over the stamp.
``F``, ``dx``, ``dy`` and ``b`` are found by weighted Gauss–Newton iterations (weights the inverse
pixel variances), vectorised over all stars: each iteration evaluates the model and its position
derivatives with batched matrix products (the separable interpolation weights and their analytic
derivatives from numba) and solves one 4×4 system per star. The goodness of fit is
``chi2 = sum (d - model)² / var`` over the fitted pixels with ``dof = n_pixels - n_parameters``;
this is how the PSF determiner judges its stars and how reserved stars measure a PSF model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from ...geom.box import Box2I
from ...image.psf.pixel import PixelPsf, polynomial_terms
from .stamps import extract_stamps, nearest_pixel, ring_background

__all__ = ["StarFits", "fit_psf_stars", "model_stamps"]

_MAX_STEP = 0.5  # pixels, largest centroid change per Gauss-Newton iteration
_MAX_OFFSET = 1.5  # pixels, largest accepted offset of the fitted centre from the stamp centre


@dataclass(frozen=True)
class StarFits:
    """Per-star results of `fit_psf_stars` (all ``(n,)`` arrays).

    Attributes
    ----------
    x, y : `numpy.ndarray`
        Fitted centres in parent pixels.
    flux : `numpy.ndarray`
        Fitted flux inside the stamp (image units).
    background : `numpy.ndarray`
        Fitted (or fixed) local background per pixel.
    chi2 : `numpy.ndarray`
        ``sum (data - model)² / variance`` over the fitted pixels; NaN where the fit failed.
    chi2_tolerant : `numpy.ndarray`
        The same with ``(model_accuracy × model)²`` and ``flux² × model_variance`` added to the
        variance (equal to ``chi2`` when neither is given).
    dof : `numpy.ndarray`
        Degrees of freedom: fitted pixels minus fitted parameters (integers).
    ok : `numpy.ndarray`
        Boolean: the fit succeeded (finite, positive flux, centre within 1.5 px of the stamp's).
    """

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    background: np.ndarray
    chi2: np.ndarray
    chi2_tolerant: np.ndarray
    dof: np.ndarray
    ok: np.ndarray

    @property
    def chi2_per_dof(self) -> np.ndarray:
        """``chi2 / dof`` per star (NaN where the fit failed or ``dof <= 0``)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.ok & (self.dof > 0), self.chi2 / self.dof, np.nan)


def _basis_images(psf: PixelPsf, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The model on its basis grid at each position, ``(n, height, width)``, unnormalised."""
    zx, zy = psf.poly_zero
    sx, sy = psf.poly_scale
    terms = polynomial_terms((x - zx) / sx, (y - zy) / sy, psf.degree)
    basis = psf.basis
    return (terms @ basis.reshape(basis.shape[0], -1)).reshape(x.size, basis.shape[1], basis.shape[2])


@numba.njit(cache=True, nogil=True)
def _dirichlet(
    shift: np.ndarray, n_out: int, n_basis: int, step: float, weights: np.ndarray, slopes: np.ndarray
) -> None:  # pragma: no cover - numba
    """Sinc weights sampling a basis grid at ``(k - n_out // 2) - shift_n`` and their ``d/dshift``.

    The periodic-sinc (Dirichlet) kernel of `skystack.image.psf.base.sinc_matrix`, with its
    analytic derivative; one ``sin`` pair per weight instead of a finite difference.
    """
    centre = n_basis // 2
    lower = -centre - 0.5
    upper = n_basis - 1 - centre + 0.5
    # t = u - m with integer m: sin(pi t) = (-1)^m sin(pi u), and sin(pi t / N) by the angle-difference
    # identity with sin/cos(pi m / N) tabulated, so no trigonometric call per weight.
    sin_b = np.empty(n_basis)
    cos_b = np.empty(n_basis)
    sign = np.empty(n_basis)
    for k in range(n_basis):
        m = k - centre
        sin_b[k] = math.sin(math.pi * m / n_basis)
        cos_b[k] = math.cos(math.pi * m / n_basis)
        sign[k] = 1.0 if m % 2 == 0 else -1.0
    for n in range(shift.size):
        for j in range(n_out):
            u = ((j - n_out // 2) - shift[n]) / step
            if u < lower or u > upper:
                for k in range(n_basis):
                    weights[n, j, k] = 0.0
                    slopes[n, j, k] = 0.0
                continue
            sin_u = math.sin(math.pi * u)
            cos_u = math.cos(math.pi * u)
            sin_a = math.sin(math.pi * u / n_basis)
            cos_a = math.cos(math.pi * u / n_basis)
            for k in range(n_basis):
                s_full = sign[k] * sin_u
                c_full = sign[k] * cos_u
                s_part = sin_a * cos_b[k] - cos_a * sin_b[k]
                c_part = cos_a * cos_b[k] + sin_a * sin_b[k]
                den = n_basis * s_part
                if abs(den) < 1e-12:
                    weights[n, j, k] = 1.0
                    slopes[n, j, k] = 0.0
                else:
                    weights[n, j, k] = s_full / den
                    d_dt = math.pi * (c_full * den - s_full * c_part) / (den * den)
                    slopes[n, j, k] = -d_dt / step


def _weights(shift: np.ndarray, n_out: int, n_basis: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    """``(n, n_out, n_basis)`` sinc weights for the shifts and their derivatives."""
    weights = np.empty((shift.size, n_out, n_basis))
    slopes = np.empty_like(weights)
    _dirichlet(np.ascontiguousarray(shift, dtype=float), n_out, n_basis, float(step), weights, slopes)
    return weights, slopes


def _model_from_images(
    images: np.ndarray, dx: np.ndarray, dy: np.ndarray, size: int, step: float, derivatives: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Unit-sum model stamps (and position derivatives) from basis-grid images at offsets ``dx, dy``."""
    wx, dwx = _weights(dx, size, images.shape[2], step)
    wy, dwy = _weights(dy, size, images.shape[1], step)
    rows = np.matmul(wy, images)  # (n, size, n_basis_x)
    wx_t = wx.transpose(0, 2, 1)
    raw = np.matmul(rows, wx_t)
    total = raw.sum(axis=(1, 2))[:, None, None]
    model = raw / total
    if not derivatives:
        return model, None, None
    raw_dx = np.matmul(rows, dwx.transpose(0, 2, 1))
    raw_dy = np.matmul(np.matmul(dwy, images), wx_t)
    d_dx = (raw_dx - model * raw_dx.sum(axis=(1, 2))[:, None, None]) / total
    d_dy = (raw_dy - model * raw_dy.sum(axis=(1, 2))[:, None, None]) / total
    return model, d_dx, d_dy


def model_stamps(
    psf: PixelPsf,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    size: int,
    derivatives: bool = False,
    centers: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Model images of unit sum on stamps around ``(x, y)``, batched.

    Parameters
    ----------
    psf : `~skystack.image.psf.PixelPsf`
        The model (any sampling).
    x, y : array_like
        ``(n,)`` PSF centres in parent pixels.
    size : `int`
        Odd stamp side (pixels).
    derivatives : `bool`, optional
        Also return the derivatives of the normalised model with respect to ``x`` and ``y``.
    centers : `tuple` [`numpy.ndarray`, `numpy.ndarray`], optional
        Integer parent pixels ``(ix, iy)`` on which the stamps are centred; default the pixels
        nearest to ``(x, y)``. Offsets ``x - ix`` up to ~1.5 pixels are interpolated exactly.

    Returns
    -------
    model : `numpy.ndarray`
        ``(n, size, size)``, each summing to 1.
    d_dx, d_dy : `numpy.ndarray` or `None`
        ``(n, size, size)`` derivatives when asked for.
    """
    xa = np.atleast_1d(np.asarray(x, dtype=float))
    ya = np.atleast_1d(np.asarray(y, dtype=float))
    ix, iy = nearest_pixel(xa, ya) if centers is None else centers
    images = _basis_images(psf, xa, ya)
    return _model_from_images(images, xa - ix, ya - iy, int(size), psf.sampling, derivatives)


def fit_psf_stars(
    psf: PixelPsf,
    image: np.ndarray,
    variance: np.ndarray,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    size: int | None = None,
    bbox: Box2I | None = None,
    radius: float | None = None,
    fit_background: bool = True,
    n_iter: int = 4,
    model_accuracy: float = 0.0,
    model_variance: np.ndarray | None = None,
) -> StarFits:
    """Fit flux, centre and local background of stars with a PSF model, and their χ².

    Parameters
    ----------
    psf : `~skystack.image.psf.PixelPsf`
        The PSF model.
    image, variance : `numpy.ndarray`
        2-D image and its per-pixel variance; pixels whose variance is not finite and positive
        (e.g. masked ones, given ``inf``) get zero weight and do not count in ``dof``.
    x, y : array_like
        ``(n,)`` starting centres in parent pixels.
    size : `int`, optional
        Odd stamp side; default the model's `kernel_size`.
    bbox : `~skystack.geom.Box2I`, optional
        Parent box of ``image``; default ``Box2I.from_shape(image.shape)``.
    radius : `float`, optional
        Fit and count only pixels within this radius (pixels) of the stamp centre; default the
        whole stamp.
    fit_background : `bool`, optional
        Fit a constant background per star (else it is fixed to the median of the whole stamp's
        outer two-pixel ring, which also starts the fit).
    n_iter : `int`, optional
        Gauss–Newton iterations (``>= 1``).
    model_accuracy : `float`, optional
        Relative accuracy expected of the model's pixels (PSFEx ``PSF_ACCURACY``):
        `StarFits.chi2_tolerant` adds ``(model_accuracy × fitted model)²`` to each pixel's variance,
        so that stars bright enough to see percent-level model errors are not judged outliers.
    model_variance : `numpy.ndarray`, optional
        ``(n, size, size)`` variance of each star's unit-sum model pixels (the model's own noise,
        from its fit); `StarFits.chi2_tolerant` adds it, times the fitted flux squared, to the
        pixel variance.

    Returns
    -------
    fits : `StarFits`
        Stars whose stamp leaves the image have ``ok = False``.

    Raises
    ------
    ValueError
        If the image and variance shapes differ, ``bbox`` does not match the image, ``size`` is not
        an odd integer >= 5, ``radius`` leaves fewer pixels than parameters, or ``x`` and ``y``
        differ in length.
    """
    img = np.asarray(image)
    var = np.asarray(variance)
    if img.ndim != 2 or img.shape != var.shape:
        raise ValueError(
            f"fit_psf_stars: image {img.shape} and variance {var.shape} must be equal 2-D shapes"
        )
    box = Box2I.from_shape(img.shape) if bbox is None else bbox
    if box.shape != img.shape:
        raise ValueError(f"fit_psf_stars: bbox {box!r} does not match the image shape {img.shape}")
    side = psf.kernel_size if size is None else size
    if isinstance(side, bool) or not isinstance(side, int | np.integer) or side < 5 or side % 2 == 0:
        raise ValueError(f"fit_psf_stars: size must be an odd integer >= 5 (pixels), got {size!r}")
    side = int(side)
    xa = np.atleast_1d(np.asarray(x, dtype=float)).copy()
    ya = np.atleast_1d(np.asarray(y, dtype=float)).copy()
    if xa.ndim != 1 or xa.shape != ya.shape:
        raise ValueError(f"fit_psf_stars: x and y must be 1-D of equal length, got {xa.shape} and {ya.shape}")
    n = xa.size
    xy0 = (box.min_x, box.min_y)
    data, inside = extract_stamps(img, xa, ya, side, xy0, fill=0.0)
    var_st, _ = extract_stamps(var, xa, ya, side, xy0, fill=np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        ivar = np.where(np.isfinite(var_st) & (var_st > 0), 1.0 / var_st, 0.0)
    background = ring_background(np.where(ivar > 0, data, np.nan), 2)
    background = np.where(np.isfinite(background), background, 0.0)
    region = np.ones((side, side), dtype=bool)
    if radius is not None:
        offsets = np.arange(side) - side // 2
        region = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= float(radius) ** 2
    ivar *= region
    data = np.where(ivar > 0, data, 0.0)
    n_par = 4 if fit_background else 3
    dof = np.count_nonzero(ivar.reshape(n, -1), axis=1) - n_par
    if radius is not None and np.count_nonzero(region) <= n_par:
        raise ValueError(f"fit_psf_stars: radius {radius} leaves no more pixels than the {n_par} parameters")
    flux = (data - background[:, None, None] * (ivar > 0)).sum(axis=(1, 2))
    flux = np.where(flux > 0, flux, 1.0)
    ok = inside.copy()
    ix0, iy0 = nearest_pixel(xa, ya)
    # The PSF varies negligibly over a sub-pixel move: its basis-grid images are made once.
    images = _basis_images(psf, xa, ya)
    for _ in range(max(1, int(n_iter))):
        model, d_dx, d_dy = _model_from_images(images, xa - ix0, ya - iy0, side, psf.sampling, True)
        assert d_dx is not None and d_dy is not None
        residual = data - flux[:, None, None] * model - background[:, None, None]
        columns = [model, flux[:, None, None] * d_dx, flux[:, None, None] * d_dy]
        if fit_background:
            columns.append(np.ones_like(model))
        jac = np.stack([c.reshape(n, -1) for c in columns], axis=1)  # (n, n_par, n_pix)
        w = ivar.reshape(n, -1)
        normal = np.einsum("nap,np,nbp->nab", jac, w, jac, optimize=True)
        rhs = np.einsum("nap,np,np->na", jac, w, residual.reshape(n, -1), optimize=True)
        good = np.all(np.isfinite(normal), axis=(1, 2)) & np.all(np.isfinite(rhs), axis=1)
        good &= np.linalg.det(normal) > 0
        normal[~good] = np.eye(n_par)
        rhs[~good] = 0.0
        step = np.linalg.solve(normal, rhs[..., None])[..., 0]
        ok &= good
        flux = flux + step[:, 0]
        # Limit the centre's steps and keep it within the interpolation range of its stamp.
        xa = np.clip(xa + np.clip(step[:, 1], -_MAX_STEP, _MAX_STEP), ix0 - _MAX_OFFSET, ix0 + _MAX_OFFSET)
        ya = np.clip(ya + np.clip(step[:, 2], -_MAX_STEP, _MAX_STEP), iy0 - _MAX_OFFSET, iy0 + _MAX_OFFSET)
        if fit_background:
            background = background + step[:, 3]
    model, _, _ = _model_from_images(images, xa - ix0, ya - iy0, side, psf.sampling, False)
    residual = data - flux[:, None, None] * model - background[:, None, None]
    chi2 = np.einsum("np,np->n", residual.reshape(n, -1) ** 2, ivar.reshape(n, -1))
    chi2_tolerant = chi2
    if model_accuracy > 0 or model_variance is not None:
        extra = (model_accuracy * flux[:, None, None] * model) ** 2
        if model_variance is not None:
            if model_variance.shape != model.shape:
                raise ValueError(
                    f"fit_psf_stars: model_variance must have shape {model.shape}, got {model_variance.shape}"
                )
            extra = extra + flux[:, None, None] ** 2 * model_variance
        good = ivar > 0
        tolerant_ivar = np.zeros_like(ivar)
        tolerant_ivar[good] = 1.0 / (1.0 / ivar[good] + extra[good])
        chi2_tolerant = np.einsum("np,np->n", residual.reshape(n, -1) ** 2, tolerant_ivar.reshape(n, -1))
    edge = (np.abs(xa - ix0) >= _MAX_OFFSET) | (np.abs(ya - iy0) >= _MAX_OFFSET)
    ok &= np.isfinite(chi2) & (flux > 0) & ~edge & (dof > 0)
    return StarFits(
        x=xa,
        y=ya,
        flux=flux,
        background=background,
        chi2=np.where(ok, chi2, np.nan),
        chi2_tolerant=np.where(ok, chi2_tolerant, np.nan),
        dof=dof,
        ok=ok,
    )
