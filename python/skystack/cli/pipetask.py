# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``pipetask`` command: build quantum graphs from pipelines and run them.

``pipetask build`` reads a pipeline, applies the instrument's, the pipeline's and the user's
config overrides, and shows the result. The graph and execution commands (``qgraph``, ``run``,
``report``) are added as the pipeline layer provides them. Heavy modules are imported inside the
commands so that ``pipetask --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .common import log_level_option, version_option

if TYPE_CHECKING:
    from skystack.pipe import Pipeline, TaskDef

__all__ = ["main"]

SHOW_CHOICES = (
    "pipeline",
    "tasks",
    "graph",
    "config=LABEL[:FIELD]",
    "dump-config[=LABEL]",
    "history=LABEL:FIELD",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@log_level_option
@version_option
def main() -> None:
    """Build and run skystack pipelines on a data repository."""


def pipeline_options(fn: Any) -> Any:
    """The options that define a pipeline: ``-p``, ``-c``, ``-C``, ``--instrument``."""
    fn = click.option(
        "--instrument",
        default=None,
        help="Instrument (short name or class import path) whose config overrides apply; "
        "replaces the pipeline's 'instrument'.",
    )(fn)
    fn = click.option(
        "-C",
        "--config-file",
        "config_files",
        multiple=True,
        metavar="LABEL:FILE",
        help="YAML config override file for task LABEL (repeatable; applied after the pipeline's).",
    )(fn)
    fn = click.option(
        "-c",
        "--config",
        "config_overrides",
        multiple=True,
        metavar="LABEL:FIELD=VALUE",
        help="Config override for task LABEL (repeatable; applied in order, after -C files given before it).",
    )(fn)
    fn = click.option(
        "-p",
        "--pipeline",
        "pipeline_spec",
        required=True,
        metavar="FILE[#SUBSET|#LABEL,...]",
        help="Pipeline YAML file ($SKYSTACK_CONFIG/... for shipped ones), optionally with a subset.",
    )(fn)
    return fn


def load_pipeline(
    pipeline_spec: str,
    config_overrides: tuple[str, ...],
    config_files: tuple[str, ...],
    instrument: str | None,
) -> Pipeline:
    """Read the pipeline and attach the user's overrides (``-C`` files first, then ``-c``)."""
    from skystack.pipe import Pipeline, parse_label_override

    pipeline = Pipeline.from_file(pipeline_spec)
    if instrument is not None:
        pipeline.instrument = instrument
    for text in config_files:
        label, path = parse_label_override(text, "-C")
        pipeline.add_config_file(label, path)
    for text in config_overrides:
        label, override = parse_label_override(text, "-c")
        pipeline.add_config_override(label, override)
    return pipeline


def _format_tasks(task_defs: list[TaskDef]) -> str:
    lines = []
    for d in task_defs:
        conns = d.connections
        ins = [f"{c.name}{'[]' if c.multiple else ''}" for c in conns.inputs.values()]
        pre = [f"{c.name}{'[]' if c.multiple else ''}" for c in conns.prerequisite_inputs.values()]
        outs = [f"{c.name}{'[]' if c.multiple else ''}" for c in conns.outputs.values()]
        lines.append(f"{d.label}: {d.task_name}")
        lines.append(f"    dimensions: ({', '.join(d.dimensions)})")
        if conns.init_inputs or conns.init_outputs:
            init_in = ", ".join(c.name for c in conns.init_inputs.values()) or "-"
            init_out = ", ".join(c.name for c in conns.init_outputs.values()) or "-"
            lines.append(f"    init: {init_in} -> {init_out}")
        lines.append(f"    inputs: {', '.join(ins) or '-'}")
        if pre:
            lines.append(f"    prerequisites: {', '.join(pre)}")
        lines.append(f"    outputs: {', '.join(outs) or '-'}")
    return "\n".join(lines)


def _format_graph(task_defs: list[TaskDef]) -> str:
    producer = {
        c.name: d.label
        for d in task_defs
        for c in {**d.connections.outputs, **d.connections.init_outputs}.values()
    }
    lines = []
    for d in task_defs:
        conns = d.connections
        for c in {**conns.inputs, **conns.prerequisite_inputs, **conns.init_inputs}.values():
            source = producer.get(c.name, "(input collections)")
            lines.append(f"{source} -> {c.name} -> {d.label}")
    return "\n".join(lines) or "(no dataset flows between tasks)"


def _task_def(task_defs: list[TaskDef], label: str) -> TaskDef:
    for d in task_defs:
        if d.label == label:
            return d
    raise click.UsageError(
        f"--show: no task labelled {label!r}; labels are: {', '.join(d.label for d in task_defs)}"
    )


def _show(item: str, pipeline: Pipeline, task_defs: list[TaskDef]) -> str:
    import yaml

    what, _, arg = item.partition("=")
    if what == "pipeline":
        return pipeline.to_yaml().rstrip()
    if what == "tasks":
        return _format_tasks(task_defs)
    if what == "graph":
        return _format_graph(task_defs)
    if what == "config" and arg:
        label, _, field = arg.partition(":")
        config = _task_def(task_defs, label).config
        data: Any = config.to_dict()
        for part in [p for p in field.split(".") if p]:
            if not isinstance(data, dict) or part not in data:
                raise click.UsageError(f"--show config={arg}: {label} config has no field {field!r}")
            data = data[part]
        header = f"# {label}{'.' + field if field else ''}"
        body = yaml.safe_dump(data, sort_keys=False) if isinstance(data, dict) else f"{data!r}\n"
        return f"{header}\n{body}".rstrip()
    if what == "dump-config":
        chosen = [_task_def(task_defs, arg)] if arg else task_defs
        return "\n".join(f"# {d.label} ({d.task_name})\n{d.config.to_yaml()}" for d in chosen).rstrip()
    if what == "history" and ":" in arg:
        label, _, field = arg.partition(":")
        try:
            return _task_def(task_defs, label).config.format_history(field)
        except (AttributeError, ValueError) as err:
            raise click.UsageError(f"--show history={arg}: {err}") from None
    raise click.UsageError(f"--show {item!r} is not understood; choose from: {', '.join(SHOW_CHOICES)}")


@main.command()
@pipeline_options
@click.option(
    "--show",
    "show",
    multiple=True,
    metavar="ITEM",
    help="What to print (repeatable): " + ", ".join(SHOW_CHOICES) + ". Default: tasks.",
)
@click.option("-s", "--save-pipeline", type=click.Path(dir_okay=False), help="Write the pipeline YAML here.")
def build(
    pipeline_spec: str,
    config_overrides: tuple[str, ...],
    config_files: tuple[str, ...],
    instrument: str | None,
    show: tuple[str, ...],
    save_pipeline: str | None,
) -> None:
    """Read a pipeline, apply config overrides, check it, and show it.

    Configs are built from the class defaults, then the instrument's override files, then the
    pipeline's config blocks, then -C files and -c overrides; `--show history=LABEL:FIELD`
    prints where each value of a field came from.
    """
    from skystack.config import ConfigError
    from skystack.pipe import ConnectionsError, PipelineError

    try:
        pipeline = load_pipeline(pipeline_spec, config_overrides, config_files, instrument)
        task_defs = pipeline.to_expanded()
    except (PipelineError, ConfigError, ConnectionsError) as err:
        raise click.ClickException(str(err)) from None
    if save_pipeline:
        from pathlib import Path

        Path(save_pipeline).write_text(pipeline.to_yaml(), encoding="utf-8")
    for item in show or ("tasks",):
        click.echo(_show(item, pipeline, task_defs))


if __name__ == "__main__":
    main()
