# SPDX-License-Identifier: GPL-3.0-or-later
"""Fit a TAN-SIP WCS to matched pixel ↔ sky positions (LDM-151 §5.1.1.15, FitWCS).

Model (FITS TAN-SIP, Shupe et al. 2005): with ``u = x - crpix_x``, ``v = y - crpix_y``,

    (xi, eta) = CD @ (u + A(u, v), v + B(u, v))

where ``(xi, eta)`` are gnomonic standard coordinates about ``CRVAL`` and ``A``, ``B`` are
polynomials with terms ``u^p v^q``, ``2 <= p + q <= sip_order``. Writing the right-hand side as
two polynomials of order ``sip_order`` in ``(u, v)`` makes the fit linear: their linear terms are
the CD matrix and their higher terms are ``CD @ (A, B)``. The fit is weighted linear least
squares in the tangent plane (in scaled coordinates, so it stays well conditioned), with:

- ``CRPIX`` fixed (default: the centre of the detector box);
- ``CRVAL`` fitted (default) by adding constant terms and moving the tangent point to the sky
  position they give, re-projecting and refitting until the constants vanish (two or three
  passes), or held fixed (no constant terms);
- iterative sigma clipping on the residuals of each axis (a robust MAD scale on the first
  pass, then the rms of the points kept), re-admitting points that come back within the limit;
- the inverse polynomials ``AP``, ``BP`` (order ``inverse_order``, all terms) fitted on a grid
  over the box, as the starting guess of the exact inverse.

The result is built as an astropy WCS with `astropy.wcs.Sip` and wrapped by the public
`~skystack.geom.SkyWcs` constructor; its residuals are recomputed through that `SkyWcs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from astropy.wcs import WCS, Sip

from skystack.algorithms.statistics import MAD_TO_SIGMA
from skystack.geom import Box2D, Box2I, Point2D, SpherePoint, radec_to_unit_vectors, unit_vectors_to_radec
from skystack.geom.wcs import SkyWcs

from .tangent_plane import gnomonic_inverse, gnomonic_project

__all__ = ["WcsFitResult", "fit_tan_sip_wcs"]

_MAS_PER_DEG = 3.6e6
_CRVAL_TOLERANCE_DEG = 1e-11  # 0.04 µas: constant terms below this mean CRVAL is at CRPIX
_INVERSE_GRID = 40


@dataclass(frozen=True)
class WcsFitResult:
    """The fitted WCS and its statistics.

    Attributes
    ----------
    wcs : `~skystack.geom.SkyWcs`
        TAN-SIP (TAN for ``sip_order == 1``) WCS.
    rms : `float`
        ``sqrt(mean(dxi² + deta²))`` of the residuals of the points used, in mas.
    rms_xi, rms_eta : `float`
        Per-axis rms residuals of the points used (mas).
    residual_xi, residual_eta : `numpy.ndarray`
        Residuals of every point, ``wcs(x, y) - (ra, dec)`` in the tangent plane at ``CRVAL``
        (mas; ``xi`` east, ``eta`` north).
    used : `numpy.ndarray`
        Boolean mask of the points kept by the clipping.
    n_used, n_rejected : `int`
        Points used and rejected.
    n_iter : `int`
        Fits done (clipping passes + 1).
    sip_order, inverse_order : `int`
        Orders of the forward and inverse SIP polynomials (0 when there is no SIP).
    inverse_max_error : `float`
        Largest pixel error of the ``AP``/``BP`` polynomials alone over the box (the WCS inverts
        exactly by Newton iteration starting from them).
    """

    wcs: SkyWcs
    rms: float
    rms_xi: float
    rms_eta: float
    residual_xi: np.ndarray
    residual_eta: np.ndarray
    used: np.ndarray
    n_used: int
    n_rejected: int
    n_iter: int
    sip_order: int
    inverse_order: int
    inverse_max_error: float


def _terms(order: int, with_constant: bool) -> list[tuple[int, int]]:
    first = 0 if with_constant else 1
    return [(p, t - p) for t in range(first, order + 1) for p in range(t, -1, -1)]


def _design(u: np.ndarray, v: np.ndarray, terms: list[tuple[int, int]]) -> np.ndarray:
    return np.stack([u**p * v**q for p, q in terms], axis=1)


def _as_1d(values: npt.ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"fit_tan_sip_wcs: {name} must be a 1-d array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(
            f"fit_tan_sip_wcs: {name} has {int((~np.isfinite(arr)).sum())} non-finite values; drop those "
            "matches first"
        )
    return arr


def _mean_position(ra: np.ndarray, dec: np.ndarray) -> tuple[float, float]:
    vec = radec_to_unit_vectors(ra, dec).mean(axis=0)
    r, d = unit_vectors_to_radec(vec[None, :] / np.linalg.norm(vec))
    return float(r[0]), float(d[0])


def fit_tan_sip_wcs(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    ra: npt.ArrayLike,
    dec: npt.ArrayLike,
    *,
    bbox: Box2I | Box2D | None = None,
    sip_order: int = 3,
    inverse_order: int | None = None,
    crpix: Point2D | tuple[float, float] | None = None,
    crval: SpherePoint | None = None,
    fit_crval: bool = True,
    weights: npt.ArrayLike | None = None,
    n_sigma: float = 3.0,
    max_iter: int = 10,
) -> WcsFitResult:
    """Fit a TAN-SIP WCS to matched pixel and sky positions.

    Parameters
    ----------
    x, y : array_like
        Pixel positions (0-based parent pixels) of the matched sources.
    ra, dec : array_like
        Sky positions (degrees) of their reference stars.
    bbox : `~skystack.geom.Box2I` or `~skystack.geom.Box2D`, optional
        The detector's pixel box: sets the default ``crpix``, the scaling of the fit and the grid
        of the inverse polynomials (default: the box spanned by the points).
    sip_order : `int`
        Order of the distortion polynomials, 1 (pure TAN, no SIP) to 6; 2–4 are usual.
    inverse_order : `int`, optional
        Order of ``AP``/``BP`` (default ``sip_order + 1``); ignored without SIP.
    crpix : `~skystack.geom.Point2D`, optional
        Reference pixel (0-based); default the centre of the box.
    crval : `~skystack.geom.SpherePoint`, optional
        Tangent point: the starting guess (default the mean reference position) or, with
        ``fit_crval=False``, the fixed sky position of ``crpix``.
    fit_crval : `bool`
        Fit ``CRVAL`` (default) or keep it fixed (then ``crval`` is required).
    weights : array_like, optional
        Per-point weights (inverse variances of the position errors); default all equal.
    n_sigma : `float`
        Clipping limit per axis in standard deviations of the weighted residuals (MAD-based on
        the first pass, the rms of the points kept afterwards).
    max_iter : `int`
        Most fits (1: a single fit, no clipping).

    Returns
    -------
    result : `WcsFitResult`

    Raises
    ------
    ValueError
        If the arrays differ in length or contain non-finite values, weights are not positive,
        an order is out of range, ``fit_crval=False`` without ``crval``, or there are too few
        points for the number of coefficients (the message says how many are needed).
    """
    xa, ya, raa, deca = (_as_1d(v, n) for v, n in ((x, "x"), (y, "y"), (ra, "ra"), (dec, "dec")))
    n = xa.size
    if not (ya.size == raa.size == deca.size == n):
        raise ValueError(
            f"fit_tan_sip_wcs: x, y, ra and dec must have the same length, got {n}, {ya.size}, "
            f"{raa.size}, {deca.size}"
        )
    if isinstance(sip_order, bool) or not 1 <= int(sip_order) <= 6:
        raise ValueError(f"fit_tan_sip_wcs: sip_order must be an integer in [1, 6], got {sip_order!r}")
    sip_order = int(sip_order)
    inv_order = sip_order + 1 if inverse_order is None else int(inverse_order)
    if sip_order >= 2 and not 1 <= inv_order <= 9:
        raise ValueError(f"fit_tan_sip_wcs: inverse_order must be in [1, 9], got {inverse_order!r}")
    if not fit_crval and crval is None:
        raise ValueError("fit_tan_sip_wcs: fit_crval=False needs the fixed tangent point as crval")
    if n_sigma <= 0 or max_iter < 1:
        raise ValueError(f"fit_tan_sip_wcs: need n_sigma > 0 and max_iter >= 1, got {n_sigma}, {max_iter}")
    if weights is None:
        w = np.ones(n)
    else:
        w = _as_1d(weights, "weights")
        if w.size != n or np.any(w <= 0):
            raise ValueError("fit_tan_sip_wcs: weights must be positive, one per point")
        w = w / w.mean()
    terms = _terms(sip_order, fit_crval)
    if n < len(terms) + 1:
        raise ValueError(
            f"fit_tan_sip_wcs: {n} points cannot constrain {len(terms)} coefficients per axis of a "
            f"sip_order={sip_order} fit; give at least {len(terms) + 1} matches or lower sip_order"
        )
    if bbox is None:
        box = Box2D.from_points(xa, ya)
    else:
        box = bbox.to_box2d() if isinstance(bbox, Box2I) else bbox
        if box.is_empty:
            raise ValueError("fit_tan_sip_wcs: bbox is empty; give the detector's pixel box")
    cx, cy = box.center if crpix is None else (float(crpix[0]), float(crpix[1]))
    norm = max(0.5 * box.width, 0.5 * box.height, 1.0)
    ra0, dec0 = _mean_position(raa, deca) if crval is None else (crval.ra.degrees, crval.dec.degrees)
    u, v = (xa - cx) / norm, (ya - cy) / norm
    design = _design(u, v, terms)

    used = np.ones(n, dtype=bool)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # the last fit is always on the final selection
        ra0, dec0, coeffs = _fit_plane(design, w, used, raa, deca, ra0, dec0, fit_crval)
        if n_iter == max_iter:
            break
        xi, eta = gnomonic_project(raa, deca, ra0, dec0)
        model = design @ coeffs
        rx = (model[:, 0] - xi) * np.sqrt(w)
        ry = (model[:, 1] - eta) * np.sqrt(w)
        sx, sy = _clip_scale(rx[used], first=n_iter == 1), _clip_scale(ry[used], first=n_iter == 1)
        floor = 1e-5 / _MAS_PER_DEG  # 10 nano-arcsec: exact data (round-off residuals) are never clipped
        new_used = (np.abs(rx) <= n_sigma * max(sx, floor)) & (np.abs(ry) <= n_sigma * max(sy, floor))
        if new_used.sum() < len(terms) + 1 or np.array_equal(new_used, used):
            break
        used = new_used

    wcs, inverse_err = _build_wcs(coeffs, terms, norm, (cx, cy), (ra0, dec0), sip_order, inv_order, box)
    fit_ra, fit_dec = wcs.pixel_to_sky(xa, ya)
    f_xi, f_eta = gnomonic_project(fit_ra, fit_dec, ra0, dec0)
    r_xi, r_eta = gnomonic_project(raa, deca, ra0, dec0)
    res_xi = (f_xi - r_xi) * _MAS_PER_DEG
    res_eta = (f_eta - r_eta) * _MAS_PER_DEG
    n_used = int(used.sum())
    return WcsFitResult(
        wcs=wcs,
        rms=math.sqrt(float(np.mean(res_xi[used] ** 2 + res_eta[used] ** 2))),
        rms_xi=math.sqrt(float(np.mean(res_xi[used] ** 2))),
        rms_eta=math.sqrt(float(np.mean(res_eta[used] ** 2))),
        residual_xi=res_xi,
        residual_eta=res_eta,
        used=used,
        n_used=n_used,
        n_rejected=n - n_used,
        n_iter=n_iter,
        sip_order=sip_order if sip_order >= 2 else 0,
        inverse_order=inv_order if sip_order >= 2 else 0,
        inverse_max_error=inverse_err,
    )


def _clip_scale(resid: np.ndarray, first: bool) -> float:
    """Scale of residuals for clipping: robust (MAD) on the first pass, then the rms of those kept.

    The MAD protects the first pass from gross mismatches; afterwards the rms of the kept points
    is stable under repeated clipping, whereas the MAD of a sample with a spread of errors keeps
    shrinking and would erode the noisier (fainter) stars pass after pass.
    """
    if first:
        return MAD_TO_SIGMA * float(np.median(np.abs(resid - np.median(resid))))
    return float(np.sqrt(np.mean(resid**2)))


def _fit_plane(
    design: np.ndarray,
    w: np.ndarray,
    used: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    ra0: float,
    dec0: float,
    fit_crval: bool,
) -> tuple[float, float, np.ndarray]:
    """Weighted least squares of (xi, eta) on the design; with ``fit_crval`` move CRVAL to the constant."""
    sw = np.sqrt(w[used])[:, None]
    a = design[used] * sw
    coeffs = np.zeros((design.shape[1], 2))
    for _ in range(8 if fit_crval else 1):
        xi, eta = gnomonic_project(ra[used], dec[used], ra0, dec0)
        coeffs, *_ = np.linalg.lstsq(a, np.stack([xi, eta], axis=1) * sw, rcond=None)
        if not fit_crval:
            break
        c_xi, c_eta = float(coeffs[0, 0]), float(coeffs[0, 1])
        ra_new, dec_new = gnomonic_inverse(c_xi, c_eta, ra0, dec0)
        ra0, dec0 = float(ra_new), float(dec_new)
        if math.hypot(c_xi, c_eta) < _CRVAL_TOLERANCE_DEG:
            break
    if fit_crval:
        coeffs = coeffs.copy()
        coeffs[0] = 0.0  # the tangent point now is the sky position of CRPIX
    return ra0, dec0, coeffs


def _build_wcs(
    coeffs: np.ndarray,
    terms: list[tuple[int, int]],
    norm: float,
    crpix: tuple[float, float],
    crval: tuple[float, float],
    sip_order: int,
    inv_order: int,
    box: Box2D,
) -> tuple[SkyWcs, float]:
    """The `SkyWcs` of polynomial coefficients in scaled coordinates (and the inverse's max error)."""
    raw = {pq: coeffs[k] / norm ** (pq[0] + pq[1]) for k, pq in enumerate(terms)}  # degrees per pixel^(p+q)
    cd = np.array([[raw[(1, 0)][0], raw[(0, 1)][0]], [raw[(1, 0)][1], raw[(0, 1)][1]]])
    if not np.isfinite(cd).all() or abs(np.linalg.det(cd)) == 0.0:
        raise ValueError("fit_tan_sip_wcs: the fitted CD matrix is singular; the points may be collinear")
    w = WCS(naxis=2)
    w.wcs.crval = [crval[0], crval[1]]
    w.wcs.crpix = [crpix[0] + 1.0, crpix[1] + 1.0]
    w.wcs.cd = cd
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.radesys = "ICRS"
    inverse_err = 0.0
    if sip_order >= 2:
        cd_inv = np.linalg.inv(cd)
        a = np.zeros((sip_order + 1, sip_order + 1))
        b = np.zeros_like(a)
        for (p, q), c in raw.items():
            if p + q >= 2:
                a[p, q], b[p, q] = cd_inv @ c
        ap, bp, inverse_err = _fit_inverse(a, b, crpix, norm, inv_order, box)
        w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
        w.sip = Sip(a, b, ap, bp, w.wcs.crpix)
    else:
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.set()
    return SkyWcs(w), inverse_err


def _fit_inverse(
    a: np.ndarray, b: np.ndarray, crpix: tuple[float, float], norm: float, order: int, box: Box2D
) -> tuple[np.ndarray, np.ndarray, float]:
    """``AP``, ``BP`` with ``u = U + AP(U, V)`` on a grid over the box (all terms up to ``order``)."""
    gx = np.linspace(box.min_x, box.max_x, _INVERSE_GRID) - crpix[0]
    gy = np.linspace(box.min_y, box.max_y, _INVERSE_GRID) - crpix[1]
    u, v = (g.ravel() for g in np.meshgrid(gx, gy))
    fwd_terms = [(p, q) for p in range(a.shape[0]) for q in range(a.shape[1]) if a[p, q] or b[p, q]]
    mono = _design(u, v, fwd_terms) if fwd_terms else np.zeros((u.size, 0))
    big_u = u + mono @ np.array([a[p, q] for p, q in fwd_terms])
    big_v = v + mono @ np.array([b[p, q] for p, q in fwd_terms])
    terms = _terms(order, with_constant=True)
    design = _design(big_u / norm, big_v / norm, terms)
    sol, *_ = np.linalg.lstsq(design, np.stack([u - big_u, v - big_v], axis=1), rcond=None)
    ap = np.zeros((order + 1, order + 1))
    bp = np.zeros_like(ap)
    for k, (p, q) in enumerate(terms):
        scale = norm ** (p + q)
        ap[p, q], bp[p, q] = sol[k, 0] / scale, sol[k, 1] / scale
    err = np.hypot(*(design @ sol - np.stack([u - big_u, v - big_v], axis=1)).T)
    return ap, bp, float(err.max())
