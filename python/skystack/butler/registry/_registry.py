# SPDX-License-Identifier: GPL-3.0-or-later
"""`Registry`: the database of dimension records, dataset types, collections and datasets."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..dimensions import DataCoordinate, DimensionElement, DimensionGroup, DimensionRecord, DimensionUniverse
from ..timespan import Timespan
from ._collections import CollectionManager, CollectionSearch
from ._dataset_storage import DatasetStorage
from ._dataset_types import DatasetTypeManager
from ._datasets import CollectionType, DatasetIdGenEnum, DatasetRef, DatasetType
from ._db import Database, make_url
from ._dimension_records import DimensionRecordStorage
from ._errors import RegistryError, RegistryExistsError, SchemaVersionError
from ._opaque import OpaqueTableStorage
from ._query_runner import QueryRunner
from ._schema import SCHEMA_VERSION, RegistrySchema

__all__ = ["Registry"]


class Registry:
    """The registry of a data repository, on SQLAlchemy Core (SQLite or PostgreSQL).

    Do not construct directly: use `Registry.create` for a new repository and `Registry.open`
    for an existing one.

    Notes
    -----
    Collection and dataset-type definitions are cached in the process; call `refresh` to see
    ones another process changed (new ones are found automatically on a cache miss).
    Several processes may write at once: SQLite writers queue on the database lock (WAL mode,
    busy timeout, retries); PostgreSQL writers use ordinary transactions.
    """

    def __init__(self, db: Database, schema: RegistrySchema) -> None:
        self._db = db
        self._schema = schema
        self._records = DimensionRecordStorage(db, schema)
        self._collections = CollectionManager(db, schema)
        self._types = DatasetTypeManager(db, schema)
        self._datasets = DatasetStorage(db, schema, self._collections, self._types, self._records)
        self._opaque = OpaqueTableStorage(db, schema)
        self._queries = QueryRunner(db, schema, self._collections, self._datasets._type_record, self._records)

    # -- creation -------------------------------------------------------------------------------

    @classmethod
    def create(
        cls, db_url: str | Path, universe: DimensionUniverse | None = None, *, namespace: str | None = None
    ) -> Registry:
        """Create the tables of a new registry.

        Parameters
        ----------
        db_url : `str` or `~pathlib.Path`
            An SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://user@host/db``) or the path of
            an SQLite file.
        universe : `DimensionUniverse`, optional
            The dimension universe (default: the one shipped with skystack). It is stored in the
            registry, so later opens use the same definitions.
        namespace : `str`, optional
            PostgreSQL schema for the tables (created if needed).

        Raises
        ------
        RegistryExistsError
            If a registry already exists there.
        """
        universe = universe if universe is not None else DimensionUniverse.default()
        url = make_url(db_url)
        if url.get_backend_name() == "sqlite" and url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        db = Database(url, namespace)
        schema = RegistrySchema(universe, namespace)
        with db.transaction() as conn:
            if namespace is not None:
                conn.execute(sa.schema.CreateSchema(namespace, if_not_exists=True))
            if sa.inspect(conn).has_table("meta", schema=namespace):
                raise RegistryExistsError(
                    f"a registry already exists at {url.render_as_string(hide_password=True)}"
                    + (f" (schema {namespace!r})" if namespace else "")
                    + "; open it with Registry.open"
                )
            schema.metadata.create_all(conn, tables=schema.static_tables)
            conn.execute(
                schema.meta.insert(),
                [
                    {"name": "schema_version", "value": str(SCHEMA_VERSION)},
                    {"name": "universe_namespace", "value": universe.namespace},
                    {"name": "universe_version", "value": str(universe.version)},
                    {"name": "universe", "value": universe.to_yaml()},
                ],
            )
        return cls(db, schema)

    @classmethod
    def open(cls, db_url: str | Path, *, namespace: str | None = None) -> Registry:
        """Open an existing registry.

        Raises
        ------
        RegistryError
            If there is no registry at ``db_url``.
        SchemaVersionError
            If its schema version is not the one this skystack writes (e.g. a newer version made it).
        """
        url = make_url(db_url)
        shown = url.render_as_string(hide_password=True) + (f" (schema {namespace!r})" if namespace else "")
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
            raise RegistryError(
                f"no registry at {shown}: the file does not exist; create one with Registry.create"
            )
        db = Database(url, namespace)
        meta = sa.Table(
            "meta", sa.MetaData(schema=namespace), sa.Column("name", sa.String), sa.Column("value", sa.Text)
        )
        with db.query() as conn:
            if not sa.inspect(conn).has_table("meta", schema=namespace):
                db.dispose()
                raise RegistryError(
                    f"no registry at {shown} (no 'meta' table); create one with Registry.create"
                )
            values = {name: value for name, value in conn.execute(sa.select(meta.c.name, meta.c.value))}
        version = int(values.get("schema_version", "0"))
        if version != SCHEMA_VERSION:
            db.dispose()
            which = "a newer" if version > SCHEMA_VERSION else "an older"
            raise SchemaVersionError(
                f"registry at {shown} has schema version {version}, but this skystack reads only version "
                f"{SCHEMA_VERSION}; it was made by {which} skystack"
                + (
                    "; upgrade skystack to open it"
                    if version > SCHEMA_VERSION
                    else "; migrate the repository"
                )
            )
        universe = DimensionUniverse.from_yaml(values["universe"])
        default = DimensionUniverse.default()
        if universe.to_yaml() == default.to_yaml():
            universe = default
        return cls(db, RegistrySchema(universe, namespace))

    @property
    def universe(self) -> DimensionUniverse:
        """The dimension universe of this registry."""
        return self._schema.universe

    @property
    def schema_version(self) -> int:
        """Version of the registry schema."""
        return SCHEMA_VERSION

    @property
    def is_sqlite(self) -> bool:
        """Whether the registry database is SQLite."""
        return self._db.is_sqlite

    def close(self) -> None:
        """Release database connections (the registry can still be used; it reconnects)."""
        self._db.dispose()

    def refresh(self) -> None:
        """Reread cached collection and dataset-type definitions."""
        self._collections.refresh()
        self._types.refresh()

    @contextlib.contextmanager
    def transaction(self, *, savepoint: bool = False) -> Iterator[None]:
        """A block whose registry changes are all committed or, on an exception, all rolled back.

        Parameters
        ----------
        savepoint : `bool`, optional
            In a nested block: roll back only this block's changes if it raises.
        """
        nested = self._db.in_transaction
        try:
            with self._db.transaction(savepoint=savepoint):
                yield
        except BaseException:
            if not nested or savepoint:
                self.refresh()  # drop cached definitions that were rolled back
            raise

    # -- dimension records ----------------------------------------------------------------------

    def insert_dimension_records(
        self,
        element: str | DimensionElement,
        records: Iterable[Mapping[str, Any] | DimensionRecord],
        *,
        replace: bool = False,
        skip_existing: bool = False,
    ) -> int:
        """Insert records of a dimension element in bulk.

        Parameters
        ----------
        element : `str` or `DimensionElement`
            E.g. ``"exposure"``.
        records : iterable of mapping or `DimensionRecord`
            Field values: the key fields (``instrument``, ``id`` ...), implied dimensions
            (``physical_filter`` ...), metadata, ``timespan`` (`Timespan`), ``region`` (sphgeom).
        replace : `bool`, optional
            Overwrite existing records with the same keys.
        skip_existing : `bool`, optional
            Keep existing records and insert only the new ones.

        Returns
        -------
        count : `int`
            Number of records written.

        Raises
        ------
        ConflictingDefinitionError
            If a record exists (and neither flag is set) or the input repeats a key.
        DataIdError
            If records refer to records that do not exist (e.g. an unknown instrument).
        ValueError, TypeError
            For unknown or missing fields and wrongly typed values.
        """
        return self._records.insert(element, records, replace=replace, skip_existing=skip_existing)

    def sync_dimension_record(
        self,
        element: str | DimensionElement,
        record: Mapping[str, Any] | DimensionRecord,
        *,
        update: bool = False,
    ) -> bool:
        """Insert a record unless an identical one exists.

        Returns
        -------
        changed : `bool`
            `True` if inserted (or updated), `False` if the same record was already there.

        Raises
        ------
        ConflictingDefinitionError
            If a different record with the same keys exists and ``update`` is false; the message
            lists the differing fields.
        """
        return self._records.sync(element, record, update=update)

    def fetch_dimension_records(
        self, element: str | DimensionElement, data_id: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> list[DimensionRecord]:
        """Records of ``element`` whose keys or implied values match a (partial) data ID, sorted by key."""
        return self._records.fetch(element, {**(data_id or {}), **kwargs})

    def expand_data_id(
        self,
        data_id: Mapping[str, Any] | None = None,
        *,
        dimensions: DimensionGroup | Iterable[str] | None = None,
        **kwargs: Any,
    ) -> DataCoordinate:
        """A data ID with its implied values and the records of all its elements.

        Raises
        ------
        DataIdError
            If the data ID is invalid, a record does not exist (naming it), or a given implied
            value contradicts a record.
        """
        coord = DataCoordinate.standardize(data_id, universe=self.universe, dimensions=dimensions, **kwargs)
        return self._records.expand(coord, {**(data_id or {}), **kwargs})

    # -- dataset types --------------------------------------------------------------------------

    def register_dataset_type(self, dataset_type: DatasetType) -> bool:
        """Register a dataset type (idempotent).

        Returns
        -------
        inserted : `bool`
            `False` if the identical type was already registered.

        Raises
        ------
        ConflictingDefinitionError
            If a different definition with that name exists (both are shown).
        InvalidNameError
            If the name is a component (register the parent).
        """
        return self._types.register(dataset_type)

    def get_dataset_type(self, name: str) -> DatasetType:
        """The registered dataset type ``name``.

        Raises
        ------
        MissingDatasetTypeError
            If it is not registered; the message lists close matches.
        """
        return self._types.find(name).dataset_type

    def query_dataset_types(self, pattern: str | re.Pattern[str] | None = None) -> list[DatasetType]:
        """Registered dataset types whose names match a glob (``"calexp*"``) or regex; all if `None`."""
        return self._types.query(pattern)

    def remove_dataset_type(self, name: str) -> None:
        """Remove a dataset type that has no datasets (else `ConflictingDefinitionError`)."""
        self._types.remove(name)

    # -- collections ----------------------------------------------------------------------------

    def register_collection(self, name: str, collection_type: CollectionType, doc: str | None = None) -> bool:
        """Create a collection unless it exists; returns whether it was created.

        Raises
        ------
        InvalidNameError
            If the name is invalid (see `validate_collection_name`).
        ConflictingDefinitionError
            If it exists with another type.
        """
        return self._collections.register(name, collection_type, doc)

    def register_run(self, name: str, doc: str | None = None) -> bool:
        """Create a RUN collection unless it exists; returns whether it was created."""
        return self._collections.register(name, CollectionType.RUN, doc)

    def get_collection_type(self, name: str) -> CollectionType:
        """The type of a collection (`MissingCollectionError` if absent)."""
        return self._collections.find(name).type

    def set_collection_chain(self, parent: str, children: Iterable[str]) -> None:
        """Set the ordered children of a CHAINED collection.

        Raises
        ------
        CollectionTypeError
            If ``parent`` is not CHAINED.
        CollectionCycleError
            If the chain would contain itself (the cycle is shown).
        MissingCollectionError
            If a child does not exist.
        """
        self._collections.set_chain(parent, children)

    def get_collection_chain(self, parent: str) -> tuple[str, ...]:
        """The ordered children of a CHAINED collection."""
        return self._collections.get_chain(parent)

    def query_collections(
        self,
        pattern: str | re.Pattern[str] | None = None,
        *,
        collection_types: Iterable[CollectionType] | None = None,
        flatten_chains: bool = False,
    ) -> list[str]:
        """Names of the collections matching a glob or regex, sorted (chains' children follow them
        when ``flatten_chains``)."""
        return self._collections.query(pattern, collection_types, flatten_chains)

    def remove_collection(self, name: str) -> None:
        """Remove a collection.

        Raises
        ------
        RegistryError
            If it is a child of a chain, or a RUN that still holds datasets.
        """
        self._collections.remove(name)

    # -- datasets -------------------------------------------------------------------------------

    def insert_datasets(
        self,
        dataset_type: str | DatasetType,
        data_ids: Iterable[Mapping[str, Any] | DataCoordinate],
        run: str,
        id_generation: DatasetIdGenEnum = DatasetIdGenEnum.UNIQUE,
    ) -> list[DatasetRef]:
        """Insert datasets into a RUN collection in bulk (one transaction).

        Parameters
        ----------
        dataset_type : `str` or `DatasetType`
            A registered dataset type.
        data_ids : iterable of mapping or `DataCoordinate`
            One data ID per dataset.
        run : `str`
            An existing RUN collection.
        id_generation : `DatasetIdGenEnum`, optional
            ``UNIQUE`` (random) or deterministic ``DATAID_TYPE`` / ``DATAID_TYPE_RUN`` ids; with
            the latter, inserting the same datasets again is a no-op returning the same refs.

        Returns
        -------
        refs : `list` [`DatasetRef`]
            In the order of ``data_ids``.

        Raises
        ------
        ConflictingDefinitionError
            If the run already holds another dataset of that type and data ID.
        DataIdError
            If a data ID is invalid or refers to missing dimension records (named).
        CollectionTypeError
            If ``run`` is not a RUN collection.
        """
        return self._datasets.insert(dataset_type, data_ids, run, id_generation)

    def find_dataset(
        self,
        dataset_type: str | DatasetType,
        data_id: Mapping[str, Any] | None = None,
        *,
        collections: CollectionSearch,
        timespan: Timespan | None = None,
        **kwargs: Any,
    ) -> DatasetRef | None:
        """The first dataset of a type and data ID along an ordered collection search path.

        Chains are expanded in place. In CALIBRATION collections the dataset whose validity
        overlaps ``timespan`` is found; without ``timespan``, the data ID may name an exposure or
        visit (extra keys are allowed) whose record's timespan is used.

        Returns
        -------
        ref : `DatasetRef` or `None`
            `None` if no collection of the path holds one.

        Raises
        ------
        CalibrationLookupError
            If a calibration lookup has no time, or finds several datasets in one collection.
        """
        return self._datasets.find(dataset_type, {**(data_id or {}), **kwargs}, collections, timespan)

    def get_dataset(self, dataset_id: uuid.UUID) -> DatasetRef | None:
        """The dataset with an ID, or `None`."""
        return self._datasets.get(dataset_id)

    def query_datasets_simple(
        self,
        dataset_type: str | DatasetType,
        collections: CollectionSearch,
        data_id: Mapping[str, Any] | None = None,
        *,
        find_first: bool = True,
    ) -> list[DatasetRef]:
        """Datasets of one type in a search path, in one SQL query per dataset table.

        Parameters
        ----------
        data_id : mapping, optional
            Equality constraints on some of the type's required dimensions.
        find_first : `bool`, optional
            Keep, per data ID, only the dataset of the first collection that has one. Otherwise
            every distinct dataset in any of the collections.

        Raises
        ------
        CalibrationLookupError
            If ``find_first`` and the path holds a CALIBRATION collection.
        """
        return self._queries.datasets(dataset_type, collections, "", None, data_id or {}, find_first)

    def associate(self, collection: str, refs: Iterable[DatasetRef]) -> None:
        """Tag datasets into a TAGGED collection (already-tagged ones are ignored)."""
        self._datasets.associate(collection, refs)

    def disassociate(self, collection: str, refs: Iterable[DatasetRef]) -> None:
        """Remove datasets from a TAGGED collection."""
        self._datasets.disassociate(collection, refs)

    def certify(self, collection: str, refs: Iterable[DatasetRef], timespan: Timespan) -> None:
        """Make calibration datasets valid in a CALIBRATION collection during ``timespan``.

        Raises
        ------
        ConflictingDefinitionError
            If a dataset of the same type and data ID is already valid during part of ``timespan``.
        DatasetTypeError
            If a dataset type is not a calibration type.
        """
        self._datasets.certify(collection, refs, timespan)

    def decertify(
        self,
        collection: str,
        dataset_type: str | DatasetType,
        timespan: Timespan,
        *,
        data_ids: Iterable[Mapping[str, Any]] | None = None,
    ) -> int:
        """Remove the validity of calibrations during ``timespan`` (validity outside it is kept).

        Returns the number of certifications that were shortened, split or removed.
        """
        return self._datasets.decertify(collection, dataset_type, timespan, data_ids)

    def remove_datasets(self, refs: Iterable[DatasetRef]) -> int:
        """Delete datasets from the registry with all their tags and certifications.

        Only the registry rows are removed; the datastore's removal path deletes the files.
        Returns the number of datasets deleted.
        """
        return self._datasets.remove(refs)

    # -- opaque tables (owned by other components, e.g. the datastore) ---------------------------

    def dataset_id_column(self, name: str = "dataset_id") -> sa.Column[Any]:
        """A dataset-ID primary-key column for an opaque table; its rows go with their datasets.

        The column references ``dataset.id`` with ``ON DELETE CASCADE``, so `remove_datasets`
        also deletes the rows that describe the removed datasets, in the same transaction.
        """
        return self._opaque.dataset_id_column(name)

    def register_opaque_table(
        self, name: str, columns: Sequence[sa.Column[Any] | sa.Constraint | sa.Index]
    ) -> sa.Table:
        """Define a table owned by another component and create it if it does not exist.

        Parameters
        ----------
        name : `str`
            Table name (an identifier not used by the registry).
        columns : sequence of `sqlalchemy.Column`, constraints or indexes
            Its definition (e.g. with a `dataset_id_column`).

        Returns
        -------
        table : `sqlalchemy.Table`

        Raises
        ------
        RegistryError
            If the name is invalid or is a registry table.
        """
        return self._opaque.register(name, columns)

    def insert_opaque_data(
        self, name: str, rows: Iterable[Mapping[str, Any]], *, skip_existing: bool = False
    ) -> None:
        """Insert rows into an opaque table (inside the current `transaction`, if any).

        With ``skip_existing``, rows whose primary key already exists are ignored instead of
        raising (idempotent re-insertion).
        """
        self._opaque.insert(name, rows, skip_existing=skip_existing)

    def fetch_opaque_data(self, name: str, **where: Any) -> list[dict[str, Any]]:
        """Rows of an opaque table whose columns equal ``where`` (a list/tuple/set means ``IN``)."""
        return self._opaque.fetch(name, where)

    def fetch_all_opaque_data(self, name: str) -> Iterable[dict[str, Any]]:
        """Every row of an opaque table."""
        return self._opaque.fetch_all(name)

    def delete_opaque_data(self, name: str, **where: Any) -> int:
        """Delete the rows of an opaque table matching ``where`` (at least one constraint)."""
        return self._opaque.delete(name, where)

    # -- queries with a where expression --------------------------------------------------------

    def query_data_ids(
        self,
        dimensions: Iterable[str],
        *,
        where: str = "",
        bind: Mapping[str, Any] | None = None,
        data_id: Mapping[str, Any] | None = None,
        explain: bool = False,
        **kwargs: Any,
    ) -> list[DataCoordinate]:
        """Data IDs of ``dimensions`` that exist in the registry and pass the constraints.

        Parameters
        ----------
        dimensions : iterable of `str`
            Dimension names; required dimensions (e.g. ``instrument``) are added.
        where : `str`, optional
            A query expression (``"visit.day_obs > 20240101 AND band IN ('g', 'r')"``,
            ``"visit_detector_region.region OVERLAPS CIRCLE(150.1, 2.2, 0.1)"``).
        bind : mapping, optional
            Values of ``:name`` bind parameters in ``where``.
        data_id, **kwargs
            Equality constraints on dimension values.
        explain : `bool`, optional
            If nothing matches, raise `EmptyQueryResultError` whose ``explanation`` gives the rows
            left after each constraint and which one removed everything.

        Returns
        -------
        data_ids : `list` [`DataCoordinate`]
            Sorted by their required values. Combinations are those recorded by join elements:
            visit with detector only where a ``visit_detector_region`` exists.

        Raises
        ------
        QueryExpressionError
            For a syntax error (with a caret under the position), an unknown identifier (with
            the valid ones) or a missing bind value.
        EmptyQueryResultError
            With ``explain``, if nothing matches.
        """
        return self._queries.data_ids(dimensions, where, bind, {**(data_id or {}), **kwargs}, explain)

    def query_dimension_records(
        self,
        element: str,
        *,
        where: str = "",
        bind: Mapping[str, Any] | None = None,
        data_id: Mapping[str, Any] | None = None,
        explain: bool = False,
        **kwargs: Any,
    ) -> list[DimensionRecord]:
        """Records of ``element`` that pass the constraints (see `query_data_ids`, also for
        ``explain``), sorted by key."""
        return self._queries.dimension_records(element, where, bind, {**(data_id or {}), **kwargs}, explain)

    def query_datasets(
        self,
        dataset_type: str | DatasetType,
        *,
        collections: CollectionSearch,
        where: str = "",
        bind: Mapping[str, Any] | None = None,
        data_id: Mapping[str, Any] | None = None,
        find_first: bool = True,
        explain: bool = False,
        **kwargs: Any,
    ) -> list[DatasetRef]:
        """Datasets of one type in a collection search path whose data IDs pass the constraints.

        ``where`` may use the dataset type's dimensions and any element joinable from them
        (``visit.day_obs``, ``band``, ``exposure.timespan OVERLAPS T'2024-01-01'``). With
        ``find_first`` (default), each data ID gives the dataset of the earliest collection in
        the path that has one; otherwise every distinct dataset is returned. With ``explain``,
        an empty result raises `EmptyQueryResultError` saying which constraint removed
        everything (e.g. no dataset of the type in the collections, or a where term that
        matches no record).

        Raises
        ------
        QueryExpressionError
            As for `query_data_ids`.
        CalibrationLookupError
            If ``find_first`` and the path holds a CALIBRATION collection.
        EmptyQueryResultError
            With ``explain``, if nothing matches.
        """
        return self._queries.datasets(
            dataset_type, collections, where, bind, {**(data_id or {}), **kwargs}, find_first, explain
        )

    def __repr__(self) -> str:
        return f"Registry({self._db.url.render_as_string(hide_password=True)!r})"
