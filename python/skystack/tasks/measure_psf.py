# SPDX-License-Identifier: GPL-3.0-or-later
"""`MeasurePsfTask`: PSF-star selection and a spatially varying pixel PSF model from a catalog.

Candidates are the isolated, unflagged, high-S/N sources on the stellar locus of the second
moments (`skystack.algorithms.psf.select_psf_candidates`); the model is a PSFEx-style pixel basis
with a polynomial in x, y over the detector, fitted to those stars with a reserved fraction kept
out for validation (`skystack.algorithms.psf.determine_psf`). The catalog gets the flags
``calib_psf_candidate``, ``calib_psf_used`` and ``calib_psf_reserved``.
"""

from __future__ import annotations

import numpy as np

from skystack.algorithms.psf import (
    PsfDeterminationError,
    PsfDeterminationResult,
    PsfDeterminerConfig,
    StarSelection,
    StarSelectorConfig,
    determine_psf,
    select_psf_candidates,
)
from skystack.config import Config, field
from skystack.image import Exposure
from skystack.table import Field, SourceCatalog
from skystack.task import Struct, Task, timed

__all__ = ["MeasurePsfConfig", "MeasurePsfResult", "MeasurePsfTask"]

_FLAGS = ("calib_psf_candidate", "calib_psf_used", "calib_psf_reserved")


class MeasurePsfConfig(Config):
    """Config of `MeasurePsfTask`."""

    flux_column: str = field("psf_flux", doc="Flux (and its _err) used for the S/N cut.")
    selector: StarSelectorConfig = field(
        default_factory=lambda: StarSelectorConfig(sn_min=20.0), doc="PSF-star selection cuts."
    )
    determiner: PsfDeterminerConfig = field(
        default_factory=lambda: PsfDeterminerConfig(min_stars_per_term=10.0),
        doc="PSF model fit (at least 10 stars per spatial term, so that the pixel model is not noise).",
    )
    lower_degree_if_needed: bool = field(
        True, doc="With too few stars for the determiner's spatial degree, lower it (down to 0) and retry."
    )
    bad_mask_planes: list[str] = field(
        default_factory=lambda: ["BAD", "SAT", "CR", "INTRP", "NO_DATA", "SUSPECT"],
        doc="Stars with such pixels in their stamp are not used.",
    )


class MeasurePsfResult(Struct):
    """What `MeasurePsfTask.run` returns: the determiner's result and the selection."""

    determination: PsfDeterminationResult
    selection: StarSelection


class MeasurePsfTask(Task):
    """Select PSF stars in a measured catalog and fit the PSF model."""

    ConfigClass = MeasurePsfConfig
    default_name = "measure_psf"
    config: MeasurePsfConfig

    @timed
    def run(self, exposure: Exposure, catalog: SourceCatalog) -> MeasurePsfResult:
        """Fit the PSF of ``exposure`` from the stars of ``catalog`` (flags set in place).

        Raises
        ------
        skystack.algorithms.psf.PsfDeterminationError
            If too few usable stars remain (the message says how many and why).
        """
        c = self.config
        flux_col = c.flux_column if c.flux_column in catalog.schema else "psf_flux"
        flags = {
            "saturated": catalog["pixel_flags_saturated_center"],
            "bad": catalog["pixel_flags_bad"],
            "edge": catalog["pixel_flags_edge"],
            "cr": catalog["pixel_flags_cr_center"],
            "blended": (np.asarray(catalog["deblend_n_child"]) > 0)
            | (np.asarray(catalog["footprint_n_peaks"]) > 1),
            "shape_failed": catalog["shape_flag"],
        }
        flags = {k: np.asarray(v, dtype=bool) for k, v in flags.items()}
        selection = select_psf_candidates(
            catalog["slot_centroid_x"],
            catalog["slot_centroid_y"],
            catalog[flux_col],
            catalog[f"{flux_col}_err"],
            catalog["shape_xx"],
            catalog["shape_yy"],
            catalog["shape_xy"],
            flags=flags,
            config=c.selector,
            bbox=exposure.bbox,
        )
        rows = np.flatnonzero(selection.mask)
        mask = exposure.mask
        planes = [p for p in c.bad_mask_planes if p in mask.plane_dict]
        bad = mask.any_plane(*planes) if planes else None
        determiner = c.determiner
        while True:
            try:
                result = determine_psf(
                    exposure.image.array,
                    exposure.variance.array,
                    np.asarray(catalog["slot_centroid_x"])[rows],
                    np.asarray(catalog["slot_centroid_y"])[rows],
                    mask=bad,
                    bbox=exposure.bbox,
                    config=determiner,
                )
                break
            except PsfDeterminationError:
                if not c.lower_degree_if_needed or determiner.spatial_degree == 0:
                    raise
                determiner = determiner.copy()
                determiner.spatial_degree -= 1
                self.log.info("too few PSF stars: spatial degree lowered to %d", determiner.spatial_degree)
        self.metadata["spatial_degree"] = determiner.spatial_degree
        n = len(catalog)
        values = {name: np.zeros(n, dtype=bool) for name in _FLAGS}
        values["calib_psf_candidate"][rows] = True
        values["calib_psf_used"][rows[result.used]] = True
        values["calib_psf_reserved"][rows[result.reserved]] = True
        for name, array in values.items():
            _set_flag(catalog, name, array)
        md = self.metadata
        md["n_candidates"] = int(rows.size)
        md["n_used"] = int(result.used.sum())
        md["n_reserved"] = int(result.reserved.sum())
        md["chi2_per_dof_used"] = float(result.chi2_per_dof_used)
        md["chi2_per_dof_reserved"] = float(result.chi2_per_dof_reserved)
        md["fwhm_center"] = float(result.fwhm["center"])
        return MeasurePsfResult(determination=result, selection=selection)


def _set_flag(catalog: SourceCatalog, name: str, values: np.ndarray) -> None:
    if name in catalog.schema:
        catalog[name] = values
    else:
        catalog.add_column(Field(name, np.dtype(bool), "", f"PSF star flag {name}"), values)
