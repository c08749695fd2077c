# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference-catalogue loading: proper motions, trimming, duplicates, errors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from skystack.algorithms.reference_catalog import (
    ReferenceCatalogError,
    load_reference_catalog,
    mjd_to_julian_year,
)
from skystack.geom import Box2I, Point2D, SkyWcs, SpherePoint


def _shard(ids: list[int], ra: list[float], dec: list[float], **extra: list[float]) -> pa.Table:
    cols = {"id": np.array(ids, dtype=np.int64), "ra": np.array(ra), "dec": np.array(dec)}
    cols.update({k: np.array(v, dtype=float) for k, v in extra.items()})
    return pa.table(cols)


def test_julian_year() -> None:
    assert mjd_to_julian_year(51544.5) == 2000.0
    assert mjd_to_julian_year(51544.5 + 365.25 * 16) == pytest.approx(2016.0)


def test_proper_motion_moves_positions() -> None:
    # 100 mas/yr east (pm_ra includes cos dec) and 50 mas/yr north over 8 years at dec 60.
    shard = _shard(
        [1],
        [150.0],
        [60.0],
        pm_ra=[100.0],
        pm_dec=[50.0],
        epoch=[2016.0],
        ra_err=[5.0],
        dec_err=[5.0],
        pm_ra_err=[1.0],
        pm_dec_err=[1.0],
        r_flux=[1000.0],
        r_flux_err=[10.0],
    )
    cat = load_reference_catalog([shard], epoch=2024.0, band="r")
    assert cat.dec[0] == pytest.approx(60.0 + 400.0 / 3.6e6, abs=1e-12)
    assert cat.ra[0] == pytest.approx(150.0 + 800.0 / 3.6e6 / np.cos(np.radians(60.0)), abs=1e-12)
    assert cat.ra_err[0] == pytest.approx(np.hypot(5.0, 8.0))
    assert cat.flux[0] == 1000.0 and cat.flux_err[0] == 10.0
    assert cat.epoch == 2024.0
    same = load_reference_catalog([shard])
    assert same.ra[0] == 150.0 and same.epoch == 2016.0 and np.isnan(same.flux[0])


def test_epoch_from_metadata_and_missing_pm() -> None:
    shard = _shard([1, 2], [10.0, 10.1], [0.0, 0.1]).replace_schema_metadata({"epoch": "2015.5"})
    cat = load_reference_catalog([shard], epoch=2020.0)
    np.testing.assert_array_equal(cat.ra, [10.0, 10.1])  # no proper motions: unchanged
    assert load_reference_catalog([shard]).epoch == 2015.5


def test_trim_to_detector_and_duplicates() -> None:
    wcs = SkyWcs.from_tan(
        SpherePoint.from_degrees(10.0, 0.0), Point2D(499.5, 499.5), np.diag([-0.2, 0.2]) / 3600.0
    )
    bbox = Box2I.from_shape((1000, 1000))
    rng = np.random.default_rng(3)
    ra = 10.0 + rng.uniform(-0.1, 0.1, 500)
    dec = rng.uniform(-0.1, 0.1, 500)
    ids = np.arange(500)
    a = _shard(list(ids[:300]), list(ra[:300]), list(dec[:300]))
    b = _shard(list(ids[250:]), list(ra[250:]), list(dec[250:]))  # 50 rows in both shards
    cat = load_reference_catalog([a, b], wcs=wcs, bbox=bbox, margin=20.0)
    x, y = wcs.sky_to_pixel(ra, dec)
    inside = (x > -20.5) & (x < 1019.5) & (y > -20.5) & (y < 1019.5)
    assert sorted(cat.id.tolist()) == sorted(ids[inside].tolist())
    np.testing.assert_allclose(np.sort(cat.x), np.sort(x[inside]))


def test_errors() -> None:
    with pytest.raises(ReferenceCatalogError, match="No reference-catalogue shard"):
        load_reference_catalog([])
    with pytest.raises(ReferenceCatalogError, match="no column 'dec'.*column-map"):
        load_reference_catalog([pa.table({"id": [1], "ra": [1.0]})])
    with pytest.raises(ReferenceCatalogError, match="flux in band 'g'"):
        load_reference_catalog([_shard([1], [1.0], [1.0])], band="g")
