# SPDX-License-Identifier: GPL-3.0-or-later
"""The dimension universe, dimension groups and data-ID standardization (no database)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from skystack.butler import DataCoordinate, DataIdError, DimensionUniverse, DimensionUniverseError


@pytest.fixture(scope="module")
def universe() -> DimensionUniverse:
    return DimensionUniverse.default()


def test_default_universe_contents(universe: DimensionUniverse) -> None:
    assert universe.version == 1 and universe.namespace == "skystack"
    assert DimensionUniverse.default() is universe
    for name in (
        "instrument",
        "band",
        "physical_filter",
        "detector",
        "exposure",
        "visit",
        "skymap",
        "tract",
        "patch",
        "healpix8",
        "visit_definition",
        "visit_detector_region",
    ):
        assert name in universe
    assert universe["instrument"].is_governor and universe["skymap"].is_governor
    assert not universe["visit"].is_governor
    visit = universe["visit"]
    assert visit.required == ("instrument", "visit")
    assert visit.implied == ("physical_filter",)
    assert visit.spatial and visit.temporal
    assert visit.fields["exposure_time"] is float
    assert universe["exposure"].temporal and not universe["exposure"].spatial
    assert universe["exposure"].fields["day_obs"] is int
    vdr = universe["visit_detector_region"]
    assert not vdr.is_dimension and vdr.spatial
    assert vdr.required == ("instrument", "detector", "visit")
    assert universe["patch"].required == ("skymap", "tract", "patch")
    assert set(universe["patch"].fields) == {"cell_x", "cell_y"}
    assert universe["healpix8"].is_skypix and universe["healpix8"].skypix_level == 8
    assert not universe["band"].is_stored
    assert universe.common_skypix.name == "healpix8"


def test_conform_required_implied_governors(universe: DimensionUniverse) -> None:
    group = universe.conform(["visit", "detector"])
    assert group.required == ("instrument", "detector", "visit")
    assert group.implied == ("band", "physical_filter")
    assert group.governors == ("instrument",)
    assert "visit_detector_region" in group.elements
    assert group.spatial == ("visit_detector_region", "visit")
    assert group.temporal == ("visit",)
    assert universe.conform(["visit", "detector", "instrument"]) == group
    # A dimension named explicitly but implied by another one stays implied (as in daf_butler).
    assert universe.conform(["exposure", "band"]).implied == ("band", "physical_filter")
    assert universe.conform(["physical_filter"]).required == ("instrument", "physical_filter")
    assert universe.conform(["patch"]).governors == ("skymap",)
    assert universe.conform([]).required == ()
    assert group.issubset(universe.conform(["visit", "detector", "tract"]))


def test_conform_unknown_dimension_lists_valid_ones(universe: DimensionUniverse) -> None:
    with pytest.raises(DimensionUniverseError, match=r"'visits' is not a dimension.*instrument, band"):
        universe.conform(["visits"])
    with pytest.raises(DimensionUniverseError, match="'visit_detector_region' is not a dimension"):
        universe.conform(["visit_detector_region"])
    with pytest.raises(DimensionUniverseError, match="no dimension element 'nope'"):
        universe["nope"]


def test_universe_from_file_and_invalid_definitions(tmp_path: Path) -> None:
    path = tmp_path / "u.yaml"
    path.write_text(
        "version: 7\nnamespace: mine\nskypix: {levels: [5, 9], common_level: 5}\n"
        "elements:\n  instrument:\n    governor: true\n    key: {name: name, type: string}\n"
        "  detector:\n    requires: [instrument]\n    key: {name: id, type: int}\n"
    )
    mine = DimensionUniverse.from_file(path)
    assert mine.version == 7 and mine.common_skypix.name == "healpix5" and "healpix9" in mine
    assert mine.conform(["detector"]).required == ("instrument", "detector")
    assert DimensionUniverse.from_yaml(mine.to_yaml()).dimension_names == mine.dimension_names
    with pytest.raises(
        DimensionUniverseError, match="requires 'camera', which is not a dimension defined before"
    ):
        DimensionUniverse.from_yaml(
            "version: 1\nelements:\n  detector:\n    requires: [camera]\n    key: {name: id, type: int}\n"
        )
    with pytest.raises(DimensionUniverseError, match=r"field x\.y has type 'complex'"):
        DimensionUniverse.from_yaml(
            "version: 1\nelements:\n  x:\n    key: {name: id, type: int}\n    fields: {y: complex}\n"
        )
    with pytest.raises(DimensionUniverseError, match="needs 'version'"):
        DimensionUniverse.from_yaml("elements: {}\n")


def test_standardize_valid(universe: DimensionUniverse) -> None:
    data_id = DataCoordinate.standardize({"instrument": "Cam"}, visit=np.int64(5), detector=2)
    assert data_id.required == {"instrument": "Cam", "detector": 2, "visit": 5}
    assert type(data_id["visit"]) is int
    assert data_id.dimensions == universe.conform(["visit", "detector"])
    assert not data_id.has_full and not data_id.has_records
    same = DataCoordinate.standardize(instrument="Cam", detector=2, visit=5)
    assert same == data_id and hash(same) == hash(data_id)
    assert {data_id: 1}[same] == 1
    assert data_id == {"instrument": "Cam", "visit": 5, "detector": 2}
    assert DataCoordinate.standardize(data_id) is data_id
    # Extra known keys are ignored when the dimensions are given (they serve lookups).
    bias_id = DataCoordinate.standardize(instrument="Cam", detector=2, exposure=7, dimensions=["detector"])
    assert dict(bias_id) == {"instrument": "Cam", "detector": 2}
    full = DataCoordinate.standardize(instrument="Cam", physical_filter="Cam-r", band="r")
    assert full.has_full and full.full == {"instrument": "Cam", "physical_filter": "Cam-r", "band": "r"}
    assert pickle.loads(pickle.dumps(full)) == full


def test_standardize_missing_key_lists_missing_and_given() -> None:
    with pytest.raises(DataIdError) as info:
        DataCoordinate.standardize({"instrument": "Cam", "visit": 3}, dimensions=["visit", "detector"])
    message = str(info.value)
    assert "missing 'detector'" in message
    assert "given: {instrument: 'Cam', visit: 3}" in message
    with pytest.raises(DataIdError, match="missing 'instrument'"):
        DataCoordinate.standardize(visit=3)


def test_standardize_unknown_key_names_it_and_lists_valid() -> None:
    with pytest.raises(
        DataIdError, match=r"unknown data ID key\(s\) 'visti'.*valid keys are: instrument, band"
    ):
        DataCoordinate.standardize(instrument="Cam", visti=3)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("visit", "3", "int"), ("detector", 1.5, "int"), ("visit", True, "int"), ("instrument", 3, "str")],
)
def test_standardize_wrong_type_names_key_and_type(key: str, value: object, expected: str) -> None:
    data = {"instrument": "Cam", "visit": 3, "detector": 1, key: value}
    with pytest.raises(DataIdError, match=rf"value for '{key}' must be {expected}, got"):
        DataCoordinate.standardize(data)


def test_full_and_records_need_expansion() -> None:
    data_id = DataCoordinate.standardize(instrument="Cam", exposure=1)
    with pytest.raises(DataIdError, match=r"implied values \(band, physical_filter\).*expand_data_id"):
        _ = data_id.full
    with pytest.raises(DataIdError, match="has no records"):
        _ = data_id.records
    with pytest.raises(KeyError, match="expand it"):
        data_id["physical_filter"]
