# SPDX-License-Identifier: GPL-3.0-or-later
"""The skymap base class: a sequence of tracts with lookup by sky position and region.

Subclasses (`RingsSkyMap`, `DiscreteSkyMap`) define where tracts are and which part of the sky
each is responsible for; tracts are built lazily, on first access, and cached.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt
from lsst import sphgeom

from ..geom.angle import Angle
from ..geom.box import Extent2I
from ..geom.sky import SpherePoint, angular_separation, radec_to_unit_vectors
from .tract import PatchInfo, TractInfo

__all__ = ["SkyMap", "TractGridParams"]

_DEFAULT_PIXEL_SCALE = Angle.from_arcseconds(0.2)
_DEFAULT_TRACT_OVERLAP = Angle.from_arcminutes(1.0)


@dataclass(frozen=True)
class TractGridParams:
    """Pixel-grid parameters shared by every kind of skymap (Rubin-like defaults).

    Attributes
    ----------
    pixel_scale : `Angle`
        Pixel scale at each tract centre (default 0.2″).
    patch_inner_dimensions : `tuple` [`int`, `int`]
        Width and height of patch inner boxes in pixels (default 4000 × 4000).
    patch_border : `int`
        Patch outer boxes extend this many pixels beyond their inner boxes (default 100).
    tract_overlap : `Angle`
        Minimum margin on the sky added around each tract's inner region (default 1′).
    """

    pixel_scale: Angle = _DEFAULT_PIXEL_SCALE
    patch_inner_dimensions: tuple[int, int] = (4000, 4000)
    patch_border: int = 100
    tract_overlap: Angle = _DEFAULT_TRACT_OVERLAP

    def __post_init__(self) -> None:
        name = type(self).__name__
        if not isinstance(self.pixel_scale, Angle) or not self.pixel_scale.radians > 0.0:
            raise ValueError(f"{name}.pixel_scale must be a positive Angle, got {self.pixel_scale!r}")
        dims = tuple(self.patch_inner_dimensions)
        if len(dims) != 2 or not all(isinstance(d, int | np.integer) and d > 0 for d in dims):
            raise ValueError(
                f"{name}.patch_inner_dimensions must be two positive integers, "
                f"got {self.patch_inner_dimensions!r}"
            )
        object.__setattr__(self, "patch_inner_dimensions", (int(dims[0]), int(dims[1])))
        if not isinstance(self.patch_border, int | np.integer) or self.patch_border < 0:
            raise ValueError(f"{name}.patch_border must be a non-negative integer, got {self.patch_border!r}")
        if not isinstance(self.tract_overlap, Angle) or not self.tract_overlap.radians >= 0.0:
            raise ValueError(f"{name}.tract_overlap must be a non-negative Angle, got {self.tract_overlap!r}")

    def grid_to_dict(self) -> dict[str, Any]:
        """The grid parameters as JSON-compatible values (angles in radians)."""
        return {
            "pixel_scale_rad": self.pixel_scale.radians,
            "patch_inner_dimensions": list(self.patch_inner_dimensions),
            "patch_border": self.patch_border,
            "tract_overlap_rad": self.tract_overlap.radians,
        }

    @staticmethod
    def grid_kwargs_from_dict(data: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for the grid fields, from `grid_to_dict` output."""
        dims = data["patch_inner_dimensions"]
        return {
            "pixel_scale": Angle(float(data["pixel_scale_rad"])),
            "patch_inner_dimensions": (int(dims[0]), int(dims[1])),
            "patch_border": int(data["patch_border"]),
            "tract_overlap": Angle(float(data["tract_overlap_rad"])),
        }


class SkyMap(Sequence[TractInfo]):
    """A tessellation of (part of) the sky into tracts, each divided into patches.

    Indexing by tract id gives a `TractInfo`; tracts are built on first access and cached.
    Subclasses implement `_tract_geometry`, `tract_centers` and may override `find_tract_ids`.
    Skymaps are persistable (``to_dict``/``from_dict``) and have a stable `digest`.
    """

    def __init__(self, params: TractGridParams) -> None:
        self.params = params
        self._tract_cache = functools.lru_cache(maxsize=4096)(self._build_tract)

    # -- subclass interface ----------------------------------------------------------------------
    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def tract_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """RA and Dec (degrees) of every tract centre, indexed by tract id."""

    @abstractmethod
    def _tract_geometry(self, tract_id: int) -> tuple[SpherePoint, sphgeom.Region, sphgeom.ConvexPolygon]:
        """Centre, inner region and enclosing inner polygon of a tract."""

    @abstractmethod
    def tract_outer_radii(self) -> np.ndarray:
        """Upper bound (degrees) on each tract's extent from its centre (tract box corners)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]: ...

    # -- tracts ----------------------------------------------------------------------------------
    def _build_tract(self, tract_id: int) -> TractInfo:
        center, region, polygon = self._tract_geometry(tract_id)
        p = self.params
        return TractInfo(
            tract_id,
            center,
            region,
            polygon,
            p.pixel_scale,
            Extent2I(*p.patch_inner_dimensions),
            p.patch_border,
            p.tract_overlap,
        )

    @overload
    def __getitem__(self, index: int) -> TractInfo: ...

    @overload
    def __getitem__(self, index: slice) -> list[TractInfo]: ...

    def __getitem__(self, index: int | slice) -> TractInfo | list[TractInfo]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"Tract ids are integers, got {index!r}")
        tract_id = int(index)
        if tract_id < 0:
            tract_id += len(self)
        if not 0 <= tract_id < len(self):
            raise IndexError(f"Tract id {index} is outside [0, {len(self)}) for {type(self).__name__}")
        return self._tract_cache(tract_id)

    def __iter__(self) -> Iterator[TractInfo]:
        for tract_id in range(len(self)):
            yield self[tract_id]

    # -- lookup ----------------------------------------------------------------------------------
    def find_tract_ids(self, ra: npt.ArrayLike, dec: npt.ArrayLike) -> np.ndarray:
        """Tract id responsible for each position (degrees); -1 where none is. Vectorised.

        The default picks, among tracts whose inner region contains the point, the one whose
        centre is nearest (Rubin's rule).
        """
        ra_a, dec_a = np.broadcast_arrays(np.asarray(ra, dtype=float), np.asarray(dec, dtype=float))
        points = radec_to_unit_vectors(ra_a.ravel(), dec_a.ravel())
        cra, cdec = self.tract_centers()
        centers = radec_to_unit_vectors(cra, cdec)
        order = np.argsort(-(points @ centers.T), axis=1)  # nearest centre first
        result = np.full(points.shape[0], -1, dtype=np.int64)
        lon = np.radians(ra_a.ravel())
        lat = np.radians(dec_a.ravel())
        for rank in range(order.shape[1]):
            todo = np.flatnonzero(result < 0)
            if todo.size == 0:
                break
            candidates = order[todo, rank]
            for tract_id in np.unique(candidates):
                sel = todo[candidates == tract_id]
                region = self[int(tract_id)].inner_sky_region
                inside = np.asarray(region.contains(lon[sel], lat[sel]), dtype=bool)
                result[sel[inside]] = tract_id
        return result.reshape(ra_a.shape)

    def find_tract(self, point: SpherePoint) -> TractInfo:
        """The tract responsible for ``point``.

        Raises
        ------
        LookupError
            If no tract covers the point (possible only for partial skymaps).
        """
        tract_id = int(self.find_tract_ids(point.ra.degrees, point.dec.degrees))
        if tract_id < 0:
            raise LookupError(f"No tract of this {type(self).__name__} contains {point}")
        return self[tract_id]

    def find_tracts_overlapping(self, region: sphgeom.Region) -> list[TractInfo]:
        """Tracts whose outer sky polygon is not disjoint from ``region``, by tract id."""
        circle = region.getBoundingCircle()
        center = SpherePoint.from_unit_vector(circle.getCenter())
        radius = math.degrees(circle.getOpeningAngle().asRadians())
        cra, cdec = self.tract_centers()
        dist = angular_separation(center.ra.degrees, center.dec.degrees, cra, cdec)
        candidates = np.flatnonzero(dist <= radius + self.tract_outer_radii() + 1e-9)
        return [
            self[int(t)]
            for t in candidates
            if not self[int(t)].outer_sky_polygon.relate(region) & sphgeom.DISJOINT
        ]

    def find_tract_patch_list(self, region: sphgeom.Region) -> list[tuple[TractInfo, list[PatchInfo]]]:
        """Tracts and, for each, the patches whose outer polygons overlap ``region``."""
        result = []
        for tract in self.find_tracts_overlapping(region):
            patches = tract.find_patch_list(region)
            if patches:
                result.append((tract, patches))
        return result

    def find_tract_patch_list_from_points(
        self, points: Sequence[SpherePoint]
    ) -> list[tuple[TractInfo, list[PatchInfo]]]:
        """Tracts whose box contains any of ``points`` and, for each, the patches whose outer
        boxes contain any of them."""
        if len(points) == 0:
            return []
        ra = np.array([p.ra.degrees for p in points])
        dec = np.array([p.dec.degrees for p in points])
        cra, cdec = self.tract_centers()
        cos_limit = np.cos(np.radians(np.minimum(self.tract_outer_radii() + 1e-9, 180.0)))
        near = radec_to_unit_vectors(ra, dec) @ radec_to_unit_vectors(cra, cdec).T >= cos_limit
        result = []
        for tract_id in np.flatnonzero(near.any(axis=0)):
            tract = self[int(tract_id)]
            sel = near[:, tract_id]
            x, y = tract.wcs.sky_to_pixel(ra[sel], dec[sel])
            inside = np.isfinite(x) & np.isfinite(y)
            inside[inside] = tract.bbox.contains(x[inside], y[inside])
            if not inside.any():
                continue
            xs, ys = x[inside], y[inside]
            patches = [patch for patch in tract if patch.outer_bbox.contains(xs, ys).any()]
            result.append((tract, patches))
        return result

    # -- identity --------------------------------------------------------------------------------
    def digest(self) -> str:
        """A stable SHA-256 hex digest of the skymap's kind and parameters."""
        payload = json.dumps({"kind": type(self).__name__, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SkyMap):
            return NotImplemented
        return type(self) is type(other) and self.params == other.params

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.params))
