# SPDX-License-Identifier: GPL-3.0-or-later
"""The `Psf` interface shared by every point-spread-function model.

Conventions
-----------
- Positions are parent pixel coordinates, 0-based, pixel centres at integers.
- Every model describes the *effective* PSF (optics, atmosphere and pixel response together), as
  PSFEx and the Rubin stack do. Images are therefore the profile **sampled at pixel centres** (not
  integrated again over pixels), then normalised to sum 1. The second moments of such an image
  equal the moments of the profile to better than ``exp(-2 pi^2 sigma^2)`` for well-sampled PSFs
  (``sigma >~ 1`` pixel).
- `Psf.compute_kernel_image` puts the PSF centre on the central pixel of an odd square stamp;
  `Psf.compute_image` puts it at the requested sub-pixel position, on the parent pixel grid.
- `Psf.compute_shape` returns the second moments ``(ixx, iyy, ixy)`` of the profile in pixels²;
  `Psf.compute_aperture_flux` the fraction of the total flux inside a circular aperture.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np

from ...geom.box import Box2I, Extent2I

__all__ = ["AnalyticPsf", "Psf", "PsfError", "measure_adaptive_moments", "measure_moments", "sinc_matrix"]

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


class PsfError(ValueError):
    """Raised for invalid PSF parameters or PSF evaluation requests."""


def sinc_matrix(positions: np.ndarray, n_samples: int, center: float, step: float = 1.0) -> np.ndarray:
    """Band-limited (periodic sinc) interpolation weights from a regular grid to arbitrary positions.

    The weights are the Dirichlet kernel ``sin(pi t) / (N sin(pi t / N))`` of an odd number ``N``
    of samples: exact interpolation of a band-limited signal sampled over one period, which is
    what a PSF stamp whose wings vanish at its edges is. Unlike a windowed (Lanczos) kernel it
    shifts centroids and preserves second moments exactly for well-sampled PSFs.

    Parameters
    ----------
    positions : `numpy.ndarray`
        1-D output positions, in the units of ``step``, relative to the grid's centre sample.
    n_samples : `int`
        Number of input samples (odd); sample ``k`` sits at ``(k - center) * step``.
    center : `float`
        Index of the input sample at position 0.
    step : `float`
        Spacing of the input samples.

    Returns
    -------
    weights : `numpy.ndarray`
        ``(len(positions), n_samples)`` matrix; ``weights @ samples`` interpolates. Rows of
        positions outside the sampled interval (by more than half a step) are zero.

    Raises
    ------
    PsfError
        If ``n_samples`` is even.
    """
    if n_samples % 2 == 0:
        raise PsfError(f"sinc_matrix needs an odd number of samples, got {n_samples}")
    u = np.asarray(positions, dtype=float) / step
    t = u[:, None] - (np.arange(n_samples)[None, :] - center)
    numerator = np.sin(np.pi * t)
    denominator = n_samples * np.sin(np.pi * t / n_samples)
    near = np.abs(denominator) < 1e-12
    weights = np.divide(numerator, denominator, out=np.ones_like(t), where=~near)
    lower, upper = -center - 0.5, n_samples - 1 - center + 0.5
    weights[(u < lower) | (u > upper)] = 0.0
    return weights


def measure_moments(image: np.ndarray) -> tuple[float, float, float, float, float]:
    """Unweighted centroid and second moments of a stamp about its centroid.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D stamp; pixel ``[j, i]`` is at ``(x, y) = (i, j)``.

    Returns
    -------
    xc, yc, ixx, iyy, ixy : `float`
        Centroid (in stamp pixel indices) and central second moments in pixels².

    Raises
    ------
    PsfError
        If the stamp's total is not positive.
    """
    total = float(image.sum())
    if not total > 0:
        raise PsfError(f"Cannot measure moments of a stamp whose sum is {total!r}")
    ny, nx = image.shape
    xs = np.arange(nx, dtype=float)
    ys = np.arange(ny, dtype=float)
    col = image.sum(axis=0)
    row = image.sum(axis=1)
    xc = float(col @ xs) / total
    yc = float(row @ ys) / total
    dx = xs - xc
    dy = ys - yc
    ixx = float(col @ (dx * dx)) / total
    iyy = float(row @ (dy * dy)) / total
    ixy = float(dy @ image @ dx) / total
    return xc, yc, ixx, iyy, ixy


def measure_adaptive_moments(
    image: np.ndarray, max_iter: int = 50, tol: float = 1e-6
) -> tuple[float, float, float, float, float]:
    """Adaptive (elliptical-Gaussian-weighted) centroid and second moments of a stamp.

    The weight is an elliptical Gaussian whose covariance ``M`` is iterated to the fixed point
    ``M = 2 Q``, ``Q`` being the weighted second moments (the SDSS/HSM convention): for a Gaussian
    profile ``M`` is its covariance exactly, and for profiles with extended wings (Moffat, a
    pixel model with noise in its outskirts) it measures the core, as unweighted moments do not.

    Returns
    -------
    xc, yc, ixx, iyy, ixy : `float`
        Centroid (stamp pixel indices) and adaptive moments in pixels².

    Raises
    ------
    PsfError
        If the stamp's total is not positive or the iteration diverges.
    """
    xc, yc, ixx, iyy, _ = measure_moments(image)
    ny, nx = image.shape
    ys, xs = np.mgrid[0:ny, 0:nx].astype(float)
    m = (
        np.array([[2.0, 0.0], [0.0, 2.0]])
        if not (ixx > 0 and iyy > 0)
        else np.diag([min(ixx, 4.0), min(iyy, 4.0)])
    )
    for _ in range(max_iter):
        det = m[0, 0] * m[1, 1] - m[0, 1] ** 2
        if not det > 0:
            raise PsfError("adaptive moments diverged (non-positive weight determinant)")
        inv = np.array([[m[1, 1], -m[0, 1]], [-m[0, 1], m[0, 0]]]) / det
        dx, dy = xs - xc, ys - yc
        w = image * np.exp(-0.5 * (inv[0, 0] * dx * dx + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy * dy))
        total = float(w.sum())
        if not total > 0:
            raise PsfError(f"adaptive moments: weighted sum {total!r} is not positive")
        xc += float((w * dx).sum()) / total
        yc += float((w * dy).sum()) / total
        dx, dy = xs - xc, ys - yc
        q = (
            np.array(
                [
                    [float((w * dx * dx).sum()), float((w * dx * dy).sum())],
                    [float((w * dx * dy).sum()), float((w * dy * dy).sum())],
                ]
            )
            / total
        )
        new = 2.0 * q
        if np.max(np.abs(new - m)) < tol * max(float(np.trace(m)), 1e-12):
            m = new
            break
        m = new
    return xc, yc, float(m[0, 0]), float(m[1, 1]), float(m[0, 1])


def _check_position(x: float, y: float) -> tuple[float, float]:
    xf, yf = float(x), float(y)
    if not (math.isfinite(xf) and math.isfinite(yf)):
        raise PsfError(f"PSF position must be finite, got ({x!r}, {y!r})")
    return xf, yf


class Psf(abc.ABC):
    """Abstract point-spread function: images, moments, FWHM and aperture fluxes at positions.

    Subclasses implement `_stamp` (the unnormalised profile on an odd square grid with the centre
    offset by a sub-pixel amount), `compute_shape`, `fwhm`, `compute_aperture_flux`,
    `kernel_size`, `to_dict`/`from_dict` and `__eq__`. Positions ``x, y`` default to
    `average_position` (the only meaningful choice for spatially constant models).
    """

    # -- to implement ----------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def kernel_size(self) -> int:
        """Side length (odd, pixels) of the images returned by `compute_kernel_image`."""

    @property
    @abc.abstractmethod
    def is_spatially_varying(self) -> bool:
        """Whether the PSF changes with position."""

    @abc.abstractmethod
    def _stamp(self, x: float, y: float, dx: float, dy: float) -> np.ndarray:
        """Unnormalised PSF at position ``(x, y)`` on a ``kernel_size`` square grid.

        The PSF centre is at ``(c + dx, c + dy)`` in stamp indices, ``c = kernel_size // 2``,
        with ``|dx|, |dy| <= 0.5``.
        """

    @abc.abstractmethod
    def compute_shape(self, x: float | None = None, y: float | None = None) -> tuple[float, float, float]:
        """Second moments ``(ixx, iyy, ixy)`` in pixels² of the PSF at ``(x, y)``."""

    @abc.abstractmethod
    def fwhm(self, x: float | None = None, y: float | None = None) -> float:
        """Full width at half maximum in pixels of the PSF at ``(x, y)``."""

    @abc.abstractmethod
    def compute_aperture_flux(self, radius: float, x: float | None = None, y: float | None = None) -> float:
        """Fraction of the PSF's total flux inside a circle of ``radius`` pixels centred on it."""

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible representation (see `skystack.utils.persist`)."""

    @abc.abstractmethod
    def __eq__(self, other: object) -> bool: ...

    __hash__ = None  # type: ignore[assignment]

    # -- common API ------------------------------------------------------------------------------
    @property
    def average_position(self) -> tuple[float, float]:
        """Default position used when ``x, y`` are omitted."""
        return (0.0, 0.0)

    @property
    def dimensions(self) -> Extent2I:
        """Width and height of the kernel image."""
        return Extent2I(self.kernel_size, self.kernel_size)

    def _position(self, x: float | None, y: float | None) -> tuple[float, float]:
        if x is None and y is None:
            return self.average_position
        if x is None or y is None:
            raise PsfError("Give both x and y, or neither (to use the average position)")
        return _check_position(x, y)

    def compute_kernel_image(self, x: float | None = None, y: float | None = None) -> np.ndarray:
        """The PSF at ``(x, y)`` centred on the central pixel of an odd square stamp.

        Returns
        -------
        image : `numpy.ndarray`
            float64 array of shape ``(kernel_size, kernel_size)`` summing to 1; the PSF centre is
            at index ``[kernel_size // 2, kernel_size // 2]``.
        """
        xf, yf = self._position(x, y)
        return self._normalised(self._stamp(xf, yf, 0.0, 0.0))

    def compute_image(self, x: float | None = None, y: float | None = None) -> tuple[np.ndarray, Box2I]:
        """The PSF centred at the sub-pixel position ``(x, y)`` on the parent pixel grid.

        Returns
        -------
        image : `numpy.ndarray`
            float64 ``(kernel_size, kernel_size)`` array summing to 1.
        bbox : `~skystack.geom.Box2I`
            Where ``image`` lies in parent pixels: centred on the pixel nearest to ``(x, y)``.
        """
        xf, yf = self._position(x, y)
        ix = math.floor(xf + 0.5)
        iy = math.floor(yf + 0.5)
        half = self.kernel_size // 2
        image = self._normalised(self._stamp(xf, yf, xf - ix, yf - iy))
        return image, Box2I(ix - half, iy - half, self.kernel_size, self.kernel_size)

    def determinant_radius(self, x: float | None = None, y: float | None = None) -> float:
        """``(ixx iyy - ixy²)^(1/4)`` in pixels (sigma for a circular Gaussian)."""
        ixx, iyy, ixy = self.compute_shape(x, y)
        return float((ixx * iyy - ixy * ixy) ** 0.25)

    @staticmethod
    def _normalised(stamp: np.ndarray) -> np.ndarray:
        total = float(stamp.sum())
        if not (math.isfinite(total) and total > 0):
            raise PsfError(f"PSF image sums to {total!r}; cannot normalise it (is the model valid here?)")
        stamp /= total
        return stamp

    @staticmethod
    def _check_size(size: int, owner: str) -> int:
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 3 or size % 2 == 0:
            raise PsfError(f"{owner}: size must be an odd integer >= 3 (pixels), got {size!r}")
        return int(size)

    @staticmethod
    def _check_radius(radius: float) -> float:
        r = float(radius)
        if not (math.isfinite(r) and r >= 0):
            raise PsfError(f"Aperture radius must be finite and non-negative (pixels), got {radius!r}")
        return r

    @staticmethod
    def _grid(size: int, dx: float, dy: float) -> tuple[np.ndarray, np.ndarray]:
        """Offsets ``(u, v)`` of pixel centres from the PSF centre along x (row) and y (column)."""
        offsets = np.arange(size, dtype=float) - size // 2
        return offsets - dx, (offsets - dy)[:, None]

    @staticmethod
    def _fwhm_from_sigma(sigma: float) -> float:
        return _FWHM_PER_SIGMA * sigma


class AnalyticPsf(Psf):
    """Base of the analytic, spatially constant PSF models: a profile on a square stamp.

    Subclasses set ``self._size`` (odd stamp side in pixels) in their constructor.
    """

    _size: int

    @property
    def kernel_size(self) -> int:
        return self._size

    @property
    def is_spatially_varying(self) -> bool:
        return False
