# SPDX-License-Identifier: GPL-3.0-or-later
"""``butler export``, ``butler import`` and ``butler transfer-datasets``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _transfer_fixtures import BACKENDS, POSTGRES_URL, new_repo
from click.testing import CliRunner

from skystack.butler import Butler, CollectionType, DatasetType, Timespan
from skystack.cli.butler import main

ARR = DatasetType("arr", ("instrument", "detector"), "NumpyArray")
FLAT = DatasetType("flat", ("instrument", "detector"), "NumpyArray", is_calibration=True)


def _run(args: list[str], code: int = 0) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    butler = Butler.create(root, run="run1", checksum=True)
    butler.registry.insert_dimension_records("instrument", [{"name": "Cam", "detector_max": 4}])
    butler.registry.insert_dimension_records("detector", [{"instrument": "Cam", "id": i} for i in range(4)])
    for d in range(3):
        butler.put(np.full(3, d, dtype=np.int32), ARR, instrument="Cam", detector=d)
    flats = [butler.put(np.ones(2) * d, FLAT, instrument="Cam", detector=d, run="calib/run") for d in (0, 1)]
    butler.registry.register_collection("calib", CollectionType.CALIBRATION)
    butler.registry.certify("calib", flats, Timespan.from_nsec(10**18, 2 * 10**18))
    butler.registry.register_collection("all", CollectionType.CHAINED)
    butler.registry.set_collection_chain("all", ["run1", "calib"])
    butler.close()
    return root


def test_export_import_commands(source: Path, tmp_path: Path) -> None:
    folder = tmp_path / "exported"
    out = _run(["export", str(source), str(folder / "export.json"), "-c", "all", "--directory", str(folder)])
    assert (
        f"Exported 5 dataset(s), 4 dimension record(s) and 4 collection(s) to {folder / 'export.json'}" in out
    )
    assert f"5 file(s) in {folder}" in out
    data = json.loads((folder / "export.json").read_text())
    calib = next(c for c in data["collections"] if c["name"] == "calib")
    assert {(c["begin"], c["end"]) for c in calib["certifications"]} == {(10**18, 2 * 10**18)}
    dest = tmp_path / "dest"
    _run(["create", str(dest)])
    out = _run(["import", str(dest), str(folder), "--check-checksums"])
    assert (
        "Imported 5 dataset(s) (0 already present), 4 new dimension record(s), 2 new certification(s)" in out
    )
    out = _run(["import", str(dest), str(folder / "export.json")])
    assert (
        "Imported 0 dataset(s) (5 already present), 0 new dimension record(s), 0 new certification(s)" in out
    )
    b = Butler(dest)
    assert np.array_equal(b.get("arr", instrument="Cam", detector=2, collections="all"), np.full(3, 2))
    assert b.registry.get_collection_chain("all") == ("run1", "calib")
    # Selection: one dataset type by glob, with a where clause.
    out = _run(
        [
            "export",
            str(source),
            str(tmp_path / "one.yaml"),
            "-c",
            "all",
            "-t",
            "ar*",
            "--where",
            "detector = 1",
        ]
    )
    assert "Exported 1 dataset(s)" in out
    out = _run(["export", str(source), str(tmp_path / "x.yaml"), "-c", "nosuch"], code=1)
    assert "no collection named 'nosuch'" in out
    out = _run(["import", str(dest), str(tmp_path / "one.yaml"), "--transfer", "teleport"], code=2)
    assert "'teleport' is not one of" in out
    (tmp_path / "bad.yaml").write_text("format: something-else\n")
    out = _run(["import", str(dest), str(tmp_path / "bad.yaml")], code=1)
    assert "is not a skystack export file" in out


@pytest.mark.parametrize("backend", BACKENDS)
def test_transfer_datasets_command(source: Path, tmp_path: Path, backend: str) -> None:
    with new_repo(backend, tmp_path / "dest") as dest:
        dest.close()
        args = ["transfer-datasets", str(source), str(dest.root), "-c", "all", "--transfer", "symlink"]
        out = _run(args)
        assert (
            "Imported 5 dataset(s) (0 already present), 4 new dimension record(s), 2 new certification(s)"
            in out
        )
        assert "Imported 0 dataset(s) (5 already present)" in _run(args)
        b = Butler(dest.root)
        ref = b.find_dataset(
            "flat",
            instrument="Cam",
            detector=1,
            collections="all",
            timespan=Timespan.from_nsec(10**18, 10**18 + 1),
        )
        assert ref is not None and np.array_equal(b.get(ref), np.ones(2))
        assert Path(b.get_uri(ref).removeprefix("file://")).is_symlink()
        b.close()
    assert POSTGRES_URL  # the PostgreSQL case uses this server
