# SPDX-License-Identifier: GPL-3.0-or-later
"""Running a `~skystack.pipe.graph.QuantumGraph` on a Butler (the ctrl_mpexec role, in process).

`ButlerQuantumContext` is the `~skystack.pipe.QuantumContext` of one quantum over a Butler: it
reads inputs by reference and writes outputs to the references fixed in the graph (their dataset
IDs are deterministic, so the written datasets have exactly the IDs the graph announced).

`SerialExecutor` runs the quanta in graph (topological) order in this process. Each task is
constructed once; its frozen config is written as ``<label>_config`` and its init-outputs once.
Per quantum it writes ``<label>_metadata`` (`~skystack.task.TaskMetadata`: status, wall and CPU
time, peak memory, host, inputs and outputs) and ``<label>_log`` (the quantum's log records, the
exception and traceback of a failure). A failed quantum marks its descendants *blocked* and the
run goes on (``fail_fast`` stops it); `~skystack.pipe.NoWorkFound` ends a quantum as a success
with no outputs, and downstream quanta that lose all their inputs that way end the same way.
A ``run_summary`` dataset records the per-task counts.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import resource
import socket
import sys
import time
import traceback
from collections import Counter
from typing import Any

from skystack.butler import Butler, DatasetIdGenEnum, DatasetRef, DatasetType
from skystack.task import TaskMetadata

from .connections import NoWorkFound
from .graph import Quantum, QuantumGraph
from .pipeline_task import PipelineTask

__all__ = [
    "ButlerQuantumContext",
    "ExecutionError",
    "ExecutionReport",
    "QuantumStatus",
    "SerialExecutor",
    "ensure_dataset_types",
]

_ID_MODE = DatasetIdGenEnum.DATAID_TYPE_RUN
RUN_SUMMARY = DatasetType("run_summary", (), "StructuredDataDict")


class ExecutionError(RuntimeError):
    """A run cannot start (unregistered dataset types, outputs already present) or stopped early."""


class QuantumStatus(enum.Enum):
    """How a quantum ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    NO_WORK = "no_work"


class ButlerQuantumContext:
    """Reads and writes the datasets of one quantum through a Butler.

    Parameters
    ----------
    butler : `~skystack.butler.Butler`
        A writeable Butler of the repository the graph was built on.
    """

    def __init__(self, butler: Butler) -> None:
        self.butler = butler
        self.written: list[DatasetRef] = []

    def get(self, ref: DatasetRef) -> Any:
        """Read the dataset ``ref``.

        Raises
        ------
        LookupError
            (`~skystack.butler.DatasetNotFoundError`) if it does not exist.
        """
        return self.butler.get(ref)

    def put(self, obj: Any, ref: DatasetRef) -> None:
        """Write ``obj`` as the dataset ``ref``, with the dataset ID the graph fixed.

        Raises
        ------
        ExecutionError
            If the ID the Butler gave differs from the graph's (the graph was built for another
            output run, or with another ID scheme).
        """
        new = self.butler.put(obj, ref.dataset_type, ref.data_id, run=ref.run, id_generation=_ID_MODE)
        if new.id != ref.id:
            raise ExecutionError(
                f"Dataset {ref.dataset_type.name}{ref.data_id} was written with ID {new.id}, not the "
                f"graph's {ref.id}; rebuild the graph for output run {ref.run!r}"
            )
        self.written.append(ref)


def ensure_dataset_types(butler: Butler, graph: QuantumGraph, *, register: bool) -> None:
    """Check (or, with ``register``, register) every dataset type the graph writes.

    Raises
    ------
    ExecutionError
        If a type is not registered and ``register`` is false (use --register-dataset-types),
        or is registered with other dimensions or storage class.
    """
    from skystack.butler import MissingDatasetTypeError

    for dtype in [*graph.output_dataset_types().values(), RUN_SUMMARY]:
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
    status : `list` [`QuantumStatus`]
        Per quantum, in graph order.
    errors : `dict` [`int`, `str`]
        Exception text of each failed quantum, by quantum index.
    """

    graph: QuantumGraph
    status: list[QuantumStatus]
    errors: dict[int, str]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per task label, the number of quanta in each status (all four keys, zero included)."""
        out = {label: {s.value: 0 for s in QuantumStatus} for label in self.graph.task_defs}
        for quantum, status in zip(self.graph.quanta, self.status, strict=True):
            out[quantum.task_label][status.value] += 1
        return out

    @property
    def ok(self) -> bool:
        """Whether no quantum failed or was blocked."""
        return all(s in (QuantumStatus.SUCCEEDED, QuantumStatus.NO_WORK) for s in self.status)

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


class SerialExecutor:
    """Runs the quanta of a graph one after the other in this process.

    Parameters
    ----------
    butler : `~skystack.butler.Butler`
        Writeable Butler of the repository.
    fail_fast : `bool`, optional
        Stop at the first failed quantum (the remaining quanta are reported blocked).
    progress : `bool`, optional
        Show a tqdm progress bar with counts and ETA on stderr.
    """

    def __init__(self, butler: Butler, *, fail_fast: bool = False, progress: bool = False) -> None:
        self.butler = butler
        self.fail_fast = fail_fast
        self.progress = progress
        self.host = socket.gethostname()

    def execute(self, graph: QuantumGraph, *, register_dataset_types: bool = False) -> ExecutionReport:
        """Run every quantum of ``graph`` and write outputs and provenance.

        Parameters
        ----------
        graph : `~skystack.pipe.graph.QuantumGraph`
        register_dataset_types : `bool`, optional
            Register the dataset types the graph writes if they are missing.

        Returns
        -------
        report : `ExecutionReport`

        Raises
        ------
        ExecutionError
            If dataset types are missing or inconsistent (before any quantum runs).
        """
        ensure_dataset_types(self.butler, graph, register=register_dataset_types)
        self.butler.registry.register_run(graph.run)
        tasks = {label: self._init_task(graph, label) for label in graph.task_defs}
        status: list[QuantumStatus | None] = [None] * len(graph)
        errors: dict[int, str] = {}
        bar = self._progress_bar(len(graph))
        stopped = False
        try:
            for index, quantum in enumerate(graph.quanta):
                preds = graph.predecessors(index)
                if stopped or any(status[p] in (QuantumStatus.FAILED, QuantumStatus.BLOCKED) for p in preds):
                    status[index] = QuantumStatus.BLOCKED
                else:
                    status[index], error = self._run_quantum(tasks[quantum.task_label], quantum)
                    if error is not None:
                        errors[index] = error
                        stopped = self.fail_fast
                if bar is not None:
                    bar.update(1)
                    done = Counter(s.value for s in status if s is not None)
                    bar.set_postfix(done, refresh=False)
        finally:
            if bar is not None:
                bar.close()
        report = ExecutionReport(graph, [s or QuantumStatus.BLOCKED for s in status], errors)
        self._write_summary(graph, report)
        return report

    def _progress_bar(self, total: int) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=total, unit="quantum", file=sys.stderr, dynamic_ncols=True)

    def _init_task(self, graph: QuantumGraph, label: str) -> PipelineTask:
        task_def = graph.task_defs[label]
        init = graph.init_refs[label]
        init_inputs = {attr: self.butler.get(ref) for attr, ref in init.init_inputs.items()}
        task = task_def.make_task(init_inputs=init_inputs or None)
        context = ButlerQuantumContext(self.butler)
        if not self._exists(init.config):
            context.put(task_def.config, init.config)
        objects = task.init_outputs
        for attr, ref in init.init_outputs.items():
            if not self._exists(ref):
                context.put(objects[attr], ref)
        return task

    def _exists(self, ref: DatasetRef) -> bool:
        return self.butler.registry.get_dataset(ref.id) is not None

    def _run_quantum(self, task: PipelineTask, quantum: Quantum) -> tuple[QuantumStatus, str | None]:
        context = ButlerQuantumContext(self.butler)
        capture = _LogCapture()
        task.log.addHandler(capture)
        previous_level = task.log.level
        if task.log.getEffectiveLevel() > logging.INFO:
            task.log.setLevel(logging.INFO)
        t0, c0 = time.perf_counter(), time.process_time()
        error: str | None = None
        trace: str | None = None
        status = QuantumStatus.SUCCEEDED
        try:
            inputs = self._available_inputs(quantum)
            conns = task.connections
            adj_in, adj_out = conns.adjust_quantum(
                inputs, {k: list(v) for k, v in quantum.outputs.items()}, quantum.task_label, quantum.data_id
            )
            task.metadata = TaskMetadata()
            task.run_quantum(context, adj_in, adj_out)
        except NoWorkFound as err:
            status = QuantumStatus.NO_WORK
            task.log.info("No work found for %s: %s", quantum, err)
        except Exception as err:
            status = QuantumStatus.FAILED
            error = f"{type(err).__name__}: {err}"
            trace = traceback.format_exc()
            task.log.error("Quantum %s failed: %s", quantum, error)
        finally:
            task.log.removeHandler(capture)
            task.log.setLevel(previous_level)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if status is QuantumStatus.FAILED:
            for ref in context.written:  # a failed quantum leaves no partial outputs behind
                self.butler.prune_datasets([ref])
        log = {"records": capture.records, "exception": error, "traceback": trace}
        meta = TaskMetadata()
        meta["quantum.status"] = status.value
        meta["quantum.id"] = str(quantum.id)
        meta["quantum.wall_s"] = wall
        meta["quantum.cpu_s"] = cpu
        meta["quantum.max_rss_mb"] = _max_rss_mb()
        meta["quantum.host"] = self.host
        meta["quantum.pid"] = os.getpid()
        meta["quantum.config_digest"] = task.config.digest()
        meta["quantum.inputs"] = [str(r.id) for r in quantum.input_refs()]
        meta["quantum.outputs"] = [str(r.id) for r in context.written]
        if error is not None:
            meta["quantum.exception"] = error
        task_meta = task.metadata
        if len(task_meta.to_dict()):
            meta["task"] = task_meta.to_dict()
        context.put(log, quantum.log_ref)
        context.put(meta, quantum.metadata_ref)
        return status, error

    def _available_inputs(self, quantum: Quantum) -> dict[str, list[DatasetRef]]:
        """The inputs that exist now (outputs of NoWorkFound upstream quanta do not)."""
        refs = [r for r in quantum.input_refs()]
        present = self.butler.datastore.get_records([r.id for r in refs]) if refs else {}
        return {k: [r for r in v if r.id in present] for k, v in quantum.inputs.items()}

    def _write_summary(self, graph: QuantumGraph, report: ExecutionReport) -> None:
        summary = {
            "run": graph.run,
            "counts": report.counts(),
            "errors": {str(graph.quanta[i].id): text for i, text in report.errors.items()},
            "host": self.host,
            "finished": time.time(),
        }
        existing = self.butler.registry.find_dataset(RUN_SUMMARY, {}, collections=[graph.run])
        if existing is not None:
            self.butler.prune_datasets([existing])
        self.butler.put(summary, RUN_SUMMARY, {}, run=graph.run)


def _max_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0
