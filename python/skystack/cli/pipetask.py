# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``pipetask`` command: build quantum graphs from pipelines and run them.

``pipetask build`` reads a pipeline, applies the instrument's, the pipeline's and the user's
config overrides, and shows the result. ``pipetask qgraph`` builds the quantum graph of the
pipeline on a repository (and saves or shows it); ``pipetask run`` builds it and runs it in
process (``-j 1``), chaining the output run into the ``-o`` collection. Heavy modules are imported inside the
commands so that ``pipetask --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
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
        help="Config override for task LABEL (repeatable; applied in order, after all -C files).",
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


def graph_options(fn: Any) -> Any:
    """The options that choose a repository and collections: ``-b -i -o --output-run -d``."""
    fn = click.option(
        "--skip-existing-in",
        "skip_existing_in",
        multiple=True,
        metavar="COLLECTION",
        help="Skip quanta whose outputs (their <label>_metadata) already exist in these collections.",
    )(fn)
    fn = click.option(
        "-d",
        "--data-query",
        "where",
        default="",
        metavar="WHERE",
        help="Data-ID expression, applied per task.",
    )(fn)
    fn = click.option(
        "--output-run",
        default=None,
        metavar="RUN",
        help="Output RUN collection (default OUTPUT/<timestamp>).",
    )(fn)
    fn = click.option(
        "-o",
        "--output",
        required=True,
        metavar="COLLECTION",
        help="Output CHAINED collection [run, *inputs].",
    )(fn)
    fn = click.option(
        "-i",
        "--input",
        "inputs",
        multiple=True,
        metavar="COLLECTION[,...]",
        help="Input collections, searched in order (repeatable or comma-separated).",
    )(fn)
    fn = click.option(
        "-b", "--butler-config", "repo", required=True, metavar="REPO", help="Repository path."
    )(fn)
    return fn


def _split_collections(values: tuple[str, ...]) -> list[str]:
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def graph_output_options(fn: Any) -> Any:
    """``--save-qgraph FILE`` and ``--show ITEM``: what to do with a built graph."""
    fn = click.option(
        "--show", "show", multiple=True, metavar="ITEM", help="summary, graph, dot or mermaid (repeatable)."
    )(fn)
    return click.option(
        "--save-qgraph", "save_qgraph", type=click.Path(dir_okay=False), help="Write the graph here."
    )(fn)


@dataclass(frozen=True)
class _GraphRequest:
    """The options shared by ``qgraph`` and ``run``: pipeline, repository, collections, query."""

    pipeline_spec: str
    config_overrides: tuple[str, ...]
    config_files: tuple[str, ...]
    instrument: str | None
    repo: str
    inputs: tuple[str, ...]
    output: str
    output_run: str | None
    where: str
    skip_existing_in: tuple[str, ...]
    save_qgraph: str | None
    show: tuple[str, ...]

    @classmethod
    def pop_from(cls, options: dict[str, Any]) -> _GraphRequest:
        """Take this request's fields out of a command's keyword arguments."""
        return cls(**{f.name: options.pop(f.name) for f in fields(cls)})


def _make_graph(request: _GraphRequest) -> tuple[Any, Any, str]:
    """Open the repository, expand the pipeline and build the graph; returns (butler, graph, run)."""
    import time

    from skystack.butler import Butler, RegistryError
    from skystack.butler.queries.expression import QueryExpressionError
    from skystack.config import ConfigError
    from skystack.pipe import ConnectionsError, PipelineError
    from skystack.pipe.graph_builder import GraphBuilderError, QuantumGraphBuilder

    r = request
    input_list = _split_collections(r.inputs)
    try:
        butler = Butler(r.repo, writeable=True)
        if not input_list:
            try:
                input_list = [c for c in butler.registry.get_collection_chain(r.output) if c]
                input_list = input_list[1:] if input_list else []
            except RegistryError:
                input_list = []
        if not input_list:
            raise click.UsageError("give the input collections with -i")
        run = r.output_run or f"{r.output}/{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        pipeline = load_pipeline(r.pipeline_spec, r.config_overrides, r.config_files, r.instrument)
        task_defs = pipeline.to_expanded()
        builder = QuantumGraphBuilder(
            butler.registry,
            task_defs,
            input_collections=input_list,
            output_run=run,
            where=r.where,
            skip_existing_in=r.skip_existing_in,
        )
        graph = builder.build(metadata={"output": r.output, "pipeline": r.pipeline_spec})
    except (
        PipelineError,
        ConfigError,
        ConnectionsError,
        GraphBuilderError,
        QueryExpressionError,
        RegistryError,
    ) as err:
        raise click.ClickException(str(err)) from None
    return butler, graph, run


GRAPH_SHOW = ("summary", "graph", "dot", "mermaid")


def _show_graph(graph: Any, show: tuple[str, ...]) -> None:
    for item in show:
        if item == "summary":
            click.echo(graph.summary())
        elif item == "graph":
            click.echo(graph.format_quanta())
        elif item == "dot":
            click.echo(graph.to_dot())
        elif item == "mermaid":
            click.echo(graph.to_mermaid())
        else:
            raise click.UsageError(f"--show {item!r} is not understood; choose from: {', '.join(GRAPH_SHOW)}")


@main.command()
@pipeline_options
@graph_options
@graph_output_options
def qgraph(**options: Any) -> None:
    """Build the quantum graph of a pipeline on a repository, and show or save it."""
    request = _GraphRequest.pop_from(options)
    butler, graph, _ = _make_graph(request)
    butler.close()
    if request.save_qgraph:
        graph.save(request.save_qgraph)
    _show_graph(graph, request.show or ("summary",))
    if not len(graph):
        raise click.ClickException("the quantum graph is empty (see the steps above)")


@main.command()
@pipeline_options
@graph_options
@graph_output_options
@click.option("-j", "--processes", default=1, type=int, show_default=True, help="Number of processes.")
@click.option(
    "--register-dataset-types", is_flag=True, help="Register the dataset types the pipeline writes."
)
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed quantum.")
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
def run(
    processes: int, register_dataset_types: bool, fail_fast: bool, no_progress: bool, **options: Any
) -> None:
    """Build the quantum graph and run it; OUTPUT becomes a CHAINED collection [run, *inputs]."""
    if processes != 1:
        raise click.UsageError(f"-j {processes}: parallel execution is not implemented yet; use -j 1")
    from skystack.butler import CollectionType, RegistryError
    from skystack.pipe.execution import ExecutionError, SerialExecutor

    request = _GraphRequest.pop_from(options)
    output = request.output
    butler, graph, run_name = _make_graph(request)
    try:
        if request.save_qgraph:
            graph.save(request.save_qgraph)
        _show_graph(graph, request.show)
        if not len(graph):
            click.echo(graph.explain_empty())
            raise click.ClickException("nothing to run: the quantum graph is empty")
        executor = SerialExecutor(butler, fail_fast=fail_fast, progress=not no_progress)
        try:
            report = executor.execute(graph, register_dataset_types=register_dataset_types)
            registry = butler.registry
            registry.register_collection(output, CollectionType.CHAINED)
            old = [c for c in registry.get_collection_chain(output) if c != run_name]
            chain = [
                run_name,
                *[c for c in old if c not in graph.input_collections],
                *graph.input_collections,
            ]
            registry.set_collection_chain(output, chain)
        except (ExecutionError, RegistryError) as err:
            raise click.ClickException(str(err)) from None
        click.echo(report.table())
        click.echo(f"Outputs in run {run_name!r}, chained into {output!r}.")
        if not report.ok:
            raise click.ClickException(
                f"{sum(s.value == 'failed' for s in report.status)} quanta failed, "
                f"{sum(s.value == 'blocked' for s in report.status)} blocked"
            )
    finally:
        butler.close()


if __name__ == "__main__":
    main()
