# SPDX-License-Identifier: GPL-3.0-or-later
"""The measurement plugins: thin adapters from catalog columns to the algorithms of this package.

Each plugin reads its inputs from catalog columns (slots) for the rows being measured, calls one
vectorised algorithm, and writes its columns. Column names are snake case; units are ``pix``
(positions), ``pix2`` (second moments) and ``ct`` (image counts, i.e. electrons or ADU as the
image is calibrated). See `framework` for the execution order and slots.

=================  ==========================================================================
plugin             columns (besides ``<name>_flag``)
=================  ==========================================================================
centroid           centroid_x/_y, centroid_x_err/_y_err, centroid_xy_cov, centroid_flag_*
shape              shape_x/_y, shape_xx/_yy/_xy (+ _err), shape_flux (+ _err), shape_n_iter,
                   shape_psf_xx/_yy/_xy, shape_flag_*
pixel_flags        pixel_flags_offimage, _edge, _bad, _saturated, _cr, _interpolated, _suspect,
                   and ``_center`` variants
local_background   local_background (+ _err, _sigma, _n_pixels), local_background_flag_*
ap_flux            ap_flux_<r> (+ _err, _flag, _flag_truncated, _flag_masked) per radius
                   (``r`` as ``3_0``, ``4_5`` …)
psf_flux           psf_flux (+ _err, _chi2, _n_pixels), psf_flux_flag_edge, _flag_no_good_pixels
gaussian_flux      gaussian_flux (+ _err), gaussian_flux_psf
extendedness       extendedness
=================  ==========================================================================
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from skystack.config import Config, field
from skystack.image.psf import Psf, PsfError, measure_moments
from skystack.table import Field, SourceCatalog

from . import aperture as ap
from . import centroid as cen
from . import local_background as lbg
from . import moments as mom
from . import psf_flux as pf
from .extendedness import extendedness, psf_normalised_model_flux
from .framework import MeasurementData, MeasurementError, MeasurementPlugin, register_plugin
from .pixel_flags import CENTER_FLAGS, FOOTPRINT_FLAGS, pixel_flags

__all__ = [
    "ApertureFluxConfig",
    "ApertureFluxPlugin",
    "CentroidConfig",
    "CentroidPlugin",
    "ExtendednessConfig",
    "ExtendednessPlugin",
    "GaussianFluxConfig",
    "GaussianFluxPlugin",
    "LocalBackgroundConfig",
    "LocalBackgroundPlugin",
    "PixelFlagsConfig",
    "PixelFlagsPlugin",
    "PsfFluxConfig",
    "PsfFluxPlugin",
    "ShapeConfig",
    "ShapePlugin",
    "aperture_tag",
    "psf_shape_at",
]

_GRID_NODES = 8  # PSF moments of a spatially varying model: evaluated on this many nodes per axis


def _f(name: str, dtype: type | str, unit: str, doc: str) -> Field:
    return Field(name, np.dtype(dtype), unit, doc)


def _flag(name: str, doc: str) -> Field:
    return Field(name, np.dtype(bool), "", doc)


def _model_shape(psf: Psf, x: float, y: float) -> tuple[float, float, float]:
    try:
        return psf.compute_shape(x, y)
    except PsfError:  # e.g. a Moffat PSF with beta <= 2: use the moments of its image
        _, _, ixx, iyy, ixy = measure_moments(psf.compute_kernel_image(x, y))
        return ixx, iyy, ixy


def _adaptive_kernel_shape(psf: Psf, x: float, y: float) -> tuple[float, float, float]:
    kernel = psf.compute_kernel_image(x, y)
    c = kernel.shape[0] // 2
    xx, yy, xy = _model_shape(psf, x, y)
    res = mom.adaptive_moments(kernel, c, c, initial_xx=xx, initial_yy=yy, initial_xy=xy, max_radius=float(c))
    if res.flag[0] & mom.MOMENTS_UNCONVERGED:
        return xx, yy, xy
    return float(res.xx[0]), float(res.yy[0]), float(res.xy[0])


def psf_shape_at(
    psf: Psf, x: np.ndarray, y: np.ndarray, adaptive: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PSF second moments ``(xx, yy, xy)`` (pixels²) at positions, vectorised.

    ``adaptive=False`` gives the model's own moments (`Psf.compute_shape`); ``adaptive=True`` the
    adaptive moments of its kernel image, i.e. what the ``shape`` plugin measures on a star.
    A spatially constant PSF is evaluated once; a varying one on an ``8 × 8`` grid spanning the
    positions, interpolated bilinearly (PSF models vary smoothly). Non-finite positions get the
    value at the PSF's average position.
    """
    shape_of = _adaptive_kernel_shape if adaptive else _model_shape
    n = x.size
    finite = np.isfinite(x) & np.isfinite(y)
    if not psf.is_spatially_varying or not finite.any():
        xx, yy, xy = shape_of(psf, *psf.average_position)
        return np.full(n, xx), np.full(n, yy), np.full(n, xy)
    gx = (
        np.linspace(x[finite].min(), x[finite].max(), _GRID_NODES) if np.ptp(x[finite]) > 0 else x[finite][:1]
    )
    gy = (
        np.linspace(y[finite].min(), y[finite].max(), _GRID_NODES) if np.ptp(y[finite]) > 0 else y[finite][:1]
    )
    values = np.array([[shape_of(psf, float(a), float(b)) for a in gx] for b in gy])  # (ny, nx, 3)
    xa, ya = psf.average_position
    px = np.where(finite, x, xa)
    py = np.where(finite, y, ya)
    out = []
    for k in range(3):
        if gx.size > 1 and gy.size > 1:
            interp = RegularGridInterpolator((gy, gx), values[:, :, k], bounds_error=False, fill_value=None)
            out.append(interp(np.stack([np.clip(py, gy[0], gy[-1]), np.clip(px, gx[0], gx[-1])], axis=1)))
        elif gx.size > 1:
            out.append(np.interp(px, gx, values[0, :, k]))
        elif gy.size > 1:
            out.append(np.interp(py, gy, values[:, 0, k]))
        else:
            out.append(np.full(n, values[0, 0, k]))
    return out[0], out[1], out[2]


def _centroids(catalog: SourceCatalog, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return catalog["slot_centroid_x"][rows], catalog["slot_centroid_y"][rows]


# -- centroid --------------------------------------------------------------------------------------
class CentroidConfig(Config):
    """Config of `CentroidPlugin`."""

    sigma: float = field(
        0.0, doc="Smoothing Gaussian width (pix); 0 uses the PSF's determinant radius.", ge=0
    )
    max_iter: int = field(20, doc="Maximum number of fit iterations.", ge=1)
    tol: float = field(1e-5, doc="Convergence tolerance on the step (pix).", gt=0)
    max_shift: float = field(2.0, doc="Largest accepted move from the peak (pix, per axis).", gt=0)


@register_plugin
class CentroidPlugin(MeasurementPlugin):
    """Iterated SDSS centroid (`skystack.algorithms.measure.centroid.sdss_centroid`) from the peaks."""

    name = "centroid"
    ConfigClass = CentroidConfig
    execution_order = 0.0
    config: CentroidConfig

    _FLAGS = (
        ("edge", cen.CENTROID_EDGE, "smoothing window cut by the image edge"),
        ("no_peak", cen.CENTROID_NO_PEAK, "no maximum of the smoothed image near the peak"),
        ("moved", cen.CENTROID_MOVED, "fit moved more than max_shift from the peak"),
        ("fallback", cen.CENTROID_FALLBACK | cen.CENTROID_FAILED, "3x3 first moment or the peak used"),
        ("not_converged", cen.CENTROID_NOT_CONVERGED, "fit did not converge in max_iter"),
    )

    def fields(self) -> list[Field]:
        return [
            _f("centroid_x", np.float64, "pix", "Centroid x (parent pixels, pixel centres at integers)"),
            _f("centroid_y", np.float64, "pix", "Centroid y (parent pixels, pixel centres at integers)"),
            _f("centroid_x_err", np.float64, "pix", "1-sigma error of centroid_x from the variance plane"),
            _f("centroid_y_err", np.float64, "pix", "1-sigma error of centroid_y from the variance plane"),
            _f("centroid_xy_cov", np.float64, "pix2", "Covariance of centroid_x and centroid_y"),
            *(_flag(f"centroid_flag_{key}", doc) for key, _, doc in self._FLAGS),
        ]

    def slots(self) -> dict[str, str]:
        return {
            "slot_centroid_x": "centroid_x",
            "slot_centroid_y": "centroid_y",
            "slot_centroid_x_err": "centroid_x_err",
            "slot_centroid_y_err": "centroid_y_err",
        }

    def _sigma(self, psf: Psf | None, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.config.sigma > 0:
            return np.full(x.size, self.config.sigma)
        if psf is None:
            raise MeasurementError("centroid: set config.sigma (pix) or pass a PSF to smooth with its width")
        xx, yy, xy = psf_shape_at(psf, x, y)
        return np.asarray((xx * yy - xy * xy) ** 0.25)

    def reach(self, psf: Psf | None) -> float:
        sigma = self.config.sigma if self.config.sigma > 0 or psf is None else psf.determinant_radius()
        return 5.0 * sigma + 3.0 + self.config.max_shift

    def measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        x = catalog["peak_x"][rows]
        y = catalog["peak_y"][rows]
        cfg = self.config
        res = cen.sdss_centroid(
            data.image, x, y, self._sigma(data.psf, x, y), variance=data.variance, xy0=data.xy0,
            max_iter=cfg.max_iter, tol=cfg.tol, max_shift=cfg.max_shift,
        )  # fmt: skip
        catalog["centroid_x"][rows] = res.x
        catalog["centroid_y"][rows] = res.y
        catalog["centroid_x_err"][rows] = res.x_err
        catalog["centroid_y_err"][rows] = res.y_err
        catalog["centroid_xy_cov"][rows] = res.xy_cov
        for key, bits, _ in self._FLAGS:
            catalog[f"centroid_flag_{key}"][rows] = (res.flag & bits) != 0
        catalog[self.flag_name][rows] = res.flag != 0


# -- shape -----------------------------------------------------------------------------------------
class ShapeConfig(Config):
    """Config of `ShapePlugin`."""

    max_iter: int = field(100, doc="Maximum number of adaptive iterations.", ge=1)
    tol1: float = field(1e-5, doc="Convergence tolerance on the ellipticity change.", gt=0)
    tol2: float = field(1e-4, doc="Convergence tolerance on the fractional size change.", gt=0)
    max_shift: float = field(2.0, doc="Largest move of the weight centre (pix) before it is held.", gt=0)
    max_radius: float = field(30.0, doc="Largest half-size of the weight window (pix).", gt=0)
    initial_sigma: float = field(2.0, doc="Starting weight width (pix) when no PSF is given.", gt=0)
    bad_mask_planes: list[str] = field(
        default_factory=lambda: ["BAD", "SAT", "NO_DATA"], doc="Mask planes whose pixels are left out."
    )
    do_measure_psf: bool = field(True, doc="Also record the PSF model's moments (shape_psf_*).")


@register_plugin
class ShapePlugin(MeasurementPlugin):
    """Adaptive second moments (`skystack.algorithms.measure.moments.adaptive_moments`)."""

    name = "shape"
    ConfigClass = ShapeConfig
    execution_order = 1.0
    config: ShapeConfig

    _FLAGS = (
        ("unconverged", mom.MOMENTS_UNCONVERGED, "no valid moments (not positive definite)"),
        ("maxiter", mom.MOMENTS_MAXITER, "max_iter reached before convergence"),
        ("shift", mom.MOMENTS_SHIFT, "weight centre moved more than max_shift"),
        ("edge", mom.MOMENTS_EDGE, "weight window cut by the image edge"),
    )

    def fields(self) -> list[Field]:
        out = [
            _f("shape_x", np.float64, "pix", "Centre of the adaptive weight, x"),
            _f("shape_y", np.float64, "pix", "Centre of the adaptive weight, y"),
            _f("shape_xx", np.float64, "pix2", "Adaptive second moment <x x> (Gaussian-equivalent)"),
            _f("shape_yy", np.float64, "pix2", "Adaptive second moment <y y> (Gaussian-equivalent)"),
            _f("shape_xy", np.float64, "pix2", "Adaptive second moment <x y> (Gaussian-equivalent)"),
            _f("shape_xx_err", np.float64, "pix2", "1-sigma error of shape_xx"),
            _f("shape_yy_err", np.float64, "pix2", "1-sigma error of shape_yy"),
            _f("shape_xy_err", np.float64, "pix2", "1-sigma error of shape_xy"),
            _f(
                "shape_flux",
                np.float64,
                "ct",
                "Flux of the best-fit elliptical Gaussian (the adaptive weight)",
            ),
            _f("shape_flux_err", np.float64, "ct", "1-sigma error of shape_flux"),
            _f("shape_n_iter", np.int32, "", "Number of adaptive iterations"),
        ]
        if self.config.do_measure_psf:
            out += [
                _f(
                    "shape_psf_xx",
                    np.float64,
                    "pix2",
                    "Adaptive moment <x x> of the PSF model image at the centroid",
                ),
                _f(
                    "shape_psf_yy",
                    np.float64,
                    "pix2",
                    "Adaptive moment <y y> of the PSF model image at the centroid",
                ),
                _f(
                    "shape_psf_xy",
                    np.float64,
                    "pix2",
                    "Adaptive moment <x y> of the PSF model image at the centroid",
                ),
            ]
        out += [_flag(f"shape_flag_{key}", doc) for key, _, doc in self._FLAGS]
        return out

    def slots(self) -> dict[str, str]:
        return {"slot_shape_xx": "shape_xx", "slot_shape_yy": "shape_yy", "slot_shape_xy": "shape_xy"}

    def reach(self, psf: Psf | None) -> float:
        return self.config.max_radius + self.config.max_shift + 1.0

    def measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        x, y = _centroids(catalog, rows)
        cfg = self.config
        if data.psf is not None:
            pxx, pyy, pxy = psf_shape_at(data.psf, x, y, adaptive=True)
            init = (pxx, pyy, pxy)
        else:
            s2 = cfg.initial_sigma**2
            init = (s2, s2, 0.0)  # type: ignore[assignment]
        res = mom.adaptive_moments(
            data.image, x, y, variance=data.variance, mask=data.mask,
            bad_mask_bits=data.bits(cfg.bad_mask_planes), xy0=data.xy0,
            initial_xx=init[0], initial_yy=init[1], initial_xy=init[2], max_iter=cfg.max_iter,
            tol1=cfg.tol1, tol2=cfg.tol2, max_shift=cfg.max_shift, max_radius=cfg.max_radius,
        )  # fmt: skip
        for name in ("x", "y", "xx", "yy", "xy", "xx_err", "yy_err", "xy_err", "flux", "flux_err", "n_iter"):
            catalog[f"shape_{name}"][rows] = getattr(res, name)
        if cfg.do_measure_psf:
            if data.psf is None:
                for name in ("xx", "yy", "xy"):
                    catalog[f"shape_psf_{name}"][rows] = np.nan
            else:
                catalog["shape_psf_xx"][rows] = init[0]
                catalog["shape_psf_yy"][rows] = init[1]
                catalog["shape_psf_xy"][rows] = init[2]
        for key, bits, _ in self._FLAGS:
            catalog[f"shape_flag_{key}"][rows] = (res.flag & bits) != 0
        catalog[self.flag_name][rows] = (res.flag & ~mom.MOMENTS_EDGE) != 0


# -- pixel flags -----------------------------------------------------------------------------------
class PixelFlagsConfig(Config):
    """Config of `PixelFlagsPlugin` (the plane names are fixed, as in Rubin)."""


@register_plugin
class PixelFlagsPlugin(MeasurementPlugin):
    """Mask planes set in each footprint and at each centre (`pixel_flags.pixel_flags`)."""

    name = "pixel_flags"
    ConfigClass = PixelFlagsConfig
    execution_order = 2.0

    _DOCS = {
        "offimage": "Source centre is off the image",
        "edge": "Footprint touches EDGE or NO_DATA pixels or leaves the image",
        "bad": "Footprint has BAD pixels",
        "saturated": "Footprint has saturated (SAT) pixels",
        "cr": "Footprint has cosmic-ray (CR) pixels",
        "interpolated": "Footprint has interpolated (INTRP) pixels",
        "suspect": "Footprint has SUSPECT pixels",
    }

    def _keys(self) -> list[str]:
        return ["offimage", *FOOTPRINT_FLAGS, *(f"{k}_center" for k in CENTER_FLAGS)]

    def fields(self) -> list[Field]:
        out = []
        for key in self._keys():
            base = key.removesuffix("_center")
            doc = self._DOCS[base] + (
                " within the 3x3 pixels at the centre" if key.endswith("_center") else ""
            )
            out.append(_flag(f"pixel_flags_{key}", doc.replace("Footprint has", "Pixels with").strip()))
        return out

    def measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        if data.mask is None:
            catalog[self.flag_name][rows] = True
            return
        x, y = _centroids(catalog, rows)
        flags = pixel_flags(
            data.mask, x, y, data.spans.subset(rows), plane_dict=data.plane_dict, xy0=data.xy0
        )
        for key in self._keys():
            catalog[f"pixel_flags_{key}"][rows] = flags[key]
        catalog[self.flag_name][rows] = flags["offimage"]


# -- local background ------------------------------------------------------------------------------
class LocalBackgroundConfig(Config):
    """Config of `LocalBackgroundPlugin`."""

    inner_radius: float = field(7.0, doc="Inner annulus radius (pix).", ge=0)
    outer_radius: float = field(15.0, doc="Outer annulus radius (pix).", gt=0)
    n_sigma: float = field(3.0, doc="Clipping threshold (robust sigmas).", gt=0)
    max_iter: int = field(3, doc="Maximum clipping passes.", ge=0)
    bad_mask_planes: list[str] = field(
        default_factory=lambda: ["BAD", "SAT", "NO_DATA"], doc="Mask planes whose pixels are left out."
    )

    def validate_config(self) -> None:
        if not self.inner_radius < self.outer_radius:
            raise ValueError(
                f"inner_radius {self.inner_radius} must be below outer_radius {self.outer_radius}"
            )


@register_plugin
class LocalBackgroundPlugin(MeasurementPlugin):
    """Sigma-clipped median in an annulus (`local_background.local_background`)."""

    name = "local_background"
    ConfigClass = LocalBackgroundConfig
    execution_order = 2.0
    config: LocalBackgroundConfig

    def fields(self) -> list[Field]:
        return [
            _f("local_background", np.float64, "ct", "Sigma-clipped median per pixel in the annulus"),
            _f("local_background_err", np.float64, "ct", "Standard error of local_background"),
            _f("local_background_sigma", np.float64, "ct", "Robust per-pixel scatter in the annulus"),
            _f("local_background_n_pixels", np.int32, "", "Annulus pixels kept after clipping"),
            _flag("local_background_flag_no_good_pixels", "No usable pixel in the annulus"),
            _flag("local_background_flag_edge", "Annulus cut by the image edge"),
        ]

    def reach(self, psf: Psf | None) -> float:
        return self.config.outer_radius + 1.0

    def measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        x, y = _centroids(catalog, rows)
        cfg = self.config
        res = lbg.local_background(
            data.image, x, y, inner_radius=cfg.inner_radius, outer_radius=cfg.outer_radius, mask=data.mask,
            bad_mask_bits=data.bits(cfg.bad_mask_planes), xy0=data.xy0, n_sigma=cfg.n_sigma,
            max_iter=cfg.max_iter,
        )  # fmt: skip
        catalog["local_background"][rows] = res.background
        catalog["local_background_err"][rows] = res.background_err
        catalog["local_background_sigma"][rows] = res.sigma
        catalog["local_background_n_pixels"][rows] = res.n_pixels
        none = (res.flag & lbg.LOCAL_BACKGROUND_NO_GOOD_PIXELS) != 0
        catalog["local_background_flag_no_good_pixels"][rows] = none
        catalog["local_background_flag_edge"][rows] = (res.flag & lbg.LOCAL_BACKGROUND_EDGE) != 0
        catalog[self.flag_name][rows] = none


# -- aperture fluxes -------------------------------------------------------------------------------
def aperture_tag(radius: float) -> str:
    """Column tag of an aperture radius: ``3.0 → "3_0"``, ``4.5 → "4_5"`` (Rubin's naming)."""
    return f"{radius:.1f}".replace(".", "_")


class ApertureFluxConfig(Config):
    """Config of `ApertureFluxPlugin`."""

    radii: list[float] = field(
        default_factory=lambda: [3.0, 4.5, 6.0, 9.0, 12.0, 17.0, 25.0], doc="Aperture radii (pix)."
    )
    bad_mask_planes: list[str] = field(
        default_factory=list, doc="Mask planes whose pixels are left out of the sums (and flagged)."
    )

    def validate_config(self) -> None:
        tags = [aperture_tag(r) for r in self.radii]
        if not self.radii or any(not r > 0 for r in self.radii) or len(set(tags)) != len(tags):
            raise ValueError(f"radii must be positive and differ at 0.1 pix, got {list(self.radii)}")


@register_plugin
class ApertureFluxPlugin(MeasurementPlugin):
    """Exact circular-aperture sums at several radii (`aperture.aperture_fluxes`)."""

    name = "ap_flux"
    ConfigClass = ApertureFluxConfig
    execution_order = 2.0
    config: ApertureFluxConfig

    def fields(self) -> list[Field]:
        out = []
        for r in self.config.radii:
            t = aperture_tag(r)
            out += [
                _f(
                    f"ap_flux_{t}", np.float64, "ct", f"Sum within a circle of radius {r} pix (exact overlap)"
                ),
                _f(f"ap_flux_{t}_err", np.float64, "ct", f"1-sigma error of ap_flux_{t}"),
                _flag(f"ap_flux_{t}_flag", f"Aperture {r} pix truncated, masked or invalid"),
                _flag(f"ap_flux_{t}_flag_truncated", f"Aperture {r} pix reaches off the image"),
                _flag(
                    f"ap_flux_{t}_flag_masked", f"Aperture {r} pix had masked or non-finite pixels left out"
                ),
            ]
        return out

    def reach(self, psf: Psf | None) -> float:
        return max(self.config.radii) + 1.0

    def measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        x, y = _centroids(catalog, rows)
        res = ap.aperture_fluxes(
            data.image, x, y, self.config.radii, variance=data.variance, mask=data.mask,
            bad_mask_bits=data.bits(self.config.bad_mask_planes), xy0=data.xy0,
        )  # fmt: skip
        for k, r in enumerate(self.config.radii):
            t = aperture_tag(r)
            catalog[f"ap_flux_{t}"][rows] = res.flux[:, k]
            catalog[f"ap_flux_{t}_err"][rows] = res.flux_err[:, k]
            catalog[f"ap_flux_{t}_flag"][rows] = res.flag[:, k] != 0
            catalog[f"ap_flux_{t}_flag_truncated"][rows] = (res.flag[:, k] & ap.APERTURE_TRUNCATED) != 0
            catalog[f"ap_flux_{t}_flag_masked"][rows] = (res.flag[:, k] & ap.APERTURE_MASKED) != 0
        catalog[self.flag_name][rows] = np.any((res.flag & ap.APERTURE_INVALID) != 0, axis=1)


# -- PSF flux --------------------------------------------------------------------------------------
class PsfFluxConfig(Config):
    """Config of `PsfFluxPlugin`."""

    weighting: Literal["variance", "uniform"] = field(
        "variance", doc="Pixel weights of the linear fit: inverse variance (ML) or uniform (Rubin)."
    )
    bad_mask_planes: list[str] = field(default_factory=list, doc="Mask planes whose pixels are left out.")


@register_plugin
class PsfFluxPlugin(MeasurementPlugin):
    """Linear PSF-model fit of the flux at the centroid (`psf_flux.psf_flux`)."""

    name = "psf_flux"
    ConfigClass = PsfFluxConfig
    execution_order = 2.0
    needs_psf = True
    config: PsfFluxConfig

    def fields(self) -> list[Field]:
        return [
            _f(
                "psf_flux",
                np.float64,
                "ct",
                "Flux of the PSF model (unit sum over its stamp) fitted at the centroid",
            ),
            _f("psf_flux_err", np.float64, "ct", "1-sigma error of psf_flux"),
            _f("psf_flux_chi2", np.float64, "", "Chi-square of the PSF fit over the stamp pixels"),
            _f("psf_flux_n_pixels", np.int32, "", "Pixels used in the PSF fit"),
            _flag("psf_flux_flag_edge", "PSF stamp cut by the image edge"),
            _flag("psf_flux_flag_no_good_pixels", "No usable pixel for the PSF fit"),
        ]

    def slots(self) -> dict[str, str]:
        return {"slot_psf_flux": "psf_flux", "slot_psf_flux_err": "psf_flux_err"}

    def reach(self, psf: Psf | None) -> float:
        return 0.0 if psf is None else psf.kernel_size // 2 + 1.0

    def measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        assert data.psf is not None  # checked by the framework (needs_psf)
        x, y = _centroids(catalog, rows)
        res = pf.psf_flux(
            data.image, x, y, data.psf, variance=data.variance, mask=data.mask,
            bad_mask_bits=data.bits(self.config.bad_mask_planes), xy0=data.xy0,
            weighting=self.config.weighting,
        )  # fmt: skip
        catalog["psf_flux"][rows] = res.flux
        catalog["psf_flux_err"][rows] = res.flux_err
        catalog["psf_flux_chi2"][rows] = res.chi2
        catalog["psf_flux_n_pixels"][rows] = res.n_pixels
        catalog["psf_flux_flag_edge"][rows] = (res.flag & pf.FIT_EDGE) != 0
        catalog["psf_flux_flag_no_good_pixels"][rows] = (res.flag & pf.FIT_NO_GOOD_PIXELS) != 0
        catalog[self.flag_name][rows] = (res.flag & (pf.FIT_EDGE | pf.FIT_NO_GOOD_PIXELS)) != 0


# -- Gaussian flux ---------------------------------------------------------------------------------
class GaussianFluxConfig(Config):
    """Config of `GaussianFluxPlugin`."""

    weighting: Literal["variance", "uniform"] = field(
        "uniform", doc="Pixel weights of the linear fit (uniform as Rubin; makes gaussian_flux_psf exact)."
    )
    n_sigma: float = field(5.0, doc="Half-size of the model stamp in sigmas.", gt=0)
    max_radius: float = field(30.0, doc="Largest half-size of the model stamp (pix).", gt=0)
    bad_mask_planes: list[str] = field(default_factory=list, doc="Mask planes whose pixels are left out.")
    do_psf_normalisation: bool = field(
        True, doc="Also measure the same Gaussian on the unit PSF image (gaussian_flux_psf); needs a PSF."
    )


@register_plugin
class GaussianFluxPlugin(MeasurementPlugin):
    """Flux of an elliptical Gaussian with the source's adaptive shape (`psf_flux.gaussian_flux`).

    The shape is ``slot_shape`` where it is valid, else the PSF's adaptive moments.
    """

    name = "gaussian_flux"
    ConfigClass = GaussianFluxConfig
    execution_order = 2.0
    config: GaussianFluxConfig

    def fields(self) -> list[Field]:
        out = [
            _f(
                "gaussian_flux",
                np.float64,
                "ct",
                "Flux of a fixed elliptical Gaussian with the source's shape",
            ),
            _f("gaussian_flux_err", np.float64, "ct", "1-sigma error of gaussian_flux"),
        ]
        if self.config.do_psf_normalisation:
            out.append(
                _f(
                    "gaussian_flux_psf",
                    np.float64,
                    "",
                    "gaussian_flux of the unit PSF image measured with the PSF's adaptive shape: the "
                    "point-source correction (gaussian_flux / gaussian_flux_psf is on the PSF-flux scale)",
                )
            )
        return out

    def reach(self, psf: Psf | None) -> float:
        return self.config.max_radius + 1.0

    def _shapes(
        self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        x, y = _centroids(catalog, rows)
        if "slot_shape_xx" in catalog.schema:
            xx = catalog["slot_shape_xx"][rows].copy()
            yy = catalog["slot_shape_yy"][rows].copy()
            xy = catalog["slot_shape_xy"][rows].copy()
            bad = ~(np.isfinite(xx) & np.isfinite(yy) & np.isfinite(xy) & (xx > 0) & (xx * yy - xy * xy > 0))
        else:
            xx = yy = xy = np.full(rows.size, np.nan)
            bad = np.ones(rows.size, dtype=bool)
        if bad.any():
            if data.psf is None:
                raise MeasurementError(
                    "gaussian_flux needs the shape plugin or a PSF for its Gaussian's moments"
                )
            pxx, pyy, pxy = psf_shape_at(data.psf, x[bad], y[bad], adaptive=True)
            xx[bad], yy[bad], xy[bad] = pxx, pyy, pxy
        return x, y, xx, yy, xy

    def measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        cfg = self.config
        x, y, xx, yy, xy = self._shapes(catalog, data, rows)
        res = pf.gaussian_flux(
            data.image, x, y, xx, yy, xy, variance=data.variance, mask=data.mask,
            bad_mask_bits=data.bits(cfg.bad_mask_planes), xy0=data.xy0, weighting=cfg.weighting,
            n_sigma=cfg.n_sigma, max_radius=cfg.max_radius,
        )  # fmt: skip
        catalog["gaussian_flux"][rows] = res.flux
        catalog["gaussian_flux_err"][rows] = res.flux_err
        failed = (res.flag & (pf.FIT_EDGE | pf.FIT_NO_GOOD_PIXELS)) != 0
        if cfg.do_psf_normalisation:
            if data.psf is None:
                raise MeasurementError(
                    "gaussian_flux: do_psf_normalisation needs a PSF; pass psf= or turn it off"
                )
            pxx, pyy, pxy = psf_shape_at(data.psf, x, y, adaptive=True)
            norm = pf.psf_gaussian_flux(
                data.psf, x, y, pxx, pyy, pxy, n_sigma=cfg.n_sigma, max_radius=cfg.max_radius
            )
            catalog["gaussian_flux_psf"][rows] = norm
            failed |= ~np.isfinite(norm)
        catalog[self.flag_name][rows] = failed


# -- extendedness ----------------------------------------------------------------------------------
class ExtendednessConfig(Config):
    """Config of `ExtendednessPlugin`."""

    threshold: float = field(0.985, doc="Extended when psf_flux / model flux is below this ratio.", gt=0)
    psf_err_factor: float = field(0.0, doc="Multiple of psf_flux_err added to psf_flux before comparing.")
    model_err_factor: float = field(0.0, doc="Multiple of the model error added to the model flux.")


@register_plugin
class ExtendednessPlugin(MeasurementPlugin):
    """Point/extended classification from ``psf_flux`` and the PSF-normalised ``gaussian_flux``."""

    name = "extendedness"
    ConfigClass = ExtendednessConfig
    execution_order = 5.0
    requires = ("psf_flux", "gaussian_flux")
    config: ExtendednessConfig

    def fields(self) -> list[Field]:
        return [
            _f(
                "extendedness",
                np.float64,
                "",
                "1 if psf_flux / (gaussian_flux / gaussian_flux_psf) < threshold, 0 if not, NaN if unknown",
            )
        ]

    def measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        if "gaussian_flux_psf" not in catalog.schema:
            raise MeasurementError("extendedness needs gaussian_flux with do_psf_normalisation=True")
        norm = catalog["gaussian_flux_psf"][rows]
        model = psf_normalised_model_flux(catalog["gaussian_flux"][rows], norm)
        model_err = psf_normalised_model_flux(catalog["gaussian_flux_err"][rows], norm)
        cfg = self.config
        value = extendedness(
            catalog["psf_flux"][rows], model, threshold=cfg.threshold,
            psf_flux_err=catalog["psf_flux_err"][rows], model_flux_err=model_err,
            psf_err_factor=cfg.psf_err_factor, model_err_factor=cfg.model_err_factor,
        )  # fmt: skip
        catalog["extendedness"][rows] = value
        catalog[self.flag_name][rows] = ~np.isfinite(value)
