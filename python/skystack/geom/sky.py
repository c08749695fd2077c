# SPDX-License-Identifier: GPL-3.0-or-later
"""Points and regions on the celestial sphere, on top of `lsst.sphgeom`.

* `SpherePoint`: one (ra, dec) position with separations, bearings and offsets, convertible to
  and from `lsst.sphgeom.UnitVector3d` / `lsst.sphgeom.LonLat`.
* Vectorised helpers for arrays of positions in degrees: `angular_separation`,
  `radec_to_unit_vectors`, `unit_vectors_to_radec`, `region_contains`.
* Region constructors returning sphgeom regions: `convex_polygon_from_radec`,
  `circle_from_radec`; `encode_region` / `decode_region` store any sphgeom region as text.

Arrays of positions are in degrees throughout (as astropy); single angles are `Angle`.
Bearings follow the Rubin convention: measured at the start point **from east towards north**
(0 is east, 90° is north); `SpherePoint.position_angle_to` gives the astronomical position
angle (from north through east) instead.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from lsst import sphgeom

from .angle import Angle

__all__ = [
    "SpherePoint",
    "angular_separation",
    "circle_from_radec",
    "convex_polygon_from_radec",
    "decode_region",
    "encode_region",
    "radec_to_unit_vectors",
    "region_contains",
    "unit_vectors_to_radec",
]

_HALF_PI = 0.5 * math.pi


@dataclass(frozen=True, slots=True)
class SpherePoint:
    """A position on the celestial sphere.

    Parameters
    ----------
    ra : `Angle`
        Right ascension (longitude); wrapped into ``[0, 360)`` degrees.
    dec : `Angle`
        Declination (latitude), within ``[-90, 90]`` degrees.

    Raises
    ------
    ValueError
        If a coordinate is not finite or the declination is outside ``[-90, 90]`` degrees.
    """

    ra: Angle
    dec: Angle

    def __post_init__(self) -> None:
        if not isinstance(self.ra, Angle) or not isinstance(self.dec, Angle):
            raise TypeError(
                "SpherePoint(ra, dec) takes two Angle values; use SpherePoint.from_degrees(ra, dec) "
                "for plain numbers"
            )
        if not (math.isfinite(self.ra.radians) and math.isfinite(self.dec.radians)):
            raise ValueError(f"SpherePoint coordinates must be finite, got ra={self.ra}, dec={self.dec}")
        if abs(self.dec.radians) > _HALF_PI * (1.0 + 1e-15):
            raise ValueError(f"SpherePoint declination must be within [-90, 90] deg, got {self.dec}")
        object.__setattr__(self, "dec", Angle(max(-_HALF_PI, min(_HALF_PI, self.dec.radians))))
        object.__setattr__(self, "ra", self.ra.wrap())

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_degrees(cls, ra: float, dec: float) -> SpherePoint:
        """Build from right ascension and declination in degrees."""
        return cls(Angle.from_degrees(ra), Angle.from_degrees(dec))

    @classmethod
    def from_radians(cls, ra: float, dec: float) -> SpherePoint:
        """Build from right ascension and declination in radians."""
        return cls(Angle(ra), Angle(dec))

    @classmethod
    def from_unit_vector(cls, vector: sphgeom.UnitVector3d | sphgeom.Vector3d) -> SpherePoint:
        """Build from a sphgeom (unit) vector; a `Vector3d` is normalised first."""
        lon_lat = sphgeom.LonLat(sphgeom.UnitVector3d(vector))
        return cls.from_lon_lat(lon_lat)

    @classmethod
    def from_lon_lat(cls, lon_lat: sphgeom.LonLat) -> SpherePoint:
        """Build from a `lsst.sphgeom.LonLat`."""
        return cls(Angle(lon_lat.getLon().asRadians()), Angle(lon_lat.getLat().asRadians()))

    # -- conversion ------------------------------------------------------------------------------
    @property
    def ra_deg(self) -> float:
        """Right ascension in degrees."""
        return self.ra.degrees

    @property
    def dec_deg(self) -> float:
        """Declination in degrees."""
        return self.dec.degrees

    def to_unit_vector(self) -> sphgeom.UnitVector3d:
        """This point as a `lsst.sphgeom.UnitVector3d`."""
        return sphgeom.UnitVector3d(self.to_lon_lat())

    def to_lon_lat(self) -> sphgeom.LonLat:
        """This point as a `lsst.sphgeom.LonLat`."""
        return sphgeom.LonLat.fromRadians(self.ra.radians, self.dec.radians)

    def to_vector(self) -> np.ndarray:
        """This point as a numpy unit vector ``(x, y, z)``."""
        cd = math.cos(self.dec.radians)
        return np.array(
            [cd * math.cos(self.ra.radians), cd * math.sin(self.ra.radians), math.sin(self.dec.radians)]
        )

    # -- geometry --------------------------------------------------------------------------------
    def separation(self, other: SpherePoint) -> Angle:
        """Great-circle distance to ``other`` (accurate at all separations)."""
        a, b = self.to_vector(), other.to_vector()
        return Angle(math.atan2(float(np.linalg.norm(np.cross(a, b))), float(np.dot(a, b))))

    def position_angle_to(self, other: SpherePoint) -> Angle:
        """Position angle of ``other`` seen from this point: from north through east, ``[0, 2π)``.

        Same convention as `astropy.coordinates.SkyCoord.position_angle`. Undefined (returned as
        an arbitrary but finite value) at the poles and for coincident points.
        """
        d_ra = other.ra.radians - self.ra.radians
        d1, d2 = self.dec.radians, other.dec.radians
        y = math.sin(d_ra) * math.cos(d2)
        x = math.cos(d1) * math.sin(d2) - math.sin(d1) * math.cos(d2) * math.cos(d_ra)
        return Angle(math.atan2(y, x)).wrap()

    def bearing_to(self, other: SpherePoint) -> Angle:
        """Direction of the great circle towards ``other``, from east towards north, ``[0, 2π)``.

        This is the Rubin ``bearingTo`` convention: ``π/2 - position_angle_to(other)``.
        """
        return (Angle(_HALF_PI) - self.position_angle_to(other)).wrap()

    def offset(self, bearing: Angle, distance: Angle) -> SpherePoint:
        """The point reached by moving ``distance`` along the great circle leaving at ``bearing``.

        Parameters
        ----------
        bearing : `Angle`
            Direction of motion, from east towards north (see `bearing_to`).
        distance : `Angle`
            Arc length to travel.

        Returns
        -------
        point : `SpherePoint`
            The destination; ``self.offset(self.bearing_to(p), self.separation(p))`` is ``p``.
        """
        pa = _HALF_PI - bearing.radians
        d = distance.radians
        d1 = self.dec.radians
        sin_d2 = math.sin(d1) * math.cos(d) + math.cos(d1) * math.sin(d) * math.cos(pa)
        d2 = math.asin(max(-1.0, min(1.0, sin_d2)))
        d_ra = math.atan2(math.sin(pa) * math.sin(d) * math.cos(d1), math.cos(d) - math.sin(d1) * sin_d2)
        return SpherePoint(Angle(self.ra.radians + d_ra), Angle(d2))

    def is_close(self, other: SpherePoint, tolerance: Angle) -> bool:
        """Whether ``other`` lies within ``tolerance`` of this point."""
        return self.separation(other).radians <= tolerance.radians

    def to_dict(self) -> dict[str, float]:
        """``{"ra_deg": …, "dec_deg": …}`` (values in degrees)."""
        return {"ra_deg": self.ra.degrees, "dec_deg": self.dec.degrees}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpherePoint:
        """Inverse of `to_dict`."""
        return cls.from_degrees(float(data["ra_deg"]), float(data["dec_deg"]))

    def __repr__(self) -> str:
        return f"SpherePoint.from_degrees({self.ra.degrees!r}, {self.dec.degrees!r})"


# -- vectorised helpers ---------------------------------------------------------------------------
def radec_to_unit_vectors(ra: npt.ArrayLike, dec: npt.ArrayLike) -> np.ndarray:
    """Unit vectors of positions given in degrees.

    Parameters
    ----------
    ra, dec : array_like
        Right ascension and declination in degrees (broadcast together).

    Returns
    -------
    vectors : `numpy.ndarray`
        Array of shape ``broadcast_shape + (3,)``.
    """
    ra_r = np.radians(np.asarray(ra, dtype=float))
    dec_r = np.radians(np.asarray(dec, dtype=float))
    cos_dec = np.cos(dec_r)
    return np.stack(np.broadcast_arrays(cos_dec * np.cos(ra_r), cos_dec * np.sin(ra_r), np.sin(dec_r)), -1)


def unit_vectors_to_radec(vectors: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Right ascension in ``[0, 360)`` and declination, in degrees, of (not necessarily unit) vectors.

    Parameters
    ----------
    vectors : array_like
        Array whose last axis has length 3.

    Raises
    ------
    ValueError
        If the last axis does not have length 3.
    """
    v = np.asarray(vectors, dtype=float)
    if v.shape[-1:] != (3,):
        raise ValueError(f"unit_vectors_to_radec needs an array of shape (..., 3), got {v.shape}")
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    ra = np.where(ra >= 360.0, 0.0, ra)
    dec = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return ra, dec


def angular_separation(
    ra1: npt.ArrayLike, dec1: npt.ArrayLike, ra2: npt.ArrayLike, dec2: npt.ArrayLike
) -> np.ndarray:
    """Great-circle separations in degrees between positions in degrees (Vincenty formula).

    Accurate at all separations (unlike the haversine or cosine formulas); broadcasts like numpy.
    """
    r1, d1 = np.radians(np.asarray(ra1, dtype=float)), np.radians(np.asarray(dec1, dtype=float))
    r2, d2 = np.radians(np.asarray(ra2, dtype=float)), np.radians(np.asarray(dec2, dtype=float))
    d_ra = r2 - r1
    s1, c1 = np.sin(d1), np.cos(d1)
    s2, c2 = np.sin(d2), np.cos(d2)
    sdr, cdr = np.sin(d_ra), np.cos(d_ra)
    num = np.hypot(c2 * sdr, c1 * s2 - s1 * c2 * cdr)
    den = s1 * s2 + c1 * c2 * cdr
    return np.degrees(np.arctan2(num, den))


def region_contains(region: sphgeom.Region, ra: npt.ArrayLike, dec: npt.ArrayLike) -> np.ndarray:
    """Whether a sphgeom region contains positions given in degrees; boolean array."""
    ra_r = np.radians(np.asarray(ra, dtype=float))
    dec_r = np.radians(np.asarray(dec, dtype=float))
    ra_b, dec_b = np.broadcast_arrays(ra_r, dec_r)
    result = region.contains(np.ascontiguousarray(ra_b.ravel()), np.ascontiguousarray(dec_b.ravel()))
    return np.asarray(result, dtype=bool).reshape(ra_b.shape)


# -- regions --------------------------------------------------------------------------------------
def convex_polygon_from_radec(ra: npt.ArrayLike, dec: npt.ArrayLike) -> sphgeom.ConvexPolygon:
    """The convex spherical polygon with the given vertices (in either winding order).

    Parameters
    ----------
    ra, dec : array_like
        Vertex coordinates in degrees, at least three non-collinear points lying within one
        hemisphere. Vertices that are not on the convex hull are dropped.

    Returns
    -------
    polygon : `lsst.sphgeom.ConvexPolygon`
        The polygon whose edges are great-circle arcs between the hull vertices.

    Raises
    ------
    ValueError
        If fewer than three distinct, non-collinear points are given, the arrays differ in
        length, or the values are not finite.
    """
    ra_a = np.atleast_1d(np.asarray(ra, dtype=float))
    dec_a = np.atleast_1d(np.asarray(dec, dtype=float))
    if ra_a.shape != dec_a.shape or ra_a.ndim != 1:
        raise ValueError(
            f"convex_polygon_from_radec needs 1-d ra and dec of equal length, got {ra_a.shape} "
            f"and {dec_a.shape}"
        )
    if not (np.isfinite(ra_a).all() and np.isfinite(dec_a).all()):
        raise ValueError("convex_polygon_from_radec: vertex coordinates must be finite")
    vectors = radec_to_unit_vectors(ra_a, dec_a)
    points = [sphgeom.UnitVector3d(*row) for row in vectors]
    try:
        return sphgeom.ConvexPolygon.convexHull(points)
    except ValueError as err:
        raise ValueError(
            f"convex_polygon_from_radec: the {len(points)} vertices do not form a convex polygon "
            f"(need at least 3 distinct, non-collinear points within a hemisphere): {err}"
        ) from err


def circle_from_radec(ra: float, dec: float, radius: Angle) -> sphgeom.Circle:
    """The sphgeom circle (spherical cap) of angular ``radius`` about ``(ra, dec)`` in degrees.

    Raises
    ------
    ValueError
        If the radius is negative or not finite.
    """
    if not isinstance(radius, Angle):
        raise TypeError(f"circle_from_radec radius must be an Angle, got {radius!r}")
    if not (math.isfinite(radius.radians) and radius.radians >= 0.0):
        raise ValueError(f"circle_from_radec radius must be finite and non-negative, got {radius}")
    center = SpherePoint.from_degrees(ra, dec).to_unit_vector()
    return sphgeom.Circle(center, sphgeom.Angle(radius.radians))


def encode_region(region: sphgeom.Region) -> str:
    """A sphgeom region as ASCII text (base64 of its binary encoding); see `decode_region`."""
    return base64.b64encode(region.encode()).decode("ascii")


def decode_region(text: str) -> sphgeom.Region:
    """Rebuild a region written by `encode_region`.

    Raises
    ------
    ValueError
        If the text is not a valid encoded region.
    """
    try:
        return sphgeom.Region.decode(base64.b64decode(text.encode("ascii"), validate=True))
    except (ValueError, TypeError, RuntimeError) as err:
        raise ValueError(f"decode_region: text is not an encoded sphgeom region: {err}") from err
