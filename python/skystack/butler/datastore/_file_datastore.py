# SPDX-License-Identifier: GPL-3.0-or-later
"""`FileDatastore`: dataset files under a root folder, with their records in the registry database.

Crash safety
------------
A put writes the file under a temporary name (``.<name>.<random>.tmp``) in its final folder,
optionally ``fsync``-s it, then, inside ONE registry transaction, inserts the dataset and its file
record and renames the temporary file to its final name (``os.replace``) before committing. If
anything fails, the transaction is rolled back and the file removed. A crash at any moment
therefore leaves at worst an *orphan* file (a file with no record), never a record without its
complete file. Removal deletes the registry rows first (one transaction; the file records go
with their datasets) and the files afterwards, so a crash in between again leaves only orphans.
`FileDatastore.verify` lists orphans and damaged or missing files, and can delete the orphans.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..storage_classes import StorageClass, StorageClassError, get_storage_class, import_object
from ._templates import DEFAULT_TEMPLATE, PathTemplate

if TYPE_CHECKING:
    from ..dimensions import DataCoordinate
    from ..registry import DatasetRef, DatasetType, Registry

__all__ = ["TRANSFER_MODES", "DatastoreError", "FileDatastore", "StoredFileInfo", "VerifyReport"]

TRANSFER_MODES = ("copy", "link", "symlink", "move", "direct")
"""How `FileDatastore.ingest` brings an existing file in (see `FileDatastore.stage_ingest`)."""
_COMPRESSED = frozenset({".gz", ".fz", ".bz2", ".xz"})

RECORDS_TABLE = "file_datastore_records"
_CHUNK = 500
_IGNORED_ROOT_FILES = frozenset(
    {
        "butler.yaml",
        ".butler.yaml.tmp",
        "registry.sqlite3",
        "registry.sqlite3-wal",
        "registry.sqlite3-shm",
        "registry.sqlite3-journal",
    }
)


class DatastoreError(RuntimeError):
    """A dataset's file is missing, damaged or unreadable, or has no datastore record."""


@dataclass(frozen=True, slots=True)
class StoredFileInfo:
    """The datastore record of one dataset file."""

    dataset_id: uuid.UUID
    path: str
    """Path relative to the datastore root (``/``-separated)."""
    formatter: str
    storage_class: str
    checksum: str | None
    file_size: int

    def to_row(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "path": self.path,
            "formatter": self.formatter,
            "storage_class": self.storage_class,
            "checksum": self.checksum,
            "file_size": self.file_size,
        }


@dataclass
class VerifyReport:
    """What `FileDatastore.verify` found.

    Attributes
    ----------
    orphans : `list` [`str`]
        Files under the root (relative paths) that no record refers to (removed if asked).
    missing : `list` [`StoredFileInfo`]
        Records whose file does not exist.
    bad_size : `list` [`StoredFileInfo`]
        Records whose file has another size than recorded.
    bad_checksum : `list` [`StoredFileInfo`]
        Records whose file has another checksum than recorded (only checked when asked).
    removed : `list` [`str`]
        Orphans that were deleted.
    n_records : `int`
        Number of records checked.
    """

    orphans: list[str] = field(default_factory=list)
    missing: list[StoredFileInfo] = field(default_factory=list)
    bad_size: list[StoredFileInfo] = field(default_factory=list)
    bad_checksum: list[StoredFileInfo] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    n_records: int = 0

    @property
    def ok(self) -> bool:
        """Whether every record has its intact file (orphans that were removed do not count)."""
        left = set(self.orphans) - set(self.removed)
        return not (left or self.missing or self.bad_size or self.bad_checksum)


def file_checksum(path: Path) -> str:
    """The BLAKE2b (128-bit) hex digest of a file."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _TemplateValues:
    """Values of template fields beyond a data ID's keys: implied dimensions and record fields.

    Dimension records are fetched one element at a time and cached per process (records are
    written once and not expected to change), so a put pays a database lookup only the first
    time it meets a new visit, exposure or physical filter.
    """

    def __init__(self, registry: Registry, fields: frozenset[str]) -> None:
        self._registry = registry
        self._fields = fields
        self._cache: dict[tuple[str, tuple[Any, ...]], dict[str, Any] | None] = {}

    def _record(self, element: str, key: dict[str, Any]) -> dict[str, Any] | None:
        cache_key = (element, tuple(key.values()))
        if cache_key not in self._cache:
            records = self._registry.fetch_dimension_records(element, key)
            self._cache[cache_key] = records[0].to_dict() if records else None
        return self._cache[cache_key]

    def values(self, data_id: DataCoordinate) -> dict[str, Any]:
        known: dict[str, Any] = dict(data_id.full_items())
        wanted = self._fields - known.keys() - {"run", "dataset_type", "component"}
        if not wanted:
            return known
        universe = data_id.universe
        pending = [
            e for e in data_id.dimensions.elements if universe[e].is_stored and universe[e].is_dimension
        ]
        progress = True
        while pending and progress and not wanted <= known.keys():
            progress = False
            for name in list(pending):
                element = universe[name]
                if not set(element.required) <= known.keys():
                    continue
                pending.remove(name)
                progress = True
                record = self._record(name, {d: known[d] for d in element.required})
                if record is None:
                    continue
                for d in element.implied:
                    known.setdefault(d, record.get(d))
                for f in wanted & record.keys():
                    if f not in element.required and record[f] is not None:
                        known.setdefault(f, record[f])
        return known


class FileDatastore:
    """Dataset files in a folder; their records in a table of the registry database.

    Parameters
    ----------
    root : path-like
        The root folder (created if needed).
    registry : `Registry`
        The registry whose database holds the records (table ``file_datastore_records``).
    template : `str`, optional
        Default file template (see `PathTemplate`).
    templates : mapping [`str`, `str`], optional
        Per-dataset-type templates, overriding ``template``.
    checksum : `bool`, optional
        Record a BLAKE2b checksum of each file at put (costs a read of the file).
    fsync : `bool`, optional
        ``fsync`` each file (and its folder) before it is registered: durable across power loss.
        Not needed for crash (process kill) safety.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        registry: Registry,
        *,
        template: str = DEFAULT_TEMPLATE,
        templates: Mapping[str, str] | None = None,
        checksum: bool = False,
        fsync: bool = False,
    ) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.registry = registry
        self.template = PathTemplate(template)
        self.templates = {name: PathTemplate(t) for name, t in (templates or {}).items()}
        self.checksum = checksum
        self.fsync = fsync
        columns: list[Any] = [
            registry.dataset_id_column("dataset_id"),
            sa.Column("path", sa.String(1024), nullable=False),
            sa.Column("formatter", sa.String(255), nullable=False),
            sa.Column("storage_class", sa.String(64), nullable=False),
            sa.Column("checksum", sa.String(64), nullable=True),
            sa.Column("file_size", sa.BigInteger, nullable=False),
        ]
        registry.register_opaque_table(RECORDS_TABLE, columns)
        fields = frozenset().union(self.template.fields, *(t.fields for t in self.templates.values()))
        self._values = _TemplateValues(registry, fields)
        self._made_dirs: set[Path] = set()

    # -- paths ----------------------------------------------------------------------------------

    def relative_path(self, dataset_type: DatasetType, data_id: DataCoordinate, run: str) -> str:
        """The path (relative to the root, without extension) of a dataset's file."""
        template = self.templates.get(dataset_type.name, self.template)
        values = self._values.values(data_id)
        values["run"] = run
        values["dataset_type"] = dataset_type.name
        unused = [
            value
            for dim, value in zip(data_id.dimensions.required, data_id.values_tuple, strict=True)
            if dim not in template.fields
        ]
        return template.format(values, unused)

    def _absolute(self, relative: str) -> Path:
        # String tests (the root is absolute): pathlib's parsing cost a fifth of a small get.
        if relative.startswith("/") or ".." in relative.split("/"):
            raise DatastoreError(f"refusing path {relative!r}: it is outside the datastore root {self.root}")
        return self.root / relative

    # -- writing --------------------------------------------------------------------------------

    def write_temporary(
        self, obj: Any, storage_class: StorageClass, relative: str
    ) -> tuple[Path, Path, dict[str, Any]]:
        """Write ``obj`` next to its destination under a temporary name.

        Returns
        -------
        temporary, final : `~pathlib.Path`
            The written file and where `commit_file` must move it.
        record : `dict`
            The record fields (without ``dataset_id``).
        """
        formatter = storage_class.get_formatter()
        final = self._absolute(relative + formatter.extension)
        folder = final.parent
        if folder not in self._made_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(folder)
        temporary = folder / f".{final.name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            formatter.write(obj, temporary)
            if self.fsync:
                fd = os.open(temporary, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            size = temporary.stat().st_size
            checksum = file_checksum(temporary) if self.checksum else None
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        record = {
            "path": final.relative_to(self.root).as_posix(),
            "formatter": formatter.name,
            "storage_class": storage_class.name,
            "checksum": checksum,
            "file_size": size,
        }
        return temporary, final, record

    def commit_file(self, temporary: Path, final: Path) -> None:
        """Move a temporary file to its final name (call inside the registry transaction)."""
        os.replace(temporary, final)
        if self.fsync:
            fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def insert_records(self, rows: Iterable[Mapping[str, Any]], *, skip_existing: bool = False) -> None:
        """Insert file records (inside the registry transaction that inserts their datasets).

        With ``skip_existing``, records of datasets that already have one are left unchanged.
        """
        self.registry.insert_opaque_data(RECORDS_TABLE, rows, skip_existing=skip_existing)

    def write(self, obj: Any, ref: DatasetRef) -> StoredFileInfo:
        """Write ``obj`` as the file of ``ref`` at its template location; the registry is not touched.

        This is the worker side of execution: the file is written under a temporary name and
        renamed over its final name (replacing an orphan left there by an interrupted run), and
        the record is returned for the caller to register later, in bulk, with
        `~skystack.butler.Butler.register_datasets`. The caller guarantees that ``ref`` is not
        registered with another file (its location is derived from its type, data ID and run).

        Parameters
        ----------
        obj : object
            An instance of the storage class' Python type.
        ref : `DatasetRef`
            The dataset, with its final ID.

        Returns
        -------
        record : `StoredFileInfo`
            Path, formatter, storage class, checksum (if enabled) and size of the file.

        Raises
        ------
        StorageClassError
            If ``obj`` is not of the storage class' type.
        """
        storage_class = get_storage_class(ref.dataset_type.storage_class_name)
        storage_class.check_object(obj)
        relative = self.relative_path(ref.dataset_type, ref.data_id, ref.run)
        temporary, final, record = self.write_temporary(obj, storage_class, relative)
        try:
            self.commit_file(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return StoredFileInfo(dataset_id=ref.id, **record)

    # -- ingest of existing files ---------------------------------------------------------------

    def stage_ingest(
        self, source: str | os.PathLike[str], storage_class: StorageClass, relative: str, transfer: str
    ) -> tuple[Path | None, Path, dict[str, Any]]:
        """Bring an existing file next to its destination under a temporary name.

        Parameters
        ----------
        source : path-like
            The existing file.
        storage_class : `StorageClass`
            Storage class of the dataset (its formatter reads the file).
        relative : `str`
            Destination path relative to the root, without extension (`relative_path`); the
            source's extension (``.fits``, ``.fits.gz`` ...) is appended.
        transfer : `str`
            ``copy``; ``link`` (hard link; same file system only); ``symlink`` (absolute link to
            the source); ``move`` (staged as a hard link or copy, the source is deleted by
            `finish_ingest` after the registry commit); ``direct`` (nothing is written: the
            record holds the source's absolute path, and removing the dataset keeps the file).

        Returns
        -------
        temporary : `~pathlib.Path` or `None`
            The staged file for `commit_file` (`None` for ``direct``).
        final : `~pathlib.Path`
            Where the dataset's file will be (the source itself for ``direct``).
        record : `dict`
            The record fields without ``dataset_id``.

        Raises
        ------
        DatastoreError
            For an unknown transfer mode, a missing source, or a hard link across file systems.
        """
        if transfer not in TRANSFER_MODES:
            raise DatastoreError(
                f"unknown transfer mode {transfer!r}; choose one of {', '.join(TRANSFER_MODES)}"
            )
        src = Path(source).expanduser().absolute()
        if not src.is_file():
            raise DatastoreError(f"cannot ingest {src}: no such file")
        formatter = storage_class.get_formatter()
        record = {
            "formatter": formatter.name,
            "storage_class": storage_class.name,
            "checksum": file_checksum(src) if self.checksum else None,
            "file_size": src.stat().st_size,
        }
        if transfer == "direct":
            return None, src, {"path": src.as_posix(), **record}
        suffixes = src.suffixes[-2:] if src.suffix.lower() in _COMPRESSED else src.suffixes[-1:]
        final = self._absolute(relative + "".join(suffixes))
        folder = final.parent
        if folder not in self._made_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(folder)
        temporary = folder / f".{final.name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            if transfer == "symlink":
                os.symlink(src, temporary)
            elif transfer == "link":
                try:
                    os.link(src, temporary)
                except OSError as err:
                    raise DatastoreError(
                        f"cannot hard-link {src} into the datastore at {self.root} ({err}); use "
                        "transfer 'copy' or 'symlink' across file systems"
                    ) from None
            elif transfer == "move":
                try:
                    os.link(src, temporary)
                except OSError:
                    shutil.copyfile(src, temporary)
            else:
                shutil.copyfile(src, temporary)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return temporary, final, {"path": final.relative_to(self.root).as_posix(), **record}

    @staticmethod
    def finish_ingest(source: str | os.PathLike[str], transfer: str) -> None:
        """After the registry commit of an ingest: delete the source of a ``move``."""
        if transfer == "move":
            Path(source).unlink(missing_ok=True)

    def ingest(
        self, ref: DatasetRef, source: str | os.PathLike[str], transfer: str = "copy"
    ) -> StoredFileInfo:
        """Ingest an existing file as the file of a dataset already in the registry.

        The file is staged (`stage_ingest`), then its record is inserted and the file renamed
        to its final name in one registry transaction; a failure leaves no record and no file.

        Raises
        ------
        DatastoreError
            As for `stage_ingest`, or if the dataset already has a file.
        """
        if self.registry.fetch_opaque_data(RECORDS_TABLE, dataset_id=ref.id):
            raise DatastoreError(f"dataset {ref} already has a file in the datastore at {self.root}")
        storage_class = get_storage_class(ref.dataset_type.storage_class_name)
        relative = self.relative_path(ref.dataset_type, ref.data_id, ref.run)
        temporary, final, record = self.stage_ingest(source, storage_class, relative, transfer)
        moved = False
        try:
            with self.registry.transaction():
                self.insert_records([{"dataset_id": ref.id, **record}])
                if temporary is not None:
                    self.commit_file(temporary, final)
                    moved = True
        except BaseException:
            if temporary is not None:
                (final if moved else temporary).unlink(missing_ok=True)
            raise
        self.finish_ingest(source, transfer)
        return StoredFileInfo(dataset_id=ref.id, **record)

    # -- reading --------------------------------------------------------------------------------

    def get_records(self, dataset_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StoredFileInfo]:
        """The records of datasets (absent ones are left out)."""
        out: dict[uuid.UUID, StoredFileInfo] = {}
        ids = list(dataset_ids)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            where = chunk[0] if len(chunk) == 1 else chunk
            for row in self.registry.fetch_opaque_data(RECORDS_TABLE, dataset_id=where):
                out[row["dataset_id"]] = StoredFileInfo(**row)
        return out

    def get_record(self, ref: DatasetRef) -> StoredFileInfo:
        """The record of one dataset.

        Raises
        ------
        DatastoreError
            If the dataset has no file record (it is not stored in this datastore).
        """
        rows = self.registry.fetch_opaque_data(RECORDS_TABLE, dataset_id=ref.id)
        if not rows:
            raise DatastoreError(
                f"dataset {ref} has no file in the datastore at {self.root} (it was removed, or only "
                "registered); run `butler verify` to check the repository"
            )
        return StoredFileInfo(**rows[0])

    def path_of(self, info: StoredFileInfo) -> Path:
        """Absolute path of a record's file (outside the root for ``direct`` ingests)."""
        return Path(info.path) if info.path.startswith("/") else self._absolute(info.path)

    def read(
        self,
        ref: DatasetRef,
        info: StoredFileInfo,
        *,
        component: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        check_checksum: bool = False,
    ) -> Any:
        """Read a dataset (or one component of it) from its file.

        Raises
        ------
        DatastoreError
            If the file is missing, has the wrong checksum, or cannot be read (the message names
            the file and the dataset; the formatter's error is chained).
        StorageClassError, KeyError, TypeError
            For an unknown component, parameter or column, or a parameter of the wrong type.
        """
        storage_class = get_storage_class(info.storage_class)
        formatter = storage_class.get_formatter()
        if formatter.name != info.formatter:
            formatter = import_object(info.formatter)(storage_class)
        path = self.path_of(info)
        if check_checksum and info.checksum is not None and file_checksum(path) != info.checksum:
            raise DatastoreError(
                f"file {path} of dataset {ref} has a different checksum than when it was written "
                "(it was modified or corrupted)"
            )
        try:
            if component is None:
                return formatter.read(path, parameters)
            return formatter.read_component(path, component, parameters)
        except FileNotFoundError:
            raise DatastoreError(
                f"file {path} of dataset {ref} is missing; run `butler verify` to list damaged datasets"
            ) from None
        except (StorageClassError, KeyError, TypeError):
            raise
        except Exception as err:
            raise DatastoreError(f"cannot read dataset {ref} from file {path}: {err}") from err

    # -- removal and checks ---------------------------------------------------------------------

    def remove_files(self, infos: Iterable[StoredFileInfo]) -> int:
        """Delete the files of records already removed from the registry; returns how many.

        Files recorded by absolute path (``direct`` ingests) are outside the datastore and are
        left alone.
        """
        count = 0
        for info in infos:
            if Path(info.path).is_absolute():
                continue
            path = self._absolute(info.path)
            try:
                path.unlink()
                count += 1
            except FileNotFoundError:
                pass
        return count

    def _walk(self) -> Iterator[str]:
        for folder, _dirs, files in os.walk(self.root):
            rel_folder = Path(folder).relative_to(self.root)
            for name in files:
                if rel_folder == Path(".") and name in _IGNORED_ROOT_FILES:
                    continue
                yield (rel_folder / name).as_posix()

    def verify(
        self, *, remove_orphans: bool = False, check_checksums: bool = False, min_age: float = 0.0
    ) -> VerifyReport:
        """Compare the files under the root with the records.

        Parameters
        ----------
        remove_orphans : `bool`, optional
            Delete files that no record refers to.
        check_checksums : `bool`, optional
            Also recompute the checksums of files that have one recorded (reads every file).
        min_age : `float`, optional
            Only report (and remove) orphans whose last modification is older than this many
            seconds, so that files of puts in progress in other processes are left alone.

        Returns
        -------
        report : `VerifyReport`
        """
        report = VerifyReport()
        recorded: set[str] = set()
        for row in self.registry.fetch_all_opaque_data(RECORDS_TABLE):
            info = StoredFileInfo(**row)
            report.n_records += 1
            recorded.add(info.path)
            path = self.path_of(info)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                report.missing.append(info)
                continue
            if size != info.file_size:
                report.bad_size.append(info)
            elif check_checksums and info.checksum is not None and file_checksum(path) != info.checksum:
                report.bad_checksum.append(info)
        now = time.time()
        for relative in self._walk():
            if relative in recorded:
                continue
            path = self.root / relative
            try:
                age = now - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < min_age:
                continue
            report.orphans.append(relative)
            if remove_orphans:
                path.unlink(missing_ok=True)
                report.removed.append(relative)
        report.orphans.sort()
        report.removed.sort()
        return report
