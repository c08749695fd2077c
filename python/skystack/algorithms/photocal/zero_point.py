# SPDX-License-Identifier: GPL-3.0-or-later
"""Photometric zero point of one detector from matched reference stars (LDM-151 §5.1.1, PhotoCal).

For each matched star the magnitude difference ``dm = m_ref - m_inst`` is formed, with
``m_ref = -2.5 log10(ref_flux / nJy) + 31.4`` (AB) and ``m_inst = -2.5 log10(inst_flux)``, and
its error from both flux errors. The zero point is the weighted mean of ``dm`` (optionally with a
colour term, ``dm = zp + k (colour - pivot)``), fitted by `~.robust_fit.clipped_linear_fit`:
an intrinsic scatter added in quadrature keeps the few brightest stars, whose Poisson errors are
tiny, from dominating, and iterative sigma clipping from a median/MAD start rejects variables,
blends and mismatches. The zero point has the meaning of
`~skystack.image.PhotoCalib.from_zero_point`: the AB magnitude of one instrumental count, so
`ZeroPointResult.photo_calib` builds the calibration directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skystack.algorithms.statistics import MAD_TO_SIGMA
from skystack.image.photocalib import AB_ZERO_POINT_NJY_MAG, PhotoCalib

from .robust_fit import clipped_linear_fit

__all__ = ["ZeroPointResult", "fit_zero_point"]

_MAG_PER_LN = 2.5 / math.log(10.0)


@dataclass(frozen=True)
class ZeroPointResult:
    """A fitted zero point.

    Attributes
    ----------
    zero_point : `float`
        AB magnitude of one instrumental count (at ``colour_pivot`` with a colour term).
    zero_point_err : `float`
        Its 1-sigma statistical error (magnitudes), intrinsic scatter included.
    colour_term, colour_term_err : `float`
        Slope ``k`` of ``dm`` against colour and its error (0 when not fitted).
    colour_pivot : `float`
        Colour at which ``zero_point`` applies (0 when no colour term is fitted).
    intrinsic_scatter : `float`
        Scatter (magnitudes) beyond the flux errors, added in quadrature.
    scatter : `float`
        Robust standard deviation (1.4826 MAD) of the residuals of the stars used (mag).
    residuals : `numpy.ndarray`
        ``dm - model`` of every input star (NaN where the fluxes are unusable).
    used : `numpy.ndarray`
        Boolean mask of the stars kept.
    n_used, n_total : `int`
        Stars kept and stars given.
    n_iter : `int`
        Clipping iterations.
    """

    zero_point: float
    zero_point_err: float
    colour_term: float
    colour_term_err: float
    colour_pivot: float
    intrinsic_scatter: float
    scatter: float
    residuals: np.ndarray
    used: np.ndarray
    n_used: int
    n_total: int
    n_iter: int

    def photo_calib(self) -> PhotoCalib:
        """A constant `~skystack.image.PhotoCalib` with this zero point and its error."""
        return PhotoCalib.from_zero_point(self.zero_point, self.zero_point_err)


def _array(values: npt.ArrayLike, name: str, n: int | None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or (n is not None and arr.size != n):
        expected = "a 1-d array" if n is None else f"a 1-d array of {n} values"
        raise ValueError(f"fit_zero_point: {name} must be {expected}, got shape {arr.shape}")
    return arr


def fit_zero_point(
    inst_flux: npt.ArrayLike,
    inst_flux_err: npt.ArrayLike,
    ref_flux: npt.ArrayLike,
    ref_flux_err: npt.ArrayLike,
    *,
    colour: npt.ArrayLike | None = None,
    fit_colour_term: bool = False,
    colour_pivot: float | None = None,
    n_sigma: float = 3.0,
    max_iter: int = 10,
    min_stars: int = 3,
) -> ZeroPointResult:
    """Fit the zero point (and optionally a colour term) of matched stars.

    Parameters
    ----------
    inst_flux, inst_flux_err : array_like
        Instrumental fluxes of the stars and their errors (counts, e.g. electrons).
    ref_flux, ref_flux_err : array_like
        Reference fluxes in nJy (in the band of the exposure) and their errors.
    colour : array_like, optional
        Reference colour of each star (e.g. ``g - r`` in magnitudes); needed for a colour term.
    fit_colour_term : `bool`
        Fit ``dm = zp + k (colour - pivot)`` (off by default).
    colour_pivot : `float`, optional
        Colour at which the zero point is quoted (default: the median colour of the usable stars).
    n_sigma : `float`
        Clipping limit in total standard deviations (errors and intrinsic scatter).
    max_iter : `int`
        Most clipping iterations.
    min_stars : `int`
        Fewest usable stars accepted (at least 2, one more than the free parameters).

    Returns
    -------
    result : `ZeroPointResult`

    Raises
    ------
    ValueError
        If the arrays differ in length, a colour term is asked for without colours, or fewer
        than ``min_stars`` stars have positive, finite fluxes and errors.

    Notes
    -----
    Stars with non-positive or non-finite fluxes or errors (or colour) are not used; zero flux
    errors are allowed (the intrinsic scatter then sets the weights).
    """
    inst = _array(inst_flux, "inst_flux", None)
    n = inst.size
    inst_err = _array(inst_flux_err, "inst_flux_err", n)
    ref = _array(ref_flux, "ref_flux", n)
    ref_err = _array(ref_flux_err, "ref_flux_err", n)
    col = None if colour is None else _array(colour, "colour", n)
    if fit_colour_term and col is None:
        raise ValueError("fit_zero_point: fit_colour_term=True needs the reference colour of each star")
    n_par = 2 if fit_colour_term else 1
    if min_stars < n_par + 1:
        raise ValueError(f"fit_zero_point: min_stars must be at least {n_par + 1}, got {min_stars}")
    good = (inst > 0) & (ref > 0) & np.isfinite(inst) & np.isfinite(ref)
    good &= np.isfinite(inst_err) & np.isfinite(ref_err) & (inst_err >= 0) & (ref_err >= 0)
    if fit_colour_term and col is not None:
        good &= np.isfinite(col)
    n_good = int(good.sum())
    if n_good < min_stars:
        raise ValueError(
            f"fit_zero_point: {n_good} of {n} stars have positive, finite fluxes and errors; at least "
            f"{min_stars} are needed (check the match and the flux columns)"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        dm = -2.5 * np.log10(ref) + AB_ZERO_POINT_NJY_MAG + 2.5 * np.log10(inst)
        err = _MAG_PER_LN * np.hypot(inst_err / inst, ref_err / ref)
    err_g = err[good]
    positive = err_g > 0
    floor = float(np.min(err_g[positive])) * 1e-3 if positive.any() else 1e-6
    err_g = np.maximum(err_g, floor)  # exact data: tiny errors, the intrinsic scatter does the rest
    pivot = 0.0
    design = np.ones((n_good, n_par))
    if fit_colour_term and col is not None:
        pivot = float(np.median(col[good])) if colour_pivot is None else float(colour_pivot)
        design[:, 1] = col[good] - pivot
    fit = clipped_linear_fit(design, dm[good], err_g, n_sigma=n_sigma, max_iter=max_iter)
    residuals = np.full(n, np.nan)
    residuals[good] = fit.residuals
    used = np.zeros(n, dtype=bool)
    used[good] = fit.used
    res_used = fit.residuals[fit.used]
    scatter = MAD_TO_SIGMA * float(np.median(np.abs(res_used - np.median(res_used))))
    cov = fit.covariance
    return ZeroPointResult(
        zero_point=float(fit.coefficients[0]),
        zero_point_err=math.sqrt(float(cov[0, 0])),
        colour_term=float(fit.coefficients[1]) if fit_colour_term else 0.0,
        colour_term_err=math.sqrt(float(cov[1, 1])) if fit_colour_term else 0.0,
        colour_pivot=pivot,
        intrinsic_scatter=fit.intrinsic_scatter,
        scatter=scatter,
        residuals=residuals,
        used=used,
        n_used=int(used.sum()),
        n_total=n,
        n_iter=fit.n_iter,
    )
