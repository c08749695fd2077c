# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the export/import/transfer tests: a source repository with raws, calibrations with
validity ranges, a catalog, a tagged and a chained collection; repository comparison."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skystack.butler import Butler, CollectionType, DatasetRef, DatasetType, Timespan
from skystack.butler.datastore import file_checksum
from skystack.butler.registry._exchange import fetch_certifications

POSTGRES_URL = os.environ.get(
    "SKYSTACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
INSTRUMENT = "SimCamTiny"
CALIB = f"{INSTRUMENT}/calib"
CHAIN = "everything"
TAGGED = "tagged/best"
CATALOG_RUN = "u/test/catalogs"
ELEMENTS = ("instrument", "physical_filter", "detector", "exposure")
VISIT_ELEMENTS = ("visit", "visit_definition", "visit_detector_region")


def postgres_enabled() -> bool:
    return os.environ.get("CI", "").lower() == "true" or bool(os.environ.get("SKYSTACK_TEST_POSTGRES"))


BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not postgres_enabled(), reason="set CI=true or SKYSTACK_TEST_POSTGRES=1"),
        ],
    ),
]


@contextmanager
def new_repo(backend: str, root: Path, **kwargs: Any) -> Iterator[Butler]:
    """A new repository on SQLite, or on PostgreSQL in its own schema (dropped afterwards)."""
    namespace = None
    if backend == "sqlite":
        butler = Butler.create(root, **kwargs)
    else:
        namespace = f"test_{uuid.uuid4().hex[:12]}"
        butler = Butler.create(root, db=POSTGRES_URL, namespace=namespace, **kwargs)
    try:
        yield butler
    finally:
        butler.close()
        if namespace is not None:
            import sqlalchemy as sa

            engine = sa.create_engine(POSTGRES_URL)
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE'))
            engine.dispose()


def small_exposure(seed: int) -> Any:
    from skystack.image import Exposure

    rng = np.random.default_rng(seed)
    shape = (12, 16)
    return Exposure.from_arrays(
        rng.normal(100, 10, shape).astype(np.float32),
        np.zeros(shape, dtype=np.int32),
        np.ones(shape, dtype=np.float32),
    )


def catalog() -> Any:
    from skystack.table import SourceCatalog

    rng = np.random.default_rng(11)
    return SourceCatalog.from_columns({"id": np.arange(30, dtype=np.int64), "flux": rng.normal(size=30)})


def make_source(root: Path, sim_outdir: Path) -> Butler:
    """A repository with the tiny simulation plus biases valid in two ranges, a catalog, a tagged
    collection and a chain of everything (checksums recorded)."""
    from skystack.instruments.sim_ingest import ingest_simulation

    butler = Butler.create(root, checksum=True)
    ingest_simulation(butler, sim_outdir)
    reg = butler.registry
    exposures = sorted(reg.query_dimension_records("exposure"), key=lambda r: r.timespan.begin_nsec)
    cut = exposures[-1].timespan.begin_nsec
    bias = DatasetType("bias", ("instrument", "detector"), "Exposure", is_calibration=True)
    for n, span in ((1, Timespan.from_nsec(None, cut)), (2, Timespan.from_nsec(cut, None))):
        refs = [
            butler.put(
                small_exposure(10 * n + d), bias, instrument=INSTRUMENT, detector=d, run=f"calib/bias/{n}"
            )
            for d in (0, 1)
        ]
        reg.certify(CALIB, refs, span)
    visit = reg.query_dimension_records("visit")[0].id
    src = DatasetType("src", ("instrument", "visit", "detector"), "SourceCatalog")
    butler.put(catalog(), src, instrument=INSTRUMENT, visit=visit, detector=0, run=CATALOG_RUN)
    reg.register_collection(TAGGED, CollectionType.TAGGED)
    raws = butler.query_datasets("raw", collections=f"{INSTRUMENT}/raw/all", where="detector = 1")
    reg.associate(TAGGED, raws[:2])
    reg.register_collection(CHAIN, CollectionType.CHAINED)
    reg.set_collection_chain(CHAIN, [f"{INSTRUMENT}/defaults", CATALOG_RUN, TAGGED])
    return butler


def all_refs(butler: Butler) -> dict[uuid.UUID, DatasetRef]:
    runs = butler.registry.query_collections(collection_types=[CollectionType.RUN])
    out: dict[uuid.UUID, DatasetRef] = {}
    if not runs:
        return out
    for dtype in butler.registry.query_dataset_types():
        out.update((r.id, r) for r in butler.registry.query_datasets_simple(dtype, runs, find_first=False))
    return out


def records(butler: Butler, elements: tuple[str, ...] = ELEMENTS) -> dict[str, list[Any]]:
    return {e: butler.registry.fetch_dimension_records(e) for e in elements}


def collections(butler: Butler) -> dict[str, tuple[str, tuple[str, ...]]]:
    reg = butler.registry
    out = {}
    for name in reg.query_collections():
        ctype = reg.get_collection_type(name)
        chain = reg.get_collection_chain(name) if ctype is CollectionType.CHAINED else ()
        out[name] = (ctype.name, chain)
    return out


def certifications(butler: Butler, collection: str = CALIB) -> set[tuple[uuid.UUID, int, int]]:
    return {(r.id, s.begin_nsec, s.end_nsec) for r, s in fetch_certifications(butler.registry, collection)}


def assert_same_datasets(
    source: Butler, dest: Butler, ids: set[uuid.UUID], compare: Callable[[Any, Any], None] | None = None
) -> None:
    """Every dataset of ``ids``: same type, run and data ID, identical file bytes and checksum."""
    src_refs, dest_refs = all_refs(source), all_refs(dest)
    assert ids <= dest_refs.keys()
    src_infos = source.datastore.get_records(list(ids))
    dest_infos = dest.datastore.get_records(list(ids))
    for i in ids:
        a, b = src_refs[i], dest_refs[i]
        assert (a.dataset_type, a.run, a.data_id) == (b.dataset_type, b.run, b.data_id)
        assert dest_infos[i].checksum == src_infos[i].checksum
        assert file_checksum(dest.datastore.path_of(dest_infos[i])) == file_checksum(
            source.datastore.path_of(src_infos[i])
        )
        assert dest_infos[i].file_size == src_infos[i].file_size
