# SPDX-License-Identifier: GPL-3.0-or-later
"""Writing dataset files without the registry (`FileDatastore.write`) and registering them later in
bulk (`Butler.register_datasets`): idempotent, and conflicting registrations refused."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from skystack.butler import (
    Butler,
    ConflictingDefinitionError,
    DataCoordinate,
    DatasetIdGenEnum,
    DatasetRef,
    DatasetType,
)
from skystack.butler.datastore import DatastoreError
from skystack.butler.registry import make_dataset_id

DTYPE = DatasetType("summary", ("instrument",), "StructuredDataDict")


def _ref(butler: Butler, run: str, id_run: str | None = None) -> DatasetRef:
    data_id = DataCoordinate.standardize({"instrument": "Cam"}, dimensions=DTYPE.dimensions)
    dataset_id = make_dataset_id(DTYPE.name, data_id, id_run or run, DatasetIdGenEnum.DATAID_TYPE_RUN)
    return DatasetRef(dataset_id, DTYPE, data_id, run)


@pytest.fixture
def butler(tmp_path: Path) -> Butler:
    b = Butler.create(tmp_path / "repo")
    b.registry.insert_dimension_records("instrument", [{"name": "Cam"}])
    b.registry.register_dataset_type(DTYPE)
    b.registry.register_run("r1")
    b.registry.register_run("r2")
    return b


def test_write_then_register_is_idempotent(butler: Butler) -> None:
    ref = _ref(butler, "r1")
    info = butler.datastore.write({"a": 1}, ref)
    assert butler.registry.get_dataset(ref.id) is None  # the registry was not touched
    assert butler.datastore.path_of(info).read_text().startswith("{")
    again = butler.datastore.write({"a": 2}, ref)  # an orphan at the same place is overwritten
    assert again.path == info.path
    assert butler.register_datasets([ref], [again]) == 1
    assert butler.register_datasets([ref], [again]) == 1  # the same again: nothing changes
    assert butler.get(ref) == {"a": 2}
    assert len(butler.registry.query_datasets_simple(DTYPE, ["r1"])) == 1
    assert butler.verify().ok


def test_conflicting_registrations_are_refused(butler: Butler) -> None:
    ref = _ref(butler, "r1")
    info = butler.datastore.write({"a": 1}, ref)
    forged = DatasetRef(uuid.uuid4(), DTYPE, ref.data_id, "r1")
    with pytest.raises(ConflictingDefinitionError, match="does not have the deterministic ID"):
        butler.register_datasets([forged], [butler.datastore.write({"a": 1}, forged)])
    moved = _ref(butler, "r2", id_run="r1")  # the ID of run r1, claimed for run r2
    with pytest.raises(ConflictingDefinitionError, match="deterministic ID"):
        butler.register_datasets([moved], [info])
    with pytest.raises(DatastoreError, match="has no file record"):
        butler.register_datasets([ref], [])
    with pytest.raises(DatastoreError, match="2 records were given for 1 datasets"):
        butler.register_datasets([ref], [info, butler.datastore.write({"b": 1}, _ref(butler, "r2"))])
    butler.put(
        {"other": True}, DTYPE, {"instrument": "Cam"}, run="r1"
    )  # a random-ID dataset with the same data ID
    with pytest.raises(ConflictingDefinitionError, match="already exist in run 'r1'"):
        butler.register_datasets([ref], [info])
    assert butler.registry.get_dataset(ref.id) is None  # nothing of a refused batch remains
