# SPDX-License-Identifier: GPL-3.0-or-later
"""`BootstrapImCharTask`: post-ISR exposures of a visit/detector → ``calexp``, its background, ``src``.

The single-frame characterisation and calibration of LDM-151 §5.1.1 (the Rubin ``calibrateImage``
role), each step a subtask or a switch of the config:

1. **snaps** — with two snaps, their post-ISR images are summed with rejection of pixels that
   disagree (cosmic rays, satellites; flagged ``CR``);
2. **background** — a coarse binned sky model subtracted (`SubtractBackgroundTask`);
3. **repair** — cosmic rays found and interpolated (``own`` or ``astroscrappy``), with a Gaussian PSF
   of ``initial_psf_fwhm`` arcsec;
4. **PSF** — ``psf_iterations`` times: bright detection (``psf_detection``, a high threshold),
   measurement, PSF-star selection and a spatially varying pixel PSF (`MeasurePsfTask`);
5. **detection** — footprints and peaks at ``detection.threshold`` on the image smoothed by the
   PSF; a finer background pass with the detections masked, then detection again;
6. **deblend** — multi-peak footprints split into children (`DeblendTask`);
7. **measurement** — the plugins (`SingleFrameMeasurementTask`): centroid, adaptive shape,
   pixel flags, local background, aperture fluxes, PSF flux, Gaussian flux, extendedness;
8. **aperture corrections** of the model fluxes from the PSF stars (`ApertureCorrectionTask`);
9. **astrometry** — reference stars in the detector's area at the exposure's epoch (proper
   motions applied), pattern match, TAN-SIP fit (`AstrometryTask`);
10. **photometric calibration** — zero point from matched point-like stars (`PhotoCalTask`);
11. calibrated columns: ``coord_ra``/``coord_dec`` (deg), ``<flux>_njy`` (nJy), ``<flux>_mag`` (AB).

`run` takes in-memory objects and no Butler; ``run_quantum`` reads ``post_isr`` (one or two snaps)
and the reference-catalogue shards overlapping the detector, and writes ``calexp`` (with PSF, WCS,
PhotoCalib and aperture corrections), ``calexp_background`` and ``src``. A detector that cannot be
calibrated — mostly saturated or empty, too few PSF stars, no astrometric match, no zero point —
ends the quantum with `~skystack.pipe.NoWorkFound`; the reason is in the task metadata
(``failure.step`` and ``failure.reason``), never a crash of the run. The ``src`` columns are
documented in ``doc/single-frame.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.spatial import cKDTree

from skystack.algorithms.astrometry import MatchError
from skystack.algorithms.isr import combine_snaps
from skystack.algorithms.psf import PsfDeterminationError
from skystack.algorithms.reference_catalog import (
    ReferenceCatalog,
    ReferenceCatalogError,
    load_reference_catalog,
    mjd_to_julian_year,
)
from skystack.config import Config, SubtaskSelection, field, subtask_field
from skystack.image import Exposure
from skystack.image.background import BackgroundList
from skystack.image.psf import GaussianPsf, Psf
from skystack.pipe import (
    Input,
    NoWorkFound,
    Output,
    PipelineTask,
    PipelineTaskConfig,
    PipelineTaskConnections,
    PrerequisiteInput,
    QuantumContext,
)
from skystack.table import IdFactory, SourceCatalog
from skystack.task import Struct, timed

from .astrometry import AstrometryTask
from .background import FineBackgroundTask, SubtractBackgroundTask
from .detection import (
    BrightStarDetectionTask,
    DeblendTask,
    PsfCandidateMeasurementTask,
    SingleFrameMeasurementTask,
    SourceDetectionTask,
    make_source_catalog,
)
from .measure_psf import MeasurePsfTask
from .photocal import ApertureCorrectionTask, PhotoCalTask, add_calibrated_columns
from .repair import REPAIR_CHOICES, CosmicRayTask

__all__ = [
    "BootstrapImCharConfig",
    "BootstrapImCharConnections",
    "BootstrapImCharResult",
    "BootstrapImCharTask",
    "CalibrationFailure",
]

VISIT_DETECTOR = ("instrument", "visit", "detector")
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


class CalibrationFailure(RuntimeError):
    """A step of BootstrapImChar could not be done on this detector (``step`` names it)."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


class BootstrapImCharConnections(PipelineTaskConnections, dimensions=VISIT_DETECTOR):
    """Datasets of `BootstrapImCharTask`."""

    post_isr = Input(
        name="post_isr",
        storage_class="Exposure",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
        doc="The post-ISR snaps (one or two) of the visit on this detector.",
    )
    ref_cat = PrerequisiteInput(
        name="ref_cat",
        storage_class="ArrowTable",
        dimensions=("healpix8",),
        multiple=True,
        minimum=0,
        doc="Reference-catalogue shards overlapping the detector (found by sky region).",
    )
    calexp = Output(
        name="calexp",
        storage_class="Exposure",
        dimensions=VISIT_DETECTOR,
        doc="Calibrated exposure: background subtracted, with PSF, WCS, PhotoCalib, aperture corrections.",
    )
    calexp_background = Output(
        name="calexp_background",
        storage_class="BackgroundList",
        dimensions=VISIT_DETECTOR,
        doc="The background models subtracted from the calexp.",
    )
    src = Output(
        name="src",
        storage_class="SourceCatalog",
        dimensions=VISIT_DETECTOR,
        doc="Sources detected and measured on the calexp, with calibrated columns.",
    )

    def __init__(self, *, config: Config | None = None) -> None:
        super().__init__(config=config)
        if config is not None and not (
            getattr(config, "do_astrometry", True) or getattr(config, "do_photocal", True)
        ):
            delattr(self, "ref_cat")


class BootstrapImCharConfig(PipelineTaskConfig, connections_class=BootstrapImCharConnections):
    """Config of `BootstrapImCharTask`."""

    snap_n_sigma: float = field(5.0, doc="Snap difference (sigma) above which a pixel is rejected.", gt=0)
    max_bad_fraction: float = field(
        0.9,
        doc="A detector with more SAT/BAD/NO_DATA pixels than this fraction is not processed.",
        gt=0,
        le=1,
    )
    initial_psf_fwhm: float = field(1.0, doc="FWHM (arcsec) of the Gaussian PSF used before the model.", gt=0)
    default_pixel_scale: float = field(0.2, doc="Pixel scale (arcsec) when the exposure has no WCS.", gt=0)
    background: SubtaskSelection = subtask_field(
        choices={"binned": SubtractBackgroundTask}, default="binned", doc="Coarse background model."
    )
    fine_background: SubtaskSelection = subtask_field(
        choices={"binned": FineBackgroundTask},
        default="binned",
        doc="Residual background with the detections masked.",
    )
    do_repair: bool = field(True, doc="Find and repair cosmic rays.")
    repair: SubtaskSelection = subtask_field(choices=REPAIR_CHOICES, default="own", doc="Cosmic-ray finder.")
    psf_iterations: int = field(2, doc="Rounds of bright detection, measurement and PSF fitting.", ge=1, le=5)
    psf_detection: SubtaskSelection = subtask_field(
        choices={"threshold": BrightStarDetectionTask},
        default="threshold",
        doc="Bright-star detection (PSF).",
    )
    psf_measurement: SubtaskSelection = subtask_field(
        choices={"plugins": PsfCandidateMeasurementTask}, default="plugins", doc="PSF-candidate measurement."
    )
    measure_psf: SubtaskSelection = subtask_field(
        choices={"pixel": MeasurePsfTask}, default="pixel", doc="PSF-star selection and PSF model."
    )
    detection: SubtaskSelection = subtask_field(
        choices={"threshold": SourceDetectionTask}, default="threshold", doc="Detection of all sources."
    )
    do_deblend: bool = field(True, doc="Deblend multi-peak footprints.")
    deblend: SubtaskSelection = subtask_field(choices={"sdss": DeblendTask}, default="sdss", doc="Deblender.")
    measurement: SubtaskSelection = subtask_field(
        choices={"plugins": SingleFrameMeasurementTask}, default="plugins", doc="Source measurement."
    )
    do_ap_corr: bool = field(True, doc="Fit and apply aperture corrections.")
    ap_corr: SubtaskSelection = subtask_field(
        choices={"chebyshev": ApertureCorrectionTask}, default="chebyshev", doc="Aperture corrections."
    )
    do_astrometry: bool = field(True, doc="Fit a WCS against the reference catalogue.")
    astrometry: SubtaskSelection = subtask_field(
        choices={"pattern": AstrometryTask}, default="pattern", doc="Astrometric matching and WCS fit."
    )
    do_photocal: bool = field(True, doc="Fit the photometric zero point against the reference catalogue.")
    photocal: SubtaskSelection = subtask_field(
        choices={"zero_point": PhotoCalTask}, default="zero_point", doc="Photometric calibration."
    )
    refcat_margin: float = field(
        50.0, doc="Reference stars this far (pixels) outside the detector are kept.", ge=0
    )
    calibrated_fluxes: list[str] = field(
        default_factory=lambda: ["psf_flux", "gaussian_flux", "ap_flux_12_0"],
        doc="Flux columns that get calibrated _njy and _mag columns.",
    )


class BootstrapImCharResult(Struct):
    """What `BootstrapImCharTask.run` returns.

    Attributes
    ----------
    exposure : `~skystack.image.Exposure`
        The calexp (background-subtracted, with PSF, WCS, PhotoCalib, ApCorrMap).
    background : `~skystack.image.background.BackgroundList`
        The subtracted background models.
    source_catalog : `~skystack.table.SourceCatalog`
        The ``src`` catalog.
    """

    exposure: Exposure
    background: BackgroundList
    source_catalog: SourceCatalog


class BootstrapImCharTask(PipelineTask):
    """Characterise and calibrate one visit/detector (module docstring lists the steps)."""

    ConfigClass = BootstrapImCharConfig
    default_name = "bootstrap_imchar"
    config: BootstrapImCharConfig
    background: SubtractBackgroundTask
    fine_background: SubtractBackgroundTask
    repair: CosmicRayTask
    psf_detection: SourceDetectionTask
    psf_measurement: SingleFrameMeasurementTask
    measure_psf: MeasurePsfTask
    detection: SourceDetectionTask
    deblend: DeblendTask
    measurement: SingleFrameMeasurementTask
    ap_corr: ApertureCorrectionTask
    astrometry: AstrometryTask
    photocal: PhotoCalTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in (
            "background",
            "fine_background",
            "repair",
            "psf_detection",
            "psf_measurement",
            "measure_psf",
            "detection",
            "deblend",
            "measurement",
            "ap_corr",
            "astrometry",
            "photocal",
        ):
            self.make_subtask(name)

    # -- steps ------------------------------------------------------------------------------------
    @timed
    def combine_snaps(self, exposures: Sequence[Exposure]) -> Exposure:
        """The single exposure, or the first snap with the second summed into it (``CR`` flagged)."""
        if not exposures:
            raise CalibrationFailure("snaps", "no post-ISR exposure given")
        if len(exposures) > 2:
            raise CalibrationFailure("snaps", f"{len(exposures)} snaps given; at most two are combined")
        first = exposures[0]
        if len(exposures) == 2:
            second = exposures[1]
            rejected = combine_snaps(
                first.image.array,
                first.variance.array,
                second.image.array,
                second.variance.array,
                self.config.snap_n_sigma,
            )
            first.mask.array[...] |= second.mask.array
            first.mask.add_plane("CR")
            first.mask.set_plane("CR", rejected)
            self.metadata["n_snap_rejected"] = int(rejected.sum())
            if first.visit_info is not None and second.visit_info is not None:
                first.visit_info = _summed_visit_info(first, second)
        self.metadata["n_snaps"] = len(exposures)
        return first

    def _pixel_scale(self, exposure: Exposure) -> float:
        if exposure.wcs is None:
            return self.config.default_pixel_scale
        return float(exposure.wcs.pixel_scale().arcseconds)

    def _check_usable(self, exposure: Exposure) -> None:
        mask = exposure.mask
        planes = [p for p in ("SAT", "BAD", "NO_DATA") if p in mask.plane_dict]
        fraction = float(mask.any_plane(*planes).mean()) if planes else 0.0
        self.metadata["bad_fraction"] = fraction
        if fraction > self.config.max_bad_fraction:
            raise CalibrationFailure(
                "check",
                f"{fraction:.1%} of the pixels are saturated, bad or without data (limit "
                f"max_bad_fraction={self.config.max_bad_fraction})",
            )

    @timed
    def characterize_psf(self, exposure: Exposure, psf: Psf) -> Psf:
        """Iterate bright detection, measurement and PSF fitting; the final PSF model."""
        for iteration in range(self.config.psf_iterations):
            sigma = _psf_sigma(psf)
            found = self.psf_detection.run(exposure, sigma, set_mask=False)
            table = make_source_catalog(found.positive, self.psf_measurement.schema, IdFactory())
            self.psf_measurement.run(table, exposure, psf)
            try:
                result = self.measure_psf.run(exposure, table.catalog)
            except PsfDeterminationError as err:
                raise CalibrationFailure("psf", str(err)) from err
            psf = result.determination.psf
            self.metadata[f"psf_iteration_{iteration}.fwhm"] = float(result.determination.fwhm["center"])
            self._psf_stars = (
                np.asarray(table.catalog["slot_centroid_x"])[table.catalog["calib_psf_used"]],
                np.asarray(table.catalog["slot_centroid_y"])[table.catalog["calib_psf_used"]],
                np.asarray(table.catalog["slot_centroid_x"])[table.catalog["calib_psf_reserved"]],
                np.asarray(table.catalog["slot_centroid_y"])[table.catalog["calib_psf_reserved"]],
            )
        return psf

    @timed
    def run(  # type: ignore[override]
        self,
        exposures: Exposure | Sequence[Exposure],
        ref_shards: Sequence[pa.Table] | None = None,
        id_factory: IdFactory | None = None,
    ) -> BootstrapImCharResult:
        """Characterise and calibrate one detector exposure (in place) and measure its sources.

        Parameters
        ----------
        exposures : `~skystack.image.Exposure` or sequence of them
            The post-ISR exposure, or its two snaps (electrons, with variance and mask). The WCS
            is the telescope's (it may be off by tens of arcsec).
        ref_shards : sequence of `pyarrow.Table`, optional
            Reference-catalogue shards covering the detector (needed with ``do_astrometry`` or
            ``do_photocal``).
        id_factory : `~skystack.table.IdFactory`, optional
            Source ids (the visit/detector's id space in a pipeline).

        Returns
        -------
        result : `BootstrapImCharResult`

        Raises
        ------
        CalibrationFailure
            If a step cannot be done on this detector (names the step and the reason).
        """
        c = self.config
        exposure = self.combine_snaps([exposures] if isinstance(exposures, Exposure) else list(exposures))
        self._check_usable(exposure)
        scale = self._pixel_scale(exposure)
        background = self.background.run(exposure).background
        psf: Psf = GaussianPsf(c.initial_psf_fwhm / scale / _FWHM_PER_SIGMA)
        if c.do_repair:
            self.repair.run(exposure, c.initial_psf_fwhm / scale)
        # a finer background estimated under the mask of the sources detected with the initial PSF
        self.detection.run(exposure, _psf_sigma(psf))
        self.fine_background.run(exposure, background)
        psf = self.characterize_psf(exposure, psf)
        exposure.psf = psf
        found = self.detection.run(exposure, _psf_sigma(psf))
        if len(found.positive) == 0:
            raise CalibrationFailure("detection", "no source above the detection threshold")
        parents = self.deblend.run(exposure, found.positive, psf) if c.do_deblend else found.positive
        table = make_source_catalog(
            parents,
            self.measurement.schema,
            id_factory or IdFactory(),
            max_footprint_area=self.deblend.config.max_footprint_area,
        )
        catalog = self.measurement.run(table, exposure, psf)
        self._flag_psf_stars(catalog)
        if c.do_ap_corr:
            stars = np.asarray(catalog["calib_psf_used"], dtype=bool) | np.asarray(
                catalog["calib_psf_reserved"], dtype=bool
            )
            try:
                exposure.ap_corr_map = self.ap_corr.run(catalog, stars, exposure.bbox).ap_corr_map
            except ValueError as err:
                raise CalibrationFailure("ap_corr", str(err)) from err
        add_calibrated_columns(catalog, exposure.wcs, None, []) if exposure.wcs is not None else None
        if c.do_astrometry or c.do_photocal:
            refcat = self._load_refcat(exposure, ref_shards)
            if c.do_astrometry:
                if exposure.wcs is None:
                    raise CalibrationFailure("astrometry", "the exposure has no initial WCS to match with")
                try:
                    astrom = self.astrometry.run(catalog, exposure.wcs, refcat, exposure.bbox)
                except (MatchError, ValueError) as err:
                    raise CalibrationFailure("astrometry", str(err)) from err
                exposure.wcs = astrom.wcs
                refcat = self._load_refcat(exposure, ref_shards)
                rows, refs = self.astrometry_matches(catalog, exposure, refcat)
            else:
                rows, refs = self.astrometry_matches(catalog, exposure, refcat)
            if c.do_photocal:
                try:
                    exposure.photo_calib = self.photocal.run(catalog, refcat, rows, refs).photo_calib
                except ValueError as err:
                    raise CalibrationFailure("photocal", str(err)) from err
        if exposure.wcs is not None:
            add_calibrated_columns(catalog, exposure.wcs, exposure.photo_calib, c.calibrated_fluxes)
        self.metadata["n_sources"] = len(catalog)
        return BootstrapImCharResult(exposure=exposure, background=background, source_catalog=catalog)

    def _load_refcat(self, exposure: Exposure, ref_shards: Sequence[pa.Table] | None) -> ReferenceCatalog:
        if not ref_shards:
            raise CalibrationFailure(
                "refcat",
                "no reference-catalogue shard overlaps the detector; ingest one (butler ingest-refcat) or "
                "set do_astrometry=False and do_photocal=False",
            )
        visit_info = exposure.visit_info
        epoch = None
        if visit_info is not None and visit_info.mjd_tai is not None:
            epoch = mjd_to_julian_year(visit_info.mjd_tai)
        try:
            return load_reference_catalog(
                ref_shards,
                epoch=epoch,
                band=exposure.band,
                wcs=exposure.wcs,
                bbox=exposure.bbox,
                margin=self.config.refcat_margin,
            )
        except ReferenceCatalogError as err:
            raise CalibrationFailure("refcat", str(err)) from err

    def astrometry_matches(
        self, catalog: SourceCatalog, exposure: Exposure, refcat: ReferenceCatalog
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (catalog rows, reference indices) matched through the exposure's WCS."""
        from .astrometry import _nearest_matches, usable_sources

        assert exposure.wcs is not None
        rows = usable_sources(catalog, self.astrometry.config.min_sn)
        src, ref = _nearest_matches(
            exposure.wcs,
            np.asarray(catalog["slot_centroid_x"], dtype=float)[rows],
            np.asarray(catalog["slot_centroid_y"], dtype=float)[rows],
            refcat,
            self.astrometry.config.match_radius,
        )
        self.metadata["n_refcat_matches"] = int(src.size)
        return rows[src], ref

    def _flag_psf_stars(self, catalog: SourceCatalog) -> None:
        """Carry the PSF-star flags of the characterisation catalog to the nearest final sources."""
        from skystack.table import Field

        x = np.asarray(catalog["slot_centroid_x"], dtype=float)
        y = np.asarray(catalog["slot_centroid_y"], dtype=float)
        finite = np.isfinite(x) & np.isfinite(y) & np.asarray(catalog["is_primary"], dtype=bool)
        rows = np.flatnonzero(finite)
        ux, uy, rx, ry = getattr(self, "_psf_stars", (np.zeros(0),) * 4)
        for name, (sx, sy) in (("calib_psf_used", (ux, uy)), ("calib_psf_reserved", (rx, ry))):
            flag = np.zeros(len(catalog), dtype=bool)
            if rows.size and len(sx):
                dist, idx = cKDTree(np.column_stack([x[rows], y[rows]])).query(np.column_stack([sx, sy]))
                flag[rows[idx[dist < 1.5]]] = True
            catalog.add_column(Field(name, np.dtype(bool), "", f"PSF star ({name})"), flag)

    # -- pipeline ---------------------------------------------------------------------------------
    def run_quantum(
        self,
        butler_quantum_context: QuantumContext,
        input_refs: Mapping[str, Any],
        output_refs: Mapping[str, Any],
    ) -> Struct:
        """Read the snaps and reference shards, `run`, and write ``calexp``, its background and ``src``.

        Raises
        ------
        skystack.pipe.NoWorkFound
            If a step cannot be done on this detector; ``failure.step`` and ``failure.reason`` are
            in the task metadata.
        """
        context = butler_quantum_context
        post_isr_refs = sorted(_as_list(input_refs["post_isr"]), key=lambda r: int(r.data_id["exposure"]))
        exposures = [context.get(ref) for ref in post_isr_refs]
        shards = [context.get(ref) for ref in _as_list(input_refs.get("ref_cat", []))]
        data_id = _as_list(output_refs["src"])[0].data_id
        id_factory = IdFactory(exposure_id=_visit_detector_id(data_id))
        try:
            result = self.run(exposures, shards, id_factory)
        except CalibrationFailure as err:
            self.metadata["failure.step"] = err.step
            self.metadata["failure.reason"] = err.reason
            self.log.warning("BootstrapImChar gave up on %s at %s: %s", dict(data_id), err.step, err.reason)
            raise NoWorkFound(str(err)) from err
        context.put(result.exposure, _as_list(output_refs["calexp"])[0])
        context.put(result.background, _as_list(output_refs["calexp_background"])[0])
        context.put(result.source_catalog, _as_list(output_refs["src"])[0])
        return result


def _as_list(refs: Any) -> list[Any]:
    if refs is None:
        return []
    return list(refs) if isinstance(refs, list | tuple) else [refs]


def _visit_detector_id(data_id: Any) -> int:
    """A 31-bit id space per visit/detector: visit × 256 + detector (wrapped to 31 bits)."""
    return (int(data_id["visit"]) * 256 + int(data_id["detector"])) % (1 << 31)


def _psf_sigma(psf: Psf) -> float:
    return float(psf.fwhm()) / _FWHM_PER_SIGMA


def _summed_visit_info(first: Exposure, second: Exposure) -> Any:
    """The visit info of the snap sum: the exposure time is the sum of both snaps'."""
    a, b = first.visit_info, second.visit_info
    assert a is not None and b is not None
    data = a.to_dict()
    if a.exposure_time is not None and b.exposure_time is not None:
        data["exposure_time"] = a.exposure_time + b.exposure_time
    if a.mjd_tai is not None and b.mjd_tai is not None:
        data["mjd_tai"] = 0.5 * (a.mjd_tai + b.mjd_tai)
    return type(a).from_dict(data)
