# SPDX-License-Identifier: GPL-3.0-or-later
"""A PSFEx-style PSF determiner: a pixel basis varying as a polynomial of position, fitted to stars.

Steps (LDM-151 §5.1.1, "PSF estimation"; PSFEx, Bertin 2011, is the model):

1. **Stamps.** Square stamps of odd side ``stamp_size`` (default: ``2 ceil(stamp_radius_fwhm ×
   FWHM) + 1``, the FWHM estimated from the candidates' adaptive moments) are cut around each
   candidate (numba). Candidates whose stamp leaves the image or holds a masked pixel are dropped.
   Each stamp's local background, the median of its outer ring, is subtracted; its centre is
   refined by adaptive (Gaussian-windowed) moments.
2. **Reserve.** A random ``reserve_fraction`` of the usable stars (seeded, reproducible) is kept
   out of the fit to judge the model — the "reserved" stars of the Rubin pipelines.
3. **Fit.** Stamps of the fitted stars are shifted (sinc interpolation) to put the star on the
   central pixel, normalised by their flux, and every model pixel is fitted as a polynomial of
   degree ``spatial_degree`` of the detector position by least squares weighted by each pixel's
   inverse variance (`~skystack.image.psf.PixelPsf.fit`), at native sampling (one basis sample per
   image pixel: exact for PSFs sampled at better than Nyquist, i.e. FWHM ≳ 2.5 pixels).
4. **Star fits and clipping.** Every star (fitted and reserved) gets its flux, sub-pixel centre and
   local background fitted with the model (`~skystack.algorithms.psf.star_fit.fit_psf_stars`) and
   its ``chi2/dof``; non-reserved stars whose ``chi2/dof`` — with ``(model_accuracy × model)²``
   added to the variance, PSFEx's ``PSF_ACCURACY`` — is above ``max(median + clip_n_sigma ×
   robust sigma, chi2_floor)`` are left out of the next fit (never below the minimum number of stars; a star
   left out against an early model is taken back when a later one fits it), and the fit is
   repeated with the refined centres and fluxes until the set of stars and their centres settle
   or ``max_iterations`` is reached.

The result carries the model, the per-star ``chi2/dof``, the overall ``chi2/dof`` of the fitted
stars (their degrees of freedom reduced by the model's parameters) and of the reserved stars, and
the model FWHM at the detector centre and corners.

Oversampled bases (PSFEx ``PSF_SAMPLING < 1``) are not fitted here: they need the super-resolution
system that couples all basis samples. The simulated SimCam PSFs (0.6–1.2″ at 0.2″/px) are well
sampled, where the native basis reaches the accuracy measured in the tests.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ...config import Config, field
from ...geom.box import Box2I
from ...image.psf.base import PsfError
from ...image.psf.pixel import PixelPsf, polynomial_terms
from .moments import adaptive_moments
from .stamps import extract_stamps, nearest_pixel, ring_background, shift_stamps
from .star_fit import StarFits, fit_psf_stars

__all__ = ["PsfDeterminationError", "PsfDeterminationResult", "PsfDeterminerConfig", "determine_psf"]

_LOG = logging.getLogger(__name__)
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_MAD_TO_SIGMA = 1.4826
_PROBE_SIZE = 31  # stamp side used to estimate the FWHM when no stamp size is configured


class PsfDeterminationError(PsfError):
    """Raised when a PSF cannot be determined (too few usable stars, unusable inputs)."""


class PsfDeterminerConfig(Config):
    """Parameters of `determine_psf`."""

    spatial_degree: int = field(2, doc="Degree of the polynomial of detector position.", ge=0, le=6)
    stamp_size: int | None = field(
        None, doc="Odd stamp side (pixels); None: 2 ceil(stamp_radius_fwhm * FWHM) + 1.", ge=5
    )
    stamp_radius_fwhm: float = field(3.5, doc="Half-size of automatic stamps in FWHM units.", gt=0)
    min_stamp_size: int = field(15, doc="Smallest automatic stamp side (pixels).", ge=5)
    max_stamp_size: int = field(75, doc="Largest automatic stamp side (pixels).", ge=5)
    background_width: int = field(
        2, doc="Width (pixels) of the stamp ring giving the local background.", ge=1
    )
    reserve_fraction: float = field(
        0.2, doc="Fraction of usable stars kept out of the fit to evaluate the model.", ge=0, lt=1
    )
    reserve_seed: int = field(1, doc="Seed of the random choice of reserved stars.", ge=0)
    min_stars_per_term: float = field(
        2.0, doc="Fewest fitted stars per polynomial term (6 terms at degree 2).", ge=1
    )
    max_iterations: int = field(4, doc="Maximum fit / clip iterations.", ge=1)
    clip_n_sigma: float = field(
        4.0, doc="Reject fitted stars whose chi2/dof exceeds the median by this many robust sigmas.", gt=0
    )
    chi2_floor: float = field(
        1.5, doc="Never reject a star whose chi2/dof is below this, however tight the distribution.", ge=1
    )
    model_accuracy: float = field(
        0.01,
        doc="Relative accuracy expected of model pixels when judging stars (PSFEx PSF_ACCURACY): the "
        "clipping chi2 adds (model_accuracy * model)² to the variance, so bright stars are not rejected "
        "for percent-level model errors.",
        ge=0,
    )
    star_fit_iterations: int = field(4, doc="Gauss-Newton iterations of each star's flux/centre fit.", ge=1)

    def validate_config(self) -> None:
        from ...config import ConfigValidationError

        if self.stamp_size is not None and self.stamp_size % 2 == 0:
            raise ConfigValidationError(f"stamp_size must be odd (a central pixel), got {self.stamp_size}")
        if self.min_stamp_size > self.max_stamp_size:
            raise ConfigValidationError(
                f"min_stamp_size ({self.min_stamp_size}) must not exceed "
                f"max_stamp_size ({self.max_stamp_size})"
            )


@dataclass(frozen=True)
class PsfDeterminationResult:
    """Result of `determine_psf`.

    Per-candidate arrays have the length of the ``x``/``y`` given; stars that were never fitted
    (dropped at the edge or for masked pixels) have NaN measurements and all flags False.

    Attributes
    ----------
    psf : `~skystack.image.psf.PixelPsf`
        The model.
    used, reserved, rejected : `numpy.ndarray`
        Boolean: fitted in the final model; reserved (never fitted); fitted at first, then
        rejected for a large ``chi2/dof``.
    x, y, flux, background : `numpy.ndarray`
        Each star's centre, flux in the stamp and local background, fitted with the final model.
    chi2_per_dof : `numpy.ndarray`
        Each star's ``chi2/dof`` against the final model (over its stamp, 4 fitted parameters).
    chi2_per_dof_used : `float`
        ``sum chi2 / (sum dof - n_model_parameters)`` over the used stars.
    chi2_per_dof_reserved : `float`
        ``sum chi2 / sum dof`` over the reserved stars (NaN if none).
    fwhm : `dict` [`str`, `float`]
        Model FWHM (pixels) at ``center``, ``lower_left``, ``lower_right``, ``upper_left`` and
        ``upper_right`` (the corner pixels of the bbox).
    stamp_size : `int`
        Stamp side used (pixels).
    n_iterations : `int`
        Fit / clip iterations run.
    dropped : `dict` [`str`, `int`]
        Candidates not used, by reason: ``off_image``, ``masked``, ``bad_centroid``.
    """

    psf: PixelPsf
    used: np.ndarray
    reserved: np.ndarray
    rejected: np.ndarray
    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    background: np.ndarray
    chi2_per_dof: np.ndarray
    chi2_per_dof_used: float
    chi2_per_dof_reserved: float
    fwhm: dict[str, float]
    stamp_size: int
    n_iterations: int
    dropped: dict[str, int]

    @property
    def n_used(self) -> int:
        return int(np.count_nonzero(self.used))

    @property
    def n_reserved(self) -> int:
        return int(np.count_nonzero(self.reserved))

    @property
    def n_rejected(self) -> int:
        return int(np.count_nonzero(self.rejected))


def _check_inputs(
    image: np.ndarray,
    variance: np.ndarray,
    mask: np.ndarray | None,
    x: np.ndarray,
    y: np.ndarray,
    bbox: Box2I,
) -> None:
    if image.ndim != 2:
        raise PsfDeterminationError(f"determine_psf: image must be 2-D, got shape {image.shape}")
    if variance.shape != image.shape:
        raise PsfDeterminationError(
            f"determine_psf: variance shape {variance.shape} differs from the image shape {image.shape}"
        )
    if mask is not None and mask.shape != image.shape:
        raise PsfDeterminationError(
            f"determine_psf: mask shape {mask.shape} differs from the image shape {image.shape}"
        )
    if bbox.shape != image.shape:
        raise PsfDeterminationError(
            f"determine_psf: bbox {bbox!r} does not match the image shape {image.shape}"
        )
    if x.ndim != 1 or x.shape != y.shape:
        raise PsfDeterminationError(
            f"determine_psf: x and y must be 1-D of equal length, got {x.shape} and {y.shape}"
        )


def _auto_stamp_size(
    image: np.ndarray, x: np.ndarray, y: np.ndarray, xy0: tuple[int, int], config: PsfDeterminerConfig
) -> int:
    """Stamp side from the median adaptive FWHM of the candidates (probe stamps of 31 pixels)."""
    stamps, inside = extract_stamps(image, x, y, _PROBE_SIZE, xy0)
    stamps = stamps[inside]
    if stamps.shape[0] == 0:
        return config.min_stamp_size
    stamps -= ring_background(stamps, 2)[:, None, None]
    ix, iy = nearest_pixel(x[inside], y[inside])
    moments = adaptive_moments(stamps, x[inside] - ix + _PROBE_SIZE // 2, y[inside] - iy + _PROBE_SIZE // 2)
    radius = moments.determinant_radius[moments.converged]
    radius = radius[np.isfinite(radius)]
    if radius.size == 0:
        return config.min_stamp_size
    fwhm = _FWHM_PER_SIGMA * float(np.median(radius))
    size = 2 * math.ceil(config.stamp_radius_fwhm * fwhm) + 1
    return int(min(max(size, config.min_stamp_size | 1), config.max_stamp_size | 1))


def _min_stars(config: PsfDeterminerConfig) -> int:
    n_terms = (config.spatial_degree + 1) * (config.spatial_degree + 2) // 2
    return max(n_terms, math.ceil(config.min_stars_per_term * n_terms))


def _too_few(n_usable: int, n_candidates: int, dropped: dict[str, int], config: PsfDeterminerConfig) -> str:
    need = _min_stars(config)
    n_terms = (config.spatial_degree + 1) * (config.spatial_degree + 2) // 2
    need_total = math.ceil(need / (1.0 - config.reserve_fraction))
    detail = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in dropped.items() if v)
    return (
        f"PSF determination found {n_usable} usable stars of {n_candidates} candidates"
        + (f" (dropped: {detail})" if detail else "")
        + f"; it needs {need_total} ({need} fitted for a degree-{config.spatial_degree} model of "
        f"{n_terms} terms at min_stars_per_term={config.min_stars_per_term}, plus "
        f"{config.reserve_fraction:.0%} reserved). Select more candidates (lower the star selector's "
        "sn_min) or lower spatial_degree / reserve_fraction."
    )


def _corners(bbox: Box2I) -> dict[str, tuple[float, float]]:
    c = bbox.center
    return {
        "center": (float(c.x), float(c.y)),
        "lower_left": (float(bbox.min_x), float(bbox.min_y)),
        "lower_right": (float(bbox.max_x), float(bbox.min_y)),
        "upper_left": (float(bbox.min_x), float(bbox.max_y)),
        "upper_right": (float(bbox.max_x), float(bbox.max_y)),
    }


def _clip(
    chi2_dof: np.ndarray, candidates: np.ndarray, min_stars: int, config: PsfDeterminerConfig
) -> np.ndarray:
    """Mask of the candidates to leave out of the next fit: failed fits and chi2/dof outliers.

    The threshold is ``max(median + clip_n_sigma * 1.4826 MAD, chi2_floor)`` over the candidates'
    finite values; at most ``n_candidates - min_stars`` stars (the worst) are left out.
    """
    idx = np.flatnonzero(candidates)
    values = chi2_dof[idx]
    finite = np.isfinite(values)
    out = np.zeros(chi2_dof.size, dtype=bool)
    if not finite.any():
        return out
    median = float(np.median(values[finite]))
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(values[finite] - median)))
    threshold = max(median + config.clip_n_sigma * sigma, config.chi2_floor)
    score = np.where(finite, values, np.inf)
    bad = score > threshold
    n_allowed = max(0, idx.size - min_stars)
    if np.count_nonzero(bad) > n_allowed:
        order = np.argsort(-score)  # worst first
        bad = np.zeros(idx.size, dtype=bool)
        bad[order[:n_allowed]] = True
    out[idx[bad]] = True
    return out


def _model_variance(
    psf: PixelPsf,
    size: int,
    var_used: np.ndarray,
    flux_used: np.ndarray,
    x_used: np.ndarray,
    y_used: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> np.ndarray:
    """Variance of the fitted model's unit-sum pixels at each star's position, ``(n, size, size)``.

    From the per-pixel normal equations of the fit, ``var_p(x_n) = t_n^T N_p^-1 t_n`` with
    ``N_p = sum_m w_mp t_m t_m^T`` over the fitted stars (``w`` their flux² over variance, shifted
    as in the fit). A star much brighter than those fitting the model sees the model's noise; this
    lets the clipping judge it fairly instead of rejecting the brightest stars at the detector edges.
    """
    ix, iy = nearest_pixel(x_used, y_used)
    shifted_var = shift_stamps(var_used, x_used - ix, y_used - iy, squared=True).reshape(x_used.size, -1)
    weights = flux_used[:, None] ** 2 / np.maximum(shifted_var, np.finfo(float).tiny)
    zx, zy = psf.poly_zero
    scale_x, scale_y = psf.poly_scale
    t_used = polynomial_terms((x_used - zx) / scale_x, (y_used - zy) / scale_y, psf.degree)
    normal = np.einsum("mp,mk,ml->pkl", weights, t_used, t_used, optimize=True)
    try:
        inverse = np.linalg.inv(normal)
    except np.linalg.LinAlgError:
        return np.zeros((x.size, size, size))
    t_all = polynomial_terms((x - zx) / scale_x, (y - zy) / scale_y, psf.degree)
    variance = np.einsum("nk,pkl,nl->np", t_all, inverse, t_all, optimize=True)
    return np.maximum(variance, 0.0).reshape(x.size, size, size)


def _cut(
    image: np.ndarray,
    variance: np.ndarray,
    bad_pixels: np.ndarray | None,
    x: np.ndarray,
    y: np.ndarray,
    size: int,
    xy0: tuple[int, int],
    background_width: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Background-subtracted stamps and variance stamps around ``(x, y)``.

    Returns the stamps, the variance stamps, whether each is usable, and why not (0 usable, 1 off
    the image, 2 a masked, non-finite or non-positive-variance pixel).
    """
    stamps, inside = extract_stamps(image, x, y, size, xy0)
    var_st, _ = extract_stamps(variance, x, y, size, xy0)
    why = np.where(inside, 0, 1)
    finite = np.all(np.isfinite(stamps), axis=(1, 2)) & np.all(
        np.isfinite(var_st) & (var_st > 0), axis=(1, 2)
    )
    if bad_pixels is not None:
        mask_st, _ = extract_stamps(bad_pixels.view(np.uint8), x, y, size, xy0, fill=1.0)
        finite &= ~np.any(mask_st > 0, axis=(1, 2))
    why = np.where((why == 0) & ~finite, 2, why)
    usable = why == 0
    if np.any(usable):
        stamps[usable] -= ring_background(stamps[usable], background_width)[:, None, None]
    return stamps, var_st, usable, why


def determine_psf(
    image: np.ndarray,
    variance: np.ndarray,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    mask: np.ndarray | None = None,
    bbox: Box2I | None = None,
    config: PsfDeterminerConfig | None = None,
) -> PsfDeterminationResult:
    """Determine a spatially varying pixel PSF from candidate stars (PSFEx style).

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D background-subtracted image (a residual local background is removed per stamp).
    variance : `numpy.ndarray`
        Per-pixel variance of ``image`` (same shape), including the stars' own Poisson noise.
    x, y : array_like
        ``(n,)`` candidate centres in parent pixels (e.g. from `select_psf_candidates`); refined here.
    mask : `numpy.ndarray`, optional
        Boolean image of unusable pixels (bad, saturated, cosmic rays, ...); stars with one in their
        stamp are dropped.
    bbox : `~skystack.geom.Box2I`, optional
        Parent box of ``image`` (its ``xy0`` and the polynomial's domain); default
        ``Box2I.from_shape(image.shape)``.
    config : `PsfDeterminerConfig`, optional
        Parameters; default ``PsfDeterminerConfig()``.

    Returns
    -------
    result : `PsfDeterminationResult`

    Raises
    ------
    PsfDeterminationError
        If the inputs are inconsistent (naming the mismatch), or fewer usable stars remain than the
        model needs (the message gives how many were found, why others were dropped, and how many
        are needed).
    """
    cfg = PsfDeterminerConfig() if config is None else config
    cfg.check()
    img = np.asarray(image)
    var = np.asarray(variance)
    xa = np.atleast_1d(np.asarray(x, dtype=float))
    ya = np.atleast_1d(np.asarray(y, dtype=float))
    box = Box2I.from_shape(img.shape) if bbox is None else bbox
    bad_pixels = None if mask is None else np.asarray(mask, dtype=bool)
    _check_inputs(img, var, bad_pixels, xa, ya, box)
    n_candidates = xa.size
    xy0 = (box.min_x, box.min_y)
    min_stars = _min_stars(cfg)
    finite = np.isfinite(xa) & np.isfinite(ya)
    dropped = {"off_image": 0, "masked": 0, "bad_centroid": 0}
    dropped["bad_centroid"] = int(np.count_nonzero(~finite))
    index = np.flatnonzero(finite)

    size = (
        cfg.stamp_size
        if cfg.stamp_size is not None
        else _auto_stamp_size(img, xa[index], ya[index], xy0, cfg)
    )
    half = size // 2

    # -- stamps, local background, adaptive centroids --------------------------------------------------
    stamps, var_st, usable, why = _cut(
        img, var, bad_pixels, xa[index], ya[index], size, xy0, cfg.background_width
    )
    dropped["off_image"] += int(np.count_nonzero(why == 1))
    dropped["masked"] += int(np.count_nonzero(why == 2))
    index, stamps = index[usable], stamps[usable]
    ix, iy = nearest_pixel(xa[index], ya[index])
    moments = adaptive_moments(stamps, xa[index] - ix + half, ya[index] - iy + half)
    cx = ix - half + moments.x
    cy = iy - half + moments.y
    good_centroid = moments.converged & (np.abs(cx - xa[index]) < 2.0) & (np.abs(cy - ya[index]) < 2.0)
    dropped["bad_centroid"] += int(np.count_nonzero(~good_centroid))
    index, cx, cy = index[good_centroid], cx[good_centroid], cy[good_centroid]
    # Cut again around the refined centres (the nearest pixel may have changed).
    stamps, var_st, usable, why = _cut(img, var, bad_pixels, cx, cy, size, xy0, cfg.background_width)
    dropped["off_image"] += int(np.count_nonzero(why == 1))
    dropped["masked"] += int(np.count_nonzero(why == 2))
    index, sx, sy, stamps, var_st = index[usable], cx[usable], cy[usable], stamps[usable], var_st[usable]
    n_usable = index.size

    # -- reserve ----------------------------------------------------------------------------------------
    n_reserve = round(cfg.reserve_fraction * n_usable)
    if n_usable - n_reserve < min_stars:
        raise PsfDeterminationError(_too_few(n_usable, n_candidates, dropped, cfg))
    rng = np.random.default_rng(cfg.reserve_seed)
    reserved_local = np.zeros(n_usable, dtype=bool)
    reserved_local[rng.choice(n_usable, size=n_reserve, replace=False)] = True
    rejected_local = np.zeros(n_usable, dtype=bool)
    use = np.zeros(n_usable, dtype=bool)
    flux = stamps.sum(axis=(1, 2))

    psf: PixelPsf | None = None
    fits: StarFits | None = None
    iterations = 0
    for iterations in range(1, cfg.max_iterations + 1):  # a handful of fit / clip rounds
        use = ~reserved_local & ~rejected_local & (flux > 0)
        if np.count_nonzero(use) < min_stars:
            raise PsfDeterminationError(_too_few(int(np.count_nonzero(use)), n_candidates, dropped, cfg))
        try:
            psf = PixelPsf.fit(
                stamps[use],
                sx[use],
                sy[use],
                cfg.spatial_degree,
                box,
                variances=var_st[use],
                fluxes=flux[use],
            )
        except PsfError as err:
            raise PsfDeterminationError(f"PSF fit failed: {err}") from err
        fits = fit_psf_stars(
            psf,
            img,
            var,
            sx,
            sy,
            size=size,
            bbox=box,
            n_iter=cfg.star_fit_iterations,
            model_accuracy=cfg.model_accuracy,
            model_variance=_model_variance(
                psf, stamps.shape[-1], var_st[use], flux[use], sx[use], sy[use], sx, sy
            ),
        )
        # Every non-reserved star is judged against the current model: one rejected against an early,
        # contaminated model comes back when the model improves.
        with np.errstate(invalid="ignore", divide="ignore"):
            tolerant = np.where(fits.ok & (fits.dof > 0), fits.chi2_tolerant / fits.dof, np.nan)
        new_rejected = _clip(tolerant, ~reserved_local, min_stars, cfg)
        changed = bool(np.any(new_rejected != rejected_local))
        rejected_local = new_rejected
        # Adopt the model-fitted centres and fluxes where the stamp around the new centre is usable.
        new_x = np.where(fits.ok, fits.x, sx)
        new_y = np.where(fits.ok, fits.y, sy)
        moved = float(np.max(np.hypot(new_x - sx, new_y - sy), initial=0.0))
        new_st, new_var, valid, _ = _cut(img, var, bad_pixels, new_x, new_y, size, xy0, cfg.background_width)
        stamps[valid], var_st[valid] = new_st[valid], new_var[valid]
        sx, sy = np.where(valid, new_x, sx), np.where(valid, new_y, sy)
        flux = np.where(valid & fits.ok & (fits.flux > 0), fits.flux, flux)
        if iterations >= 2 and not changed and moved < 0.01:
            break
    assert psf is not None and fits is not None

    # -- results --------------------------------------------------------------------------------------
    n_terms = psf.basis.shape[0]
    # The model is the last fit: its stars are the used ones, every other non-reserved star rejected.
    rejected_local = ~reserved_local & ~use
    used_fit = use & fits.ok
    dof_used = float(np.sum(fits.dof[used_fit])) - n_terms * size * size
    chi2_used = float(np.sum(fits.chi2[used_fit])) / dof_used if dof_used > 0 else math.nan
    res_fit = reserved_local & fits.ok
    dof_res = float(np.sum(fits.dof[res_fit]))
    chi2_res = float(np.sum(fits.chi2[res_fit])) / dof_res if dof_res > 0 else math.nan
    fwhm = {name: psf.fwhm(px, py) for name, (px, py) in _corners(box).items()}
    if min(fwhm.values()) < 2.5:
        _LOG.warning(
            "PSF FWHM %.2f px is below 2.5 px: a native-sampling pixel basis is aliased there",
            min(fwhm.values()),
        )

    def full(values: np.ndarray, fill: float | bool) -> np.ndarray:
        out = np.full(n_candidates, fill, dtype=np.asarray(values).dtype)
        out[index] = values
        return out

    return PsfDeterminationResult(
        psf=psf,
        used=full(use, False),
        reserved=full(reserved_local, False),
        rejected=full(rejected_local, False),
        x=full(fits.x, math.nan),
        y=full(fits.y, math.nan),
        flux=full(fits.flux, math.nan),
        background=full(fits.background, math.nan),
        chi2_per_dof=full(fits.chi2_per_dof, math.nan),
        chi2_per_dof_used=chi2_used,
        chi2_per_dof_reserved=chi2_res,
        fwhm=fwhm,
        stamp_size=size,
        n_iterations=iterations,
        dropped=dropped,
    )
