# SPDX-License-Identifier: GPL-3.0-or-later
"""Export, import and transfer of datasets between repositories: round trips of raws, calibrations
with validity ranges and a catalog (SQLite, and SQLite -> PostgreSQL when enabled), idempotency,
selection, transfer modes, conflicts and crash safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from _transfer_fixtures import (
    BACKENDS,
    CALIB,
    CATALOG_RUN,
    CHAIN,
    INSTRUMENT,
    TAGGED,
    VISIT_ELEMENTS,
    all_refs,
    assert_same_datasets,
    catalog,
    certifications,
    collections,
    make_source,
    new_repo,
    records,
    small_exposure,
)

from skystack.butler import (
    Butler,
    ConflictingDefinitionError,
    DatasetType,
    DatastoreError,
    ExportFormatError,
    RegistryError,
    Timespan,
)
from skystack.butler.queries import UnknownIdentifierError
from skystack.sim import SimulationResult, SimulatorConfig, simulate

ALL_ELEMENTS = ("physical_filter", *VISIT_ELEMENTS)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return simulate(SimulatorConfig.preset("tiny"), tmp_path_factory.mktemp("sim"))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, sim: SimulationResult) -> Butler:
    return make_source(tmp_path_factory.mktemp("source") / "repo", sim.outdir)


def _check_round_trip(source: Butler, dest: Butler, *, visits: bool = True) -> None:
    ids = set(all_refs(source))
    assert set(all_refs(dest)) == ids
    assert_same_datasets(source, dest, ids)
    assert records(dest) == records(source)
    if visits:
        assert records(dest, VISIT_ELEMENTS) == records(source, VISIT_ELEMENTS)
    assert collections(dest) == collections(source)
    assert certifications(dest) == certifications(source)
    assert len(certifications(dest)) == 4 + 6  # two biases x two ranges, six curated calibrations
    src_tagged = source.query_datasets("raw", collections=TAGGED)
    assert {r.id for r in dest.query_datasets("raw", collections=TAGGED)} == {r.id for r in src_tagged}
    # Calibrations are found by time in the destination exactly as in the source.
    exposures = sorted(
        source.registry.query_dimension_records("exposure"), key=lambda r: r.timespan.begin_nsec
    )
    for exposure in (exposures[0], exposures[-1]):
        kw = {"instrument": INSTRUMENT, "detector": 1, "exposure": exposure.id}
        expected = source.find_dataset("bias", collections=CHAIN, **kw)
        assert expected is not None and dest.find_dataset("bias", collections=CHAIN, **kw) == expected
        assert np.array_equal(
            dest.get("bias", collections=CHAIN, **kw).image.array,
            source.get("bias", collections=CHAIN, **kw).image.array,
        )
    got = dest.get(
        "src",
        collections=CHAIN,
        instrument=INSTRUMENT,
        visit=records(source, ("visit",))["visit"][0].id,
        detector=0,
    )
    assert np.array_equal(got["flux"], catalog()["flux"])
    raw = src_tagged[0]
    assert np.array_equal(dest.get(raw)[1].data, source.get(raw)[1].data)
    kw = {"instrument": INSTRUMENT, "detector": 0, "exposure": exposures[0].id}
    crosstalk = dest.get("crosstalk", collections=CHAIN, **kw)
    assert np.array_equal(
        crosstalk["coefficients"], source.get("crosstalk", collections=CHAIN, **kw)["coefficients"]
    )
    assert dest.verify(check_checksums=True).ok


def test_export_import_round_trip_is_idempotent(source: Butler, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    result = source.export_datasets(
        folder / "export.yaml", collections=CHAIN, directory=folder, include_elements=ALL_ELEMENTS
    )
    n = len(all_refs(source))
    assert len(result.refs) == n and result.n_files == n and not result.without_files
    assert set(result.collections) == set(collections(source))
    text = yaml.safe_load((folder / "export.yaml").read_text())
    assert text["format"] == "skystack-butler-export" and text["files_root"] == "."
    assert all(not Path(d["path"]).is_absolute() for g in text["datasets"] for d in g["datasets"])
    with Butler.create(tmp_path / "dest") as dest:
        imported = dest.import_datasets(folder, check_checksums=True)
        assert len(imported.imported) == n and not imported.skipped and imported.n_certifications == 10
        _check_round_trip(source, dest)
        again = dest.import_datasets(folder / "export.yaml")
        assert not again.imported and len(again.skipped) == n
        assert again.n_records == 0 and again.n_certifications == 0
        _check_round_trip(source, dest)
        assert not dest.verify(min_age=0).orphans


@pytest.mark.parametrize("backend", BACKENDS)
def test_transfer_from_sqlite(source: Butler, tmp_path: Path, backend: str) -> None:
    with new_repo(backend, tmp_path / "dest") as dest:
        result = dest.transfer_from(source, collections=CHAIN, include_elements=ALL_ELEMENTS)
        assert len(result.imported) == len(all_refs(source))
        _check_round_trip(source, dest)
        again = dest.transfer_from(source, collections=CHAIN, include_elements=ALL_ELEMENTS)
        assert not again.imported and again.n_records == 0


def test_selection_refs_and_json(source: Butler, tmp_path: Path) -> None:
    result = source.export_datasets(
        tmp_path / "science.json",
        collections=CHAIN,
        where="exposure.observation_type = 'science' AND detector = 0",
    )
    # Only raws have an exposure: the other types are skipped, saying why.
    assert {r.dataset_type.name for r in result.refs} == {"raw"} and len(result.refs) == 2
    assert "src" in result.skipped_types and "where clause does not apply" in result.skipped_types["src"]
    data = json.loads((tmp_path / "science.json").read_text())
    assert data["files_root"] == str(source.root)  # no directory: the files stay in the source
    assert {c["name"] for c in data["collections"]} >= {CHAIN, CALIB, f"{INSTRUMENT}/raw/all"}
    exposures = {
        e["id"] for e in next(b for b in data["dimension_records"] if b["element"] == "exposure")["records"]
    }
    assert exposures == {r.data_id["exposure"] for r in result.refs}
    with Butler.create(tmp_path / "dest") as dest:
        dest.import_datasets(tmp_path / "science.json", transfer="symlink")
        refs = dest.query_datasets("raw", collections=CHAIN)
        assert {r.id for r in refs} == {r.id for r in result.refs}
        path = Path(dest.get_uri(refs[0]).removeprefix("file://"))
        assert path.is_symlink() and path.resolve().is_relative_to(source.root)
        # Another selection by refs into the same repository adds to it.
        cat = source.query_datasets("src", collections=CATALOG_RUN)
        more = dest.transfer_from(source, cat, transfer="direct")
        assert [r.id for r in more.imported] == [cat[0].id]
        assert dest.get_uri(cat[0]) == source.get_uri(cat[0])  # direct: the source's own file
        assert dest.registry.get_collection_type(CATALOG_RUN).name == "RUN"
    with pytest.raises(ValueError, match="cannot transfer datasets from repository .* into itself"):
        source.transfer_from(source, collections=CHAIN)
    with pytest.raises(TypeError, match="either refs or a selection"):
        source.export_datasets(tmp_path / "x.yaml", refs=cat, collections=CHAIN)
    with pytest.raises(UnknownIdentifierError, match="nonsense"):
        source.export_datasets(tmp_path / "x.yaml", collections=CHAIN, where="nonsense = 3")
    with pytest.raises(ExportFormatError, match="must end in .yaml, .yml or .json"):
        source.export_datasets(tmp_path / "x.txt", collections=CHAIN)
    with pytest.raises(DatastoreError, match="unknown export transfer mode 'move'"):
        source.export_datasets(
            tmp_path / "x.yaml", collections=CHAIN, directory=tmp_path / "d", transfer="move"
        )


def test_hard_links_and_moves(source: Butler, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    source.export_datasets(folder / "e.yaml", collections=CATALOG_RUN, directory=folder, transfer="link")
    ((info),) = source.datastore.get_records(
        [r.id for r in source.query_datasets("src", collections=CATALOG_RUN)]
    ).values()
    exported = folder / info.path
    assert exported.stat().st_ino == source.datastore.path_of(info).stat().st_ino
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    with Butler.create(tmp_path / "dest") as dest:
        dest.import_datasets(copy / "e.yaml", transfer="move")
        assert not (copy / info.path).exists()  # moved into the repository
        assert dest.verify().ok


# -- errors: nothing is imported ------------------------------------------------------------------


@pytest.fixture
def exported(source: Butler, tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    source.export_datasets(folder / "export.yaml", collections=CHAIN, directory=folder)
    return folder


def _empty(dest: Butler) -> bool:
    return not all_refs(dest) and not list(dest.datastore.root.rglob("*.fits"))


def test_missing_and_damaged_files(exported: Path, tmp_path: Path) -> None:
    data = yaml.safe_load((exported / "export.yaml").read_text())
    first = exported / data["datasets"][0]["datasets"][0]["path"]
    with Butler.create(tmp_path / "dest") as dest:
        first.write_bytes(first.read_bytes()[:100])
        with pytest.raises(
            DatastoreError, match=f"1 file\\(s\\) of the import have another size.*{first.name}"
        ):
            dest.import_datasets(exported)
        first.unlink()
        with pytest.raises(DatastoreError, match=f"1 file\\(s\\) of the import are missing: .*{first.name}"):
            dest.import_datasets(exported)
        assert _empty(dest) and not dest.registry.query_collections()


def test_checksum_mismatch(exported: Path, tmp_path: Path) -> None:
    data = yaml.safe_load((exported / "export.yaml").read_text())
    group = next(g for g in data["datasets"] if g["dataset_type"] == "crosstalk")
    path = exported / group["datasets"][0]["path"]
    text = path.read_bytes()
    path.write_bytes(text.replace(b"0", b"1", 1))  # same size, other content
    with Butler.create(tmp_path / "dest") as dest:
        with pytest.raises(DatastoreError, match="another checksum than recorded"):
            dest.import_datasets(exported, check_checksums=True)
        assert _empty(dest)


def test_conflicts_are_clear_and_change_nothing(source: Butler, exported: Path, tmp_path: Path) -> None:
    with Butler.create(tmp_path / "dest") as dest:
        reg = dest.registry
        reg.insert_dimension_records("instrument", [{"name": INSTRUMENT, "detector_max": 7}])
        with pytest.raises(
            ConflictingDefinitionError,
            match="1 imported instrument record\\(s\\) differ.*detector_max: stored 7 vs imported 2",
        ):
            dest.import_datasets(exported)
        assert _empty(dest)
    with Butler.create(tmp_path / "dest2") as dest:
        dest.registry.register_dataset_type(DatasetType("src", ("instrument",), "SourceCatalog"))
        with pytest.raises(
            ConflictingDefinitionError, match="'src' is registered as src\\(dimensions=\\(instrument\\)"
        ):
            dest.import_datasets(exported)
        assert _empty(dest)
    with Butler.create(tmp_path / "dest3") as dest:
        # Another dataset already holds the catalog's data ID in its run.
        dest.transfer_from(source, source.query_datasets("raw", collections=f"{INSTRUMENT}/raw/all"))
        visit = source.registry.query_dimension_records("visit")[0]
        dest.registry.insert_dimension_records("visit", [visit])
        other = dest.put(
            catalog(),
            DatasetType("src", ("instrument", "visit", "detector"), "SourceCatalog"),
            instrument=INSTRUMENT,
            visit=visit.id,
            detector=0,
            run=CATALOG_RUN,
        )
        with pytest.raises(
            ConflictingDefinitionError,
            match=f"run '{CATALOG_RUN}' already holds other 'src' datasets.*{other.id}",
        ):
            dest.import_datasets(exported)
        assert len(all_refs(dest)) == 13  # 12 raws and the other catalog: nothing added
    with Butler.create(tmp_path / "dest4") as dest:
        dest.registry.register_collection(
            CHAIN, __import__("skystack.butler", fromlist=["CollectionType"]).CollectionType.CHAINED
        )
        dest.registry.register_run("elsewhere")
        dest.registry.set_collection_chain(CHAIN, ["elsewhere"])
        with pytest.raises(
            ConflictingDefinitionError, match=f"chained collection '{CHAIN}' has children \\['elsewhere'\\]"
        ):
            dest.import_datasets(exported)
        assert not all_refs(dest)


def test_calibration_overlap_conflict(source: Butler, exported: Path, tmp_path: Path) -> None:
    with Butler.create(tmp_path / "dest") as dest:
        dest.transfer_from(source, source.query_datasets("raw", collections=f"{INSTRUMENT}/raw/all"))
        bias = DatasetType("bias", ("instrument", "detector"), "Exposure", is_calibration=True)
        mine = dest.put(small_exposure(99), bias, instrument=INSTRUMENT, detector=0, run="mine")
        from skystack.butler import CollectionType

        dest.registry.register_collection(CALIB, CollectionType.CALIBRATION)
        dest.registry.certify(CALIB, [mine], Timespan.from_nsec(None, None))
        before = set(all_refs(dest))
        with pytest.raises(
            ConflictingDefinitionError, match="'bias' for .*detector.* is already certified in"
        ):
            dest.import_datasets(exported)
        assert set(all_refs(dest)) == before and dest.verify(min_age=0).ok


def test_bad_export_files(tmp_path: Path, exported: Path) -> None:
    with Butler.create(tmp_path / "dest") as dest:
        with pytest.raises(ExportFormatError, match="holds no export file"):
            dest.import_datasets(tmp_path)
        with pytest.raises(ExportFormatError, match="does not exist"):
            dest.import_datasets(tmp_path / "nope.yaml")
        (tmp_path / "other.yaml").write_text("a: 1\n")
        with pytest.raises(ExportFormatError, match="is not a skystack export file"):
            dest.import_datasets(tmp_path / "other.yaml")
        text = (exported / "export.yaml").read_text()
        (tmp_path / "newer.yaml").write_text(text.replace("version: 1\n", "version: 7\n", 1))
        with pytest.raises(
            ExportFormatError, match="has version 7; this skystack reads versions 1 to 1; upgrade"
        ):
            dest.import_datasets(tmp_path / "newer.yaml")
        (tmp_path / "universe.yaml").write_text(
            text.replace(
                "universe: {namespace: skystack, version: 1}", "universe: {namespace: other, version: 3}"
            )
        )
        with pytest.raises(ExportFormatError, match="dimension universe other v3"):
            dest.import_datasets(tmp_path / "universe.yaml", directory=exported)
        (tmp_path / "typo.yaml").write_text(text.replace("storage_class:", "storage_klass:", 1))
        with pytest.raises(ExportFormatError, match="(?s)is malformed.*storage_klass"):
            dest.import_datasets(tmp_path / "typo.yaml")
        first = yaml.safe_load(text)["datasets"][0]["datasets"][0]["path"]
        (exported / "climb.yaml").write_text(text.replace(first, f"../../{first}", 1))
        with pytest.raises(ExportFormatError, match="which leaves the export folder"):
            dest.import_datasets(exported / "climb.yaml")
        (tmp_path / "broken.yaml").write_text("format: [unclosed\n")
        with pytest.raises(ExportFormatError, match="cannot parse export file"):
            dest.import_datasets(tmp_path / "broken.yaml")
        with pytest.raises(DatastoreError, match="unknown transfer mode 'teleport'"):
            dest.import_datasets(exported, transfer="teleport")
        assert _empty(dest)
    readonly = Butler(tmp_path / "dest", writeable=False)
    with pytest.raises(RegistryError, match="cannot import datasets: this Butler is read-only"):
        readonly.import_datasets(exported)


# -- crash safety ------------------------------------------------------------------------------------

_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from skystack.butler import Butler
    from skystack.butler.datastore import FileDatastore

    calls = [0]
    original = FileDatastore.commit_file

    def commit_then_die(self, temporary, final):
        original(self, temporary, final)
        calls[0] += 1
        if calls[0] == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)

    FileDatastore.commit_file = commit_then_die
    Butler(sys.argv[1]).import_datasets(sys.argv[2])
    """
)


def test_sigkill_during_import_leaves_no_dataset_without_file(exported: Path, tmp_path: Path) -> None:
    n = sum(len(g["datasets"]) for g in yaml.safe_load((exported / "export.yaml").read_text())["datasets"])
    Butler.create(tmp_path / "dest").close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", _KILLER, str(tmp_path / "dest"), str(exported), "5"],
        env=env,
        capture_output=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    with Butler(tmp_path / "dest") as dest:
        assert not all_refs(dest)  # the transaction never committed
        report = dest.verify(min_age=0)
        # Five files were renamed to their final names, the others still have staging names.
        assert not report.missing and report.n_records == 0 and len(report.orphans) == n
        assert sum(not Path(p).name.endswith(".tmp") for p in report.orphans) == 5
        result = dest.import_datasets(exported)  # a retry completes, writing over the renamed orphans
        assert len(result.imported) == n
        report = dest.verify(min_age=0, remove_orphans=True)
        assert report.ok and report.n_records == n and len(report.removed) == n - 5
        assert all(Path(p).name.endswith(".tmp") for p in report.removed)
        assert dest.verify(min_age=0).ok
