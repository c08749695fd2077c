# SPDX-License-Identifier: GPL-3.0-or-later
"""Readers (queries, find, get) running while writers put, in other processes and in threads of one
process: a reader never finds a dataset whose file cannot be read, and never loses one it saw."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _transfer_fixtures import BACKENDS, new_repo

from skystack.butler import Butler, DatasetType

N_WRITERS = 2
N_PUTS = 20
N_READERS = 2
DTYPE = DatasetType("d", ("instrument", "detector"), "StructuredDataDict")


def _setup(butler: Butler) -> None:
    butler.registry.insert_dimension_records("instrument", [{"name": "Cam"}])
    butler.registry.insert_dimension_records(
        "detector", [{"instrument": "Cam", "id": i} for i in range(N_PUTS)]
    )
    butler.registry.register_dataset_type(DTYPE)


def _write(butler: Butler, worker: int) -> None:
    for i in range(N_PUTS):
        butler.put({"worker": worker, "i": i}, "d", instrument="Cam", detector=i, run=f"w{worker}")


def _read_until_complete(butler: Butler, total: int, timeout: float = 120.0) -> list[int]:
    """Query, find and get everything visible until ``total`` datasets are; the counts seen."""
    counts: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        butler.registry.refresh()
        runs = butler.registry.query_collections("w*")
        refs = butler.query_datasets("d", collections=runs, find_first=False) if runs else []
        for ref in refs:
            value = butler.get(ref)
            assert (f"w{value['worker']}", value["i"]) == (ref.run, ref.data_id["detector"])
            found = butler.find_dataset("d", ref.data_id, collections=ref.run)
            assert found == ref
        counts.append(len(refs))
        if len(refs) == total:
            return counts
        if time.monotonic() > deadline:
            raise TimeoutError(f"saw only {len(refs)} of {total} datasets")


def _writer_process(root: str, worker: int, queue: Any) -> None:
    try:
        _write(Butler(root), worker)
        queue.put((f"w{worker}", None))
    except BaseException as err:
        queue.put((f"w{worker}", f"{type(err).__name__}: {err}"))


def _reader_process(root: str, reader: int, queue: Any) -> None:
    try:
        counts = _read_until_complete(Butler(root, writeable=False), N_WRITERS * N_PUTS)
        problem = None if counts == sorted(counts) else f"counts went down: {counts}"
        queue.put((f"r{reader}", problem))
    except BaseException as err:
        queue.put((f"r{reader}", f"{type(err).__name__}: {err}"))


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_readers_and_writers_in_processes(backend: str, tmp_path: Path) -> None:
    with new_repo(backend, tmp_path / "repo") as butler:
        _setup(butler)
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        root = str(butler.root)
        procs = [ctx.Process(target=_reader_process, args=(root, r, queue)) for r in range(N_READERS)]
        procs += [ctx.Process(target=_writer_process, args=(root, w, queue)) for w in range(N_WRITERS)]
        for p in procs:
            p.start()
        results = dict(queue.get(timeout=180) for _ in procs)
        for p in procs:
            p.join(timeout=60)
        assert results == dict.fromkeys(
            [*(f"r{r}" for r in range(N_READERS)), *(f"w{w}" for w in range(N_WRITERS))]
        )
        assert butler.verify().ok


def test_reader_threads_share_a_butler_with_a_writer(tmp_path: Path) -> None:
    butler = Butler.create(tmp_path / "repo")
    _setup(butler)
    errors: list[BaseException] = []
    counts: dict[int, list[int]] = {}

    def read(index: int) -> None:
        try:
            counts[index] = _read_until_complete(butler, N_WRITERS * N_PUTS, timeout=60)
        except BaseException as err:
            errors.append(err)

    readers = [threading.Thread(target=read, args=(i,)) for i in range(3)]
    for thread in readers:
        thread.start()
    for worker in range(N_WRITERS):
        _write(butler, worker)
    for thread in readers:
        thread.join(timeout=90)
    assert not errors, errors
    assert all(c == sorted(c) and c[-1] == N_WRITERS * N_PUTS for c in counts.values()) and len(counts) == 3
    butler.close()
