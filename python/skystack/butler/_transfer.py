# SPDX-License-Identifier: GPL-3.0-or-later
"""Export, import and transfer of datasets between repositories (`Butler.export_datasets`,
`Butler.import_datasets`, `Butler.transfer_from`; ``butler export``/``import``/``transfer-datasets``).

What moves
    The selected datasets (IDs kept), their dataset types and files, the dimension records their
    data IDs need (with the records those refer to, e.g. an exposure's physical filter), and the
    collections: RUNs of the datasets, and the named TAGGED (members), CALIBRATION (certifications
    with their validity ranges) and CHAINED collections (children, recursively).

Import order and crash safety
    1. Everything is decoded and checked first: the export's universe, every file present with its
       recorded size (and checksum, if asked), no dataset ID or data ID clashing with the
       destination. Nothing is written if a check fails.
    2. One transaction adds the dimension records, dataset types and collections (all idempotent,
       and none of them a dataset).
    3. The files are staged next to their destinations under temporary names.
    4. One transaction inserts the datasets and their file records, renames the staged files to
       their final names, and adds tags and certifications. On failure it is rolled back and the
       renamed files are deleted, as for `Butler.put`: a crash leaves at worst orphan files
       (``butler verify --remove-orphans``), never a dataset without its file.

Importing the same export again, or transferring the same datasets again, changes nothing:
identical records, datasets, tags and certifications are skipped; different ones are errors that
name both versions.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._export_format import (
    ExportedCertification,
    ExportedCollection,
    ExportedDataset,
    ExportedDatasetGroup,
    ExportedDatasetType,
    ExportedRecords,
    ExportedUniverse,
    ExportFile,
    ExportFormatError,
    decode_record,
    encode_record,
    read_export,
    write_export,
)
from .datastore import DatastoreError, StoredFileInfo, file_checksum
from .datastore._file_datastore import TRANSFER_MODES
from .dimensions import DataCoordinate, DataIdError, DimensionElement, DimensionRecord, DimensionUniverseError
from .registry import (
    CollectionType,
    ConflictingDefinitionError,
    DatasetRef,
    DatasetType,
    Registry,
)
from .registry._exchange import (
    check_dataset_refs,
    fetch_certifications,
    fetch_records_by_keys,
    import_certifications,
    import_dataset_refs,
    import_dimension_records,
)
from .storage_classes import get_storage_class
from .timespan import TIMESPAN_MAX, TIMESPAN_MIN

if TYPE_CHECKING:
    from ._butler import Butler

__all__ = [
    "EXPORT_TRANSFER_MODES",
    "ExportResult",
    "ImportResult",
    "build_export",
    "export_datasets",
    "import_datasets",
    "transfer_from",
]

EXPORT_TRANSFER_MODES = ("copy", "link", "symlink")
"""How `export_datasets` puts files into the export folder."""
_EXTERNAL = "_external"
"""Folder of an export holding files the source recorded by absolute path (``direct`` ingests)."""


@dataclass
class ExportResult:
    """What `export_datasets` wrote.

    Attributes
    ----------
    path : `~pathlib.Path`
        The export file.
    refs : `list` [`DatasetRef`]
        The exported datasets.
    n_records : `int`
        Number of dimension records exported.
    collections : `list` [`str`]
        Names of the exported collections.
    n_files : `int`
        Files transferred into the export folder (0 without ``directory``).
    skipped_types : `dict` [`str`, `str`]
        Dataset types matched by a pattern but left out, with the reason (``where`` does not
        apply to their dimensions).
    without_files : `list` [`DatasetRef`]
        Selected datasets left out because they have no file in the datastore.
    """

    path: Path
    refs: list[DatasetRef] = field(default_factory=list)
    n_records: int = 0
    collections: list[str] = field(default_factory=list)
    n_files: int = 0
    skipped_types: dict[str, str] = field(default_factory=dict)
    without_files: list[DatasetRef] = field(default_factory=list)


@dataclass
class ImportResult:
    """What `import_datasets` or `transfer_from` did.

    Attributes
    ----------
    refs : `list` [`DatasetRef`]
        Every dataset of the import (in the destination's terms).
    imported : `list` [`DatasetRef`]
        The datasets that were new.
    skipped : `list` [`DatasetRef`]
        The datasets that were already present (registered with the same ID, type, run and
        data ID, and with a file).
    n_records : `int`
        New dimension records.
    n_certifications : `int`
        New certifications.
    collections : `list` [`str`]
        The collections of the import.
    """

    refs: list[DatasetRef] = field(default_factory=list)
    imported: list[DatasetRef] = field(default_factory=list)
    skipped: list[DatasetRef] = field(default_factory=list)
    n_records: int = 0
    n_certifications: int = 0
    collections: list[str] = field(default_factory=list)


# -- building an export -----------------------------------------------------------------------------


def _match_types(
    registry: Registry, dataset_types: str | Iterable[str] | None
) -> list[tuple[DatasetType, bool]]:
    """(type, named explicitly) for names and glob patterns; all types if `None`."""
    if dataset_types is None:
        return [(t, False) for t in registry.query_dataset_types()]
    patterns = [dataset_types] if isinstance(dataset_types, str) else list(dataset_types)
    out: dict[str, tuple[DatasetType, bool]] = {}
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            for t in registry.query_dataset_types(pattern):
                out.setdefault(t.name, (t, False))
        else:
            out[pattern] = (registry.get_dataset_type(pattern), True)
    return list(out.values())


def _select(
    butler: Butler,
    collections: Sequence[str],
    dataset_types: str | Iterable[str] | None,
    where: str,
    bind: Mapping[str, Any] | None,
) -> tuple[list[DatasetRef], list[DatasetType], dict[str, str]]:
    from .queries import UnknownIdentifierError

    refs: list[DatasetRef] = []
    types: list[DatasetType] = []
    skipped: dict[str, str] = {}
    first_error: Exception | None = None
    matched = _match_types(butler.registry, dataset_types)
    for dtype, explicit in matched:
        try:
            found = butler.registry.query_datasets(
                dtype, collections=collections, where=where, bind=bind, find_first=False
            )
        except (UnknownIdentifierError, DataIdError) as err:
            if explicit or not where.strip():
                raise
            skipped[dtype.name] = f"the where clause does not apply to its dimensions ({err})"
            first_error = first_error or err
            continue
        refs.extend(found)
        if found or explicit:
            types.append(dtype)
    if matched and len(skipped) == len(matched) and first_error is not None:
        raise first_error
    return refs, types, skipped


def _collection_closure(registry: Registry, names: Iterable[str]) -> list[str]:
    """Collections and, recursively, the children of chains: children before their chains."""
    out: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        if registry.get_collection_type(name) is CollectionType.CHAINED:
            for child in registry.get_collection_chain(name):
                visit(child)
        out.append(name)

    for name in names:
        visit(name)
    return out


def _records_for(
    registry: Registry, refs: Sequence[DatasetRef], include_elements: Iterable[str]
) -> list[tuple[DimensionElement, list[DimensionRecord]]]:
    """The records the data IDs of ``refs`` need, those records' own references, and every record
    of ``include_elements``; in universe order."""
    universe = registry.universe
    wanted: dict[str, set[tuple[Any, ...]]] = {}
    by_group: dict[Any, set[tuple[Any, ...]]] = {}
    for ref in refs:
        by_group.setdefault(ref.data_id.dimensions, set()).add(ref.data_id.values_tuple)
    for group, tuples in by_group.items():
        position = {d: i for i, d in enumerate(group.required)}
        for name in group.elements:
            element = universe[name]
            if not element.is_stored or not set(element.required) <= position.keys():
                continue
            index = [position[d] for d in element.required]
            wanted.setdefault(name, set()).update(tuple(t[i] for i in index) for t in tuples)
    for name in include_elements:
        element = universe[name]
        if not element.is_stored:
            raise DataIdError(f"dimension {name!r} has no records to export")
        for record in registry.fetch_dimension_records(name):
            wanted.setdefault(name, set()).add(tuple(record.data_id_values.values()))
    out: list[tuple[DimensionElement, list[DimensionRecord]]] = []
    for element in reversed(universe.elements):
        keys = wanted.get(element.name)
        if not keys:
            continue
        records = fetch_records_by_keys(registry, element, keys)
        out.append((element, records))
        refers = [
            d for d in (*element.required, *element.implied) if d != element.name and universe[d].is_stored
        ]
        for record in records:
            values = record.to_dict()
            known = {d: values[element.column_name(d)] for d in element.required}
            known.update((d, values[d]) for d in element.implied)
            for d in refers:
                wanted.setdefault(d, set()).add(tuple(known[x] for x in universe[d].required))
    out.reverse()
    return out


def build_export(
    butler: Butler,
    *,
    refs: Iterable[DatasetRef] | None = None,
    collections: str | Iterable[str] | None = None,
    dataset_types: str | Iterable[str] | None = None,
    where: str = "",
    bind: Mapping[str, Any] | None = None,
    include_elements: Iterable[str] = (),
) -> tuple[ExportFile, dict[uuid.UUID, StoredFileInfo], ExportResult]:
    """The export document of a selection (file paths as recorded by the source datastore).

    See `export_datasets` for the parameters. ``files_root`` of the document is the source
    repository's root.

    Returns
    -------
    export : `ExportFile`
    infos : `dict` [`uuid.UUID`, `StoredFileInfo`]
        The file records of the exported datasets.
    result : `ExportResult`
        What was selected (``path`` unset).
    """
    registry = butler.registry
    result = ExportResult(path=Path())
    named: list[str] = []
    if refs is not None:
        if collections is not None or dataset_types is not None or where:
            raise TypeError("give either refs or a selection (collections, dataset_types, where), not both")
        selected = list({r.id: r for r in refs}.values())
        types = list({r.dataset_type.name: r.dataset_type for r in selected}.values())
    else:
        named = list(butler._collections(collections))
        selected, types, result.skipped_types = _select(butler, named, dataset_types, where, bind)
        selected = list({r.id: r for r in selected}.values())
    infos = butler.datastore.get_records([r.id for r in selected])
    result.without_files = [r for r in selected if r.id not in infos]
    selected = [r for r in selected if r.id in infos]
    result.refs = selected
    ids = {r.id for r in selected}

    runs = list(dict.fromkeys(r.run for r in selected))
    names = _collection_closure(registry, [*named, *runs])
    collections_out: list[ExportedCollection] = []
    chains: list[ExportedCollection] = []
    type_names = [t.name for t in types]
    for name in names:
        ctype = registry.get_collection_type(name)
        if ctype is CollectionType.CHAINED:
            chains.append(
                ExportedCollection(
                    name=name, type="CHAINED", children=list(registry.get_collection_chain(name))
                )
            )
        elif ctype is CollectionType.TAGGED:
            members = [
                r.id
                for t in types
                for r in registry.query_datasets_simple(t, name, find_first=False)
                if r.id in ids
            ]
            collections_out.append(ExportedCollection(name=name, type="TAGGED", datasets=members))
        elif ctype is CollectionType.CALIBRATION:
            certified = [
                ExportedCertification(
                    dataset_id=r.id,
                    begin=None if span.begin_nsec == TIMESPAN_MIN else span.begin_nsec,
                    end=None if span.end_nsec == TIMESPAN_MAX else span.end_nsec,
                )
                for r, span in fetch_certifications(registry, name, type_names)
                if r.id in ids
            ]
            collections_out.append(
                ExportedCollection(name=name, type="CALIBRATION", certifications=certified)
            )
        else:
            collections_out.append(ExportedCollection(name=name, type="RUN"))
    result.collections = names

    records = _records_for(registry, selected, include_elements)
    result.n_records = sum(len(r) for _, r in records)
    groups: dict[tuple[str, str], list[ExportedDataset]] = {}
    for ref in selected:
        info = infos[ref.id]
        groups.setdefault((ref.dataset_type.name, ref.run), []).append(
            ExportedDataset(
                id=ref.id,
                data_id=ref.data_id.required,
                path=info.path,
                formatter=info.formatter,
                storage_class=info.storage_class,
                checksum=info.checksum,
                file_size=info.file_size,
            )
        )
    universe = registry.universe
    export = ExportFile(
        universe=ExportedUniverse(namespace=universe.namespace, version=universe.version),
        files_root=str(butler.datastore.root),
        dimension_records=[
            ExportedRecords(element=e.name, records=[encode_record(r) for r in recs]) for e, recs in records
        ],
        dataset_types=[
            ExportedDatasetType(
                name=t.name,
                dimensions=list(t.dimensions.required),
                storage_class=t.storage_class_name,
                is_calibration=t.is_calibration,
            )
            for t in sorted(types, key=lambda t: t.name)
        ],
        collections=collections_out + chains,
        datasets=[
            ExportedDatasetGroup(dataset_type=t, run=run, datasets=items)
            for (t, run), items in groups.items()
        ],
    )
    return export, infos, result


def _put_file(source: Path, target: Path, transfer: str) -> None:
    """Copy, hard-link or symlink ``source`` to ``target`` (replacing it) via a temporary name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        if transfer == "copy":
            shutil.copyfile(source, temporary)
        elif transfer == "link":
            try:
                os.link(source, temporary)
            except OSError as err:
                raise DatastoreError(
                    f"cannot hard-link {source} into {target.parent} ({err}); use transfer 'copy' or "
                    "'symlink' across file systems"
                ) from None
        else:
            os.symlink(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _check_sources(entries: Sequence[tuple[Path, int | None]], what: str) -> None:
    missing = [str(p) for p, _ in entries if not p.is_file()]
    if missing:
        more = f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""
        raise DatastoreError(f"{len(missing)} file(s) of {what} are missing: {', '.join(missing[:10])}{more}")
    bad = [
        f"{p} ({p.stat().st_size} bytes, recorded {size})"
        for p, size in entries
        if size is not None and p.stat().st_size != size
    ]
    if bad:
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise DatastoreError(
            f"{len(bad)} file(s) of {what} have another size than recorded (damaged or replaced): "
            f"{', '.join(bad[:10])}{more}"
        )


def export_datasets(
    butler: Butler,
    filename: str | os.PathLike[str],
    *,
    refs: Iterable[DatasetRef] | None = None,
    collections: str | Iterable[str] | None = None,
    dataset_types: str | Iterable[str] | None = None,
    where: str = "",
    bind: Mapping[str, Any] | None = None,
    directory: str | os.PathLike[str] | None = None,
    transfer: str | None = None,
    include_elements: Iterable[str] = (),
) -> ExportResult:
    """Write an export file (YAML or JSON, by its extension) and optionally the files; see
    `Butler.export_datasets`."""
    if transfer is not None and transfer not in EXPORT_TRANSFER_MODES:
        raise DatastoreError(
            f"unknown export transfer mode {transfer!r}; choose one of {', '.join(EXPORT_TRANSFER_MODES)}"
        )
    if transfer is not None and directory is None:
        raise ValueError("an export transfer mode needs directory=... (where the files go)")
    target = Path(filename).expanduser().absolute()
    if target.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise ExportFormatError(f"export file {target} must end in .yaml, .yml or .json")
    export, infos, result = build_export(
        butler,
        refs=refs,
        collections=collections,
        dataset_types=dataset_types,
        where=where,
        bind=bind,
        include_elements=include_elements,
    )
    datastore = butler.datastore
    sources = {i: datastore.path_of(info) for i, info in infos.items()}
    _check_sources([(sources[r.id], infos[r.id].file_size) for r in result.refs], "the exported datasets")
    if directory is not None:
        folder = Path(directory).expanduser().absolute()
        mode = transfer or "copy"
        groups = []
        for group in export.datasets:
            items = []
            for item in group.datasets:
                relative = item.path
                if Path(relative).is_absolute():
                    relative = f"{_EXTERNAL}/{item.id}/{Path(relative).name}"
                _put_file(sources[item.id], folder / relative, mode)
                result.n_files += 1
                items.append(item.model_copy(update={"path": relative}))
            groups.append(group.model_copy(update={"datasets": items}))
        export = export.model_copy(
            update={"datasets": groups, "files_root": os.path.relpath(folder, target.parent)}
        )
    result.path = write_export(export, target)
    return result


# -- import -----------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """An export decoded against the destination registry."""

    records: list[tuple[DimensionElement, list[dict[str, Any]]]]
    dataset_types: dict[str, DatasetType]
    refs: list[DatasetRef]
    files: dict[uuid.UUID, tuple[Path, ExportedDataset]]
    collections: list[ExportedCollection]


def _decode(export: ExportFile, registry: Registry, files_root: Path) -> _Plan:
    universe = registry.universe
    theirs = (export.universe.namespace, export.universe.version)
    if theirs != (universe.namespace, universe.version):
        raise ExportFormatError(
            f"the export uses dimension universe {theirs[0]} v{theirs[1]} but the repository uses "
            f"{universe.namespace} v{universe.version}; it cannot be imported here"
        )
    try:
        records = []
        for block in export.dimension_records:
            element = universe[block.element]
            records.append((element, [decode_record(element, r) for r in block.records]))
        records.sort(key=lambda item: universe.sort_key(item[0].name))
        dataset_types = {
            t.name: DatasetType(t.name, t.dimensions, t.storage_class, t.is_calibration, universe=universe)
            for t in export.dataset_types
        }
    except DimensionUniverseError as err:
        raise ExportFormatError(f"the export names something this universe does not have: {err}") from None
    refs: list[DatasetRef] = []
    files: dict[uuid.UUID, tuple[Path, ExportedDataset]] = {}
    for group in export.datasets:
        dtype = dataset_types.get(group.dataset_type)
        if dtype is None:
            raise ExportFormatError(
                f"the export lists {group.dataset_type!r} datasets but does not define that dataset type"
            )
        for item in group.datasets:
            coord = DataCoordinate.standardize(item.data_id, dimensions=dtype.dimensions)
            refs.append(DatasetRef(item.id, dtype, coord, group.run))
            path = Path(item.path)
            if not path.is_absolute() and ".." in path.parts:
                raise ExportFormatError(
                    f"dataset {item.id} of the export has file path {item.path!r}, which leaves the export "
                    "folder ('..'); refusing it"
                )
            files[item.id] = (path if path.is_absolute() else files_root / path, item)
    for collection in export.collections:
        members = [*collection.datasets, *(c.dataset_id for c in collection.certifications)]
        unknown = [str(i) for i in members if i not in files]
        if unknown:
            raise ExportFormatError(
                f"collection {collection.name!r} of the export refers to datasets the export does not "
                f"list: {', '.join(unknown[:5])}"
            )
    return _Plan(records, dataset_types, refs, files, list(export.collections))


def _register_structure(registry: Registry, plan: _Plan) -> int:
    """Dimension records, dataset types and collections (one transaction); returns new records."""
    n_records = 0
    with registry.transaction():
        for element, records in plan.records:
            n_records += import_dimension_records(registry, element, records)
        for dtype in plan.dataset_types.values():
            registry.register_dataset_type(dtype)
        for collection in plan.collections:
            if collection.type != "CHAINED":
                registry.register_collection(collection.name, CollectionType[collection.type], collection.doc)
        for run in dict.fromkeys(r.run for r in plan.refs):
            registry.register_run(run)
        for collection in plan.collections:
            if collection.type != "CHAINED":
                continue
            created = registry.register_collection(collection.name, CollectionType.CHAINED, collection.doc)
            existing = registry.get_collection_chain(collection.name)
            wanted = tuple(collection.children)
            if created or not existing:
                registry.set_collection_chain(collection.name, wanted)
            elif existing != wanted:
                raise ConflictingDefinitionError(
                    f"chained collection {collection.name!r} has children {list(existing)} here but "
                    f"{list(wanted)} in the import; change one of them (butler collection-chain) first"
                )
    return n_records


def _apply(
    butler: Butler, export: ExportFile, files_root: Path, transfer: str, check_checksums: bool
) -> ImportResult:
    butler._check_writeable("import datasets")
    if transfer not in TRANSFER_MODES:
        raise DatastoreError(f"unknown transfer mode {transfer!r}; choose one of {', '.join(TRANSFER_MODES)}")
    registry, datastore = butler.registry, butler.datastore
    plan = _decode(export, registry, files_root)
    result = ImportResult(refs=plan.refs, collections=[c.name for c in plan.collections])
    have = datastore.get_records([r.id for r in plan.refs])
    todo = [r for r in plan.refs if r.id not in have]
    _check_sources([(plan.files[r.id][0], plan.files[r.id][1].file_size) for r in todo], "the import")
    if check_checksums:
        bad = [
            str(path)
            for path, item in (plan.files[r.id] for r in todo)
            if item.checksum is not None and file_checksum(path) != item.checksum
        ]
        if bad:
            raise DatastoreError(
                f"{len(bad)} file(s) of the import have another checksum than recorded: {', '.join(bad[:10])}"
            )
    check_dataset_refs(registry, plan.refs)
    result.n_records = _register_structure(registry, plan)

    staged: list[tuple[Path | None, Path, dict[str, Any]]] = []
    committed: list[Path] = []
    try:
        for ref in todo:
            source, item = plan.files[ref.id]
            relative = datastore.relative_path(ref.dataset_type, ref.data_id, ref.run)
            temporary, final, record = datastore.stage_ingest(
                source, get_storage_class(item.storage_class), relative, transfer
            )
            record.update(formatter=item.formatter, storage_class=item.storage_class)
            if item.checksum is not None:
                record["checksum"] = item.checksum
            staged.append((temporary, final, {"dataset_id": ref.id, **record}))
        try:
            with registry.transaction():
                imported = import_dataset_refs(registry, plan.refs)
                datastore.insert_records([row for _, _, row in staged])
                for temporary, final, _ in staged:
                    if temporary is not None:
                        datastore.commit_file(temporary, final)
                        committed.append(final)
                by_id = {r.id: r for r in plan.refs}
                for collection in plan.collections:
                    if collection.type == "TAGGED" and collection.datasets:
                        registry.associate(collection.name, [by_id[i] for i in collection.datasets])
                    elif collection.type == "CALIBRATION" and collection.certifications:
                        result.n_certifications += import_certifications(
                            registry,
                            collection.name,
                            [(by_id[c.dataset_id], c.timespan) for c in collection.certifications],
                        )
        except BaseException:
            for final in committed:
                final.unlink(missing_ok=True)
            raise
    finally:
        for temporary, _, _ in staged:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
    for ref in todo:
        datastore.finish_ingest(plan.files[ref.id][0], transfer)
    new = {r.id for r in imported} | {r.id for r in todo}
    result.imported = [r for r in plan.refs if r.id in new]
    result.skipped = [r for r in plan.refs if r.id not in new]
    return result


def import_datasets(
    butler: Butler,
    source: str | os.PathLike[str],
    *,
    transfer: str = "copy",
    directory: str | os.PathLike[str] | None = None,
    check_checksums: bool = False,
) -> ImportResult:
    """Import an export file (or the export file in a folder); see `Butler.import_datasets`."""
    export, path = read_export(source)
    if directory is not None:
        files_root = Path(directory).expanduser().absolute()
    else:
        root = Path(export.files_root)
        files_root = root if root.is_absolute() else (path.parent / root).resolve()
    return _apply(butler, export, files_root, transfer, check_checksums)


def transfer_from(
    butler: Butler,
    source: Butler,
    refs: Iterable[DatasetRef] | None = None,
    *,
    collections: str | Iterable[str] | None = None,
    dataset_types: str | Iterable[str] | None = None,
    where: str = "",
    bind: Mapping[str, Any] | None = None,
    transfer: str = "copy",
    include_elements: Iterable[str] = (),
    check_checksums: bool = False,
) -> ImportResult:
    """Copy datasets with their records and collections from ``source``; see `Butler.transfer_from`."""
    if source.root == butler.root:
        raise ValueError(f"cannot transfer datasets from repository {butler.root} into itself")
    export, _, _ = build_export(
        source,
        refs=refs,
        collections=collections,
        dataset_types=dataset_types,
        where=where,
        bind=bind,
        include_elements=include_elements,
    )
    return _apply(butler, export, source.datastore.root, transfer, check_checksums)
