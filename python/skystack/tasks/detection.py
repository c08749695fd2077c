# SPDX-License-Identifier: GPL-3.0-or-later
"""Detection, deblending and measurement as Tasks: footprints → a `SourceCatalog` with measurements.

`SourceDetectionTask` finds footprints and peaks on the PSF-smoothed image
(`skystack.algorithms.detection.detect_sources`) and sets the ``DETECTED`` mask plane;
`DeblendTask` splits multi-peak footprints into children
(`skystack.algorithms.detection.deblend`); `make_source_catalog` turns both into catalog rows
(every parent, then the children of blended parents, with ``parent`` ids and ``is_primary`` set
for the rows that are not blended parents) and the footprints the measurement needs
(`~skystack.image.HeavyFootprint` for children); `SingleFrameMeasurementTask` runs the measurement
plugins on them (`skystack.algorithms.measure.SingleFrameMeasurement`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from skystack.algorithms.detection import DeblendedParent, DetectionResult, deblend, detect_sources
from skystack.algorithms.measure import SingleFrameMeasurement, SingleFrameMeasurementConfig
from skystack.algorithms.measure.plugins import ApertureFluxConfig, PsfFluxConfig
from skystack.config import Config, field
from skystack.image import Exposure, Footprint
from skystack.image.footprint_set import FootprintSet
from skystack.image.psf import Psf
from skystack.table import IdFactory, Schema, SourceCatalog
from skystack.task import Struct, Task, timed

__all__ = [
    "BrightStarDetectionConfig",
    "BrightStarDetectionTask",
    "DeblendConfig",
    "DeblendTask",
    "PsfCandidateMeasurementConfig",
    "PsfCandidateMeasurementTask",
    "SingleFrameMeasurementTask",
    "SingleFrameMeasurementTaskConfig",
    "SourceDetectionConfig",
    "SourceDetectionTask",
    "SourceTable",
    "make_source_catalog",
]


class SourceDetectionConfig(Config):
    """Config of `SourceDetectionTask`."""

    threshold: float = field(5.0, doc="Detection threshold, in units of threshold_type.", gt=0)
    threshold_type: Literal["stdev", "variance", "value"] = field(
        "stdev", doc="stdev: per-pixel sigma of the smoothed image; variance: one sigma; value: counts."
    )
    min_pixels: int = field(1, doc="Footprints with fewer pixels above threshold are dropped.", ge=1)
    grow: float = field(2.4, doc="Footprints are grown by this many PSF sigmas.", ge=0)
    bad_mask_planes: list[str] = field(
        default_factory=lambda: ["BAD", "NO_DATA"], doc="Pixels in these planes are never detected."
    )
    mask_plane: str = field("DETECTED", doc="Mask plane set on the pixels of the footprints.")


class SourceDetectionTask(Task):
    """Footprints and peaks above a threshold of the PSF-smoothed image."""

    ConfigClass = SourceDetectionConfig
    default_name = "detection"
    config: SourceDetectionConfig

    @timed
    def run(self, exposure: Exposure, psf_sigma: float, *, set_mask: bool = True) -> DetectionResult:
        """Detect sources on a background-subtracted ``exposure``.

        Parameters
        ----------
        exposure : `~skystack.image.Exposure`
            Background-subtracted; its variance plane sets the threshold.
        psf_sigma : `float`
            Gaussian sigma (pixels) of the smoothing kernel (the PSF's).
        set_mask : `bool`
            Set ``config.mask_plane`` on the footprints' pixels (cleared first).

        Returns
        -------
        result : `~skystack.algorithms.detection.DetectionResult`
            Positive footprints only.
        """
        c = self.config
        mask = exposure.mask
        bad = [p for p in c.bad_mask_planes if p in mask.plane_dict]
        result = detect_sources(
            exposure.image.array,
            exposure.variance.array,
            mask,
            psf_sigma=psf_sigma,
            threshold=c.threshold,
            threshold_type=c.threshold_type,
            min_pixels=c.min_pixels,
            grow=c.grow,
            bad_mask_bits=bad,
            xy0=(exposure.bbox.min_x, exposure.bbox.min_y),
        )
        if set_mask:
            mask.add_plane(c.mask_plane)
            mask.clear_plane(c.mask_plane)
            if len(result.footprints):
                labels = result.footprints.to_label_image(exposure.bbox)
                mask.set_plane(c.mask_plane, labels > 0)
        self.metadata["n_footprints"] = len(result.footprints)
        self.metadata["n_peaks"] = result.num_peaks
        return result


class BrightStarDetectionConfig(SourceDetectionConfig):
    """Config of `BrightStarDetectionTask`: a high threshold, for PSF candidates."""

    threshold: float = field(10.0, doc="Detection threshold, in units of threshold_type.", gt=0)


class BrightStarDetectionTask(SourceDetectionTask):
    """`SourceDetectionTask` with a high default threshold (PSF-star candidates only)."""

    ConfigClass = BrightStarDetectionConfig
    config: BrightStarDetectionConfig


class DeblendConfig(Config):
    """Config of `DeblendTask`."""

    max_children: int = field(50, doc="Parents with more peaks keep only this many brightest.", ge=2)
    min_peak_separation: float = field(2.0, doc="Peaks closer than this (pixels) are merged.", gt=0)
    monotonic: bool = field(True, doc="Make the symmetric templates monotonic from their peak.")
    psf_chisq_max: float = field(1.5, doc="Children fitting the PSF this well are point-like.", gt=0)
    max_footprint_area: int = field(
        100000, doc="Footprints larger than this (pixels) are not deblended (flagged).", ge=1
    )


class DeblendTask(Task):
    """Split multi-peak footprints into children (symmetric templates, flux apportioned)."""

    ConfigClass = DeblendConfig
    default_name = "deblend"
    config: DeblendConfig

    @timed
    def run(self, exposure: Exposure, footprints: FootprintSet, psf: Psf | None) -> list[DeblendedParent]:
        """One `DeblendedParent` per footprint (no children when it was not split)."""
        c = self.config
        keep = [fp for fp in footprints if fp.area <= c.max_footprint_area]
        skipped = len(footprints) - len(keep)
        small = FootprintSet(keep, footprints.region)
        psf_image = None if psf is None else psf.compute_kernel_image()
        parents = deblend(
            exposure.image.array,
            small,
            variance=exposure.variance.array,
            psf_image=psf_image,
            xy0=(exposure.bbox.min_x, exposure.bbox.min_y),
            max_children=c.max_children,
            min_peak_separation=c.min_peak_separation,
            monotonic=c.monotonic,
            psf_chisq_max=c.psf_chisq_max,
        )
        big = [
            DeblendedParent(len(parents) + k, fp)
            for k, fp in enumerate(footprints)
            if fp.area > c.max_footprint_area
        ]
        self.metadata["n_skipped_large"] = skipped
        self.metadata["n_blended"] = sum(p.is_blended for p in parents)
        self.metadata["n_children"] = sum(len(p.children) for p in parents)
        return parents + big


class SourceTable(Struct):
    """A catalog with one footprint per row, ready for measurement."""

    catalog: SourceCatalog
    footprints: list[Footprint]


def make_source_catalog(
    parents: Sequence[DeblendedParent] | FootprintSet,
    schema: Schema,
    id_factory: IdFactory,
    *,
    max_footprint_area: int | None = None,
) -> SourceTable:
    """Catalog rows for detected (and deblended) sources.

    Every parent footprint with a peak gets a row; a blended parent's children follow all parents, each with
    ``parent`` = its parent's id. ``deblend_n_child`` counts children, ``is_primary`` marks the rows
    to use for science (unblended parents and children), ``deblend_point_like`` the children that
    fit the PSF, ``deblend_skipped`` parents too large to deblend (``max_footprint_area``),
    ``footprint_n_peaks`` the peaks of each row's footprint (a parent with several is a blend even
    when it was not deblended).

    Parameters
    ----------
    parents : sequence of `DeblendedParent`, or `FootprintSet`
        Deblender output, or footprints that were not deblended.
    schema : `~skystack.table.Schema`
        Schema of the catalog (the measurement's); the deblend columns are added if missing.
    id_factory : `~skystack.table.IdFactory`
        Hands out the source ids.
    max_footprint_area : `int`, optional
        Parents larger than this are flagged ``deblend_skipped``.
    """
    if isinstance(parents, FootprintSet):
        parents = [DeblendedParent(k, fp) for k, fp in enumerate(parents)]
    # a footprint without a peak (its maxima were all on masked pixels) has nothing to measure
    parents = [p for p in parents if len(p.parent.peaks)]
    for name, dtype, doc in (
        ("deblend_n_child", np.int32, "Number of deblended children of this parent"),
        ("is_primary", np.bool_, "Not a blended parent: use this row for science"),
        ("deblend_point_like", np.bool_, "Deblended child consistent with the PSF"),
        ("deblend_skipped", np.bool_, "Footprint too large to deblend"),
        ("footprint_n_peaks", np.int32, "Number of peaks in the source's footprint"),
    ):
        if name not in schema:
            schema.add_field(name, dtype, doc=doc)
    n_parent = len(parents)
    n_child = sum(len(p.children) for p in parents)
    catalog = SourceCatalog(schema, n_parent + n_child)
    ids = id_factory.next_ids(n_parent + n_child)
    catalog["id"] = ids
    parent_col = np.zeros(n_parent + n_child, dtype=np.int64)
    n_children = np.zeros(n_parent + n_child, dtype=np.int32)
    point_like = np.zeros(n_parent + n_child, dtype=bool)
    skipped = np.zeros(n_parent + n_child, dtype=bool)
    footprints: list[Footprint] = [p.parent for p in parents]
    row = n_parent
    for k, p in enumerate(parents):
        n_children[k] = len(p.children)
        if max_footprint_area is not None and p.parent.area > max_footprint_area:
            skipped[k] = True
        for j, child in enumerate(p.children):
            parent_col[row] = ids[k]
            point_like[row] = bool(p.point_like[j]) if j < len(p.point_like) else False
            footprints.append(child)
            row += 1
    catalog["parent"] = parent_col
    catalog["deblend_n_child"] = n_children
    catalog["is_primary"] = n_children == 0
    catalog["deblend_point_like"] = point_like
    catalog["deblend_skipped"] = skipped
    catalog["footprint_n_peaks"] = np.array([len(fp.peaks) for fp in footprints], dtype=np.int32)
    return SourceTable(catalog=catalog, footprints=footprints)


class SingleFrameMeasurementTaskConfig(Config):
    """Config of `SingleFrameMeasurementTask`: the plugins, in order, and their configs."""

    plugins: list[str] = field(
        default_factory=lambda: [
            "centroid",
            "shape",
            "pixel_flags",
            "local_background",
            "ap_flux",
            "psf_flux",
            "gaussian_flux",
            "extendedness",
        ],
        doc="Measurement plugins to run (registered names; see skystack.algorithms.measure.plugins).",
    )
    ap_flux: ApertureFluxConfig = field(
        default_factory=ApertureFluxConfig, doc="Config of the ap_flux plugin (aperture radii)."
    )
    psf_flux: PsfFluxConfig = field(
        default_factory=lambda: PsfFluxConfig(weighting="uniform"),
        doc="Config of the psf_flux plugin (uniform weights: unbiased when the variance plane comes "
        "from the noisy pixels, and the same PSF-model bias at every flux, which the aperture "
        "correction then removes).",
    )
    framework: SingleFrameMeasurementConfig = field(
        default_factory=SingleFrameMeasurementConfig, doc="Noise replacement of neighbours."
    )


class PsfCandidateMeasurementConfig(SingleFrameMeasurementTaskConfig):
    """Config of `PsfCandidateMeasurementTask`: only what PSF-star selection needs."""

    plugins: list[str] = field(
        default_factory=lambda: ["centroid", "shape", "pixel_flags", "ap_flux", "psf_flux"],
        doc="Measurement plugins to run (registered names; see skystack.algorithms.measure.plugins).",
    )


class SingleFrameMeasurementTask(Task):
    """Run the measurement plugins on every row of a catalog, neighbours replaced by noise."""

    ConfigClass = SingleFrameMeasurementTaskConfig
    default_name = "measurement"
    config: SingleFrameMeasurementTaskConfig

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        c = self.config
        framework = c.framework.copy()
        framework.plugins = list(c.plugins)
        configs: dict[str, Config] = {
            name: cfg for name, cfg in (("ap_flux", c.ap_flux), ("psf_flux", c.psf_flux)) if name in c.plugins
        }
        self.measurement = SingleFrameMeasurement(plugin_configs=configs, config=framework)

    @property
    def schema(self) -> Schema:
        """The schema the measurement fills (a copy)."""
        return self.measurement.schema.copy()

    @timed
    def run(self, table: SourceTable, exposure: Exposure, psf: Psf | None) -> SourceCatalog:
        """Measure every row of ``table.catalog`` (in place) on ``exposure`` with ``psf``."""
        mask = exposure.mask
        self.measurement.run(
            table.catalog,
            exposure.image.array,
            footprints=table.footprints,
            variance=exposure.variance.array,
            mask=mask.array,
            xy0=(exposure.bbox.min_x, exposure.bbox.min_y),
            psf=psf,
            plane_dict=dict(mask.plane_dict),
        )
        for name, seconds in self.measurement.timing.items():
            self.metadata[f"plugin_wall_s.{name}"] = seconds
        return table.catalog


class PsfCandidateMeasurementTask(SingleFrameMeasurementTask):
    """`SingleFrameMeasurementTask` running only the plugins PSF-star selection needs."""

    ConfigClass = PsfCandidateMeasurementConfig
    config: PsfCandidateMeasurementConfig
