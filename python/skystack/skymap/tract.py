# SPDX-License-Identifier: GPL-3.0-or-later
"""Tracts and patches: the pixel grids of a skymap.

A `TractInfo` is one TAN pixel grid (its own `SkyWcs`) covering a region of the sky it is
responsible for (`TractInfo.inner_sky_region`), with a margin. Its bounding box is divided into
patches: `PatchInfo.inner_bbox` boxes tile the tract box exactly; `PatchInfo.outer_bbox` is the
inner box grown by ``patch_border`` pixels and clipped to the tract.

Because the tract WCS is a pure TAN projection, straight pixel lines are great circles, so the
patch and tract sky polygons built from box corners are exact.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from lsst import sphgeom

from ..geom.angle import Angle
from ..geom.box import Box2I, Extent2I, Point2I
from ..geom.healpix import healpix_ranges
from ..geom.sky import SpherePoint, radec_to_unit_vectors
from ..geom.wcs import SkyWcs, make_cd_matrix

__all__ = ["PatchInfo", "TractInfo"]


def _polygon_from_vectors(vectors: np.ndarray) -> sphgeom.ConvexPolygon:
    return sphgeom.ConvexPolygon.convexHull([sphgeom.UnitVector3d(*row) for row in vectors])


@dataclass(frozen=True, eq=False)
class PatchInfo:
    """One patch of a tract.

    Attributes
    ----------
    index : `Point2I`
        Patch position ``(x, y)`` in the tract's patch grid.
    sequential_index : `int`
        ``index.y * num_patches.width + index.x``.
    inner_bbox : `Box2I`
        Pixels this patch is responsible for (tract pixel coordinates); inner boxes tile the
        tract box without gaps or overlaps.
    outer_bbox : `Box2I`
        ``inner_bbox`` grown by the patch border, clipped to the tract box.
    wcs : `SkyWcs`
        The tract's WCS (patches share the tract pixel grid).
    """

    index: Point2I
    sequential_index: int
    inner_bbox: Box2I
    outer_bbox: Box2I
    wcs: SkyWcs = field(repr=False)

    @functools.cached_property
    def inner_sky_polygon(self) -> sphgeom.ConvexPolygon:
        """Sky polygon of the pixel edges of `inner_bbox` (exact for the TAN tract WCS)."""
        return self.wcs.pixel_region(self.inner_bbox.to_box2d())

    @functools.cached_property
    def outer_sky_polygon(self) -> sphgeom.ConvexPolygon:
        """Sky polygon of the pixel edges of `outer_bbox`."""
        return self.wcs.pixel_region(self.outer_bbox.to_box2d())

    def healpix_ranges(self, level: int, outer: bool = True) -> sphgeom.RangeSet:
        """Nested HEALPix pixels at ``level`` touching the patch (outer polygon, or the inner one)."""
        return healpix_ranges(self.outer_sky_polygon if outer else self.inner_sky_polygon, level)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PatchInfo):
            return NotImplemented
        return (self.index, self.inner_bbox, self.outer_bbox) == (
            other.index,
            other.inner_bbox,
            other.outer_bbox,
        ) and self.wcs == other.wcs

    def __hash__(self) -> int:
        return hash((self.index, self.inner_bbox))


class TractInfo:
    """One tract: a TAN pixel grid, its sky regions and its patches.

    Parameters
    ----------
    tract_id : `int`
        Identifier, unique within the skymap.
    center : `SpherePoint`
        Tangent point of the tract WCS, at the centre of the tract box.
    inner_sky_region : `lsst.sphgeom.Region`
        The part of the sphere this tract is responsible for.
    inner_sky_polygon : `lsst.sphgeom.ConvexPolygon`
        A convex polygon containing ``inner_sky_region`` (equal to it when that region is a
        polygon); the tract box is sized to contain it plus the overlap.
    pixel_scale : `Angle`
        Pixel scale at the tangent point.
    patch_inner_dimensions : `Extent2I`
        Size of patch inner boxes in pixels.
    patch_border : `int`
        Pixels by which patch outer boxes extend beyond their inner boxes.
    tract_overlap : `Angle`
        Margin added around ``inner_sky_polygon`` before rounding the tract box up to a whole
        number of patches.
    """

    def __init__(
        self,
        tract_id: int,
        center: SpherePoint,
        inner_sky_region: sphgeom.Region,
        inner_sky_polygon: sphgeom.ConvexPolygon,
        pixel_scale: Angle,
        patch_inner_dimensions: Extent2I,
        patch_border: int,
        tract_overlap: Angle,
    ) -> None:
        self.tract_id = int(tract_id)
        self.center = center
        self.inner_sky_region = inner_sky_region
        self.inner_sky_polygon = inner_sky_polygon
        self.pixel_scale = pixel_scale
        self.patch_inner_dimensions = Extent2I(*patch_inner_dimensions)
        self.patch_border = int(patch_border)
        self.tract_overlap = tract_overlap
        num_x, num_y = tract_patch_counts(
            center, inner_sky_polygon, pixel_scale, self.patch_inner_dimensions, tract_overlap
        )
        self.num_patches = Extent2I(num_x, num_y)
        width = num_x * self.patch_inner_dimensions.width
        height = num_y * self.patch_inner_dimensions.height
        self.bbox = Box2I(0, 0, width, height)

        crpix = self.bbox.center
        self.wcs = SkyWcs.from_tan(center, crpix, make_cd_matrix(pixel_scale))

    @functools.cached_property
    def outer_sky_polygon(self) -> sphgeom.ConvexPolygon:
        """Sky polygon of the pixel edges of the tract box (exact: the WCS is TAN)."""
        return self.wcs.pixel_region(self.bbox.to_box2d())

    def contains(self, point: SpherePoint) -> bool:
        """Whether ``point`` lies in this tract's inner (responsibility) region."""
        return bool(self.inner_sky_region.contains(point.to_unit_vector()))

    # -- patches ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.num_patches.width * self.num_patches.height

    def __iter__(self) -> Iterator[PatchInfo]:
        for seq in range(len(self)):
            yield self.patch_from_sequential_index(seq)

    def patch(self, index_x: int, index_y: int) -> PatchInfo:
        """The patch at grid position ``(index_x, index_y)``.

        Raises
        ------
        IndexError
            If the index is outside the patch grid.
        """
        nx, ny = self.num_patches
        if not (0 <= index_x < nx and 0 <= index_y < ny):
            raise IndexError(
                f"Patch index ({index_x}, {index_y}) is outside tract {self.tract_id}'s {nx}x{ny} patch grid"
            )
        pw, ph = self.patch_inner_dimensions
        inner = Box2I(index_x * pw, index_y * ph, pw, ph)
        outer = inner.grown(self.patch_border).intersection(self.bbox)
        return PatchInfo(Point2I(index_x, index_y), index_y * nx + index_x, inner, outer, self.wcs)

    def patch_from_sequential_index(self, sequential_index: int) -> PatchInfo:
        """The patch with ``sequential_index`` (``y * num_patches.width + x``)."""
        nx = self.num_patches.width
        if not 0 <= sequential_index < len(self):
            raise IndexError(
                f"Sequential patch index {sequential_index} is outside [0, {len(self)}) for tract "
                f"{self.tract_id}"
            )
        return self.patch(sequential_index % nx, sequential_index // nx)

    def find_patch(self, point: SpherePoint) -> PatchInfo:
        """The patch whose inner box contains ``point``.

        Raises
        ------
        LookupError
            If the point is outside the tract box.
        """
        x, y = self.wcs.sky_to_pixel(point.ra.degrees, point.dec.degrees)
        pw, ph = self.patch_inner_dimensions
        if not (math.isfinite(x) and math.isfinite(y)) or not self.bbox.contains(x, y):
            raise LookupError(f"{point} is outside tract {self.tract_id} (pixel ({x:.1f}, {y:.1f}))")
        ix = int(min(max(math.floor((x + 0.5) / pw), 0), self.num_patches.width - 1))
        iy = int(min(max(math.floor((y + 0.5) / ph), 0), self.num_patches.height - 1))
        return self.patch(ix, iy)

    def find_patch_list(self, region: sphgeom.Region) -> list[PatchInfo]:
        """Patches whose outer sky polygon is not disjoint from ``region``, in sequential order."""
        if self.outer_sky_polygon.relate(region) & sphgeom.DISJOINT:
            return []
        nx, ny = self.num_patches
        pw, ph = self.patch_inner_dimensions
        # Corners of every patch's outer box in one vectorised transform.
        grid_x, grid_y = np.meshgrid(np.arange(nx), np.arange(ny))
        ix, iy = grid_x.ravel(), grid_y.ravel()
        b = self.patch_border
        x0 = np.maximum(ix * pw - b, 0) - 0.5
        x1 = np.minimum((ix + 1) * pw + b, self.bbox.width) - 0.5
        y0 = np.maximum(iy * ph - b, 0) - 0.5
        y1 = np.minimum((iy + 1) * ph + b, self.bbox.height) - 0.5
        xs = np.stack([x0, x1, x1, x0], axis=1)
        ys = np.stack([y0, y0, y1, y1], axis=1)
        ra, dec = self.wcs.pixel_to_sky(xs, ys)
        vectors = radec_to_unit_vectors(ra, dec)
        result = []
        for k in range(len(ix)):
            polygon = _polygon_from_vectors(vectors[k])
            if not polygon.relate(region) & sphgeom.DISJOINT:
                result.append(self.patch(int(ix[k]), int(iy[k])))
        return result

    def __repr__(self) -> str:
        return (
            f"TractInfo(tract_id={self.tract_id}, center={self.center!r}, bbox={self.bbox!r}, "
            f"num_patches={tuple(self.num_patches)})"
        )


def tract_patch_counts(
    center: SpherePoint,
    inner_sky_polygon: sphgeom.ConvexPolygon,
    pixel_scale: Angle,
    patch_inner_dimensions: Extent2I,
    tract_overlap: Angle,
) -> tuple[int, int]:
    """Number of patches ``(nx, ny)`` a tract needs to contain its inner polygon plus overlap.

    The polygon's vertices are projected (gnomonic, about ``center``, north up); gnomonic
    projection maps great circles to straight lines, so the projected polygon lies inside
    the box of its projected vertices. The half-size is grown by the overlap and doubled.
    """
    c = center.to_vector()
    east = np.array([-math.sin(center.ra.radians), math.cos(center.ra.radians), 0.0])
    north = np.cross(c, east)
    vertices = np.array([[v.x(), v.y(), v.z()] for v in inner_sky_polygon.getVertices()])
    dots = vertices @ c
    if (dots <= 0.0).any():
        raise ValueError(f"Tract inner polygon about {center} extends 90 degrees or more from its centre")
    xi = np.abs(vertices @ east / dots)
    eta = np.abs(vertices @ north / dots)
    scale = pixel_scale.radians
    overlap = math.tan(tract_overlap.radians) / scale if tract_overlap.radians > 0 else 0.0
    half_x = float(xi.max()) / scale + overlap
    half_y = float(eta.max()) / scale + overlap
    nx = max(1, math.ceil(2.0 * half_x / patch_inner_dimensions.width))
    ny = max(1, math.ceil(2.0 * half_y / patch_inner_dimensions.height))
    return nx, ny
