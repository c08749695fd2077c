# SPDX-License-Identifier: GPL-3.0-or-later
"""Running one quantum on the datastore alone: the worker side of every executor.

`QuantumRunner` runs the quanta of a `~skystack.pipe.graph.QuantumGraph` given the file records
of their inputs. It reads inputs through the `~skystack.butler.datastore.FileDatastore` and
writes outputs, ``<label>_metadata`` and ``<label>_log`` to the locations fixed by their
dataset references (`FileDatastore.write`), **without touching the registry**: it returns the
records of what it wrote (`QuantumResult`), and the executor's driver registers them in
batches. The same runner serves the in-process executor, the local worker pool and Dask
workers.

A quantum ends in one of the `QuantumStatus` values. `~skystack.pipe.NoWorkFound` is a success
with no outputs; any other exception is a failure whose outputs are deleted (only the log,
with the exception and traceback, is kept). A failure is *transient* (worth retrying) when
the exception is a `TransientError`, or an `OSError` if the runner is told to retry those.
A per-quantum time limit raises `QuantumTimeoutError` inside the task: by ``SIGALRM`` in the
main thread (which also interrupts sleeps and most blocking calls), otherwise by an exception
injected into the task's thread (delivered between Python bytecodes).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import enum
import logging
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from skystack.task import TaskMetadata

from .connections import NoWorkFound

if TYPE_CHECKING:
    from skystack.butler import DatasetRef
    from skystack.butler.datastore import FileDatastore, StoredFileInfo

    from .graph import Quantum, QuantumGraph
    from .pipeline_task import PipelineTask

__all__ = [
    "DatastoreQuantumContext",
    "QuantumResult",
    "QuantumRunner",
    "QuantumStatus",
    "QuantumTimeoutError",
    "TransientError",
    "time_limit",
]


class TransientError(RuntimeError):
    """A failure that may not happen again: executors retry the quantum with back-off.

    Raise it (or a subclass) from a task for conditions such as a busy service or a
    temporarily unreachable file system.
    """


class QuantumTimeoutError(TimeoutError):
    """A quantum ran longer than the executor's per-quantum time limit."""


class QuantumStatus(enum.Enum):
    """How a quantum ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    NO_WORK = "no_work"
    SKIPPED = "skipped"
    """Not run: its outputs already existed (``--extend-run`` / ``--skip-existing``)."""


@dataclasses.dataclass(slots=True)
class QuantumResult:
    """What running one quantum produced (sent back from workers to the driver).

    Attributes
    ----------
    index : `int`
        Index of the quantum in the graph.
    status : `QuantumStatus`
        ``SUCCEEDED``, ``NO_WORK`` or ``FAILED``.
    records : `list` [`~skystack.butler.datastore.StoredFileInfo`]
        Records of every file written and kept (outputs, metadata, log) for the driver to
        register.
    error : `str` or `None`
        ``"ExceptionType: message"`` of a failure.
    transient : `bool`
        Whether the failure is worth retrying.
    attempt : `int`
        1 for the first try.
    wall_s : `float`
        Wall time of the quantum.
    """

    index: int
    status: QuantumStatus
    records: list[StoredFileInfo]
    error: str | None = None
    transient: bool = False
    attempt: int = 1
    wall_s: float = 0.0


# -- time limits ---------------------------------------------------------------------------------------


def _raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))


@contextlib.contextmanager
def time_limit(seconds: float | None, what: str = "quantum") -> Iterator[None]:
    """Raise `QuantumTimeoutError` in this thread if the block runs longer than ``seconds``.

    In the main thread a ``SIGALRM`` timer is used (it interrupts ``time.sleep`` and most
    blocking system calls); in other threads (Dask workers) the exception is injected
    asynchronously and surfaces at the next Python bytecode. `None` or a non-positive value
    means no limit.
    """
    if seconds is None or seconds <= 0:
        yield
        return
    message = f"{what} exceeded the time limit of {seconds:g} s"
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM"):

        def on_alarm(signum: int, frame: Any) -> None:
            raise QuantumTimeoutError(message)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    target = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False, "fired": False}
    finished = threading.Event()

    def watchdog() -> None:
        if finished.wait(seconds):
            return
        with lock:
            if not state["done"]:
                state["fired"] = True
                _raise_in_thread(target, QuantumTimeoutError)

    thread = threading.Thread(target=watchdog, name="quantum-time-limit", daemon=True)
    thread.start()
    try:
        yield
    except QuantumTimeoutError as err:
        if state["fired"] and not err.args:
            raise QuantumTimeoutError(message) from None
        raise
    finally:
        finished.set()
        with lock:
            state["done"] = True
            if state["fired"]:
                # Withdraw the injected exception in case the block ended before it surfaced.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)


# -- the datastore-only quantum context ----------------------------------------------------------------


class DatastoreQuantumContext:
    """The `~skystack.pipe.QuantumContext` of one quantum over a datastore, without a registry.

    Parameters
    ----------
    datastore : `~skystack.butler.datastore.FileDatastore`
        Where inputs are read and outputs written.
    records : mapping [`uuid.UUID`, `~skystack.butler.datastore.StoredFileInfo`]
        File records of the inputs that exist.
    outputs : collection of `uuid.UUID`
        IDs of the datasets this quantum may write.
    """

    def __init__(
        self,
        datastore: FileDatastore,
        records: Mapping[uuid.UUID, StoredFileInfo],
        outputs: Sequence[uuid.UUID] | frozenset[uuid.UUID],
    ) -> None:
        self.datastore = datastore
        self.records = records
        self.outputs = outputs
        self.written: list[StoredFileInfo] = []

    def get(self, ref: DatasetRef) -> Any:
        """Read the dataset ``ref``.

        Raises
        ------
        LookupError
            If it is not among the inputs that exist.
        """
        info = self.records.get(ref.id)
        if info is None:
            raise LookupError(f"Dataset {ref} is not an existing input of this quantum")
        return self.datastore.read(ref, info)

    def put(self, obj: Any, ref: DatasetRef) -> None:
        """Write ``obj`` as the output ``ref`` at its fixed location (no registry access).

        Raises
        ------
        LookupError
            If ``ref`` is not an output of this quantum.
        """
        if ref.id not in self.outputs:
            raise LookupError(f"Dataset {ref} is not an output of this quantum")
        self.written.append(self.datastore.write(obj, ref))


class _LogCapture(logging.Handler):
    """Collects the log records of one quantum as JSON-compatible dicts."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(
            {
                "name": record.name,
                "level": record.levelname,
                "time": record.created,
                "message": record.getMessage(),
            }
        )


# -- the runner ----------------------------------------------------------------------------------------


class QuantumRunner:
    """Runs quanta of a graph on a datastore and returns the records of what they wrote.

    Parameters
    ----------
    datastore : `~skystack.butler.datastore.FileDatastore`
        The repository's datastore (its registry is only read, for file-name templates).
    graph : `~skystack.pipe.graph.QuantumGraph`
        The graph whose quanta are run (by index).
    init_records : mapping [`uuid.UUID`, `~skystack.butler.datastore.StoredFileInfo`], optional
        Records of the tasks' init-inputs (read once, when a task is first constructed).
    timeout : `float`, optional
        Per-quantum time limit in seconds (see `time_limit`).
    retry_os_errors : `bool`, optional
        Treat `OSError` as transient.
    tasks : mapping [`str`, `~skystack.pipe.PipelineTask`], optional
        Already constructed tasks, by label.
    """

    def __init__(
        self,
        datastore: FileDatastore,
        graph: QuantumGraph,
        *,
        init_records: Mapping[uuid.UUID, StoredFileInfo] | None = None,
        timeout: float | None = None,
        retry_os_errors: bool = False,
        tasks: Mapping[str, PipelineTask] | None = None,
    ) -> None:
        self.datastore = datastore
        self.graph = graph
        self.init_records = dict(init_records or {})
        self.timeout = timeout
        self.retry_os_errors = retry_os_errors
        self.host = socket.gethostname()
        self._tasks: dict[str, PipelineTask] = dict(tasks or {})
        self._digests: dict[str, str] = {}

    def task(self, label: str) -> PipelineTask:
        """The task of ``label``, constructed on first use with its init-inputs.

        Raises
        ------
        LookupError
            If an init-input has no record.
        """
        task = self._tasks.get(label)
        if task is None:
            task_def = self.graph.task_defs[label]
            init_inputs = {}
            for attr, ref in self.graph.init_refs[label].init_inputs.items():
                info = self.init_records.get(ref.id)
                if info is None:
                    raise LookupError(f"init-input {ref} of task {label!r} has no file record")
                init_inputs[attr] = self.datastore.read(ref, info)
            task = self._tasks[label] = task_def.make_task(init_inputs=init_inputs or None)
        return task

    def _digest(self, label: str) -> str:
        digest = self._digests.get(label)
        if digest is None:
            digest = self._digests[label] = self.graph.task_defs[label].config.digest()
        return digest

    def is_transient(self, err: BaseException) -> bool:
        """Whether a failure with ``err`` is worth retrying."""
        return isinstance(err, TransientError) or (self.retry_os_errors and isinstance(err, OSError))

    def run(
        self,
        index: int,
        records: Mapping[uuid.UUID, StoredFileInfo],
        *,
        attempt: int = 1,
        previous_errors: Sequence[str] = (),
    ) -> QuantumResult:
        """Run quantum ``index`` and write its outputs and provenance files.

        Parameters
        ----------
        index : `int`
            Index of the quantum in the graph.
        records : mapping [`uuid.UUID`, `~skystack.butler.datastore.StoredFileInfo`]
            Records of the quantum's inputs that exist; inputs without one are dropped (the
            outputs of upstream quanta that found no work), and `adjust_quantum` decides
            whether the quantum still has work.
        attempt : `int`, optional
            Number of this try (recorded in the provenance).
        previous_errors : sequence of `str`, optional
            Errors of earlier tries (recorded in the log).

        Returns
        -------
        result : `QuantumResult`
            The records of the files written; for a failure only the log's.
        """
        from .provenance import quantum_provenance  # imports the Butler: kept out of `import skystack.pipe`

        quantum = self.graph.quanta[index]
        label = quantum.task_label
        outputs = frozenset(r.id for r in quantum.output_refs())
        context = DatastoreQuantumContext(self.datastore, records, outputs)
        capture = _LogCapture()
        start = time.time()
        t0, c0 = time.perf_counter(), time.process_time()
        error: str | None = None
        trace: str | None = None
        transient = False
        status = QuantumStatus.SUCCEEDED
        task: PipelineTask | None = None
        try:
            task = self.task(label)
            logger = task.log
            logger.addHandler(capture)
            previous_level = logger.level
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
            try:
                with time_limit(self.timeout, f"quantum {quantum}"):
                    self._run_task(task, quantum, context, records)
            finally:
                logger.removeHandler(capture)
                logger.setLevel(previous_level)
        except NoWorkFound as err:
            status = QuantumStatus.NO_WORK
            capture.records.append(_record("skystack.pipe", "INFO", f"No work found for {quantum}: {err}"))
        except Exception as err:
            status = QuantumStatus.FAILED
            error = f"{type(err).__name__}: {err}"
            trace = traceback.format_exc()
            transient = self.is_transient(err)
            capture.records.append(_record("skystack.pipe", "ERROR", f"Quantum {quantum} failed: {error}"))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if status is QuantumStatus.FAILED and context.written:
            self.datastore.remove_files(context.written)  # never registered: a failure leaves no outputs
            context.written.clear()
        written = context.written
        prov = quantum_provenance(
            quantum,
            status=status.value,
            attempt=attempt,
            start=start,
            wall_s=wall,
            cpu_s=cpu,
            host=self.host,
            config_digest=self._digest(label),
            inputs=[r.id for r in quantum.input_refs() if r.id in records],
            outputs=[info.dataset_id for info in written],
            error=error,
        )
        if status is not QuantumStatus.FAILED:
            meta = TaskMetadata()
            meta["quantum"] = prov
            if task is not None and len(task.metadata):
                meta["task"] = task.metadata
            written.append(self.datastore.write(meta, quantum.metadata_ref))
        log = {
            "status": status.value,
            "records": capture.records,
            "exception": error,
            "traceback": trace,
            "previous_errors": list(previous_errors),
            "quantum": prov,
        }
        written.append(self.datastore.write(log, quantum.log_ref))
        return QuantumResult(index, status, written, error, transient, attempt, wall)

    def _run_task(
        self,
        task: PipelineTask,
        quantum: Quantum,
        context: DatastoreQuantumContext,
        records: Mapping[uuid.UUID, StoredFileInfo],
    ) -> None:
        inputs = {k: [r for r in v if r.id in records] for k, v in quantum.inputs.items()}
        adj_in, adj_out = task.connections.adjust_quantum(
            inputs, {k: list(v) for k, v in quantum.outputs.items()}, quantum.task_label, quantum.data_id
        )
        task.metadata = TaskMetadata()
        task.run_quantum(context, adj_in, adj_out)


def _record(name: str, level: str, message: str) -> dict[str, Any]:
    return {"name": name, "level": level, "time": time.time(), "message": message}
