# SPDX-License-Identifier: GPL-3.0-or-later
"""A pixelised, spatially varying PSF (the PSFEx / afw ``PsfexPsf`` role).

The PSF at a detector position is a weighted sum of basis images whose weights are monomials of
the scaled position, exactly as PSFEx models it::

    P(x, y) = sum_k  X^nx_k  Y^ny_k  B_k,      X = (x - x_zero) / x_scale,  Y = (y - y_zero) / y_scale,

with the PSFEx term order (``ny`` outer, ``nx`` inner, ``nx + ny <= degree``):
``1, X, X², …, Y, XY, …, Y^degree``. The basis images ``B_k`` are sampled on a grid of step
``sampling`` image pixels (``< 1`` for oversampled models), with the PSF centre on the central
sample. Images on the native pixel grid — centred, or shifted by a sub-pixel amount — are made by
separable band-limited (periodic sinc) interpolation, `skystack.image.psf.base.sinc_matrix`. PSFEx
itself uses Lanczos-3, whose window biases centroids by ~0.02 px for a sigma = 2 px PSF; the sinc
shift is exact for PSFs that are well sampled and vanish at the stamp edges.

Positions follow skystack's convention (0-based, pixel centres at integers);
`PixelPsf.from_psfex` converts PSFEx's 1-based ``POLZERO`` accordingly.

Moments, FWHM and aperture fluxes are measured on the model's images: `PixelPsf.compute_shape`
gives the unweighted second moments of the kernel image, `PixelPsf.fwhm` the diameter of the circle
with the area of the region above half the peak (on an 8× sinc-upsampled image, each sub-sample
counted by the fraction of it above half the peak, from the local gradient: ~0.1 % accuracy), and
`PixelPsf.compute_aperture_flux` sums that upsampled image inside the aperture (edge sub-samples
weighted by the fraction of their width inside the circle).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import numpy.typing as npt

from ...geom.box import Box2I
from ...utils.persist import decode_array, encode_array, register_persistable
from .base import Psf, PsfError, measure_adaptive_moments, sinc_matrix

__all__ = ["PixelPsf", "polynomial_terms"]

_UPSAMPLE = 8


def _decoded(value: Any) -> np.ndarray:
    """An array stored by `encode_array`, or already decoded by `loads_json`."""
    return value if isinstance(value, np.ndarray) else decode_array(value)


def _n_terms(degree: int) -> int:
    return (degree + 1) * (degree + 2) // 2


def _exponents(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Exponents ``(nx, ny)`` of the PSFEx term order for a 2-variable polynomial."""
    nx = [i for j in range(degree + 1) for i in range(degree + 1 - j)]
    ny = [j for j in range(degree + 1) for _ in range(degree + 1 - j)]
    return np.array(nx), np.array(ny)


def polynomial_terms(scaled_x: npt.ArrayLike, scaled_y: npt.ArrayLike, degree: int) -> np.ndarray:
    """Monomials of scaled positions in PSFEx term order.

    Parameters
    ----------
    scaled_x, scaled_y : array_like
        1-D arrays of scaled coordinates.
    degree : `int`
        Total polynomial degree.

    Returns
    -------
    terms : `numpy.ndarray`
        ``(n_points, (degree + 1)(degree + 2) / 2)`` array of ``X^nx Y^ny``.
    """
    nx, ny = _exponents(degree)
    xs = np.atleast_1d(np.asarray(scaled_x, dtype=float))[:, None]
    ys = np.atleast_1d(np.asarray(scaled_y, dtype=float))[:, None]
    return xs**nx * ys**ny


@register_persistable("PixelPsf")
class PixelPsf(Psf):
    """Pixel basis images whose weights vary over the detector as a polynomial of position.

    Parameters
    ----------
    basis : array_like
        ``(n_terms, height, width)`` basis images, odd ``height`` and ``width``, in PSFEx term
        order; ``n_terms`` must equal ``(degree + 1)(degree + 2) / 2``.
    degree : `int`
        Total degree of the spatial polynomial (0 for a constant PSF).
    bbox : `~skystack.geom.Box2I`, optional
        Detector box the model applies to. When ``poly_zero``/``poly_scale`` are not given they
        default to its centre and its width/height.
    poly_zero : `tuple` [`float`, `float`], optional
        ``(x_zero, y_zero)`` in 0-based parent pixels.
    poly_scale : `tuple` [`float`, `float`], optional
        ``(x_scale, y_scale)`` in pixels (non-zero).
    sampling : `float`, optional
        Step of the basis grid in image pixels (PSFEx ``PSF_SAMP``); default 1.
    size : `int`, optional
        Odd side of the native-pixel kernel image; default the largest odd integer not above
        ``width * sampling``.

    Raises
    ------
    PsfError
        On inconsistent shapes, even basis sizes, a non-positive sampling, or a spatially varying
        model given neither ``bbox`` nor ``poly_zero`` and ``poly_scale``.
    """

    def __init__(
        self,
        basis: npt.ArrayLike,
        degree: int,
        bbox: Box2I | None = None,
        poly_zero: tuple[float, float] | None = None,
        poly_scale: tuple[float, float] | None = None,
        sampling: float = 1.0,
        size: int | None = None,
    ) -> None:
        arr = np.array(basis, dtype=np.float64)
        if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 0:
            raise PsfError(f"PixelPsf: degree must be a non-negative integer, got {degree!r}")
        degree = int(degree)
        if arr.ndim != 3 or arr.shape[0] != _n_terms(degree):
            raise PsfError(
                f"PixelPsf: basis must have shape (n_terms, height, width) with n_terms = "
                f"{_n_terms(degree)} for degree {degree}, got {arr.shape}"
            )
        if arr.shape[1] % 2 == 0 or arr.shape[2] % 2 == 0:
            raise PsfError(
                f"PixelPsf: basis images must have odd sizes (centre on a sample), got {arr.shape[1:]}"
            )
        if not np.all(np.isfinite(arr)):
            raise PsfError("PixelPsf: basis images must be finite")
        samp = float(sampling)
        if not (math.isfinite(samp) and samp > 0):
            raise PsfError(f"PixelPsf: sampling must be a positive step in image pixels, got {sampling!r}")
        if poly_zero is None or poly_scale is None:
            if bbox is None:
                if degree > 0:
                    raise PsfError(
                        "PixelPsf: a spatially varying model needs bbox, or both poly_zero and poly_scale"
                    )
                poly_zero, poly_scale = (0.0, 0.0), (1.0, 1.0)
            else:
                center = bbox.center
                poly_zero = (center.x, center.y) if poly_zero is None else poly_zero
                poly_scale = (float(bbox.width), float(bbox.height)) if poly_scale is None else poly_scale
        zero = (float(poly_zero[0]), float(poly_zero[1]))
        scale = (float(poly_scale[0]), float(poly_scale[1]))
        if not all(math.isfinite(v) for v in (*zero, *scale)) or scale[0] == 0 or scale[1] == 0:
            raise PsfError(
                f"PixelPsf: poly_zero {zero} must be finite and poly_scale {scale} finite, non-zero"
            )
        if size is None:
            size = int(min(arr.shape[1], arr.shape[2]) * samp)
            size = size - 1 if size % 2 == 0 else size
        arr.setflags(write=False)
        self._basis = arr
        self._degree = degree
        self._bbox = bbox
        self._zero = zero
        self._scale = scale
        self._sampling = samp
        self._size = self._check_size(size, "PixelPsf")

    # -- properties ------------------------------------------------------------------------------
    @property
    def basis(self) -> np.ndarray:
        """The (read-only) basis images, ``(n_terms, height, width)``."""
        return self._basis

    @property
    def degree(self) -> int:
        return self._degree

    @property
    def bbox(self) -> Box2I | None:
        return self._bbox

    @property
    def poly_zero(self) -> tuple[float, float]:
        return self._zero

    @property
    def poly_scale(self) -> tuple[float, float]:
        return self._scale

    @property
    def sampling(self) -> float:
        return self._sampling

    @property
    def kernel_size(self) -> int:
        return self._size

    @property
    def is_spatially_varying(self) -> bool:
        return self._degree > 0 and bool(np.any(self._basis[1:] != 0))

    @property
    def average_position(self) -> tuple[float, float]:
        return self._zero

    # -- evaluation ------------------------------------------------------------------------------
    def basis_image(self, x: float | None = None, y: float | None = None) -> np.ndarray:
        """The model on its own (basis) grid at ``(x, y)``, unnormalised."""
        xf, yf = self._position(x, y)
        terms = polynomial_terms(
            (xf - self._zero[0]) / self._scale[0], (yf - self._zero[1]) / self._scale[1], self._degree
        )[0]
        return np.tensordot(terms, self._basis, axes=1)

    def _resample(self, image: np.ndarray, dx: float, dy: float, n_out: int, step: float) -> np.ndarray:
        """Sample ``image`` at output points ``(k - n_out // 2) * step - d`` (image pixels)."""
        offsets = (np.arange(n_out) - n_out // 2) * step
        ny, nx = image.shape
        wx = sinc_matrix(offsets - dx, nx, nx // 2, self._sampling)
        wy = sinc_matrix(offsets - dy, ny, ny // 2, self._sampling)
        return (wy @ image) @ wx.T

    def _stamp(self, x: float, y: float, dx: float, dy: float) -> np.ndarray:
        image = self.basis_image(x, y)
        if dx == 0.0 and dy == 0.0 and self._sampling == 1.0 and image.shape == (self._size, self._size):
            return image
        return self._resample(image, dx, dy, self._size, 1.0)

    def _fine_image(self, x: float | None, y: float | None) -> tuple[np.ndarray, float]:
        """Kernel upsampled ``_UPSAMPLE`` times, normalised to unit integral; and its step."""
        step = 1.0 / _UPSAMPLE
        fine = self._resample(self.basis_image(x, y), 0.0, 0.0, self._size * _UPSAMPLE - 1, step)
        total = float(fine.sum()) * step * step
        if not total > 0:
            raise PsfError(
                f"PixelPsf: the model's integral at ({x}, {y}) is {total!r}; it is not a valid PSF"
            )
        return fine / total, step

    def compute_shape(self, x: float | None = None, y: float | None = None) -> tuple[float, float, float]:
        """Adaptive second moments ``(ixx, iyy, ixy)`` of the kernel image (robust to noisy wings).

        See `~skystack.image.psf.base.measure_adaptive_moments`; for a Gaussian PSF they equal its
        covariance.
        """
        _, _, ixx, iyy, ixy = measure_adaptive_moments(self.compute_kernel_image(x, y))
        return (ixx, iyy, ixy)

    def fwhm(self, x: float | None = None, y: float | None = None) -> float:
        """Diameter of the circle whose area equals that of the region above half the peak."""
        fine, step = self._fine_image(x, y)
        half = 0.5 * fine.max()
        # Anti-aliased area: a sub-sample counts by the fraction of it above half the peak, the
        # contour crossing it at (value - half) / |gradient| from its centre (a plain count of
        # sub-samples is quantised to ~0.5 % in FWHM).
        grad_y, grad_x = np.gradient(fine, step)
        slope = np.maximum(np.hypot(grad_x, grad_y) * step, np.finfo(float).tiny)
        inside = np.clip(0.5 + (fine - half) / slope, 0.0, 1.0)
        area = float(inside.sum()) * step * step
        return float(2.0 * math.sqrt(area / math.pi))

    def compute_aperture_flux(self, radius: float, x: float | None = None, y: float | None = None) -> float:
        """Fraction of the kernel's flux within ``radius`` of its centre (8× subsampled, anti-aliased sum)."""
        r = self._check_radius(radius)
        fine, step = self._fine_image(x, y)
        offsets = (np.arange(fine.shape[0]) - fine.shape[0] // 2) * step
        distance = np.sqrt(offsets[:, None] ** 2 + offsets[None, :] ** 2)
        # Anti-aliased edge: a sub-sample counts by the fraction of its width inside the circle.
        weight = np.clip((r - distance) / step + 0.5, 0.0, 1.0)
        return float(np.sum(fine * weight) * step * step)

    # -- fitting ---------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        star_images: npt.ArrayLike,
        xs: npt.ArrayLike,
        ys: npt.ArrayLike,
        degree: int,
        bbox: Box2I,
        weights: npt.ArrayLike | None = None,
        variances: npt.ArrayLike | None = None,
        fluxes: npt.ArrayLike | None = None,
    ) -> PixelPsf:
        """Fit a native-sampling pixel PSF to star stamps by (weighted) linear least squares.

        Each stamp is shifted (sinc interpolation) so that its star sits on the central pixel and is
        normalised to unit sum (or by ``fluxes``); then every kernel pixel is fitted independently
        as a polynomial of position, ``stamp_n[p] ~ sum_k terms_k(x_n, y_n) B_k[p]``. Without
        ``variances`` all pixels share the per-star weights and are solved in one ``lstsq`` call;
        with them, pixel ``p`` of star ``n`` has weight ``weights_n flux_n² / var_n[p]`` (the
        variance shifted with the squared interpolation weights, then scaled by the normalisation)
        and each pixel's small normal system is solved in one batched call.

        Parameters
        ----------
        star_images : array_like
            ``(n_stars, size, size)`` background-subtracted stamps, ``size`` odd; stamp ``n`` is
            centred on the parent pixel nearest to ``(xs[n], ys[n])``.
        xs, ys : array_like
            Star centroids in parent pixels.
        degree : `int`
            Total degree of the spatial polynomial.
        bbox : `~skystack.geom.Box2I`
            Detector box; sets the polynomial scaling (centre and width/height).
        weights : array_like, optional
            Per-star weights (e.g. S/N² without ``variances``); default equal weights.
        variances : array_like, optional
            ``(n_stars, size, size)`` per-pixel variances of ``star_images`` (finite, positive).
        fluxes : array_like, optional
            Per-star normalisations (positive); default each shifted stamp's sum.

        Returns
        -------
        psf : `PixelPsf`

        Raises
        ------
        PsfError
            On bad shapes, fewer stars than polynomial terms, a stamp with non-positive sum, bad
            variances or fluxes, or star positions that do not constrain the polynomial.
        """
        stamps = np.asarray(star_images, dtype=float)
        xa = np.asarray(xs, dtype=float).ravel()
        ya = np.asarray(ys, dtype=float).ravel()
        if stamps.ndim != 3 or stamps.shape[1] != stamps.shape[2] or stamps.shape[1] % 2 == 0:
            raise PsfError(
                f"PixelPsf.fit: star_images must be (n_stars, size, size) with odd size, got {stamps.shape}"
            )
        n_stars, size = stamps.shape[0], stamps.shape[1]
        if xa.size != n_stars or ya.size != n_stars:
            raise PsfError(f"PixelPsf.fit: got {n_stars} stamps but {xa.size} x and {ya.size} y positions")
        if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 0:
            raise PsfError(f"PixelPsf.fit: degree must be a non-negative integer, got {degree!r}")
        n_terms = _n_terms(int(degree))
        if n_stars < n_terms:
            raise PsfError(
                f"PixelPsf.fit: {n_stars} stars cannot constrain a degree-{degree} model ({n_terms} terms); "
                "lower the degree or give more stars"
            )
        wa = np.ones(n_stars) if weights is None else np.asarray(weights, dtype=float).ravel()
        if wa.size != n_stars or np.any(wa < 0) or not np.all(np.isfinite(wa)):
            raise PsfError("PixelPsf.fit: weights must be n_stars finite non-negative numbers")
        dx = xa - np.floor(xa + 0.5)
        dy = ya - np.floor(ya + 0.5)
        offsets = np.arange(size) - size // 2
        # centred[n, v, u] = stamp n interpolated at (u + dx_n, v + dy_n) from its central pixel.
        wx = sinc_matrix((offsets[None, :] + dx[:, None]).ravel(), size, size // 2).reshape(
            n_stars, size, size
        )
        wy = sinc_matrix((offsets[None, :] + dy[:, None]).ravel(), size, size // 2).reshape(
            n_stars, size, size
        )
        centred = np.einsum("nvj,nji,nui->nvu", wy, stamps, wx, optimize=True)
        if fluxes is None:
            sums = centred.sum(axis=(1, 2))
            if np.any(~(sums > 0)):
                bad = np.flatnonzero(~(sums > 0))
                raise PsfError(f"PixelPsf.fit: star stamps {bad.tolist()} have non-positive total flux")
        else:
            sums = np.asarray(fluxes, dtype=float).ravel()
            if sums.size != n_stars or not np.all(sums > 0) or not np.all(np.isfinite(sums)):
                raise PsfError("PixelPsf.fit: fluxes must be n_stars finite positive numbers")
        centred /= sums[:, None, None]
        proto = cls(np.zeros((n_terms, size, size)), int(degree), bbox=bbox)
        design = polynomial_terms(
            (xa - proto._zero[0]) / proto._scale[0], (ya - proto._zero[1]) / proto._scale[1], int(degree)
        )
        if variances is None:
            sqrt_w = np.sqrt(wa)[:, None]
            coeffs, *_ = np.linalg.lstsq(design * sqrt_w, centred.reshape(n_stars, -1) * sqrt_w, rcond=None)
            return cls(coeffs.reshape(n_terms, size, size), int(degree), bbox=bbox)
        var = np.asarray(variances, dtype=float)
        if var.shape != stamps.shape or not np.all(np.isfinite(var)) or not np.all(var > 0):
            raise PsfError(
                f"PixelPsf.fit: variances must be finite and positive with the stamps' shape "
                f"{stamps.shape}, got shape {var.shape}; drop stars with masked pixels instead of giving "
                "them infinite variance"
            )
        shifted_var = np.einsum("nvj,nji,nui->nvu", wy * wy, var, wx * wx, optimize=True)
        pixel_w = (wa * sums * sums)[:, None] / shifted_var.reshape(n_stars, -1)  # (n_stars, n_pixels)
        normal = np.einsum("np,nk,nl->pkl", pixel_w, design, design, optimize=True)
        rhs = np.einsum("np,nk,np->pk", pixel_w, design, centred.reshape(n_stars, -1), optimize=True)
        try:
            coeffs = np.linalg.solve(normal, rhs[..., None])[..., 0]  # (n_pixels, n_terms)
        except np.linalg.LinAlgError as err:
            raise PsfError(
                f"PixelPsf.fit: the {n_stars} star positions do not constrain a degree-{degree} polynomial "
                "(too few distinct positions, or zero weights); lower the degree"
            ) from err
        return cls(coeffs.T.reshape(n_terms, size, size), int(degree), bbox=bbox)

    # -- PSFEx files -----------------------------------------------------------------------------
    @classmethod
    def from_psfex(cls, source: Any, ccdname: str | None = None, bbox: Box2I | None = None) -> PixelPsf:
        """Read a PSFEx model: a standard ``.psf`` file or a legacypipe merged PSFEx table.

        Parameters
        ----------
        source : path-like, `astropy.io.fits.HDUList` or `astropy.io.fits.BinTableHDU`
            The file (first binary table used) or the table HDU.
        ccdname : `str`, optional
            For merged tables holding one row per CCD (legacypipe), which CCD to read; needed if
            the table has several rows.
        bbox : `~skystack.geom.Box2I`, optional
            Detector box recorded in the model.

        Returns
        -------
        psf : `PixelPsf`

        Raises
        ------
        FileNotFoundError
            If a path does not exist.
        PsfError
            If the table is not a PSFEx model (naming the file and what is missing), uses
            polynomial groups or variables other than ``X_IMAGE``/``Y_IMAGE``, or ``ccdname``
            does not select exactly one row.
        """
        from astropy.io import fits

        name = "<HDU>"
        if isinstance(source, str | os.PathLike):
            name = os.fspath(source)
            if not os.path.exists(name):
                raise FileNotFoundError(f"PSFEx file not found: {name}")
            try:
                with fits.open(name) as hdul:
                    hdu = next((h for h in hdul if isinstance(h, fits.BinTableHDU)), None)
                    if hdu is None:
                        raise PsfError(f"{name}: no binary table extension; not a PSFEx model file")
                    return cls._from_psfex_hdu(hdu, name, ccdname, bbox)
            except OSError as err:
                raise PsfError(f"{name}: cannot be read as FITS ({err})") from err
        if isinstance(source, fits.HDUList):
            hdu = next((h for h in source if isinstance(h, fits.BinTableHDU)), None)
            if hdu is None:
                raise PsfError("HDUList has no binary table extension; not a PSFEx model")
            return cls._from_psfex_hdu(hdu, name, ccdname, bbox)
        if isinstance(source, fits.BinTableHDU):
            return cls._from_psfex_hdu(source, name, ccdname, bbox)
        raise TypeError(f"PixelPsf.from_psfex: expected a path or FITS HDU, got {type(source).__qualname__}")

    @classmethod
    def _from_psfex_hdu(cls, hdu: Any, name: str, ccdname: str | None, bbox: Box2I | None) -> PixelPsf:
        data = hdu.data
        header = hdu.header
        columns = {c.lower() for c in hdu.columns.names}
        if "psf_mask" not in columns:
            raise PsfError(f"{name}: table has no PSF_MASK column; not a PSFEx model")
        row = 0
        if len(data) == 0:
            raise PsfError(f"{name}: PSFEx table is empty")
        if ccdname is not None:
            if "ccdname" not in columns:
                raise PsfError(f"{name}: ccdname={ccdname!r} given but the table has no CCDNAME column")
            names = [str(v).strip() for v in data["ccdname"]]
            matches = [i for i, v in enumerate(names) if v == ccdname]
            if len(matches) != 1:
                raise PsfError(f"{name}: ccdname {ccdname!r} matches {len(matches)} rows; available: {names}")
            row = matches[0]
        elif len(data) > 1:
            raise PsfError(f"{name}: table has {len(data)} PSF models; choose one with ccdname=")

        def get(key: str, default: Any = None) -> Any:
            if key.lower() in columns:
                return data[key.lower()][row]
            if key.upper() in header:
                return header[key.upper()]
            if default is None:
                raise PsfError(f"{name}: PSFEx keyword/column {key.upper()} is missing")
            return default

        n_axes = int(get("polnaxis", 0))
        if int(get("polngrp", 1)) > 1:
            raise PsfError(
                f"{name}: PSFEx models with several polynomial groups (POLNGRP > 1) are not supported"
            )
        basis = np.asarray(data["psf_mask"][row], dtype=np.float64)
        if basis.ndim == 2:
            basis = basis[None]
        if n_axes == 0:
            degree, zero, scale = 0, (0.0, 0.0), (1.0, 1.0)
        elif n_axes == 2:
            names_ = (str(get("polname1")).strip(), str(get("polname2")).strip())
            if names_ != ("X_IMAGE", "Y_IMAGE"):
                raise PsfError(f"{name}: PSFEx polynomial variables {names_} are not (X_IMAGE, Y_IMAGE)")
            degree = int(get("poldeg1"))
            # PSFEx positions are 1-based FITS pixels; skystack's are 0-based.
            zero = (float(get("polzero1")) - 1.0, float(get("polzero2")) - 1.0)
            scale = (float(get("polscal1")), float(get("polscal2")))
        else:
            raise PsfError(f"{name}: POLNAXIS={n_axes} is not supported (only 0 or 2)")
        if basis.shape[0] != _n_terms(degree):
            raise PsfError(
                f"{name}: PSF_MASK has {basis.shape[0]} basis images, expected {_n_terms(degree)} "
                f"for degree {degree}"
            )
        sampling = float(get("psf_samp", 1.0))
        return cls(basis, degree, bbox=bbox, poly_zero=zero, poly_scale=scale, sampling=sampling)

    # -- persistence and comparison ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "basis": encode_array(self._basis),
            "degree": self._degree,
            "bbox": None if self._bbox is None else self._bbox.to_dict(),
            "poly_zero": list(self._zero),
            "poly_scale": list(self._scale),
            "sampling": self._sampling,
            "size": self._size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PixelPsf:
        bbox = None if data.get("bbox") is None else Box2I.from_dict(data["bbox"])
        return cls(
            _decoded(data["basis"]),
            int(data["degree"]),
            bbox=bbox,
            poly_zero=(float(data["poly_zero"][0]), float(data["poly_zero"][1])),
            poly_scale=(float(data["poly_scale"][0]), float(data["poly_scale"][1])),
            sampling=float(data["sampling"]),
            size=int(data["size"]),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PixelPsf):
            return NotImplemented
        return (
            self._degree == other._degree
            and self._bbox == other._bbox
            and self._zero == other._zero
            and self._scale == other._scale
            and self._sampling == other._sampling
            and self._size == other._size
            and self._basis.shape == other._basis.shape
            and bool(np.array_equal(self._basis, other._basis))
        )

    def __repr__(self) -> str:
        return (
            f"PixelPsf(degree={self._degree}, basis_shape={self._basis.shape}, sampling={self._sampling}, "
            f"size={self._size}, bbox={self._bbox!r})"
        )
