# SPDX-License-Identifier: GPL-3.0-or-later
"""The gnomonic (TAN) projection about a tangent point, vectorised, and its inverse.

Standard coordinates ``(xi, eta)`` are those of the FITS TAN projection with ``LONPOLE = 180``:
``xi`` grows towards east (increasing RA), ``eta`` towards north, both in degrees, and the
tangent point is at ``(0, 0)``. So a TAN WCS is exactly ``(xi, eta) = CD @ (x - crpix)`` and the
matcher and WCS fitter of this package can compare pixel positions mapped through a WCS with
reference positions in one flat plane.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["gnomonic_inverse", "gnomonic_project"]


def gnomonic_project(
    ra: npt.ArrayLike, dec: npt.ArrayLike, ra0: float, dec0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Project sky positions onto the plane tangent to the sphere at ``(ra0, dec0)``.

    Parameters
    ----------
    ra, dec : array_like
        Sky positions in degrees (broadcast together).
    ra0, dec0 : `float`
        Tangent point in degrees.

    Returns
    -------
    xi, eta : `numpy.ndarray`
        Standard coordinates in degrees (``xi`` east, ``eta`` north). NaN for positions 90° or
        more from the tangent point, which have no gnomonic projection.
    """
    ra_r = np.radians(np.asarray(ra, dtype=float))
    dec_r = np.radians(np.asarray(dec, dtype=float))
    d0 = math.radians(dec0)
    sin_d0, cos_d0 = math.sin(d0), math.cos(d0)
    d_ra = ra_r - math.radians(ra0)
    cos_dec = np.cos(dec_r)
    sin_dec = np.sin(dec_r)
    cos_dra = np.cos(d_ra)
    cos_c = sin_d0 * sin_dec + cos_d0 * cos_dec * cos_dra
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(cos_c > 0.0, 1.0 / cos_c, np.nan)
    xi = cos_dec * np.sin(d_ra) * inv
    eta = (cos_d0 * sin_dec - sin_d0 * cos_dec * cos_dra) * inv
    return np.degrees(xi), np.degrees(eta)


def gnomonic_inverse(xi: npt.ArrayLike, eta: npt.ArrayLike, ra0: float, dec0: float) -> tuple[Any, Any]:
    """Sky positions of standard coordinates about the tangent point ``(ra0, dec0)``.

    Parameters
    ----------
    xi, eta : array_like
        Standard coordinates in degrees (broadcast together).
    ra0, dec0 : `float`
        Tangent point in degrees.

    Returns
    -------
    ra, dec : `numpy.ndarray`
        Degrees, RA in ``[0, 360)``.
    """
    x = np.radians(np.asarray(xi, dtype=float))
    y = np.radians(np.asarray(eta, dtype=float))
    d0 = math.radians(dec0)
    sin_d0, cos_d0 = math.sin(d0), math.cos(d0)
    den = cos_d0 - y * sin_d0
    ra = np.degrees(np.arctan2(x, den)) + ra0
    dec = np.degrees(np.arctan2(sin_d0 + y * cos_d0, np.hypot(x, den)))
    return np.mod(ra, 360.0), dec
