# SPDX-License-Identifier: GPL-3.0-or-later
"""Geometry primitives: pixel points and boxes, angles, sky positions and regions, WCS.

`SkyWcs`, `LocalAffine` and `make_cd_matrix` are imported on first use, so that importing
the package does not import astropy (about 0.5 s).
"""

from typing import TYPE_CHECKING, Any

from ..utils.persist import register_lazy_persistable
from .angle import ARCMINUTES, ARCSECONDS, DEGREES, MILLIARCSECONDS, RADIANS, Angle, AngleUnit
from .box import Box2D, Box2I, Extent2I, Point2D, Point2I
from .healpix import healpix_index, healpix_pixelization, healpix_ranges, ranges_to_array
from .sky import (
    SpherePoint,
    angular_separation,
    circle_from_radec,
    convex_polygon_from_radec,
    decode_region,
    encode_region,
    radec_to_unit_vectors,
    region_contains,
    unit_vectors_to_radec,
)

if TYPE_CHECKING:
    from .wcs import LocalAffine, SkyWcs, make_cd_matrix

_LAZY = {"LocalAffine", "SkyWcs", "make_cd_matrix"}
register_lazy_persistable("SkyWcs", "skystack.geom.wcs:SkyWcs")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import wcs

        return getattr(wcs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ARCMINUTES",
    "ARCSECONDS",
    "DEGREES",
    "MILLIARCSECONDS",
    "RADIANS",
    "Angle",
    "AngleUnit",
    "Box2D",
    "Box2I",
    "Extent2I",
    "LocalAffine",
    "Point2D",
    "Point2I",
    "SkyWcs",
    "SpherePoint",
    "angular_separation",
    "circle_from_radec",
    "convex_polygon_from_radec",
    "decode_region",
    "encode_region",
    "healpix_index",
    "healpix_pixelization",
    "healpix_ranges",
    "make_cd_matrix",
    "radec_to_unit_vectors",
    "ranges_to_array",
    "region_contains",
    "unit_vectors_to_radec",
]
