# SPDX-License-Identifier: GPL-3.0-or-later
"""`Pipeline`: a set of labelled PipelineTasks with their configs, read from YAML.

::

    pipeline = Pipeline.from_file("DRP.yaml#step1")        # a subset (or "#label1,label2")
    pipeline.add_config_override("isr", "do_bias=false")    # pipetask -c isr:do_bias=false
    pipeline.add_config_file("calibrate", "my.yaml")        # pipetask -C calibrate:my.yaml
    for task_def in pipeline.to_expanded():                 # ordered by dataset flow
        print(task_def.label, task_def.task_class, task_def.connections)

Each task's config is built in this order, every value recording its source in the config
history: class defaults -> the instrument's override files (``<task default name>.yaml`` then
``<label>.yaml`` in the instrument's override folder) -> the pipeline's ``config:`` blocks and
files, imported pipelines first -> the user's ``-C`` files and ``-c`` overrides, in the order given.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Iterable, Mapping, Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from skystack.config import ConfigError, SourceKind, import_class

from .connections import ConnectionsError, PipelineTaskConnections, PrerequisiteInput
from .contracts import Contract, ContractError
from .instrument_overrides import InstrumentError, apply_instrument_overrides, resolve_instrument
from .pipeline_ir import (
    ConfigBlock,
    PipelineError,
    PipelineFile,
    Subset,
    TaskSpec,
    read_pipeline_text,
    resolve_location,
)
from .pipeline_task import PipelineTask, PipelineTaskConfig

__all__ = ["Pipeline", "PipelineError", "Step", "Subset", "TaskDef", "parse_label_override"]

#: Dataset types every task writes for provenance (``<label>_config`` ...).
PROVENANCE_SUFFIXES = ("_config", "_metadata", "_log")


@dataclasses.dataclass(frozen=True)
class Step:
    """A step of a pipeline: a subset run as a unit, sharded by ``dimensions``."""

    label: str
    dimensions: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class TaskDef:
    """A task of an expanded pipeline: ready to build the graph and to construct the task.

    Attributes
    ----------
    label : `str`
        The task's label in the pipeline.
    task_class : `type` [`PipelineTask`]
        The task class.
    config : `PipelineTaskConfig`
        The frozen config, with the history of every field.
    connections : `PipelineTaskConnections`
        Connections with their final dataset-type names.
    instrument_files : `tuple` [`str`, ...]
        Instrument override files that were applied.
    """

    label: str
    task_class: type[PipelineTask]
    config: PipelineTaskConfig
    connections: PipelineTaskConnections
    instrument_files: tuple[str, ...] = ()

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The task's quantum dimensions."""
        return type(self.connections).dimensions

    @property
    def task_name(self) -> str:
        """Import path of the task class."""
        return f"{self.task_class.__module__}.{self.task_class.__qualname__}"

    def make_task(self, init_inputs: Mapping[str, Any] | None = None) -> PipelineTask:
        """Construct the task with this config, named by the label."""
        return self.task_class(config=self.config, init_inputs=init_inputs, name=self.label)


def parse_label_override(text: str, option: str = "-c") -> tuple[str, str]:
    """Split ``"label:rest"`` (the ``-c label:field=value`` / ``-C label:file.yaml`` forms).

    Raises
    ------
    PipelineError
        If there is no ``label:`` prefix.
    """
    label, sep, rest = text.partition(":")
    if not sep or not label.strip() or not rest.strip():
        example = "label:field=value" if option == "-c" else "label:file.yaml"
        raise PipelineError(f"{option} {text!r} must have the form {example}")
    return label.strip(), rest.strip()


class Pipeline:
    """A pipeline definition: labelled tasks with config blocks, subsets, contracts and parameters.

    Build with `from_file` or `from_string`; `to_expanded` imports the tasks and builds their
    configs. All attributes are plain data and may be inspected.
    """

    def __init__(self, description: str = "") -> None:
        self.description = description
        self.instrument: str | None = None
        self.parameters: dict[str, Any] = {}
        self.tasks: dict[str, TaskSpec] = {}
        self.subsets: dict[str, Subset] = {}
        self.contracts: list[Contract] = []
        self.steps: list[Step] = []
        self.location = "<pipeline>"

    # -- reading ---------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, spec: str | Path) -> Pipeline:
        """Read a pipeline file, optionally selecting part of it.

        Parameters
        ----------
        spec : `str` or `pathlib.Path`
            ``path.yaml``, ``path.yaml#subset``, ``path.yaml#label1,label2`` or
            ``$SKYSTACK_CONFIG/pipelines/X.yaml`` for a shipped pipeline.

        Raises
        ------
        PipelineError
            If the file, an import, a subset or a label cannot be found or is invalid.
        """
        location, _, selection = str(spec).partition("#")
        node, folder, display = resolve_location(location, Path.cwd())
        pipeline = cls._load(node, folder, display, ())
        pipeline._validate()
        return pipeline.select(selection) if selection else pipeline

    @classmethod
    def from_string(cls, text: str, base: str | Path | None = None) -> Pipeline:
        """Read a pipeline from YAML text; relative paths are taken from ``base`` (default: cwd)."""
        folder = Path(base) if base is not None else Path.cwd()
        pipeline = cls._from_file(read_pipeline_text(text, "<string>", folder), ())
        pipeline._validate()
        return pipeline

    @classmethod
    def _load(
        cls, node: Traversable | Path, folder: Traversable | Path, display: str, stack: tuple[str, ...]
    ) -> Pipeline:
        if display in stack:
            raise PipelineError(f"Pipeline imports form a cycle: {' -> '.join([*stack, display])}")
        try:
            text = node.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise PipelineError(f"Cannot read pipeline {display}: {err}") from None
        return cls._from_file(read_pipeline_text(text, display, folder), (*stack, display))

    @classmethod
    def _from_file(cls, pf: PipelineFile, stack: tuple[str, ...]) -> Pipeline:
        model = pf.model
        pipeline = cls(model.description)
        pipeline.location = pf.location
        for i, imp in enumerate(model.imports):
            node, folder, display = resolve_location(imp.location, pf.base)
            imported = cls._load(node, folder, display, stack)
            if imp.include is not None and imp.exclude is not None:
                raise PipelineError(
                    f"Import of {imp.location} at {pf.where('imports', i)}: give include or exclude, not both"
                )
            if imp.include is not None:
                imported = imported.select(",".join(imp.include))
            elif imp.exclude is not None:
                drop = imported._expand_names(imp.exclude, f"exclude of import {imp.location}")
                imported = imported._restricted([lbl for lbl in imported.tasks if lbl not in drop])
            pipeline._merge_import(imported, imp.import_config, imp.import_contracts, pf.where("imports", i))
        if model.instrument is not None:
            pipeline.instrument = model.instrument
        pipeline.parameters.update(model.parameters)
        for label, entry in model.tasks.items():
            blocks = pf.config_blocks(label, entry)
            existing = pipeline.tasks.get(label)
            if existing is None:
                if entry.class_name is None:
                    raise PipelineError(f"Task {label!r} at {pf.where('tasks', label)} has no 'class'")
                pipeline.tasks[label] = TaskSpec(label, entry.class_name, blocks, pf.where("tasks", label))
            elif entry.class_name is None or entry.class_name == existing.class_name:
                existing.config_blocks.extend(blocks)  # configure an imported task further
            else:
                pipeline.tasks[label] = TaskSpec(label, entry.class_name, blocks, pf.where("tasks", label))
        for name, sub in model.subsets.items():
            if name in pipeline.subsets or name in pipeline.tasks:
                raise PipelineError(
                    f"Subset name {name!r} at {pf.where('subsets', name)} is already a label or subset"
                )
            pipeline.subsets[name] = Subset(tuple(sub.subset), sub.description)
        pipeline.contracts.extend(Contract(c.contract, c.msg) for c in model.contracts)
        if model.steps:
            pipeline.steps = [Step(s.label, tuple(s.dimensions)) for s in model.steps]
        return pipeline

    def _merge_import(self, other: Pipeline, import_config: bool, import_contracts: bool, where: str) -> None:
        if other.instrument is not None:
            if self.instrument is not None and self.instrument != other.instrument:
                raise PipelineError(
                    f"Imports at {where} name different instruments ({self.instrument!r}, "
                    f"{other.instrument!r}); set 'instrument:' in the importing pipeline"
                )
            self.instrument = other.instrument
        for label, spec in other.tasks.items():
            if label in self.tasks:
                raise PipelineError(
                    f"Task label {label!r} is defined by two imports ({self.tasks[label].location} and "
                    f"{spec.location}); exclude it from one of them"
                )
            blocks = list(spec.config_blocks) if import_config else []
            self.tasks[label] = TaskSpec(label, spec.class_name, blocks, spec.location)
        for name, sub in other.subsets.items():
            if name in self.subsets:
                raise PipelineError(f"Subset {name!r} is defined by two imports (at {where})")
            self.subsets[name] = sub
        if import_contracts:
            self.contracts.extend(other.contracts)
        for key, value in other.parameters.items():
            self.parameters.setdefault(key, value)
        if not self.steps:
            self.steps = list(other.steps)

    def _validate(self) -> None:
        labels = set(self.tasks)
        for name, sub in self.subsets.items():
            unknown = [lbl for lbl in sub.labels if lbl not in labels]
            if unknown:
                raise PipelineError(
                    f"Subset {name!r} names unknown label(s) {unknown}; labels are: {', '.join(self.tasks)}"
                )
        for contract in self.contracts:
            try:
                contract.parse(labels)
            except ContractError as err:
                raise PipelineError(str(err)) from None
        for step in self.steps:
            if step.label not in self.subsets:
                raise PipelineError(
                    f"Step {step.label!r} is not a subset; subsets are: {', '.join(self.subsets) or '(none)'}"
                )
        for spec in self.tasks.values():
            for block in spec.config_blocks:
                missing = sorted(block.parameter_names() - set(self.parameters))
                if missing:
                    where = f"{block.location}, line {block.line}" if block.line else block.location
                    raise PipelineError(
                        f"Task {spec.label!r} config at {where} uses undefined parameter(s) "
                        f"{', '.join(missing)}; defined parameters: "
                        f"{', '.join(sorted(self.parameters)) or '(none)'}"
                    )

    # -- selection -------------------------------------------------------------------------------
    def _expand_names(self, names: Iterable[str], what: str) -> list[str]:
        out: list[str] = []
        for name in names:
            name = name.strip()
            if name in self.subsets:
                out.extend(self.subsets[name].labels)
            elif name in self.tasks:
                out.append(name)
            else:
                raise PipelineError(
                    f"{what}: {name!r} is neither a task label nor a subset; labels: "
                    f"{', '.join(self.tasks) or '(none)'}; subsets: {', '.join(self.subsets) or '(none)'}"
                )
        return out

    def select(self, selection: str) -> Pipeline:
        """A new pipeline with only the tasks named by ``selection``.

        Parameters
        ----------
        selection : `str`
            Comma-separated task labels and/or subset names (the part after ``#``).

        Notes
        -----
        Contracts and subsets that refer to removed tasks are dropped.
        """
        keep = set(self._expand_names([s for s in selection.split(",") if s.strip()], "Pipeline selection"))
        if not keep:
            raise PipelineError(f"Pipeline selection {selection!r} names no task")
        return self._restricted([lbl for lbl in self.tasks if lbl in keep])

    def _restricted(self, labels: Sequence[str]) -> Pipeline:
        keep = set(labels)
        new = Pipeline(self.description)
        new.location = self.location
        new.instrument = self.instrument
        new.parameters = dict(self.parameters)
        new.tasks = {
            lbl: TaskSpec(lbl, s.class_name, list(s.config_blocks), s.location)
            for lbl, s in self.tasks.items()
            if lbl in keep
        }
        new.subsets = {n: s for n, s in self.subsets.items() if set(s.labels) <= keep}
        new.contracts = [c for c in self.contracts if c.labels() <= keep]
        new.steps = [s for s in self.steps if s.label in new.subsets]
        return new

    # -- user overrides --------------------------------------------------------------------------
    def _spec(self, label: str) -> TaskSpec:
        try:
            return self.tasks[label]
        except KeyError:
            raise PipelineError(
                f"No task labelled {label!r} in the pipeline; labels are: {', '.join(self.tasks) or '(none)'}"
            ) from None

    def add_config_override(self, label: str, override: str) -> None:
        """Add a ``field.sub=value`` override of task ``label`` (recorded as COMMAND_LINE)."""
        self._spec(label).config_blocks.append(
            ConfigBlock(SourceKind.COMMAND_LINE, f"-c {label}:{override}", override=override)
        )

    def add_config_file(self, label: str, path: str | Path) -> None:
        """Add a YAML override file for task ``label`` (recorded as FILE with file and line)."""
        path = Path(path).expanduser().resolve()
        if not path.is_file():
            raise PipelineError(f"Config override file {path} for task {label!r} does not exist")
        self._spec(label).config_blocks.append(ConfigBlock(SourceKind.FILE, str(path), file=path))

    def add_task(self, label: str, task_class: type[PipelineTask] | str) -> None:
        """Add a task (its class or import path) under a new label."""
        if label in self.tasks:
            raise PipelineError(f"Task label {label!r} is already used")
        name = (
            task_class
            if isinstance(task_class, str)
            else f"{task_class.__module__}.{task_class.__qualname__}"
        )
        self.tasks[label] = TaskSpec(label, name, [], "<python>")

    # -- writing ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The pipeline as a plain mapping in the file format (imports merged in)."""
        out: dict[str, Any] = {"description": self.description}
        if self.instrument is not None:
            out["instrument"] = self.instrument
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        out["tasks"] = {
            lbl: (
                {"class": s.class_name, "config": [b.to_yaml_value() for b in s.config_blocks]}
                if s.config_blocks
                else {"class": s.class_name}
            )
            for lbl, s in self.tasks.items()
        }
        if self.subsets:
            out["subsets"] = {
                n: (
                    {"subset": list(s.labels), "description": s.description}
                    if s.description
                    else list(s.labels)
                )
                for n, s in self.subsets.items()
            }
        if self.contracts:
            out["contracts"] = [
                {"contract": c.expression, "msg": c.msg} if c.msg else c.expression for c in self.contracts
            ]
        if self.steps:
            out["steps"] = [{"label": s.label, "dimensions": list(s.dimensions)} for s in self.steps]
        return out

    def to_yaml(self) -> str:
        """YAML text that `from_string` reads back into an equal pipeline (file paths made absolute)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.tasks)

    def __repr__(self) -> str:
        return f"Pipeline({self.location!r}, tasks={list(self.tasks)})"

    # -- expansion -------------------------------------------------------------------------------
    def to_expanded(self) -> list[TaskDef]:
        """Import every task, build and freeze its config, check contracts, and order by data flow.

        Returns
        -------
        task_defs : `list` [`TaskDef`]
            Sorted so that every task comes after the tasks producing its inputs (ties keep the
            pipeline order).

        Raises
        ------
        PipelineError
            For an unknown task class, an invalid config (naming the file and line), two tasks
            writing the same dataset type, a prerequisite input produced in the pipeline, a
            cycle (naming its tasks and datasets), or a failed contract (showing its values).
        """
        instrument = None
        if self.instrument is not None:
            try:
                instrument = resolve_instrument(self.instrument)
            except InstrumentError as err:
                raise PipelineError(f"Pipeline {self.location}: {err}") from None
        defs: dict[str, TaskDef] = {}
        for label, spec in self.tasks.items():
            defs[label] = self._expand_task(spec, instrument)
        self._check_contracts(defs)
        return self._sort(defs)

    def _expand_task(self, spec: TaskSpec, instrument: Any) -> TaskDef:
        label = spec.label
        try:
            task_class = import_class(spec.class_name)
        except ConfigError as err:
            raise PipelineError(f"Task {label!r} ({spec.location}): {err}") from None
        if not issubclass(task_class, PipelineTask):
            raise PipelineError(
                f"Task {label!r}: {spec.class_name} is not a PipelineTask subclass; "
                "pipelines run PipelineTasks"
            )
        try:
            config = task_class.ConfigClass()
            assert isinstance(config, PipelineTaskConfig)
            applied: list[str] = []
            if instrument is not None:
                applied = apply_instrument_overrides(instrument, config, [task_class.default_name, label])
            for block in spec.config_blocks:
                block.apply(config, self.parameters)
            config.freeze()
            connections = type(config).connections_class(config=config)
        except (ConfigError, ConnectionsError) as err:
            raise PipelineError(f"Task {label!r} ({task_class.__name__}): {err}") from None
        return TaskDef(label, task_class, config, connections, tuple(applied))

    def _check_contracts(self, defs: Mapping[str, TaskDef]) -> None:
        configs = {label: d.config for label, d in defs.items()}
        for contract in self.contracts:
            try:
                contract.evaluate(configs)
            except ContractError as err:
                raise PipelineError(str(err)) from None

    @staticmethod
    def _sort(defs: Mapping[str, TaskDef]) -> list[TaskDef]:
        producer: dict[str, str] = {}
        for label in defs:
            for suffix in PROVENANCE_SUFFIXES:
                producer[f"{label}{suffix}"] = label
        for label, d in defs.items():
            conns = d.connections
            for attr, conn in {**conns.outputs, **conns.init_outputs}.items():
                if conn.name in producer:
                    raise PipelineError(
                        f"Dataset type {conn.name!r} is written by both task "
                        f"{producer[conn.name]!r} and task {label!r} (connection {attr!r}); "
                        "rename one through config.connections"
                    )
                producer[conn.name] = label
        order = {label: i for i, label in enumerate(defs)}
        deps: dict[str, set[str]] = {label: set() for label in defs}
        via: dict[tuple[str, str], str] = {}
        for label, d in defs.items():
            conns = d.connections
            for attr, conn in {**conns.inputs, **conns.prerequisite_inputs, **conns.init_inputs}.items():
                source = producer.get(conn.name)
                if source is None:
                    continue
                if isinstance(conn, PrerequisiteInput):
                    raise PipelineError(
                        f"Task {label!r} reads {conn.name!r} as a PrerequisiteInput ({attr!r}), but task "
                        f"{source!r} writes it in this pipeline; declare it as an Input"
                    )
                deps[label].add(source)
                via[(source, label)] = conn.name
        # Kahn's algorithm; ties are broken by the pipeline order, so the result is deterministic.
        remaining = {label: len(d) for label, d in deps.items()}
        users: dict[str, list[str]] = {label: [] for label in defs}
        for label, sources in deps.items():
            for source in sources:
                users[source].append(label)
        heap = [(order[lbl], lbl) for lbl, n in remaining.items() if n == 0]
        heapq.heapify(heap)
        out: list[TaskDef] = []
        while heap:
            _, label = heapq.heappop(heap)
            out.append(defs[label])
            for user in users[label]:
                remaining[user] -= 1
                if remaining[user] == 0:
                    heapq.heappush(heap, (order[user], user))
        if len(out) < len(defs):
            cycle = _find_cycle({lbl: deps[lbl] for lbl, n in remaining.items() if n > 0})
            steps = [f"{a} -[{via[(a, b)]}]-> {b}" for a, b in itertools.pairwise(cycle)]
            raise PipelineError(
                f"The pipeline's tasks form a cycle through their datasets: {', '.join(steps)}"
            )
        return out


def _find_cycle(deps: Mapping[str, set[str]]) -> list[str]:
    """A cycle ``[a, b, ..., a]`` (producer before consumer) among tasks that all have unmet inputs."""
    start = next(iter(deps))
    path = [start]
    seen = {start: 0}
    node = start
    while True:
        node = sorted(s for s in deps[node] if s in deps)[0]
        if node in seen:
            cycle = [*path[seen[node] :], node]
            return list(reversed(cycle))
        seen[node] = len(path)
        path.append(node)
