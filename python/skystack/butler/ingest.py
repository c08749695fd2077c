# SPDX-License-Identifier: GPL-3.0-or-later
"""Ingest existing files as datasets, and the ``RawFits`` storage class of camera files.

`ingest_files` registers datasets whose files already exist (raw frames, external catalogues):
each file is staged next to its destination (copy, hard link, symbolic link, move) or recorded
where it is (``direct``), then the datasets, their file records and the final renames go in one
registry transaction, as for a put. Dataset IDs are deterministic (``DATAID_TYPE_RUN``), so
ingesting the same files into the same run again changes nothing.

``RawFits`` holds a camera's multi-extension FITS file as an `astropy.io.fits.HDUList` (the
primary header and one HDU per amplifier, data loaded into memory); its ``metadata`` component
reads only the primary header.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .datastore._file_datastore import TRANSFER_MODES
from .dimensions import DataCoordinate
from .formatters import Formatter, FormatterError
from .registry import DatasetIdGenEnum, DatasetRef, DatasetType
from .registry._datasets import make_dataset_id
from .storage_classes import StorageClass, get_storage_class

if TYPE_CHECKING:
    from ._butler import Butler

__all__ = ["TRANSFER_MODES", "FitsFileFormatter", "IngestResult", "ingest_files"]


class FitsFileFormatter(Formatter):
    """A FITS file as an `astropy.io.fits.HDUList` with every HDU's data read into memory."""

    extension: ClassVar[str] = ".fits"

    def write(self, obj: Any, path: Path) -> None:
        obj.writeto(path, overwrite=True)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        from astropy.io import fits

        if not path.exists():
            raise FileNotFoundError(f"dataset file {path} does not exist")
        try:
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdus:
                for hdu in hdus:
                    _ = hdu.data  # load now: the file closes on leaving the block
                return fits.HDUList([hdu.copy() for hdu in hdus])
        except (OSError, ValueError, TypeError) as err:
            raise FormatterError(path, f"not a readable FITS file: {err}") from err

    def read_component(self, path: Path, component: str, parameters: Mapping[str, Any] | None = None) -> Any:
        from astropy.io import fits

        if component != "metadata":
            return super().read_component(path, component, parameters)
        if not path.exists():
            raise FileNotFoundError(f"dataset file {path} does not exist")
        try:
            return fits.getheader(path, 0)
        except (OSError, ValueError, TypeError) as err:
            raise FormatterError(path, f"not a readable FITS file: {err}") from err


RAW_STORAGE_CLASS = get_storage_class("RawFits")
"""The storage class of raw files (registered with the built-in ones)."""


@dataclass
class IngestResult:
    """What `ingest_files` did.

    Attributes
    ----------
    refs : `list` [`DatasetRef`]
        One per input file, in input order (existing datasets included).
    ingested : `list` [`DatasetRef`]
        The datasets whose files were ingested now.
    skipped : `list` [`DatasetRef`]
        The datasets that already had a file in the run (left unchanged).
    """

    refs: list[DatasetRef] = field(default_factory=list)
    ingested: list[DatasetRef] = field(default_factory=list)
    skipped: list[DatasetRef] = field(default_factory=list)


def ingest_files(
    butler: Butler,
    dataset_type: DatasetType,
    entries: Iterable[tuple[Mapping[str, Any] | DataCoordinate, str | os.PathLike[str]]],
    run: str,
    *,
    transfer: str = "copy",
) -> IngestResult:
    """Ingest existing files as datasets of one type into a RUN collection, idempotently.

    Parameters
    ----------
    butler : `Butler`
        A writeable Butler.
    dataset_type : `DatasetType`
        Registered here if it is new.
    entries : iterable of (data ID, path)
        One existing file per dataset.
    run : `str`
        The RUN collection (created if needed).
    transfer : `str`, optional
        One of `TRANSFER_MODES` (see `FileDatastore.stage_ingest`).

    Returns
    -------
    result : `IngestResult`

    Raises
    ------
    DatastoreError
        For an unknown transfer mode, a missing file or an impossible hard link (nothing of the
        batch is ingested).
    DataIdError
        If a data ID is invalid or names missing dimension records.
    ConflictingDefinitionError
        If the run holds another dataset of that type and data ID (not made by ingest), or two
        entries share a data ID.
    """
    butler._check_writeable("ingest files")
    registry = butler.registry
    datastore = butler.datastore
    registry.register_dataset_type(dataset_type)
    registry.register_run(run)
    storage_class: StorageClass = get_storage_class(dataset_type.storage_class_name)
    items = [
        (DataCoordinate.standardize(data_id, dimensions=dataset_type.dimensions), Path(path))
        for data_id, path in entries
    ]
    ids = [make_dataset_id(dataset_type.name, c, run, DatasetIdGenEnum.DATAID_TYPE_RUN) for c, _ in items]
    if len(set(ids)) != len(ids):
        raise _conflict(dataset_type, items, ids)
    have = datastore.get_records(ids)
    todo = [i for i, dataset_id in enumerate(ids) if dataset_id not in have]
    staged: list[tuple[Path | None, Path, dict[str, Any]]] = []
    try:
        for i in todo:
            coord, path = items[i]
            relative = datastore.relative_path(dataset_type, coord, run)
            staged.append(datastore.stage_ingest(path, storage_class, relative, transfer))
        committed: list[Path] = []
        try:
            with registry.transaction():
                refs = registry.insert_datasets(
                    dataset_type, [c for c, _ in items], run, DatasetIdGenEnum.DATAID_TYPE_RUN
                )
                datastore.insert_records(
                    [{"dataset_id": refs[i].id, **rec} for i, (_, _, rec) in zip(todo, staged, strict=True)]
                )
                for temporary, final, _ in staged:
                    if temporary is not None:
                        datastore.commit_file(temporary, final)
                        committed.append(final)
        except BaseException:
            for final in committed:
                final.unlink(missing_ok=True)
            raise
    finally:
        for temporary, _, _ in staged:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
    for i in todo:
        datastore.finish_ingest(items[i][1], transfer)
    done = set(todo)
    return IngestResult(
        refs=list(refs),
        ingested=[refs[i] for i in todo],
        skipped=[r for i, r in enumerate(refs) if i not in done],
    )


def _conflict(
    dataset_type: DatasetType, items: Sequence[tuple[DataCoordinate, Path]], ids: Sequence[Any]
) -> Exception:
    from .registry import ConflictingDefinitionError

    seen: dict[Any, Path] = {}
    for (coord, path), dataset_id in zip(items, ids, strict=True):
        if dataset_id in seen:
            return ConflictingDefinitionError(
                f"files {seen[dataset_id]} and {path} are both {dataset_type.name!r} with data ID "
                f"{dict(coord.required)}; ingest only one of them"
            )
        seen[dataset_id] = path
    return ConflictingDefinitionError("duplicate data IDs")  # pragma: no cover
