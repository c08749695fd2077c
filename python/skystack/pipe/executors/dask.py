# SPDX-License-Identifier: GPL-3.0-or-later
"""`DaskExecutor`: quanta as tasks of a Dask distributed cluster (``pipetask run --executor dask``).

By default a `distributed.LocalCluster` is started (``n_workers`` processes, one thread each)
and closed at the end; with ``scheduler_address`` the executor joins an existing cluster, whose
workers must see the repository and the graph file at the same paths. Every task is
`~skystack.pipe.executors.worker.run_quantum_on_worker`, given the small
`~skystack.pipe.executors.worker.WorkerSpec` and the quantum's index and input records; each
worker keeps its repository, graph and constructed tasks between quanta, and results come back through
`distributed.as_completed` to the driver, which registers them in batches.

The driver keeps a window of Dask tasks submitted (``window``, default four per worker thread),
so that its own scheduling (graph order, retries with back-off, blocking) stays in charge; while
many quanta are ready, a task carries a batch of them (`run_quanta_on_worker`), which shares
Dask's per-task cost (about a millisecond of scheduler time) between them. A worker killed while
running a task makes Dask retry it or report it failed (``KilledWorker``), which the driver
treats as a transient failure of the task's quanta. Time limits are enforced inside the worker
thread (`~skystack.pipe.quantum_runner.time_limit`): they interrupt Python code, not a long call
into a C library.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from typing import Any

from .base import QuantumExecutor, RunState
from .pool import graph_file
from .worker import WorkerSpec, run_quanta_on_worker

__all__ = ["DaskExecutor"]

_SHORT_QUANTUM_S = 0.05


def _wait_ready(completed: Any, timeout: float | None) -> None:
    """Block until ``completed`` (an `as_completed`) has a finished future or ``timeout`` passes."""
    condition = getattr(completed, "thread_condition", None)
    if condition is None:  # another distributed version: poll
        deadline = None if timeout is None else time.monotonic() + timeout
        while not completed.has_ready() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.001)
        return
    with condition:
        if not completed.has_ready():
            condition.wait(timeout if timeout is not None else 1.0)


class DaskExecutor(QuantumExecutor):
    """Runs quanta on a Dask distributed cluster.

    Parameters
    ----------
    butler : `~skystack.butler.Butler`
        Writeable Butler (the driver's).
    n_workers : `int`, optional
        Worker processes of the local cluster (ignored with ``scheduler_address``).
    scheduler_address : `str`, optional
        Address of an existing scheduler (``tcp://host:8786``); default: a new local cluster.
    window : `int`, optional
        Dask tasks submitted at once (default: four per worker thread).
    max_batch : `int`, optional
        Most quanta per Dask task: while quanta are short (under 50 ms) and many are ready they
        are sent in batches (up to the ready count divided by the window), so that Dask's
        per-task cost is shared; long quanta go one per task.
    **kwargs
        The options of `~skystack.pipe.executors.base.QuantumExecutor`.

    Raises
    ------
    ValueError
        For fewer than one worker.
    """

    def __init__(
        self,
        butler: Any,
        n_workers: int = 2,
        *,
        scheduler_address: str | None = None,
        window: int | None = None,
        max_batch: int = 16,
        **kwargs: Any,
    ) -> None:
        super().__init__(butler, **kwargs)
        if n_workers < 1:
            raise ValueError(f"the Dask executor needs at least one worker, got {n_workers}")
        self.n_workers = n_workers
        self.scheduler_address = scheduler_address
        self.window = window
        self.max_batch = max(1, max_batch)

    def _drive(self, run: RunState, graph_path: str | None) -> None:
        from distributed import Client, LocalCluster

        path, cleanup = graph_file(run.graph, graph_path)
        cluster = None
        try:
            if self.scheduler_address is None:
                cluster = LocalCluster(
                    n_workers=min(self.n_workers, max(1, run.scheduler.status.count(None))),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.WARNING,
                )
                client = Client(cluster)
            else:
                client = Client(self.scheduler_address)
            try:
                self._loop(run, client, path)
            finally:
                client.close()
        finally:
            if cluster is not None:
                cluster.close()
            cleanup()

    def _loop(self, run: RunState, client: Any, path: str) -> None:
        from distributed import as_completed

        spec = WorkerSpec(
            token=uuid.uuid4().hex,
            repo=str(self.butler.root),
            graph_path=path,
            labels=None,
            init_records=run.init_records,
            timeout=self.timeout,
            retry_os_errors=self.retry.retry_os_errors,
            sys_path=tuple(sys.path),
        )
        threads = sum(client.nthreads().values()) or 1
        window = self.window or 4 * threads
        completed = as_completed()
        in_flight: dict[Any, list[int]] = {}
        while not run.done:
            while len(in_flight) < window:
                long_quanta = run.mean_wall is not None and run.mean_wall > _SHORT_QUANTUM_S
                size = 1 if long_quanta else max(1, min(self.max_batch, run.n_ready // window))
                items: list[tuple[int, dict[Any, Any], int, list[str]]] = []
                while len(items) < size and (item := run.next()) is not None:
                    index, attempt, previous = item
                    items.append((index, run.inputs_of(index), attempt, previous))
                if not items:
                    break
                first, attempt = items[0][0], items[0][2]
                future = client.submit(
                    run_quanta_on_worker,
                    spec,
                    items,
                    key=f"quanta-{first}-{len(items)}-{attempt}-{spec.token}",
                    pure=False,
                )
                in_flight[future] = [it[0] for it in items]
                completed.add(future)
            if run.done:
                break
            if not in_flight:  # only delayed retries are left
                time.sleep(run.wait_time() or 0.01)
                run.tick()
                continue
            _wait_ready(completed, run.wait_time())
            for future in completed.next_batch(block=False) if completed.has_ready() else []:
                indices = in_flight.pop(future)
                if future.status == "finished":
                    for result in future.result():
                        run.complete(result)
                else:  # the worker died (KilledWorker), or the cluster lost or cancelled the task
                    try:
                        err = future.exception()
                    except Exception as cancelled:
                        err = cancelled
                    for index in indices:
                        run.fail(index, f"{type(err).__name__}: {err}", transient=True)
                future.release()
            run.tick()
