# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry queries with where expressions: data IDs, dimension records and datasets."""

from __future__ import annotations

import astropy.units as u
import pytest
from astropy.time import Time

from skystack.butler import DatasetType, Registry, Timespan
from skystack.butler.queries.expression import QuerySyntaxError, UnknownIdentifierError
from skystack.geom import Angle, circle_from_radec, convex_polygon_from_radec

T0 = Time("2024-03-01T00:00:00", scale="tai")
# Visit v points at RA 10 + v degrees, Dec 0; detector d covers a 0.1°-square east of centre.
VISITS = range(6)
DETECTORS = range(3)


def _box(ra: float, dec: float, half: float):  # type: ignore[no-untyped-def]
    return convex_polygon_from_radec(
        [ra - half, ra + half, ra + half, ra - half], [dec - half, dec - half, dec + half, dec + half]
    )


@pytest.fixture
def sky(registry: Registry) -> Registry:
    r = registry
    r.insert_dimension_records(
        "instrument", [{"name": "Cam", "visit_max": 100, "exposure_max": 100, "detector_max": 10}]
    )
    r.insert_dimension_records(
        "physical_filter",
        [
            {"instrument": "Cam", "name": "Cam-g", "band": "g"},
            {"instrument": "Cam", "name": "Cam-r", "band": "r"},
        ],
    )
    r.insert_dimension_records(
        "detector", [{"instrument": "Cam", "id": d, "full_name": f"D{d}"} for d in DETECTORS]
    )
    r.insert_dimension_records(
        "visit",
        [
            {
                "instrument": "Cam",
                "id": v,
                "physical_filter": "Cam-g" if v % 2 else "Cam-r",
                "exposure_time": 15.0 * (1 + v % 3),
                "day_obs": 20240301 + v // 2,
                "timespan": Timespan(T0 + v * u.h, T0 + v * u.h + 30 * u.s),
                "region": _box(10.0 + v, 0.0, 0.2),
            }
            for v in VISITS
        ],
    )
    r.insert_dimension_records(
        "visit_detector_region",
        [
            {"instrument": "Cam", "visit": v, "detector": d, "region": _box(10.0 + v + 0.1 * d, 0.0, 0.05)}
            for v in VISITS
            for d in DETECTORS
            if not (v == 5 and d == 2)  # one detector missing in the last visit
        ],
    )
    calexp = DatasetType("calexp", r.universe.conform(["instrument", "visit", "detector"]), "Exposure")
    r.register_dataset_type(calexp)
    r.register_run("run/a")
    r.register_run("run/b")
    ids = r.query_data_ids(["visit", "detector"])
    r.insert_datasets(calexp, ids, "run/a")
    r.insert_datasets(calexp, [i for i in ids if i["detector"] == 0], "run/b")
    return r


def test_data_ids_follow_join_elements(sky: Registry) -> None:
    ids = sky.query_data_ids(["visit", "detector"])
    assert len(ids) == len(VISITS) * len(DETECTORS) - 1
    assert (ids[0]["instrument"], ids[0]["visit"], ids[0]["detector"]) == ("Cam", 0, 0)
    assert [i["visit"] for i in sky.query_data_ids(["visit"])] == list(VISITS)


def test_where_on_fields_implied_dimensions_and_bind(sky: Registry) -> None:
    ids = sky.query_data_ids(["visit"], where="band = 'g' AND visit.exposure_time > 20")
    assert [i["visit"] for i in ids] == [1, 5]  # g visits 1, 3, 5 with exposure times 30, 15, 45
    ids = sky.query_data_ids(
        ["visit", "detector"], where="visit IN (:vs) AND detector = 2", bind={"vs": [1, 4]}
    )
    assert [(i["visit"], i["detector"]) for i in ids] == [(1, 2), (4, 2)]
    ids = sky.query_data_ids(["visit"], where="visit.day_obs = 20240302 OR visit = 0")
    assert [i["visit"] for i in ids] == [0, 2, 3]
    assert [i["visit"] for i in sky.query_data_ids(["visit"], where="visit IN (1..5:2)")] == [1, 3, 5]
    assert [i["visit"] for i in sky.query_data_ids(["visit"], visit=3)] == [3]


def test_where_on_timespans(sky: Registry) -> None:
    where = "visit.timespan OVERLAPS (T'2024-03-01T01:30:00', T'2024-03-01T03:10:00')"
    assert [i["visit"] for i in sky.query_data_ids(["visit"], where=where)] == [2, 3]
    later = sky.query_data_ids(["visit"], where="visit.timespan > T'2024-03-01T03:30:00'")
    assert [i["visit"] for i in later] == [4, 5]


def test_spatial_constraints_are_exact(sky: Registry) -> None:
    # A small circle on detector 1 of visit 2 only (the HEALPix pre-filter alone would also
    # keep neighbours sharing pixels; the exact test removes them).
    where = "visit_detector_region.region OVERLAPS CIRCLE(12.1, 0.0, 0.01)"
    ids = sky.query_data_ids(["visit", "detector"], where=where)
    assert [(i["visit"], i["detector"]) for i in ids] == [(2, 1)]
    region = circle_from_radec(13.0, 0.0, Angle.from_degrees(1.0))
    ids = sky.query_data_ids(["visit"], where="visit.region OVERLAPS :r", bind={"r": region})
    assert [i["visit"] for i in ids] == [2, 3, 4]
    assert sky.query_data_ids(["visit"], where="visit.region OVERLAPS POINT(100, 50)") == []


def test_dimension_records(sky: Registry) -> None:
    recs = sky.query_dimension_records("visit", where="visit.exposure_time = 45.0")
    assert [r.id for r in recs] == [2, 5] and recs[0].physical_filter == "Cam-r"
    dets = sky.query_dimension_records("detector", where="detector.full_name = 'D1'")
    assert [d.id for d in dets] == [1]
    filters = sky.query_dimension_records("physical_filter", where="band = 'g'")
    assert [f.name for f in filters] == ["Cam-g"]


def test_datasets_with_where_and_find_first(sky: Registry) -> None:
    refs = sky.query_datasets("calexp", collections=["run/b", "run/a"], where="band = 'r'")
    assert len(refs) == 3 * 3  # r visits 0, 2, 4 with 3 detectors each
    runs = {(r.data_id["visit"], r.data_id["detector"]): r.run for r in refs}
    assert runs[(0, 0)] == "run/b" and runs[(0, 1)] == "run/a"
    every = sky.query_datasets("calexp", collections=["run/b", "run/a"], where="band = 'r'", find_first=False)
    assert len(every) == 9 + 3
    near = sky.query_datasets(
        "calexp", collections="run/a", where="visit_detector_region.region OVERLAPS CIRCLE(11.2, 0, 0.01)"
    )
    assert [(r.data_id["visit"], r.data_id["detector"]) for r in near] == [(1, 2)]
    assert sky.query_datasets("calexp", collections="run/a", detector=1, visit=3)[0].data_id["visit"] == 3


def test_query_errors_explain(sky: Registry) -> None:
    with pytest.raises(UnknownIdentifierError, match="visit.day_ob"):
        sky.query_data_ids(["visit"], where="visit.day_ob = 3")
    with pytest.raises(UnknownIdentifierError, match="needs the dimensions instrument, visit"):
        sky.query_data_ids(["detector"], where="visit.day_obs = 20240301")
    with pytest.raises(QuerySyntaxError, match=r"\^"):
        sky.query_data_ids(["visit"], where="visit = ")
    with pytest.raises(Exception, match="tract"):
        sky.query_datasets("calexp", collections="run/a", tract=3)


def test_hostile_where_strings_are_data(sky: Registry) -> None:
    assert sky.query_data_ids(["visit"], where="band = 'g'' OR 1=1 --'") == []
    with pytest.raises(QuerySyntaxError):
        sky.query_data_ids(["visit"], where="visit = 1; DROP TABLE visit")
    assert len(sky.query_data_ids(["visit"])) == len(VISITS)  # the table is still there


def test_find_first_skips_calibration_collections_for_other_types(sky: Registry) -> None:
    from skystack.butler import CollectionType

    sky.register_collection("calib", CollectionType.CALIBRATION)
    sky.register_collection("chain", CollectionType.CHAINED)
    sky.set_collection_chain("chain", ["calib", "run/a"])
    refs = sky.query_datasets("calexp", collections="chain", visit=0)
    assert len(refs) == 3 and {r.run for r in refs} == {"run/a"}
