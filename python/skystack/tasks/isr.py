# SPDX-License-Identifier: GPL-3.0-or-later
"""`IsrTask`: Instrument Signature Removal, raw amplifier segments → post-ISR `Exposure` (electrons).

Steps, in order, each switchable by config (``do_<step>``):

1. ``assembly`` — data sections of the amplifiers placed in detector orientation (float32 ADU);
2. ``saturation`` — pixels at their amplifier's saturation level (raw ADU) → ``SAT``, grown along
   columns over the bleed trails; pixels above ``suspect_fraction`` of it → ``SUSPECT``;
3. ``overscan`` — per-amplifier bias level from the serial overscan (estimator chosen by name:
   ``median``, ``mean_clipped``, ``per_row``, ``poly_rows``, ``spline_rows``);
4. ``crosstalk`` — ``C[i, j] × source_j`` removed from each victim (readout orientation, ADU);
5. ``linearize`` — per-amplifier polynomial response inverted (ADU);
   then the gain converts every amplifier to electrons (always; the output is in electrons);
6. ``bias`` — master bias subtracted (electrons);
7. ``variance`` — ``max(S, 0) + σ_read²`` (electrons², before the dark so dark current counts);
8. ``dark`` — master dark rate × dark time subtracted;
9. ``flat`` — division by the master flat (variance by its square); unusable flat → ``BAD``;
10. ``defects`` — curated (or given) defects → ``BAD``; non-finite pixels → ``UNMASKEDNAN``;
11. ``snap_combine`` — with a second snap, both are processed through 1–10 and summed, pixels
    that disagree beyond ``snap_n_sigma`` take twice the lower snap and are flagged ``CR``;
12. ``interpolate`` — pixels in ``interpolate_mask_planes`` filled along rows → ``INTRP``.

The task needs no Butler: ``IsrTask(config=cfg).run(raw, detector=det, bias=..., flat=...)``.
Master calibrations for it are built with `IsrTask.make_master_bias`, `make_master_dark` and
`make_master_flat` from raw calibration exposures, or by the PipelineTasks of `skystack.tasks.cpp`.

As a PipelineTask (`IsrConnections`, quanta of ``instrument, exposure, detector``) it reads the
``raw``, finds the master ``bias``, ``dark``, ``flat`` (of the exposure's ``physical_filter``) and
the ``defects`` certified in CALIBRATION collections at the exposure's time (plus ``crosstalk`` and
``linearizer`` when certified; the camera's values otherwise) and writes ``post_isr``. A step
switched off in the config drops its calibration from the connections. The detector comes from
the camera of the data ID's instrument; the exposure gets the raw's visit information and the
WCS the telescope reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from skystack.algorithms.isr import (
    DetectorLike,
    IsrInputError,
    assemble_amplifiers,
    check_calibration,
    combine_snaps,
    compute_variance,
    correct_nonlinearity,
    defect_mask,
    divide_flat,
    find_defects,
    grow_mask,
    interpolate_rows,
    level_mask,
    make_master_bias,
    make_master_dark,
    make_master_flat,
    nan_mask,
    overscan_constant,
    overscan_per_row,
    overscan_poly_rows,
    overscan_spline_rows,
    readout_view,
    subtract_bias,
    subtract_crosstalk,
    subtract_dark,
)
from skystack.config import Config, ConfigValidationError, SubtaskSelection, field, subtask_field
from skystack.geom import Box2I
from skystack.image import Exposure, Mask, MaskedImage, VisitInfo
from skystack.pipe import (
    BaseInput,
    Input,
    Output,
    PipelineTask,
    PipelineTaskConfig,
    PipelineTaskConnections,
    PrerequisiteInput,
    QuantumContext,
)
from skystack.task import Struct, Task, timed

from .isr_io import (
    crosstalk_matrix,
    defects_to_boxes,
    detector_for,
    instrument_for,
    linearity_coefficients,
    ref_data_id,
    single_ref,
    unpack_raw,
)

__all__ = [
    "ClippedMeanOverscanConfig",
    "ClippedMeanOverscanTask",
    "IsrConfig",
    "IsrConnections",
    "IsrResult",
    "IsrTask",
    "MedianOverscanTask",
    "OverscanConfig",
    "PerRowOverscanTask",
    "PolyRowsOverscanConfig",
    "PolyRowsOverscanTask",
    "SplineRowsOverscanConfig",
    "SplineRowsOverscanTask",
]

RawSegments = Mapping[str, np.ndarray]
CalibLike = Any  # numpy array, or an Image / MaskedImage / Exposure holding one


class IsrResult(Struct):
    """What `IsrTask.run` returns.

    Attributes
    ----------
    exposure : `~skystack.image.Exposure`
        The post-ISR exposure (electrons, float32; variance in electrons²).
    n_snaps : `int`
        Number of snaps combined (1 or 2).
    """

    exposure: Exposure
    n_snaps: int


class _SnapResult(Struct):
    image: np.ndarray
    variance: np.ndarray | None
    mask: Mask


class OverscanResult(Struct):
    """Per-row overscan levels of one amplifier (``levels``: float64, one per raw row)."""

    levels: np.ndarray


# -- overscan estimators (subtasks) ----------------------------------------------------------------
class OverscanConfig(Config):
    """Config of the median overscan estimator (no parameters)."""


class ClippedMeanOverscanConfig(Config):
    """Config of the clipped-mean overscan estimators."""

    n_sigma: float = field(3.0, doc="Clip overscan pixels beyond this many robust sigma of the median.", gt=0)


class PolyRowsOverscanConfig(ClippedMeanOverscanConfig):
    """Config of `PolyRowsOverscanTask`."""

    order: int = field(1, doc="Degree of the Legendre polynomial in the row index.", ge=0, le=20)
    n_iter: int = field(3, doc="Rejection iterations of outlying rows.", ge=0, le=20)


class SplineRowsOverscanConfig(ClippedMeanOverscanConfig):
    """Config of `SplineRowsOverscanTask`."""

    bin_rows: int = field(16, doc="Rows per bin of the spline's data points.", ge=1)


class _OverscanTask(Task):
    def _levels(self, overscan: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @timed
    def run(self, overscan: np.ndarray) -> OverscanResult:
        """Per-row overscan level of one amplifier (``(rows, n_overscan)`` → ``levels (rows,)``)."""
        return OverscanResult(levels=self._levels(overscan))


class MedianOverscanTask(_OverscanTask):
    """Constant overscan level: the median of the overscan pixels."""

    ConfigClass = OverscanConfig
    default_name = "median"

    def _levels(self, overscan: np.ndarray) -> np.ndarray:
        return overscan_constant(overscan, "median")


class ClippedMeanOverscanTask(_OverscanTask):
    """Constant overscan level: clipped mean of the overscan pixels."""

    ConfigClass = ClippedMeanOverscanConfig
    default_name = "mean_clipped"
    config: ClippedMeanOverscanConfig

    def _levels(self, overscan: np.ndarray) -> np.ndarray:
        return overscan_constant(overscan, "mean_clipped", self.config.n_sigma)


class PerRowOverscanTask(_OverscanTask):
    """Independent clipped-mean level per row (follows row-to-row bias jitter)."""

    ConfigClass = ClippedMeanOverscanConfig
    default_name = "per_row"
    config: ClippedMeanOverscanConfig

    def _levels(self, overscan: np.ndarray) -> np.ndarray:
        return overscan_per_row(overscan, self.config.n_sigma)


class PolyRowsOverscanTask(_OverscanTask):
    """Polynomial in the row index fitted to the per-row levels."""

    ConfigClass = PolyRowsOverscanConfig
    default_name = "poly_rows"
    config: PolyRowsOverscanConfig

    def _levels(self, overscan: np.ndarray) -> np.ndarray:
        c = self.config
        return overscan_poly_rows(overscan, c.order, c.n_sigma, c.n_iter)


class SplineRowsOverscanTask(_OverscanTask):
    """Smoothing spline through binned per-row levels."""

    ConfigClass = SplineRowsOverscanConfig
    default_name = "spline_rows"
    config: SplineRowsOverscanConfig

    def _levels(self, overscan: np.ndarray) -> np.ndarray:
        return overscan_spline_rows(overscan, self.config.bin_rows, self.config.n_sigma)


OVERSCAN_CHOICES: dict[str, type | str] = {
    "median": MedianOverscanTask,
    "mean_clipped": ClippedMeanOverscanTask,
    "per_row": PerRowOverscanTask,
    "poly_rows": PolyRowsOverscanTask,
    "spline_rows": SplineRowsOverscanTask,
}


# -- connections ----------------------------------------------------------------------------------
EXPOSURE_DETECTOR = ("instrument", "exposure", "detector")
CALIB_DETECTOR = ("instrument", "detector")


class IsrConnections(PipelineTaskConnections, dimensions=EXPOSURE_DETECTOR):
    """Datasets of `IsrTask`: a raw and its calibrations in, ``post_isr`` out.

    Calibrations whose step the config switches off (``do_bias=False`` ...) are dropped.
    """

    raw = Input(
        name="raw",
        storage_class="RawFits",
        dimensions=EXPOSURE_DETECTOR,
        doc="The raw exposure of one detector, one HDU per amplifier.",
    )
    bias = PrerequisiteInput(
        name="bias",
        storage_class="Exposure",
        dimensions=CALIB_DETECTOR,
        is_calibration=True,
        doc="Master bias (electrons) valid at the exposure's time.",
    )
    dark = PrerequisiteInput(
        name="dark",
        storage_class="Exposure",
        dimensions=CALIB_DETECTOR,
        is_calibration=True,
        doc="Master dark (electrons per second) valid at the exposure's time.",
    )
    flat = PrerequisiteInput(
        name="flat",
        storage_class="Exposure",
        dimensions=(*CALIB_DETECTOR, "physical_filter"),
        is_calibration=True,
        doc="Master flat (mean 1) of the exposure's physical filter, valid at its time.",
    )
    defects = PrerequisiteInput(
        name="defects",
        storage_class="StructuredDataDict",
        dimensions=CALIB_DETECTOR,
        is_calibration=True,
        doc="Defect boxes {'bbox': (n, 4) [x0, y0, width, height]} valid at the exposure's time.",
    )
    crosstalk = PrerequisiteInput(
        name="crosstalk",
        storage_class="StructuredDataDict",
        dimensions=CALIB_DETECTOR,
        is_calibration=True,
        minimum=0,
        doc="Crosstalk coefficients, if certified (else the camera's).",
    )
    linearizer = PrerequisiteInput(
        name="linearizer",
        storage_class="StructuredDataDict",
        dimensions=CALIB_DETECTOR,
        is_calibration=True,
        minimum=0,
        doc="Non-linearity coefficients, if certified (else the camera's).",
    )
    post_isr = Output(
        name="post_isr",
        storage_class="Exposure",
        dimensions=EXPOSURE_DETECTOR,
        doc="The exposure after ISR: electrons, mask and variance planes.",
    )

    def __init__(self, *, config: Config | None = None) -> None:
        super().__init__(config=config)
        if config is None:
            return
        for step, attr in (
            ("do_bias", "bias"),
            ("do_dark", "dark"),
            ("do_flat", "flat"),
            ("do_defects", "defects"),
            ("do_crosstalk", "crosstalk"),
            ("do_linearize", "linearizer"),
        ):
            if not getattr(config, step, True):
                delattr(self, attr)


# -- the task -------------------------------------------------------------------------------------
class IsrConfig(PipelineTaskConfig, connections_class=IsrConnections):
    """Config of `IsrTask`; every step can be switched off."""

    do_assembly: bool = field(
        True, doc="Assemble amplifier segments; when False, run() takes an already assembled ADU image."
    )
    do_saturation: bool = field(True, doc="Flag saturated pixels (SAT) and suspect ones (SUSPECT).")
    saturation_grow_columns: int = field(
        2, doc="Grow SAT along columns by this many pixels (bleed ends).", ge=0
    )
    saturation_grow_radius: int = field(1, doc="Then grow SAT by this square radius (pixels).", ge=0)
    suspect_fraction: float = field(
        0.95, doc="Pixels above this fraction of saturation (raw ADU) are SUSPECT.", gt=0, le=1
    )
    full_well: float | None = field(
        None,
        doc="Also SAT where the linearised signal reaches this many electrons (a full well below the ADC "
        "range); None: only the amplifiers' ADU saturation levels.",
        gt=0,
    )
    do_overscan: bool = field(True, doc="Subtract the serial-overscan level of each amplifier.")
    overscan: SubtaskSelection = subtask_field(
        choices=OVERSCAN_CHOICES, default="poly_rows", doc="Overscan level estimator."
    )
    do_crosstalk: bool = field(True, doc="Remove inter-amplifier crosstalk.")
    do_linearize: bool = field(True, doc="Invert the per-amplifier non-linearity.")
    do_bias: bool = field(True, doc="Subtract the master bias (needs bias=...).")
    do_variance: bool = field(True, doc="Compute the variance plane from gain and read noise.")
    do_dark: bool = field(True, doc="Subtract the master dark rate times the dark time (needs dark=...).")
    do_flat: bool = field(True, doc="Divide by the master flat (needs flat=...).")
    min_flat: float = field(1e-3, doc="Flat values below this are unusable: pixel left undivided, BAD.", gt=0)
    do_defects: bool = field(True, doc="Flag defects (given, or the detector's curated ones) as BAD.")
    do_snap_combine: bool = field(
        True, doc="Combine two snaps with artifact rejection when a second is given."
    )
    snap_n_sigma: float = field(
        5.0, doc="Snap difference (sigma) above which the higher snap is rejected.", gt=0
    )
    snap_grow: int = field(1, doc="Grow rejected snap pixels by this radius (faint track wings).", ge=0)
    do_interpolate: bool = field(True, doc="Interpolate along rows over the planes below (flag INTRP).")
    interpolate_mask_planes: list[str] = field(
        default_factory=lambda: ["BAD", "SAT", "CR", "UNMASKEDNAN"], doc="Mask planes interpolated over."
    )
    interpolate_n_average: int = field(2, doc="Good pixels averaged on each side of a masked run.", ge=1)

    def validate_config(self) -> None:
        if not self.do_assembly and self.do_overscan:
            raise ConfigValidationError(
                "do_overscan needs the raw amplifier segments; with do_assembly=False set do_overscan=False"
            )
        if self.do_snap_combine and not self.do_variance:
            raise ConfigValidationError("do_snap_combine needs the variance plane; set do_variance=True")


def _as_array(calib: CalibLike) -> np.ndarray | None:
    if calib is None:
        return None
    if isinstance(calib, Exposure):
        return calib.image.array
    arr = getattr(getattr(calib, "image", None), "array", None)
    if arr is None:
        arr = getattr(calib, "array", calib)
    return np.asarray(arr)


class IsrTask(PipelineTask):
    """Instrument Signature Removal of one detector exposure (module docstring lists the steps)."""

    ConfigClass = IsrConfig
    default_name = "isr"
    config: IsrConfig
    overscan: _OverscanTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.make_subtask("overscan")

    # -- steps ------------------------------------------------------------------------------------
    @timed
    def assemble(self, raw: RawSegments | np.ndarray, detector: DetectorLike) -> np.ndarray:
        """Assembled float32 ADU image of ``raw`` (a new array; the raw is not modified)."""
        if self.config.do_assembly:
            if not isinstance(raw, Mapping):
                raise IsrInputError(
                    f"IsrTask with do_assembly=True needs raw amplifier segments {{name: array}}, got "
                    f"{type(raw).__name__}; pass the segments or set do_assembly=False"
                )
            return assemble_amplifiers(raw, detector)
        arr = np.asarray(raw)
        if arr.shape != detector.bbox.shape:
            raise IsrInputError(
                f"IsrTask with do_assembly=False needs an image of detector {detector.name}'s shape "
                f"{detector.bbox.shape}, got {arr.shape}"
            )
        return arr.astype(np.float32)  # a copy: the caller's image is never modified

    @timed
    def flag_saturation(self, image: np.ndarray, detector: DetectorLike) -> tuple[np.ndarray, np.ndarray]:
        """SAT (grown) and SUSPECT masks from the raw ADU levels."""
        c = self.config
        sat = level_mask(image, detector, 1.0)
        suspect = level_mask(image, detector, c.suspect_fraction) & ~sat
        sat = grow_mask(sat, c.saturation_grow_columns, c.saturation_grow_radius)
        self.metadata["n_saturated"] = int(sat.sum())
        return sat, suspect

    @timed
    def subtract_overscan(self, image: np.ndarray, raw: RawSegments, detector: DetectorLike) -> None:
        """Subtract each amplifier's overscan level (per row, readout order) in place."""
        for amp in detector.amplifiers:
            overscan = raw[amp.name][amp.raw_serial_overscan_bbox.slices()]
            levels = self.overscan.run(overscan).levels
            view = readout_view(image, amp)
            view -= levels.astype(np.float32)[:, None]
            self.metadata[f"overscan_{amp.name}"] = float(np.mean(levels))

    @timed
    def correct_crosstalk(
        self, image: np.ndarray, detector: DetectorLike, crosstalk: np.ndarray | None
    ) -> None:
        """Remove crosstalk (ADU, in place)."""
        self.metadata["n_crosstalk_pairs"] = subtract_crosstalk(image, detector, crosstalk)

    @timed
    def linearize(
        self, image: np.ndarray, detector: DetectorLike, linearity: Mapping[str, Sequence[float]] | None
    ) -> None:
        """Invert each amplifier's non-linearity (ADU, in place)."""
        for amp in detector.amplifiers:
            coeffs = [amp.linearity_c2] if linearity is None else list(linearity.get(amp.name, ()))
            correct_nonlinearity(image[amp.bbox.slices()], coeffs)

    @timed
    def apply_gain(self, image: np.ndarray, detector: DetectorLike) -> None:
        """Convert every amplifier from ADU to electrons (in place)."""
        for amp in detector.amplifiers:
            image[amp.bbox.slices()] *= np.float32(amp.gain)

    @timed
    def process_snap(
        self,
        raw: RawSegments | np.ndarray,
        detector: DetectorLike,
        calibs: dict[str, Any],
        dark_time: float | None,
    ) -> _SnapResult:
        """Steps 1–10 on one snap: image, variance (None if ``do_variance`` is off) and `Mask`."""
        c = self.config
        image = self.assemble(raw, detector)
        mask = Mask.from_bbox(detector.bbox)
        if c.do_saturation:
            sat, suspect = self.flag_saturation(image, detector)
            mask.set_plane("SAT", sat)
            mask.set_plane("SUSPECT", suspect)
        if c.do_overscan:
            assert isinstance(raw, Mapping)
            self.subtract_overscan(image, raw, detector)
        if c.do_crosstalk:
            self.correct_crosstalk(image, detector, calibs["crosstalk"])
        if c.do_linearize:
            self.linearize(image, detector, calibs["linearity"])
        self.apply_gain(image, detector)
        if c.do_saturation and c.full_well is not None:
            full = grow_mask(image >= c.full_well, c.saturation_grow_columns, c.saturation_grow_radius)
            mask.set_plane("SAT", full)
            self.metadata["n_full_well"] = int(full.sum())
        if c.do_bias:
            subtract_bias(image, calibs["bias"])
        variance = None
        if c.do_variance:
            variance = compute_variance(image, detector, "electron")
        if c.do_dark:
            if dark_time is None:
                raise IsrInputError(
                    "ISR step 'dark' needs the dark time: pass visit_info with dark_time or dark_time=... "
                    "to run(), or set do_dark=False"
                )
            subtract_dark(image, calibs["dark"], dark_time)
        if c.do_flat:
            mask.set_plane("BAD", divide_flat(image, calibs["flat"], variance, c.min_flat))
        if c.do_defects:
            mask.set_plane("BAD", calibs["defects"])
        mask.set_plane("UNMASKEDNAN", nan_mask(image))
        return _SnapResult(image=image, variance=variance, mask=mask)

    @timed
    def interpolate(self, image: np.ndarray, mask: Mask) -> None:
        """Fill the configured planes along rows and flag them INTRP."""
        planes = [p for p in self.config.interpolate_mask_planes if p in mask.plane_dict]
        if not planes:
            return
        bad = mask.any_plane(*planes)
        n_unfilled = interpolate_rows(image, bad, self.config.interpolate_n_average)
        mask.set_plane("INTRP", bad)
        self.metadata["n_interpolated"] = int(bad.sum()) - n_unfilled
        if n_unfilled:
            self.log.warning("%d masked pixels not interpolated: their rows have no good pixel", n_unfilled)

    # -- entry point ------------------------------------------------------------------------------
    @timed
    def run(  # type: ignore[override]
        self,
        raw: RawSegments | np.ndarray,
        *,
        detector: DetectorLike,
        bias: CalibLike = None,
        dark: CalibLike = None,
        flat: CalibLike = None,
        defects: Sequence[Box2I] | np.ndarray | None = None,
        crosstalk: np.ndarray | None = None,
        linearity: Mapping[str, Sequence[float]] | None = None,
        visit_info: VisitInfo | None = None,
        dark_time: float | None = None,
        second_snap: RawSegments | np.ndarray | None = None,
    ) -> IsrResult:
        """Remove the instrument signature from one raw exposure of ``detector``.

        Parameters
        ----------
        raw : `~collections.abc.Mapping` [`str`, `numpy.ndarray`]
            Raw segments by amplifier name (readout order, ADU), e.g. from
            `skystack.sim.raw_writer.read_raw`; with ``do_assembly=False`` an assembled ADU image.
        detector : `DetectorLike`
            The detector (e.g. `skystack.instruments.Detector`).
        bias, dark, flat : array or `~skystack.image.Exposure`, optional
            Master calibrations in electrons (dark: electrons per second; flat: mean 1), each
            required when its step is on.
        defects : sequence of `~skystack.geom.Box2I` or boolean array, optional
            Defects; default the detector's curated ``defects``.
        crosstalk : `numpy.ndarray`, optional
            Crosstalk matrix; default ``detector.crosstalk``.
        linearity : mapping of amplifier name to ``[c2, c3, ...]``, optional
            Non-linearity coefficients; default each amplifier's ``linearity_c2``.
        visit_info : `~skystack.image.VisitInfo`, optional
            Attached to the exposure; its ``dark_time`` scales the dark.
        dark_time : `float`, optional
            Dark time (s), overriding ``visit_info.dark_time``.
        second_snap : like ``raw``, optional
            The second snap of a two-snap visit, combined when ``do_snap_combine`` is on.

        Returns
        -------
        result : `IsrResult`
            ``exposure``: post-ISR `~skystack.image.Exposure` in electrons (float32) with mask
            planes SAT, SUSPECT, BAD, UNMASKEDNAN, CR, INTRP and (if ``do_variance``) the variance
            in electrons²; ``n_snaps``: snaps combined.

        Raises
        ------
        IsrInputError
            If the raw does not match the detector geometry (names the amplifier and expected
            box), or a calibration needed by an enabled step is missing or of the wrong shape
            (names the step and the fix).
        """
        c = self.config
        shape = detector.bbox.shape
        calibs: dict[str, Any] = {"crosstalk": crosstalk, "linearity": linearity}
        for step, value, on in (
            ("bias", bias, c.do_bias),
            ("dark", dark, c.do_dark),
            ("flat", flat, c.do_flat),
        ):
            calibs[step] = check_calibration(step, _as_array(value), shape) if on else None
        if c.do_defects:
            if defects is None:
                defects = list(detector.defects)
            if isinstance(defects, np.ndarray):
                calibs["defects"] = check_calibration("defects", defects.astype(bool, copy=False), shape)
            else:
                calibs["defects"] = defect_mask(shape, defects)
        if dark_time is None and visit_info is not None:
            dark_time = visit_info.dark_time
        first = self.process_snap(raw, detector, calibs, dark_time)
        n_snaps = 1
        if second_snap is not None and c.do_snap_combine:
            second = self.process_snap(second_snap, detector, calibs, dark_time)
            first.mask |= second.mask
            self._combine(first, second)
            n_snaps = 2
        elif second_snap is not None:
            self.log.info("second snap given but do_snap_combine is off: only the first snap is used")
        if c.do_interpolate:
            self.interpolate(first.image, first.mask)
        masked = MaskedImage.from_arrays(
            first.image, first.mask.array, first.variance, plane_dict=first.mask.plane_dict
        )
        exposure = Exposure(masked, visit_info=visit_info, metadata={"ISR_SNAP": n_snaps})
        self.metadata["n_snaps"] = n_snaps
        return IsrResult(exposure=exposure, n_snaps=n_snaps)

    def run_quantum(
        self,
        butler_quantum_context: QuantumContext,
        input_refs: Mapping[str, Any],
        output_refs: Mapping[str, Any],
    ) -> Struct:
        """Read the raw and its calibrations, `run`, and write ``post_isr``.

        The detector is the data ID's detector of its instrument's camera; the exposure keeps the
        raw's visit information and reported WCS.

        Raises
        ------
        IsrInputError
            If the raw or a calibration does not fit the detector, or a reference is missing.
        """
        context = butler_quantum_context
        conns = self.connections.connections
        absent = [
            a for a, c in conns.items() if isinstance(c, BaseInput) and c.minimum and a not in input_refs
        ]
        if absent or "post_isr" not in output_refs:
            raise IsrInputError(
                f"IsrTask.run_quantum needs references for {absent or ['post_isr']} (connections "
                f"{sorted(conns)})"
            )
        raw_ref = single_ref(input_refs["raw"], "raw")
        data_id = ref_data_id(raw_ref)
        detector = detector_for(data_id)
        segments, visit_info, wcs = unpack_raw(
            context.get(raw_ref), instrument_for(str(data_id["instrument"])), detector
        )

        def read(attr: str) -> Any:
            refs = input_refs.get(attr) if attr in conns else None
            if refs is None or (isinstance(refs, list | tuple) and not refs):
                return None
            return context.get(single_ref(refs, attr))

        defects = read("defects")
        crosstalk, linearizer = read("crosstalk"), read("linearizer")
        result = self.run(
            segments,
            detector=detector,
            bias=read("bias"),
            dark=read("dark"),
            flat=read("flat"),
            defects=None if defects is None else defects_to_boxes(defects),
            crosstalk=None if crosstalk is None else crosstalk_matrix(crosstalk, detector),
            linearity=None if linearizer is None else linearity_coefficients(linearizer, detector),
            visit_info=visit_info,
        )
        result.exposure.wcs = wcs
        context.put(result.exposure, single_ref(output_refs["post_isr"], "post_isr"))
        return result

    @timed
    def _combine(self, first: _SnapResult, second: _SnapResult) -> None:
        # validate_config guarantees the variance exists when snaps are combined
        assert first.variance is not None and second.variance is not None
        rejected = combine_snaps(
            first.image,
            first.variance,
            second.image,
            second.variance,
            self.config.snap_n_sigma,
            self.config.snap_grow,
        )
        first.mask.set_plane("CR", rejected)
        self.metadata["n_snap_rejected"] = int(rejected.sum())

    # -- master calibrations ----------------------------------------------------------------------
    def _calib_config(self, **steps: bool) -> IsrConfig:
        config = self.config.copy()
        for name in ("do_bias", "do_dark", "do_flat", "do_defects", "do_interpolate", "do_snap_combine"):
            setattr(config, name, steps.get(name, False))
        return config

    def make_master_bias(
        self, raws: Sequence[RawSegments], detector: DetectorLike, n_sigma: float = 3.0
    ) -> np.ndarray:
        """Master bias (electrons) from raw bias exposures: overscan, crosstalk, linearity, gain, combine."""
        task = IsrTask(config=self._calib_config(), name="bias")
        images = [task.run(raw, detector=detector).exposure.image.array for raw in raws]
        return make_master_bias(images, n_sigma)

    def make_master_dark(
        self,
        raws: Sequence[RawSegments],
        dark_times: Sequence[float],
        detector: DetectorLike,
        bias: CalibLike,
        n_sigma: float = 3.0,
    ) -> np.ndarray:
        """Master dark rate (electrons/s) from raw dark exposures and their dark times."""
        task = IsrTask(config=self._calib_config(do_bias=True), name="dark")
        images = [task.run(raw, detector=detector, bias=bias).exposure.image.array for raw in raws]
        return make_master_dark(images, dark_times, n_sigma)

    def make_master_flat(
        self,
        raws: Sequence[RawSegments],
        dark_times: Sequence[float],
        detector: DetectorLike,
        bias: CalibLike,
        dark: CalibLike,
        n_sigma: float = 3.0,
    ) -> np.ndarray:
        """Master flat (mean 1 over non-defect pixels) from raw flat exposures."""
        task = IsrTask(config=self._calib_config(do_bias=True, do_dark=True), name="flat")
        images = [
            task.run(raw, detector=detector, bias=bias, dark=dark, dark_time=t).exposure.image.array
            for raw, t in zip(raws, dark_times, strict=True)
        ]
        return make_master_flat(images, defect_mask(detector.bbox.shape, list(detector.defects)), n_sigma)

    @staticmethod
    def find_defects(dark: CalibLike = None, flat: CalibLike = None, **kwargs: float) -> np.ndarray:
        """Defect mask from master dark and/or flat (see `skystack.algorithms.isr.find_defects`)."""
        return find_defects(_as_array(dark), _as_array(flat), **kwargs)
