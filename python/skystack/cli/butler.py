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


def _errors(*extra: type[BaseException]) -> tuple[type[BaseException], ...]:
    """The errors a command reports as a message (plus ``extra``)."""
    from skystack.butler import DataIdError, RegistryError, StorageClassError
    from skystack.butler.queries import QueryExpressionError

    return (RegistryError, DataIdError, StorageClassError, QueryExpressionError, *extra)


def where_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--where EXPR`` and ``--bind NAME=VALUE`` (repeatable)."""
    fn = click.option(
        "--bind",
        multiple=True,
        metavar="NAME=VALUE",
        help="Value of a :NAME bind parameter in --where (integers and floats are converted).",
    )(fn)
    return click.option(
        "--where",
        default="",
        help="Query expression, e.g. \"visit.day_obs > 20250101 AND band = 'r'\".",
    )(fn)


def _parse_value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parse_bind(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--bind")
        out[key] = _parse_value(value)
    return out


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
@where_options
@format_option
def query_datasets(
    repo: str,
    dataset_type: str,
    collections: tuple[str, ...],
    find_first: bool,
    show_uri: bool,
    where: str,
    bind: tuple[str, ...],
    output_format: str,
) -> None:
    """List the datasets of DATASET_TYPE in the collections (optionally constrained by --where)."""
    from skystack.butler import EmptyQueryResultError

    butler = _open(repo)
    refs = []
    try:
        refs = butler.query_datasets(
            dataset_type,
            collections=collections,
            where=where,
            bind=_parse_bind(bind),
            find_first=find_first,
            explain=True,
        )
    except EmptyQueryResultError as err:
        click.echo(str(err.explanation), err=True)
    except _errors() as err:
        raise click.ClickException(str(err)) from None
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


@main.command("collection-chain")
@click.argument("repo")
@click.argument("parent")
@click.argument("children", nargs=-1)
@click.option(
    "--mode",
    type=click.Choice(["redefine", "prepend", "extend", "remove", "pop"]),
    default="redefine",
    show_default=True,
    help="redefine: CHILDREN are the chain; prepend/extend: put them first/last (moving any already "
    "there); remove: take them out; pop: remove the children at these positions (default 0).",
)
@click.option("--doc", default=None, help="Description of a new chain.")
def collection_chain(repo: str, parent: str, children: tuple[str, ...], mode: str, doc: str | None) -> None:
    """Create or change the CHAINED collection PARENT and print its children, in search order."""
    from skystack.butler import CollectionType

    butler = _open(repo, writeable=True)
    registry = butler.registry
    try:
        if mode == "redefine":
            registry.register_collection(parent, CollectionType.CHAINED, doc)
            current: list[str] = []
        else:
            current = list(registry.get_collection_chain(parent))
        wanted = list(children)
        if mode == "redefine":
            new = wanted
        elif mode == "prepend":
            new = wanted + [c for c in current if c not in wanted]
        elif mode == "extend":
            new = [c for c in current if c not in wanted] + wanted
        elif mode == "remove":
            absent = [c for c in wanted if c not in current]
            if absent:
                raise click.ClickException(f"{', '.join(absent)} not in chain {parent!r} ({current})")
            new = [c for c in current if c not in wanted]
        else:
            try:
                positions = [int(i) for i in (children or ("0",))]
            except ValueError:
                raise click.BadParameter(
                    "pop takes child positions (integers)", param_hint="CHILDREN"
                ) from None
            drop = {p + len(current) if p < 0 else p for p in positions}
            if any(not 0 <= p < len(current) for p in drop):
                raise click.ClickException(f"chain {parent!r} has no child at position(s) {positions}")
            new = [c for i, c in enumerate(current) if i not in drop]
        registry.set_collection_chain(parent, new)
    except _errors(ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{parent}: {', '.join(new) if new else '(no children)'}")


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


@main.command("register-instrument")
@click.argument("repo")
@click.argument("instrument")
@click.option(
    "--from-fits",
    type=click.Path(exists=True, dir_okay=False),
    help="Build a generic instrument from this frame (INSTRUMENT is then its name).",
)
@click.option("--update", is_flag=True, help="Replace differing existing records.")
def register_instrument(repo: str, instrument: str, from_fits: str | None, update: bool) -> None:
    """Register INSTRUMENT (SimCam, SimCamTiny, SimCamBench or package.module:Class): its filters and
    detectors. Idempotent."""
    from skystack.instruments import GenericInstrument, TranslationError
    from skystack.instruments.registration import load_instrument
    from skystack.instruments.registration import register_instrument as run

    butler = _open(repo, writeable=True)
    try:
        inst = (
            GenericInstrument.from_fits(from_fits, name=instrument)
            if from_fits
            else load_instrument(instrument)
        )
        changed = run(butler, inst, update=update)
    except _errors(ValueError, TranslationError, OSError) as err:
        raise click.ClickException(str(err)) from None
    state = "registered" if changed else "already registered"
    click.echo(f"Instrument {inst.name} {state} ({len(inst.camera)} detectors, {len(inst.filters)} filters)")


@main.command("ingest-raws")
@click.argument("repo")
@click.argument("files", nargs=-1, required=True)
@click.option("--run", default=None, help="RUN collection (default <instrument>/raw/all).")
@click.option(
    "--transfer",
    type=click.Choice(["copy", "link", "symlink", "move", "direct"]),
    default="copy",
    show_default=True,
    help="How files enter the datastore (direct: recorded where they are).",
)
@click.option(
    "-j",
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes reading headers.",
)
@click.option("--instrument", default=None, help="Registered instrument of every file (default: INSTRUME).")
def ingest_raws(
    repo: str, files: tuple[str, ...], run: str | None, transfer: str, processes: int, instrument: str | None
) -> None:
    """Ingest raw FILES (or the FITS files in folders) as `raw` datasets; exit 1 if any file fails."""
    from skystack.instruments.registration import ingest_raws as ingest

    butler = _open(repo, writeable=True)
    try:
        result = ingest(butler, files, run=run, transfer=transfer, processes=processes, instrument=instrument)
    except _errors(LookupError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Ingested {result.n_ingested} raw file(s); {result.n_skipped} already present")
    for path, why in result.failures.items():
        click.echo(f"FAILED {path}: {why}", err=True)
    if result.failures:
        click.echo(f"{len(result.failures)} file(s) were not ingested", err=True)
        sys.exit(1)


@main.command("define-visits")
@click.argument("repo")
@click.argument("instrument")
@click.option("--collections", "-c", multiple=True, help="Where the raws are (default <instrument>/raw/all).")
@click.option("--where", default="", help="Extra constraint on the exposures.")
@click.option(
    "--padding",
    type=float,
    default=50.0,
    show_default=True,
    help="Pixels added around each detector's region for the pointing error.",
)
def define_visits(
    repo: str, instrument: str, collections: tuple[str, ...], where: str, padding: float
) -> None:
    """Group INSTRUMENT's science exposures into visits with their sky regions. Idempotent."""
    from skystack.instruments.registration import define_visits as run

    butler = _open(repo, writeable=True)
    try:
        count = run(butler, instrument, collections=collections or None, where=where, padding=padding)
    except _errors(LookupError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Defined {count} visit(s) of {instrument}")


@main.command("write-curated-calibrations")
@click.argument("repo")
@click.argument("instrument")
@click.option("--collection", default=None, help="CALIBRATION collection (default <instrument>/calib).")
def write_curated_calibrations(repo: str, instrument: str, collection: str | None) -> None:
    """Store and certify INSTRUMENT's defects, crosstalk and linearizers (valid at all times)."""
    from skystack.instruments.calib_registration import write_curated_calibrations as run
    from skystack.instruments.registration import load_registered_instrument

    butler = _open(repo, writeable=True)
    try:
        inst = load_registered_instrument(butler, instrument)
        if inst is None:
            raise click.ClickException(
                f"{instrument} is a generic instrument: it has no curated calibrations"
            )
        refs = run(butler, inst, collection=collection)
    except _errors(LookupError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{len(refs)} curated calibration(s) of {instrument} certified")


@main.command("certify-calibrations")
@click.argument("repo")
@click.argument("input_run")
@click.argument("collection")
@click.option("--dataset-type", required=True, help="Calibration dataset type to certify.")
@click.option("--begin-date", default=None, help="Start of validity (TAI ISO; default unbounded).")
@click.option("--end-date", default=None, help="End of validity, exclusive (TAI ISO; default unbounded).")
def certify_calibrations(
    repo: str,
    input_run: str,
    collection: str,
    dataset_type: str,
    begin_date: str | None,
    end_date: str | None,
) -> None:
    """Certify the DATASET_TYPE datasets of INPUT_RUN in the CALIBRATION COLLECTION."""
    from skystack.instruments.calib_registration import certify_calibrations as run

    butler = _open(repo, writeable=True)
    try:
        refs = run(butler, input_run, collection, dataset_type, begin=begin_date, end=end_date)
    except _errors(ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Certified {len(refs)} {dataset_type!r} dataset(s) in {collection}")


@main.command("register-skymap")
@click.argument("repo")
@click.argument("name")
@click.option("--kind", type=click.Choice(["discrete", "rings"]), required=True)
@click.option("--ra", type=float, multiple=True, help="Field centre RA (deg; discrete; repeatable).")
@click.option("--dec", type=float, multiple=True, help="Field centre Dec (deg; discrete; repeatable).")
@click.option("--radius", type=float, multiple=True, help="Field radius (deg; discrete; repeatable).")
@click.option("--num-rings", type=int, default=120, show_default=True, help="Rings (rings).")
@click.option("--tract", "tracts", type=int, multiple=True, help="Record only these tracts (repeatable).")
@click.option("--pixel-scale", type=float, default=0.2, show_default=True, help="Arcsec per pixel.")
@click.option("--patch-size", type=int, default=4000, show_default=True, help="Patch inner size (pixels).")
def register_skymap(
    repo: str,
    name: str,
    kind: str,
    ra: tuple[float, ...],
    dec: tuple[float, ...],
    radius: tuple[float, ...],
    num_rings: int,
    tracts: tuple[int, ...],
    pixel_scale: float,
    patch_size: int,
) -> None:
    """Register skymap NAME: its tract and patch records and the `skyMap` dataset. Idempotent."""
    from skystack.geom import Angle
    from skystack.instruments.skymap_registration import register_skymap as run
    from skystack.skymap import DiscreteSkyMap, DiscreteSkyMapParams, RingsSkyMap, RingsSkyMapParams

    scale = Angle.from_arcseconds(pixel_scale)
    dims = (patch_size, patch_size)
    butler = _open(repo, writeable=True)
    try:
        skymap: Any
        if kind == "discrete":
            skymap = DiscreteSkyMap(
                DiscreteSkyMapParams(
                    pixel_scale=scale, patch_inner_dimensions=dims, ra=ra, dec=dec, radius=radius
                )
            )
        else:
            skymap = RingsSkyMap(
                RingsSkyMapParams(pixel_scale=scale, patch_inner_dimensions=dims, num_rings=num_rings)
            )
        run(butler, name, skymap, tract_ids=tracts or None)
    except _errors(ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Registered skymap {name} ({len(skymap)} tract(s))")


@main.command("ingest-refcat")
@click.argument("repo")
@click.argument("name")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "-m",
    "--column-map",
    "column_map",
    multiple=True,
    metavar="OUT=IN",
    help="Output column from an input column, or OUT=mag:IN for an AB magnitude to nJy.",
)
@click.option("--mapped-only", is_flag=True, help="Drop the input columns the map does not name.")
@click.option("--run", default="refcats", show_default=True, help="RUN collection.")
def ingest_refcat(
    repo: str, name: str, files: tuple[str, ...], column_map: tuple[str, ...], mapped_only: bool, run: str
) -> None:
    """Ingest the reference catalogue NAME from FITS/CSV/Parquet FILES, sharded by HEALPix."""
    from skystack.instruments.refcat_ingest import RefcatError
    from skystack.instruments.refcat_ingest import ingest_refcat as ingest

    mapping: dict[str, str] = {}
    for item in column_map:
        out, sep, spec = item.partition("=")
        if not sep or not out or not spec:
            raise click.BadParameter(f"{item!r} is not OUT=IN", param_hint="--column-map")
        mapping[out] = spec
    butler = _open(repo, writeable=True)
    try:
        result = ingest(butler, files, name, column_map=mapping, keep_unmapped=not mapped_only, run=run)
    except _errors(RefcatError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"Ingested {result.n_rows} rows of {name} into {len(result.refs)} shard(s) "
        f"({result.n_new_shards} new) in {run}"
    )


@main.command("query-data-ids")
@click.argument("repo")
@click.argument("dimensions", nargs=-1, required=True)
@where_options
@format_option
def query_data_ids(
    repo: str, dimensions: tuple[str, ...], where: str, bind: tuple[str, ...], output_format: str
) -> None:
    """List the data IDs of DIMENSIONS that exist in the registry (optionally constrained by --where)."""
    from skystack.butler import EmptyQueryResultError

    butler = _open(repo)
    ids = []
    try:
        ids = butler.registry.query_data_ids(dimensions, where=where, bind=_parse_bind(bind), explain=True)
    except EmptyQueryResultError as err:
        click.echo(str(err.explanation), err=True)
    except _errors(KeyError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    columns = list(ids[0].dimensions.required) if ids else list(dimensions)
    emit(columns, [d.values_tuple for d in ids], output_format)


@main.command("query-dimension-records")
@click.argument("repo")
@click.argument("element")
@where_options
@format_option
def query_dimension_records(
    repo: str, element: str, where: str, bind: tuple[str, ...], output_format: str
) -> None:
    """List the records of dimension ELEMENT (e.g. exposure, visit, detector)."""
    from skystack.butler import EmptyQueryResultError

    butler = _open(repo)
    try:
        records = butler.registry.query_dimension_records(
            element, where=where, bind=_parse_bind(bind), explain=True
        )
    except EmptyQueryResultError as err:
        click.echo(str(err.explanation), err=True)
        emit([], [], output_format)
        return
    except _errors(KeyError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    rows = [r.to_dict() for r in records]
    columns = [c for c in rows[0] if c != "region"]
    emit(columns, [[row.get(c) for c in columns] for row in rows], output_format)


def selection_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--collections``, ``--dataset-type``, ``--where``/``--bind`` of export and transfer-datasets."""
    fn = where_options(fn)
    fn = click.option(
        "--dataset-type",
        "-t",
        "dataset_types",
        multiple=True,
        help="Dataset type name or glob (repeatable; default all). Types whose dimensions --where does "
        "not apply to are skipped when matched by a glob.",
    )(fn)
    return click.option(
        "--collections", "-c", multiple=True, required=True, help="Collections to search and carry along."
    )(fn)


def _include_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--include-elements",
        multiple=True,
        metavar="ELEMENT",
        help="Also carry every record of this dimension element (repeatable; e.g. visit).",
    )(fn)


@main.command("export")
@click.argument("repo")
@click.argument("file", type=click.Path(dir_okay=False))
@selection_options
@click.option("--directory", default=None, type=click.Path(file_okay=False), help="Put the files here.")
@click.option(
    "--transfer",
    type=click.Choice(["copy", "link", "symlink"]),
    default=None,
    help="How files reach --directory [default: copy].",
)
@_include_option
def export(
    repo: str,
    file: str,
    collections: tuple[str, ...],
    dataset_types: tuple[str, ...],
    where: str,
    bind: tuple[str, ...],
    directory: str | None,
    transfer: str | None,
    include_elements: tuple[str, ...],
) -> None:
    """Write FILE (.yaml or .json) listing datasets with their records and collections, and copy the
    files to --directory (without it, FILE refers to REPO's files)."""
    from skystack.butler import DatastoreError, ExportFormatError

    butler = _open(repo)
    try:
        result = butler.export_datasets(
            file,
            collections=collections,
            dataset_types=dataset_types or None,
            where=where,
            bind=_parse_bind(bind),
            directory=directory,
            transfer=transfer,
            include_elements=include_elements,
        )
    except _errors(DatastoreError, ExportFormatError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"Exported {len(result.refs)} dataset(s), {result.n_records} dimension record(s) and "
        f"{len(result.collections)} collection(s) to {result.path}"
        + (f"; {result.n_files} file(s) in {directory}" if directory else "")
    )
    for name, why in result.skipped_types.items():
        click.echo(f"skipped dataset type {name}: {why}", err=True)
    if result.without_files:
        click.echo(f"{len(result.without_files)} dataset(s) without a file were left out", err=True)


@main.command("import")
@click.argument("repo")
@click.argument("source", type=click.Path(exists=True))
@click.option(
    "--transfer",
    type=click.Choice(["copy", "link", "symlink", "move", "direct"]),
    default="copy",
    show_default=True,
    help="How files enter the datastore.",
)
@click.option("--directory", default=None, help="Where the export's file paths start (default: as recorded).")
@click.option("--check-checksums", is_flag=True, help="Verify recorded checksums before importing.")
def import_(repo: str, source: str, transfer: str, directory: str | None, check_checksums: bool) -> None:
    """Import SOURCE (an export file, or a folder holding export.yaml) into REPO. Idempotent."""
    from skystack.butler import DatastoreError, ExportFormatError

    butler = _open(repo, writeable=True)
    try:
        result = butler.import_datasets(
            source, transfer=transfer, directory=directory, check_checksums=check_checksums
        )
    except _errors(DatastoreError, ExportFormatError) as err:
        raise click.ClickException(str(err)) from None
    _report_import(result)


def _report_import(result: Any) -> None:
    click.echo(
        f"Imported {len(result.imported)} dataset(s) ({len(result.skipped)} already present), "
        f"{result.n_records} new dimension record(s), {result.n_certifications} new certification(s)"
    )


@main.command("transfer-datasets")
@click.argument("source_repo")
@click.argument("dest_repo")
@selection_options
@click.option(
    "--transfer",
    type=click.Choice(["copy", "link", "symlink", "direct"]),
    default="copy",
    show_default=True,
    help="How files reach DEST_REPO (direct: DEST_REPO uses SOURCE_REPO's files).",
)
@_include_option
def transfer_datasets(
    source_repo: str,
    dest_repo: str,
    collections: tuple[str, ...],
    dataset_types: tuple[str, ...],
    where: str,
    bind: tuple[str, ...],
    transfer: str,
    include_elements: tuple[str, ...],
) -> None:
    """Copy datasets with their records and collections from SOURCE_REPO to DEST_REPO (any registry
    databases, e.g. SQLite to PostgreSQL). Idempotent."""
    from skystack.butler import DatastoreError

    source = _open(source_repo)
    dest = _open(dest_repo, writeable=True)
    try:
        result = dest.transfer_from(
            source,
            collections=collections,
            dataset_types=dataset_types or None,
            where=where,
            bind=_parse_bind(bind),
            transfer=transfer,
            include_elements=include_elements,
        )
    except _errors(DatastoreError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    _report_import(result)


if __name__ == "__main__":
    main()
