# SPDX-License-Identifier: GPL-3.0-or-later
"""Dataset types, collections, dataset insertion, find-first, calibrations, queries, removal."""

from __future__ import annotations

import uuid

import astropy.units as u
import pytest
from astropy.time import Time

from skystack.butler import (
    CalibrationLookupError,
    CollectionCycleError,
    CollectionType,
    CollectionTypeError,
    ConflictingDefinitionError,
    DataIdError,
    DatasetIdGenEnum,
    DatasetType,
    DatasetTypeError,
    InvalidNameError,
    MissingCollectionError,
    MissingDatasetTypeError,
    Registry,
    RegistryError,
    Timespan,
)

T0 = Time("2024-01-01T00:00:00", scale="tai")
RAW = DatasetType("raw", ["instrument", "exposure", "detector"], "Exposure")
BIAS = DatasetType("bias", ["instrument", "detector"], "Exposure", is_calibration=True)


def _raw_ids(exposures: range = range(10), detectors: range = range(4)) -> list[dict[str, object]]:
    return [{"instrument": "Cam", "exposure": e, "detector": d} for e in exposures for d in detectors]


def test_dataset_type_registration(populated: Registry) -> None:
    assert populated.register_dataset_type(RAW) is True
    assert populated.register_dataset_type(RAW) is False
    assert populated.get_dataset_type("raw") == RAW
    other = DatasetType("raw", ["instrument", "exposure", "detector"], "ArrowTable")
    with pytest.raises(ConflictingDefinitionError) as info:
        populated.register_dataset_type(other)
    assert "already registered as raw(dimensions=(instrument, detector, exposure), Exposure)" in str(
        info.value
    )
    assert "cannot redefine it as raw(dimensions=(instrument, detector, exposure), ArrowTable)" in str(
        info.value
    )
    with pytest.raises(
        MissingDatasetTypeError, match=r"dataset type 'rwa' is not registered; did you mean 'raw'"
    ):
        populated.get_dataset_type("rwa")
    with pytest.raises(InvalidNameError, match="names a component; register the parent 'calexp'"):
        populated.register_dataset_type(DatasetType("calexp.wcs", ["visit"], "Wcs"))
    populated.register_dataset_type(BIAS)
    assert [t.name for t in populated.query_dataset_types("*")] == ["bias", "raw"]
    assert [t.name for t in populated.query_dataset_types("b*")] == ["bias"]


@pytest.mark.parametrize("name", ["", "1abc", "a b", "a/b", "a..b", "cal\x00exp", "../x"])
def test_invalid_dataset_type_names(name: str) -> None:
    with pytest.raises(InvalidNameError, match="invalid dataset type name"):
        DatasetType(name, ["instrument"], "Exposure")


@pytest.mark.parametrize("name", ["", "/abs", "a//b", "a/../b", "..", "bad name", "a\\b", "x\n", "run/"])
def test_invalid_collection_names(registry: Registry, name: str) -> None:
    with pytest.raises(InvalidNameError, match="collection name"):
        registry.register_run(name)


def test_collections_and_chains(registry: Registry) -> None:
    assert registry.register_run("u/alice/run1") is True
    assert registry.register_run("u/alice/run1") is False
    with pytest.raises(ConflictingDefinitionError, match="already exists with type RUN, not TAGGED"):
        registry.register_collection("u/alice/run1", CollectionType.TAGGED)
    registry.register_run("run2")
    registry.register_collection("chain", CollectionType.CHAINED)
    registry.register_collection("outer", CollectionType.CHAINED)
    registry.set_collection_chain("chain", ["run2", "u/alice/run1"])
    registry.set_collection_chain("outer", ["chain", "run2"])
    assert registry.get_collection_chain("chain") == ("run2", "u/alice/run1")
    with pytest.raises(CollectionCycleError, match=r"would contain itself \(chain -> outer -> chain\)"):
        registry.set_collection_chain("chain", ["outer"])
    with pytest.raises(CollectionTypeError, match="'run2' is RUN, not CHAINED"):
        registry.set_collection_chain("run2", ["chain"])
    with pytest.raises(MissingCollectionError, match="no collection named 'run3'; did you mean 'run2'"):
        registry.set_collection_chain("chain", ["run3"])
    assert registry.query_collections() == ["chain", "outer", "run2", "u/alice/run1"]
    assert registry.query_collections("u/*") == ["u/alice/run1"]
    assert registry.query_collections("outer", flatten_chains=True) == ["outer", "run2", "u/alice/run1"]
    assert registry.query_collections(collection_types=[CollectionType.CHAINED]) == ["chain", "outer"]
    with pytest.raises(RegistryError, match=r"child of chained collection\(s\) \['chain', 'outer'\]"):
        registry.remove_collection("run2")
    registry.remove_collection("outer")
    assert registry.get_collection_type("chain") is CollectionType.CHAINED
    assert "outer" not in registry.query_collections()


def test_insert_find_query(populated: Registry) -> None:
    populated.register_dataset_type(RAW)
    populated.register_run("run1")
    refs = populated.insert_datasets("raw", _raw_ids(), "run1")
    assert len(refs) == 40 and len({r.id for r in refs}) == 40
    ref = populated.find_dataset("raw", {"instrument": "Cam", "exposure": 3}, detector=2, collections="run1")
    assert ref == refs[3 * 4 + 2] and ref.run == "run1"
    assert ref.data_id.required == {"instrument": "Cam", "detector": 2, "exposure": 3}
    assert (
        populated.find_dataset("raw", instrument="Cam", exposure=3, detector=2, collections=["run1"]) == ref
    )
    assert populated.get_dataset(ref.id).data_id == ref.data_id
    assert populated.get_dataset(uuid.uuid4()) is None
    populated.register_run("empty")
    assert (
        populated.find_dataset("raw", instrument="Cam", exposure=3, detector=2, collections="empty") is None
    )
    found = populated.query_datasets_simple("raw", "run1", {"detector": 1})
    assert sorted(r.data_id["exposure"] for r in found) == list(range(10))
    assert {r.id for r in populated.query_datasets_simple("raw", "run1")} == {r.id for r in refs}
    with pytest.raises(DataIdError, match="cannot constrain 'raw' datasets by 'visit'"):
        populated.query_datasets_simple("raw", "run1", {"visit": 1})
    with pytest.raises(DataIdError, match="missing 'detector'"):
        populated.find_dataset("raw", instrument="Cam", exposure=3, collections="run1")
    with pytest.raises(ValueError, match="no collections given"):
        populated.find_dataset("raw", instrument="Cam", exposure=3, detector=1, collections=[])


def test_insert_errors(populated: Registry) -> None:
    populated.register_dataset_type(RAW)
    populated.register_run("run1")
    populated.insert_datasets("raw", _raw_ids(range(2)), "run1")
    with pytest.raises(
        ConflictingDefinitionError, match=r"'raw' datasets already exist in run 'run1' for data ID"
    ):
        populated.insert_datasets("raw", _raw_ids(range(1, 3)), "run1")
    with pytest.raises(ConflictingDefinitionError, match="appears twice in the input"):
        populated.insert_datasets("raw", _raw_ids(range(5, 6)) * 2, "run1")
    with pytest.raises(DataIdError, match=r"no exposure record for \{'instrument': 'Cam', 'exposure': 77\}"):
        populated.insert_datasets("raw", _raw_ids(range(77, 78)), "run1")
    with pytest.raises(MissingCollectionError, match="no collection named 'nope'"):
        populated.insert_datasets("raw", _raw_ids(range(1)), "nope")
    populated.register_collection("tag", CollectionType.TAGGED)
    with pytest.raises(CollectionTypeError, match="'tag' is TAGGED; this operation needs a RUN collection"):
        populated.insert_datasets("raw", _raw_ids(range(1)), "tag")
    # Failed inserts left nothing behind.
    assert len(populated.query_datasets_simple("raw", "run1")) == 8


def test_deterministic_ids_make_reinsert_idempotent(populated: Registry) -> None:
    populated.register_dataset_type(RAW)
    populated.register_run("run1")
    populated.register_run("run2")
    mode = DatasetIdGenEnum.DATAID_TYPE_RUN
    first = populated.insert_datasets("raw", _raw_ids(range(3)), "run1", id_generation=mode)
    again = populated.insert_datasets("raw", _raw_ids(range(3)), "run1", id_generation=mode)
    assert [r.id for r in first] == [r.id for r in again]
    assert all(r.id.version == 5 for r in first)
    assert len(populated.query_datasets_simple("raw", "run1")) == 12
    other_run = populated.insert_datasets("raw", _raw_ids(range(1)), "run2", id_generation=mode)
    assert {r.id for r in other_run}.isdisjoint(r.id for r in first)
    shared = populated.insert_datasets(
        "raw", _raw_ids(range(5, 6)), "run1", id_generation=DatasetIdGenEnum.DATAID_TYPE
    )
    with pytest.raises(ConflictingDefinitionError, match="already exists in run 'run1'"):
        populated.insert_datasets(
            "raw", _raw_ids(range(5, 6)), "run2", id_generation=DatasetIdGenEnum.DATAID_TYPE
        )
    assert populated.get_dataset(shared[0].id).run == "run1"


def test_find_first_through_chain(populated: Registry) -> None:
    populated.register_dataset_type(RAW)
    for run in ("old", "new"):
        populated.register_run(run)
    old = populated.insert_datasets("raw", _raw_ids(range(4), range(1)), "old")
    new = populated.insert_datasets("raw", _raw_ids(range(2), range(1)), "new")
    populated.register_collection("chain", CollectionType.CHAINED)
    populated.set_collection_chain("chain", ["new", "old"])
    assert (
        populated.find_dataset("raw", instrument="Cam", exposure=1, detector=0, collections="chain") == new[1]
    )
    assert (
        populated.find_dataset("raw", instrument="Cam", exposure=3, detector=0, collections="chain") == old[3]
    )
    assert (
        populated.find_dataset("raw", instrument="Cam", exposure=1, detector=0, collections=["old", "chain"])
        == old[1]
    )
    found = populated.query_datasets_simple("raw", "chain")
    assert {r.id for r in found} == {new[0].id, new[1].id, old[2].id, old[3].id}
    assert {r.run for r in found} == {"new", "old"}
    everything = populated.query_datasets_simple("raw", "chain", find_first=False)
    assert len(everything) == 6
    # Re-ordering the chain changes the answer.
    populated.set_collection_chain("chain", ["old", "new"])
    assert (
        populated.find_dataset("raw", instrument="Cam", exposure=1, detector=0, collections="chain") == old[1]
    )


def test_tagged_collections(populated: Registry) -> None:
    populated.register_dataset_type(RAW)
    populated.register_run("run1")
    populated.register_run("run2")
    refs1 = populated.insert_datasets("raw", _raw_ids(range(2), range(1)), "run1")
    refs2 = populated.insert_datasets("raw", _raw_ids(range(2), range(1)), "run2")
    populated.register_collection("best", CollectionType.TAGGED)
    populated.associate("best", [refs1[0], refs2[1]])
    populated.associate("best", [refs1[0]])  # idempotent
    found = populated.query_datasets_simple("raw", "best")
    assert {(r.id, r.run) for r in found} == {(refs1[0].id, "run1"), (refs2[1].id, "run2")}
    with pytest.raises(
        ConflictingDefinitionError, match="another dataset with the same data ID is already tagged"
    ):
        populated.associate("best", [refs2[0]])
    populated.disassociate("best", [refs1[0]])
    assert [r.id for r in populated.query_datasets_simple("raw", "best")] == [refs2[1].id]
    with pytest.raises(CollectionTypeError, match="needs a TAGGED collection"):
        populated.associate("run1", refs2)


def test_calibration_lookup_by_exposure_time(populated: Registry) -> None:
    populated.register_dataset_type(BIAS)
    populated.register_run("calib/run")
    early = populated.insert_datasets("bias", [{"instrument": "Cam", "detector": 1}], "calib/run")[0]
    populated.register_run("calib/run2")
    late = populated.insert_datasets("bias", [{"instrument": "Cam", "detector": 1}], "calib/run2")[0]
    populated.register_collection("calib", CollectionType.CALIBRATION)
    # early valid for exposures 0-4 (hours 0..5), late from hour 5 on.
    populated.certify("calib", [early], Timespan(T0, T0 + 5 * u.h))
    populated.certify("calib", [late], Timespan(T0 + 5 * u.h, None))
    for exposure, expected in [(0, early), (4, early), (5, late), (9, late)]:
        ref = populated.find_dataset(
            "bias", instrument="Cam", detector=1, exposure=exposure, collections="calib"
        )
        assert ref == expected, exposure
    assert (
        populated.find_dataset("bias", instrument="Cam", detector=2, exposure=1, collections="calib") is None
    )
    ref = populated.find_dataset(
        "bias",
        instrument="Cam",
        detector=1,
        collections="calib",
        timespan=Timespan(T0 + 1 * u.h, T0 + 2 * u.h),
    )
    assert ref == early
    with pytest.raises(CalibrationLookupError, match="needs a time: pass timespan=.*exposure or visit"):
        populated.find_dataset("bias", instrument="Cam", detector=1, collections="calib")
    with pytest.raises(CalibrationLookupError, match=r"2 'bias' datasets .* are valid during"):
        populated.find_dataset(
            "bias",
            instrument="Cam",
            detector=1,
            collections="calib",
            timespan=Timespan(T0 + 4 * u.h, T0 + 6 * u.h),
        )
    with pytest.raises(ConflictingDefinitionError, match="is already certified in 'calib' for .* overlaps"):
        populated.certify("calib", [late], Timespan(T0 + 3 * u.h, T0 + 6 * u.h))
    with pytest.raises(CalibrationLookupError, match="find-first query cannot search CALIBRATION collection"):
        populated.query_datasets_simple("bias", "calib")
    assert {r.id for r in populated.query_datasets_simple("bias", "calib", find_first=False)} == {
        early.id,
        late.id,
    }
    # Decertify hours 2-3 of the early bias: exposure 2 finds nothing, 1 and 3 still find it.
    assert populated.decertify("calib", "bias", Timespan(T0 + 2 * u.h, T0 + 3 * u.h)) == 1
    assert (
        populated.find_dataset("bias", instrument="Cam", detector=1, exposure=2, collections="calib") is None
    )
    for exposure in (1, 3):
        assert (
            populated.find_dataset(
                "bias", instrument="Cam", detector=1, exposure=exposure, collections="calib"
            )
            == early
        )
    populated.register_dataset_type(RAW)
    raw = populated.insert_datasets("raw", _raw_ids(range(1), range(1)), "calib/run")
    with pytest.raises(DatasetTypeError, match="'raw' is not a calibration type"):
        populated.certify("calib", raw, Timespan(T0, None))


def test_remove_datasets_and_runs(populated: Registry) -> None:
    populated.register_dataset_type(RAW)
    populated.register_run("run1")
    refs = populated.insert_datasets("raw", _raw_ids(range(2)), "run1")
    populated.register_collection("tag", CollectionType.TAGGED)
    populated.associate("tag", refs)
    with pytest.raises(RegistryError, match=r"RUN collection 'run1' still holds 8 dataset\(s\)"):
        populated.remove_collection("run1")
    with pytest.raises(ConflictingDefinitionError, match=r"'raw' still has 8 dataset\(s\)"):
        populated.remove_dataset_type("raw")
    assert populated.remove_datasets(refs[:3]) == 3
    assert len(populated.query_datasets_simple("raw", "run1")) == 5
    assert len(populated.query_datasets_simple("raw", "tag")) == 5
    populated.remove_datasets(refs)
    populated.remove_collection("run1")
    assert "run1" not in populated.query_collections()


def test_dataset_insert_rolls_back_in_transaction(populated: Registry) -> None:
    populated.register_dataset_type(RAW)
    populated.register_run("run1")
    with pytest.raises(ConflictingDefinitionError), populated.transaction():
        populated.insert_datasets("raw", _raw_ids(range(1)), "run1")
        populated.insert_datasets("raw", _raw_ids(range(1)), "run1")
    assert populated.query_datasets_simple("raw", "run1") == []


def test_hostile_strings_are_data_not_sql(populated: Registry) -> None:
    populated.register_dataset_type(RAW)
    populated.register_run("run1")
    hostile = "Cam'; DROP TABLE dataset; --"
    with pytest.raises(DataIdError, match="no instrument record"):
        populated.insert_datasets("raw", [{"instrument": hostile, "exposure": 1, "detector": 1}], "run1")
    assert (
        populated.find_dataset("raw", instrument=hostile, exposure=1, detector=1, collections="run1") is None
    )
    populated.insert_dimension_records("instrument", [{"name": hostile}])
    assert populated.fetch_dimension_records("instrument", instrument=hostile)[0].name == hostile
    assert populated.query_datasets_simple("raw", "run1") == []
