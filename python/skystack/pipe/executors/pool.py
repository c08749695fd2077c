# SPDX-License-Identifier: GPL-3.0-or-later
"""`PoolExecutor`: a persistent pool of local worker processes (``pipetask run -j N``).

Each worker is a process started once (``forkserver``: forked from a server process that
imported skystack once; or ``spawn``) with a `~skystack.pipe.executors.worker.WorkerSpec`: it
imports the tasks, opens the repository read-only and loads the saved graph once, then receives
quantum indices with their input records over its own pipe, runs them in order and answers
each with the records of what it wrote. The driver knows the queue of every worker, whose head
is the running quantum. While quanta are short and many are ready it keeps a few queued per
worker (``prefetch``), so that workers never wait for the driver; for long quanta only one.

* A worker that dies (``kill -9`` included) is noticed through its process sentinel: its running
  quantum is retried (a dead worker counts as a transient failure) or marked failed, its queued
  quanta go back to the ready set, and a new worker replaces it.
* With a time limit, the worker first raises `~skystack.pipe.quantum_runner.QuantumTimeoutError`
  in the task itself (``SIGALRM``), which records the traceback; if the worker has not answered
  ``kill_grace`` seconds later it is killed and replaced, and the quantum is marked failed.
* If the driver dies, the workers see their pipe close and exit after the quantum they run.

The multiprocessing pipe is used rather than `concurrent.futures` because a
`~concurrent.futures.ProcessPoolExecutor` cannot kill and replace one worker: a dead worker
breaks the whole pool.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..graph import QuantumGraph
from ..quantum_runner import QuantumResult
from .base import ExecutionError, QuantumExecutor, RunState
from .worker import WorkerSpec, WorkerState

__all__ = ["DEFAULT_START_METHOD", "START_METHODS", "PoolExecutor", "graph_file"]

START_METHODS = ("spawn", "forkserver")
"""Process start methods of the pool (``fork`` is refused: it copies the driver's database
connections and locks into the workers)."""
DEFAULT_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
"""``forkserver`` where available: a clean server process imports skystack once, and workers
(replacements of dead ones included) are forked from it in milliseconds."""
_MAX_START_FAILURES = 3
_SHORT_QUANTUM_S = 0.05


def graph_file(graph: QuantumGraph, graph_path: str | None) -> tuple[str, Callable[[], None]]:
    """A file holding ``graph`` for workers, and a function removing it if it is temporary."""
    if graph_path is not None:
        return str(graph_path), lambda: None
    folder = Path(tempfile.mkdtemp(prefix="skystack-qgraph-"))
    path = folder / "graph.qgraph.json.gz"
    graph.save(path)

    def cleanup() -> None:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()

    return str(path), cleanup


def _worker_main(conn: multiprocessing.connection.Connection, spec: WorkerSpec) -> None:
    """Body of a pool worker: initialise once, then run quanta until told to stop or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and stops the workers
    try:
        state = WorkerState(spec)
    except BaseException as err:
        with contextlib.suppress(OSError):
            conn.send(("init_error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))
        return
    try:
        conn.send(("ready", os.getpid()))
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break  # the driver is gone
            if message is None:
                break
            index, records, attempt, previous = message
            result = state.run(index, records, attempt, previous)
            try:
                conn.send(("result", result))
            except OSError:
                break
    finally:
        state.close()


class _Worker:
    """One worker process, its pipe, and the quanta sent to it (the first one is running)."""

    def __init__(self, context: Any, spec: WorkerSpec) -> None:
        parent, child = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_worker_main, args=(child, spec), name="skystack-pool-worker", daemon=True
        )
        self.process.start()
        child.close()
        self.conn: multiprocessing.connection.Connection = parent
        self.ready = False
        self.queue: collections.deque[int] = collections.deque()
        self.started = 0.0

    @property
    def current(self) -> int | None:
        """The quantum the worker runs now."""
        return self.queue[0] if self.queue else None

    def send(self, index: int, records: dict[Any, Any], attempt: int, previous: list[str]) -> None:
        self.conn.send((index, records, attempt, previous))
        if not self.queue:
            self.started = time.monotonic()
        self.queue.append(index)

    def finished(self, index: int) -> None:
        """The result of ``index`` arrived: the next queued quantum starts now."""
        if self.queue and self.queue[0] == index:
            self.queue.popleft()
        else:  # cannot happen with one pipe per worker; keep the queue consistent anyway
            self.queue.remove(index)
        self.started = time.monotonic()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def ask_to_stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)

    def stop(self) -> None:
        self.ask_to_stop()
        self.process.join(5)
        if self.process.is_alive():
            self.kill()
        self.conn.close()

    def exit_text(self) -> str:
        self.process.join(1)
        code = self.process.exitcode
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"


class PoolExecutor(QuantumExecutor):
    """Runs quanta in a persistent pool of local worker processes.

    Parameters
    ----------
    butler : `~skystack.butler.Butler`
        Writeable Butler (the driver's).
    processes : `int`, optional
        Number of workers.
    start_method : `str`, optional
        ``forkserver`` (default where available) or ``spawn``.
    kill_grace : `float`, optional
        Seconds after the time limit before an unresponsive worker is killed.
    prefetch : `int`, optional
        Most quanta queued per worker while quanta are short (under 50 ms) and many are ready,
        so that workers do not wait for the driver between quanta; one otherwise.
    **kwargs
        The options of `~skystack.pipe.executors.base.QuantumExecutor`.

    Raises
    ------
    ValueError
        For fewer than one process or an unknown start method.
    """

    def __init__(
        self,
        butler: Any,
        processes: int = 2,
        *,
        start_method: str = DEFAULT_START_METHOD,
        kill_grace: float = 2.0,
        prefetch: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(butler, **kwargs)
        if processes < 1:
            raise ValueError(f"the pool needs at least one process, got -j {processes}")
        if start_method not in START_METHODS:
            raise ValueError(
                f"unknown start method {start_method!r}; choose one of {', '.join(START_METHODS)}"
            )
        self.processes = processes
        self.start_method = start_method
        self.kill_grace = kill_grace
        self.prefetch = max(1, prefetch)

    def _drive(self, run: RunState, graph_path: str | None) -> None:
        path, cleanup = graph_file(run.graph, graph_path)
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
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":  # workers fork from a server that imported skystack once
            context.set_forkserver_preload([__name__, "skystack.pipe.executors.worker"])
        to_run = run.scheduler.status.count(None)
        workers = [_Worker(context, spec) for _ in range(min(self.processes, to_run))]
        try:
            self._loop(run, workers, context, spec)
        finally:
            for worker in workers:  # ask all to stop first, then wait: they exit in parallel
                worker.ask_to_stop()
            for worker in workers:
                worker.stop()
            cleanup()

    def _depth(self, run: RunState, n_workers: int) -> int:
        """Quanta to keep queued per worker: several while quanta are short and plentiful (so that
        a worker never waits for the driver), one when they are long (so that none is stuck
        behind another's queue at the end)."""
        mean = run.mean_wall
        if self.prefetch <= 1 or (mean is not None and mean > _SHORT_QUANTUM_S):
            return 1
        return max(1, min(self.prefetch, run.n_ready // max(n_workers, 1)))

    def _loop(self, run: RunState, workers: list[_Worker], context: Any, spec: WorkerSpec) -> None:
        start_failures = 0
        while not run.done:
            depth = self._depth(run, len(workers))
            for worker in workers:
                while worker.ready and len(worker.queue) < (depth if worker.queue else 1):
                    item = run.next()
                    if item is None:
                        break
                    index, attempt, previous = item
                    worker.send(index, run.inputs_of(index), attempt, previous)
            if run.done:
                break
            hard = None if self.timeout is None else self.timeout + self.kill_grace
            deadlines = [w.started + hard for w in workers if hard is not None and w.queue]
            waitables: list[Any] = [w.conn for w in workers] + [w.process.sentinel for w in workers]
            ready = set(multiprocessing.connection.wait(waitables, timeout=run.wait_time(*deadlines)))
            for worker in list(workers):
                dead = worker.process.sentinel in ready
                if worker.conn in ready:
                    try:
                        while True:  # every message that arrived
                            self._handle(run, worker, worker.conn.recv())
                            if not worker.conn.poll():
                                break
                    except (EOFError, OSError):
                        dead = True
                if dead and not worker.process.is_alive():
                    start_failures = start_failures + 1 if not worker.ready else 0
                    if start_failures >= _MAX_START_FAILURES:
                        raise ExecutionError(
                            f"pool workers die while starting ({worker.exit_text()}); run with -j 1 to "
                            "see the error"
                        )
                    self._replace(run, workers, worker, context, spec, f"died ({worker.exit_text()})")
            if hard is not None:
                now = time.monotonic()
                for worker in list(workers):
                    running = worker.current
                    if running is not None and now - worker.started > hard:
                        worker.kill()
                        worker.queue.popleft()
                        run.fail(
                            running,
                            f"QuantumTimeoutError: quantum {run.graph.quanta[running]} exceeded the time "
                            f"limit of {self.timeout:g} s and its worker was killed",
                            transient=False,
                        )
                        self._replace(run, workers, worker, context, spec, None)
            run.tick()

    def _handle(self, run: RunState, worker: _Worker, message: tuple[str, Any]) -> None:
        kind, payload = message
        if kind == "ready":
            worker.ready = True
        elif kind == "init_error":
            raise ExecutionError(f"a pool worker could not start: {payload}")
        else:
            result: QuantumResult = payload
            worker.finished(result.index)
            run.complete(result)

    def _replace(
        self,
        run: RunState,
        workers: list[_Worker],
        worker: _Worker,
        context: Any,
        spec: WorkerSpec,
        why: str | None,
    ) -> None:
        """Retire a dead or killed worker: fail its running quantum, give back the queued ones."""
        workers.remove(worker)
        worker.kill()
        if worker.queue and why is not None:
            index = worker.queue.popleft()
            run.fail(
                index,
                f"WorkerDiedError: the worker process running quantum {run.graph.quanta[index]} {why}",
                transient=True,
            )
        while worker.queue:
            run.requeue(worker.queue.popleft())
        if not run.done:
            workers.append(_Worker(context, spec))
