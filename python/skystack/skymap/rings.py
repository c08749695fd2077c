# SPDX-License-Identifier: GPL-3.0-or-later
"""`RingsSkyMap`: the whole sky in declination rings of tracts plus two polar caps (Rubin style).

With ``n = num_rings`` the ring size is ``π / (n + 1)``. Tract 0 is the south polar cap
(declination below ``-90° + ring_size / 2``), tracts ``1 … N-2`` fill rings ``0 … n-1`` (ring
``i`` spans declinations ``[-90° + (i + 1/2) ring_size, -90° + (i + 3/2) ring_size]`` and has
``int(2π cos(|dec| nearest the equator) / ring_size) + 1`` tracts evenly spaced in RA from
``ra_start``), and the last tract is the north polar cap. These boxes and caps are the tracts'
inner (responsibility) regions; they tile the sphere exactly, and `find_tract_ids` finds the
responsible tract arithmetically.

Each tract's inner polygon is a convex polygon containing its RA/Dec box: edges of constant
declination are small circles, so the vertices of the edges whose great-circle chords would
cut into the box are moved towards the equator by exactly the chord's bulge.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from lsst import sphgeom

from ..geom.angle import Angle
from ..geom.box import Extent2I
from ..geom.sky import SpherePoint, radec_to_unit_vectors
from ..utils.persist import register_persistable
from .base import SkyMap, TractGridParams
from .tract import tract_patch_counts

__all__ = ["RingsSkyMap", "RingsSkyMapParams"]

_PAD = 1e-9  # radians (0.2 mas) added outwards to polygon vertices against rounding
_MAX_SEGMENT = math.radians(10.0)  # longest chord used along a constant-declination edge
_CAP_VERTICES = 16
_ZERO = Angle(0.0)


@dataclass(frozen=True)
class RingsSkyMapParams(TractGridParams):
    """Parameters of a `RingsSkyMap` (plus the grid fields of `TractGridParams`).

    Attributes
    ----------
    num_rings : `int`
        Number of declination rings between the polar caps (default 120, about 1.5° each).
    ra_start : `Angle`
        RA of the first tract centre of every ring (default 0).
    """

    num_rings: int = 120
    ra_start: Angle = _ZERO

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.num_rings, bool) or not isinstance(self.num_rings, int) or self.num_rings < 3:
            raise ValueError(f"RingsSkyMapParams.num_rings must be an integer >= 3, got {self.num_rings!r}")
        if not isinstance(self.ra_start, Angle):
            raise ValueError(f"RingsSkyMapParams.ra_start must be an Angle, got {self.ra_start!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible values (angles in radians)."""
        return {**self.grid_to_dict(), "num_rings": self.num_rings, "ra_start_rad": self.ra_start.radians}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RingsSkyMapParams:
        """Inverse of `to_dict`."""
        return cls(
            **cls.grid_kwargs_from_dict(data),
            num_rings=int(data["num_rings"]),
            ra_start=Angle(float(data["ra_start_rad"])),
        )


@register_persistable("RingsSkyMap")
class RingsSkyMap(SkyMap):
    """Whole-sky skymap of declination rings of tracts plus polar caps.

    Parameters
    ----------
    params : `RingsSkyMapParams`, optional
        Geometry; defaults give ~1.5° tracts of 0.2″ pixels in 4000-pixel patches.
    """

    params: RingsSkyMapParams

    def __init__(self, params: RingsSkyMapParams | None = None) -> None:
        params = RingsSkyMapParams() if params is None else params
        if not isinstance(params, RingsSkyMapParams):
            raise TypeError(f"RingsSkyMap needs RingsSkyMapParams, got {type(params).__qualname__}")
        super().__init__(params)
        n = params.num_rings
        self.ring_size = math.pi / (n + 1)
        starts = self.ring_size * (np.arange(n) + 0.5) - 0.5 * math.pi
        stops = starts + self.ring_size
        nearest = np.minimum(np.abs(starts), np.abs(stops))
        self._ring_starts = starts
        self._ring_counts = (2.0 * math.pi * np.cos(nearest) / self.ring_size).astype(np.int64) + 1
        # First tract id of each ring (tract 0 is the south cap).
        self._ring_first = 1 + np.concatenate([[0], np.cumsum(self._ring_counts)[:-1]])
        self._num_tracts = int(2 + self._ring_counts.sum())

    def __len__(self) -> int:
        return self._num_tracts

    @property
    def ring_counts(self) -> np.ndarray:
        """Number of tracts in each ring, south to north (a copy)."""
        return self._ring_counts.copy()

    # -- geometry --------------------------------------------------------------------------------
    def _ring_of(self, tract_id: int) -> tuple[int, int]:
        """``(ring, index within ring)``; ring -1 is the south cap and ``num_rings`` the north."""
        if tract_id == 0:
            return -1, 0
        if tract_id == self._num_tracts - 1:
            return self.params.num_rings, 0
        ring = int(np.searchsorted(self._ring_first, tract_id, side="right") - 1)
        return ring, tract_id - int(self._ring_first[ring])

    @functools.cached_property
    def _centers(self) -> tuple[np.ndarray, np.ndarray]:
        ra0 = self.params.ra_start.degrees
        ras = [np.array([ra0])]
        decs = [np.array([-90.0])]
        for ring in range(self.params.num_rings):
            count = int(self._ring_counts[ring])
            ras.append((ra0 + 360.0 * np.arange(count) / count) % 360.0)
            decs.append(np.full(count, math.degrees(self._ring_starts[ring] + 0.5 * self.ring_size)))
        ras.append(np.array([ra0]))
        decs.append(np.array([90.0]))
        return np.concatenate(ras), np.concatenate(decs)

    def tract_centers(self) -> tuple[np.ndarray, np.ndarray]:
        ra, dec = self._centers
        return ra.copy(), dec.copy()

    def _tract_geometry(self, tract_id: int) -> tuple[SpherePoint, sphgeom.Region, sphgeom.ConvexPolygon]:
        ring, _ = self._ring_of(tract_id)
        ra_c, dec_c = self._centers[0][tract_id], self._centers[1][tract_id]
        center = SpherePoint.from_degrees(float(ra_c), float(dec_c))
        if ring in (-1, self.params.num_rings):
            sign = -1.0 if ring == -1 else 1.0
            radius = 0.5 * self.ring_size
            pole = sphgeom.UnitVector3d(0.0, 0.0, sign)
            region: sphgeom.Region = sphgeom.Circle(pole, sphgeom.Angle(radius))
            # Regular polygon whose edges are tangent to the cap's boundary circle.
            r_poly = math.atan(math.tan(radius) / math.cos(math.pi / _CAP_VERTICES)) + _PAD
            lon = 2.0 * math.pi * np.arange(_CAP_VERTICES) / _CAP_VERTICES
            lat = np.full(_CAP_VERTICES, sign * (0.5 * math.pi - r_poly))
            return center, region, _hull(np.degrees(lon), np.degrees(lat))
        count = int(self._ring_counts[ring])
        half_width = math.pi / count
        ra_r = math.radians(float(ra_c))
        start = float(self._ring_starts[ring])
        stop = start + self.ring_size
        region = sphgeom.Box(
            sphgeom.NormalizedAngleInterval.fromRadians(ra_r - half_width, ra_r + half_width),
            sphgeom.AngleInterval.fromRadians(start, stop),
        )
        return center, region, _ring_polygon(ra_r, half_width, start, stop)

    @functools.cached_property
    def _outer_radii(self) -> np.ndarray:
        # Tracts of a ring differ only by a rotation in RA: size one per ring.
        p = self.params
        dims = Extent2I(*p.patch_inner_dimensions)
        radii = np.empty(self._num_tracts)
        for tract_id in [0, self._num_tracts - 1, *self._ring_first.tolist()]:
            center, _, polygon = self._tract_geometry(int(tract_id))
            nx, ny = tract_patch_counts(center, polygon, p.pixel_scale, dims, p.tract_overlap)
            half_diag = (
                0.5 * math.hypot((nx * dims.width + 1), (ny * dims.height + 1)) * p.pixel_scale.radians
            )
            value = math.degrees(math.atan(half_diag))
            ring, _ = self._ring_of(int(tract_id))
            if ring in (-1, p.num_rings):
                radii[tract_id] = value
            else:
                first = int(self._ring_first[ring])
                radii[first : first + int(self._ring_counts[ring])] = value
        return radii

    def tract_outer_radii(self) -> np.ndarray:
        return self._outer_radii.copy()

    # -- lookup ----------------------------------------------------------------------------------
    def find_tract_ids(self, ra: npt.ArrayLike, dec: npt.ArrayLike) -> np.ndarray:
        """Tract id whose RA/Dec box (or polar cap) contains each position; vectorised."""
        ra_a, dec_a = np.broadcast_arrays(np.asarray(ra, dtype=float), np.asarray(dec, dtype=float))
        if (np.abs(dec_a) > 90.0).any() or not (np.isfinite(ra_a).all() and np.isfinite(dec_a).all()):
            raise ValueError("RingsSkyMap.find_tract_ids: positions must be finite with |dec| <= 90")
        dec_r = np.radians(dec_a)
        n = self.params.num_rings
        ring = np.floor((dec_r - self._ring_starts[0]) / self.ring_size).astype(np.int64)
        ring = np.clip(ring, -1, n)
        result = np.where(ring < 0, 0, self._num_tracts - 1).astype(np.int64)
        in_ring = (ring >= 0) & (ring < n)
        r = ring[in_ring]
        counts = self._ring_counts[r]
        rel = (np.radians(ra_a[in_ring]) - self.params.ra_start.radians) % (2.0 * math.pi)
        index = np.floor(rel * counts / (2.0 * math.pi) + 0.5).astype(np.int64) % counts
        result[in_ring] = self._ring_first[r] + index
        return result

    # -- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"params": {...}}``."""
        return {"params": self.params.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RingsSkyMap:
        """Inverse of `to_dict`."""
        return cls(RingsSkyMapParams.from_dict(data["params"]))

    def __repr__(self) -> str:
        return f"RingsSkyMap({self.params!r})"


def _hull(ra_deg: np.ndarray, dec_deg: np.ndarray) -> sphgeom.ConvexPolygon:
    vectors = radec_to_unit_vectors(ra_deg, dec_deg)
    return sphgeom.ConvexPolygon.convexHull([sphgeom.UnitVector3d(*row) for row in vectors])


def _ring_polygon(ra_c: float, half_width: float, start: float, stop: float) -> sphgeom.ConvexPolygon:
    """Convex polygon containing the box ``|ra - ra_c| <= half_width, start <= dec <= stop``."""
    ra_lo, ra_hi = ra_c - half_width - _PAD, ra_c + half_width + _PAD
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    for edge, other in ((start, stop), (stop, start)):
        box_is_poleward = abs(other) > abs(edge) and edge * other >= 0.0 and edge != 0.0
        if box_is_poleward:
            # Chords between vertices at dec d' reach dec `edge` at their midpoints.
            segments = max(1, math.ceil(2.0 * half_width / _MAX_SEGMENT))
            lon = np.linspace(ra_lo, ra_hi, segments + 1)
            chord = (ra_hi - ra_lo) / segments
            lat_v = math.atan(math.tan(edge) * math.cos(0.5 * chord))
            lat_v -= math.copysign(_PAD, edge)
        else:
            lon = np.array([ra_lo, ra_hi])
            lat_v = edge + (_PAD if edge > other else -_PAD)
        lons.append(lon)
        lats.append(np.full(lon.shape, lat_v))
    return _hull(np.degrees(np.concatenate(lons)), np.degrees(np.concatenate(lats)))
