# SPDX-License-Identifier: GPL-3.0-or-later
"""`QuantumGraph`: the planned work of a pipeline run (the pipe_base QuantumGraph role).

A graph holds, for each task of an expanded pipeline, the *quanta* to run: the task label, the
quantum's data ID, the dataset references of its inputs (by connection name) and of its outputs.
Output references carry dataset IDs fixed when the graph is built (uuid5 of dataset type, data
ID and output run, `~skystack.butler.DatasetIdGenEnum.DATAID_TYPE_RUN`), so whoever runs a
quantum writes to known datasets and a rerun writes the same IDs. Edges follow from the dataset
flow: quantum B depends on quantum A when B reads a dataset A writes. Quanta are stored in a
topological order (tasks in dataset-flow order, data IDs sorted within a task).

Graphs are saved as versioned, gzip-compressed JSON (`QuantumGraph.save` / `QuantumGraph.load`)
in which every dataset is written once and quanta refer to datasets by index; nothing is
pickled. `QuantumGraph.to_dot` and `QuantumGraph.to_mermaid` draw the graph; `summary` counts
quanta per task; `explain_empty` tells why a graph has no quanta (rows left after each step).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from skystack.butler import DataCoordinate, DatasetRef, DatasetType, DimensionUniverse
from skystack.config import import_class
from skystack.utils.ids import uuid5

from .pipeline import TaskDef
from .pipeline_task import PipelineTaskConfig

__all__ = [
    "GRAPH_FORMAT_VERSION",
    "BuildStep",
    "Quantum",
    "QuantumGraph",
    "QuantumGraphError",
    "TaskInitRefs",
    "quantum_id",
]

#: Version of the saved-graph format; `QuantumGraph.load` refuses newer versions.
GRAPH_FORMAT_VERSION = 1
_FORMAT_NAME = "skystack-quantum-graph"
QUANTUM_ID_NAMESPACE = uuid.UUID("5a7d0f3e-2c4b-5e61-8f0a-3b9c2d1e4f70")
"""UUID namespace of quantum IDs (uuid5 of label, data ID and run); never change it."""


class QuantumGraphError(ValueError):
    """A quantum graph file is unreadable, of an unknown version, or inconsistent."""


def quantum_id(label: str, data_id: DataCoordinate, run: str) -> uuid.UUID:
    """The deterministic ID of the quantum of task ``label`` for ``data_id`` in ``run``."""
    return uuid5(QUANTUM_ID_NAMESPACE, f"{label}|{data_id.id_text}|{run}")


@dataclasses.dataclass(frozen=True, slots=True)
class Quantum:
    """One unit of work: a task applied to one data ID.

    Attributes
    ----------
    task_label : `str`
        Label of the task in the pipeline.
    data_id : `~skystack.butler.DataCoordinate`
        The quantum's data ID (the task's dimensions).
    inputs : `dict` [`str`, `tuple` [`~skystack.butler.DatasetRef`, ...]]
        Regular and prerequisite input references by connection name.
    outputs : `dict` [`str`, `tuple` [`~skystack.butler.DatasetRef`, ...]]
        Output references by connection name, with their pre-assigned dataset IDs.
    metadata_ref, log_ref : `~skystack.butler.DatasetRef`
        Where the executor writes the quantum's provenance (``<label>_metadata``, ``<label>_log``).
    id : `uuid.UUID`
        Deterministic quantum ID (`quantum_id`).
    """

    task_label: str
    data_id: DataCoordinate
    inputs: dict[str, tuple[DatasetRef, ...]]
    outputs: dict[str, tuple[DatasetRef, ...]]
    metadata_ref: DatasetRef
    log_ref: DatasetRef
    id: uuid.UUID

    def input_refs(self) -> Iterator[DatasetRef]:
        """Every input reference."""
        for refs in self.inputs.values():
            yield from refs

    def output_refs(self) -> Iterator[DatasetRef]:
        """Every output reference, provenance included."""
        for refs in self.outputs.values():
            yield from refs
        yield self.metadata_ref
        yield self.log_ref

    def __str__(self) -> str:
        return f"{self.task_label}{self.data_id}"


@dataclasses.dataclass(frozen=True, slots=True)
class TaskInitRefs:
    """Datasets read or written once per task: init-inputs, init-outputs and the frozen config."""

    init_inputs: dict[str, DatasetRef]
    init_outputs: dict[str, DatasetRef]
    config: DatasetRef


@dataclasses.dataclass(frozen=True, slots=True)
class BuildStep:
    """One step of building a task's quanta and the number of candidate quanta left after it."""

    task_label: str
    step: str
    rows: int

    def __str__(self) -> str:
        return f"{self.task_label}: {self.step}: {self.rows} left"


class QuantumGraph:
    """The quanta of a pipeline run and the dataset flow between them.

    Parameters
    ----------
    task_defs : sequence of `~skystack.pipe.TaskDef`
        The expanded pipeline, in dataset-flow order.
    quanta : iterable of `Quantum`
        The quanta in a topological order (producers before consumers).
    init_refs : mapping [`str`, `TaskInitRefs`]
        Per-task init datasets, by label.
    run : `str`
        The output RUN collection the output references belong to.
    input_collections : sequence of `str`
        Collections the inputs were found in.
    steps : sequence of `BuildStep`, optional
        How many candidate quanta were left after each step of building (see `explain_empty`).
    metadata : mapping, optional
        Free-form JSON-compatible information (the ``-d`` expression, user, time ...).

    Raises
    ------
    QuantumGraphError
        If a quantum names a task that is not in ``task_defs``, or reads a dataset written by a
        quantum that comes after it.
    """

    def __init__(
        self,
        task_defs: Sequence[TaskDef],
        quanta: Iterable[Quantum],
        init_refs: Mapping[str, TaskInitRefs],
        *,
        run: str,
        input_collections: Sequence[str],
        steps: Sequence[BuildStep] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.task_defs: dict[str, TaskDef] = {d.label: d for d in task_defs}
        self.quanta: list[Quantum] = list(quanta)
        self.init_refs: dict[str, TaskInitRefs] = dict(init_refs)
        self.run = run
        self.input_collections: tuple[str, ...] = tuple(input_collections)
        self.steps: list[BuildStep] = list(steps)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._producer: dict[uuid.UUID, int] = {}
        for index, quantum in enumerate(self.quanta):
            if quantum.task_label not in self.task_defs:
                raise QuantumGraphError(
                    f"Quantum {quantum} names task {quantum.task_label!r}, which is not in the graph's "
                    f"pipeline ({', '.join(self.task_defs)})"
                )
            for ref in quantum.output_refs():
                self._producer[ref.id] = index
        self._predecessors: list[tuple[int, ...]] = []
        for index, quantum in enumerate(self.quanta):
            preds = sorted({self._producer[r.id] for r in quantum.input_refs() if r.id in self._producer})
            if preds and preds[-1] >= index:
                raise QuantumGraphError(
                    f"Quantum {quantum} reads a dataset written by quantum {self.quanta[preds[-1]]}, "
                    "which comes after it; quanta must be in a topological order"
                )
            self._predecessors.append(tuple(preds))

    # -- structure -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.quanta)

    def __iter__(self) -> Iterator[Quantum]:
        return iter(self.quanta)

    def quanta_of(self, label: str) -> list[Quantum]:
        """The quanta of task ``label``, in graph order.

        Raises
        ------
        KeyError
            If no task has that label (the message lists the labels).
        """
        if label not in self.task_defs:
            raise KeyError(f"No task labelled {label!r} in this graph; labels are {list(self.task_defs)}")
        return [q for q in self.quanta if q.task_label == label]

    def predecessors(self, index: int) -> tuple[int, ...]:
        """Indices of the quanta whose outputs quantum ``index`` reads."""
        return self._predecessors[index]

    def producer_of(self, ref: DatasetRef) -> int | None:
        """Index of the quantum that writes ``ref``, or `None` for a pre-existing dataset."""
        return self._producer.get(ref.id)

    @property
    def edges(self) -> list[tuple[int, int]]:
        """``(producer, consumer)`` quantum-index pairs, one per dependency."""
        return [(p, i) for i, preds in enumerate(self._predecessors) for p in preds]

    def dataset_types(self) -> dict[str, DatasetType]:
        """Every dataset type the graph reads or writes (provenance included), by name."""
        types: dict[str, DatasetType] = {}
        for init in self.init_refs.values():
            for ref in (*init.init_inputs.values(), *init.init_outputs.values(), init.config):
                types[ref.dataset_type.name] = ref.dataset_type
        for quantum in self.quanta:
            for ref in (*quantum.input_refs(), *quantum.output_refs()):
                types[ref.dataset_type.name] = ref.dataset_type
        return types

    def output_dataset_types(self) -> dict[str, DatasetType]:
        """The dataset types the graph writes (outputs, init-outputs, config, provenance), by name."""
        types: dict[str, DatasetType] = {}
        for init in self.init_refs.values():
            for ref in (*init.init_outputs.values(), init.config):
                types[ref.dataset_type.name] = ref.dataset_type
        for label, task_def in self.task_defs.items():
            for conn in task_def.connections.outputs.values():
                dtype = conn.make_dataset_type()
                types[dtype.name] = dtype
            for ref_type in _provenance_types(label, task_def.dimensions):
                types[ref_type.name] = ref_type
        return types

    # -- text views ------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Number of quanta per task label (every task, zero included), in pipeline order."""
        found = Counter(q.task_label for q in self.quanta)
        return {label: found.get(label, 0) for label in self.task_defs}

    def summary(self) -> str:
        """A table of quanta per task, the edge count, and the explanation when empty."""
        counts = self.counts()
        width = max([len("task"), *(len(k) for k in counts)])
        lines = [f"QuantumGraph: {len(self)} quanta, {len(self.edges)} edges, output run {self.run!r}"]
        lines.append(f"{'task':<{width}}  quanta")
        lines += [f"{label:<{width}}  {n:>6}" for label, n in counts.items()]
        if not self.quanta:
            lines.append(self.explain_empty())
        return "\n".join(lines)

    def explain_empty(self) -> str:
        """Why the graph has no quanta: the candidate rows left after each building step.

        Returns an empty string for a graph that has quanta.
        """
        if self.quanta:
            return ""
        lines = ["The graph is empty. Candidate quanta left after each step:"]
        lines += [f"  {step}" for step in self.steps]
        zero = next((s for s in self.steps if s.rows == 0), None)
        if zero is not None:
            lines.append(f"The first step leaving nothing: {zero}")
        return "\n".join(lines)

    def format_quanta(self) -> str:
        """One line per quantum: index, label, data ID, inputs and outputs."""
        lines = []
        for index, q in enumerate(self.quanta):
            ins = ", ".join(f"{k}[{len(v)}]" for k, v in q.inputs.items())
            outs = ", ".join(f"{k}[{len(v)}]" for k, v in q.outputs.items())
            deps = ",".join(map(str, self._predecessors[index])) or "-"
            lines.append(
                f"{index:>5} {q.task_label}{q.data_id}  in: {ins or '-'}  out: {outs or '-'}  after: {deps}"
            )
        return "\n".join(lines) or self.explain_empty()

    def to_dot(self) -> str:
        """The graph in GraphViz dot: quanta as boxes, datasets as ellipses, edges of the data flow."""
        lines = ["digraph QuantumGraph {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
        seen: set[uuid.UUID] = set()
        for index, q in enumerate(self.quanta):
            lines.append(
                f'  q{index} [shape=box, style=filled, fillcolor="#d9e8fb", label={_dot_quote(str(q))}];'
            )
            for ref in q.input_refs():
                _dot_dataset(lines, seen, ref)
                lines.append(f"  d{ref.id.hex} -> q{index};")
            for refs in q.outputs.values():
                for ref in refs:
                    _dot_dataset(lines, seen, ref)
                    lines.append(f"  q{index} -> d{ref.id.hex};")
        lines.append("}")
        return "\n".join(lines)

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart (quanta as rectangles, datasets as rounded boxes)."""
        lines = ["flowchart LR"]
        seen: set[uuid.UUID] = set()

        def dataset(ref: DatasetRef) -> str:
            node = f"d{ref.id.hex[:16]}"
            if ref.id not in seen:
                seen.add(ref.id)
                lines.append(f'  {node}("{_mermaid_text(f"{ref.dataset_type.name}{ref.data_id}")}")')
            return node

        for index, q in enumerate(self.quanta):
            lines.append(f'  q{index}["{_mermaid_text(str(q))}"]')
            for ref in q.input_refs():
                lines.append(f"  {dataset(ref)} --> q{index}")
            for refs in q.outputs.values():
                for ref in refs:
                    lines.append(f"  q{index} --> {dataset(ref)}")
        return "\n".join(lines)

    # -- serialisation ---------------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        """The graph as JSON-compatible data (what `save` writes); datasets are written once."""
        writer = _RefTable()
        tasks = []
        for label, task_def in self.task_defs.items():
            init = self.init_refs[label]
            tasks.append(
                {
                    "label": label,
                    "task_name": task_def.task_name,
                    "config": task_def.config.to_dict(),
                    "init_inputs": {k: writer.index(r) for k, r in init.init_inputs.items()},
                    "init_outputs": {k: writer.index(r) for k, r in init.init_outputs.items()},
                    "config_ref": writer.index(init.config),
                }
            )
        task_index = {label: i for i, label in enumerate(self.task_defs)}
        quanta = [
            [
                task_index[q.task_label],
                list(q.data_id.values_tuple),
                {k: [writer.index(r) for r in v] for k, v in q.inputs.items()},
                {k: [writer.index(r) for r in v] for k, v in q.outputs.items()},
                writer.index(q.metadata_ref),
                writer.index(q.log_ref),
            ]
            for q in self.quanta
        ]
        universe = DimensionUniverse.default()
        return {
            "format": _FORMAT_NAME,
            "version": GRAPH_FORMAT_VERSION,
            "universe": [universe.namespace, universe.version],
            "run": self.run,
            "input_collections": list(self.input_collections),
            "metadata": self.metadata,
            "steps": [[s.task_label, s.step, s.rows] for s in self.steps],
            "tasks": tasks,
            **writer.to_json(),
            "quanta": quanta,
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any], *, labels: Iterable[str] | None = None) -> QuantumGraph:
        """Rebuild a graph from `to_json_dict` output, importing the task classes.

        Parameters
        ----------
        data : mapping
            What `to_json_dict` returned.
        labels : iterable of `str`, optional
            Keep only the quanta of these tasks (and the tasks' init datasets).

        Raises
        ------
        QuantumGraphError
            If the data is not a graph, has a newer format version or another dimension universe,
            or a task class cannot be imported.
        """
        if data.get("format") != _FORMAT_NAME:
            raise QuantumGraphError(f"Not a skystack quantum graph (format {data.get('format')!r})")
        version = data.get("version")
        if not isinstance(version, int) or version > GRAPH_FORMAT_VERSION:
            raise QuantumGraphError(
                f"Quantum graph format version {version!r} is newer than this skystack reads "
                f"({GRAPH_FORMAT_VERSION}); upgrade skystack or rebuild the graph"
            )
        universe = DimensionUniverse.default()
        if list(data["universe"]) != [universe.namespace, universe.version]:
            raise QuantumGraphError(
                f"Quantum graph was built with dimension universe {data['universe']}, not "
                f"{[universe.namespace, universe.version]}; rebuild it with this skystack"
            )
        refs = _RefTable.read(data, universe)
        task_defs: list[TaskDef] = []
        init_refs: dict[str, TaskInitRefs] = {}
        for t in data["tasks"]:
            label = t["label"]
            try:
                task_class = import_class(t["task_name"])
                config = task_class.ConfigClass.from_dict(t["config"])  # type: ignore[attr-defined]
            except Exception as err:
                raise QuantumGraphError(
                    f"Task {label!r} of the quantum graph cannot be rebuilt: {err}"
                ) from err
            assert isinstance(config, PipelineTaskConfig)
            config.freeze()
            connections = type(config).connections_class(config=config)
            task_defs.append(TaskDef(label, task_class, config, connections))
            init_refs[label] = TaskInitRefs(
                {k: refs[i] for k, i in t["init_inputs"].items()},
                {k: refs[i] for k, i in t["init_outputs"].items()},
                refs[t["config_ref"]],
            )
        keep = None if labels is None else set(labels)
        if keep is not None:
            unknown = sorted(keep - {d.label for d in task_defs})
            if unknown:
                raise QuantumGraphError(
                    f"labels {unknown} are not tasks of the graph ({[d.label for d in task_defs]})"
                )
        quanta = []
        run = data["run"]
        for task_i, values, ins, outs, meta_i, log_i in data["quanta"]:
            task_def = task_defs[task_i]
            if keep is not None and task_def.label not in keep:
                continue
            group = universe.conform(task_def.dimensions)
            coord = DataCoordinate.from_trusted(group, tuple(values))
            quanta.append(
                Quantum(
                    task_def.label,
                    coord,
                    {k: tuple(refs[i] for i in v) for k, v in ins.items()},
                    {k: tuple(refs[i] for i in v) for k, v in outs.items()},
                    refs[meta_i],
                    refs[log_i],
                    quantum_id(task_def.label, coord, run),
                )
            )
        if keep is not None:
            task_defs = [d for d in task_defs if d.label in keep]
            init_refs = {k: v for k, v in init_refs.items() if k in keep}
        return cls(
            task_defs,
            quanta,
            init_refs,
            run=run,
            input_collections=data["input_collections"],
            steps=[BuildStep(*s) for s in data["steps"]],
            metadata=data["metadata"],
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the graph as gzip-compressed JSON (conventionally ``*.qgraph.json.gz``)."""
        text = json.dumps(self.to_json_dict(), separators=(",", ":"))
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as stream:
            stream.write(text)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, labels: Iterable[str] | None = None) -> QuantumGraph:
        """Read a graph written by `save` (optionally only the quanta of some tasks).

        Raises
        ------
        QuantumGraphError
            If the file is not a readable graph (see `from_json_dict`).
        """
        try:
            with gzip.open(path, "rt", encoding="utf-8") as stream:
                data = json.load(stream)
        except (OSError, EOFError, json.JSONDecodeError) as err:
            raise QuantumGraphError(f"Cannot read quantum graph {os.fspath(path)!r}: {err}") from None
        return cls.from_json_dict(data, labels=labels)

    def __repr__(self) -> str:
        return f"QuantumGraph({len(self)} quanta, tasks={list(self.task_defs)}, run={self.run!r})"


def _provenance_types(label: str, dimensions: Sequence[str]) -> tuple[DatasetType, DatasetType]:
    """The per-quantum provenance dataset types of a task: ``<label>_metadata``, ``<label>_log``."""
    return (
        DatasetType(f"{label}_metadata", dimensions, "TaskMetadata"),
        DatasetType(f"{label}_log", dimensions, "StructuredDataDict"),
    )


def config_dataset_type(label: str) -> DatasetType:
    """The dataset type of a task's frozen config, ``<label>_config`` (no dimensions)."""
    return DatasetType(f"{label}_config", (), "Config")


class _RefTable:
    """Writes each dataset once (type table + columns) and hands out its index."""

    def __init__(self) -> None:
        self._index: dict[uuid.UUID, int] = {}
        self._types: dict[str, int] = {}
        self._type_list: list[DatasetType] = []
        self._runs: dict[str, int] = {}
        self._rows: list[list[Any]] = []

    def index(self, ref: DatasetRef) -> int:
        found = self._index.get(ref.id)
        if found is not None:
            return found
        dtype = ref.dataset_type
        t = self._types.get(dtype.name)
        if t is None:
            t = self._types[dtype.name] = len(self._type_list)
            self._type_list.append(dtype)
        r = self._runs.setdefault(ref.run, len(self._runs))
        self._index[ref.id] = len(self._rows)
        self._rows.append([t, r, ref.id.hex, *ref.data_id.values_tuple])
        return len(self._rows) - 1

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset_types": [
                [d.name, list(d.dimensions.required), d.storage_class_name, d.is_calibration]
                for d in self._type_list
            ],
            "runs": list(self._runs),
            "datasets": self._rows,
        }

    @staticmethod
    def read(data: Mapping[str, Any], universe: DimensionUniverse) -> list[DatasetRef]:
        types = [
            DatasetType(n, dims, sc, cal, universe=universe) for n, dims, sc, cal in data["dataset_types"]
        ]
        runs = data["runs"]
        refs = []
        for t, r, hex_id, *values in data["datasets"]:
            dtype = types[t]
            coord = DataCoordinate.from_trusted(dtype.dimensions, tuple(values))
            refs.append(DatasetRef(uuid.UUID(hex=hex_id), dtype, coord, runs[r]))
        return refs


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_dataset(lines: list[str], seen: set[uuid.UUID], ref: DatasetRef) -> None:
    if ref.id in seen:
        return
    seen.add(ref.id)
    label = _dot_quote(f"{ref.dataset_type.name}{ref.data_id}")
    lines.append(f"  d{ref.id.hex} [shape=ellipse, label={label}];")


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("{", "#123;").replace("}", "#125;")
