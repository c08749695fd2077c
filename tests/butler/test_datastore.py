# SPDX-License-Identifier: GPL-3.0-or-later
"""File datastore: templates, storage classes, verify, and crash consistency under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from skystack.butler import Butler, DatasetType, StorageClassError, get_storage_class
from skystack.butler.datastore import PathTemplate, TemplateError
from skystack.butler.datastore._templates import escape_value
from skystack.butler.storage_classes import storage_class_names

# -- templates ------------------------------------------------------------------------------------


def test_template_optional_fields_and_separators() -> None:
    t = PathTemplate(
        "{run}/{dataset_type}/{band:?}/{dataset_type}_{instrument:?}_{visit:?}_{detector:?}_{run}"
    )
    assert (
        t.format(
            {"run": "r", "dataset_type": "calexp", "band": "g", "instrument": "C", "visit": 5, "detector": 2}
        )
        == "r/calexp/g/calexp_C_5_2_r"
    )
    assert t.format({"run": "u/a/r", "dataset_type": "d", "visit": 5}) == "u/a/r/d/d_5_u/a/r"
    t2 = PathTemplate("{run}/{band:?}_{visit:?}-{detector}")
    assert t2.format({"run": "r", "detector": 1}) == "r/1"
    assert t2.format({"run": "r", "visit": 3, "detector": 1}) == "r/3-1"
    assert t2.format({"run": "r", "detector": 1}, unused=["x"]) == "r/1_x"


def test_template_escaping_is_injective_and_safe() -> None:
    values = ["a/b", "a_b", "a%2Fb", "..", ".", "", "x y", "-1", "é"]
    escaped = [escape_value(v) for v in values]
    assert len(set(escaped)) == len(values)
    assert all("/" not in e and e not in ("", ".", "..") for e in escaped)
    t = PathTemplate("{run}/{dataset_type}_{band}")
    assert t.format({"run": "r", "dataset_type": "d", "band": "../../etc"}) == "r/d_..%2F..%2Fetc"


def test_template_errors() -> None:
    for bad, message in [
        ("/abs/{run}", "relative path"),
        ("{run}/../x", r"'\.\.' path segment"),
        ("{run}/{oops", "unbalanced"),
        ("{visit}/x", "must use {run}"),
    ]:
        with pytest.raises(TemplateError, match=message):
            PathTemplate(bad)
    with pytest.raises(
        TemplateError, match=r"needs \{visit\}.*known fields: dataset_type, run.*\{visit:\?\}"
    ):
        PathTemplate("{run}/{visit}").format({"run": "r", "dataset_type": "d"})


# -- storage classes ------------------------------------------------------------------------------


def test_storage_class_lookup_errors() -> None:
    assert {"Exposure", "SourceCatalog", "NumpyArray", "StructuredDataDict", "Config"} <= set(
        storage_class_names()
    )
    with pytest.raises(
        StorageClassError, match="unknown storage class 'Bogus'; known storage classes: .*Exposure"
    ):
        get_storage_class("Bogus")
    exposure = get_storage_class("Exposure")
    assert exposure.component_storage_class("wcs").name == "SkyWcs"
    with pytest.raises(StorageClassError, match="no component 'pixels'; its components: .*visit_info"):
        exposure.component_storage_class("pixels")
    exposure.check_parameters({"bbox": None})
    with pytest.raises(StorageClassError, match="valid parameters: bbox"):
        exposure.check_parameters({"bbox": None, "columns": []})
    with pytest.raises(StorageClassError, match="cannot store a numpy.ndarray as storage class 'Exposure'"):
        exposure.check_object(np.zeros(3))
    assert get_storage_class("SourceCatalog").converter_to("DataFrame").__name__ == "catalog_to_pandas"


def test_numpy_object_arrays_refused(tmp_path: Path) -> None:
    butler = Butler.create(tmp_path / "repo", run="r")
    butler.registry.register_dataset_type(DatasetType("a", (), "NumpyArray"))
    with pytest.raises(TypeError, match="would be pickled"):
        butler.put(np.array([{}, 1], dtype=object), "a")
    report = butler.verify()
    assert report.ok and report.orphans == [] and report.n_records == 0  # temporary file removed


# -- verify and crash consistency -----------------------------------------------------------------


def test_verify_orphans_and_min_age(tmp_path: Path) -> None:
    butler = Butler.create(tmp_path / "repo", run="r")
    butler.registry.register_dataset_type(DatasetType("a", (), "NumpyArray"))
    butler.put(np.arange(3), "a")
    orphan = butler.root / "r" / "stray.npy"
    orphan.write_bytes(b"x")
    partial = butler.root / "r" / ".a_r.npy.123.tmp"
    partial.write_bytes(b"y")
    report = butler.verify(min_age=3600)
    assert report.orphans == [] and report.ok
    report = butler.verify()
    assert report.orphans == ["r/.a_r.npy.123.tmp", "r/stray.npy"] and not report.ok
    report = butler.verify(remove_orphans=True)
    assert report.removed == report.orphans and report.ok
    assert not orphan.exists() and not partial.exists()
    assert butler.verify().ok


_CRASH_WRITER = """
import sys
import numpy as np
from skystack.butler import Butler
butler = Butler(sys.argv[1], run="crash")
rng = np.random.default_rng(int(sys.argv[2]))
i = 0
while True:
    visit = int(sys.argv[2]) * 100000 + i
    butler.put(rng.normal(size=(64, 64)), "arr", instrument="Cam", visit=visit, detector=0)
    i += 1
    if i == 1:
        print("started", flush=True)
"""


def test_crash_consistency_sigkill(tmp_path: Path) -> None:
    butler = Butler.create(tmp_path / "repo")
    reg = butler.registry
    reg.insert_dimension_records("instrument", [{"name": "Cam"}])
    reg.insert_dimension_records("physical_filter", [{"instrument": "Cam", "name": "Cam-r", "band": "r"}])
    reg.insert_dimension_records("detector", [{"instrument": "Cam", "id": 0}])
    reg.insert_dimension_records(
        "visit",
        [
            {"instrument": "Cam", "id": s * 100000 + i, "physical_filter": "Cam-r"}
            for s in range(6)
            for i in range(3000)
        ],
    )
    reg.register_dataset_type(DatasetType("arr", ("instrument", "visit", "detector"), "NumpyArray"))
    script = tmp_path / "writer.py"
    script.write_text(_CRASH_WRITER)
    rng = np.random.default_rng(11)
    for seed in range(6):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(butler.root), str(seed)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        time.sleep(float(rng.uniform(0.05, 0.4)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
    reg.refresh()
    report = butler.verify()
    assert report.missing == [] and report.bad_size == []
    refs = butler.query_datasets("arr", collections="crash")
    assert len(refs) == report.n_records > 6
    for ref in refs:  # every dataset the registry knows reads back completely
        assert butler.get(ref).shape == (64, 64)
    cleaned = butler.verify(remove_orphans=True)
    assert cleaned.removed == report.orphans and butler.verify().orphans == []
    assert butler.verify().ok
