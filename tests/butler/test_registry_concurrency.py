# SPDX-License-Identifier: GPL-3.0-or-later
"""Several processes writing to one registry at once: no errors, no lost writes."""

from __future__ import annotations

import multiprocessing
from typing import TYPE_CHECKING

import pytest

from skystack.butler import DatasetIdGenEnum, DatasetType, Registry

if TYPE_CHECKING:
    from conftest import RegistryFactory

N_PROCESSES = 4
N_PER_PROCESS = 200


def _writer(url: str, namespace: str | None, worker: int, queue: multiprocessing.Queue) -> None:
    try:
        registry = Registry.open(url, namespace=namespace)
        registry.register_run(f"run{worker}")
        registry.register_run("shared")  # every process registers the same run: must not fail
        registry.insert_dimension_records(
            "exposure",
            [
                {"instrument": "Cam", "id": 1000 * worker + i, "physical_filter": "Cam-r"}
                for i in range(N_PER_PROCESS)
            ],
        )
        ids = [
            {"instrument": "Cam", "exposure": 1000 * worker + i, "detector": 0} for i in range(N_PER_PROCESS)
        ]
        # Small transactions interleave with the other writers.
        for start in range(0, N_PER_PROCESS, 20):
            registry.insert_datasets("raw", ids[start : start + 20], f"run{worker}")
            registry.insert_datasets(
                "raw", ids[start : start + 20], "shared", id_generation=DatasetIdGenEnum.DATAID_TYPE_RUN
            )
        queue.put((worker, None))
    except BaseException as err:  # report any failure to the parent
        queue.put((worker, f"{type(err).__name__}: {err}"))


def test_concurrent_writers(registry_factory: RegistryFactory) -> None:
    registry = registry_factory.create()
    registry.insert_dimension_records("instrument", [{"name": "Cam"}])
    registry.insert_dimension_records(
        "physical_filter", [{"instrument": "Cam", "name": "Cam-r", "band": "r"}]
    )
    registry.insert_dimension_records("detector", [{"instrument": "Cam", "id": 0}])
    registry.register_dataset_type(DatasetType("raw", ["instrument", "exposure", "detector"], "Exposure"))
    registry.close()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(registry_factory.url, registry_factory.namespace, w, queue))
        for w in range(N_PROCESSES)
    ]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert results == dict.fromkeys(range(N_PROCESSES)), results
    registry = registry_factory.open()
    for w in range(N_PROCESSES):
        refs = registry.query_datasets_simple("raw", f"run{w}")
        assert sorted(r.data_id["exposure"] for r in refs) == [1000 * w + i for i in range(N_PER_PROCESS)]
    shared = registry.query_datasets_simple("raw", "shared")
    assert len(shared) == N_PROCESSES * N_PER_PROCESS
    assert len(registry.fetch_dimension_records("exposure")) == N_PROCESSES * N_PER_PROCESS


@pytest.mark.parametrize("n", [2])
def test_concurrent_registration_of_same_dataset_type(registry_factory: RegistryFactory, n: int) -> None:
    registry = registry_factory.create()
    registry.close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(n) as pool:
        created = pool.starmap(_register_type, [(registry_factory.url, registry_factory.namespace)] * n * 2)
    assert sum(created) == 1
    assert registry_factory.open().get_dataset_type("calexp").storage_class_name == "Exposure"


def _register_type(url: str, namespace: str | None) -> bool:
    registry = Registry.open(url, namespace=namespace)
    try:
        return registry.register_dataset_type(DatasetType("calexp", ["visit", "detector"], "Exposure"))
    finally:
        registry.close()
