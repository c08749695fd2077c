# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``butler`` command: create and manage data repositories.

Repository commands (``create``, ``register-instrument``, ``ingest-raws``, ``query-datasets``,
...) are added here as the Butler layer provides them. The Butler is imported inside each
command, so ``butler --help`` stays fast.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from .common import log_level_option, version_option

if TYPE_CHECKING:
    from skystack.butler import Butler

__all__ = ["main"]

_FORMATS = ("table", "json", "csv")


def format_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--format table|json|csv``."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(_FORMATS),
        default="table",
        show_default=True,
        help="Output as an aligned table, JSON (a list of objects) or CSV.",
    )(fn)


def emit(columns: Sequence[str], rows: Sequence[Sequence[Any]], output_format: str) -> None:
    """Print rows as an aligned table, JSON or CSV."""
    if output_format == "json":
        click.echo(json.dumps([dict(zip(columns, map(_plain, r), strict=True)) for r in rows], indent=2))
        return
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in r] for r in rows])
        click.echo(buffer.getvalue(), nl=False)
        return
    text = [[str(_plain(v)) for v in r] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in text)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for r in text:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def _open(repo: str, writeable: bool = False) -> Butler:
    from skystack.butler import Butler, RegistryError, RepoConfigError

    try:
        return Butler(repo, writeable=writeable)
    except (RepoConfigError, RegistryError) as err:
        raise click.ClickException(str(err)) from None


def _errors() -> tuple[type[BaseException], ...]:
    from skystack.butler import DataIdError, RegistryError, StorageClassError

    return (RegistryError, DataIdError, StorageClassError)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@log_level_option
@version_option
def main() -> None:
    """Manage skystack data repositories."""


@main.command()
@click.argument("repo")
@click.option("--db", default=None, help="SQLAlchemy URL of a PostgreSQL registry (default: SQLite in REPO).")
@click.option("--namespace", default=None, help="PostgreSQL schema for the registry tables.")
@click.option("--checksum/--no-checksum", default=False, show_default=True, help="Record file checksums.")
@click.option("--fsync/--no-fsync", default=False, show_default=True, help="fsync files before registering.")
def create(repo: str, db: str | None, namespace: str | None, checksum: bool, fsync: bool) -> None:
    """Create a new data repository in REPO (credentials in --db are used but never stored)."""
    from skystack.butler import Butler, RegistryError, RepoConfigError

    try:
        Butler.create(repo, db=db, namespace=namespace, checksum=checksum, fsync=fsync).close()
    except (RepoConfigError, RegistryError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Created repository {repo}")


@main.command("query-collections")
@click.argument("repo")
@click.argument("pattern", required=False)
@format_option
def query_collections(repo: str, pattern: str | None, output_format: str) -> None:
    """List collections (optionally matching a glob PATTERN) with their types."""
    butler = _open(repo)
    rows = []
    for name in butler.registry.query_collections(pattern):
        ctype = butler.registry.get_collection_type(name)
        children = ",".join(butler.registry.get_collection_chain(name)) if ctype.name == "CHAINED" else ""
        rows.append((name, ctype.name, children))
    emit(("name", "type", "children"), rows, output_format)


@main.command("query-dataset-types")
@click.argument("repo")
@click.argument("pattern", required=False)
@format_option
def query_dataset_types(repo: str, pattern: str | None, output_format: str) -> None:
    """List dataset types (optionally matching a glob PATTERN)."""
    butler = _open(repo)
    rows = [
        (t.name, " ".join(t.dimensions.required), t.storage_class_name, t.is_calibration)
        for t in butler.registry.query_dataset_types(pattern)
    ]
    emit(("name", "dimensions", "storage_class", "is_calibration"), rows, output_format)


@main.command("query-datasets")
@click.argument("repo")
@click.argument("dataset_type")
@click.option("--collections", "-c", multiple=True, required=True, help="Collections to search (in order).")
@click.option("--find-first/--all", default=True, show_default=True, help="Only the first found per data ID.")
@click.option("--show-uri", is_flag=True, help="Add the file URI of each dataset.")
@format_option
def query_datasets(
    repo: str,
    dataset_type: str,
    collections: tuple[str, ...],
    find_first: bool,
    show_uri: bool,
    output_format: str,
) -> None:
    """List the datasets of DATASET_TYPE in the collections."""
    butler = _open(repo)
    try:
        refs = butler.query_datasets(dataset_type, collections=collections, find_first=find_first)
    except _errors() as err:
        raise click.ClickException(str(err)) from None
    if not refs:
        click.echo(f"no {dataset_type!r} datasets in {list(collections)}", err=True)
    dims = list(refs[0].dataset_type.dimensions.required) if refs else []
    infos = butler.datastore.get_records([r.id for r in refs]) if show_uri else {}
    rows = []
    for ref in refs:
        row: list[Any] = [ref.dataset_type.name, ref.run, str(ref.id), *ref.data_id.values_tuple]
        if show_uri:
            info = infos.get(ref.id)
            row.append(butler.datastore.path_of(info).as_uri() if info else "")
        rows.append(row)
    emit(("type", "run", "id", *dims, *(["uri"] if show_uri else [])), rows, output_format)


@main.command("remove-runs")
@click.argument("repo")
@click.argument("runs", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove_runs(repo: str, runs: tuple[str, ...], yes: bool) -> None:
    """Delete RUN collections with all their datasets and files."""
    butler = _open(repo, writeable=True)
    if not yes:
        click.confirm(f"Remove run(s) {', '.join(runs)} and all their datasets?", abort=True)
    try:
        count = butler.remove_runs(runs)
    except _errors() as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Removed {len(runs)} run(s) and {count} dataset(s)")


@main.command("prune-datasets")
@click.argument("repo")
@click.argument("dataset_type")
@click.option("--collections", "-c", multiple=True, required=True, help="Collections to search.")
@click.option("--where-data-id", "-d", multiple=True, help="KEY=VALUE data-ID constraints (repeatable).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def prune_datasets(
    repo: str, dataset_type: str, collections: tuple[str, ...], where_data_id: tuple[str, ...], yes: bool
) -> None:
    """Delete datasets of DATASET_TYPE found in the collections (registry rows, then files)."""
    butler = _open(repo, writeable=True)
    constraints: dict[str, Any] = {}
    for item in where_data_id:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--where-data-id")
        constraints[key] = int(value) if value.lstrip("-").isdigit() else value
    try:
        refs = butler.query_datasets(
            dataset_type, collections=collections, data_id=constraints or None, find_first=False
        )
        if not yes and refs:
            click.confirm(f"Delete {len(refs)} {dataset_type!r} dataset(s)?", abort=True)
        count = butler.prune_datasets(refs)
    except _errors() as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Removed {count} dataset(s)")


@main.command()
@click.argument("repo")
@click.option("--remove-orphans", is_flag=True, help="Delete files that no dataset refers to.")
@click.option("--checksums", is_flag=True, help="Also recompute recorded checksums (reads every file).")
@click.option(
    "--min-age",
    type=float,
    default=3600.0,
    show_default=True,
    help="Only orphans older than this (s) are reported and removed: younger files may belong to a put "
    "still in progress in another process.",
)
@format_option
def verify(repo: str, remove_orphans: bool, checksums: bool, min_age: float, output_format: str) -> None:
    """Check that every dataset has its intact file and list orphan files; exit 1 on problems."""
    butler = _open(repo, writeable=remove_orphans)
    report = butler.verify(remove_orphans=remove_orphans, check_checksums=checksums, min_age=min_age)
    removed = set(report.removed)
    rows: list[tuple[str, str, str]] = [
        ("orphan-removed" if p in removed else "orphan", p, "") for p in report.orphans
    ]
    rows += [("missing", i.path, str(i.dataset_id)) for i in report.missing]
    rows += [("bad-size", i.path, str(i.dataset_id)) for i in report.bad_size]
    rows += [("bad-checksum", i.path, str(i.dataset_id)) for i in report.bad_checksum]
    emit(("problem", "path", "dataset_id"), rows, output_format)
    if output_format == "table":
        click.echo(
            f"{report.n_records} dataset file(s) checked; " + ("OK" if report.ok else "PROBLEMS FOUND")
        )
    if not report.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
