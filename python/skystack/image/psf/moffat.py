# SPDX-License-Identifier: GPL-3.0-or-later
"""Circular Moffat PSF.

Profile (unit integral over the plane, ``beta > 1``):
``M(r) = (beta - 1) / (pi alpha²) * (1 + r² / alpha²)^(-beta)``.

- FWHM: ``2 alpha sqrt(2^(1/beta) - 1)``;
- flux inside radius ``r``: ``1 - (1 + r² / alpha²)^(1 - beta)``;
- second moments (finite only for ``beta > 2``): ``ixx = iyy = alpha² / (2 (beta - 2))``.

These are properties of the untruncated profile; kernel images are point-sampled on a finite
stamp and normalised to sum 1, so moments measured on them are smaller (the wings beyond the
stamp are missing) — use a stamp many FWHM wide when comparing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...utils.persist import register_persistable
from .base import AnalyticPsf, PsfError

__all__ = ["MoffatPsf"]


@register_persistable("MoffatPsf")
class MoffatPsf(AnalyticPsf):
    """A circular Moffat PSF, constant over the detector.

    Parameters
    ----------
    alpha : `float`
        Core width (scale radius) in pixels (``> 0``).
    beta : `float`
        Power-law index (``> 1``; atmospheric seeing is typically 2.5–4.765).
    size : `int`, optional
        Odd side length of the kernel image; default the odd size covering ±3 FWHM.

    Raises
    ------
    PsfError
        If ``alpha <= 0``, ``beta <= 1`` or ``size`` is not an odd integer >= 3.
    """

    def __init__(self, alpha: float, beta: float, size: int | None = None) -> None:
        a = float(alpha)
        b = float(beta)
        if not (math.isfinite(a) and a > 0):
            raise PsfError(f"MoffatPsf: alpha must be a finite positive width in pixels, got {alpha!r}")
        if not (math.isfinite(b) and b > 1):
            raise PsfError(f"MoffatPsf: beta must be > 1 for a normalisable profile, got {beta!r}")
        self._alpha = a
        self._beta = b
        default = 2 * math.ceil(3.0 * self._fwhm()) + 1
        self._size = self._check_size(default if size is None else size, "MoffatPsf")

    @classmethod
    def from_fwhm(cls, fwhm: float, beta: float, size: int | None = None) -> MoffatPsf:
        """Build from the FWHM (pixels) and ``beta``: ``alpha = fwhm / (2 sqrt(2^(1/beta) - 1))``."""
        b = float(beta)
        if not b > 1:
            raise PsfError(f"MoffatPsf: beta must be > 1 for a normalisable profile, got {beta!r}")
        return cls(float(fwhm) / (2.0 * math.sqrt(2.0 ** (1.0 / b) - 1.0)), b, size)

    @property
    def alpha(self) -> float:
        return self._alpha

    @property
    def beta(self) -> float:
        return self._beta

    def _stamp(self, x: float, y: float, dx: float, dy: float) -> np.ndarray:
        u, v = self._grid(self._size, dx, dy)
        inv_a2 = 1.0 / (self._alpha * self._alpha)
        return (1.0 + (u * u + v * v) * inv_a2) ** (-self._beta)

    def compute_shape(self, x: float | None = None, y: float | None = None) -> tuple[float, float, float]:
        """Second moments of the untruncated profile.

        Raises
        ------
        PsfError
            If ``beta <= 2`` (the moments diverge).
        """
        self._position(x, y)
        if self._beta <= 2:
            raise PsfError(
                f"MoffatPsf: second moments diverge for beta <= 2 (beta={self._beta}); "
                "measure moments on compute_kernel_image() instead"
            )
        moment = self._alpha**2 / (2.0 * (self._beta - 2.0))
        return (moment, moment, 0.0)

    def _fwhm(self) -> float:
        return 2.0 * self._alpha * math.sqrt(2.0 ** (1.0 / self._beta) - 1.0)

    def fwhm(self, x: float | None = None, y: float | None = None) -> float:
        self._position(x, y)
        return self._fwhm()

    def compute_aperture_flux(self, radius: float, x: float | None = None, y: float | None = None) -> float:
        self._position(x, y)
        r = self._check_radius(radius)
        return float(-math.expm1((1.0 - self._beta) * math.log1p((r / self._alpha) ** 2)))

    def to_dict(self) -> dict[str, Any]:
        return {"alpha": self._alpha, "beta": self._beta, "size": self._size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MoffatPsf:
        return cls(float(data["alpha"]), float(data["beta"]), int(data["size"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MoffatPsf):
            return NotImplemented
        return (self._alpha, self._beta, self._size) == (other._alpha, other._beta, other._size)

    def __repr__(self) -> str:
        return f"MoffatPsf(alpha={self._alpha!r}, beta={self._beta!r}, size={self._size})"
