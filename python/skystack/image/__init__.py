# SPDX-License-Identifier: GPL-3.0-or-later
"""Image primitives: Image, Mask, MaskedImage, Exposure and their FITS files (the afw image role).

Names are exported lazily (PEP 562): ``import skystack.image`` loads nothing heavy, and
``from skystack.image import Exposure`` imports only the modules that name needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from skystack.utils.persist import register_lazy_persistable

if TYPE_CHECKING:
    from .apcorr import ApCorrMap
    from .background import BackgroundList, BackgroundModel
    from .bounded_field import BoundedField, ChebyshevBoundedField, ConstantBoundedField, ProductBoundedField
    from .exposure import Exposure, Observatory, VisitInfo
    from .fits import (
        FitsError,
        read_exposure,
        read_exposure_component,
        read_image,
        read_masked_image,
        write_exposure,
        write_image,
        write_masked_image,
    )
    from .footprint import PEAK_DTYPE, Footprint, HeavyFootprint, Peak
    from .footprint_set import FootprintSet
    from .image import BoxError, Image, ImageBase
    from .interop import exposure_from_nddata, exposure_to_ccddata, exposure_to_nddata
    from .mask import DEFAULT_MASK_PLANES, Mask, MaskPlaneError, default_plane_dict
    from .masked_image import MaskedImage
    from .photocalib import PhotoCalib
    from .psf import DoubleGaussianPsf, GaussianPsf, MoffatPsf, PixelPsf, Psf, PsfError

# Public name -> submodule that defines it.
_EXPORTS: dict[str, str] = {
    # images, masks, exposures (helper "images")
    "BoxError": "image",
    "Image": "image",
    "ImageBase": "image",
    "DEFAULT_MASK_PLANES": "mask",
    "Mask": "mask",
    "MaskPlaneError": "mask",
    "default_plane_dict": "mask",
    "MaskedImage": "masked_image",
    "Exposure": "exposure",
    "Observatory": "exposure",
    "VisitInfo": "exposure",
    "FitsError": "fits",
    "read_exposure": "fits",
    "read_exposure_component": "fits",
    "read_image": "fits",
    "read_masked_image": "fits",
    "write_exposure": "fits",
    "write_image": "fits",
    "write_masked_image": "fits",
    "exposure_from_nddata": "interop",
    "exposure_to_ccddata": "interop",
    "exposure_to_nddata": "interop",
}

# Calibration models and footprints.
_EXPORTS.update(
    {
        "ApCorrMap": "apcorr",
        "BackgroundList": "background",
        "BackgroundModel": "background",
        "BoundedField": "bounded_field",
        "ChebyshevBoundedField": "bounded_field",
        "ConstantBoundedField": "bounded_field",
        "ProductBoundedField": "bounded_field",
        "PEAK_DTYPE": "footprint",
        "Footprint": "footprint",
        "HeavyFootprint": "footprint",
        "Peak": "footprint",
        "FootprintSet": "footprint_set",
        "PhotoCalib": "photocalib",
        "DoubleGaussianPsf": "psf",
        "GaussianPsf": "psf",
        "MoffatPsf": "psf",
        "PixelPsf": "psf",
        "Psf": "psf",
        "PsfError": "psf",
    }
)

# Stored components (PSF, PhotoCalib, ...) name their class; these let a reader rebuild them
# without importing the defining module first.
for _name in (
    "ApCorrMap",
    "BackgroundList",
    "BackgroundModel",
    "ChebyshevBoundedField",
    "ConstantBoundedField",
    "ProductBoundedField",
    "Footprint",
    "HeavyFootprint",
    "PhotoCalib",
    "DoubleGaussianPsf",
    "GaussianPsf",
    "MoffatPsf",
    "PixelPsf",
):
    register_lazy_persistable(_name, f"skystack.image.{_EXPORTS[_name]}:{_name}")
register_lazy_persistable("VisitInfo", "skystack.image.exposure:VisitInfo")
register_lazy_persistable("Observatory", "skystack.image.exposure:Observatory")

__all__ = [
    "DEFAULT_MASK_PLANES",
    "PEAK_DTYPE",
    "ApCorrMap",
    "BackgroundList",
    "BackgroundModel",
    "BoundedField",
    "BoxError",
    "ChebyshevBoundedField",
    "ConstantBoundedField",
    "DoubleGaussianPsf",
    "Exposure",
    "FitsError",
    "Footprint",
    "FootprintSet",
    "GaussianPsf",
    "HeavyFootprint",
    "Image",
    "ImageBase",
    "Mask",
    "MaskPlaneError",
    "MaskedImage",
    "MoffatPsf",
    "Observatory",
    "Peak",
    "PhotoCalib",
    "PixelPsf",
    "ProductBoundedField",
    "Psf",
    "PsfError",
    "VisitInfo",
    "default_plane_dict",
    "exposure_from_nddata",
    "exposure_to_ccddata",
    "exposure_to_nddata",
    "read_exposure",
    "read_exposure_component",
    "read_image",
    "read_masked_image",
    "write_exposure",
    "write_image",
    "write_masked_image",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'skystack.image' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
