# SPDX-License-Identifier: GPL-3.0-or-later
"""`Butler`: put and get datasets by dataset type and data ID (the daf_butler role).

A repository is a folder with ``butler.yaml`` (`RepoConfig`), a registry database (SQLite
``registry.sqlite3`` inside the folder, or PostgreSQL) and the dataset files (`FileDatastore`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .datastore import DEFAULT_TEMPLATE, FileDatastore, StoredFileInfo, VerifyReport
from .dimensions import DataCoordinate
from .registry import (
    CollectionType,
    DatasetIdGenEnum,
    DatasetRef,
    DatasetType,
    MissingDatasetTypeError,
    Registry,
    RegistryError,
)
from .repo_config import CONFIG_FILE, RepoConfig, RepoConfigError
from .storage_classes import StorageClass, StorageClassError, get_storage_class

if TYPE_CHECKING:
    from ._transfer import ExportResult, ImportResult

__all__ = ["Butler", "DatasetNotFoundError", "DeferredDatasetHandle"]


class DatasetNotFoundError(LookupError):
    """No dataset of the type and data ID exists in the searched collections."""


class DeferredDatasetHandle:
    """A dataset found now and read later (`Butler.get_deferred`).

    Parameters
    ----------
    butler : `Butler`
    ref : `DatasetRef`
        The (parent) dataset.
    component : `str` or `None`
        Component to read.
    parameters : mapping, optional
        Default read parameters (those given to `get` are merged over them).
    storage_class : `str`, optional
        Storage class to convert to on read.
    """

    def __init__(
        self,
        butler: Butler,
        ref: DatasetRef,
        component: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        storage_class: str | None = None,
    ) -> None:
        self.butler = butler
        self.ref = ref
        self.component = component
        self.parameters = dict(parameters or {})
        self.storage_class = storage_class

    @property
    def data_id(self) -> DataCoordinate:
        """The data ID of the dataset."""
        return self.ref.data_id

    def get(self, *, parameters: Mapping[str, Any] | None = None, component: str | None = None) -> Any:
        """Read the dataset (or a component), with these parameters merged over the handle's."""
        merged = {**self.parameters, **(parameters or {})}
        return self.butler._read(
            self.ref, component or self.component, merged or None, self.storage_class, check=None
        )

    def __repr__(self) -> str:
        comp = f", component={self.component!r}" if self.component else ""
        return f"DeferredDatasetHandle({self.ref}{comp})"


class Butler:
    """A data repository: registry plus file datastore.

    Parameters
    ----------
    root : path-like
        The repository folder (holding ``butler.yaml``).
    collections : `str` or sequence of `str`, optional
        Default search path for `get`, `exists` and queries.
    run : `str`, optional
        Default RUN collection for `put` (created on first use).
    writeable : `bool`, optional
        If false, `put` and the removal methods raise.
    check_checksums : `bool`, optional
        Verify recorded checksums on every read.

    Raises
    ------
    RepoConfigError
        If ``root`` is not a repository or its configuration is newer than this skystack.
    RegistryError, SchemaVersionError
        If the registry cannot be opened.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        collections: str | Iterable[str] | None = None,
        run: str | None = None,
        writeable: bool = True,
        check_checksums: bool = False,
    ) -> None:
        self.root = Path(root).expanduser().absolute()
        self.config = RepoConfig.read(self.root)
        registry = Registry.open(self.config.registry_url(self.root), namespace=self.config.namespace)
        self._init(registry, collections, run, writeable, check_checksums)

    def _init(
        self,
        registry: Registry,
        collections: str | Iterable[str] | None,
        run: str | None,
        writeable: bool,
        check_checksums: bool,
    ) -> None:
        self.registry = registry
        self.datastore = FileDatastore(
            self.root,
            registry,
            template=self.config.template or DEFAULT_TEMPLATE,
            templates=self.config.templates,
            checksum=self.config.checksum,
            fsync=self.config.fsync,
        )
        if isinstance(collections, str):
            collections = (collections,)
        self.collections: tuple[str, ...] = tuple(collections or ((run,) if run else ()))
        self.run = run
        self.writeable = writeable
        self.check_checksums = check_checksums
        self._known_runs: set[str] = set()

    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        *,
        db: str | None = None,
        namespace: str | None = None,
        template: str | None = None,
        checksum: bool = False,
        fsync: bool = False,
        collections: str | Iterable[str] | None = None,
        run: str | None = None,
    ) -> Butler:
        """Make a new repository and return a writeable Butler for it.

        Parameters
        ----------
        root : path-like
            The repository folder (created; it must not already hold a repository).
        db : `str`, optional
            SQLAlchemy URL of a PostgreSQL registry (``postgresql://user@host/db``); default an
            SQLite file ``<root>/registry.sqlite3``. Credentials in the URL are used now but not
            stored (see `skystack.butler.repo_config`).
        namespace : `str`, optional
            PostgreSQL schema for the registry tables.
        template : `str`, optional
            Default file template (see `~skystack.butler.datastore.PathTemplate`).
        checksum, fsync : `bool`, optional
            Datastore settings (see `~skystack.butler.datastore.FileDatastore`).

        Raises
        ------
        RepoConfigError
            If ``root`` already holds a repository.
        RegistryExistsError
            If the registry database already has a registry (in that namespace).
        """
        path = Path(root).expanduser().absolute()
        if (path / CONFIG_FILE).exists():
            raise RepoConfigError(f"{path} already holds a data repository ({CONFIG_FILE} exists)")
        path.mkdir(parents=True, exist_ok=True)
        config = RepoConfig(
            db=db if db is not None else "registry.sqlite3",
            namespace=namespace,
            template=template,
            checksum=checksum,
            fsync=fsync,
        )
        if template is not None:
            from .datastore import PathTemplate

            PathTemplate(template)
        url = db if db is not None else str(path / "registry.sqlite3")
        registry = Registry.create(url, namespace=namespace)
        config.write(path)
        self = object.__new__(cls)
        self.root = path
        self.config = config
        self._init(registry, collections, run, True, False)
        return self

    def close(self) -> None:
        """Release database connections."""
        self.registry.close()

    def __enter__(self) -> Butler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers --------------------------------------------------------------------------------

    def _check_writeable(self, what: str) -> None:
        if not self.writeable:
            raise RegistryError(f"cannot {what}: this Butler is read-only (open it with writeable=True)")

    def _dataset_type(self, dataset_type: str | DatasetType, *, register: bool) -> DatasetType:
        if isinstance(dataset_type, DatasetType):
            if register:
                self.registry.register_dataset_type(dataset_type)
            return dataset_type
        try:
            return self.registry.get_dataset_type(dataset_type)
        except MissingDatasetTypeError as err:
            raise MissingDatasetTypeError(
                f"{err}; register it first with butler.registry.register_dataset_type("
                f"DatasetType({dataset_type!r}, dimensions, storage_class_name)) or pass a DatasetType to put"
            ) from None

    def _collections(self, collections: str | Iterable[str] | None) -> tuple[str, ...]:
        if collections is None:
            if not self.collections:
                raise RegistryError(
                    "no collections to search: pass collections=... or make the Butler with collections="
                )
            return self.collections
        return (collections,) if isinstance(collections, str) else tuple(collections)

    # -- put ------------------------------------------------------------------------------------

    def put(
        self,
        obj: Any,
        dataset_type: str | DatasetType,
        data_id: Mapping[str, Any] | None = None,
        *,
        run: str | None = None,
        id_generation: DatasetIdGenEnum = DatasetIdGenEnum.UNIQUE,
        **data_id_kwargs: Any,
    ) -> DatasetRef:
        """Store an object as a new dataset.

        Parameters
        ----------
        obj : object
            An instance of the dataset type's storage class' Python type.
        dataset_type : `str` or `DatasetType`
            A registered name, or a `DatasetType` (registered if it is new).
        data_id : mapping, optional
            The data ID; keywords add to it.
        run : `str`, optional
            RUN collection (default: the Butler's ``run``); created if it does not exist.
        id_generation : `DatasetIdGenEnum`, optional
            How the dataset ID is made: random (default), or deterministic from the dataset
            type, data ID (and run) so that a writer can know the ID in advance, as the quantum
            graph does for its outputs (``DATAID_TYPE_RUN``).

        Returns
        -------
        ref : `DatasetRef`

        Raises
        ------
        MissingDatasetTypeError
            If the dataset type name is not registered (the message says how to register it).
        StorageClassError
            If ``obj`` is not of the storage class' type.
        DataIdError
            If the data ID is missing keys (listed), has unknown keys, or names missing records.
        ConflictingDefinitionError
            If the run already holds a dataset of this type and data ID.
        """
        self._check_writeable("put")
        run = run or self.run
        if run is None:
            raise RegistryError("put needs a run: pass run=... or make the Butler with run=...")
        dtype = self._dataset_type(dataset_type, register=True)
        if dtype.component is not None:
            raise StorageClassError(f"cannot put component dataset type {dtype.name!r}; put the parent")
        storage_class = get_storage_class(dtype.storage_class_name)
        storage_class.check_object(obj)
        coord = DataCoordinate.standardize(data_id, dimensions=dtype.dimensions, **data_id_kwargs)
        if run not in self._known_runs:
            self.registry.register_run(run)
            self._known_runs.add(run)
        relative = self.datastore.relative_path(dtype, coord, run)
        return self._store(obj, dtype, coord, run, storage_class, relative, id_generation)

    def _store(
        self,
        obj: Any,
        dtype: DatasetType,
        coord: DataCoordinate,
        run: str,
        storage_class: StorageClass,
        relative: str,
        id_generation: DatasetIdGenEnum,
    ) -> DatasetRef:
        temporary, final, record = self.datastore.write_temporary(obj, storage_class, relative)
        moved = False
        try:
            with self.registry.transaction():
                (ref,) = self.registry.insert_datasets(dtype, [coord], run, id_generation)
                self.datastore.insert_records([{"dataset_id": ref.id, **record}])
                self.datastore.commit_file(temporary, final)
                moved = True
        except BaseException:
            if moved:
                final.unlink(missing_ok=True)
            else:
                temporary.unlink(missing_ok=True)
            raise
        return ref

    # -- lookups --------------------------------------------------------------------------------

    def find_dataset(
        self,
        dataset_type: str | DatasetType,
        data_id: Mapping[str, Any] | None = None,
        *,
        collections: str | Iterable[str] | None = None,
        **data_id_kwargs: Any,
    ) -> DatasetRef | None:
        """The first dataset of a (parent) type and data ID along the collection search path."""
        name = dataset_type.name if isinstance(dataset_type, DatasetType) else dataset_type
        dtype = self._dataset_type(name.partition(".")[0], register=False)
        return self.registry.find_dataset(
            dtype, data_id, collections=self._collections(collections), **data_id_kwargs
        )

    def _resolve(
        self,
        dataset_type_or_ref: str | DatasetType | DatasetRef,
        data_id: Mapping[str, Any] | None,
        collections: str | Iterable[str] | None,
        data_id_kwargs: Mapping[str, Any],
    ) -> tuple[DatasetRef, str | None]:
        if isinstance(dataset_type_or_ref, DatasetRef):
            if data_id or data_id_kwargs:
                raise TypeError("do not pass a data ID together with a DatasetRef")
            return dataset_type_or_ref, None
        name = (
            dataset_type_or_ref.name if isinstance(dataset_type_or_ref, DatasetType) else dataset_type_or_ref
        )
        parent, _, component = name.partition(".")
        search = self._collections(collections)
        ref = self.find_dataset(parent, data_id, collections=search, **data_id_kwargs)
        if ref is None:
            given = {**(data_id or {}), **data_id_kwargs}
            raise DatasetNotFoundError(
                f"no {parent!r} dataset with data ID {given} in collections {list(search)}"
            )
        return ref, component or None

    def _read(
        self,
        ref: DatasetRef,
        component: str | None,
        parameters: Mapping[str, Any] | None,
        storage_class: str | None,
        check: bool | None,
    ) -> Any:
        info = self.datastore.get_record(ref)
        parent_class = get_storage_class(info.storage_class)
        target = parent_class
        if component is not None:
            target = parent_class.component_storage_class(component)
        parent_class.check_parameters(parameters)
        converter = None
        if storage_class is not None and storage_class != target.name:
            converter = target.converter_to(storage_class)
        obj = self.datastore.read(
            ref,
            info,
            component=component,
            parameters=parameters,
            check_checksum=self.check_checksums if check is None else check,
        )
        return converter(obj) if converter is not None else obj

    def get(
        self,
        dataset_type_or_ref: str | DatasetType | DatasetRef,
        data_id: Mapping[str, Any] | None = None,
        *,
        collections: str | Iterable[str] | None = None,
        parameters: Mapping[str, Any] | None = None,
        storage_class: str | None = None,
        **data_id_kwargs: Any,
    ) -> Any:
        """Read a dataset, a component (``"calexp.wcs"``) or a part (``parameters``).

        Parameters
        ----------
        dataset_type_or_ref : `str`, `DatasetType` or `DatasetRef`
            What to read; a name may end in ``.component``.
        data_id : mapping, optional
            The data ID (with a name); keywords add to it.
        collections : `str` or sequence, optional
            Search path (default: the Butler's).
        parameters : mapping, optional
            Read parameters of the storage class (``bbox`` for images, ``columns`` for tables).
        storage_class : `str`, optional
            Convert to this storage class (e.g. ``"AstropyTable"`` for a ``SourceCatalog``).

        Raises
        ------
        DatasetNotFoundError
            If no such dataset is in the collections.
        StorageClassError
            For an unknown component, parameter or conversion (the valid ones are listed).
        DatastoreError
            If the file is missing, damaged or unreadable (the file is named).
        """
        ref, component = self._resolve(dataset_type_or_ref, data_id, collections, data_id_kwargs)
        return self._read(ref, component, parameters, storage_class, check=None)

    def get_deferred(
        self,
        dataset_type_or_ref: str | DatasetType | DatasetRef,
        data_id: Mapping[str, Any] | None = None,
        *,
        collections: str | Iterable[str] | None = None,
        parameters: Mapping[str, Any] | None = None,
        storage_class: str | None = None,
        **data_id_kwargs: Any,
    ) -> DeferredDatasetHandle:
        """Find a dataset now and return a handle that reads it later (same errors as `get`)."""
        ref, component = self._resolve(dataset_type_or_ref, data_id, collections, data_id_kwargs)
        info = self.datastore.get_record(ref)
        sc = get_storage_class(info.storage_class)
        if component is not None:
            sc.component_storage_class(component)
        sc.check_parameters(parameters)
        return DeferredDatasetHandle(self, ref, component, parameters, storage_class)

    def exists(
        self,
        dataset_type_or_ref: str | DatasetType | DatasetRef,
        data_id: Mapping[str, Any] | None = None,
        *,
        collections: str | Iterable[str] | None = None,
        **data_id_kwargs: Any,
    ) -> bool:
        """Whether the dataset is in the registry and its file exists."""
        try:
            ref, _ = self._resolve(dataset_type_or_ref, data_id, collections, data_id_kwargs)
        except DatasetNotFoundError:
            return False
        records = self.datastore.get_records([ref.id])
        return ref.id in records and self.datastore.path_of(records[ref.id]).exists()

    def get_uri(
        self,
        dataset_type_or_ref: str | DatasetType | DatasetRef,
        data_id: Mapping[str, Any] | None = None,
        *,
        collections: str | Iterable[str] | None = None,
        **data_id_kwargs: Any,
    ) -> str:
        """The ``file://`` URI of a dataset's file."""
        ref, _ = self._resolve(dataset_type_or_ref, data_id, collections, data_id_kwargs)
        return self.datastore.path_of(self.datastore.get_record(ref)).as_uri()

    def query_datasets(
        self,
        dataset_type: str | DatasetType,
        *,
        collections: str | Iterable[str] | None = None,
        where: str = "",
        bind: Mapping[str, Any] | None = None,
        data_id: Mapping[str, Any] | None = None,
        find_first: bool = True,
        explain: bool = False,
        **kwargs: Any,
    ) -> list[DatasetRef]:
        """Datasets of one type in the collections whose data IDs pass the constraints.

        ``where`` is a query expression over the dataset type's dimensions and the elements
        joinable from them (``"visit.day_obs > 20240101 AND band = 'r'"``); see
        `Registry.query_datasets`. ``data_id`` and keyword arguments add equality constraints.
        With ``explain``, an empty result raises `EmptyQueryResultError` saying why.
        """
        return self.registry.query_datasets(
            dataset_type,
            collections=self._collections(collections),
            where=where,
            bind=bind,
            data_id={**(data_id or {}), **kwargs},
            find_first=find_first,
            explain=explain,
        )

    def register_datasets(self, refs: Iterable[DatasetRef], records: Iterable[StoredFileInfo]) -> int:
        """Register, in one transaction, datasets whose files `FileDatastore.write` already wrote.

        The driver side of execution: workers write files without the registry and hand back
        their records; this inserts the datasets (grouped by dataset type and run, one bulk
        insert each) and their file records together. It is idempotent: a dataset already
        registered with the same ID in the same run, and its record, are left as they are.

        Parameters
        ----------
        refs : iterable of `DatasetRef`
            The datasets, with deterministic ``DATAID_TYPE_RUN`` IDs (as a quantum graph's
            outputs have); their dataset types and runs must exist.
        records : iterable of `StoredFileInfo`
            One record per dataset (matched by ``dataset_id``).

        Returns
        -------
        count : `int`
            Number of datasets given.

        Raises
        ------
        ConflictingDefinitionError
            If a ref's ID is not the deterministic one of its type, data ID and run, or the run
            already holds another dataset of that type and data ID.
        DatastoreError
            If a ref has no record or a record no ref.
        MissingDatasetTypeError, MissingCollectionError
            If a dataset type or run is not registered.
        """
        from .datastore import DatastoreError
        from .registry import ConflictingDefinitionError

        self._check_writeable("register datasets")
        by_id = {r.dataset_id: r for r in records}
        groups: dict[tuple[str, str], list[DatasetRef]] = {}
        n = 0
        for ref in refs:
            if ref.id not in by_id:
                raise DatastoreError(f"register_datasets: dataset {ref} has no file record")
            groups.setdefault((ref.dataset_type.name, ref.run), []).append(ref)
            n += 1
        if n != len(by_id):
            raise DatastoreError(f"register_datasets: {len(by_id)} records were given for {n} datasets")
        if not n:
            return 0
        with self.registry.transaction():
            for group in groups.values():
                first = group[0]
                made = self.registry.insert_datasets(
                    first.dataset_type,
                    [r.data_id for r in group],
                    first.run,
                    DatasetIdGenEnum.DATAID_TYPE_RUN,
                )
                for new, ref in zip(made, group, strict=True):
                    if new.id != ref.id:
                        raise ConflictingDefinitionError(
                            f"dataset {ref} does not have the deterministic ID of its type, data ID and run "
                            f"({new.id}); it cannot be registered from a written file"
                        )
            self.datastore.insert_records([info.to_row() for info in by_id.values()], skip_existing=True)
        return n

    # -- export, import, transfer (implemented in _transfer.py) -----------------------------------

    def export_datasets(
        self,
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
        """Write an export file (``.yaml``/``.yml``/``.json``) of datasets for `import_datasets`.

        It lists the datasets (IDs, data IDs, runs, file paths, formatters, checksums), their
        dataset types, the dimension records their data IDs need, and the collections: the runs,
        and the named TAGGED, CALIBRATION (with validity ranges) and CHAINED ones (see
        `skystack.butler._export_format` for the layout).

        Parameters
        ----------
        filename : path-like
            The export file to write.
        refs : iterable of `DatasetRef`, optional
            Export exactly these datasets (and their runs); otherwise select with the following.
        collections : `str` or iterable of `str`, optional
            Collections to search and export (default: the Butler's).
        dataset_types : `str` or iterable of `str`, optional
            Names or glob patterns (default: every type). Types matched by a pattern whose
            dimensions ``where`` does not apply to are skipped (`ExportResult.skipped_types`).
        where, bind
            A query expression over the datasets' data IDs, with bind values.
        directory : path-like, optional
            Put the files here (paths in the export relative to it); without it the export
            refers to the files in this repository.
        transfer : {"copy", "link", "symlink"}, optional
            How files reach ``directory`` (default ``copy``).
        include_elements : iterable of `str`, optional
            Also export every record of these dimension elements (e.g. ``visit``,
            ``visit_definition``, ``visit_detector_region`` to carry visits along with raws).

        Returns
        -------
        result : `ExportResult`

        Raises
        ------
        DatastoreError
            If a selected dataset's file is missing or damaged, or the transfer mode is invalid.
        QueryExpressionError
            If ``where`` is invalid (or applies to no selected dataset type).
        """
        from ._transfer import export_datasets

        return export_datasets(
            self,
            filename,
            refs=refs,
            collections=collections,
            dataset_types=dataset_types,
            where=where,
            bind=bind,
            directory=directory,
            transfer=transfer,
            include_elements=include_elements,
        )

    def import_datasets(
        self,
        source: str | os.PathLike[str],
        *,
        transfer: str = "copy",
        directory: str | os.PathLike[str] | None = None,
        check_checksums: bool = False,
    ) -> ImportResult:
        """Import an export file (or the ``export.yaml``/``.json`` in a folder) with its files.

        Idempotent: datasets, records, tags and certifications already present identically are
        skipped. Everything is checked before anything is written, and a crash leaves no dataset
        without its file (see `skystack.butler._transfer`).

        Parameters
        ----------
        source : path-like
            The export file, or a folder holding ``export.yaml`` (``.yml``, ``.json``).
        transfer : {"copy", "link", "symlink", "move", "direct"}, optional
            How files enter the datastore (as for ingest).
        directory : path-like, optional
            Where the export's relative file paths start (default: its ``files_root``).
        check_checksums : `bool`, optional
            Verify the recorded checksum of every file before importing.

        Returns
        -------
        result : `ImportResult`

        Raises
        ------
        ExportFormatError
            If the file is not a readable export of a compatible version and universe.
        DatastoreError
            If files are missing, damaged, or cannot be transferred (nothing is imported).
        ConflictingDefinitionError
            If a dataset type, collection, dimension record, dataset ID or data ID differs from
            the repository's (both versions are named; nothing of the datasets is imported).
        """
        from ._transfer import import_datasets

        return import_datasets(
            self, source, transfer=transfer, directory=directory, check_checksums=check_checksums
        )

    def transfer_from(
        self,
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
        """Copy datasets from another repository (e.g. an SQLite one into a PostgreSQL one).

        The same as `export_datasets` from ``source`` followed by `import_datasets` here, without
        an intermediate file: ``refs`` or the selection (``collections``, ``dataset_types``,
        ``where``) say what moves; ``transfer`` how the files come. Same errors as those two.
        """
        from ._transfer import transfer_from

        return transfer_from(
            self,
            source,
            refs,
            collections=collections,
            dataset_types=dataset_types,
            where=where,
            bind=bind,
            transfer=transfer,
            include_elements=include_elements,
            check_checksums=check_checksums,
        )

    # -- removal --------------------------------------------------------------------------------

    def prune_datasets(self, refs: Iterable[DatasetRef]) -> int:
        """Delete datasets from the registry, then their files.

        Registry rows (datasets, tags, certifications and file records) go in one transaction;
        files are deleted after it commits, so an interruption leaves only orphan files (see
        `verify`). Returns the number of datasets deleted.
        """
        self._check_writeable("prune datasets")
        ids = list({r.id: r for r in refs}.values())
        infos = self.datastore.get_records([r.id for r in ids])
        with self.registry.transaction():
            count = self.registry.remove_datasets(ids)
        self.datastore.remove_files(infos.values())
        return count

    def remove_runs(self, names: Iterable[str]) -> int:
        """Delete RUN collections with all their datasets and files; returns the datasets deleted.

        Raises
        ------
        CollectionTypeError
            If a name is not a RUN collection.
        MissingCollectionError
            If a collection does not exist.
        """
        self._check_writeable("remove runs")
        from .registry import CollectionTypeError

        runs = list(names)
        for name in runs:
            ctype = self.registry.get_collection_type(name)
            if ctype is not CollectionType.RUN:
                raise CollectionTypeError(
                    f"collection {name!r} is {ctype.name}, not a RUN; remove-runs needs runs"
                )
        refs: list[DatasetRef] = []
        for dtype in self.registry.query_dataset_types():
            refs.extend(self.registry.query_datasets_simple(dtype, runs, find_first=False))
        infos: dict[Any, StoredFileInfo] = self.datastore.get_records([r.id for r in refs])
        with self.registry.transaction():
            count = self.registry.remove_datasets(refs)
            for name in runs:
                self.registry.remove_collection(name)
        self._known_runs.difference_update(runs)
        self.datastore.remove_files(infos.values())
        return count

    def verify(
        self, *, remove_orphans: bool = False, check_checksums: bool = False, min_age: float = 0.0
    ) -> VerifyReport:
        """Check files against the registry (see `FileDatastore.verify`)."""
        if remove_orphans:
            self._check_writeable("remove orphan files")
        return self.datastore.verify(
            remove_orphans=remove_orphans, check_checksums=check_checksums, min_age=min_age
        )

    def __repr__(self) -> str:
        return f"Butler({str(self.root)!r}, collections={list(self.collections)}, run={self.run!r})"
