# SPDX-License-Identifier: GPL-3.0-or-later
"""`Butler`: put and get datasets by dataset type and data ID (the daf_butler role).

A repository is a folder with ``butler.yaml`` (`RepoConfig`), a registry database (SQLite
``registry.sqlite3`` inside the folder, or PostgreSQL) and the dataset files (`FileDatastore`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

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
        **kwargs: Any,
    ) -> list[DatasetRef]:
        """Datasets of one type in the collections whose data IDs pass the constraints.

        ``where`` is a query expression over the dataset type's dimensions and the elements
        joinable from them (``"visit.day_obs > 20240101 AND band = 'r'"``); see
        `Registry.query_datasets`. ``data_id`` and keyword arguments add equality constraints.
        """
        return self.registry.query_datasets(
            dataset_type,
            collections=self._collections(collections),
            where=where,
            bind=bind,
            data_id={**(data_id or {}), **kwargs},
            find_first=find_first,
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
