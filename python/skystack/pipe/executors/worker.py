# SPDX-License-Identifier: GPL-3.0-or-later
"""Worker-side state of out-of-process executors (the local pool and Dask).

A worker is given a `WorkerSpec` once: the repository, the path of the saved quantum graph and
the labels to read from it, the records of the tasks' init-inputs and the runner settings. On
first use it opens the repository read-only (only the datastore is used, and the registry only
read for file-name templates), loads the graph and keeps a
`~skystack.pipe.quantum_runner.QuantumRunner` whose tasks are constructed once per label. After
that each request names a quantum by index, with the records of its inputs.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..quantum_runner import QuantumResult, QuantumRunner

if TYPE_CHECKING:
    from skystack.butler import Butler
    from skystack.butler.datastore import StoredFileInfo

__all__ = ["WorkerSpec", "WorkerState", "run_quanta_on_worker", "run_quantum_on_worker"]


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to run quanta of one execution.

    Attributes
    ----------
    token : `str`
        Unique ID of the execution (workers cache their state under it).
    repo : `str`
        Repository root.
    graph_path : `str`
        Saved quantum graph (`~skystack.pipe.graph.QuantumGraph.save`).
    labels : `tuple` [`str`, ...] or `None`
        Tasks to read from the graph (`None`: all); indices refer to the graph read that way.
    init_records : `dict` [`uuid.UUID`, `~skystack.butler.datastore.StoredFileInfo`]
        Records of the tasks' init-inputs.
    timeout : `float` or `None`
        Per-quantum time limit.
    retry_os_errors : `bool`
        Treat `OSError` as transient.
    sys_path : `tuple` [`str`, ...]
        The driver's ``sys.path``, put in front of the worker's so that task modules the driver
        can import (from a notebook's folder, a test directory) are found by forked workers too.
    """

    token: str
    repo: str
    graph_path: str
    labels: tuple[str, ...] | None
    init_records: dict[uuid.UUID, StoredFileInfo]
    timeout: float | None = None
    retry_os_errors: bool = False
    sys_path: tuple[str, ...] = ()


class WorkerState:
    """The repository, graph and runner of one worker for one execution.

    Raises
    ------
    RepoConfigError, QuantumGraphError
        If the repository or the graph cannot be opened.
    """

    def __init__(self, spec: WorkerSpec) -> None:
        from skystack.butler import Butler

        from ..graph import QuantumGraph

        self.spec = spec
        if spec.sys_path:
            sys.path[:] = [*spec.sys_path, *(p for p in sys.path if p not in spec.sys_path)]
        self.butler: Butler = Butler(spec.repo, writeable=False)
        self.graph = QuantumGraph.load(spec.graph_path, labels=spec.labels)
        self.runner = QuantumRunner(
            self.butler.datastore,
            self.graph,
            init_records=spec.init_records,
            timeout=spec.timeout,
            retry_os_errors=spec.retry_os_errors,
        )
        self.pid = os.getpid()

    def run(
        self,
        index: int,
        records: dict[uuid.UUID, StoredFileInfo],
        attempt: int = 1,
        previous_errors: Sequence[str] = (),
    ) -> QuantumResult:
        """Run quantum ``index`` (see `~skystack.pipe.quantum_runner.QuantumRunner.run`)."""
        return self.runner.run(index, records, attempt=attempt, previous_errors=previous_errors)

    def close(self) -> None:
        """Release the repository's database connections."""
        self.butler.close()


_STATES: dict[str, WorkerState] = {}


def run_quantum_on_worker(
    spec: WorkerSpec,
    index: int,
    records: dict[uuid.UUID, StoredFileInfo],
    attempt: int = 1,
    previous_errors: Sequence[str] = (),
) -> QuantumResult:
    """Run one quantum in a long-lived worker process (the Dask task function).

    The worker's `WorkerState` for ``spec.token`` is made on first call and reused; states of
    earlier executions are closed.
    """
    state = _STATES.get(spec.token)
    if state is None:
        for old in _STATES.values():
            old.close()
        _STATES.clear()
        state = _STATES[spec.token] = WorkerState(spec)
    return state.run(index, records, attempt, previous_errors)


def run_quanta_on_worker(
    spec: WorkerSpec,
    items: Sequence[tuple[int, dict[uuid.UUID, StoredFileInfo], int, Sequence[str]]],
) -> list[QuantumResult]:
    """Run several quanta one after the other in a worker (a batch, to amortise task overheads).

    ``items`` are ``(index, records, attempt, previous_errors)``; each quantum keeps its own time
    limit and failure handling, and the results come back in the same order.
    """
    return [run_quantum_on_worker(spec, *item) for item in items]
