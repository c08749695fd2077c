# SPDX-License-Identifier: GPL-3.0-or-later
"""Put an instrument and its raw frames into a Butler repository (the obs_base ingest role).

- `register_instrument`: the ``instrument``, ``physical_filter`` and ``detector`` records.
- `ingest_raws`: translate raw headers (in a process pool with ``processes > 1``), insert the
  ``exposure`` records and ingest each file as a ``raw`` dataset (storage class ``RawFits``)
  with a deterministic dataset ID, so that ingesting again is a no-op. A file that cannot be
  read or translated is reported by name while the others are ingested.
- `define_visits`: group the science exposures into visits (one or two snaps sharing a
  ``group``) and record each visit's region and its per-detector regions, computed from the
  raw headers' WCS over the detector's pixel box, padded for the telescope's pointing error.

All three are idempotent.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from astropy.io import fits
from astropy.time import Time
from lsst import sphgeom

from skystack.butler import (
    ConflictingDefinitionError,
    DataIdError,
    DatasetRef,
    DatasetType,
    RegistryError,
    Timespan,
)
from skystack.butler.datastore import DatastoreError
from skystack.butler.ingest import ingest_files
from skystack.geom import Box2D

from .base import CameraError, Instrument
from .generic import GenericInstrument, find_image_hdu
from .simcam import get_simcam
from .translator import ObservationInfo, TranslationError

if TYPE_CHECKING:
    from skystack.butler import Butler

__all__ = [
    "RAW_DIMENSIONS",
    "RawIngestResult",
    "default_raw_run",
    "define_visits",
    "expand_raw_paths",
    "ingest_raws",
    "instrument_class_name",
    "load_instrument",
    "load_registered_instrument",
    "raw_dataset_type",
    "register_instrument",
]

_log = logging.getLogger(__name__)

RAW_DIMENSIONS = ("instrument", "exposure", "detector")
_ID_MAX = 2**53
_RAW_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fit.gz", ".fits.fz")
_BATCH = 200


def raw_dataset_type() -> DatasetType:
    """The ``raw`` dataset type: ``(instrument, exposure, detector)``, storage class ``RawFits``."""
    return DatasetType("raw", RAW_DIMENSIONS, "RawFits")


def default_raw_run(instrument_name: str) -> str:
    """The default RUN of an instrument's raws, ``<instrument>/raw/all`` (as in Rubin repos)."""
    return f"{instrument_name}/raw/all"


# -- instruments ---------------------------------------------------------------------------------


def instrument_class_name(instrument: Instrument) -> str:
    """``"module:Class"`` of an instrument object (stored in its ``instrument`` record)."""
    cls = type(instrument)
    return f"{cls.__module__}:{cls.__qualname__}"


def load_instrument(spec: str) -> Instrument:
    """An instrument from a SimCam name (``SimCam``, ``SimCamTiny``, ``SimCamBench``) or an import path.

    Parameters
    ----------
    spec : `str`
        A SimCam name, or ``"package.module:Class"`` / ``"package.module.Class"`` of an
        `Instrument` subclass constructible without arguments.

    Raises
    ------
    ValueError
        If the name is unknown, the class cannot be imported or is not an `Instrument`.
    """
    if ":" not in spec and "." not in spec:
        return get_simcam(spec)
    module_name, sep, attr = spec.partition(":")
    if not sep:
        module_name, _, attr = spec.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot import instrument class {spec!r}: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Instrument)):
        raise ValueError(f"{spec!r} is not an Instrument subclass")
    if issubclass(cls, GenericInstrument):
        raise ValueError(
            f"{spec!r} is built from a frame: use GenericInstrument.from_fits(path) and register that"
        )
    return cls()


def load_registered_instrument(butler: Butler, name: str) -> Instrument | None:
    """The instrument registered as ``name``, or `None` for a generic (frame-built) one.

    Raises
    ------
    LookupError
        If no instrument of that name is registered (the registered ones are listed).
    """
    records = butler.registry.fetch_dimension_records("instrument", instrument=name)
    if not records:
        known = [r.name for r in butler.registry.fetch_dimension_records("instrument")]
        raise LookupError(
            f"instrument {name!r} is not registered in {butler.root} (registered: {known or 'none'}); "
            "run `butler register-instrument` first"
        )
    class_name = records[0].class_name
    if class_name == f"{GenericInstrument.__module__}:{GenericInstrument.__qualname__}":
        return None
    return load_instrument(class_name)


def register_instrument(butler: Butler, instrument: Instrument, *, update: bool = False) -> bool:
    """Insert the ``instrument``, ``physical_filter`` and ``detector`` records of an instrument.

    Parameters
    ----------
    butler : `Butler`
        A writeable Butler.
    instrument : `Instrument`
        The instrument (its camera gives the detectors and filters).
    update : `bool`, optional
        Replace differing existing records instead of raising.

    Returns
    -------
    changed : `bool`
        Whether any record was inserted or updated (`False` when all were already there).

    Raises
    ------
    ConflictingDefinitionError
        If the repository holds different records for this instrument (the differing fields
        are named) and ``update`` is false.
    """
    butler._check_writeable("register an instrument")
    registry = butler.registry
    camera = instrument.camera
    record = {
        "name": instrument.name,
        "visit_max": _ID_MAX,
        "exposure_max": _ID_MAX,
        "detector_max": max(d.id for d in camera.detectors) + 1,
        "class_name": instrument_class_name(instrument),
    }
    with registry.transaction():
        changed = registry.sync_dimension_record("instrument", record, update=update)
        for flt in camera.filters:
            rec: dict[str, Any] = {
                "instrument": instrument.name,
                "name": flt.physical_filter,
                "band": flt.band,
            }
            changed |= registry.sync_dimension_record("physical_filter", rec, update=update)
        for det in camera.detectors:
            rec = {
                "instrument": instrument.name,
                "id": det.id,
                "full_name": det.name,
                "purpose": "SCIENCE",
                "raft": det.name[:3] if len(det.name) > 3 else "",
            }
            changed |= registry.sync_dimension_record("detector", rec, update=update)
    return changed


# -- raws ------------------------------------------------------------------------------------------


@dataclass
class RawIngestResult:
    """What `ingest_raws` did.

    Attributes
    ----------
    refs : `list` [`DatasetRef`]
        The ``raw`` datasets of the files that are in the repository now (new or already there).
    n_ingested : `int`
        Files ingested by this call.
    n_skipped : `int`
        Files whose dataset already had its file (re-ingest).
    failures : `dict` [`str`, `str`]
        File path → why it was not ingested.
    """

    refs: list[DatasetRef] = field(default_factory=list)
    n_ingested: int = 0
    n_skipped: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every file is in the repository."""
        return not self.failures


def expand_raw_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, and the FITS files (``*.fits``, ``*.fits.gz``, ``*.fit`` ...) in given folders."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(sorted(f for f in path.iterdir() if f.name.lower().endswith(_RAW_SUFFIXES)))
        else:
            out.append(path)
    return out


@lru_cache(maxsize=16)
def _cached_instrument(class_name: str) -> Instrument:
    return load_instrument(class_name)


def _translate(path: str, candidates: Mapping[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    """Read and translate one raw header (runs in worker processes).

    Returns ``(info, None)`` with the `ObservationInfo` fields, or ``(None, message)``.
    """
    try:
        header = fits.getheader(path, 0)
    except FileNotFoundError:
        return None, "no such file"
    except (OSError, ValueError, TypeError, IndexError) as err:
        return None, f"not a readable FITS file ({err})"
    try:
        name = str(header.get("INSTRUME", "")).strip()
        if name not in candidates:
            if len(candidates) != 1:
                return None, (
                    f"INSTRUME={name!r} is not a registered instrument ({sorted(candidates)}); "
                    "register it or pass the instrument explicitly"
                )
            name = next(iter(candidates))
        class_name = candidates[name]
        instrument: Instrument
        if class_name.endswith(":GenericInstrument"):
            instrument = GenericInstrument.from_fits(path, name=name)
            with fits.open(path) as hdus:
                index, _ = find_image_hdu(hdus, path)
                image_header = hdus[index].header.copy()
            for key, value in header.items():
                if key not in image_header and key not in ("SIMPLE", "EXTEND", "NAXIS", "BITPIX"):
                    image_header[key] = value
            header = image_header
        else:
            instrument = _cached_instrument(class_name)
        translator = instrument.get_translator()
        info = translator.to_observation_info(header, path)
    except (TranslationError, CameraError, OSError, ValueError, KeyError) as err:
        return None, str(err)
    if info.instrument != name:
        return None, f"header names instrument {info.instrument!r}, registered as {name!r}"
    return info.to_dict(), None


def _exposure_record(info: ObservationInfo) -> dict[str, Any]:
    """The ``exposure`` dimension record of a translated header."""
    airmass = float(info.airmass)
    zenith = math.degrees(math.acos(1.0 / airmass)) if math.isfinite(airmass) and airmass >= 1.0 else None
    return {
        "instrument": info.instrument,
        "id": info.exposure_id,
        "physical_filter": info.physical_filter,
        "obs_id": info.obs_id,
        "exposure_time": info.exposure_time,
        "dark_time": info.dark_time,
        "observation_type": info.observation_type,
        "zenith_angle": zenith,
        "airmass": airmass if math.isfinite(airmass) else None,
        "tracking_ra": info.boresight_ra,
        "tracking_dec": info.boresight_dec,
        "sky_angle": info.rotation_angle,
        "day_obs": info.day_obs,
        "seq_num": info.seq_num,
        "group": info.group,
        "timespan": Timespan(Time(info.datetime_begin, scale="tai"), Time(info.datetime_end, scale="tai")),
    }


def ingest_raws(
    butler: Butler,
    files: Iterable[str | os.PathLike[str]],
    *,
    run: str | None = None,
    transfer: str = "copy",
    processes: int = 1,
    instrument: str | None = None,
) -> RawIngestResult:
    """Ingest raw files as ``raw`` datasets, with their ``exposure`` records.

    Parameters
    ----------
    butler : `Butler`
        A writeable Butler whose registry knows the instrument(s) (`register_instrument`).
    files : iterable of path-like
        Raw files, or folders whose FITS files are all ingested.
    run : `str`, optional
        RUN collection (default `default_raw_run` of each file's instrument).
    transfer : `str`, optional
        ``copy``, ``link``, ``symlink``, ``move`` or ``direct`` (see
        `~skystack.butler.datastore.FileDatastore.stage_ingest`).
    processes : `int`, optional
        Header-reading processes (1: in this process).
    instrument : `str`, optional
        Treat every file as this registered instrument's (default: by the ``INSTRUME`` header
        keyword, or the only registered instrument).

    Returns
    -------
    result : `RawIngestResult`
        Refs of the files now in the repository and, per failed file, why. A bad file does not
        stop the others.

    Raises
    ------
    LookupError
        If no instrument (or not ``instrument``) is registered.
    """
    butler._check_writeable("ingest raws")
    registry = butler.registry
    registered = {r.name: r.class_name for r in registry.fetch_dimension_records("instrument")}
    if instrument is not None:
        if instrument not in registered:
            raise LookupError(
                f"instrument {instrument!r} is not registered (registered: {sorted(registered) or 'none'}); "
                "run `butler register-instrument` first"
            )
        registered = {instrument: registered[instrument]}
    if not registered:
        raise LookupError(f"no instrument is registered in {butler.root}; run `butler register-instrument`")
    paths = [str(p) for p in expand_raw_paths(files)]
    result = RawIngestResult()
    if processes > 1 and len(paths) > 1:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            translated = list(pool.map(_translate, paths, [registered] * len(paths), chunksize=8))
    else:
        translated = [_translate(p, registered) for p in paths]
    infos: dict[str, ObservationInfo] = {}
    for path, (fields, error) in zip(paths, translated, strict=True):
        if error is not None or fields is None:
            result.failures[path] = error or "untranslatable header"
        else:
            infos[path] = ObservationInfo(**fields)
    _insert_exposures(butler, infos, result)
    by_key: dict[tuple[str, int, int], str] = {}
    groups: dict[str, list[tuple[dict[str, Any], str]]] = defaultdict(list)
    for path, info in infos.items():
        key = (info.instrument, info.exposure_id, info.detector_id)
        if key in by_key:
            result.failures[path] = f"same exposure {key[1]} and detector {key[2]} as {by_key[key]}"
            continue
        by_key[key] = path
        data_id = {"instrument": key[0], "exposure": key[1], "detector": key[2]}
        groups[run or default_raw_run(info.instrument)].append((data_id, path))
    dtype = raw_dataset_type()
    for target, entries in groups.items():
        for start in range(0, len(entries), _BATCH):
            _ingest_batch(butler, dtype, entries[start : start + _BATCH], target, transfer, result)
    if result.failures:
        _log.warning("%d raw file(s) were not ingested", len(result.failures))
    return result


def _insert_exposures(butler: Butler, infos: dict[str, ObservationInfo], result: RawIngestResult) -> None:
    registry = butler.registry
    by_exposure: dict[tuple[str, int], list[str]] = defaultdict(list)
    for path, info in infos.items():
        by_exposure[(info.instrument, info.exposure_id)].append(path)
    for key, paths in by_exposure.items():
        records = [_exposure_record(infos[p]) for p in paths]
        first = infos[paths[0]]
        error = None
        if any(r != records[0] for r in records[1:]):
            error = f"its header disagrees with the other files of exposure {key[1]} ({paths[0]})"
        else:
            try:
                with registry.transaction(savepoint=True):
                    flt = {"instrument": key[0], "name": first.physical_filter, "band": first.band}
                    registry.sync_dimension_record("physical_filter", flt)
                    registry.sync_dimension_record("exposure", records[0])
            except (ConflictingDefinitionError, DataIdError, ValueError, TypeError) as err:
                error = f"cannot record exposure {key[1]}: {err}"
        if error is not None:
            for p in paths:
                result.failures[p] = error
                del infos[p]


def _ingest_batch(
    butler: Butler,
    dtype: DatasetType,
    entries: Sequence[tuple[dict[str, Any], str]],
    run: str,
    transfer: str,
    result: RawIngestResult,
) -> None:
    errors = (DatastoreError, ConflictingDefinitionError, DataIdError, RegistryError, OSError)
    try:
        done = ingest_files(butler, dtype, entries, run, transfer=transfer)
    except errors:
        if len(entries) == 1:
            raise
        for entry in entries:  # isolate the bad file(s)
            try:
                _ingest_batch(butler, dtype, [entry], run, transfer, result)
            except errors as err:
                result.failures[entry[1]] = str(err)
        return
    result.refs.extend(done.refs)
    result.n_ingested += len(done.ingested)
    result.n_skipped += len(done.skipped)


# -- visits ----------------------------------------------------------------------------------------


def _padded_region(wcs: Any, box: Box2D, padding: float) -> sphgeom.ConvexPolygon:
    grown = box.grown(padding) if padding > 0 else box
    return wcs.pixel_region(grown, points_per_side=4)


def _detector_regions(
    butler: Butler, refs: Sequence[DatasetRef], instrument: Instrument | None, padding: float
) -> dict[int, sphgeom.ConvexPolygon]:
    from skystack.geom import SkyWcs

    regions: dict[int, sphgeom.ConvexPolygon] = {}
    infos = butler.datastore.get_records([r.id for r in refs])
    for ref in refs:
        path = butler.datastore.path_of(infos[ref.id])
        detector = int(ref.data_id["detector"])
        with fits.open(path) as hdus:
            if instrument is None:
                index, wcs = find_image_hdu(hdus, str(path))
                ny, nx = hdus[index].shape
                box = Box2D(-0.5, -0.5, nx - 0.5, ny - 0.5)
            else:
                wcs = SkyWcs.from_fits_header(hdus[0].header)
                bbox = instrument.camera.get_detector(detector).bbox
                box = bbox.to_box2d()
        regions[detector] = _padded_region(wcs, box, padding)
    return regions


def define_visits(
    butler: Butler,
    instrument: str,
    *,
    collections: str | Sequence[str] | None = None,
    where: str = "",
    bind: Mapping[str, Any] | None = None,
    padding: float = 50.0,
) -> int:
    """Group science exposures into visits and record their regions.

    Exposures sharing a ``group`` form one visit (one or two snaps) whose id is the smallest
    exposure id. Each visit gets a ``visit`` record (physical filter, summed exposure time,
    ``day_obs``, the union timespan, a region), ``visit_definition`` rows and one
    ``visit_detector_region`` per detector with a raw: the sky polygon of the detector's pixel
    box, grown by ``padding`` pixels, through the WCS in the first snap's raw header.

    Parameters
    ----------
    butler : `Butler`
        A writeable Butler.
    instrument : `str`
        A registered instrument.
    collections : `str` or sequence, optional
        Where the raws are (default `default_raw_run`).
    where : `str`, optional
        An extra query expression on the exposures (``"exposure.day_obs = 20250101"``).
    bind : mapping, optional
        Bind values for ``where``.
    padding : `float`, optional
        Pixels added around each detector so that the region holds the true footprint despite
        the error of the telescope-reported WCS.

    Returns
    -------
    n_visits : `int`
        The number of visits defined (already defined ones included).

    Raises
    ------
    LookupError
        If the instrument is not registered.
    ConflictingDefinitionError
        If a visit exists with a different definition.
    """
    butler._check_writeable("define visits")
    registry = butler.registry
    camera_instrument = load_registered_instrument(butler, instrument)
    search = collections or default_raw_run(instrument)
    expression = "exposure.observation_type = 'science'" + (f" AND ({where})" if where else "")
    exposures = registry.query_dimension_records(
        "exposure", where=expression, bind=bind, data_id={"instrument": instrument}
    )
    groups: dict[str, list[Any]] = defaultdict(list)
    for rec in exposures:
        groups[str(rec.group)].append(rec)
    visits, definitions, detector_regions = [], [], []
    for group, recs in sorted(groups.items()):
        recs.sort(key=lambda r: r.id)
        first = recs[0]
        filters = {r.physical_filter for r in recs}
        if len(filters) != 1:
            raise ConflictingDefinitionError(
                f"exposures {[r.id for r in recs]} of group {group!r} have different filters "
                f"{sorted(filters)}"
            )
        refs = butler.query_datasets(
            "raw", collections=search, data_id={"instrument": instrument, "exposure": first.id}
        )
        if not refs:
            _log.warning("exposure %s has no raw in %s; its visit is not defined", first.id, search)
            continue
        regions = _detector_regions(butler, refs, camera_instrument, padding)
        vertices = [v for region in regions.values() for v in region.getVertices()]
        begin = min(r.timespan.begin_nsec for r in recs)
        end = max(r.timespan.end_nsec for r in recs)
        visits.append(
            {
                "instrument": instrument,
                "id": first.id,
                "physical_filter": first.physical_filter,
                "name": group,
                "exposure_time": float(sum(r.exposure_time for r in recs)),
                "day_obs": first.day_obs,
                "timespan": Timespan.from_nsec(begin, end),
                "region": sphgeom.ConvexPolygon.convexHull(vertices),
            }
        )
        definitions += [{"instrument": instrument, "exposure": r.id, "visit": first.id} for r in recs]
        detector_regions += [
            {"instrument": instrument, "visit": first.id, "detector": det, "region": region}
            for det, region in sorted(regions.items())
        ]
    with registry.transaction():
        for visit in visits:
            registry.sync_dimension_record("visit", visit)
        registry.insert_dimension_records("visit_definition", definitions, skip_existing=True)
        registry.insert_dimension_records("visit_detector_region", detector_regions, skip_existing=True)
    return len(visits)
