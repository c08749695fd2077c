# SPDX-License-Identifier: GPL-3.0-or-later
"""Conversions between `Exposure` and astropy `~astropy.nddata.NDData` / `~astropy.nddata.CCDData`.

Mapping (Exposure → astropy; the reverse reads the same places):

==================  ==============================================================================
Exposure            NDData / CCDData
==================  ==============================================================================
image array         ``data`` (the same memory)
variance array      ``uncertainty`` = `~astropy.nddata.VarianceUncertainty` (the same memory)
mask                ``mask``: bool array, True where any plane in ``bad_planes`` is set (a new
                    array); CCDData ``flags`` = the integer mask array (the same memory)
mask planes         ``meta["MP_<NAME>"] = bit``
xy0                 ``meta["LTV1"], meta["LTV2"] = -x0, -y0``
wcs                 ``wcs`` = astropy `~astropy.wcs.WCS` whose pixel 0 is the array's first pixel
metadata            the other ``meta`` cards
unit                ``unit``: the ``unit`` argument, else ``metadata["BUNIT"]``, else ``adu``
==================  ==============================================================================

Astropy 0-based pixel coordinates start at the array's first pixel, while skystack's are parent
coordinates: the WCS is shifted by ``xy0`` both ways (``SkyWcs.shifted_pixel_origin``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import (
    CCDData,
    InverseVariance,
    NDData,
    StdDevUncertainty,
    VarianceUncertainty,
)

from .exposure import Exposure
from .image import Image
from .mask import Mask
from .masked_image import MaskedImage

__all__ = ["exposure_from_nddata", "exposure_to_ccddata", "exposure_to_nddata"]

_META_SKIP = {"LTV1", "LTV2"}


def _unit(exposure: Exposure, unit: u.UnitBase | str | None) -> u.UnitBase:
    if unit is None:
        unit = exposure.metadata.get("BUNIT", "adu")
    return u.Unit(unit)


def _meta(exposure: Exposure) -> fits.Header:
    meta = exposure.metadata.copy()
    x0, y0 = exposure.xy0
    meta["LTV1"] = -x0
    meta["LTV2"] = -y0
    for name, bit in exposure.mask.plane_dict.items():
        keyword = f"MP_{name}"
        meta[keyword if len(keyword) <= 8 else f"HIERARCH {keyword}"] = bit
    return meta


def _astropy_wcs(exposure: Exposure) -> Any:
    if exposure.wcs is None:
        return None
    x0, y0 = exposure.xy0
    wcs = exposure.wcs.shifted_pixel_origin(x0, y0) if (x0, y0) != (0, 0) else exposure.wcs
    return wcs.astropy_wcs


def _bool_mask(exposure: Exposure, bad_planes: Iterable[str] | None) -> np.ndarray:
    mask = exposure.mask
    if bad_planes is None:
        return mask.array != 0
    return mask.any_plane(*[name for name in bad_planes if name in mask.plane_dict])


def exposure_to_nddata(
    exposure: Exposure, unit: u.UnitBase | str | None = None, bad_planes: Iterable[str] | None = None
) -> NDData:
    """An `~astropy.nddata.NDData` sharing the exposure's image and variance memory.

    Parameters
    ----------
    exposure : `Exposure`
        The exposure to convert.
    unit : `astropy.units.Unit` or `str`, optional
        Pixel unit; default ``metadata["BUNIT"]`` or ``adu``.
    bad_planes : iterable of `str`, optional
        Planes that make the boolean ``mask`` True (undefined names are ignored); default: any
        bit set.

    Returns
    -------
    nddata : `~astropy.nddata.NDData`
        ``meta`` is a `dict` of the metadata cards (COMMENT/HISTORY as lists of strings), the
        ``MP_*`` and ``LTV*`` cards, and ``"skystack_mask"``: the integer mask (same memory).
    """
    meta: dict[str, Any] = {}
    for card in _meta(exposure).cards:
        if card.keyword in ("COMMENT", "HISTORY", ""):
            meta.setdefault(card.keyword, []).append(str(card.value))
        else:
            meta[card.keyword] = card.value
    result = NDData(
        exposure.image.array,
        uncertainty=VarianceUncertainty(exposure.variance.array, copy=False),
        mask=_bool_mask(exposure, bad_planes),
        wcs=_astropy_wcs(exposure),
        meta=meta,
        unit=_unit(exposure, unit),
        copy=False,
    )
    result.meta["skystack_mask"] = exposure.mask.array
    return result


def exposure_to_ccddata(
    exposure: Exposure, unit: u.UnitBase | str | None = None, bad_planes: Iterable[str] | None = None
) -> CCDData:
    """A `~astropy.nddata.CCDData` sharing the exposure's image, variance and mask memory.

    As `exposure_to_nddata`, but the integer mask is ``flags`` (CCDData's flag array) and the
    metadata is a FITS header, so ``ccd.to_hdu()`` and ``ccd.write()`` work.
    """
    ccd = CCDData(
        exposure.image.array,
        uncertainty=VarianceUncertainty(exposure.variance.array, copy=False),
        mask=_bool_mask(exposure, bad_planes),
        wcs=_astropy_wcs(exposure),
        meta=_meta(exposure),
        unit=_unit(exposure, unit),
        copy=False,
    )
    ccd.flags = exposure.mask.array
    return ccd


def _variance(nddata: NDData, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    unc = nddata.uncertainty
    if unc is None:
        return None
    array = np.asarray(unc.array)
    if array.shape != shape:
        raise ValueError(f"NDData uncertainty has shape {array.shape}, data has {shape}")
    vtype = dtype if dtype.kind == "f" else np.dtype(np.float32)
    if isinstance(unc, VarianceUncertainty):
        return array if array.dtype.kind == "f" else array.astype(vtype)
    if isinstance(unc, StdDevUncertainty):
        return np.square(array, dtype=np.result_type(array.dtype, vtype))
    if isinstance(unc, InverseVariance):
        with np.errstate(divide="ignore"):
            return np.true_divide(1.0, array, dtype=np.result_type(array.dtype, vtype))
    raise TypeError(
        f"Cannot turn a {type(unc).__name__} into a variance; use VarianceUncertainty, "
        "StdDevUncertainty or InverseVariance"
    )


def exposure_from_nddata(nddata: NDData, bad_plane: str = "BAD") -> Exposure:
    """An `Exposure` from an `~astropy.nddata.NDData` or `~astropy.nddata.CCDData`.

    The data array (and a `VarianceUncertainty` array, and an integer ``flags`` array) are
    wrapped without a copy when their dtypes are supported; standard-deviation and inverse
    variance uncertainties are converted. The integer mask comes from ``flags`` (CCDData) or
    ``meta["skystack_mask"]`` with planes from ``MP_*`` meta cards; otherwise a boolean ``mask``
    sets plane ``bad_plane``. ``LTV1/LTV2`` in ``meta`` give ``xy0``; ``wcs`` (an astropy WCS
    with a celestial part) becomes a `~skystack.geom.wcs.SkyWcs` in parent coordinates.

    Raises
    ------
    ValueError
        If the data are not 2-D or array shapes disagree.
    TypeError
        If the uncertainty kind cannot be turned into a variance.
    """
    data = np.asarray(nddata.data)
    if data.ndim != 2:
        raise ValueError(f"Exposure needs 2-D data, got an NDData of shape {data.shape}")
    meta = nddata.meta or {}
    x0, y0 = -int(meta.get("LTV1", 0)), -int(meta.get("LTV2", 0))
    planes = {str(key)[3:]: int(value) for key, value in meta.items() if str(key).upper().startswith("MP_")}
    image = Image(data, (x0, y0))
    flags = getattr(nddata, "flags", None)
    if flags is None:
        flags = meta.get("skystack_mask")
    if flags is not None and np.ndim(flags) == 2 and np.asarray(flags).dtype.kind in "iu":
        mask = Mask(np.asarray(flags), (x0, y0), planes or None)
    else:
        mask = Mask.from_bbox(image.bbox, plane_dict=planes or None)
        if nddata.mask is not None:
            selection = np.broadcast_to(np.asarray(nddata.mask, dtype=bool), data.shape)
            mask.add_plane(bad_plane)
            mask.set_plane(bad_plane, selection)
    variance = _variance(nddata, data.shape, data.dtype)
    masked_image = MaskedImage(image, mask, None if variance is None else Image(variance, (x0, y0)))
    wcs = None
    if nddata.wcs is not None and getattr(nddata.wcs, "has_celestial", False):
        from skystack.geom.wcs import SkyWcs

        wcs = SkyWcs(nddata.wcs)
        if (x0, y0) != (0, 0):
            wcs = wcs.shifted_pixel_origin(-x0, -y0)
    metadata = fits.Header()
    for key, value in meta.items():
        skey = str(key).upper()
        if skey in _META_SKIP or skey.startswith("MP_") or key == "skystack_mask":
            continue
        keyword = key if len(str(key)) <= 8 else f"HIERARCH {key}"
        if isinstance(value, str | int | float | bool):
            metadata[keyword] = value
        elif isinstance(value, list) and skey in ("COMMENT", "HISTORY"):
            for item in value:
                metadata[keyword] = str(item)
    if nddata.unit is not None and "BUNIT" not in metadata:
        metadata["BUNIT"] = nddata.unit.to_string(format="fits")
    return Exposure(masked_image, wcs=wcs, metadata=metadata)
