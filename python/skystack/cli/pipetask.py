# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``pipetask`` command: build quantum graphs from pipelines, run them, report on runs.

``pipetask build`` reads a pipeline, applies the instrument's, the pipeline's and the user's
config overrides, and shows the result. ``pipetask qgraph`` builds the quantum graph of the
pipeline on a repository (and saves or shows it); ``pipetask run`` builds it and runs it in
process (``-j 1``), in a pool of local worker processes (``-j N``) or on Dask
(``--executor dask``), chaining the output run into the ``-o`` collection; ``--extend-run``
resumes an interrupted run. ``pipetask report`` counts a run's quanta by outcome from its
provenance. Heavy modules are imported inside the commands so that ``pipetask --help`` stays
fast.
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


def _make_graph(
    request: _GraphRequest, *, butler: Any = None, run: str | None = None, skip_also: tuple[str, ...] = ()
) -> tuple[Any, Any, str]:
    """Open the repository, expand the pipeline and build the graph; returns (butler, graph, run).

    ``run`` overrides the output run of the request; ``skip_also`` adds collections to
    ``--skip-existing-in``.
    """
    import time

    from skystack.butler import Butler, RegistryError
    from skystack.butler.queries.expression import QueryExpressionError
    from skystack.config import ConfigError
    from skystack.pipe import ConnectionsError, PipelineError
    from skystack.pipe.graph_builder import GraphBuilderError, QuantumGraphBuilder

    r = request
    input_list = _split_collections(r.inputs)
    try:
        if butler is None:
            butler = Butler(r.repo, writeable=True)
        if not input_list:
            try:
                input_list = [c for c in butler.registry.get_collection_chain(r.output) if c]
                input_list = input_list[1:] if input_list else []
            except RegistryError:
                input_list = []
        if not input_list:
            raise click.UsageError("give the input collections with -i")
        run = run or r.output_run or f"{r.output}/{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        pipeline = load_pipeline(r.pipeline_spec, r.config_overrides, r.config_files, r.instrument)
        task_defs = pipeline.to_expanded()
        builder = QuantumGraphBuilder(
            butler.registry,
            task_defs,
            input_collections=input_list,
            output_run=run,
            where=r.where,
            skip_existing_in=[*_split_collections(r.skip_existing_in), *skip_also],
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


def execution_options(fn: Any) -> Any:
    """How ``pipetask run`` executes: executor, processes, failure handling, run reuse."""
    options = [
        click.option(
            "-j",
            "--processes",
            default=1,
            type=click.IntRange(min=1),
            show_default=True,
            help="Number of worker processes (Dask: workers of the local cluster).",
        ),
        click.option(
            "--executor",
            type=click.Choice(["serial", "pool", "dask"]),
            default=None,
            help="Executor: serial (default for -j 1), pool (local worker processes, default "
            "for -j > 1) or dask.",
        ),
        click.option(
            "--dask-scheduler",
            default=None,
            metavar="ADDRESS",
            help="Join this Dask scheduler (tcp://host:8786) instead of starting a local cluster; "
            "implies --executor dask. Its workers must see the repository, and the graph: save it on "
            "a shared file system with --save-qgraph.",
        ),
        click.option(
            "--start-method",
            type=click.Choice(["spawn", "forkserver"]),
            default=None,
            help="How pool workers are started (default: forkserver where available, else spawn).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            metavar="SECONDS",
            help="Per-quantum time limit; a quantum over it fails.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(min=0),
            default=2,
            show_default=True,
            help="Retries of quanta that fail transiently (TransientError, a dead worker).",
        ),
        click.option(
            "--retry-backoff",
            type=click.FloatRange(min=0),
            default=1.0,
            show_default=True,
            metavar="SECONDS",
            help="Delay before the first retry; doubled for each further one.",
        ),
        click.option("--retry-os-errors", is_flag=True, help="Treat OSError raised by tasks as transient."),
        click.option("--fail-fast", is_flag=True, help="Stop at the first failed quantum."),
        click.option(
            "--extend-run",
            is_flag=True,
            help="Write into the existing output run (--output-run, or the first child of -o) "
            "and skip the quanta that already finished there (resume).",
        ),
        click.option(
            "--skip-existing",
            is_flag=True,
            help="Skip quanta whose outputs already exist in the output run "
            "(as --skip-existing-in with the output run).",
        ),
        click.option(
            "--replace-run",
            is_flag=True,
            help="Take the first child (a RUN) of the -o chain out of it and write a new run; "
            "incompatible with --extend-run.",
        ),
        click.option(
            "--prune-replaced",
            type=click.Choice(["unstore", "purge"]),
            default=None,
            help="With --replace-run: delete the replaced run's files (unstore) or the run with "
            "its datasets (purge).",
        ),
        click.option(
            "--clobber-outputs",
            is_flag=True,
            help="With --extend-run: remove outputs and logs of earlier, unfinished attempts of "
            "the quanta to run.",
        ),
        click.option(
            "--register-interval",
            type=click.FloatRange(min=0),
            default=2.0,
            show_default=True,
            metavar="SECONDS",
            help="Register finished quanta at least this often (they are registered in batches; a "
            "crash loses at most this much finished work, which --extend-run redoes).",
        ),
        click.option(
            "--register-dataset-types", is_flag=True, help="Register the dataset types the pipeline writes."
        ),
        click.option("--no-progress", is_flag=True, help="Do not show the progress bar."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@dataclass(frozen=True)
class _ExecRequest:
    """The options of ``pipetask run`` beyond the graph request."""

    processes: int
    executor: str | None
    dask_scheduler: str | None
    start_method: str | None
    timeout: float | None
    retries: int
    retry_backoff: float
    retry_os_errors: bool
    fail_fast: bool
    extend_run: bool
    skip_existing: bool
    replace_run: bool
    prune_replaced: str | None
    clobber_outputs: bool
    register_interval: float
    register_dataset_types: bool
    no_progress: bool

    @classmethod
    def pop_from(cls, options: dict[str, Any]) -> _ExecRequest:
        """Take this request's fields out of a command's keyword arguments."""
        return cls(**{f.name: options.pop(f.name) for f in fields(cls)})

    def check(self) -> None:
        """Refuse contradictory options."""
        if self.extend_run and self.replace_run:
            raise click.UsageError("--extend-run and --replace-run cannot be combined")
        if self.prune_replaced and not self.replace_run:
            raise click.UsageError("--prune-replaced needs --replace-run")
        if self.clobber_outputs and not (self.extend_run or self.skip_existing):
            raise click.UsageError("--clobber-outputs applies only with --extend-run (or --skip-existing)")


def _resolve_run(butler: Any, request: _GraphRequest, ex: _ExecRequest) -> str | None:
    """The output run to write (None: a new timestamped one), after --replace-run's changes."""
    from skystack.butler import CollectionType, MissingCollectionError

    registry = butler.registry

    def chain() -> tuple[str, ...]:
        try:
            if registry.get_collection_type(request.output) is CollectionType.CHAINED:
                return registry.get_collection_chain(request.output)
        except MissingCollectionError:
            pass
        return ()

    def is_run(name: str) -> bool:
        try:
            return registry.get_collection_type(name) is CollectionType.RUN
        except MissingCollectionError:
            return False

    run = request.output_run
    if ex.extend_run:
        if run is None:
            children = chain()
            if not children or not is_run(children[0]):
                raise click.UsageError(
                    f"--extend-run: {request.output!r} is not a chain whose first child is a RUN; "
                    "give the run with --output-run"
                )
            run = children[0]
        elif not is_run(run):
            raise click.UsageError(f"--extend-run: output run {run!r} does not exist; drop --extend-run")
        return run
    if ex.replace_run:
        children = chain()
        if not children or not is_run(children[0]):
            raise click.UsageError(
                f"--replace-run: {request.output!r} is not a chain whose first child is a RUN"
            )
        replaced = children[0]
        registry.set_collection_chain(request.output, children[1:])
        if ex.prune_replaced == "purge":
            butler.remove_runs([replaced])
        elif ex.prune_replaced == "unstore":
            _unstore_run(butler, replaced)
        click.echo(
            f"Replaced run {replaced!r} in {request.output!r}"
            + (f" ({ex.prune_replaced}d)" if ex.prune_replaced else "")
        )
    if run is not None and is_run(run) and not ex.skip_existing:
        raise click.UsageError(
            f"output run {run!r} already exists; pass --extend-run to add to it, --replace-run to "
            "start a new run in its place, or choose another --output-run"
        )
    return run


def _unstore_run(butler: Any, run: str) -> None:
    """Delete the files and file records of a run's datasets, keeping the datasets registered."""
    from skystack.butler.datastore import RECORDS_TABLE

    ids = [
        r.id
        for dtype in butler.registry.query_dataset_types()
        for r in butler.registry.query_datasets_simple(dtype, [run], find_first=False)
    ]
    infos = butler.datastore.get_records(ids)
    with butler.registry.transaction():
        for start in range(0, len(ids), 500):
            butler.registry.delete_opaque_data(RECORDS_TABLE, dataset_id=ids[start : start + 500])
    butler.datastore.remove_files(infos.values())


def _set_output_chain(butler: Any, output: str, run_name: str, inputs: tuple[str, ...]) -> None:
    from skystack.butler import CollectionType

    registry = butler.registry
    registry.register_run(run_name)
    registry.register_collection(output, CollectionType.CHAINED)
    old = [c for c in registry.get_collection_chain(output) if c != run_name]
    registry.set_collection_chain(output, [run_name, *[c for c in old if c not in inputs], *inputs])


@main.command()
@pipeline_options
@graph_options
@graph_output_options
@execution_options
def run(**options: Any) -> None:
    """Build the quantum graph and run it; OUTPUT becomes a CHAINED collection [run, *inputs].

    The output run and the chain are set up before the first quantum runs, so that a run that
    was interrupted (even by kill -9) can be completed with the same command plus --extend-run.
    """
    from skystack.butler import RegistryError
    from skystack.pipe.executors import ExecutionError, RetryPolicy, make_executor

    request = _GraphRequest.pop_from(options)
    ex = _ExecRequest.pop_from(options)
    ex.check()
    from skystack.butler import Butler

    try:
        butler = Butler(request.repo, writeable=True)
    except Exception as err:
        raise click.ClickException(str(err)) from None
    try:
        try:
            run_name = _resolve_run(butler, request, ex)
        except RegistryError as err:
            raise click.ClickException(str(err)) from None
        skip = (run_name,) if run_name and (ex.extend_run or ex.skip_existing) else ()
        butler, graph, run_name = _make_graph(request, butler=butler, run=run_name, skip_also=skip)
        if request.save_qgraph:
            graph.save(request.save_qgraph)
        _show_graph(graph, request.show)
        if not len(graph):
            click.echo(graph.explain_empty())
            raise click.ClickException("nothing to run: the quantum graph is empty")
        try:
            executor = make_executor(
                ex.executor,
                butler,
                ex.processes,
                start_method=ex.start_method,
                scheduler_address=ex.dask_scheduler,
                fail_fast=ex.fail_fast,
                progress=not ex.no_progress,
                retry=RetryPolicy(
                    max_retries=ex.retries, backoff_s=ex.retry_backoff, retry_os_errors=ex.retry_os_errors
                ),
                timeout=ex.timeout,
                skip_existing=ex.extend_run or ex.skip_existing,
                clobber_outputs=ex.clobber_outputs,
                flush_interval=ex.register_interval,
            )
        except ValueError as err:
            raise click.UsageError(str(err)) from None
        try:
            from skystack.pipe.executors import ensure_dataset_types

            ensure_dataset_types(butler, graph, register=ex.register_dataset_types)
            _set_output_chain(butler, request.output, run_name, graph.input_collections)
            report = executor.execute(
                graph, register_dataset_types=ex.register_dataset_types, graph_path=request.save_qgraph
            )
        except (ExecutionError, RegistryError) as err:
            raise click.ClickException(str(err)) from None
        click.echo(report.table())
        click.echo(f"Outputs in run {run_name!r}, chained into {request.output!r}.")
        if not report.ok:
            raise click.ClickException(
                f"{sum(s.value == 'failed' for s in report.status)} quanta failed, "
                f"{sum(s.value == 'blocked' for s in report.status)} blocked"
            )
    finally:
        butler.close()


@main.command()
@click.option("-b", "--butler-config", "repo", required=True, metavar="REPO", help="Repository path.")
@click.argument("run_name", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "-g",
    "--qgraph",
    "qgraph_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The run's saved quantum graph: quanta without any provenance are counted as missing.",
)
@click.option("--tracebacks", is_flag=True, help="Also print the traceback of each failure.")
def report(repo: str, run_name: str, as_json: bool, qgraph_path: str | None, tracebacks: bool) -> None:
    """Per-task counts of succeeded, failed, blocked and no-work quanta of RUN, from its provenance.

    Each failure is listed with its exception. The exit status is 0 only if nothing failed, was
    blocked or is missing.
    """
    import json

    from skystack.butler import Butler
    from skystack.pipe.report import ReportError, collect_report

    graph = None
    if qgraph_path is not None:
        from skystack.pipe.graph import QuantumGraph, QuantumGraphError

        try:
            graph = QuantumGraph.load(qgraph_path)
        except QuantumGraphError as err:
            raise click.ClickException(str(err)) from None
    try:
        with Butler(repo, writeable=False) as butler:
            result = collect_report(butler, run_name, graph=graph)
    except ReportError as err:
        raise click.ClickException(str(err)) from None
    if as_json:
        click.echo(json.dumps(result.to_json_dict(), indent=2))
    else:
        click.echo(result.table(tracebacks=tracebacks))
    if not result.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
