# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry creation, schema versions, dimension records, data-ID expansion, transactions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import astropy.units as u
import pytest
import sqlalchemy as sa
from astropy.time import Time
from lsst import sphgeom

from skystack.butler import (
    ConflictingDefinitionError,
    DataIdError,
    DimensionUniverse,
    Registry,
    RegistryError,
    RegistryExistsError,
    SchemaVersionError,
    Timespan,
)

if TYPE_CHECKING:
    from conftest import RegistryFactory


def _circle(ra: float, dec: float, radius_deg: float) -> sphgeom.Circle:
    return sphgeom.Circle(
        sphgeom.UnitVector3d(sphgeom.LonLat.fromDegrees(ra, dec)), sphgeom.Angle.fromDegrees(radius_deg)
    )


def test_create_then_open(registry_factory: RegistryFactory) -> None:
    registry = registry_factory.create()
    registry.insert_dimension_records("instrument", [{"name": "Cam"}])
    registry.close()
    again = registry_factory.open()
    assert again.universe.version == DimensionUniverse.default().version
    assert [r.name for r in again.fetch_dimension_records("instrument")] == ["Cam"]
    with pytest.raises(
        RegistryExistsError, match="a registry already exists at .*open it with Registry.open"
    ):
        registry_factory.create()


def test_open_missing_registry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        RegistryError, match="no registry at .*nothing.sqlite3.*create one with Registry.create"
    ):
        Registry.open(tmp_path / "nothing.sqlite3")


def test_newer_schema_version_is_refused(registry_factory: RegistryFactory) -> None:
    registry = registry_factory.create()
    meta = registry._schema.meta
    with registry._db.transaction() as conn:
        conn.execute(meta.update().where(meta.c.name == "schema_version").values(value="99"))
    with pytest.raises(
        SchemaVersionError,
        match=r"schema version 99, but this skystack reads only version 1; "
        r"it was made by a newer skystack; upgrade skystack",
    ):
        registry_factory.open()


def test_stored_universe_is_used_on_open(registry_factory: RegistryFactory) -> None:
    text = DimensionUniverse.default().to_yaml().replace("version: 1", "version: 5", 1)
    registry_factory.create(universe=DimensionUniverse.from_yaml(text))
    assert registry_factory.open().universe.version == 5


def test_dimension_records_round_trip(populated: Registry) -> None:
    records = populated.fetch_dimension_records("exposure", instrument="Cam")
    assert [r.id for r in records] == list(range(10))
    rec = records[3]
    assert rec.physical_filter == "Cam-g" and rec.exposure_time == 30.0 and rec.obs_id is None
    t0 = Time("2024-01-01T00:00:00", scale="tai")
    assert rec.timespan == Timespan(t0 + 3 * u.h, t0 + 3 * u.h + 30 * u.s)
    assert [r.id for r in populated.fetch_dimension_records("exposure", physical_filter="Cam-r")] == [
        0,
        2,
        4,
        6,
        8,
    ]
    with pytest.raises(
        AttributeError, match="exposure records have no field 'exptime'; fields are: instrument"
    ):
        _ = rec.exptime
    with pytest.raises(DataIdError, match="cannot constrain exposure records by 'band'"):
        populated.fetch_dimension_records("exposure", band="r")


def test_insert_conflicts_replace_skip(populated: Registry) -> None:
    with pytest.raises(
        ConflictingDefinitionError, match=r"1 detector record\(s\) already exist.*replace=True"
    ):
        populated.insert_dimension_records("detector", [{"instrument": "Cam", "id": 1}])
    assert (
        populated.insert_dimension_records(
            "detector", [{"instrument": "Cam", "id": 1}, {"instrument": "Cam", "id": 9}], skip_existing=True
        )
        == 1
    )
    assert populated.fetch_dimension_records("detector", detector=1)[0].full_name == "S1"
    populated.insert_dimension_records(
        "detector", [{"instrument": "Cam", "id": 1, "full_name": "new"}], replace=True
    )
    assert populated.fetch_dimension_records("detector", detector=1)[0].full_name == "new"
    with pytest.raises(ConflictingDefinitionError, match="appears twice in the input"):
        populated.insert_dimension_records("detector", [{"instrument": "Cam", "id": 20}] * 2)


def test_insert_record_errors(populated: Registry) -> None:
    with pytest.raises(DataIdError, match=r"no instrument record for \{'instrument': 'Other'\}"):
        populated.insert_dimension_records("detector", [{"instrument": "Other", "id": 0}])
    with pytest.raises(DataIdError, match=r"no physical_filter record for .*'physical_filter': 'Cam-z'"):
        populated.insert_dimension_records(
            "exposure", [{"instrument": "Cam", "id": 50, "physical_filter": "Cam-z"}]
        )
    with pytest.raises(ValueError, match=r"unknown field\(s\) 'exptime'; fields are: instrument, id"):
        populated.insert_dimension_records("exposure", [{"instrument": "Cam", "id": 50, "exptime": 3.0}])
    with pytest.raises(ValueError, match="missing 'physical_filter'"):
        populated.insert_dimension_records("exposure", [{"instrument": "Cam", "id": 50}])
    with pytest.raises(TypeError, match="field 'exposure_time' must be float, got 'long'"):
        populated.insert_dimension_records(
            "exposure", [{"instrument": "Cam", "id": 50, "physical_filter": "Cam-r", "exposure_time": "long"}]
        )
    with pytest.raises(DataIdError, match="dimension 'band' has no records"):
        populated.insert_dimension_records("band", [{"name": "r"}])
    with pytest.raises(ValueError, match="at most one of replace=True and skip_existing=True"):
        populated.insert_dimension_records("detector", [], replace=True, skip_existing=True)


def test_sync_dimension_record(populated: Registry) -> None:
    record = {"instrument": "Cam", "id": 7, "full_name": "S7"}
    assert populated.sync_dimension_record("detector", record) is True
    assert populated.sync_dimension_record("detector", record) is False
    with pytest.raises(ConflictingDefinitionError, match="full_name: stored 'S7' vs new 'X'.*update=True"):
        populated.sync_dimension_record("detector", {**record, "full_name": "X"})
    assert populated.sync_dimension_record("detector", {**record, "full_name": "X"}, update=True) is True
    assert populated.fetch_dimension_records("detector", detector=7)[0].full_name == "X"


def test_expand_data_id(populated: Registry) -> None:
    data_id = populated.expand_data_id(instrument="Cam", exposure=4, detector=2)
    assert data_id.full == {
        "instrument": "Cam",
        "detector": 2,
        "exposure": 4,
        "band": "r",
        "physical_filter": "Cam-r",
    }
    assert data_id.records["detector"].full_name == "S2"
    assert data_id.records["band"] is None
    t0 = Time("2024-01-01T00:00:00", scale="tai")
    assert data_id.timespan == Timespan(t0 + 4 * u.h, t0 + 4 * u.h + 30 * u.s)
    assert data_id.region is None
    with pytest.raises(DataIdError, match=r"no exposure record for \{'instrument': 'Cam', 'exposure': 42\}"):
        populated.expand_data_id(instrument="Cam", exposure=42)
    with pytest.raises(DataIdError, match="data ID gives physical_filter='Cam-g' but the exposure record"):
        populated.expand_data_id(instrument="Cam", exposure=4, physical_filter="Cam-g")


def test_regions_and_healpix_overlaps(populated: Registry) -> None:
    populated.insert_dimension_records(
        "visit",
        [
            {"instrument": "Cam", "id": v, "physical_filter": "Cam-r", "region": _circle(10.0 * v, 20.0, 0.5)}
            for v in (1, 2)
        ],
    )
    populated.insert_dimension_records(
        "visit_detector_region",
        [{"instrument": "Cam", "visit": 1, "detector": 0, "region": _circle(10.0, 20.0, 0.1)}],
    )
    data_id = populated.expand_data_id(instrument="Cam", visit=1, detector=0)
    # The most specific region (the detector's) is used.
    assert data_id.region.getOpeningAngle().asDegrees() == pytest.approx(0.1)
    assert populated.expand_data_id(
        instrument="Cam", visit=2
    ).region.getOpeningAngle().asDegrees() == pytest.approx(0.5)
    # Overlap rows: exactly the level-8 envelope of the region.
    table = populated._schema.overlaps["visit"]
    with populated._db.query() as conn:
        pixels = set(conn.execute(sa.select(table.c.healpix8).where(table.c.id == 1)).scalars())
    expected = set()
    for begin, end in sphgeom.HealpixPixelization(8).envelope(_circle(10.0, 20.0, 0.5)).ranges():
        expected.update(range(begin, end))
    assert pixels == expected and len(pixels) > 3
    # The pixel containing the centre is among them.
    centre = sphgeom.HealpixPixelization(8).index(sphgeom.UnitVector3d(sphgeom.LonLat.fromDegrees(10, 20)))
    assert centre in pixels
    # Replacing the region replaces the overlap rows.
    populated.insert_dimension_records(
        "visit",
        [{"instrument": "Cam", "id": 1, "physical_filter": "Cam-r", "region": _circle(200, -30, 0.2)}],
        replace=True,
    )
    with populated._db.query() as conn:
        moved = set(conn.execute(sa.select(table.c.healpix8).where(table.c.id == 1)).scalars())
    assert moved and not moved & pixels


def test_transaction_rolls_back(populated: Registry) -> None:
    with pytest.raises(RuntimeError, match="boom"), populated.transaction():
        populated.insert_dimension_records("detector", [{"instrument": "Cam", "id": 30}])
        populated.register_run("doomed")
        raise RuntimeError("boom")
    assert populated.fetch_dimension_records("detector", detector=30) == []
    assert "doomed" not in populated.query_collections()
    # A savepoint undoes only the inner block.
    with populated.transaction():
        populated.insert_dimension_records("detector", [{"instrument": "Cam", "id": 31}])
        with pytest.raises(ConflictingDefinitionError), populated.transaction(savepoint=True):
            populated.insert_dimension_records("detector", [{"instrument": "Cam", "id": 32}])
            populated.insert_dimension_records("detector", [{"instrument": "Cam", "id": 31}])
    ids = [r.id for r in populated.fetch_dimension_records("detector")]
    assert 31 in ids and 32 not in ids
