# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the rings and discrete skymaps: coverage, tiling, overlaps, lookups, persistence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lsst import sphgeom

from skystack.geom import Angle, SpherePoint, angular_separation, circle_from_radec, region_contains
from skystack.skymap import DiscreteSkyMap, DiscreteSkyMapParams, RingsSkyMap, RingsSkyMapParams
from skystack.utils.persist import dump_persistable, dumps_json, load_persistable, loads_json

COARSE = RingsSkyMapParams(
    num_rings=12,
    pixel_scale=Angle.from_arcseconds(20.0),
    patch_inner_dimensions=(200, 150),
    patch_border=12,
    tract_overlap=Angle.from_arcminutes(30.0),
)


@pytest.fixture(scope="module")
def coarse() -> RingsSkyMap:
    return RingsSkyMap(COARSE)


def _sphere_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    # add the poles, the equator and ra = 0 exactly
    ra = np.concatenate([ra, [0.0, 123.0, 0.0, 359.999999, 180.0]])
    dec = np.concatenate([dec, [90.0, -90.0, 0.0, 45.0, -89.9999]])
    return ra, dec


def test_ring_structure(coarse: RingsSkyMap) -> None:
    counts = coarse.ring_counts
    assert len(coarse) == counts.sum() + 2
    np.testing.assert_array_equal(counts, counts[::-1])  # symmetric about the equator
    ring_size = math.pi / 13
    starts = ring_size * (np.arange(12) + 0.5) - math.pi / 2
    nearest = np.minimum(np.abs(starts), np.abs(starts + ring_size))
    np.testing.assert_array_equal(counts, (2 * math.pi * np.cos(nearest) / ring_size).astype(int) + 1)
    assert coarse[0].center.dec.degrees == -90.0 and coarse[-1].center.dec.degrees == 90.0


def test_every_point_is_in_exactly_one_inner_region(coarse: RingsSkyMap) -> None:
    ra, dec = _sphere_points(20000, 1)
    ids = coarse.find_tract_ids(ra, dec)
    assert ids.min() >= 0 and ids.max() < len(coarse)
    lon, lat = np.radians(ra), np.radians(dec)
    hits = np.zeros(ra.size, dtype=int)
    for tract in coarse:
        inside = np.asarray(tract.inner_sky_region.contains(lon, lat), dtype=bool)
        hits += inside
        mine = ids == tract.tract_id
        assert inside[mine].all(), tract
        # the enclosing polygon really encloses, and the tract box holds every such point
        assert np.asarray(tract.inner_sky_polygon.contains(lon[mine], lat[mine])).all(), tract
        x, y = tract.wcs.sky_to_pixel(ra[mine], dec[mine])
        assert tract.bbox.contains(x, y).all(), tract
        # patch of each point: its inner box and inner polygon contain it
        pw, ph = tract.patch_inner_dimensions
        ix = np.floor((x + 0.5) / pw).astype(int)
        iy = np.floor((y + 0.5) / ph).astype(int)
        for seq in np.unique(iy * tract.num_patches.width + ix):
            patch = tract.patch_from_sequential_index(int(seq))
            sel = (iy * tract.num_patches.width + ix) == seq
            assert patch.inner_bbox.contains(x[sel], y[sel]).all()
            # exactly on a patch edge (e.g. a pole at a cap tract's centre) either answer is right
            edges = patch.inner_bbox.to_box2d()
            clear = edges.grown(-1e-6).contains(x[sel], y[sel])
            assert region_contains(patch.inner_sky_polygon, ra[mine][sel][clear], dec[mine][sel][clear]).all()
    interior = hits >= 1
    assert interior.all()
    assert (hits == 1).mean() > 0.999  # more than one only on shared edges


def test_find_tract_and_patch_default_rings() -> None:
    skymap = RingsSkyMap()
    assert len(skymap) == 18938  # as Rubin's 120-ring skymaps
    ra, dec = _sphere_points(60, 2)
    for r, d in zip(ra, dec, strict=True):
        point = SpherePoint.from_degrees(r, d)
        tract = skymap.find_tract(point)
        assert tract.contains(point)
        patch = tract.find_patch(point)
        assert patch.inner_sky_polygon.contains(point.to_unit_vector())
        assert tract.wcs.pixel_scale().arcseconds == pytest.approx(0.2, rel=1e-12)
        assert tract.bbox.width % 4000 == 0 and tract.bbox.height % 4000 == 0


def test_patches_tile_the_tract(coarse: RingsSkyMap) -> None:
    for tract in (coarse[0], coarse[7], coarse[len(coarse) // 2]):
        covered = np.zeros(tract.bbox.shape, dtype=int)
        for patch in tract:
            covered[patch.inner_bbox.slices()] += 1
            assert patch.outer_bbox == patch.inner_bbox.grown(COARSE.patch_border).intersection(tract.bbox)
            assert patch.sequential_index == patch.index.y * tract.num_patches.width + patch.index.x
        assert (covered == 1).all()
        assert len(tract) == tract.num_patches.width * tract.num_patches.height
    with pytest.raises(IndexError, match="outside tract"):
        coarse[3].patch(99, 0)
    with pytest.raises(IndexError, match="Sequential patch index"):
        coarse[3].patch_from_sequential_index(-1)


def test_neighbouring_tracts_overlap(coarse: RingsSkyMap) -> None:
    margin = 0.9 * COARSE.tract_overlap.degrees
    counts = coarse.ring_counts
    first = 1 + np.concatenate([[0], np.cumsum(counts)[:-1]])
    for ring in (0, 3, 6, 11):
        t = coarse[int(first[ring])]
        neighbour = coarse[int(first[ring]) + 1]
        assert not (t.outer_sky_polygon.relate(neighbour.outer_sky_polygon) & sphgeom.DISJOINT)
        # points across the shared RA edge, up to ~the overlap margin, are inside both boxes
        n = int(counts[ring])
        edge_ra = t.center.ra.degrees + 180.0 / n
        box = t.inner_sky_region.getBoundingBox()
        decs = np.linspace(box.getLat().getA().asDegrees(), box.getLat().getB().asDegrees(), 7)
        for tract, sign in ((t, 1.0), (neighbour, -1.0)):
            ras = edge_ra + sign * margin / np.cos(np.radians(decs))
            x, y = tract.wcs.sky_to_pixel(ras, decs)
            assert tract.bbox.contains(x, y).all()
    # across a ring boundary (and into the polar caps)
    for tract_id in (0, int(first[5]), len(coarse) - 1):
        tract = coarse[tract_id]
        box = tract.inner_sky_region.getBoundingBox()
        lo, hi = box.getLat().getA().asDegrees(), box.getLat().getB().asDegrees()
        ras = tract.center.ra.degrees + np.linspace(-1.0, 1.0, 5)
        for edge, sign in ((lo, -1.0), (hi, 1.0)):
            if abs(edge) >= 90.0:
                continue
            x, y = tract.wcs.sky_to_pixel(ras, np.full(5, edge + sign * margin))
            assert tract.bbox.contains(x, y).all(), tract


def test_find_tract_patch_list(coarse: RingsSkyMap) -> None:
    circle = circle_from_radec(47.0, 31.0, Angle.from_degrees(3.0))
    result = coarse.find_tract_patch_list(circle)
    assert result
    found = {(t.tract_id, p.sequential_index) for t, patches in result for p in patches}
    rng = np.random.default_rng(8)
    r = 3.0 * np.sqrt(rng.uniform(0, 1, 500))
    th = rng.uniform(0, 2 * np.pi, 500)
    dec = 31.0 + r * np.sin(th)
    ra = 47.0 + r * np.cos(th) / np.cos(np.radians(dec))
    ids = coarse.find_tract_ids(ra, dec)
    for i in range(ra.size):
        point = SpherePoint.from_degrees(ra[i], dec[i])
        if not circle.contains(point.to_unit_vector()):
            continue
        tract = coarse[int(ids[i])]
        assert (tract.tract_id, tract.find_patch(point).sequential_index) in found
    # every returned patch really overlaps
    for _, patches in result:
        for patch in patches:
            assert not (patch.outer_sky_polygon.relate(circle) & sphgeom.DISJOINT)
    points = [SpherePoint.from_degrees(47.0, 31.0), SpherePoint.from_degrees(47.5, 31.2)]
    from_points = coarse.find_tract_patch_list_from_points(points)
    home = coarse.find_tract(points[0])
    assert home.tract_id in {t.tract_id for t, _ in from_points}
    patches = dict((t.tract_id, p) for t, p in from_points)[home.tract_id]
    assert home.find_patch(points[0]) in patches


def test_healpix_coverage_of_patch(coarse: RingsSkyMap) -> None:
    from skystack.geom import healpix_index

    tract = coarse[20]
    patch = tract.patch(1, 1)
    ranges = patch.healpix_ranges(8)
    rng = np.random.default_rng(9)
    x = rng.uniform(patch.outer_bbox.min_x - 0.5, patch.outer_bbox.max_x + 0.5, 500)
    y = rng.uniform(patch.outer_bbox.min_y - 0.5, patch.outer_bbox.max_y + 0.5, 500)
    ra, dec = tract.wcs.pixel_to_sky(x, y)
    assert all(ranges.contains(int(i)) for i in healpix_index(ra, dec, 8))
    assert patch.healpix_ranges(8, outer=False).isWithin(ranges)


def test_persistence_and_digest(coarse: RingsSkyMap) -> None:
    restored = load_persistable(loads_json(dumps_json(dump_persistable(coarse))), RingsSkyMap)
    assert restored == coarse and restored.digest() == coarse.digest()
    assert restored[17].wcs == coarse[17].wcs
    assert RingsSkyMap(COARSE).digest() == coarse.digest()
    other = RingsSkyMap(RingsSkyMapParams(num_rings=13, pixel_scale=Angle.from_arcseconds(20.0)))
    assert other.digest() != coarse.digest()
    assert len(coarse.digest()) == 64


def test_param_errors() -> None:
    with pytest.raises(ValueError, match="num_rings must be an integer >= 3"):
        RingsSkyMapParams(num_rings=1)
    with pytest.raises(ValueError, match="pixel_scale must be a positive Angle"):
        RingsSkyMapParams(pixel_scale=Angle(-1.0))
    with pytest.raises(ValueError, match="patch_inner_dimensions must be two positive integers"):
        RingsSkyMapParams(patch_inner_dimensions=(0, 10))
    with pytest.raises(ValueError, match="patch_border must be a non-negative integer"):
        RingsSkyMapParams(patch_border=-1)
    with pytest.raises(TypeError, match="RingsSkyMapParams"):
        RingsSkyMap(DiscreteSkyMapParams(ra=(1.0,), dec=(1.0,), radius=(1.0,)))  # type: ignore[arg-type]
    with pytest.raises(IndexError, match="outside"):
        RingsSkyMap(COARSE)[10**6]
    with pytest.raises(ValueError, match="equal, non-zero length"):
        DiscreteSkyMapParams(ra=(1.0, 2.0), dec=(1.0,), radius=(1.0,))
    with pytest.raises(ValueError, match="radius must be within"):
        DiscreteSkyMapParams(ra=(1.0,), dec=(1.0,), radius=(50.0,))


def test_discrete_skymap() -> None:
    params = DiscreteSkyMapParams(
        ra=(10.0, 200.0, 359.5),
        dec=(0.0, -30.0, 89.0),
        radius=(0.5, 1.0, 2.0),
        pixel_scale=Angle.from_arcseconds(1.0),
        patch_inner_dimensions=(1000, 1000),
        patch_border=50,
    )
    skymap = DiscreteSkyMap(params)
    assert len(skymap) == 3
    rng = np.random.default_rng(10)
    for tract_id, (ra0, dec0, rad) in enumerate(zip(params.ra, params.dec, params.radius, strict=True)):
        tract = skymap[tract_id]
        # random points within each field are found in it, with a patch containing them
        center = SpherePoint.from_degrees(ra0, dec0)
        for _ in range(20):
            p = center.offset(
                Angle(rng.uniform(0, 2 * np.pi)), Angle.from_degrees(rad * rng.uniform(0, 0.999))
            )
            assert skymap.find_tract(p).tract_id == tract_id
            assert tract.find_patch(p).inner_sky_polygon.contains(p.to_unit_vector())
        # the tract box holds the whole field
        edge = [center.offset(Angle(b), Angle.from_degrees(rad)) for b in np.linspace(0, 2 * np.pi, 16)]
        x, y = tract.wcs.sky_to_pixel([e.ra.degrees for e in edge], [e.dec.degrees for e in edge])
        assert tract.bbox.contains(x, y).all()
    outside = SpherePoint.from_degrees(100.0, 0.0)
    with pytest.raises(LookupError, match="No tract"):
        skymap.find_tract(outside)
    assert skymap.find_tract_ids([100.0], [0.0]).tolist() == [-1]
    with pytest.raises(LookupError, match="outside tract"):
        skymap[0].find_patch(outside)
    result = skymap.find_tract_patch_list(circle_from_radec(200.0, -30.0, Angle.from_arcminutes(1.0)))
    assert [t.tract_id for t, _ in result] == [1]
    restored = load_persistable(loads_json(dumps_json(dump_persistable(skymap))), DiscreteSkyMap)
    assert restored == skymap and restored.digest() == skymap.digest()
    assert (
        angular_separation(restored[2].center.ra.degrees, restored[2].center.dec.degrees, 359.5, 89.0) < 1e-12
    )
