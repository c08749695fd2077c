# SPDX-License-Identifier: GPL-3.0-or-later
"""Aperture corrections: fit them over a detector and apply them to flux columns (LDM-151 §8.12).

For bright, isolated stars the ratio ``calib_flux / flux`` of a large calibration aperture's flux
to another algorithm's flux (PSF flux, smaller apertures) is the correction that puts that
algorithm on the calibration aperture's scale. It varies slowly over the detector with the PSF,
so it is fitted as a `~skystack.image.ChebyshevBoundedField` of configurable order by
`~.robust_fit.clipped_linear_fit` (weighted by the ratio errors plus a fitted intrinsic scatter,
sigma clipped against blends, cosmic rays and bad measurements).

The results go into an `~skystack.image.ApCorrMap` under Rubin's names: ``"<name>_instFlux"``
holds the correction field and ``"<name>_instFluxErr"`` a constant field with its standard error
(the rms over the stars of the fitted correction's standard error; this is the uncertainty of the
correction, not the scatter of single stars). `apply_aperture_correction` multiplies a flux
column by the correction at each source's position and scales its error, optionally adding the
correction's own error in quadrature (off by default: that error is common to all sources of a
detector, so adding it to each would overstate the errors of flux differences).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skystack.algorithms.statistics import MAD_TO_SIGMA
from skystack.geom import Box2I
from skystack.image.apcorr import ApCorrMap
from skystack.image.bounded_field import ChebyshevBoundedField, ConstantBoundedField

from .robust_fit import clipped_linear_fit

__all__ = [
    "ApertureCorrectionFit",
    "ApertureCorrectionResult",
    "ap_corr_error_name",
    "ap_corr_name",
    "apply_aperture_correction",
    "fit_aperture_corrections",
]


def ap_corr_name(name: str) -> str:
    """Key of the correction field of flux ``name`` in an `ApCorrMap` (``"<name>_instFlux"``)."""
    return f"{name}_instFlux"


def ap_corr_error_name(name: str) -> str:
    """Key of the correction's error field (``"<name>_instFluxErr"``)."""
    return f"{name}_instFluxErr"


@dataclass(frozen=True)
class ApertureCorrectionFit:
    """The fit of one algorithm's aperture correction.

    Attributes
    ----------
    name : `str`
        The flux algorithm's name (prefix of its columns).
    field : `~skystack.image.ChebyshevBoundedField`
        The correction ``calib_flux / flux`` over the detector.
    error : `float`
        Standard error of the fitted correction (rms over the stars used).
    intrinsic_scatter : `float`
        Scatter of single stars' ratios beyond their errors.
    scatter : `float`
        Robust standard deviation (1.4826 MAD) of the ratio residuals of the stars used.
    used : `numpy.ndarray`
        Boolean mask of the stars kept (over all stars given).
    n_used, n_total : `int`
        Stars kept and stars given.
    """

    name: str
    field: ChebyshevBoundedField
    error: float
    intrinsic_scatter: float
    scatter: float
    used: np.ndarray
    n_used: int
    n_total: int


@dataclass(frozen=True)
class ApertureCorrectionResult:
    """All fitted corrections: the `ApCorrMap` and the per-algorithm fits."""

    ap_corr_map: ApCorrMap
    fits: dict[str, ApertureCorrectionFit]


def _vector(values: npt.ArrayLike, name: str, n: int) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n,):
        raise ValueError(
            f"fit_aperture_corrections: {name} must be a 1-d array of {n} values, got {arr.shape}"
        )
    return arr


def _chebyshev_terms(order: int, triangular: bool) -> list[tuple[int, int]]:
    """Coefficient positions ``(j_y, i_x)`` of the fitted terms."""
    return [(j, i) for j in range(order + 1) for i in range(order + 1) if not triangular or i + j <= order]


def fit_aperture_corrections(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    calib_flux: npt.ArrayLike,
    calib_flux_err: npt.ArrayLike,
    fluxes: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    bbox: Box2I,
    *,
    order: int = 2,
    triangular: bool = True,
    n_sigma: float = 3.0,
    max_iter: int = 10,
    min_stars: int | None = None,
) -> ApertureCorrectionResult:
    """Fit the aperture correction of each flux algorithm over a detector.

    Parameters
    ----------
    x, y : array_like
        Positions (parent pixels) of the selected bright stars.
    calib_flux, calib_flux_err : array_like
        Their flux in the calibration (large) aperture and its error.
    fluxes : mapping of `str` to (array_like, array_like)
        For each algorithm name (e.g. ``"base_PsfFlux"``), the stars' fluxes and errors in that
        algorithm, in the same units as ``calib_flux``.
    bbox : `~skystack.geom.Box2I`
        The detector's box (domain of the fields).
    order : `int`
        Chebyshev order in x and y (0: a constant correction).
    triangular : `bool`
        Keep only terms with ``i + j <= order`` (afw's default) instead of the full square.
    n_sigma : `float`
        Clipping limit in total standard deviations.
    max_iter : `int`
        Most clipping iterations.
    min_stars : `int`, optional
        Fewest usable stars per algorithm (default: the number of coefficients + 2).

    Returns
    -------
    result : `ApertureCorrectionResult`

    Raises
    ------
    ValueError
        If the arrays differ in length, ``order`` is negative, ``fluxes`` is empty, or an
        algorithm has fewer than ``min_stars`` stars with positive, finite fluxes and errors
        (the message names it and says how many are needed).
    """
    xa = np.asarray(x, dtype=float)
    n = xa.size
    xa = _vector(xa, "x", n)
    ya = _vector(y, "y", n)
    cal = _vector(calib_flux, "calib_flux", n)
    cal_err = _vector(calib_flux_err, "calib_flux_err", n)
    if isinstance(order, bool) or int(order) != order or order < 0:
        raise ValueError(f"fit_aperture_corrections: order must be a non-negative integer, got {order!r}")
    if not fluxes:
        raise ValueError("fit_aperture_corrections: give at least one flux algorithm in fluxes")
    if not isinstance(bbox, Box2I) or bbox.is_empty:
        raise ValueError(f"fit_aperture_corrections: bbox must be a non-empty Box2I, got {bbox!r}")
    terms = _chebyshev_terms(int(order), triangular)
    needed = len(terms) + 2 if min_stars is None else int(min_stars)
    base_ok = np.isfinite(xa) & np.isfinite(ya) & np.isfinite(cal) & (cal > 0)
    base_ok &= np.isfinite(cal_err) & (cal_err >= 0)
    # Design columns: each Chebyshev term evaluated through the public field class, so the fit
    # uses exactly the coordinate mapping of ChebyshevBoundedField.
    columns = []
    for j, i in terms:
        unit = np.zeros((int(order) + 1, int(order) + 1))
        unit[j, i] = 1.0
        columns.append(np.asarray(ChebyshevBoundedField(unit, bbox).evaluate(xa, ya)))
    design_all = np.stack(columns, axis=1) if n else np.zeros((0, len(terms)))

    ap_corr_map = ApCorrMap()
    fits: dict[str, ApertureCorrectionFit] = {}
    for name, pair in fluxes.items():
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValueError(f"fit_aperture_corrections: fluxes[{name!r}] must be a (flux, flux_err) pair")
        flux = _vector(pair[0], f"fluxes[{name!r}] flux", n)
        flux_err = _vector(pair[1], f"fluxes[{name!r}] error", n)
        ok = base_ok & np.isfinite(flux) & (flux > 0) & np.isfinite(flux_err) & (flux_err >= 0)
        n_ok = int(ok.sum())
        if n_ok < needed:
            raise ValueError(
                f"fit_aperture_corrections: {name!r} has {n_ok} stars with positive, finite fluxes; an "
                f"order-{order} correction needs at least {needed} (lower the order or select more stars)"
            )
        ratio = cal[ok] / flux[ok]
        err = ratio * np.hypot(cal_err[ok] / cal[ok], flux_err[ok] / flux[ok])
        positive = err > 0
        err = np.maximum(err, float(np.min(err[positive])) * 1e-3 if positive.any() else 1e-9)
        design = design_all[ok]
        fit = clipped_linear_fit(design, ratio, err, n_sigma=n_sigma, max_iter=max_iter)
        coeffs = np.zeros((int(order) + 1, int(order) + 1))
        for k, (j, i) in enumerate(terms):
            coeffs[j, i] = fit.coefficients[k]
        field = ChebyshevBoundedField(coeffs, bbox)
        pred_var = np.einsum("ij,jk,ik->i", design[fit.used], fit.covariance, design[fit.used])
        error = math.sqrt(float(np.mean(pred_var)))
        used = np.zeros(n, dtype=bool)
        used[ok] = fit.used
        res = fit.residuals[fit.used]
        fits[name] = ApertureCorrectionFit(
            name=name,
            field=field,
            error=error,
            intrinsic_scatter=fit.intrinsic_scatter,
            scatter=MAD_TO_SIGMA * float(np.median(np.abs(res - np.median(res)))),
            used=used,
            n_used=int(used.sum()),
            n_total=n,
        )
        ap_corr_map[ap_corr_name(name)] = field
        ap_corr_map[ap_corr_error_name(name)] = ConstantBoundedField(error, bbox)
    return ApertureCorrectionResult(ap_corr_map=ap_corr_map, fits=fits)


def apply_aperture_correction(
    ap_corr_map: ApCorrMap,
    name: str,
    flux: npt.ArrayLike,
    flux_err: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    include_correction_error: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the aperture correction of algorithm ``name`` to a flux column.

    Parameters
    ----------
    ap_corr_map : `~skystack.image.ApCorrMap`
        Holds ``"<name>_instFlux"`` (and ``"<name>_instFluxErr"`` for the correction's error).
    name : `str`
        The flux algorithm's name.
    flux, flux_err : array_like
        Fluxes and their errors (any units; NaN propagates).
    x, y : array_like
        Source positions (parent pixels).
    include_correction_error : `bool`
        Add ``flux * sigma_corr`` in quadrature to the errors (needs the error field).

    Returns
    -------
    flux, flux_err : `numpy.ndarray`
        New arrays: ``flux * c(x, y)`` and ``|c| * flux_err`` (or
        ``hypot(c * flux_err, flux * sigma_c)``).

    Raises
    ------
    KeyError
        If the map has no correction for ``name`` (the message lists what it has).
    ValueError
        If the arrays do not broadcast together.
    """
    f = np.asarray(flux, dtype=float)
    fe = np.asarray(flux_err, dtype=float)
    try:
        f, fe, xa, ya = np.broadcast_arrays(f, fe, np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    except ValueError as err:
        raise ValueError(
            f"apply_aperture_correction: flux, flux_err, x and y must broadcast: {err}"
        ) from None
    corr = np.asarray(ap_corr_map.evaluate(ap_corr_name(name), xa, ya), dtype=float)
    out = f * corr
    out_err = np.abs(corr) * fe
    if include_correction_error:
        sigma = np.asarray(ap_corr_map.evaluate(ap_corr_error_name(name), xa, ya), dtype=float)
        out_err = np.hypot(out_err, f * sigma)
    return out, out_err
