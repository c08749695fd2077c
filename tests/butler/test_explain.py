# SPDX-License-Identifier: GPL-3.0-or-later
"""Empty query results explain themselves: rows left after each constraint, and which one removed
everything (datasets, data IDs, dimension records; SQLite, and PostgreSQL when enabled)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from skystack.butler import (
    Butler,
    CollectionType,
    DatasetType,
    EmptyQueryResultError,
    QueryExplanation,
    Registry,
)
from skystack.cli.butler import main
from skystack.geom import convex_polygon_from_radec

RAW = DatasetType("raw", ("instrument", "exposure", "detector"), "NumpyArray")
CALEXP = DatasetType("calexp", ("instrument", "visit", "detector"), "Exposure")


@pytest.fixture
def reg(populated: Registry) -> Registry:
    """`populated` (Cam: filters r/g, detectors 0-3, exposures 0-9 alternating r/g, 30 s each) with
    raws of exposures 0-5 on detectors 0-1 in run1, nothing in run2, and an empty chain."""
    populated.register_dataset_type(RAW)
    populated.register_run("run1")
    populated.register_run("run2")
    populated.insert_datasets(
        RAW, [{"instrument": "Cam", "exposure": e, "detector": d} for e in range(6) for d in (0, 1)], "run1"
    )
    populated.register_collection("nothing", CollectionType.CHAINED)
    return populated


def _explain(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> QueryExplanation:
    with pytest.raises(EmptyQueryResultError) as info:
        fn(*args, explain=True, **kwargs)
    return info.value.explanation


def _steps(explanation: QueryExplanation) -> list[tuple[str, int]]:
    return [(s.description, s.count) for s in explanation.steps]


def test_no_dataset_of_the_type_in_the_collections(reg: Registry) -> None:
    why = _explain(reg.query_datasets, "raw", collections="run2")
    assert _steps(why) == [("'raw' datasets in run2", 0)]
    assert why.reasons == [
        "the collections searched (run2) hold no 'raw' dataset",
        "'raw' datasets are in: run1 (12)",
    ]
    assert str(why).startswith("no 'raw' datasets in ['run2']: the collections searched (run2) hold no")
    # Without explain an empty result is just empty.
    assert reg.query_datasets("raw", collections="run2") == []
    reg.register_dataset_type(CALEXP)
    why = _explain(reg.query_datasets, "calexp", collections=["run1", "run2"])
    assert why.reasons[-1] == "the repository has no 'calexp' datasets in any RUN or TAGGED collection"


def test_empty_search_paths(reg: Registry) -> None:
    why = _explain(reg.query_datasets, "raw", collections="nothing")
    assert why.reasons == ["the search path ['nothing'] is empty: its chains have no children"]
    reg.register_collection("calib", CollectionType.CALIBRATION)
    why = _explain(reg.query_datasets, "raw", collections=["calib"], find_first=False)
    assert "'raw' is not a calibration type" in why.reasons[0] and "(calib)" in why.reasons[0]


def test_data_id_constraints(reg: Registry) -> None:
    why = _explain(reg.query_datasets, "raw", collections="run1", data_id={"detector": 9})
    assert _steps(why) == [("'raw' datasets in run1", 12), ("detector = 9", 0)]
    assert why.reasons == [
        "none of the remaining datasets has detector = 9",
        "there is no detector record with detector = 9 in the registry (known: 0, 1, 2, 3)",
    ]
    why = _explain(reg.query_datasets, "raw", collections="run1", exposure=2, detector=3)
    assert _steps(why) == [("'raw' datasets in run1", 12), ("exposure = 2", 2), ("detector = 3", 0)]
    assert why.culprit is not None and why.culprit.description == "detector = 3"
    assert (
        "detector = 3 exists (1 detector record(s)), but nothing left before this step has it" in why.reasons
    )
    why = _explain(reg.query_data_ids, ["exposure"], instrument="Nope")
    assert (
        "there is no instrument record with instrument = 'Nope' in the registry (known: 'Cam')" in why.reasons
    )


def test_where_terms_are_counted_one_by_one(reg: Registry) -> None:
    # Exposures 0-5 alternate r/g; band g: 1, 3, 5; exposure < 2 leaves exposure 1; detector 1.
    why = _explain(
        reg.query_datasets,
        "raw",
        collections="run1",
        where="band = 'g' AND exposure < 2 AND detector = 1 AND exposure.exposure_time > 60",
    )
    assert _steps(why) == [
        ("'raw' datasets in run1", 12),
        ("where: band = 'g'", 6),
        ("where: exposure < 2", 2),
        ("where: detector = 1", 1),
        ("where: exposure.exposure_time > 60", 0),
    ]
    assert why.reasons == [
        "the where term `exposure.exposure_time > 60` removed all remaining datasets",
        "it matches no exposure record in the registry at all",
    ]
    why = _explain(reg.query_datasets, "raw", collections="run1", where="exposure >= 6")
    assert why.reasons[1] == "it matches 4 exposure record(s), but none that passed the steps before it"
    why = _explain(reg.query_datasets, "raw", collections="run1", where="band = 'z'")
    assert why.reasons[1] == "it matches no physical_filter record in the registry at all"
    # A term that is not about one element still gets its count.
    why = _explain(reg.query_datasets, "raw", collections="run1", where="(detector = 2 OR band = 'u')")
    assert _steps(why)[-1] == ("where: detector = 2 OR band = 'u'", 0) and len(why.reasons) == 1


def test_data_ids_and_dimension_records(reg: Registry) -> None:
    why = _explain(reg.query_data_ids, ["visit"])
    assert _steps(why) == [("join instrument records", 1), ("join visit records", 0)]
    assert why.reasons == ["the registry has no visit records"]
    why = _explain(reg.query_data_ids, ["exposure", "detector"], where="exposure.day_obs = 3")
    assert _steps(why)[-1] == ("where: exposure.day_obs = 3", 0)
    assert [n for _, n in _steps(why)][:3] == [1, 4, 40]
    why = _explain(reg.query_dimension_records, "exposure", where="exposure.exposure_time < 10")
    assert _steps(why) == [("exposure records", 10), ("where: exposure.exposure_time < 10", 0)]
    why = _explain(reg.query_dimension_records, "visit")
    assert why.reasons == ["the registry has no visit records"]


def test_join_element_and_exact_region_test(reg: Registry) -> None:
    box = convex_polygon_from_radec([10.0, 10.02, 10.02, 10.0], [0.0, 0.0, 0.02, 0.02])
    reg.insert_dimension_records(
        "visit", [{"instrument": "Cam", "id": 1, "physical_filter": "Cam-r", "region": box}]
    )
    why = _explain(reg.query_data_ids, ["visit", "detector"])
    assert _steps(why)[-1] == ("join visit_detector_region records", 0)
    assert why.reasons == ["the registry has no visit_detector_region records"]
    reg.insert_dimension_records(
        "visit_detector_region", [{"instrument": "Cam", "visit": 1, "detector": 0, "region": box}]
    )
    # The circle shares the box's HEALPix pixels but misses it: only the exact test removes the row.
    why = _explain(reg.query_data_ids, ["visit"], where="visit.region OVERLAPS CIRCLE(10.05, 0.01, 0.005)")
    assert _steps(why)[-1] == ("where: visit.region OVERLAPS CIRCLE(10.05, 0.01, 0.005)", 1)
    assert why.culprit is None
    assert "none of their regions overlaps the given region exactly" in why.reasons[0]


def test_cli_prints_the_explanation(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    butler = Butler.create(root, run="run1")
    butler.registry.insert_dimension_records("instrument", [{"name": "Cam"}])
    butler.registry.insert_dimension_records("detector", [{"instrument": "Cam", "id": i} for i in range(2)])
    butler.put(
        np.zeros(2),
        DatasetType("arr", ("instrument", "detector"), "NumpyArray"),
        instrument="Cam",
        detector=0,
    )
    butler.close()
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["query-datasets", str(root), "arr", "-c", "run1", "--where", "detector = 1", "--format", "json"],
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert (
        "no 'arr' datasets in ['run1']: the where term `detector = 1` removed all remaining" in result.stderr
    )
    assert "'arr' datasets in run1  1" in result.stderr
    result = runner.invoke(main, ["query-data-ids", str(root), "visit"])
    assert result.exit_code == 0 and "the registry has no visit records" in result.stderr
    result = runner.invoke(
        main, ["query-dimension-records", str(root), "detector", "--where", "detector > 5"]
    )
    assert result.exit_code == 0 and "it matches no detector record in the registry at all" in result.stderr
