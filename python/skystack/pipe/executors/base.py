# SPDX-License-Identifier: GPL-3.0-or-later
"""The driver side shared by every executor: preparation, DAG scheduling, batched registration.

An executor's `QuantumExecutor.execute` does, in this order:

1. **Prepare** (`QuantumExecutor.execute`): check or register the dataset types the graph writes;
   create the output run; find which of the graph's outputs already exist there (one query per
   output dataset type). A quantum whose ``<label>_metadata`` exists is ``SKIPPED`` when
   ``skip_existing`` is set (``--extend-run``), else the run is refused; other existing outputs
   of a quantum to run (a failed attempt's log or outputs) are removed first with
   ``clobber_outputs``, else the run is refused. Then the tasks' configs, init-outputs and the
   run's ``packages`` are written (an existing config must be identical), and the file records
   of every input that comes from outside this execution are fetched in bulk.
2. **Run** (the subclass' ``_drive``): a quantum is dispatched once all the quanta it reads from
   have succeeded, lowest graph index first; its workers get the input records with it, so
   they never query the registry. A failure blocks the quantum's descendants only (``fail_fast``
   stops dispatching altogether); a transient failure (`TransientError`, `OSError` if asked, a
   worker that died) is retried after an exponential back-off (`RetryPolicy`).
3. **Register** as results arrive: finished quanta's outputs, metadata and log (a failed
   quantum's log only) are registered with `~skystack.butler.Butler.register_datasets`, many
   quanta per transaction (``batch_size`` quanta or ``flush_interval`` seconds). A quantum is
   registered atomically, always in the same or a later batch than the quanta it read from,
   so after a crash the registry holds complete quanta only; files written but not registered
   are overwritten when the quantum runs again.
4. **Summarise**: ``run_summary`` (counts, failures and blocked quanta of this execution) and an
   `ExecutionReport`.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import heapq
import logging
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from skystack.butler import Butler, DataCoordinate, DatasetIdGenEnum, DatasetRef, DatasetType
from skystack.butler.registry import make_dataset_id

from ..provenance import PACKAGES, RUN_SUMMARY, data_id_dict, package_versions, quantum_provenance
from ..quantum_runner import QuantumResult, QuantumStatus

if TYPE_CHECKING:
    from skystack.butler.datastore import StoredFileInfo

    from ..graph import Quantum, QuantumGraph
    from ..pipeline_task import PipelineTask

__all__ = [
    "ExecutionError",
    "ExecutionReport",
    "QuantumExecutor",
    "RetryPolicy",
    "ensure_dataset_types",
]

_LOG = logging.getLogger("skystack.pipe.executors")
_FINISHED = (QuantumStatus.SUCCEEDED, QuantumStatus.NO_WORK)


class ExecutionError(RuntimeError):
    """A run cannot start (unregistered dataset types, outputs already present) or stopped early."""


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    Attributes
    ----------
    max_retries : `int`
        Retries after the first attempt (0: none).
    backoff_s : `float`
        Delay before the first retry; each further retry waits ``factor`` times longer.
    factor : `float`
        Growth of the delay.
    max_backoff_s : `float`
        Upper bound of the delay.
    retry_os_errors : `bool`
        Treat `OSError` raised by a task as transient.
    """

    max_retries: int = 2
    backoff_s: float = 1.0
    factor: float = 2.0
    max_backoff_s: float = 60.0
    retry_os_errors: bool = False

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff_s < 0 or self.factor < 1 or self.max_backoff_s < 0:
            raise ValueError(
                f"invalid retry policy {self}: retries and delays must be >= 0 and the factor >= 1"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` >= 1 tries were made)."""
        return min(self.max_backoff_s, self.backoff_s * self.factor ** max(attempt - 1, 0))


def ensure_dataset_types(butler: Butler, graph: QuantumGraph, *, register: bool) -> None:
    """Check (or, with ``register``, register) every dataset type the graph writes.

    Raises
    ------
    ExecutionError
        If a type is not registered and ``register`` is false (use --register-dataset-types),
        or is registered with other dimensions or storage class.
    """
    from skystack.butler import MissingDatasetTypeError

    for dtype in [*graph.output_dataset_types().values(), PACKAGES, RUN_SUMMARY]:
        try:
            existing = butler.registry.get_dataset_type(dtype.name)
        except MissingDatasetTypeError:
            if not register:
                raise ExecutionError(
                    f"Dataset type {dtype.describe()} is not registered; pass --register-dataset-types "
                    "(register_dataset_types=True) to register the pipeline's dataset types"
                ) from None
            butler.registry.register_dataset_type(dtype)
            continue
        if existing != dtype:
            raise ExecutionError(
                f"Dataset type {dtype.name!r} is registered as {existing.describe()} but the pipeline "
                f"writes {dtype.describe()}; rename the pipeline's dataset type through config.connections"
            )


@dataclasses.dataclass
class ExecutionReport:
    """What happened to every quantum of a run.

    Attributes
    ----------
    graph : `~skystack.pipe.graph.QuantumGraph`
    status : `list` [`QuantumStatus`]
        Per quantum, in graph order.
    errors : `dict` [`int`, `str`]
        Exception text of each failed quantum, by quantum index.
    attempts : `dict` [`int`, `int`]
        Number of tries of quanta tried more than once.
    wall_s : `float`
        Wall time of the execution (preparation and registration included).
    """

    graph: QuantumGraph
    status: list[QuantumStatus]
    errors: dict[int, str]
    attempts: dict[int, int] = dataclasses.field(default_factory=dict)
    wall_s: float = 0.0

    def counts(self) -> dict[str, dict[str, int]]:
        """Per task label, the number of quanta in each status (every status, zero included)."""
        out = {label: {s.value: 0 for s in QuantumStatus} for label in self.graph.task_defs}
        for quantum, status in zip(self.graph.quanta, self.status, strict=True):
            out[quantum.task_label][status.value] += 1
        return out

    @property
    def ok(self) -> bool:
        """Whether no quantum failed or was blocked."""
        return all(s not in (QuantumStatus.FAILED, QuantumStatus.BLOCKED) for s in self.status)

    def table(self) -> str:
        """The summary table printed at the end of ``pipetask run``."""
        counts = self.counts()
        width = max([len("task"), *(len(k) for k in counts)])
        heads = [s.value for s in QuantumStatus]
        lines = [f"{'task':<{width}}  " + "  ".join(f"{h:>9}" for h in heads)]
        for label, c in counts.items():
            lines.append(f"{label:<{width}}  " + "  ".join(f"{c[h]:>9}" for h in heads))
        total = Counter(s.value for s in self.status)
        lines.append(f"{'total':<{width}}  " + "  ".join(f"{total.get(h, 0):>9}" for h in heads))
        for index, text in self.errors.items():
            lines.append(f"FAILED {self.graph.quanta[index]}: {text}")
        return "\n".join(lines)


class _Scheduler:
    """Which quanta may run now: dependency counts, a ready heap, delayed retries, blocking."""

    def __init__(self, graph: QuantumGraph, status: list[QuantumStatus | None], fail_fast: bool) -> None:
        n = len(graph)
        self.status = status
        self.fail_fast = fail_fast
        self.attempts = [0] * n
        self.previous: dict[int, list[str]] = {}
        self.waiting = [0] * n
        self.successors: list[list[int]] = [[] for _ in range(n)]
        self.ready: list[int] = []
        self.delayed: list[tuple[float, int]] = []
        self.running = 0
        self.stopped = False
        self.counts: Counter[str] = Counter(s.value for s in status if s is not None)
        for i in range(n):
            if status[i] is not None:
                continue
            waiting = 0
            for p in graph.predecessors(i):
                if status[p] is None:
                    waiting += 1
                    self.successors[p].append(i)
            self.waiting[i] = waiting
            if not waiting:
                self.ready.append(i)
        heapq.heapify(self.ready)

    @property
    def done(self) -> bool:
        return not self.running and (self.stopped or not (self.ready or self.delayed))

    def next_wakeup(self) -> float | None:
        """Monotonic time of the earliest delayed retry."""
        return self.delayed[0][0] if self.delayed and not self.stopped else None

    def pop(self) -> int | None:
        """The next quantum to dispatch (marked running), or `None`."""
        if self.stopped:
            return None
        now = time.monotonic()
        while self.delayed and self.delayed[0][0] <= now:
            heapq.heappush(self.ready, heapq.heappop(self.delayed)[1])
        if not self.ready:
            return None
        index = heapq.heappop(self.ready)
        self.attempts[index] += 1
        self.running += 1
        return index

    def requeue(self, index: int) -> None:
        """Put back a dispatched quantum that never started (its attempt does not count)."""
        self.running -= 1
        self.attempts[index] -= 1
        heapq.heappush(self.ready, index)

    def retry(self, index: int, error: str, delay: float) -> None:
        self.running -= 1
        self.previous.setdefault(index, []).append(error)
        heapq.heappush(self.delayed, (time.monotonic() + delay, index))

    def finish(self, index: int, status: QuantumStatus) -> None:
        self.running -= 1
        self.status[index] = status
        self.counts[status.value] += 1
        if status in _FINISHED:
            for s in self.successors[index]:
                self.waiting[s] -= 1
                if not self.waiting[s] and self.status[s] is None:
                    heapq.heappush(self.ready, s)
            return
        stack = list(self.successors[index])
        while stack:
            s = stack.pop()
            if self.status[s] is None:
                self.status[s] = QuantumStatus.BLOCKED
                self.counts[QuantumStatus.BLOCKED.value] += 1
                stack.extend(self.successors[s])
        if self.fail_fast:
            self.stopped = True

    def finalize(self) -> list[QuantumStatus]:
        """Every status, quanta never dispatched (after ``fail_fast``) counted as blocked."""
        return [QuantumStatus.BLOCKED if s is None else s for s in self.status]


class _Registrar:
    """Buffers finished quanta's records and registers them many quanta per transaction."""

    def __init__(self, butler: Butler, batch_size: int, interval: float) -> None:
        self.butler = butler
        self.batch_size = max(1, batch_size)
        self.interval = interval
        self.refs: list[DatasetRef] = []
        self.records: list[StoredFileInfo] = []
        self.n_quanta = 0
        self.since: float | None = None
        self.batches = 0

    def add(self, quantum: Quantum, records: Iterable[StoredFileInfo]) -> None:
        by_id = {r.id: r for r in quantum.output_refs()}
        for info in records:
            self.refs.append(by_id[info.dataset_id])
            self.records.append(info)
        self.n_quanta += 1
        if self.since is None:
            self.since = time.monotonic()

    def deadline(self) -> float | None:
        return None if self.since is None else self.since + self.interval

    def flush_if_due(self) -> None:
        if self.n_quanta >= self.batch_size or (
            self.since is not None and time.monotonic() - self.since >= self.interval
        ):
            self.flush()

    def flush(self) -> None:
        """Register the buffered quanta in one transaction.

        Raises
        ------
        ExecutionError
            If the registry refuses them (e.g. another process wrote conflicting datasets into
            the run); the batch is dropped, so that a resumed run redoes those quanta.
        """
        refs, records, n = self.refs, self.records, self.n_quanta
        self.refs, self.records, self.n_quanta, self.since = [], [], 0, None
        if not refs:
            return
        try:
            self.butler.register_datasets(refs, records)
        except Exception as err:
            raise ExecutionError(
                f"registering the outputs of {n} finished quanta failed: {err}; the run stops (what "
                "was registered before is complete: resume it with --extend-run)"
            ) from err
        self.batches += 1


class RunState:
    """The driver's state of one execution, shared by the executors' dispatch loops.

    Executors call `next` to get a quantum to dispatch (with `inputs_of` for its input
    records), `complete` with each `QuantumResult`, `fail` for failures they detect themselves
    (time-outs, dead workers), and `wait_time` to know how long they may block.
    """

    def __init__(
        self,
        executor: QuantumExecutor,
        graph: QuantumGraph,
        status: list[QuantumStatus | None],
        records: dict[uuid.UUID, StoredFileInfo],
        init_records: dict[uuid.UUID, StoredFileInfo],
        tasks: dict[str, PipelineTask],
    ) -> None:
        self.executor = executor
        self.graph = graph
        self.butler = executor.butler
        self.retry = executor.retry
        self.scheduler = _Scheduler(graph, status, executor.fail_fast)
        self.registrar = _Registrar(executor.butler, executor.batch_size, executor.flush_interval)
        self.records = records
        self.init_records = init_records
        self.tasks = tasks
        self.errors: dict[int, str] = {}
        self.consumed = {
            r.id for q, s in zip(graph.quanta, status, strict=True) if s is None for r in q.input_refs()
        }
        self.bar = executor._progress_bar(len(graph), initial=len(graph) - self.scheduler.status.count(None))
        self._mean_wall: float | None = None
        self.host = socket.gethostname()

    @property
    def done(self) -> bool:
        """Whether nothing runs and nothing more can be dispatched."""
        return self.scheduler.done

    @property
    def n_ready(self) -> int:
        """Number of quanta that could be dispatched now."""
        return 0 if self.scheduler.stopped else len(self.scheduler.ready)

    def next(self) -> tuple[int, int, list[str]] | None:
        """``(index, attempt, previous_errors)`` of the next quantum to dispatch, or `None`."""
        index = self.scheduler.pop()
        if index is None:
            return None
        return index, self.scheduler.attempts[index], self.scheduler.previous.get(index, [])

    def inputs_of(self, index: int) -> dict[uuid.UUID, StoredFileInfo]:
        """Records of the inputs of quantum ``index`` that exist."""
        records = self.records
        return {r.id: records[r.id] for r in self.graph.quanta[index].input_refs() if r.id in records}

    def wait_time(self, *deadlines: float | None) -> float | None:
        """Seconds a dispatch loop may block before the driver has something to do (`None`: any)."""
        candidates = (self.registrar.deadline(), self.scheduler.next_wakeup(), *deadlines)
        times = [t for t in candidates if t is not None]
        return max(0.0, min(times) - time.monotonic()) if times else None

    def tick(self) -> None:
        """Flush the registration buffer if it is due."""
        self.registrar.flush_if_due()

    def requeue(self, index: int) -> None:
        """Give back a quantum that was dispatched but never started (e.g. queued on a dead worker)."""
        self.scheduler.requeue(index)

    @property
    def mean_wall(self) -> float | None:
        """Running mean of the quanta's wall time (`None` before the first result)."""
        return self._mean_wall

    def complete(self, result: QuantumResult) -> None:
        """Account for a quantum's result: retry it, or register it and release its successors."""
        index = result.index
        if result.wall_s > 0:
            mean = self._mean_wall
            self._mean_wall = result.wall_s if mean is None else 0.9 * mean + 0.1 * result.wall_s
        if (
            result.status is QuantumStatus.FAILED
            and result.transient
            and self.scheduler.attempts[index] <= self.retry.max_retries
            and not self.scheduler.stopped
        ):
            delay = self.retry.delay(self.scheduler.attempts[index])
            _LOG.warning(
                "Quantum %s failed (attempt %d: %s); retrying in %.1f s",
                self.graph.quanta[index],
                self.scheduler.attempts[index],
                result.error,
                delay,
            )
            self.scheduler.retry(index, result.error or "", delay)
            self.registrar.flush_if_due()
            return
        quantum = self.graph.quanta[index]
        self.registrar.add(quantum, result.records)
        if result.status is QuantumStatus.SUCCEEDED:
            for info in result.records:
                if info.dataset_id in self.consumed:
                    self.records[info.dataset_id] = info
        elif result.status is QuantumStatus.FAILED:
            self.errors[index] = result.error or "unknown error"
        self.scheduler.finish(index, result.status)
        if self.bar is not None:
            blocked = self.scheduler.counts[QuantumStatus.BLOCKED.value]
            self.bar.update(sum(self.scheduler.counts.values()) - self.bar.n)
            self.bar.set_postfix(
                ok=self.scheduler.counts[QuantumStatus.SUCCEEDED.value],
                no_work=self.scheduler.counts[QuantumStatus.NO_WORK.value],
                failed=self.scheduler.counts[QuantumStatus.FAILED.value],
                blocked=blocked,
                refresh=False,
            )
        self.registrar.flush_if_due()

    def fail(self, index: int, error: str, *, transient: bool) -> None:
        """A failure seen by the driver (time-out, dead worker): retry, or write its log and complete."""
        attempt = self.scheduler.attempts[index]
        records: list[StoredFileInfo] = []
        if not (transient and attempt <= self.retry.max_retries and not self.scheduler.stopped):
            quantum = self.graph.quanta[index]
            prov = quantum_provenance(
                quantum,
                status=QuantumStatus.FAILED.value,
                attempt=attempt,
                start=time.time(),
                wall_s=0.0,
                cpu_s=0.0,
                host=self.host,
                config_digest=quantum_config_digest(self.graph, quantum.task_label),
                inputs=[],
                outputs=[],
                error=error,
            )
            log = {
                "status": QuantumStatus.FAILED.value,
                "records": [],
                "exception": error,
                "traceback": None,
                "previous_errors": list(self.scheduler.previous.get(index, [])),
                "quantum": prov,
                "detected_by": "driver",
            }
            records.append(self.butler.datastore.write(log, quantum.log_ref))
        self.complete(QuantumResult(index, QuantumStatus.FAILED, records, error, transient, attempt))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def quantum_config_digest(graph: QuantumGraph, label: str) -> str:
    """The config digest of task ``label`` of ``graph``."""
    return graph.task_defs[label].config.digest()


class QuantumExecutor(abc.ABC):
    """Base class of executors: prepares the run, schedules, registers and summarises.

    Parameters
    ----------
    butler : `~skystack.butler.Butler`
        Writeable Butler of the repository (used by the driver only).
    fail_fast : `bool`, optional
        Stop dispatching at the first failure (the quanta not started are reported blocked).
    progress : `bool`, optional
        Show a tqdm progress bar with counts and ETA on stderr.
    retry : `RetryPolicy`, optional
        Retries of transient failures (default: 2 retries, 1 s back-off doubling).
    timeout : `float`, optional
        Per-quantum time limit in seconds.
    skip_existing : `bool`, optional
        Skip quanta whose ``<label>_metadata`` already exists in the output run (otherwise
        existing outputs are an error).
    clobber_outputs : `bool`, optional
        Remove the existing outputs (and log) of quanta that are going to run.
    batch_size : `int`, optional
        Finished quanta registered per transaction.
    flush_interval : `float`, optional
        Register at least this often (seconds) while quanta finish.
    """

    def __init__(
        self,
        butler: Butler,
        *,
        fail_fast: bool = False,
        progress: bool = False,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        skip_existing: bool = False,
        clobber_outputs: bool = False,
        batch_size: int = 500,
        flush_interval: float = 2.0,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive (seconds), got {timeout}")
        self.butler = butler
        self.fail_fast = fail_fast
        self.progress = progress
        self.retry = retry if retry is not None else RetryPolicy()
        self.timeout = timeout
        self.skip_existing = skip_existing
        self.clobber_outputs = clobber_outputs
        self.batch_size = batch_size
        self.flush_interval = flush_interval

    # -- the public entry point ------------------------------------------------------------------
    def execute(
        self,
        graph: QuantumGraph,
        *,
        register_dataset_types: bool = False,
        graph_path: str | None = None,
    ) -> ExecutionReport:
        """Run every quantum of ``graph`` and register outputs and provenance.

        Parameters
        ----------
        graph : `~skystack.pipe.graph.QuantumGraph`
        register_dataset_types : `bool`, optional
            Register the dataset types the graph writes if they are missing.
        graph_path : `str`, optional
            A file from which ``QuantumGraph.load(graph_path)`` gives back ``graph`` (workers of
            out-of-process executors read it instead of receiving the graph; a temporary copy is
            written when it is not given).

        Returns
        -------
        report : `ExecutionReport`

        Raises
        ------
        ExecutionError
            If dataset types are missing or inconsistent, outputs exist and neither
            ``skip_existing`` nor ``clobber_outputs`` allows running over them, a config differs
            from the run's, or a worker cannot start.
        """
        t0 = time.perf_counter()
        status, records, init_records, tasks = self._prepare(graph, register_dataset_types)
        run = RunState(self, graph, status, records, init_records, tasks)
        try:
            if not run.done:
                self._drive(run, graph_path)
        except BaseException:  # Ctrl-C, a worker that cannot start ...: keep what finished
            with contextlib.suppress(Exception):
                run.registrar.flush()
            raise
        finally:
            run.close()
        run.registrar.flush()
        final = run.scheduler.finalize()
        attempts = {i: a for i, a in enumerate(run.scheduler.attempts) if a > 1}
        report = ExecutionReport(graph, final, run.errors, attempts, time.perf_counter() - t0)
        self._write_summary(graph, report)
        return report

    @abc.abstractmethod
    def _drive(self, run: RunState, graph_path: str | None) -> None:
        """Dispatch quanta until ``run.done``, feeding results to ``run.complete``."""

    # -- preparation -----------------------------------------------------------------------------
    def _progress_bar(self, total: int, initial: int = 0) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit="quantum", file=sys.stderr, dynamic_ncols=True)

    def _existing_outputs(self, graph: QuantumGraph, created: bool) -> set[uuid.UUID]:
        if created:
            return set()
        names = {r.dataset_type.name for q in graph.quanta for r in q.output_refs()}
        found: set[uuid.UUID] = set()
        for name in sorted(names):
            found.update(
                r.id for r in self.butler.registry.query_datasets_simple(name, [graph.run], find_first=False)
            )
        return found

    def _prepare(
        self, graph: QuantumGraph, register_dataset_types: bool
    ) -> tuple[
        list[QuantumStatus | None],
        dict[uuid.UUID, StoredFileInfo],
        dict[uuid.UUID, StoredFileInfo],
        dict[str, PipelineTask],
    ]:
        ensure_dataset_types(self.butler, graph, register=register_dataset_types)
        created = self.butler.registry.register_run(graph.run)
        existing = self._existing_outputs(graph, created)
        status: list[QuantumStatus | None] = [None] * len(graph)
        clobber: list[DatasetRef] = []
        done, partial = [], []
        for index, quantum in enumerate(graph.quanta):
            if quantum.metadata_ref.id in existing:
                if self.skip_existing:
                    status[index] = QuantumStatus.SKIPPED
                else:
                    done.append(quantum)
                continue
            found = [r for r in quantum.output_refs() if r.id in existing]
            if found:
                (clobber.extend(found) if self.clobber_outputs else partial.append(quantum))
        if done:
            raise ExecutionError(
                f"{len(done)} quanta (e.g. {done[0]}) already finished in output run {graph.run!r}; "
                "pass --extend-run / --skip-existing (skip_existing=True) to skip them, or use a new run"
            )
        if partial:
            raise ExecutionError(
                f"{len(partial)} quanta (e.g. {partial[0]}) have outputs or the log of an unfinished "
                f"attempt in output run {graph.run!r}; pass --clobber-outputs (clobber_outputs=True) to "
                "remove them before running again"
            )
        if clobber:
            _LOG.info("Removing %d outputs of earlier attempts before running again", len(clobber))
            self.butler.prune_datasets(clobber)
        init_records, tasks = self._init_tasks(graph)
        to_run = [q for q, s in zip(graph.quanta, status, strict=True) if s is None]
        produced = {r.id for q in to_run for r in q.output_refs()}
        external = list({r.id for q in to_run for r in q.input_refs() if r.id not in produced})
        records = self.butler.datastore.get_records(external) if external else {}
        return status, records, init_records, tasks

    def _init_tasks(
        self, graph: QuantumGraph
    ) -> tuple[dict[uuid.UUID, StoredFileInfo], dict[str, PipelineTask]]:
        """Construct the tasks; write configs, init-outputs and ``packages`` that do not exist yet."""
        datastore = self.butler.datastore
        init_ids = [r.id for init in graph.init_refs.values() for r in init.init_inputs.values()]
        own = [r for init in graph.init_refs.values() for r in (*init.init_outputs.values(), init.config)]
        empty = DataCoordinate.make_empty(self.butler.registry.universe)
        packages_ref = _run_ref(PACKAGES, empty, graph.run)
        records = datastore.get_records([*init_ids, *(r.id for r in own), packages_ref.id])
        refs: list[DatasetRef] = []
        written: list[StoredFileInfo] = []
        tasks: dict[str, PipelineTask] = {}
        for label, task_def in graph.task_defs.items():
            init = graph.init_refs[label]
            init_inputs = {}
            for attr, ref in init.init_inputs.items():
                info = records.get(ref.id)
                if info is None:
                    raise ExecutionError(
                        f"init-input {ref} of task {label!r} does not exist; run the task that writes it"
                    )
                init_inputs[attr] = datastore.read(ref, info)
            task = tasks[label] = task_def.make_task(init_inputs=init_inputs or None)
            if init.config.id in records:
                stored = datastore.read(init.config, records[init.config.id])
                if stored.digest() != task_def.config.digest():
                    raise ExecutionError(
                        f"the config of task {label!r} differs from the one stored in run {graph.run!r}; "
                        "use a new output run (or --replace-run) for a changed config"
                    )
            else:
                info = datastore.write(task_def.config, init.config)
                records[init.config.id] = info
                refs.append(init.config)
                written.append(info)
            objects = task.init_outputs if init.init_outputs else {}
            for attr, ref in init.init_outputs.items():
                if ref.id not in records:
                    info = datastore.write(objects[attr], ref)
                    records[ref.id] = info
                    refs.append(ref)
                    written.append(info)
        versions = package_versions({type(t) for t in tasks.values()})
        if packages_ref.id in records:
            stored = datastore.read(packages_ref, records[packages_ref.id])
            if stored.get("packages") != versions["packages"]:
                _LOG.warning(
                    "Software versions differ from those recorded in run %r when it started", graph.run
                )
        else:
            info = datastore.write(versions, packages_ref)
            refs.append(packages_ref)
            written.append(info)
        self.butler.register_datasets(refs, written)
        return {i: records[i] for i in init_ids if i in records}, tasks

    def _write_summary(self, graph: QuantumGraph, report: ExecutionReport) -> None:
        blocked: dict[str, list[dict[str, Any]]] = {}
        for quantum, st in zip(graph.quanta, report.status, strict=True):
            if st is QuantumStatus.BLOCKED:
                blocked.setdefault(quantum.task_label, []).append(data_id_dict(quantum.data_id))
        summary = {
            "run": graph.run,
            "counts": report.counts(),
            "errors": {str(graph.quanta[i].id): text for i, text in report.errors.items()},
            "blocked": blocked,
            "executor": type(self).__name__,
            "host": socket.gethostname(),
            "wall_s": report.wall_s,
            "finished": time.time(),
        }
        existing = self.butler.registry.find_dataset(RUN_SUMMARY, {}, collections=[graph.run])
        if existing is not None:
            self.butler.prune_datasets([existing])
        self.butler.put(summary, RUN_SUMMARY, {}, run=graph.run)


def _run_ref(dtype: DatasetType, data_id: DataCoordinate, run: str) -> DatasetRef:
    """The deterministic reference of a run-level dataset."""
    return DatasetRef(
        make_dataset_id(dtype.name, data_id, run, DatasetIdGenEnum.DATAID_TYPE_RUN), dtype, data_id, run
    )
