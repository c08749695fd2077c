# SPDX-License-Identifier: GPL-3.0-or-later
"""Calibration Products Production (LDM-151 §4.1): master bias, dark, flat and defects.

Four PipelineTasks, one quantum per detector (and physical filter for flats), as in Rubin's
cp_pipe. The combining tasks gather the raw calibration exposures of the run (a ``raw`` input
with ``multiple=True``; the exposures are chosen with the ``-d`` expression, e.g.
``-d "exposure.observation_type = 'bias'"``), process each through an `~skystack.tasks.isr.IsrTask`
subtask (``isr``) up to the step the product corrects, and combine them with the sigma-clipped
combinations of `skystack.algorithms.isr.combine`:

- `BiasTask`: overscan (per amplifier), crosstalk, linearity and gain → clipped mean → ``bias``
  (electrons; dimensions ``instrument, detector``);
- `DarkTask`: the same and the master bias subtracted, each frame divided by its dark time →
  clipped mean → ``dark`` (electrons per second);
- `FlatTask`: bias and dark subtracted, each frame normalised by its median → clipped mean,
  normalised to mean 1 over the detector's pixels outside its curated defects → ``flat``
  (dimensions ``instrument, detector, physical_filter``);
- `DefectsTask`: hot pixels of the master dark and dead or low-response pixels of the master
  flats (of every filter) → ``defects`` (boxes, as the curated defects are stored).

The products are calibration dataset types: after a run, ``butler certify-calibrations`` puts
them in a CALIBRATION collection with a validity range, where the next product's task (a dark
needs the bias) and ISR find them by time. The prerequisite calibrations of a combining quantum,
which has no time of its own, are found at the time of the raws it combines.

Each master is an `~skystack.image.Exposure` whose variance plane is the propagated variance of
the mean (ISR variance of each frame, scaled as the frame is), and whose metadata records the
product (``OBSTYPE``), the number of frames combined (``NCOMBINE``) and the detector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from skystack.algorithms.isr import (
    DetectorLike,
    IsrInputError,
    defect_mask,
    find_defects,
    make_master_bias,
    make_master_dark,
    make_master_flat,
)
from skystack.butler import CalibrationLookupError, DatasetRef, DatasetType, Registry, Timespan
from skystack.config import ConfigValidationError, SubtaskSelection, field, subtask_field
from skystack.image import Exposure, VisitInfo
from skystack.pipe import (
    Input,
    Output,
    PipelineTask,
    PipelineTaskConfig,
    PipelineTaskConnections,
    PrerequisiteInput,
    QuantumContext,
)
from skystack.task import Struct, timed

from .isr import CALIB_DETECTOR, EXPOSURE_DETECTOR, CalibLike, IsrConfig, IsrTask, RawSegments
from .isr_io import (
    boxes_to_defects,
    detector_for,
    instrument_for,
    mask_to_boxes,
    ref_data_id,
    single_ref,
    unpack_raw,
)

__all__ = [
    "BiasConfig",
    "BiasConnections",
    "BiasIsrConfig",
    "BiasIsrTask",
    "BiasTask",
    "DarkConfig",
    "DarkConnections",
    "DarkIsrConfig",
    "DarkIsrTask",
    "DarkTask",
    "DefectsConfig",
    "DefectsConnections",
    "DefectsTask",
    "FlatConfig",
    "FlatConnections",
    "FlatIsrConfig",
    "FlatIsrTask",
    "FlatTask",
    "find_flats_of_every_filter",
]

FLAT_DIMENSIONS = (*CALIB_DETECTOR, "physical_filter")


# -- ISR of calibration frames: the subtask's defaults per product ---------------------------------
class BiasIsrConfig(IsrConfig):
    """ISR of a bias frame: overscan, crosstalk, linearity, gain and variance only."""

    do_bias: bool = field(False, doc="Subtract the master bias (not for a bias frame).")
    do_dark: bool = field(False, doc="Subtract the master dark (not for a bias frame).")
    do_flat: bool = field(False, doc="Divide by the master flat (not for calibration frames).")
    do_defects: bool = field(False, doc="Flag defects (calibration frames are combined unflagged).")
    do_snap_combine: bool = field(False, doc="Combine two snaps (calibration frames have one).")
    do_interpolate: bool = field(False, doc="Interpolate masked pixels (never in calibration frames).")


class DarkIsrConfig(BiasIsrConfig):
    """ISR of a dark frame: as a bias frame, then the master bias subtracted."""

    do_bias: bool = field(True, doc="Subtract the master bias.")


class FlatIsrConfig(DarkIsrConfig):
    """ISR of a flat frame: as a dark frame, then the master dark subtracted."""

    do_dark: bool = field(True, doc="Subtract the master dark rate times the dark time.")


class BiasIsrTask(IsrTask):
    """`IsrTask` with the defaults of bias frames (`BiasIsrConfig`)."""

    ConfigClass = BiasIsrConfig


class DarkIsrTask(IsrTask):
    """`IsrTask` with the defaults of dark frames (`DarkIsrConfig`)."""

    ConfigClass = DarkIsrConfig


class FlatIsrTask(IsrTask):
    """`IsrTask` with the defaults of flat frames (`FlatIsrConfig`)."""

    ConfigClass = FlatIsrConfig


def _raws_input(kind: str) -> Input:
    return Input(
        name="raw",
        storage_class="RawFits",
        dimensions=EXPOSURE_DETECTOR,
        multiple=True,
        deferred_load=True,
        doc=f"The raw {kind} exposures of the detector, chosen with "
        f"-d \"exposure.observation_type = '{kind}'\".",
    )


def _calib_input(name: str, doc: str, dimensions: tuple[str, ...] = CALIB_DETECTOR) -> PrerequisiteInput:
    storage = "StructuredDataDict" if name == "defects" else "Exposure"
    return PrerequisiteInput(
        name=name, storage_class=storage, dimensions=dimensions, is_calibration=True, doc=doc
    )


def _calib_output(name: str, doc: str, dimensions: tuple[str, ...] = CALIB_DETECTOR) -> Output:
    storage = "StructuredDataDict" if name == "defects" else "Exposure"
    return Output(name=name, storage_class=storage, dimensions=dimensions, is_calibration=True, doc=doc)


class _IsrStepConnections(PipelineTaskConnections):
    """Drops the ``bias`` / ``dark`` prerequisites that the ``isr`` subtask config switches off."""

    def __init__(self, *, config: Any = None) -> None:
        super().__init__(config=config)
        isr = getattr(config, "isr", None)
        for step, attr in (("do_bias", "bias"), ("do_dark", "dark")):
            if attr in self.prerequisite_inputs and isr is not None and not getattr(isr, step):
                delattr(self, attr)


class BiasConnections(PipelineTaskConnections, dimensions=CALIB_DETECTOR):
    """Raw bias exposures of one detector in, the master ``bias`` out."""

    raws = _raws_input("bias")
    bias = _calib_output("bias", "Master bias (electrons).")


class DarkConnections(_IsrStepConnections, dimensions=CALIB_DETECTOR):
    """Raw dark exposures and the master bias in, the master ``dark`` out."""

    raws = _raws_input("dark")
    bias = _calib_input("bias", "Master bias valid at the time of the darks.")
    dark = _calib_output("dark", "Master dark (electrons per second).")


class FlatConnections(_IsrStepConnections, dimensions=FLAT_DIMENSIONS):
    """Raw flats of one detector and filter, the master bias and dark in, the master ``flat`` out."""

    raws = _raws_input("flat")
    bias = _calib_input("bias", "Master bias valid at the time of the flats.")
    dark = _calib_input("dark", "Master dark valid at the time of the flats.")
    flat = _calib_output("flat", "Master flat (mean 1 over the detector).", FLAT_DIMENSIONS)


# -- the combining tasks ---------------------------------------------------------------------------
class _CombineConfig(PipelineTaskConfig):
    n_sigma: float = field(
        3.0, doc="Clip frames beyond this many robust sigma of the per-pixel median.", gt=0
    )


class BiasConfig(_CombineConfig, connections_class=BiasConnections):
    """Config of `BiasTask`."""

    isr: SubtaskSelection = subtask_field(
        choices={"isr": BiasIsrTask}, default="isr", doc="ISR of each bias frame (overscan, gain ...)."
    )


class DarkConfig(_CombineConfig, connections_class=DarkConnections):
    """Config of `DarkTask`."""

    isr: SubtaskSelection = subtask_field(
        choices={"isr": DarkIsrTask}, default="isr", doc="ISR of each dark frame (up to the bias)."
    )


class FlatConfig(_CombineConfig, connections_class=FlatConnections):
    """Config of `FlatTask`."""

    isr: SubtaskSelection = subtask_field(
        choices={"isr": FlatIsrTask}, default="isr", doc="ISR of each flat frame (up to the dark)."
    )


class _CombineTask(PipelineTask):
    """ISR of each raw calibration frame, then a clipped combination (subclasses say which)."""

    #: Name of the output connection and the ``OBSTYPE`` of the frames.
    product = ""
    isr: IsrTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.make_subtask("isr")

    @timed
    def process_frame(
        self, raw: RawSegments, detector: DetectorLike, dark_time: float | None, calibs: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """One frame through the ``isr`` subtask: its image and variance (electrons, float32)."""
        result = self.isr.run(raw, detector=detector, dark_time=dark_time, **calibs)
        image = result.exposure.image.array
        variance = result.exposure.variance.array
        return image, variance

    def _variance_term(self, image: np.ndarray, variance: np.ndarray, dark_time: float | None) -> np.ndarray:
        """One frame's contribution to ``n² × variance`` of the master (clipping neglected)."""
        return variance

    def _combine(
        self, images: list[np.ndarray], dark_times: Sequence[float], detector: DetectorLike
    ) -> np.ndarray:
        raise NotImplementedError

    def _scale_variance(self, master: np.ndarray, variance: np.ndarray) -> np.ndarray:
        """The master's variance from the variance of the mean of the variance terms."""
        return variance

    def _calibs(self, **calibs: CalibLike) -> dict[str, Any]:
        return {k: v for k, v in calibs.items() if v is not None}

    def _frames(
        self,
        raws: Iterable[RawSegments],
        detector: DetectorLike,
        dark_times: Sequence[float] | None,
        calibs: Mapping[str, Any],
    ) -> Exposure:
        images: list[np.ndarray] = []
        total = np.zeros(detector.bbox.shape, dtype=np.float32)  # Σ variance terms (no plane kept per frame)
        for i, raw in enumerate(raws):
            # indexed only now: run_quantum's dark times grow as its raws are read
            if dark_times is not None and i >= len(dark_times):
                raise IsrInputError(f"{type(self).__name__}: more raws than dark times ({len(dark_times)})")
            t = None if dark_times is None else float(dark_times[i])
            image, variance = self.process_frame(raw, detector, t, calibs)
            images.append(image)
            total += self._variance_term(image, variance, t)
        if not images:
            raise IsrInputError(
                f"{type(self).__name__}: no raw {self.product} exposures of detector {detector.name}; "
                f"select some with -d \"exposure.observation_type = '{self.product}'\""
            )
        if dark_times is not None and len(dark_times) != len(images):
            raise IsrInputError(f"{type(self).__name__}: {len(images)} raws but {len(dark_times)} dark times")
        n = len(images)
        image = self._combine(images, list(dark_times or []), detector)
        total /= np.float32(n * n)
        variance = self._scale_variance(image, total)
        self.metadata["n_combined"] = n
        metadata = {"OBSTYPE": self.product, "NCOMBINE": len(images), "DETNAME": detector.name}
        return Exposure.from_arrays(image, None, variance, metadata=metadata)

    def run_quantum(
        self,
        butler_quantum_context: QuantumContext,
        input_refs: Mapping[str, Any],
        output_refs: Mapping[str, Any],
    ) -> Struct:
        """Read the raws one at a time, process them, combine, and write the master.

        The detector is the data ID's detector of its instrument's camera; each frame's dark
        time comes from its raw header.
        """
        context = butler_quantum_context
        raw_refs = list(input_refs.get("raws", ()))
        if not raw_refs:
            raise IsrInputError(f"{type(self).__name__}.run_quantum: no raw {self.product} exposures given")
        data_id = ref_data_id(raw_refs[0])
        detector = detector_for(data_id)
        instrument = instrument_for(str(data_id["instrument"]))
        calibs = {
            attr: context.get(single_ref(input_refs[attr], attr))
            for attr in self.connections.prerequisite_inputs
            if input_refs.get(attr)
        }
        dark_times: list[float] = []
        infos: list[VisitInfo] = []

        def frames() -> Iterable[RawSegments]:
            for ref in raw_refs:
                segments, info, _ = unpack_raw(context.get(ref), instrument, detector)
                dark_times.append(float(info.dark_time or 0.0))
                infos.append(info)
                yield segments

        exposure = self._frames(frames(), detector, dark_times, self._calibs(**calibs))
        self.metadata["exposures"] = [i.exposure_id for i in infos if i.exposure_id is not None]
        out_ref = single_ref(output_refs[self.product], self.product)
        if "physical_filter" in ref_data_id(out_ref):
            exposure.metadata["FILTER"] = str(ref_data_id(out_ref)["physical_filter"])
        exposure.visit_info = VisitInfo(
            instrument=str(data_id["instrument"]),
            detector_id=int(data_id["detector"]),
            detector_name=detector.name,
            physical_filter=exposure.metadata.get("FILTER"),
        )
        context.put(exposure, out_ref)
        return Struct(**{self.product: exposure})


class BiasTask(_CombineTask):
    """Master bias: overscan-corrected bias frames (electrons), clipped mean."""

    ConfigClass = BiasConfig
    default_name = "cp_bias"
    config: BiasConfig
    product = "bias"

    def _combine(
        self, images: list[np.ndarray], dark_times: Sequence[float], detector: DetectorLike
    ) -> np.ndarray:
        return make_master_bias(images, self.config.n_sigma)

    @timed
    def run(  # type: ignore[override]
        self, raws: Iterable[RawSegments], *, detector: DetectorLike
    ) -> Struct:
        """Master bias of ``detector`` from its raw bias frames.

        Parameters
        ----------
        raws : iterable of `~collections.abc.Mapping` [`str`, `numpy.ndarray`]
            Raw segments of each bias frame by amplifier name (read once, in order).
        detector : `DetectorLike`
            The detector.

        Returns
        -------
        result : `~skystack.task.Struct`
            ``bias``: `~skystack.image.Exposure` in electrons with the variance of the mean.

        Raises
        ------
        IsrInputError
            If no frame is given or a frame does not fit the detector.
        """
        return Struct(bias=self._frames(raws, detector, None, {}))


class DarkTask(_CombineTask):
    """Master dark: bias-subtracted dark frames divided by their dark times (e-/s), clipped mean."""

    ConfigClass = DarkConfig
    default_name = "cp_dark"
    config: DarkConfig
    product = "dark"

    def _variance_term(self, image: np.ndarray, variance: np.ndarray, dark_time: float | None) -> np.ndarray:
        if not dark_time or dark_time <= 0:  # make_master_dark then says which dark time is wrong
            return np.zeros_like(variance)
        return variance / np.float32(dark_time * dark_time)

    def _combine(
        self, images: list[np.ndarray], dark_times: Sequence[float], detector: DetectorLike
    ) -> np.ndarray:
        return make_master_dark(images, dark_times, self.config.n_sigma)

    @timed
    def run(  # type: ignore[override]
        self,
        raws: Iterable[RawSegments],
        *,
        detector: DetectorLike,
        dark_times: Sequence[float],
        bias: CalibLike = None,
    ) -> Struct:
        """Master dark rate of ``detector`` from its raw dark frames.

        Parameters
        ----------
        raws : iterable of `~collections.abc.Mapping` [`str`, `numpy.ndarray`]
            Raw segments of each dark frame by amplifier name.
        detector : `DetectorLike`
            The detector.
        dark_times : sequence of `float`
            Dark time (s) of each frame, in the order of ``raws``; all > 0.
        bias : array or `~skystack.image.Exposure`, optional
            Master bias (electrons); required while ``isr.do_bias`` is on.

        Returns
        -------
        result : `~skystack.task.Struct`
            ``dark``: `~skystack.image.Exposure` in electrons per second.

        Raises
        ------
        IsrInputError
            If no frame is given, the bias is missing or a frame does not fit the detector.
        ValueError
            If a dark time is not positive.
        """
        return Struct(dark=self._frames(raws, detector, dark_times, self._calibs(bias=bias)))


class FlatTask(_CombineTask):
    """Master flat: bias- and dark-corrected flats, each normalised, combined, mean 1."""

    ConfigClass = FlatConfig
    default_name = "cp_flat"
    config: FlatConfig
    product = "flat"

    def _variance_term(self, image: np.ndarray, variance: np.ndarray, dark_time: float | None) -> np.ndarray:
        # relative variances add: var(flat) = flat² Σ var_i / image_i² / n²
        return np.divide(variance, image * image, out=np.zeros_like(variance), where=image != 0)

    def _scale_variance(self, master: np.ndarray, variance: np.ndarray) -> np.ndarray:
        variance *= master * master
        return variance

    def _combine(
        self, images: list[np.ndarray], dark_times: Sequence[float], detector: DetectorLike
    ) -> np.ndarray:
        curated = defect_mask(detector.bbox.shape, list(detector.defects))
        return make_master_flat(images, curated, self.config.n_sigma)

    @timed
    def run(  # type: ignore[override]
        self,
        raws: Iterable[RawSegments],
        *,
        detector: DetectorLike,
        dark_times: Sequence[float],
        bias: CalibLike = None,
        dark: CalibLike = None,
    ) -> Struct:
        """Master flat of ``detector`` from its raw flats of one filter.

        Parameters
        ----------
        raws : iterable of `~collections.abc.Mapping` [`str`, `numpy.ndarray`]
            Raw segments of each flat by amplifier name.
        detector : `DetectorLike`
            The detector; its curated defects are left out of the normalisations.
        dark_times : sequence of `float`
            Dark time (s) of each flat, in the order of ``raws``.
        bias, dark : array or `~skystack.image.Exposure`, optional
            Master bias (electrons) and dark (electrons per second), required while the ``isr``
            subtask's ``do_bias`` / ``do_dark`` are on.

        Returns
        -------
        result : `~skystack.task.Struct`
            ``flat``: `~skystack.image.Exposure` of mean 1 over the good pixels.

        Raises
        ------
        IsrInputError
            If no frame is given, a calibration is missing or a frame does not fit the detector.
        ValueError
            If a flat is not illuminated (median <= 0).
        """
        return Struct(flat=self._frames(raws, detector, dark_times, self._calibs(bias=bias, dark=dark)))


# -- defects -----------------------------------------------------------------------------------------
def find_flats_of_every_filter(
    dataset_type: DatasetType, registry: Registry, data_id: Any, collections: Sequence[str]
) -> list[DatasetRef]:
    """The flats of every physical filter of the data ID's instrument and detector.

    A ``lookup_function`` of `DefectsConnections`: the defects quantum has no time, so each
    filter's flat is the one certified in ``collections`` (found at any time).

    Raises
    ------
    CalibrationLookupError
        If a collection holds several flats of one filter (certified for different times); the
        message says which.
    """
    instrument = data_id["instrument"]
    filters = sorted(
        {d["physical_filter"] for d in registry.query_data_ids(["physical_filter"], instrument=instrument)}
    )
    refs = []
    always = Timespan(None, None)
    for physical_filter in filters:
        values = {
            "instrument": instrument,
            "detector": data_id["detector"],
            "physical_filter": physical_filter,
        }
        try:
            ref = registry.find_dataset(dataset_type, values, collections=collections, timespan=always)
        except CalibrationLookupError as err:
            raise CalibrationLookupError(
                f"{err}; the defects task uses one flat per filter: certify a single one in the "
                "collections it searches"
            ) from None
        except LookupError:  # the dataset type or a collection is not in the repository yet
            ref = None
        if ref is not None:
            refs.append(ref)
    return refs


class DefectsConnections(PipelineTaskConnections, dimensions=CALIB_DETECTOR):
    """The master dark and flats of one detector in, its ``defects`` out."""

    dark = _calib_input("dark", "Master dark: its hot pixels are defects.")
    flats = PrerequisiteInput(
        name="flat",
        storage_class="Exposure",
        dimensions=FLAT_DIMENSIONS,
        is_calibration=True,
        multiple=True,
        lookup_function=find_flats_of_every_filter,
        doc="Master flats of every filter: their dead and low-response pixels are defects.",
    )
    defects = _calib_output("defects", "Defect boxes {'bbox': (n, 4) [x0, y0, width, height]}.")

    def __init__(self, *, config: Any = None) -> None:
        super().__init__(config=config)
        if config is not None and not config.use_dark:
            del self.dark
        if config is not None and not config.use_flat:
            del self.flats


class DefectsConfig(PipelineTaskConfig, connections_class=DefectsConnections):
    """Config of `DefectsTask` (thresholds of `skystack.algorithms.isr.find_defects`)."""

    use_dark: bool = field(True, doc="Find hot pixels in the master dark.")
    use_flat: bool = field(True, doc="Find dead and low-response pixels in the master flats.")
    hot_n_sigma: float = field(10.0, doc="Hot: dark rate above the median by this many robust sigma...", gt=0)
    min_hot_rate: float = field(1.0, doc="...and by at least this many electrons per second.", ge=0)
    low_flat: float = field(0.5, doc="Dead or low response: mean flat below this.", gt=0, lt=1)

    def validate_config(self) -> None:
        if not (self.use_dark or self.use_flat):
            raise ConfigValidationError("DefectsTask needs use_dark or use_flat (or both)")


def _array(calib: CalibLike) -> np.ndarray:
    arr = getattr(getattr(calib, "image", None), "array", None)
    return np.asarray(calib if arr is None else arr, dtype=np.float32)


class DefectsTask(PipelineTask):
    """Defects of one detector: hot pixels of its master dark, dead pixels of its master flats."""

    ConfigClass = DefectsConfig
    default_name = "cp_defects"
    config: DefectsConfig

    @timed
    def run(  # type: ignore[override]
        self, *, dark: CalibLike = None, flats: Sequence[CalibLike] = ()
    ) -> Struct:
        """Find the defects.

        Parameters
        ----------
        dark : array or `~skystack.image.Exposure`, optional
            Master dark (electrons per second); needed with ``use_dark``.
        flats : sequence of array or `~skystack.image.Exposure`
            Master flats (mean 1), of one or several filters; averaged. Needed with ``use_flat``.

        Returns
        -------
        result : `~skystack.task.Struct`
            ``defects``: ``{"bbox": (n, 4) int64 [x0, y0, width, height]}`` (one box per vertical
            run of defective pixels in a column); ``mask``: the boolean defect mask.

        Raises
        ------
        IsrInputError
            If a calibration the config uses is missing, or the shapes differ.
        """
        c = self.config
        if c.use_dark and dark is None:
            raise IsrInputError(
                "DefectsTask with use_dark needs the master dark; pass dark=... or set use_dark=False"
            )
        if c.use_flat and not flats:
            raise IsrInputError(
                "DefectsTask with use_flat needs at least one master flat; pass flats=[...] or set "
                "use_flat=False"
            )
        rate = _array(dark) if c.use_dark else None
        mean_flat = None
        if c.use_flat:
            arrays = [_array(f) for f in flats]
            shapes = {a.shape for a in arrays} | ({rate.shape} if rate is not None else set())
            if len(shapes) != 1:
                raise IsrInputError(f"DefectsTask: the dark and flats have different shapes {sorted(shapes)}")
            mean_flat = np.mean(np.stack(arrays), axis=0)
        mask = find_defects(rate, mean_flat, c.hot_n_sigma, c.min_hot_rate, c.low_flat)
        if rate is not None:
            self.metadata["n_hot"] = int(find_defects(rate, None, c.hot_n_sigma, c.min_hot_rate).sum())
        self.metadata["n_defect_pixels"] = int(mask.sum())
        rows = mask_to_boxes(mask)
        self.metadata["n_boxes"] = len(rows)
        return Struct(defects=boxes_to_defects(rows), mask=mask)
