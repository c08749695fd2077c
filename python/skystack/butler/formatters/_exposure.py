# SPDX-License-Identifier: GPL-3.0-or-later
"""FITS formatters for `Exposure`, `MaskedImage`, `Image` and FITS headers.

Exposure components are read without reading pixels (`read_exposure_component` reads only the
headers and the one binary-table extension needed); ``image``, ``variance`` and
``masked_image`` read only the pixel planes (and only the rows of ``bbox`` when given).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ._base import Formatter

__all__ = ["ExposureFormatter", "HeaderFormatter", "ImageFormatter", "MaskedImageFormatter"]

_HEADER_COMPONENTS = {"wcs", "psf", "photo_calib", "visit_info", "ap_corr_map", "bbox", "metadata"}
_HEADER_COMPONENTS.add("mask_plane_dict")


def _bbox(parameters: Mapping[str, Any] | None) -> Any:
    if not parameters or parameters.get("bbox") is None:
        return None
    from skystack.geom import Box2I

    bbox = parameters["bbox"]
    if not isinstance(bbox, Box2I):
        raise TypeError(f"read parameter 'bbox' must be a skystack.geom.Box2I, got {type(bbox).__name__}")
    return bbox


class ExposureFormatter(Formatter):
    """`Exposure` ↔ multi-extension FITS (`skystack.image.write_exposure` layout)."""

    extension: ClassVar[str] = ".fits"

    def write(self, obj: Any, path: Path) -> None:
        from skystack.image.fits import write_exposure

        write_exposure(path, obj)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        from skystack.image.fits import read_exposure

        return read_exposure(path, bbox=_bbox(parameters))

    def read_component(self, path: Path, component: str, parameters: Mapping[str, Any] | None = None) -> Any:
        from skystack.image.fits import read_exposure_component, read_masked_image

        if component in _HEADER_COMPONENTS:
            return read_exposure_component(path, component)
        masked_image = read_masked_image(path, bbox=_bbox(parameters))
        return masked_image if component == "masked_image" else getattr(masked_image, component)


class MaskedImageFormatter(Formatter):
    """`MaskedImage` ↔ FITS (IMAGE, MASK, VARIANCE extensions)."""

    extension: ClassVar[str] = ".fits"

    def write(self, obj: Any, path: Path) -> None:
        from skystack.image.fits import write_masked_image

        write_masked_image(path, obj)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        from skystack.image.fits import read_masked_image

        return read_masked_image(path, bbox=_bbox(parameters))


class ImageFormatter(Formatter):
    """`Image` ↔ FITS (one IMAGE extension)."""

    extension: ClassVar[str] = ".fits"

    def write(self, obj: Any, path: Path) -> None:
        from skystack.image.fits import write_image

        write_image(path, obj)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        from skystack.image.fits import read_image

        return read_image(path, bbox=_bbox(parameters))


class HeaderFormatter(Formatter):
    """`astropy.io.fits.Header` ↔ a FITS file with only a primary header."""

    extension: ClassVar[str] = ".fits"

    def write(self, obj: Any, path: Path) -> None:
        from astropy.io import fits

        fits.PrimaryHDU(header=obj).writeto(path, overwrite=True)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        from astropy.io import fits

        header = fits.getheader(path)
        for key in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND"):
            header.remove(key, ignore_missing=True)
        return header
