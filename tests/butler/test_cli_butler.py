# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``butler`` command line: create, queries, removal and verify, with table/JSON/CSV output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from skystack.butler import Butler, DatasetType
from skystack.cli.butler import main


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    result = CliRunner().invoke(main, ["create", str(root)])
    assert result.exit_code == 0, result.output
    butler = Butler(root, run="run1")
    butler.registry.insert_dimension_records("instrument", [{"name": "Cam"}])
    butler.registry.insert_dimension_records("detector", [{"instrument": "Cam", "id": i} for i in range(3)])
    butler.registry.register_dataset_type(DatasetType("arr", ("instrument", "detector"), "NumpyArray"))
    for d in range(3):
        butler.put(np.full(2, d), "arr", instrument="Cam", detector=d)
    butler.put(np.zeros(1), "arr", instrument="Cam", detector=0, run="run2")
    butler.close()
    return root


def test_create_twice_and_help_is_light(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    result = CliRunner().invoke(main, ["create", str(root)])
    assert result.exit_code == 1 and "already holds a data repository" in result.output
    heavy = "('astropy', 'numpy', 'sqlalchemy')"
    code = f"import sys, skystack.cli.butler; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_queries_and_formats(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["query-collections", str(root), "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {"name": "run1", "type": "RUN", "children": ""},
        {"name": "run2", "type": "RUN", "children": ""},
    ]
    result = runner.invoke(main, ["query-dataset-types", str(root)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "dimensions", "storage_class", "is_calibration"]
    assert lines[2].split() == ["arr", "instrument", "detector", "NumpyArray", "False"]
    result = runner.invoke(
        main, ["query-datasets", str(root), "arr", "-c", "run2", "-c", "run1", "--format", "csv"]
    )
    assert result.exit_code == 0
    rows = result.output.splitlines()
    assert rows[0] == "type,run,id,instrument,detector"
    assert sorted((r.split(",")[1], r.split(",")[4]) for r in rows[1:]) == [
        ("run1", "1"),
        ("run1", "2"),
        ("run2", "0"),
    ]
    result = runner.invoke(main, ["query-datasets", str(root), "nosuch", "-c", "run1"])
    assert result.exit_code == 1 and "nosuch" in result.output


def test_prune_remove_verify(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        main, ["prune-datasets", str(root), "arr", "-c", "run1", "-d", "detector=1", "--yes"]
    )
    assert result.exit_code == 0 and "Removed 1 dataset(s)" in result.output
    result = runner.invoke(main, ["remove-runs", str(root), "run2", "--yes"])
    assert result.exit_code == 0 and "Removed 1 run(s) and 1 dataset(s)" in result.output
    result = runner.invoke(main, ["remove-runs", str(root), "nosuch", "--yes"])
    assert result.exit_code == 1 and "nosuch" in result.output
    (root / "run1" / "junk.npy").write_bytes(b"junk")
    # A fresh file may belong to a put in progress elsewhere: by default it is left alone.
    result = runner.invoke(main, ["verify", str(root), "--remove-orphans"])
    assert result.exit_code == 0 and (root / "run1" / "junk.npy").exists()
    result = runner.invoke(main, ["verify", str(root), "--min-age", "0", "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.output) == [{"problem": "orphan", "path": "run1/junk.npy", "dataset_id": ""}]
    result = runner.invoke(main, ["verify", str(root), "--min-age", "0", "--remove-orphans"])
    assert result.exit_code == 0 and "orphan-removed" in result.output
    result = runner.invoke(main, ["verify", str(root)])
    assert result.exit_code == 0 and "2 dataset file(s) checked; OK" in result.output
    result = runner.invoke(main, ["verify", str(tmp_path / "none")])
    assert result.exit_code == 1 and "is not a data repository" in result.output
