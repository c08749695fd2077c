# SPDX-License-Identifier: GPL-3.0-or-later
"""Circular single and double Gaussian PSFs (the afw ``GaussianPsf`` / ``DoubleGaussianPsf`` roles).

Profiles (normalised to unit integral over the plane):

- Gaussian: ``G(r; s) = exp(-r² / 2s²) / (2 pi s²)``; moments ``ixx = iyy = s²``,
  FWHM ``2 sqrt(2 ln 2) s``, aperture fraction ``1 - exp(-r² / 2s²)``.
- Double Gaussian (afw): ``f(r) ∝ exp(-r² / 2s1²) + b exp(-r² / 2s2²)``, ``b`` being the ratio of the
  second component's amplitude to the first's *at the centre*; the flux weights are
  ``w1 = s1² / (s1² + b s2²)`` and ``w2 = b s2² / (s1² + b s2²)``.

Images are point-sampled at pixel centres (see `skystack.image.psf.base`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import brentq

from ...utils.persist import register_persistable
from .base import AnalyticPsf, PsfError

__all__ = ["DoubleGaussianPsf", "GaussianPsf"]


def _check_sigma(value: float, name: str, owner: str) -> float:
    s = float(value)
    if not (math.isfinite(s) and s > 0):
        raise PsfError(f"{owner}: {name} must be a finite positive width in pixels, got {value!r}")
    return s


def _default_size(sigma: float) -> int:
    """Odd stamp size covering at least +-5 sigma."""
    return 2 * math.ceil(5.0 * sigma) + 1


@register_persistable("GaussianPsf")
class GaussianPsf(AnalyticPsf):
    """A circular Gaussian PSF, constant over the detector.

    Parameters
    ----------
    sigma : `float`
        Gaussian width in pixels (``> 0``).
    size : `int`, optional
        Odd side length of the kernel image; default ``2 ceil(5 sigma) + 1``.

    Raises
    ------
    PsfError
        If ``sigma`` is not positive or ``size`` is not an odd integer >= 3.
    """

    def __init__(self, sigma: float, size: int | None = None) -> None:
        self._sigma = _check_sigma(sigma, "sigma", "GaussianPsf")
        self._size = self._check_size(_default_size(self._sigma) if size is None else size, "GaussianPsf")

    @property
    def sigma(self) -> float:
        return self._sigma

    def _stamp(self, x: float, y: float, dx: float, dy: float) -> np.ndarray:
        u, v = self._grid(self._size, dx, dy)
        k = -0.5 / (self._sigma * self._sigma)
        return np.exp(k * v * v) * np.exp(k * u * u)

    def compute_shape(self, x: float | None = None, y: float | None = None) -> tuple[float, float, float]:
        self._position(x, y)
        s2 = self._sigma * self._sigma
        return (s2, s2, 0.0)

    def fwhm(self, x: float | None = None, y: float | None = None) -> float:
        self._position(x, y)
        return self._fwhm_from_sigma(self._sigma)

    def compute_aperture_flux(self, radius: float, x: float | None = None, y: float | None = None) -> float:
        self._position(x, y)
        r = self._check_radius(radius)
        return float(-math.expm1(-0.5 * r * r / (self._sigma * self._sigma)))

    def to_dict(self) -> dict[str, Any]:
        return {"sigma": self._sigma, "size": self._size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GaussianPsf:
        return cls(float(data["sigma"]), int(data["size"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GaussianPsf):
            return NotImplemented
        return self._sigma == other._sigma and self._size == other._size

    def __repr__(self) -> str:
        return f"GaussianPsf(sigma={self._sigma!r}, size={self._size})"


@register_persistable("DoubleGaussianPsf")
class DoubleGaussianPsf(AnalyticPsf):
    """Sum of two concentric circular Gaussians, constant over the detector (afw semantics).

    Parameters
    ----------
    sigma1 : `float`
        Width of the first (usually core) Gaussian in pixels.
    sigma2 : `float`
        Width of the second (usually wing) Gaussian in pixels.
    b : `float`
        Amplitude of the second Gaussian relative to the first at the centre (``>= 0``).
    size : `int`, optional
        Odd side length of the kernel image; default ``2 ceil(5 max(sigma1, sigma2)) + 1``.

    Raises
    ------
    PsfError
        If a width is not positive, ``b`` is negative, or ``size`` is not an odd integer >= 3.
    """

    def __init__(self, sigma1: float, sigma2: float, b: float, size: int | None = None) -> None:
        self._sigma1 = _check_sigma(sigma1, "sigma1", "DoubleGaussianPsf")
        self._sigma2 = _check_sigma(sigma2, "sigma2", "DoubleGaussianPsf")
        bf = float(b)
        if not (math.isfinite(bf) and bf >= 0):
            raise PsfError(f"DoubleGaussianPsf: b (central amplitude ratio) must be >= 0, got {b!r}")
        self._b = bf
        default = _default_size(max(self._sigma1, self._sigma2))
        self._size = self._check_size(default if size is None else size, "DoubleGaussianPsf")

    @property
    def sigma1(self) -> float:
        return self._sigma1

    @property
    def sigma2(self) -> float:
        return self._sigma2

    @property
    def b(self) -> float:
        return self._b

    @property
    def weights(self) -> tuple[float, float]:
        """Fractions of the total flux in the first and second Gaussian."""
        f1 = self._sigma1**2
        f2 = self._b * self._sigma2**2
        return f1 / (f1 + f2), f2 / (f1 + f2)

    def _stamp(self, x: float, y: float, dx: float, dy: float) -> np.ndarray:
        u, v = self._grid(self._size, dx, dy)
        k1 = -0.5 / self._sigma1**2
        k2 = -0.5 / self._sigma2**2
        stamp = np.exp(k1 * v * v) * np.exp(k1 * u * u)
        if self._b > 0:
            stamp += self._b * (np.exp(k2 * v * v) * np.exp(k2 * u * u))
        return stamp

    def compute_shape(self, x: float | None = None, y: float | None = None) -> tuple[float, float, float]:
        self._position(x, y)
        w1, w2 = self.weights
        moment = w1 * self._sigma1**2 + w2 * self._sigma2**2
        return (moment, moment, 0.0)

    def _profile_ratio(self, r: float) -> float:
        """Profile at radius ``r`` divided by its central value."""
        return (
            math.exp(-0.5 * r * r / self._sigma1**2) + self._b * math.exp(-0.5 * r * r / self._sigma2**2)
        ) / (1.0 + self._b)

    def fwhm(self, x: float | None = None, y: float | None = None) -> float:
        """FWHM in pixels, solved numerically from the profile (``f(r) = f(0) / 2``)."""
        self._position(x, y)
        upper = self._fwhm_from_sigma(max(self._sigma1, self._sigma2))
        half_radius = brentq(lambda r: self._profile_ratio(r) - 0.5, 0.0, upper, xtol=1e-12, rtol=1e-14)
        return 2.0 * float(half_radius)

    def compute_aperture_flux(self, radius: float, x: float | None = None, y: float | None = None) -> float:
        self._position(x, y)
        r = self._check_radius(radius)
        w1, w2 = self.weights
        return float(
            -w1 * math.expm1(-0.5 * r * r / self._sigma1**2) - w2 * math.expm1(-0.5 * r * r / self._sigma2**2)
        )

    def to_dict(self) -> dict[str, Any]:
        return {"sigma1": self._sigma1, "sigma2": self._sigma2, "b": self._b, "size": self._size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DoubleGaussianPsf:
        return cls(float(data["sigma1"]), float(data["sigma2"]), float(data["b"]), int(data["size"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DoubleGaussianPsf):
            return NotImplemented
        return (self._sigma1, self._sigma2, self._b, self._size) == (
            other._sigma1,
            other._sigma2,
            other._b,
            other._size,
        )

    def __repr__(self) -> str:
        return (
            f"DoubleGaussianPsf(sigma1={self._sigma1!r}, sigma2={self._sigma2!r}, b={self._b!r}, "
            f"size={self._size})"
        )
