# SPDX-License-Identifier: GPL-3.0-or-later
"""The export file of ``butler export`` / `Butler.export_datasets`: a YAML or JSON document.

Layout (version 1; every key is required unless marked optional)::

    format: skystack-butler-export
    version: 1
    universe: {namespace: skystack, version: 1}
    files_root: "."          # where the file paths below are relative to (see below)
    dimension_records:       # in universe order: every element after those it refers to
      - element: exposure
        records:
          - {instrument: SimCam, id: 5, physical_filter: SimCam-r, exposure_time: 30.0, ...,
             timespan: [1735689600000000000, 1735689630000000000]}
    dataset_types:
      - {name: bias, dimensions: [instrument, detector], storage_class: Exposure, is_calibration: true}
    collections:             # RUN, TAGGED and CALIBRATION first, then chains after their children
      - {name: SimCam/raw/all, type: RUN}
      - {name: best, type: TAGGED, datasets: [<uuid>, ...]}
      - {name: SimCam/calib, type: CALIBRATION,
         certifications: [{dataset_id: <uuid>, begin: <ns>, end: null}]}
      - {name: SimCam/defaults, type: CHAINED, children: [SimCam/raw/all, SimCam/calib]}
    datasets:                # grouped by dataset type and run
      - dataset_type: raw
        run: SimCam/raw/all
        datasets:
          - {id: <uuid>, data_id: {instrument: SimCam, exposure: 5, detector: 0},
             path: SimCam/raw/all/raw/r/20250101/raw_SimCam_5_0_SimCam-r_SimCam%2Fraw%2Fall.fits,
             formatter: "skystack.butler.ingest:FitsFileFormatter", storage_class: RawFits,
             checksum: 0f3c..., file_size: 1234567}

Times are int64 TAI nanoseconds since 1970-01-01 (``null``: unbounded), exactly as the registry
stores them. Regions are the base64 text of ``lsst.sphgeom.Region.encode()``. ``files_root`` is
a folder, relative to the folder of the export file or absolute (the source repository's root
when the export was written without copying files); absolute file paths (files ingested with
``direct``) are used as they are. Nothing in the file is executed or unpickled.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from .dimensions import DimensionElement, DimensionRecord
from .timespan import TIMESPAN_MAX, TIMESPAN_MIN, Timespan

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "ExportFile",
    "ExportFormatError",
    "ExportedCertification",
    "ExportedCollection",
    "ExportedDataset",
    "ExportedDatasetGroup",
    "ExportedDatasetType",
    "ExportedRecords",
    "ExportedUniverse",
    "decode_record",
    "encode_record",
    "find_export_file",
    "read_export",
    "write_export",
]

EXPORT_FORMAT = "skystack-butler-export"
"""Value of the ``format`` key of every export file."""
EXPORT_VERSION = 1
"""Version of the export layout written by this code; files of a newer version are refused."""
_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
DEFAULT_NAMES = ("export.yaml", "export.yml", "export.json")
"""Names looked for when an import is given a folder."""


class ExportFormatError(ValueError):
    """An export file is missing, not an export, malformed, or written by a newer skystack."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExportedUniverse(_Model):
    """Namespace and version of the dimension universe of the exporting repository."""

    namespace: str
    version: int


class ExportedRecords(_Model):
    """The records of one dimension element (field values as encoded by `encode_record`)."""

    element: str
    records: list[dict[str, Any]]


class ExportedDatasetType(_Model):
    """A dataset type definition."""

    name: str
    dimensions: list[str]
    storage_class: str
    is_calibration: bool = False


class ExportedCertification(_Model):
    """One certification of a CALIBRATION collection: a dataset and its validity range (TAI ns)."""

    dataset_id: uuid.UUID
    begin: int | None
    end: int | None

    @property
    def timespan(self) -> Timespan:
        """The validity range."""
        return Timespan.from_nsec(self.begin, self.end)


class ExportedCollection(_Model):
    """A collection with its content: children (CHAINED), members (TAGGED) or certifications."""

    name: str
    type: Literal["RUN", "TAGGED", "CHAINED", "CALIBRATION"]
    doc: str | None = None
    children: list[str] = []
    datasets: list[uuid.UUID] = []
    certifications: list[ExportedCertification] = []


class ExportedDataset(_Model):
    """One dataset: ID, data ID (required dimensions) and its file record."""

    id: uuid.UUID
    data_id: dict[str, int | str]
    path: str
    formatter: str
    storage_class: str
    checksum: str | None = None
    file_size: int


class ExportedDatasetGroup(_Model):
    """The datasets of one dataset type in one run."""

    dataset_type: str
    run: str
    datasets: list[ExportedDataset]


class ExportFile(_Model):
    """The whole export document (see the module docstring)."""

    format: Literal["skystack-butler-export"] = "skystack-butler-export"
    version: int = EXPORT_VERSION
    universe: ExportedUniverse
    files_root: str
    dimension_records: list[ExportedRecords] = []
    dataset_types: list[ExportedDatasetType] = []
    collections: list[ExportedCollection] = []
    datasets: list[ExportedDatasetGroup] = []

    @property
    def n_datasets(self) -> int:
        """Number of datasets listed."""
        return sum(len(g.datasets) for g in self.datasets)


# -- records ------------------------------------------------------------------------------------


def encode_record(record: DimensionRecord) -> dict[str, Any]:
    """A dimension record as JSON/YAML-safe values (timespan as TAI ns pair, region as base64)."""
    values = record.to_dict()
    element = record.element
    if element.temporal:
        span = values.get("timespan")
        values["timespan"] = (
            None
            if span is None
            else [
                None if span.begin_nsec == TIMESPAN_MIN else span.begin_nsec,
                None if span.end_nsec == TIMESPAN_MAX else span.end_nsec,
            ]
        )
    if element.spatial:
        region = values.get("region")
        values["region"] = (
            None if region is None else base64.b64encode(bytes(region.encode())).decode("ascii")
        )
    return values


def decode_record(element: DimensionElement, values: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `encode_record`: field values ready for ``insert_dimension_records``.

    Raises
    ------
    ExportFormatError
        If the timespan or region is not in the encoded form.
    """
    out = dict(values)
    if element.temporal and out.get("timespan") is not None:
        span = out["timespan"]
        if not isinstance(span, list | tuple) or len(span) != 2:
            raise ExportFormatError(
                f"{element.name} record {values}: timespan must be [begin_ns, end_ns] (null: unbounded)"
            )
        out["timespan"] = Timespan.from_nsec(span[0], span[1])
    if element.spatial and out.get("region") is not None:
        from lsst import sphgeom

        try:
            out["region"] = sphgeom.Region.decode(base64.b64decode(out["region"], validate=True))
        except Exception as err:
            raise ExportFormatError(
                f"{element.name} record {values}: region is not a valid encoded region: {err}"
            ) from None
    return out


# -- files --------------------------------------------------------------------------------------


def _kind(path: Path) -> str:
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ExportFormatError(f"export file {path} must end in .yaml, .yml or .json")
    return kind


def write_export(export: ExportFile, path: str | os.PathLike[str]) -> Path:
    """Write an export file (YAML or JSON by its extension) atomically; returns its absolute path."""
    target = Path(path).expanduser().absolute()
    kind = _kind(target)
    data = export.model_dump(mode="json")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as stream:
            if kind == "json":
                json.dump(data, stream, indent=1)
            else:
                import yaml

                dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
                yaml.dump(data, stream, Dumper=dumper, sort_keys=False, default_flow_style=None, width=120)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def find_export_file(source: str | os.PathLike[str]) -> Path:
    """The export file named by ``source``: the file itself, or ``export.yaml``/``.yml``/``.json``
    in a folder.

    Raises
    ------
    ExportFormatError
        If there is no such file.
    """
    path = Path(source).expanduser().absolute()
    if path.is_dir():
        for name in DEFAULT_NAMES:
            if (path / name).is_file():
                return path / name
        raise ExportFormatError(
            f"folder {path} holds no export file ({', '.join(DEFAULT_NAMES)}); name the export file instead"
        )
    if not path.is_file():
        raise ExportFormatError(f"export file {path} does not exist")
    return path


def read_export(source: str | os.PathLike[str]) -> tuple[ExportFile, Path]:
    """Read and validate an export file (or the export file in a folder).

    Returns
    -------
    export : `ExportFile`
    path : `~pathlib.Path`
        The file that was read.

    Raises
    ------
    ExportFormatError
        If the file is missing, not parseable, not an export, of a newer version, or malformed
        (pydantic's description of every problem is included).
    """
    path = find_export_file(source)
    kind = _kind(path)
    text = path.read_text(encoding="utf-8")
    try:
        if kind == "json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except Exception as err:
        raise ExportFormatError(f"cannot parse export file {path}: {err}") from None
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ExportFormatError(f"{path} is not a skystack export file (it needs 'format: {EXPORT_FORMAT}')")
    version = data.get("version")
    if not isinstance(version, int) or version > EXPORT_VERSION or version < 1:
        raise ExportFormatError(
            f"export file {path} has version {version!r}; this skystack reads versions 1 to {EXPORT_VERSION}"
            + (
                "; upgrade skystack to import it"
                if isinstance(version, int) and version > EXPORT_VERSION
                else ""
            )
        )
    try:
        return ExportFile.model_validate(data), path
    except ValidationError as err:
        raise ExportFormatError(f"export file {path} is malformed: {err}") from None
