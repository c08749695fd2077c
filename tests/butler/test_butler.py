# SPDX-License-Identifier: GPL-3.0-or-later
"""The Butler: put/get round trips of every storage class, components, parameters, conversions,
errors, removal, credentials and concurrent writers (SQLite; PostgreSQL when enabled)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skystack.butler import (
    Butler,
    ConflictingDefinitionError,
    DataIdError,
    DatasetNotFoundError,
    DatasetType,
    DatastoreError,
    MissingDatasetTypeError,
    RegistryError,
    RepoConfigError,
    StorageClassError,
)
from skystack.geom import Box2I

POSTGRES_URL = os.environ.get(
    "SKYSTACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DIMS = ("instrument", "visit", "detector")


def _postgres_enabled() -> bool:
    return os.environ.get("CI", "").lower() == "true" or bool(os.environ.get("SKYSTACK_TEST_POSTGRES"))


BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not _postgres_enabled(), reason="set CI=true or SKYSTACK_TEST_POSTGRES=1"),
        ],
    ),
]


def populate(butler: Butler, n_visits: int = 4, n_detectors: int = 3) -> None:
    """Instrument Cam with filters r/g, detectors and visits (day_obs 20240101 + visit // 2)."""
    reg = butler.registry
    reg.insert_dimension_records("instrument", [{"name": "Cam", "visit_max": 1000, "detector_max": 100}])
    reg.insert_dimension_records(
        "physical_filter",
        [
            {"instrument": "Cam", "name": "Cam-r", "band": "r"},
            {"instrument": "Cam", "name": "Cam-g", "band": "g"},
        ],
    )
    reg.insert_dimension_records("detector", [{"instrument": "Cam", "id": i} for i in range(n_detectors)])
    reg.insert_dimension_records(
        "visit",
        [
            {
                "instrument": "Cam",
                "id": v,
                "physical_filter": "Cam-r" if v % 2 == 0 else "Cam-g",
                "day_obs": 20240101 + v // 2,
            }
            for v in range(n_visits)
        ],
    )


def _drop_schema(namespace: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE'))
    engine.dispose()


def make_repo(backend: str, root: Path) -> tuple[Butler, str | None]:
    if backend == "sqlite":
        return Butler.create(root, run="run1"), None
    import uuid

    namespace = f"test_{uuid.uuid4().hex[:12]}"
    return Butler.create(root, db=POSTGRES_URL, namespace=namespace, run="run1"), namespace


@pytest.fixture(params=BACKENDS)
def butler(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Butler]:
    b, namespace = make_repo(request.param, tmp_path / "repo")
    populate(b)
    yield b
    b.close()
    if namespace is not None:
        _drop_schema(namespace)


def _catalog() -> Any:
    from skystack.table import SourceCatalog

    rng = np.random.default_rng(5)
    return SourceCatalog.from_columns(
        {"id": np.arange(20, dtype=np.int64), "flux": rng.normal(size=20), "x": rng.uniform(0, 100, 20)}
    )


def _exposure() -> Any:
    from astropy.io import fits

    from skystack.geom.wcs import SkyWcs
    from skystack.image import Exposure, VisitInfo
    from skystack.image.psf.gaussian import GaussianPsf

    rng = np.random.default_rng(3)
    shape = (40, 50)
    header = fits.Header(
        {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CRPIX1": 20.5,
            "CRPIX2": 30.0,
            "CRVAL1": 10.0,
            "CRVAL2": -5.0,
            "CD1_1": -5.0e-5,
            "CD1_2": 0.0,
            "CD2_1": 0.0,
            "CD2_2": 5.0e-5,
        }
    )
    return Exposure.from_arrays(
        rng.normal(100, 10, shape).astype(np.float32),
        rng.integers(0, 16, shape).astype(np.int32),
        rng.uniform(1, 5, shape).astype(np.float32),
        xy0=(10, 20),
        wcs=SkyWcs.from_fits_header(header),
        psf=GaussianPsf(2.0),
        visit_info=VisitInfo(exposure_id=7, mjd_tai=60123.5, band="r"),
        metadata={"OBJECT": "field", "EXPTIME": 30.0},
    )


def _register(butler: Butler, name: str, storage_class: str, dims: tuple[str, ...] = DIMS) -> DatasetType:
    dtype = DatasetType(name, dims, storage_class)
    butler.registry.register_dataset_type(dtype)
    return dtype


# -- round trips ----------------------------------------------------------------------------------


def test_round_trip_small_types(butler: Butler) -> None:
    from skystack.config import Config
    from skystack.task import TaskMetadata

    data = {"a": 1, "b": [1.5, "x"], "nested": {"c": None}}
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    metadata = TaskMetadata()
    metadata["n_sources"] = 42
    config = Config()
    cases: list[tuple[str, Any]] = [
        ("StructuredDataDict", data),
        ("StructuredDataDict", {"arr": np.arange(3), "v": np.float64(2.5)}),
        ("NumpyArray", array),
        ("TaskMetadata", metadata),
        ("Config", config),
    ]
    for i, (sc, obj) in enumerate(cases):
        _register(butler, f"thing{i}", sc)
        ref = butler.put(obj, f"thing{i}", instrument="Cam", visit=1, detector=2)
        assert ref.run == "run1"
        back = butler.get(f"thing{i}", {"instrument": "Cam", "visit": 1, "detector": 2})
        if isinstance(obj, np.ndarray):
            assert back.dtype == obj.dtype and np.array_equal(back, obj)
        elif sc == "StructuredDataDict" and "arr" in obj:
            assert np.array_equal(back["arr"], obj["arr"]) and back["v"] == 2.5
        elif sc == "TaskMetadata":
            assert back["n_sources"] == 42
        else:
            assert back == obj
        assert butler.get(ref) is not None


def test_round_trip_persistables(butler: Butler) -> None:
    from skystack.image.psf.gaussian import GaussianPsf

    exposure = _exposure()
    _register(butler, "psf", "Psf")
    _register(butler, "wcs", "SkyWcs")
    butler.put(GaussianPsf(2.5), "psf", instrument="Cam", visit=0, detector=0)
    butler.put(exposure.wcs, "wcs", instrument="Cam", visit=0, detector=0)
    psf = butler.get("psf", instrument="Cam", visit=0, detector=0)
    assert isinstance(psf, GaussianPsf) and psf.to_dict() == GaussianPsf(2.5).to_dict()
    wcs = butler.get("wcs", instrument="Cam", visit=0, detector=0)
    assert np.allclose(wcs.pixel_to_sky(5.0, 7.0), exposure.wcs.pixel_to_sky(5.0, 7.0), rtol=0, atol=1e-12)


def test_exposure_components_and_cutout(butler: Butler) -> None:
    exposure = _exposure()
    _register(butler, "calexp", "Exposure")
    ref = butler.put(exposure, "calexp", instrument="Cam", visit=2, detector=1)
    full = butler.get(ref)
    assert np.array_equal(full.image.array, exposure.image.array)
    assert np.array_equal(full.mask.array, exposure.mask.array)
    bbox = Box2I.from_corners(15, 25, 34, 44)
    cut = butler.get("calexp", instrument="Cam", visit=2, detector=1, parameters={"bbox": bbox})
    assert cut.bbox == bbox
    y0, x0 = 25 - 20, 15 - 10
    assert np.array_equal(cut.image.array, exposure.image.array[y0 : y0 + 20, x0 : x0 + 20])
    assert np.array_equal(cut.variance.array, exposure.variance.array[y0 : y0 + 20, x0 : x0 + 20])
    wcs = butler.get("calexp.wcs", instrument="Cam", visit=2, detector=1)
    assert np.allclose(wcs.pixel_to_sky(30.0, 40.0), exposure.wcs.pixel_to_sky(30.0, 40.0), atol=1e-12)
    assert butler.get("calexp.bbox", instrument="Cam", visit=2, detector=1) == exposure.bbox
    assert butler.get("calexp.visit_info", instrument="Cam", visit=2, detector=1).exposure_id == 7
    assert butler.get("calexp.psf", instrument="Cam", visit=2, detector=1).to_dict() == exposure.psf.to_dict()
    assert butler.get("calexp.metadata", instrument="Cam", visit=2, detector=1)["OBJECT"] == "field"
    image = butler.get("calexp.image", instrument="Cam", visit=2, detector=1, parameters={"bbox": bbox})
    assert np.array_equal(image.array, cut.image.array)
    handle = butler.get_deferred("calexp", instrument="Cam", visit=2, detector=1)
    assert np.array_equal(handle.get(parameters={"bbox": bbox}).image.array, cut.image.array)
    assert handle.get(component="bbox") == exposure.bbox


def test_catalog_columns_and_conversions(butler: Butler) -> None:
    import astropy.table
    import pandas as pd
    import pyarrow as pa

    catalog = _catalog()
    _register(butler, "src", "SourceCatalog")
    butler.put(catalog, "src", instrument="Cam", visit=3, detector=0)
    kw: dict[str, Any] = {"instrument": "Cam", "visit": 3, "detector": 0}
    back = butler.get("src", **kw)
    assert np.array_equal(back["flux"], catalog["flux"])
    part = butler.get("src", parameters={"columns": ["id", "x"]}, **kw)
    assert list(part.schema.names) == ["id", "x"] and np.array_equal(part["x"], catalog["x"])
    table = butler.get("src", storage_class="AstropyTable", **kw)
    assert isinstance(table, astropy.table.Table) and np.array_equal(table["flux"], catalog["flux"])
    frame = butler.get("src", storage_class="DataFrame", parameters={"columns": ["flux"]}, **kw)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["flux"]
    assert np.array_equal(frame["flux"].to_numpy(), catalog["flux"])
    arrow = butler.get("src", storage_class="ArrowTable", **kw)
    assert isinstance(arrow, pa.Table) and arrow.num_rows == 20


def test_table_storage_classes(butler: Butler) -> None:
    import astropy.table
    import pandas as pd
    import pyarrow as pa

    kw: dict[str, Any] = {"instrument": "Cam", "visit": 0, "detector": 1}
    values = np.arange(5, dtype=np.float64) * 1.5
    objs = {
        "ArrowTable": pa.table({"a": values, "b": np.arange(5)}),
        "AstropyTable": astropy.table.Table({"a": values, "b": np.arange(5)}),
        "DataFrame": pd.DataFrame({"a": values, "b": np.arange(5)}),
    }
    for sc, obj in objs.items():
        _register(butler, f"t_{sc.lower()}", sc)
        butler.put(obj, f"t_{sc.lower()}", **kw)
        back = butler.get(f"t_{sc.lower()}", parameters={"columns": ["a"]}, **kw)
        assert type(back) is type(obj)
        column = back["a"] if sc != "ArrowTable" else back.column("a")
        assert np.array_equal(np.asarray(column), values)
        for other in objs:
            if other != sc:
                converted = butler.get(f"t_{sc.lower()}", storage_class=other, **kw)
                assert type(converted) is type(objs[other])


# -- errors ---------------------------------------------------------------------------------------


def test_errors(butler: Butler) -> None:
    _register(butler, "d", "StructuredDataDict")
    _register(butler, "calexp", "Exposure")
    kw: dict[str, Any] = {"instrument": "Cam", "visit": 1, "detector": 0}
    with pytest.raises(MissingDatasetTypeError, match="register it first with butler.registry"):
        butler.put({}, "nosuch", **kw)
    with pytest.raises(DataIdError, match="missing 'detector'"):
        butler.put({}, "d", instrument="Cam", visit=1)
    with pytest.raises(DataIdError, match="unknown data ID key"):
        butler.put({}, "d", bogus=3, **kw)
    with pytest.raises(
        StorageClassError, match="cannot store a builtins.list as storage class 'StructuredDataDict'"
    ):
        butler.put([1, 2], "d", **kw)
    with pytest.raises(DataIdError, match="visit"):
        butler.put({}, "d", instrument="Cam", visit=999, detector=0)
    butler.put({"x": 1}, "d", **kw)
    with pytest.raises(ConflictingDefinitionError, match="already exist in run 'run1'"):
        butler.put({"x": 2}, "d", **kw)
    assert butler.get("d", **kw) == {"x": 1}  # the failed put did not touch the stored file
    with pytest.raises(DatasetNotFoundError, match="no 'd' dataset with data ID"):
        butler.get("d", instrument="Cam", visit=2, detector=0)
    with pytest.raises(StorageClassError, match="unknown read parameter.*'bbox'.*valid parameters: none"):
        butler.get("d", parameters={"bbox": None}, **kw)
    with pytest.raises(StorageClassError, match="has no component 'wcs'"):
        butler.get("d.wcs", **kw)
    with pytest.raises(StorageClassError, match="cannot be converted to 'AstropyTable'"):
        butler.get("d", storage_class="AstropyTable", **kw)
    with pytest.raises(StorageClassError, match="unknown storage class 'Nope'"):
        butler.get("d", storage_class="Nope", **kw)
    butler.put(_exposure(), "calexp", **kw)
    with pytest.raises(StorageClassError, match="no component 'nope'; its components: .*wcs"):
        butler.get("calexp.nope", **kw)
    with pytest.raises(
        StorageClassError, match=r"unknown read parameter\(s\) 'columns'.*valid parameters: bbox"
    ):
        butler.get("calexp", parameters={"columns": ["a"]}, **kw)
    with pytest.raises(RegistryError, match="put needs a run"):
        Butler(butler.root).put({}, "d", **kw)
    with pytest.raises(RegistryError, match="read-only"):
        Butler(butler.root, writeable=False, run="x").put({}, "d", **kw)


def test_corrupt_and_missing_files(butler: Butler) -> None:
    for sc, obj in (
        ("StructuredDataDict", {"a": 1}),
        ("NumpyArray", np.zeros(3)),
        ("Exposure", _exposure()),
        ("SourceCatalog", _catalog()),
    ):
        _register(butler, f"x_{sc.lower()}", sc)
        ref = butler.put(obj, f"x_{sc.lower()}", instrument="Cam", visit=0, detector=2)
        path = Path(butler.get_uri(ref).removeprefix("file://"))
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
        with pytest.raises(DatastoreError, match=f"cannot read dataset .* from file {path}"):
            butler.get(ref)
        path.unlink()
        assert not butler.exists(ref)
        with pytest.raises(DatastoreError, match=f"file {path} of dataset .* is missing"):
            butler.get(ref)
    report = butler.verify()
    assert len(report.missing) == 4 and not report.ok


def test_checksums(tmp_path: Path) -> None:
    butler = Butler.create(tmp_path / "repo", run="r", checksum=True)
    populate(butler)
    _register(butler, "d", "StructuredDataDict")
    ref = butler.put({"value": 12345}, "d", instrument="Cam", visit=0, detector=0)
    path = Path(butler.get_uri(ref).removeprefix("file://"))
    path.write_text(path.read_text().replace("12345", "54321"))  # same size, other content
    assert butler.get(ref) == {"value": 54321}  # not checked by default
    checked = Butler(butler.root, check_checksums=True)
    with pytest.raises(DatastoreError, match="different checksum"):
        checked.get(ref)
    report = butler.verify(check_checksums=True)
    assert [i.dataset_id for i in report.bad_checksum] == [ref.id]


def test_exists_uri_paths_and_queries(butler: Butler) -> None:
    _register(butler, "d", "StructuredDataDict")
    refs = [butler.put({"v": v}, "d", instrument="Cam", visit=v, detector=1) for v in range(4)]
    uri = butler.get_uri("d", instrument="Cam", visit=3, detector=1)
    # default template: run/type/band/day_obs/type_instrument_visit_detector_filter_run
    assert uri.endswith("/repo/run1/d/g/20240102/d_Cam_3_1_Cam-g_run1.json")
    assert butler.exists("d", instrument="Cam", visit=3, detector=1)
    assert not butler.exists("d", instrument="Cam", visit=3, detector=0)
    found = butler.query_datasets("d", collections="run1")
    assert {r.id for r in found} == {r.id for r in refs}
    other = butler.put({"v": -1}, "d", instrument="Cam", visit=0, detector=1, run="u/someone/run2")
    assert "/repo/u/someone/run2/d/r/" in butler.get_uri(other)
    assert butler.get("d", instrument="Cam", visit=0, detector=1, collections=["u/someone/run2", "run1"]) == {
        "v": -1
    }
    assert butler.get("d", instrument="Cam", visit=0, detector=1, collections=["run1", "u/someone/run2"]) == {
        "v": 0
    }


def test_prune_and_remove_runs(butler: Butler) -> None:
    _register(butler, "d", "StructuredDataDict")
    _register(butler, "arr", "NumpyArray")
    refs = [butler.put({"v": v}, "d", instrument="Cam", visit=v, detector=0) for v in range(4)]
    arr = butler.put(np.ones(4), "arr", instrument="Cam", visit=0, detector=0, run="run2")
    paths = [Path(butler.get_uri(r).removeprefix("file://")) for r in refs]
    assert butler.prune_datasets(refs[:2]) == 2
    assert not paths[0].exists() and not paths[1].exists() and paths[2].exists()
    assert not butler.exists(refs[0]) and butler.exists(refs[2])
    assert butler.remove_runs(["run1"]) == 2
    assert not paths[2].exists() and "run1" not in butler.registry.query_collections()
    assert butler.exists(arr)
    report = butler.verify()
    assert report.ok and report.n_records == 1
    from skystack.butler import MissingCollectionError

    with pytest.raises(MissingCollectionError):
        butler.remove_runs(["run1"])


# -- repositories and credentials ----------------------------------------------------------------


def test_repo_create_open_errors(tmp_path: Path) -> None:
    with pytest.raises(RepoConfigError, match="is not a data repository .*butler create"):
        Butler(tmp_path / "nothing")
    Butler.create(tmp_path / "repo").close()
    with pytest.raises(RepoConfigError, match="already holds a data repository"):
        Butler.create(tmp_path / "repo")
    config = (tmp_path / "repo" / "butler.yaml").read_text()
    (tmp_path / "repo" / "butler.yaml").write_text(config.replace("version: 1", "version: 99"))
    with pytest.raises(RepoConfigError, match="newer than this skystack reads.*upgrade"):
        Butler(tmp_path / "repo")


def test_credentials_not_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skystack.butler.repo_config import RepoConfig

    config = RepoConfig(db="postgresql+psycopg://alice:s3cret-pw@db.example.org:5433/survey", namespace="ns")
    config.write(tmp_path)
    text = (tmp_path / "butler.yaml").read_text()
    assert "s3cret-pw" not in text and "alice" not in text
    assert "postgresql+psycopg://db.example.org:5433/survey" in text
    read = RepoConfig.read(tmp_path)
    for var in ("SKYSTACK_DB_USER", "SKYSTACK_DB_PASSWORD", "PGUSER", "PGPASSWORD"):
        monkeypatch.delenv(var, raising=False)
    auth = tmp_path / "pgpass"
    auth.write_text("other.host:*:*:bob:nope\ndb.example.org:5433:survey:alice:from-file\n")
    monkeypatch.setenv("SKYSTACK_DB_AUTH_FILE", str(auth))
    assert read.registry_url(tmp_path) == "postgresql+psycopg://alice:from-file@db.example.org:5433/survey"
    monkeypatch.setenv("SKYSTACK_DB_USER", "carol")
    monkeypatch.setenv("SKYSTACK_DB_PASSWORD", "from-env")
    assert read.registry_url(tmp_path) == "postgresql+psycopg://carol:from-env@db.example.org:5433/survey"


@pytest.mark.postgres
@pytest.mark.skipif(not _postgres_enabled(), reason="set CI=true or SKYSTACK_TEST_POSTGRES=1")
def test_postgres_repo_reopens_without_stored_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy as sa

    butler, namespace = make_repo("postgresql", tmp_path / "repo")
    try:
        url = sa.make_url(POSTGRES_URL)
        stored = (tmp_path / "repo" / "butler.yaml").read_text()
        assert f"{url.username}@" not in stored and "db: postgresql+psycopg://127.0.0.1" in stored
        if url.username:
            monkeypatch.setenv("SKYSTACK_DB_USER", url.username)
        if url.password:
            monkeypatch.setenv("SKYSTACK_DB_PASSWORD", url.password)
        reopened = Butler(tmp_path / "repo")
        assert reopened.registry.query_collections() == butler.registry.query_collections()
        reopened.close()
    finally:
        butler.close()
        assert namespace is not None
        _drop_schema(namespace)


# -- concurrency ----------------------------------------------------------------------------------

N_WRITERS = 3
N_PUTS = 30


def _writer(root: str, worker: int, queue: Any) -> None:
    try:
        butler = Butler(root, run=f"w{worker}")
        for i in range(N_PUTS):
            butler.put(
                {"worker": worker, "i": i},
                "d",
                instrument="Cam",
                visit=i % 4,
                detector=i // 4 % 3,
                run=f"w{worker}_{i // 12}",
            )
        queue.put((worker, None))
    except BaseException as err:
        queue.put((worker, f"{type(err).__name__}: {err}"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_writers(backend: str, tmp_path: Path) -> None:
    butler, namespace = make_repo(backend, tmp_path / "repo")
    try:
        populate(butler)
        _register(butler, "d", "StructuredDataDict")
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        procs = [ctx.Process(target=_writer, args=(str(butler.root), w, queue)) for w in range(N_WRITERS)]
        for p in procs:
            p.start()
        results = dict(queue.get(timeout=120) for _ in procs)
        for p in procs:
            p.join(timeout=60)
        assert results == dict.fromkeys(range(N_WRITERS))
        butler.registry.refresh()
        runs = [f"w{w}_{k}" for w in range(N_WRITERS) for k in range(3)]
        refs = butler.query_datasets("d", collections=runs, find_first=False)
        assert len(refs) == N_WRITERS * N_PUTS
        values = sorted((v["worker"], v["i"]) for v in (butler.get(r) for r in refs))
        assert values == [(w, i) for w in range(N_WRITERS) for i in range(N_PUTS)]
        assert butler.verify().ok
    finally:
        butler.close()
        if namespace is not None:
            _drop_schema(namespace)
