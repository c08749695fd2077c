# SPDX-License-Identifier: GPL-3.0-or-later
"""Calibrations in a Butler repository: an instrument's curated calibrations and certification.

`write_curated_calibrations` stores each detector's ``defects``, ``crosstalk`` and ``linearizer``
(from the camera description, `Instrument.curated_calibrations`) as ``StructuredDataDict``
datasets with dimensions ``(instrument, detector)`` and certifies them in a CALIBRATION
collection with an unbounded validity range. `certify_calibrations` certifies the datasets of one
type found in a RUN into a CALIBRATION collection for a validity range (``butler
certify-calibrations``). Both are idempotent.

Stored contents (numpy arrays kept by the JSON formatter):

- ``defects``: ``{"bbox": (n, 4) int array of [x0, y0, width, height]}``;
- ``crosstalk``: ``{"amplifiers": [names], "coefficients": (n_amp, n_amp) array}``, with
  ``victim[i] += coefficients[i, j] * source[j]`` in ADU;
- ``linearizer``: ``{"model": "quadratic", "amplifiers": [names], "c2": [coefficients]}``, with
  ``measured = true + c2 * true**2`` in ADU above bias.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from astropy.time import Time

from skystack.butler import CollectionType, DatasetRef, DatasetType, Timespan

from .base import Instrument

if TYPE_CHECKING:
    from skystack.butler import Butler

__all__ = [
    "CURATED_DATASET_TYPES",
    "certify_calibrations",
    "curated_calibration_collection",
    "write_curated_calibrations",
]

CURATED_DATASET_TYPES = ("defects", "crosstalk", "linearizer")


def curated_calibration_collection(instrument_name: str) -> str:
    """The default CALIBRATION collection of an instrument, ``<instrument>/calib``."""
    return f"{instrument_name}/calib"


def _curated_contents(instrument: Instrument, detector_id: int) -> dict[str, dict[str, Any]]:
    calibs = instrument.curated_calibrations(detector_id)
    det = instrument.camera.get_detector(detector_id)
    names = [a.name for a in det.amplifiers]
    boxes = np.array([[b.min_x, b.min_y, b.width, b.height] for b in calibs["defects"]], dtype=np.int64)
    return {
        "defects": {"bbox": boxes.reshape(-1, 4)},
        "crosstalk": {"amplifiers": names, "coefficients": np.asarray(calibs["crosstalk"], dtype=float)},
        "linearizer": {
            "model": "quadratic",
            "amplifiers": names,
            "c2": [float(calibs["linearity"][n]) for n in names],
        },
    }


def write_curated_calibrations(
    butler: Butler,
    instrument: Instrument,
    *,
    collection: str | None = None,
    run: str | None = None,
) -> list[DatasetRef]:
    """Store and certify an instrument's curated calibrations (valid at all times).

    Parameters
    ----------
    butler : `Butler`
        A writeable Butler in which the instrument is registered.
    instrument : `Instrument`
        The instrument.
    collection : `str`, optional
        CALIBRATION collection (default ``<instrument>/calib``); created if needed.
    run : `str`, optional
        RUN holding the datasets (default ``<instrument>/calib/curated``).

    Returns
    -------
    refs : `list` [`DatasetRef`]
        The ``defects``, ``crosstalk`` and ``linearizer`` datasets of every detector (those
        already written by an earlier call are returned, not written again).

    Raises
    ------
    DataIdError
        If the instrument's detectors are not registered (`register_instrument` first).
    """
    butler._check_writeable("write curated calibrations")
    registry = butler.registry
    name = instrument.name
    collection = collection or curated_calibration_collection(name)
    run = run or f"{name}/calib/curated"
    registry.register_run(run)
    registry.register_collection(collection, CollectionType.CALIBRATION)
    types = {
        t: DatasetType(t, ("instrument", "detector"), "StructuredDataDict", is_calibration=True)
        for t in CURATED_DATASET_TYPES
    }
    for dtype in types.values():
        registry.register_dataset_type(dtype)
    unbounded = Timespan(None, None)
    refs: list[DatasetRef] = []
    for det in instrument.camera.detectors:
        data_id = {"instrument": name, "detector": det.id}
        for kind, content in _curated_contents(instrument, det.id).items():
            ref = registry.find_dataset(types[kind], data_id, collections=[run])
            if ref is None:
                ref = butler.put(content, types[kind], data_id, run=run)
            if (
                registry.find_dataset(types[kind], data_id, collections=[collection], timespan=unbounded)
                is None
            ):
                registry.certify(collection, [ref], unbounded)
            refs.append(ref)
    return refs


def _time(value: str | Time | None, what: str) -> Time | None:
    if value is None or isinstance(value, Time):
        return value
    try:
        return Time(value, scale="tai")
    except ValueError:
        raise ValueError(
            f"{what} {value!r} is not an ISO date or date-time (e.g. 2025-01-01T00:00:00)"
        ) from None


def certify_calibrations(
    butler: Butler,
    input_run: str,
    collection: str,
    dataset_type: str,
    *,
    begin: str | Time | None = None,
    end: str | Time | None = None,
) -> list[DatasetRef]:
    """Certify every dataset of a calibration type in a RUN into a CALIBRATION collection.

    Parameters
    ----------
    butler : `Butler`
        A writeable Butler.
    input_run : `str`
        The RUN holding the calibrations.
    collection : `str`
        The CALIBRATION collection (created if needed).
    dataset_type : `str`
        A registered calibration dataset type (``is_calibration``).
    begin, end : `str` or `~astropy.time.Time`, optional
        Validity range ``[begin, end)`` (TAI ISO strings); `None` is unbounded.

    Returns
    -------
    refs : `list` [`DatasetRef`]
        The certified datasets (already certified ones over the same range included).

    Raises
    ------
    ValueError
        If a date cannot be parsed, or the run holds no dataset of that type.
    DatasetTypeError
        If the dataset type is not a calibration type.
    ConflictingDefinitionError
        If another dataset of the same data ID is valid during part of the range.
    """
    butler._check_writeable("certify calibrations")
    registry = butler.registry
    span = Timespan(_time(begin, "begin date"), _time(end, "end date"))
    dtype = registry.get_dataset_type(dataset_type)
    refs = registry.query_datasets_simple(dtype, [input_run])
    if not refs:
        raise ValueError(f"run {input_run!r} holds no {dataset_type!r} datasets to certify")
    registry.register_collection(collection, CollectionType.CALIBRATION)
    todo = []
    for ref in refs:
        found = registry.find_dataset(dtype, ref.data_id.required, collections=[collection], timespan=span)
        if found is None or found.id != ref.id:
            todo.append(ref)
    if todo:
        registry.certify(collection, todo, span)
    return refs
