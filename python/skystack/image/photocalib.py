# SPDX-License-Identifier: GPL-3.0-or-later
"""Photometric calibration: instrumental counts to nJy and AB magnitudes (the afw PhotoCalib role).

The calibration ``c`` is in nJy per instrumental count (``instFlux``):
``flux[nJy] = c * instFlux`` and ``m_AB = -2.5 log10(flux[nJy]) + 31.4``
(``31.4 = 2.5 log10(3631e9)``, the AB zero point expressed in nJy).

Spatial variation follows afw: an optional `~skystack.image.bounded_field.BoundedField` ``field``
gives the *shape* of the calibration over the detector, and the calibration at a position is
``c(x, y) = calibration_mean * field(x, y) / field.mean()``; so ``calibration_mean`` is always the
mean calibration over the field's box. A field that already holds absolute nJy/count values is
used as is by `PhotoCalib.from_field` (then ``c(x, y) == field(x, y)`` exactly). The calibration
error is a single *relative* uncertainty ``calibration_err / calibration_mean``, applied at every
position.

Errors are propagated as in afw: for ``f = c * i``,
``sigma_f = sqrt((c sigma_i)^2 + (i sigma_c)^2)``, which equals afw's
``|f| sqrt((sigma_i / i)^2 + (sigma_c / c)^2)`` and stays finite at ``i = 0``; magnitude errors are
``2.5 / ln(10) * sigma_f / |f|``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ..geom.box import Box2I
from ..utils.persist import dump_persistable, load_persistable, register_persistable
from .bounded_field import BoundedField

__all__ = ["AB_ZERO_POINT_NJY_MAG", "PhotoCalib"]

AB_ZERO_POINT_NJY_MAG: float = 2.5 * math.log10(3631.0e9)
"""AB magnitude of 1 nJy: ``2.5 log10(3631e9) = 31.4000...``."""

_MAG_ERR_FACTOR = 2.5 / math.log(10.0)


def _out(value: np.ndarray) -> Any:
    return float(value) if np.ndim(value) == 0 else value


@register_persistable("PhotoCalib")
class PhotoCalib:
    """Conversion between instrumental fluxes (counts) and calibrated fluxes (nJy) or AB magnitudes.

    Parameters
    ----------
    calibration_mean : `float`
        Mean calibration in nJy per count (must be finite and positive).
    calibration_err : `float`, optional
        1-sigma uncertainty of ``calibration_mean`` in nJy per count (non-negative).
    field : `~skystack.image.bounded_field.BoundedField`, optional
        Shape of the spatial variation; ``c(x, y) = calibration_mean * field(x, y) / field.mean()``.
        Its mean over its box must be non-zero.

    Raises
    ------
    ValueError
        If ``calibration_mean`` is not finite and positive, ``calibration_err`` is negative or not
        finite, or the field's mean is zero.

    Notes
    -----
    Position arguments ``x, y`` of the conversion methods are parent pixel coordinates; they are
    required for a spatially varying calibration and ignored (may be omitted) for a constant one.
    """

    def __init__(
        self, calibration_mean: float, calibration_err: float = 0.0, field: BoundedField | None = None
    ) -> None:
        mean = float(calibration_mean)
        err = float(calibration_err)
        if not (math.isfinite(mean) and mean > 0):
            raise ValueError(
                "PhotoCalib: calibration_mean must be a finite positive number of nJy per count, "
                f"got {mean!r}"
            )
        if not (math.isfinite(err) and err >= 0):
            raise ValueError(f"PhotoCalib: calibration_err must be finite and non-negative, got {err!r}")
        self._mean = mean
        self._err = err
        self._field = field
        self._field_scale = 1.0
        if field is not None:
            if not isinstance(field, BoundedField):
                raise TypeError(f"PhotoCalib: field must be a BoundedField, got {type(field).__qualname__}")
            field_mean = field.mean()
            if not (math.isfinite(field_mean) and field_mean != 0):
                raise ValueError(
                    f"PhotoCalib: the field's mean over its bbox is {field_mean!r}; it must be finite and "
                    "non-zero to set the spatial shape of the calibration"
                )
            self._field_scale = mean / field_mean

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_zero_point(cls, zero_point: float, zero_point_err: float = 0.0) -> PhotoCalib:
        """Build a constant calibration from a zero point.

        Parameters
        ----------
        zero_point : `float`
            AB magnitude of a source of 1 count (``m = zero_point - 2.5 log10(instFlux)``).
        zero_point_err : `float`, optional
            Its uncertainty in magnitudes.

        Returns
        -------
        photo_calib : `PhotoCalib`
            With ``calibration_mean = 10**(-0.4 (zero_point - 31.4))`` nJy/count and
            ``calibration_err = calibration_mean * 0.4 ln(10) * zero_point_err``.
        """
        mean = 10.0 ** (-0.4 * (float(zero_point) - AB_ZERO_POINT_NJY_MAG))
        return cls(mean, mean * float(zero_point_err) / _MAG_ERR_FACTOR)

    @classmethod
    def from_field(cls, field: BoundedField, calibration_err: float = 0.0) -> PhotoCalib:
        """Build a spatially varying calibration whose value at ``(x, y)`` is ``field(x, y)``.

        ``calibration_mean`` becomes ``field.mean()`` (must be positive).
        """
        return cls(field.mean(), calibration_err, field)

    # -- properties ------------------------------------------------------------------------------
    @property
    def calibration_mean(self) -> float:
        """Mean calibration in nJy per count."""
        return self._mean

    @property
    def calibration_err(self) -> float:
        """Uncertainty of the mean calibration in nJy per count."""
        return self._err

    @property
    def field(self) -> BoundedField | None:
        """The spatial shape, or None for a constant calibration."""
        return self._field

    @property
    def bbox(self) -> Box2I | None:
        """The field's box, or None for a constant calibration."""
        return None if self._field is None else self._field.bbox

    @property
    def is_constant(self) -> bool:
        return self._field is None

    # -- calibration at positions ----------------------------------------------------------------
    def calibration(self, x: npt.ArrayLike | None = None, y: npt.ArrayLike | None = None) -> Any:
        """Calibration (nJy per count) at parent pixel positions.

        Raises
        ------
        ValueError
            If the calibration varies spatially and ``x`` or ``y`` is missing.
        """
        if self._field is None:
            if x is None:
                return self._mean
            return _out(np.full(np.broadcast(np.asarray(x), np.asarray(y)).shape, self._mean))
        if x is None or y is None:
            raise ValueError(
                "PhotoCalib: this calibration varies over the detector; pass the pixel position x and y"
            )
        return _out(np.asarray(self._field.evaluate(x, y)) * self._field_scale)

    def _cal_and_relerr(self, x: npt.ArrayLike | None, y: npt.ArrayLike | None) -> tuple[Any, float]:
        return self.calibration(x, y), self._err / self._mean

    # -- counts <-> nJy ------------------------------------------------------------------------
    def instflux_to_njy(
        self, instflux: npt.ArrayLike, x: npt.ArrayLike | None = None, y: npt.ArrayLike | None = None
    ) -> Any:
        """Convert instrumental fluxes (counts) to nJy."""
        return _out(np.asarray(instflux, dtype=float) * self.calibration(x, y))

    def instflux_to_njy_with_error(
        self,
        instflux: npt.ArrayLike,
        instflux_err: npt.ArrayLike,
        x: npt.ArrayLike | None = None,
        y: npt.ArrayLike | None = None,
    ) -> tuple[Any, Any]:
        """Convert instrumental fluxes and their errors to nJy, including the calibration error.

        Returns
        -------
        flux, flux_err : `float` or `numpy.ndarray`
            ``flux = c i`` and ``flux_err = sqrt((c sigma_i)^2 + (i sigma_c)^2)``.
        """
        cal, rel = self._cal_and_relerr(x, y)
        inst = np.asarray(instflux, dtype=float)
        inst_err = np.asarray(instflux_err, dtype=float)
        flux = inst * cal
        err = np.abs(cal) * np.hypot(inst_err, inst * rel)
        return _out(flux), _out(err)

    def njy_to_instflux(
        self, flux: npt.ArrayLike, x: npt.ArrayLike | None = None, y: npt.ArrayLike | None = None
    ) -> Any:
        """Convert nJy to instrumental fluxes (counts)."""
        return _out(np.asarray(flux, dtype=float) / self.calibration(x, y))

    # -- counts <-> magnitudes -------------------------------------------------------------------
    def instflux_to_magnitude(
        self, instflux: npt.ArrayLike, x: npt.ArrayLike | None = None, y: npt.ArrayLike | None = None
    ) -> Any:
        """Convert instrumental fluxes to AB magnitudes (NaN for non-positive fluxes)."""
        flux = np.asarray(instflux, dtype=float) * self.calibration(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = np.where(flux > 0, -2.5 * np.log10(np.where(flux > 0, flux, 1.0)), np.nan)
        return _out(mag + AB_ZERO_POINT_NJY_MAG)

    def instflux_to_magnitude_with_error(
        self,
        instflux: npt.ArrayLike,
        instflux_err: npt.ArrayLike,
        x: npt.ArrayLike | None = None,
        y: npt.ArrayLike | None = None,
    ) -> tuple[Any, Any]:
        """Convert instrumental fluxes and errors to AB magnitudes and magnitude errors.

        Returns
        -------
        mag, mag_err : `float` or `numpy.ndarray`
            ``mag_err = 2.5 / ln(10) * sqrt((sigma_i / i)^2 + (sigma_c / c)^2)``; NaN where the
            flux is not positive.
        """
        flux, flux_err = self.instflux_to_njy_with_error(instflux, instflux_err, x, y)
        flux = np.asarray(flux)
        with np.errstate(divide="ignore", invalid="ignore"):
            mag_err = np.where(flux > 0, _MAG_ERR_FACTOR * np.asarray(flux_err) / flux, np.nan)
        return self.instflux_to_magnitude(instflux, x, y), _out(mag_err)

    def magnitude_to_instflux(
        self, magnitude: npt.ArrayLike, x: npt.ArrayLike | None = None, y: npt.ArrayLike | None = None
    ) -> Any:
        """Convert AB magnitudes to instrumental fluxes (counts)."""
        flux = 10.0 ** (-0.4 * (np.asarray(magnitude, dtype=float) - AB_ZERO_POINT_NJY_MAG))
        return _out(flux / self.calibration(x, y))

    def instflux_zero_point(self) -> float:
        """AB magnitude of a source of 1 count at the mean calibration."""
        return -2.5 * math.log10(self._mean) + AB_ZERO_POINT_NJY_MAG

    def instflux_zero_point_err(self) -> float:
        """Uncertainty (magnitudes) of `instflux_zero_point`."""
        return _MAG_ERR_FACTOR * self._err / self._mean

    # -- images ----------------------------------------------------------------------------------
    def calibration_image(self, bbox: Box2I) -> np.ndarray:
        """Calibration (nJy/count) at every pixel of ``bbox`` as a float64 array of ``bbox.shape``."""
        if self._field is None:
            return np.full(bbox.shape, self._mean)
        image = self._field.make_image(bbox)
        image *= self._field_scale
        return image

    def calibrate_image(
        self,
        array: np.ndarray,
        bbox: Box2I,
        variance: np.ndarray | None = None,
        include_calibration_err: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return new arrays of an image (and its variance) converted to nJy.

        Parameters
        ----------
        array : `numpy.ndarray`
            Pixel values in counts, shape ``bbox.shape``.
        bbox : `~skystack.geom.Box2I`
            Parent pixel box of ``array`` (sets the positions for a varying calibration).
        variance : `numpy.ndarray`, optional
            Variance of ``array`` in counts², same shape.
        include_calibration_err : `bool`, optional
            If True add ``(array * sigma_c)^2`` to the variance (afw's ``includeScaleUncertainty``);
            off by default because that term is correlated between pixels.

        Returns
        -------
        image, variance : `numpy.ndarray`, `numpy.ndarray` or None
            Calibrated image in nJy (dtype of ``array`` if floating, else float64) and variance in
            nJy² (None if no variance was given).

        Raises
        ------
        ValueError
            If the shapes do not match ``bbox``.
        """
        if array.shape != bbox.shape:
            raise ValueError(
                f"PhotoCalib.calibrate_image: array shape {array.shape} does not match bbox shape "
                f"{bbox.shape}"
            )
        if variance is not None and variance.shape != bbox.shape:
            raise ValueError(
                f"PhotoCalib.calibrate_image: variance shape {variance.shape} does not match bbox shape "
                f"{bbox.shape}"
            )
        dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.dtype(np.float64)
        if self._field is None:
            cal: Any = self._mean
        else:
            cal = self.calibration_image(bbox)
        image = np.multiply(array, cal, dtype=dtype)
        out_var = None
        if variance is not None:
            vdtype = variance.dtype if np.issubdtype(variance.dtype, np.floating) else np.dtype(np.float64)
            out_var = np.multiply(variance, np.square(cal), dtype=vdtype)
            if include_calibration_err and self._err > 0:
                rel = self._err / self._mean
                out_var += np.square(image * rel, dtype=vdtype)
        return image, out_var

    # -- persistence and comparison ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "calibration_mean": self._mean,
            "calibration_err": self._err,
            "field": None if self._field is None else dump_persistable(self._field),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhotoCalib:
        field_data = data.get("field")
        field = None if field_data is None else load_persistable(field_data, expected=BoundedField)
        return cls(float(data["calibration_mean"]), float(data["calibration_err"]), field)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PhotoCalib):
            return NotImplemented
        return self._mean == other._mean and self._err == other._err and self._field == other._field

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        kind = "constant" if self._field is None else f"field={self._field!r}"
        return f"PhotoCalib(calibration_mean={self._mean!r}, calibration_err={self._err!r}, {kind})"
