# SPDX-License-Identifier: GPL-3.0-or-later
"""Photometric calibration of one detector: aperture corrections, zero point, calibrated columns.

`ApertureCorrectionTask` fits, for each model flux (``psf_flux``, ``gaussian_flux``), the ratio of
a large calibration aperture's flux to the model flux of bright isolated stars as a Chebyshev
field over the detector (`skystack.algorithms.photocal.fit_aperture_corrections`) and applies it,
so that model fluxes measure the same total flux as the aperture. `PhotoCalTask` fits the zero
point of the aperture-corrected PSF fluxes of matched point-like reference stars with outlier
rejection (`skystack.algorithms.photocal.fit_zero_point`). `add_calibrated_columns` adds ``coord_ra``,
``coord_dec`` and, for each flux, ``<flux>_njy`` / ``_njy_err`` (nJy) and ``<flux>_mag`` /
``_mag_err`` (AB).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from skystack.algorithms.measure import extendedness
from skystack.algorithms.photocal import (
    ApertureCorrectionResult,
    ZeroPointResult,
    apply_aperture_correction,
    fit_aperture_corrections,
    fit_zero_point,
)
from skystack.algorithms.reference_catalog import ReferenceCatalog
from skystack.config import Config, field
from skystack.geom import Box2I, SkyWcs
from skystack.image import PhotoCalib
from skystack.table import Field, SourceCatalog
from skystack.task import Struct, Task, timed

__all__ = [
    "ApertureCorrectionConfig",
    "ApertureCorrectionTask",
    "PhotoCalConfig",
    "PhotoCalResult",
    "PhotoCalTask",
    "add_calibrated_columns",
]


def _set(catalog: SourceCatalog, name: str, values: np.ndarray, unit: str, doc: str) -> None:
    if name in catalog.schema:
        catalog[name] = values
    else:
        catalog.add_column(Field(name, np.asarray(values).dtype, unit, doc), values)


class ApertureCorrectionConfig(Config):
    """Config of `ApertureCorrectionTask`."""

    calib_flux: str = field("ap_flux_12_0", doc="The calibration aperture flux (large enough for all light).")
    fluxes: list[str] = field(
        default_factory=lambda: ["psf_flux", "gaussian_flux"], doc="Model fluxes to correct."
    )
    order: int = field(1, doc="Chebyshev order of the correction over the detector.", ge=0, le=4)
    min_sn: float = field(20.0, doc="Stars with a lower calibration-aperture S/N are not used.", gt=0)
    n_sigma: float = field(3.0, doc="Clipping threshold.", gt=0)


class ApertureCorrectionTask(Task):
    """Fit and apply aperture corrections of model fluxes from bright PSF stars."""

    ConfigClass = ApertureCorrectionConfig
    default_name = "ap_corr"
    config: ApertureCorrectionConfig

    @timed
    def run(self, catalog: SourceCatalog, stars: np.ndarray, bbox: Box2I) -> ApertureCorrectionResult:
        """Fit on the rows ``stars`` (boolean) and correct every row's model fluxes in place.

        Each corrected flux keeps its raw value in ``<flux>_raw`` and gets ``<flux>_ap_corr``.

        Raises
        ------
        ValueError
            If too few stars are usable (the message says how many are needed).
        """
        c = self.config
        cal = np.asarray(catalog[c.calib_flux], dtype=float)
        cal_err = np.asarray(catalog[f"{c.calib_flux}_err"], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            good = stars & np.isfinite(cal) & (cal / cal_err >= c.min_sn) & ~catalog[f"{c.calib_flux}_flag"]
        rows = np.flatnonzero(good)
        x = np.asarray(catalog["slot_centroid_x"], dtype=float)
        y = np.asarray(catalog["slot_centroid_y"], dtype=float)
        fluxes = {
            name: (
                np.asarray(catalog[name], dtype=float)[rows],
                np.asarray(catalog[f"{name}_err"], dtype=float)[rows],
            )
            for name in c.fluxes
        }
        order = c.order
        while True:
            try:
                result = fit_aperture_corrections(
                    x[rows], y[rows], cal[rows], cal_err[rows], fluxes, bbox, order=order, n_sigma=c.n_sigma
                )
                break
            except ValueError:
                if order == 0:
                    raise
                order -= 1
                self.log.info("too few stars for the aperture correction: order lowered to %d", order)
        self.metadata["order"] = order
        for name in c.fluxes:
            raw = np.asarray(catalog[name], dtype=float).copy()
            raw_err = np.asarray(catalog[f"{name}_err"], dtype=float).copy()
            corrected, corrected_err = apply_aperture_correction(result.ap_corr_map, name, raw, raw_err, x, y)
            _set(catalog, f"{name}_raw", raw, "ct", f"{name} before the aperture correction")
            with np.errstate(divide="ignore", invalid="ignore"):
                _set(
                    catalog, f"{name}_ap_corr", corrected / raw, "", f"Aperture correction applied to {name}"
                )
            catalog[name] = corrected
            catalog[f"{name}_err"] = corrected_err
            self.metadata[f"{name}.n_stars"] = int(result.fits[name].n_used)
            self.metadata[f"{name}.scatter"] = float(result.fits[name].scatter)
        return result


class PhotoCalConfig(Config):
    """Config of `PhotoCalTask`."""

    flux: str = field("psf_flux", doc="Instrumental flux calibrated against the references.")
    max_extendedness: float = field(0.5, doc="Only sources with a lower extendedness are used.", ge=0, le=1)
    min_sn: float = field(20.0, doc="Sources with a lower S/N are not used.", gt=0)
    n_sigma: float = field(3.0, doc="Clipping threshold of the zero-point fit.", gt=0)
    min_stars: int = field(3, doc="Fewest stars for a zero point.", ge=1)


class PhotoCalResult(Struct):
    """What `PhotoCalTask.run` returns: the calibration and the zero-point fit."""

    photo_calib: PhotoCalib
    fit: ZeroPointResult


class PhotoCalTask(Task):
    """Zero point of a detector from matched point-like reference stars."""

    ConfigClass = PhotoCalConfig
    default_name = "photocal"
    config: PhotoCalConfig

    @timed
    def run(
        self, catalog: SourceCatalog, refcat: ReferenceCatalog, source_rows: np.ndarray, ref_index: np.ndarray
    ) -> PhotoCalResult:
        """Fit the zero point from the matched pairs (``source_rows`` ↔ ``ref_index``).

        Raises
        ------
        ValueError
            If the reference catalogue has no fluxes in the exposure's band, or too few stars
            are usable.
        """
        c = self.config
        if not np.isfinite(refcat.flux).any():
            raise ValueError(
                f"the reference catalogue has no flux in band {refcat.band!r}; give a catalogue with "
                f"'{refcat.band}_flux' columns or switch off photometric calibration (do_photocal=False)"
            )
        flux = np.asarray(catalog[c.flux], dtype=float)[source_rows]
        err = np.asarray(catalog[f"{c.flux}_err"], dtype=float)[source_rows]
        ext = np.asarray(catalog["extendedness"], dtype=float)[source_rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            keep = (
                (flux / err >= c.min_sn) & ~(ext >= c.max_extendedness) & np.isfinite(refcat.flux[ref_index])
            )
        rows, refs = source_rows[keep], ref_index[keep]
        fit = fit_zero_point(
            np.asarray(catalog[c.flux], dtype=float)[rows],
            np.asarray(catalog[f"{c.flux}_err"], dtype=float)[rows],
            refcat.flux[refs],
            refcat.flux_err[refs],
            n_sigma=c.n_sigma,
            min_stars=c.min_stars,
        )
        used = np.zeros(len(catalog), dtype=bool)
        used[rows[fit.used]] = True
        _set(catalog, "calib_photometry_used", used, "", "Used in the zero-point fit")
        md = self.metadata
        md["zero_point"] = float(fit.zero_point)
        md["zero_point_err"] = float(fit.zero_point_err)
        md["n_stars"] = int(fit.n_used)
        md["scatter_mag"] = float(fit.scatter)
        return PhotoCalResult(photo_calib=fit.photo_calib(), fit=fit)


def add_calibrated_columns(
    catalog: SourceCatalog,
    wcs: SkyWcs,
    photo_calib: PhotoCalib | None,
    fluxes: Sequence[str],
    *,
    extendedness_threshold: float = 0.985,
) -> None:
    """Sky coordinates and calibrated fluxes/magnitudes of every row (in place).

    ``coord_ra``/``coord_dec`` (degrees) come from the slot centroid through ``wcs``. For each
    flux in ``fluxes`` present in the catalog: ``<flux>_njy``, ``<flux>_njy_err`` (nJy) and
    ``<flux>_mag``, ``<flux>_mag_err`` (AB) through ``photo_calib`` at the source's position.
    ``extendedness`` is recomputed from the aperture-corrected PSF and Gaussian fluxes.
    """
    x = np.asarray(catalog["slot_centroid_x"], dtype=float)
    y = np.asarray(catalog["slot_centroid_y"], dtype=float)
    ra, dec = wcs.pixel_to_sky(x, y)
    catalog["coord_ra"] = np.asarray(ra, dtype=float)
    catalog["coord_dec"] = np.asarray(dec, dtype=float)
    if "gaussian_flux" in catalog.schema and "extendedness" in catalog.schema:
        catalog["extendedness"] = extendedness(
            catalog["psf_flux"], catalog["gaussian_flux"], threshold=extendedness_threshold
        )
    if photo_calib is None:
        return
    for name in fluxes:
        if name not in catalog.schema:
            continue
        flux = np.asarray(catalog[name], dtype=float)
        err = np.asarray(catalog[f"{name}_err"], dtype=float)
        njy, njy_err = photo_calib.instflux_to_njy_with_error(flux, err, x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            mag, mag_err = photo_calib.instflux_to_magnitude_with_error(flux, err, x, y)
        _set(catalog, f"{name}_njy", np.asarray(njy, dtype=float), "nJy", f"{name} calibrated to nJy")
        _set(catalog, f"{name}_njy_err", np.asarray(njy_err, dtype=float), "nJy", f"Error of {name}_njy")
        _set(catalog, f"{name}_mag", np.asarray(mag, dtype=float), "mag", f"{name} as an AB magnitude")
        _set(catalog, f"{name}_mag_err", np.asarray(mag_err, dtype=float), "mag", f"Error of {name}_mag")
