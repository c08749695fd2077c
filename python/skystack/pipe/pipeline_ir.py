# SPDX-License-Identifier: GPL-3.0-or-later
"""The pipeline YAML format: its schema (pydantic models), locations and config blocks.

A pipeline file (safe YAML only, never executed)::

    description: Single-frame processing.
    instrument: SimCam                    # short name or import path of an Instrument class
    parameters:
      n_sigma: 5.0                        # used in configs as 'parameters.n_sigma'
    imports:
      - location: $SKYSTACK_CONFIG/pipelines/common.yaml
        exclude: [make_plots]             # labels or subset names (or include: [...])
        import_config: true               # keep the imported tasks' config blocks
    tasks:
      isr: skystack.tasks.isr.IsrTask     # short form
      calibrate:
        class: skystack.tasks.calibrate.CalibrateTask
        config:
          - detection.n_sigma: parameters.n_sigma
          - file: calibrate_overrides.yaml   # relative to this file
    subsets:
      step1: [isr, calibrate]
      step2: {subset: [coadd], description: Coaddition.}
    contracts:
      - isr.do_bias == calibrate.check_bias
      - {contract: "calibrate.n_iter >= 2", msg: Two iterations are needed.}
    steps:
      - {label: step1, dimensions: [instrument, visit]}

This module reads one file into validated models with the line of every entry; the
`~skystack.pipe.Pipeline` class merges imports and expands the tasks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from skystack.config import Config, ConfigError, ConfigSource, SourceKind, load_yaml_with_lines
from skystack.resources import config_resource

__all__ = [
    "SHIPPED_PREFIX",
    "ConfigBlock",
    "PipelineError",
    "PipelineFile",
    "Subset",
    "TaskSpec",
    "read_pipeline_text",
    "resolve_location",
]

SHIPPED_PREFIX = "$SKYSTACK_CONFIG/"
"""Locations starting with this prefix name files shipped under the package's ``config/`` folder."""

PARAMETER_PREFIX = "parameters."


class PipelineError(ValueError):
    """A pipeline definition that cannot be read, merged or expanded; the message says where."""


# -- schema of one file ------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class _TaskModel(_Model):
    class_name: str | None = Field(None, alias="class")
    config: list[dict[str, Any]] = []


class _ImportModel(_Model):
    location: str
    include: list[str] | None = None
    exclude: list[str] | None = None
    import_config: bool = True
    import_contracts: bool = True


class _SubsetModel(_Model):
    subset: list[str]
    description: str = ""


class _ContractModel(_Model):
    contract: str
    msg: str | None = None


class _StepModel(_Model):
    label: str
    dimensions: list[str] = []


class _PipelineModel(_Model):
    description: str = ""
    instrument: str | None = None
    parameters: dict[str, Any] = {}
    imports: list[_ImportModel] = []
    tasks: dict[str, _TaskModel] = {}
    subsets: dict[str, _SubsetModel] = {}
    contracts: list[_ContractModel] = []
    steps: list[_StepModel] = []


# -- in-memory pieces --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ConfigBlock:
    """One set of config overrides for a task, applied in pipeline order.

    Exactly one of ``values`` (a nested ``field: value`` mapping), ``file`` (a YAML override
    file) or ``override`` (one ``field.sub=value`` string) is used.
    """

    kind: SourceKind
    location: str
    values: Mapping[str, Any] | None = None
    file: Traversable | Path | None = None
    override: str | None = None
    line: int | None = None
    lines: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def parameter_names(self) -> set[str]:
        """Names of the parameters the values refer to (``parameters.<name>`` strings)."""
        found: set[str] = set()
        _walk_parameters(self.values or {}, found)
        return found

    def apply(self, config: Config, parameters: Mapping[str, Any]) -> None:
        """Apply this block to ``config``, recording its source in the history.

        Raises
        ------
        PipelineError
            If a referenced parameter is not defined.
        skystack.config.ConfigError
            If a field or value is invalid (message names the file and line).
        """
        source = ConfigSource(self.kind, self.location, self.line)
        if self.file is not None:
            location = str(self.file)
            try:
                text = self.file.read_text(encoding="utf-8")
            except (FileNotFoundError, OSError) as err:
                raise PipelineError(f"Cannot read config file {location} (from {source}): {err}") from None
            data, lines = load_yaml_with_lines(text, location)
            if data is not None:
                config.apply_mapping(data, ConfigSource(self.kind, location), lines)
        elif self.override is not None:
            config.apply_override(self.override, source)
        elif self.values is not None:
            config.apply_mapping(_substitute(self.values, parameters, source), source, dict(self.lines))

    def to_yaml_value(self) -> dict[str, Any]:
        """The block as written in a pipeline file."""
        if self.file is not None:
            return {"file": str(self.file)}
        if self.override is not None:
            key, _, raw = self.override.partition("=")
            value: Any = yaml.safe_load(raw.strip()) if raw.strip() else ""
            for part in reversed(key.strip().split(".")):
                value = {part: value}
            return dict(value)
        return _plain(self.values or {})


@dataclasses.dataclass
class TaskSpec:
    """A task of a pipeline before expansion: its label, class path and config blocks."""

    label: str
    class_name: str
    config_blocks: list[ConfigBlock] = dataclasses.field(default_factory=list)
    location: str = ""


@dataclasses.dataclass(frozen=True)
class Subset:
    """A named set of task labels (a step of a pipeline)."""

    labels: tuple[str, ...]
    description: str = ""


@dataclasses.dataclass
class PipelineFile:
    """The validated content of one pipeline file, with where it came from."""

    model: _PipelineModel
    location: str
    base: Traversable | Path
    lines: dict[str, int]

    def line_of(self, *path: str | int) -> int | None:
        """Line of an entry given by its key path (``"tasks", "isr", "config", 0``)."""
        key = ""
        for part in path:
            key = f"{key}[{part}]" if isinstance(part, int) else (f"{key}.{part}" if key else part)
        return self.lines.get(key)

    def where(self, *path: str | int) -> str:
        line = self.line_of(*path)
        return f"{self.location}, line {line}" if line is not None else self.location

    def config_blocks(self, label: str, entry: _TaskModel) -> list[ConfigBlock]:
        """The config blocks of a task entry, with files resolved and lines attached."""
        base_key = f"tasks.{label}.config"
        list_form = f"{base_key}[0]" in self.lines
        items: list[tuple[Mapping[str, Any], tuple[str | int, ...]]] = [
            (block, ("tasks", label, "config", i) if list_form else ("tasks", label, "config"))
            for i, block in enumerate(entry.config)
        ]
        blocks: list[ConfigBlock] = []
        for block, path in items:
            prefix = base_key + (f"[{path[3]}]" if len(path) > 3 else "")
            if "python" in block:
                raise PipelineError(
                    f"Task {label!r} at {self.where(*path, 'python')}: 'python:' config blocks are not "
                    "supported (no configuration is executed as code); write the values as YAML "
                    "'field: value' entries or put them in a 'file:' of YAML overrides"
                )
            values = {k: v for k, v in block.items() if k != "file"}
            if "file" in block:
                name = block["file"]
                if not isinstance(name, str):
                    raise PipelineError(
                        f"Task {label!r} at {self.where(*path, 'file')}: 'file' must be a path"
                    )
                node, _, _ = resolve_location(name, self.base)
                blocks.append(
                    ConfigBlock(SourceKind.PIPELINE, str(node), file=node, line=self.line_of(*path, "file"))
                )
            if values:
                lines = {k[len(prefix) + 1 :]: v for k, v in self.lines.items() if k.startswith(prefix + ".")}
                blocks.append(
                    ConfigBlock(
                        SourceKind.PIPELINE,
                        self.location,
                        values=values,
                        line=self.line_of(*path),
                        lines=lines,
                    )
                )
        return blocks


def resolve_location(
    location: str, base: Traversable | Path
) -> tuple[Traversable | Path, Traversable | Path, str]:
    """Find a pipeline or config file named in a pipeline.

    Parameters
    ----------
    location : `str`
        ``$SKYSTACK_CONFIG/pipelines/DRP.yaml`` for a shipped file, an absolute path, or a path
        relative to ``base``; ``~`` is expanded.
    base : `~importlib.resources.abc.Traversable` or `pathlib.Path`
        Folder of the file that names ``location``.

    Returns
    -------
    node, folder, display : tuple
        The file, its folder (for paths it names in turn) and a readable location.

    Raises
    ------
    PipelineError
        If the file does not exist.
    """
    if location.startswith(SHIPPED_PREFIX):
        parts = [p for p in location[len(SHIPPED_PREFIX) :].split("/") if p]
        try:
            node = config_resource(*parts)
        except FileNotFoundError as err:
            raise PipelineError(str(err)) from None
        folder = resources.files("skystack.resources.config").joinpath(*parts[:-1])
        return node, folder, location
    path = Path(location).expanduser()
    if isinstance(base, Path) or path.is_absolute():
        full = path if path.is_absolute() else Path(str(base)) / path
        if not full.is_file():
            raise PipelineError(f"Pipeline file {full} does not exist (named as {location!r})")
        return full, full.parent, str(full)
    node = base.joinpath(*path.parts)
    if not node.is_file():
        raise PipelineError(f"Shipped file {location!r} does not exist next to {base}")
    folder = base.joinpath(*path.parts[:-1]) if len(path.parts) > 1 else base
    return node, folder, str(node)


def read_pipeline_text(text: str, location: str, base: Traversable | Path) -> PipelineFile:
    """Parse and validate the text of one pipeline file (imports are not followed here).

    Raises
    ------
    PipelineError
        On YAML errors, unsafe tags, or entries that do not follow the schema; the message
        names the location, the line and the entry.
    """
    try:
        data, lines = load_yaml_with_lines(text, location)
    except ConfigError as err:
        raise PipelineError(str(err)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PipelineError(f"Pipeline {location} must be a mapping with 'tasks', got {type(data).__name__}")
    try:
        model = _PipelineModel.model_validate(_normalize(data))
    except pydantic.ValidationError as err:
        raise PipelineError(_describe_validation(err, location, lines)) from None
    return PipelineFile(model, location, base, lines)


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    """Rewrite the short forms (``label: Class``, ``name: [labels]``, ...) as the long ones."""
    out = dict(data)
    if isinstance(out.get("tasks"), dict):
        out["tasks"] = {k: ({"class": v} if isinstance(v, str) else v) for k, v in out["tasks"].items()}
        for k, v in out["tasks"].items():
            if isinstance(v, dict) and isinstance(v.get("config"), dict):
                out["tasks"][k] = {**v, "config": [v["config"]]}
    if isinstance(out.get("subsets"), dict):
        out["subsets"] = {k: ({"subset": v} if isinstance(v, list) else v) for k, v in out["subsets"].items()}
    if isinstance(out.get("contracts"), list):
        out["contracts"] = [{"contract": c} if isinstance(c, str) else c for c in out["contracts"]]
    if isinstance(out.get("imports"), list):
        out["imports"] = [{"location": i} if isinstance(i, str) else i for i in out["imports"]]
    return out


def _describe_validation(err: pydantic.ValidationError, location: str, lines: dict[str, int]) -> str:
    messages = []
    for item in err.errors():
        key = ""
        for part in item["loc"]:
            key = f"{key}[{part}]" if isinstance(part, int) else (f"{key}.{part}" if key else str(part))
        line = None
        probe = key
        while probe and line is None:
            line = lines.get(probe)
            probe = probe.rpartition(".")[0] if "." in probe else ""
        where = f", line {line}" if line is not None else ""
        if item["type"] == "extra_forbidden":
            messages.append(f"unknown entry '{key}'{where}")
        else:
            messages.append(f"'{key}'{where}: {item['msg']}")
    known = "description, instrument, parameters, imports, tasks, subsets, contracts, steps"
    return f"Invalid pipeline {location}: " + "; ".join(messages) + f" (top-level entries: {known})"


def _walk_parameters(value: Any, found: set[str]) -> None:
    if isinstance(value, str) and value.startswith(PARAMETER_PREFIX):
        found.add(value[len(PARAMETER_PREFIX) :])
    elif isinstance(value, Mapping):
        for v in value.values():
            _walk_parameters(v, found)
    elif isinstance(value, list):
        for v in value:
            _walk_parameters(v, found)


def _substitute(value: Any, parameters: Mapping[str, Any], source: ConfigSource) -> Any:
    if isinstance(value, str) and value.startswith(PARAMETER_PREFIX):
        name = value[len(PARAMETER_PREFIX) :]
        if name not in parameters:
            raise PipelineError(
                f"Config value {value!r} at {source} uses parameter {name!r}, which the pipeline does not "
                f"define; defined parameters: {', '.join(sorted(parameters)) or '(none)'}"
            )
        return parameters[name]
    if isinstance(value, Mapping):
        return {k: _substitute(v, parameters, source) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, parameters, source) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
