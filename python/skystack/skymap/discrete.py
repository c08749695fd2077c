# SPDX-License-Identifier: GPL-3.0-or-later
"""`DiscreteSkyMap`: one tract per target field, each a circle about a given centre."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from lsst import sphgeom

from ..geom.angle import Angle
from ..geom.box import Extent2I
from ..geom.sky import SpherePoint, radec_to_unit_vectors
from ..utils.persist import register_persistable
from .base import SkyMap, TractGridParams
from .tract import tract_patch_counts

__all__ = ["DiscreteSkyMap", "DiscreteSkyMapParams"]

_POLYGON_VERTICES = 16
_PAD = 1e-9


@dataclass(frozen=True)
class DiscreteSkyMapParams(TractGridParams):
    """Parameters of a `DiscreteSkyMap` (plus the grid fields of `TractGridParams`).

    Attributes
    ----------
    ra, dec : `tuple` [`float`, ...]
        Field centres in degrees; tract ``i`` is centred on ``(ra[i], dec[i])``.
    radius : `tuple` [`float`, ...]
        Radius of each field in degrees (its inner region is the circle of that radius).
    """

    ra: tuple[float, ...] = ()
    dec: tuple[float, ...] = ()
    radius: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        ra, dec, radius = (tuple(float(v) for v in seq) for seq in (self.ra, self.dec, self.radius))
        if not (len(ra) == len(dec) == len(radius)) or not ra:
            raise ValueError(
                "DiscreteSkyMapParams needs ra, dec and radius of equal, non-zero length; got "
                f"{len(ra)}, {len(dec)} and {len(radius)} values"
            )
        if not all(math.isfinite(v) for v in (*ra, *dec, *radius)):
            raise ValueError("DiscreteSkyMapParams: ra, dec and radius must be finite")
        if any(abs(d) > 90.0 for d in dec):
            raise ValueError("DiscreteSkyMapParams: every dec must be within [-90, 90] degrees")
        if any(not 0.0 < r < 45.0 for r in radius):
            raise ValueError("DiscreteSkyMapParams: every radius must be within (0, 45) degrees")
        object.__setattr__(self, "ra", ra)
        object.__setattr__(self, "dec", dec)
        object.__setattr__(self, "radius", radius)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible values (grid angles in radians, fields in degrees)."""
        return {
            **self.grid_to_dict(),
            "ra": list(self.ra),
            "dec": list(self.dec),
            "radius": list(self.radius),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiscreteSkyMapParams:
        """Inverse of `to_dict`."""
        return cls(
            **cls.grid_kwargs_from_dict(data),
            ra=tuple(data["ra"]),
            dec=tuple(data["dec"]),
            radius=tuple(data["radius"]),
        )


@register_persistable("DiscreteSkyMap")
class DiscreteSkyMap(SkyMap):
    """A skymap of separate fields: tract ``i`` covers the circle ``radius[i]`` about its centre.

    Where fields overlap, a position belongs to the tract whose centre is nearest; positions
    outside every field belong to no tract (`find_tract` raises `LookupError`).
    """

    params: DiscreteSkyMapParams

    def __init__(self, params: DiscreteSkyMapParams) -> None:
        if not isinstance(params, DiscreteSkyMapParams):
            raise TypeError(f"DiscreteSkyMap needs DiscreteSkyMapParams, got {type(params).__qualname__}")
        super().__init__(params)

    def __len__(self) -> int:
        return len(self.params.ra)

    def tract_centers(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.params.ra) % 360.0, np.array(self.params.dec)

    def _tract_geometry(self, tract_id: int) -> tuple[SpherePoint, sphgeom.Region, sphgeom.ConvexPolygon]:
        p = self.params
        center = SpherePoint.from_degrees(p.ra[tract_id], p.dec[tract_id])
        radius = math.radians(p.radius[tract_id])
        region = sphgeom.Circle(center.to_unit_vector(), sphgeom.Angle(radius))
        # Regular polygon circumscribing the circle: vertices at the bearing grid.
        r_poly = math.atan(math.tan(radius) / math.cos(math.pi / _POLYGON_VERTICES)) + _PAD
        bearings = 2.0 * math.pi * np.arange(_POLYGON_VERTICES) / _POLYGON_VERTICES
        vertices = [center.offset(Angle(b), Angle(r_poly)) for b in bearings]
        vectors = radec_to_unit_vectors([v.ra.degrees for v in vertices], [v.dec.degrees for v in vertices])
        polygon = sphgeom.ConvexPolygon.convexHull([sphgeom.UnitVector3d(*row) for row in vectors])
        return center, region, polygon

    @functools.cached_property
    def _outer_radii(self) -> np.ndarray:
        p = self.params
        dims = Extent2I(*p.patch_inner_dimensions)
        radii = np.empty(len(self))
        for tract_id in range(len(self)):
            center, _, polygon = self._tract_geometry(tract_id)
            nx, ny = tract_patch_counts(center, polygon, p.pixel_scale, dims, p.tract_overlap)
            half_diag = 0.5 * math.hypot(nx * dims.width + 1, ny * dims.height + 1) * p.pixel_scale.radians
            radii[tract_id] = math.degrees(math.atan(half_diag))
        return radii

    def tract_outer_radii(self) -> np.ndarray:
        return self._outer_radii.copy()

    def to_dict(self) -> dict[str, Any]:
        """``{"params": {...}}``."""
        return {"params": self.params.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiscreteSkyMap:
        """Inverse of `to_dict`."""
        return cls(DiscreteSkyMapParams.from_dict(data["params"]))

    def __repr__(self) -> str:
        return f"DiscreteSkyMap({len(self)} tracts)"
