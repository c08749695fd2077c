# SPDX-License-Identifier: GPL-3.0-or-later
"""What the ISR and calibration-products PipelineTasks read and write, as plain objects.

The Butler-free ``run`` methods of `~skystack.tasks.isr.IsrTask` and the tasks of
`skystack.tasks.cpp` take raw amplifier segments, a detector and numpy calibrations; their
``run_quantum`` methods turn datasets into those with the functions here:

- `instrument_for` / `detector_for`: the instrument named by a data ID (resolved through the
  pipeline layer: entry point, registered name or import path; this layer does not import
  `skystack.instruments`) and one detector of its camera;
- `unpack_raw`: a ``raw`` (`RawFits`, an `astropy.io.fits.HDUList`) → amplifier segments by name,
  `~skystack.image.VisitInfo` (through the instrument's header translator) and the WCS the
  telescope reported;
- `defects_to_boxes` / `boxes_to_defects`: the ``defects`` dataset (``{"bbox": (n, 4) int array of
  [x0, y0, width, height]}``, as `skystack.instruments.calib_registration` writes the curated
  ones) ↔ `~skystack.geom.Box2I` lists; `mask_to_boxes`: a boolean mask → those rows, one box per
  vertical run of flagged pixels in a column (vectorised);
- `crosstalk_matrix` / `linearity_coefficients`: the curated ``crosstalk`` and ``linearizer``
  datasets in the form `IsrTask.run` takes;
- `ref_data_id`: the data ID of a dataset reference (Butler or in-memory) as a dict.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from skystack.algorithms.isr import DetectorLike, IsrInputError
from skystack.geom import Box2I
from skystack.image import VisitInfo

if TYPE_CHECKING:
    from skystack.geom.wcs import SkyWcs

__all__ = [
    "boxes_to_defects",
    "crosstalk_matrix",
    "defects_to_boxes",
    "detector_for",
    "instrument_for",
    "linearity_coefficients",
    "mask_to_boxes",
    "ref_data_id",
    "single_ref",
    "unpack_raw",
]


def ref_data_id(ref: Any) -> dict[str, Any]:
    """The data ID of a `~skystack.butler.DatasetRef` or `~skystack.pipe.InMemoryRef` as a dict."""
    values = getattr(ref, "data_id_dict", None)
    if values is not None:
        return dict(values)
    return dict(ref.data_id)


def single_ref(refs: Any, what: str) -> Any:
    """The one reference of a connection (given alone or as a one-element sequence).

    Raises
    ------
    IsrInputError
        If a sequence does not hold exactly one reference.
    """
    if isinstance(refs, list | tuple):
        if len(refs) != 1:
            raise IsrInputError(f"connection {what!r} needs exactly one dataset, got {len(refs)}")
        return refs[0]
    return refs


@functools.lru_cache(maxsize=8)
def instrument_for(name: str) -> Any:
    """The instrument called ``name`` (an entry point, a registered short name or an import path).

    Raises
    ------
    IsrInputError
        If it cannot be resolved or has no ``camera``.
    """
    from skystack.pipe import InstrumentError, resolve_instrument

    try:
        instrument = resolve_instrument(name)
    except InstrumentError as err:
        raise IsrInputError(f"cannot find the camera of instrument {name!r}: {err}") from None
    if not hasattr(instrument, "camera"):
        raise IsrInputError(
            f"instrument {name!r} ({type(instrument).__name__}) has no 'camera'; ISR needs the "
            "detector geometry of a skystack.instruments.Instrument"
        )
    return instrument


def detector_for(data_id: Mapping[str, Any]) -> DetectorLike:
    """The detector named by a data ID (``instrument`` and ``detector`` keys) from its camera.

    Raises
    ------
    IsrInputError
        If a key is missing, or the instrument or the detector is unknown.
    """
    missing = [k for k in ("instrument", "detector") if k not in data_id]
    if missing:
        raise IsrInputError(
            f"data ID {dict(data_id)} lacks {missing}; ISR needs an instrument and a detector"
        )
    camera = instrument_for(str(data_id["instrument"])).camera
    try:
        return camera.get_detector(int(data_id["detector"]))
    except ValueError as err:
        raise IsrInputError(str(err)) from None


def _visit_info(header: Any, instrument: Any, detector: DetectorLike) -> VisitInfo:
    from astropy.time import Time

    try:
        obs = instrument.get_translator().to_observation_info(header)
    except (AttributeError, ValueError, KeyError) as err:
        # no translator, or a header it cannot read: the exposure keeps what the header says plainly
        exptime = header.get("EXPTIME")
        dark = header.get("DARKTIME", exptime)
        return VisitInfo(
            exposure_time=None if exptime is None else float(exptime),
            dark_time=None if dark is None else float(dark),
            instrument=getattr(instrument, "name", None),
            detector_name=detector.name,
            extra={"translation_error": str(err)[:200]},
        )
    begin = Time(obs.datetime_begin, scale="tai")
    end = Time(obs.datetime_end, scale="tai")
    return VisitInfo(
        exposure_id=obs.exposure_id,
        mjd_tai=float(0.5 * (begin.mjd + end.mjd)),
        exposure_time=obs.exposure_time,
        dark_time=obs.dark_time,
        airmass=max(obs.airmass, 1.0),
        boresight_ra_deg=obs.boresight_ra,
        boresight_dec_deg=obs.boresight_dec,
        boresight_rot_angle_deg=obs.rotation_angle,
        instrument=obs.instrument,
        detector_id=obs.detector_id,
        detector_name=obs.detector_name,
        physical_filter=obs.physical_filter,
        band=obs.band,
        extra={
            "observation_type": obs.observation_type,
            "obs_id": obs.obs_id,
            "group": obs.group,
            "day_obs": obs.day_obs,
            "seq_num": obs.seq_num,
        },
    )


def unpack_raw(
    raw: Any, instrument: Any, detector: DetectorLike
) -> tuple[dict[str, np.ndarray], VisitInfo, SkyWcs | None]:
    """Amplifier segments, visit information and reported WCS of a raw file.

    Parameters
    ----------
    raw : `astropy.io.fits.HDUList`
        The raw as the camera wrote it: a primary header, then one image HDU per amplifier whose
        ``EXTNAME`` is the amplifier's name.
    instrument : any
        The instrument (`instrument_for`); its header translator gives the visit information.
    detector : `DetectorLike`
        The detector the raw belongs to.

    Returns
    -------
    segments : `dict` [`str`, `numpy.ndarray`]
        Raw segments by amplifier name (no copy).
    visit_info : `~skystack.image.VisitInfo`
        Exposure id, mid-exposure TAI MJD, exposure and dark times, pointing, filter ...
    wcs : `~skystack.geom.wcs.SkyWcs` or `None`
        The celestial WCS of the primary header (science exposures), else `None`.

    Raises
    ------
    IsrInputError
        If the file has an HDU without ``EXTNAME`` or lacks an amplifier of the detector.
    """
    from skystack.geom.wcs import SkyWcs

    header = raw[0].header
    segments: dict[str, np.ndarray] = {}
    for hdu in raw[1:]:
        name = hdu.header.get("EXTNAME")
        if name is None:
            raise IsrInputError(f"raw of detector {detector.name}: an amplifier HDU has no EXTNAME")
        segments[str(name)] = hdu.data
    absent = [a.name for a in detector.amplifiers if a.name not in segments]
    if absent:
        raise IsrInputError(
            f"raw of detector {detector.name} lacks amplifier HDU(s) {absent}; it has {sorted(segments)}"
        )
    wcs = SkyWcs.from_fits_header(header) if "CTYPE1" in header else None
    return segments, _visit_info(header, instrument, detector), wcs


def defects_to_boxes(defects: Mapping[str, Any]) -> list[Box2I]:
    """`~skystack.geom.Box2I` boxes of a ``defects`` dataset (``{"bbox": (n, 4) [x0, y0, w, h]}``).

    Raises
    ------
    IsrInputError
        If the mapping has no ``bbox`` entry of shape ``(n, 4)``.
    """
    rows = np.asarray(defects.get("bbox", np.empty((0, 4))) if isinstance(defects, Mapping) else None)
    if rows.ndim != 2 or rows.shape[1] != 4:
        raise IsrInputError(
            f"a defects dataset is {{'bbox': (n, 4) array of [x0, y0, width, height]}}, got {defects!r:.200}"
        )
    return [Box2I(int(x), int(y), int(w), int(h)) for x, y, w, h in rows]


def boxes_to_defects(rows: np.ndarray | Sequence[Box2I]) -> dict[str, np.ndarray]:
    """The ``defects`` dataset of boxes (``(n, 4)`` rows or `~skystack.geom.Box2I`)."""
    if isinstance(rows, np.ndarray):
        return {"bbox": rows.astype(np.int64).reshape(-1, 4)}
    table = [[b.min_x, b.min_y, b.width, b.height] for b in rows]
    return {"bbox": np.asarray(table, dtype=np.int64).reshape(-1, 4)}


def mask_to_boxes(mask: np.ndarray) -> np.ndarray:
    """Boxes covering the flagged pixels of a boolean mask: one per vertical run in a column.

    Returns
    -------
    rows : `numpy.ndarray`
        ``(n, 4)`` int64 ``[x0, y0, width=1, height]``, sorted by column then row.
    """
    m = np.asarray(mask, dtype=bool)
    padded = np.zeros((m.shape[0] + 2, m.shape[1]), dtype=np.int8)
    padded[1:-1] = m
    step = np.diff(padded, axis=0)
    ys, xs = np.nonzero(step == 1)
    ye, xe = np.nonzero(step == -1)
    order_s, order_e = np.lexsort((ys, xs)), np.lexsort((ye, xe))
    x, y0, y1 = xs[order_s], ys[order_s], ye[order_e]
    return np.stack([x, y0, np.ones_like(x), y1 - y0], axis=1).astype(np.int64).reshape(-1, 4)


def crosstalk_matrix(crosstalk: Mapping[str, Any], detector: DetectorLike) -> np.ndarray:
    """The ``crosstalk`` dataset's coefficients in the detector's amplifier order.

    Raises
    ------
    IsrInputError
        If its amplifiers are not the detector's.
    """
    names = list(crosstalk.get("amplifiers", []))
    coeffs = np.asarray(crosstalk.get("coefficients"), dtype=float)
    order = [a.name for a in detector.amplifiers]
    if sorted(names) != sorted(order) or coeffs.shape != (len(names), len(names)):
        raise IsrInputError(
            f"crosstalk dataset of amplifiers {names} (coefficients {coeffs.shape}) does not match "
            f"detector {detector.name}'s amplifiers {order}"
        )
    idx = [names.index(n) for n in order]
    return coeffs[np.ix_(idx, idx)]


def linearity_coefficients(linearizer: Mapping[str, Any], detector: DetectorLike) -> dict[str, list[float]]:
    """The ``linearizer`` dataset (quadratic model) as ``{amplifier: [c2]}`` for `IsrTask.run`.

    Raises
    ------
    IsrInputError
        If the model is not ``quadratic`` or an amplifier of the detector has no coefficient.
    """
    if linearizer.get("model") != "quadratic":
        raise IsrInputError(
            f"linearizer model {linearizer.get('model')!r} is not supported; only 'quadratic' "
            "(measured = true + c2 * true**2 in ADU)"
        )
    coeffs = dict(zip(linearizer.get("amplifiers", []), linearizer.get("c2", []), strict=False))
    absent = [a.name for a in detector.amplifiers if a.name not in coeffs]
    if absent:
        raise IsrInputError(f"linearizer has no coefficient for amplifier(s) {absent} of {detector.name}")
    return {name: [float(c)] for name, c in coeffs.items()}
