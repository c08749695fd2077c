# SPDX-License-Identifier: GPL-3.0-or-later
"""Small real PipelineTasks used by the pipeline tests (importable by class path from YAML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from skystack.config import field
from skystack.pipe import (
    InitInput,
    InitOutput,
    Input,
    NoWorkFound,
    Output,
    PipelineTask,
    PipelineTaskConfig,
    PipelineTaskConnections,
    PrerequisiteInput,
)
from skystack.task import Struct

DETECTOR = ("instrument", "visit", "detector")


class TestCam:
    """A minimal instrument: a name and a folder of config override files."""

    name = "TestCam"

    def config_override_dir(self) -> Path:
        return Path(__file__).resolve().parent / "data" / "testcam"


# -- per-detector: scale an image ------------------------------------------------------------------
class ScaleConnections(PipelineTaskConnections, dimensions=DETECTOR):
    image = Input(name="raw_image", storage_class="NumpyArray", dimensions=DETECTOR, doc="Input image.")
    scaled = Output(name="scaled_image", storage_class="NumpyArray", dimensions=DETECTOR, doc="Scaled image.")


class ScaleConfig(PipelineTaskConfig, connections_class=ScaleConnections):
    factor: float = field(2.0, doc="Multiplier applied to every pixel.")
    offset: float = field(0.0, doc="Added after scaling.")
    do_bias: bool = field(True, doc="Whether the bias was subtracted upstream.")


class ScaleTask(PipelineTask):
    """Multiply an image by ``factor`` and add ``offset``; no work for an all-zero image."""

    ConfigClass = ScaleConfig
    default_name = "scale"

    def run(self, image: np.ndarray) -> Struct:  # type: ignore[override]
        if not np.any(image):
            raise NoWorkFound("image is all zeros")
        return Struct(scaled=image * self.config.factor + self.config.offset)


# -- gather per visit --------------------------------------------------------------------------------
class GatherConnections(PipelineTaskConnections, dimensions=("instrument", "visit")):
    images = Input(
        name="scaled_image",
        storage_class="NumpyArray",
        dimensions=DETECTOR,
        multiple=True,
        minimum=2,
        doc="Every detector's scaled image.",
    )
    total = Output(name="visit_total", storage_class="float", dimensions=("instrument", "visit"))

    def adjust_quantum(self, inputs: Any, outputs: Any, label: str, data_id: Any) -> Any:
        bad = set(self.config.bad_detectors) if self.config is not None else set()  # type: ignore[attr-defined]
        kept = [ref for ref in inputs.get("images", []) if ref.data_id_dict["detector"] not in bad]
        return super().adjust_quantum({**inputs, "images": kept}, outputs, label, data_id)


class GatherConfig(PipelineTaskConfig, connections_class=GatherConnections):
    bad_detectors: list[int] = field(default_factory=list, doc="Detectors left out of the sum.")


class GatherTask(PipelineTask):
    """Sum the pixels of all detectors of a visit."""

    ConfigClass = GatherConfig
    default_name = "gather"

    def run(self, images: list[np.ndarray]) -> Struct:  # type: ignore[override]
        return Struct(total=float(sum(float(im.sum()) for im in images)))


# -- templated, deferred, spatial gathering -----------------------------------------------------------
WARP_DIMS = ("instrument", "visit", "skymap", "tract", "patch")


class CoaddConnections(
    PipelineTaskConnections,
    dimensions=("skymap", "tract", "patch"),
    default_templates={"coadd_name": "deep"},
):
    warps = Input(
        name="{coadd_name}_warp",
        storage_class="NumpyArray",
        dimensions=WARP_DIMS,
        multiple=True,
        deferred_load=True,
        doc="Warps overlapping the patch.",
    )
    coadd = Output(
        name="{coadd_name}_coadd", storage_class="NumpyArray", dimensions=("skymap", "tract", "patch")
    )


class CoaddConfig(PipelineTaskConfig, connections_class=CoaddConnections):
    statistic: str = field("mean", doc="'mean' or 'median' of the warps.")


class CoaddTask(PipelineTask):
    """Stack warps by their mean or median (warps are read only when needed)."""

    ConfigClass = CoaddConfig
    default_name = "coadd"

    def run(self, warps: list[Any]) -> Struct:  # type: ignore[override]
        stack = np.stack([handle.get() for handle in warps])
        fn = np.median if self.config.statistic == "median" else np.mean
        return Struct(coadd=fn(stack, axis=0))


class WarpConnections(
    PipelineTaskConnections, dimensions=WARP_DIMS, default_templates={"coadd_name": "deep"}
):
    image = Input(name="scaled_image", storage_class="NumpyArray", dimensions=DETECTOR, multiple=True)
    warp = Output(name="{coadd_name}_warp", storage_class="NumpyArray", dimensions=WARP_DIMS)


class WarpConfig(PipelineTaskConfig, connections_class=WarpConnections):
    pass


class WarpTask(PipelineTask):
    """Average the detector images overlapping a patch (a stand-in for resampling)."""

    ConfigClass = WarpConfig
    default_name = "warp"

    def run(self, image: list[np.ndarray]) -> Struct:  # type: ignore[override]
        return Struct(warp=np.mean(np.stack(image), axis=0))


# -- calibration prerequisite and init-outputs ----------------------------------------------------------
class DetrendConnections(PipelineTaskConnections, dimensions=DETECTOR):
    exposure = Input(name="raw_image", storage_class="NumpyArray", dimensions=DETECTOR)
    bias = PrerequisiteInput(
        name="bias",
        storage_class="NumpyArray",
        dimensions=("instrument", "detector"),
        is_calibration=True,
        doc="Bias frame valid at the exposure's time.",
    )
    schema = InitOutput(name="detrend_schema", storage_class="Schema", doc="Columns of the stats.")
    detrended = Output(name="detrended_image", storage_class="NumpyArray", dimensions=DETECTOR)


class DetrendConfig(PipelineTaskConfig, connections_class=DetrendConnections):
    check_bias: bool = field(True, doc="Refuse a bias of the wrong shape.")
    gain: float = field(1.0, doc="Electrons per ADU.", gt=0)


class DetrendTask(PipelineTask):
    """Subtract the bias and apply the gain; publishes its output columns as an init-output."""

    ConfigClass = DetrendConfig
    default_name = "detrend"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schema = ["mean", "stddev"]

    def run(self, exposure: np.ndarray, bias: np.ndarray) -> Struct:  # type: ignore[override]
        if self.config.check_bias and exposure.shape != bias.shape:
            raise ValueError(f"bias shape {bias.shape} != exposure shape {exposure.shape}")
        return Struct(detrended=(exposure - bias) * self.config.gain)


class StatsConnections(PipelineTaskConnections, dimensions=DETECTOR):
    schema = InitInput(name="detrend_schema", storage_class="Schema")
    image = Input(name="detrended_image", storage_class="NumpyArray", dimensions=DETECTOR)
    stats = Output(name="image_stats", storage_class="StructuredDataDict", dimensions=DETECTOR)


class StatsConfig(PipelineTaskConfig, connections_class=StatsConnections):
    pass


class StatsTask(PipelineTask):
    """Measure the columns named by the upstream schema."""

    ConfigClass = StatsConfig
    default_name = "stats"

    def run(self, image: np.ndarray) -> Struct:  # type: ignore[override]
        funcs = {"mean": np.mean, "stddev": np.std}
        return Struct(stats={name: float(funcs[name](image)) for name in self.init_inputs["schema"]})
