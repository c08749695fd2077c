# SPDX-License-Identifier: GPL-3.0-or-later
"""Real PipelineTasks and a small real repository for the graph and execution tests.

The repository (`make_repo`) has instrument ``Cam`` with 3 detectors, visits 1..4 (one hour
apart; visit 4 lacks detector 2), a skymap ``sky`` with tract 0 of 2 patches, a ``raw_image``
per visit/detector in RUN ``raw/all`` and two biases certified in CALIBRATION ``calib`` (the
first valid for visits 1-2, the second for visits 3-4). Visit ``v`` points at RA 10 + v degrees;
detector ``d`` covers a 0.1° square at RA 10 + v + 0.1 d, Dec 0. Patch 0 covers RA 10.5-12.5 and
patch 1 RA 12.5-14.5 (so visits 1 and 2 fall in patch 0, visits 3 and 4 in patch 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.time import Time

from skystack.butler import Butler, CollectionType, DatasetType, Timespan
from skystack.config import field
from skystack.geom import convex_polygon_from_radec
from skystack.pipe import (
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
VISITS = (1, 2, 3, 4)
DETECTORS = (0, 1, 2)
T0 = Time("2024-03-01T00:00:00", scale="tai")
HERE = Path(__file__).resolve().parent


def _box(ra0: float, ra1: float, dec0: float, dec1: float) -> Any:
    return convex_polygon_from_radec([ra0, ra1, ra1, ra0], [dec0, dec0, dec1, dec1])


def raw_value(visit: int, detector: int) -> float:
    """The constant pixel value of raw_image(visit, detector)."""
    return 10.0 * visit + detector


def make_repo(root: Path, **create_kwargs: Any) -> Butler:
    """Create the repository described in the module docstring and return a Butler on it.

    ``create_kwargs`` go to `Butler.create` (e.g. ``db=`` and ``namespace=`` for PostgreSQL).
    """
    butler = Butler.create(root, **create_kwargs)
    r = butler.registry
    r.insert_dimension_records(
        "instrument", [{"name": "Cam", "visit_max": 100, "exposure_max": 100, "detector_max": 10}]
    )
    r.insert_dimension_records("physical_filter", [{"instrument": "Cam", "name": "Cam-r", "band": "r"}])
    r.insert_dimension_records(
        "detector", [{"instrument": "Cam", "id": d, "full_name": f"D{d}"} for d in DETECTORS]
    )
    r.insert_dimension_records(
        "visit",
        [
            {
                "instrument": "Cam",
                "id": v,
                "physical_filter": "Cam-r",
                "timespan": Timespan(T0 + v * u.h, T0 + v * u.h + 30 * u.s),
                "region": _box(10.0 + v - 0.2, 10.0 + v + 0.4, -0.2, 0.2),
            }
            for v in VISITS
        ],
    )
    pairs = [(v, d) for v in VISITS for d in DETECTORS if not (v == 4 and d == 2)]
    r.insert_dimension_records(
        "visit_detector_region",
        [
            {
                "instrument": "Cam",
                "visit": v,
                "detector": d,
                "region": _box(10.0 + v + 0.1 * d, 10.0 + v + 0.1 * d + 0.1, -0.05, 0.05),
            }
            for v, d in pairs
        ],
    )
    r.insert_dimension_records(
        "skymap", [{"name": "sky", "tract_max": 1, "patch_nx_max": 2, "patch_ny_max": 1}]
    )
    r.insert_dimension_records("tract", [{"skymap": "sky", "id": 0, "region": _box(10.5, 14.5, -1, 1)}])
    r.insert_dimension_records(
        "patch",
        [
            {"skymap": "sky", "tract": 0, "id": 0, "region": _box(10.5, 12.5, -1, 1)},
            {"skymap": "sky", "tract": 0, "id": 1, "region": _box(12.5, 14.5, -1, 1)},
        ],
    )
    raw = DatasetType("raw_image", DETECTOR, "NumpyArray")
    for v, d in pairs:
        butler.put(
            np.full((4, 4), raw_value(v, d)),
            raw,
            {"instrument": "Cam", "visit": v, "detector": d},
            run="raw/all",
        )
    bias_type = DatasetType("bias", ("instrument", "detector"), "NumpyArray", is_calibration=True)
    r.register_collection("calib", CollectionType.CALIBRATION)
    for k, (begin, end) in enumerate([(0, 2.5), (2.5, 10)]):
        refs = [
            butler.put(
                np.full((4, 4), 1.0 + k),
                bias_type,
                {"instrument": "Cam", "detector": d},
                run=f"calib/bias{k}",
            )
            for d in DETECTORS
        ]
        r.certify("calib", refs, Timespan(T0 + begin * u.h, T0 + end * u.h))
    r.register_collection("inputs", CollectionType.CHAINED)
    r.set_collection_chain("inputs", ["raw/all", "calib"])
    return butler


# -- per-detector scale ---------------------------------------------------------------------------------
class ScaleConnections(PipelineTaskConnections, dimensions=DETECTOR):
    image = Input(name="raw_image", storage_class="NumpyArray", dimensions=DETECTOR)
    scaled = Output(name="scaled_image", storage_class="NumpyArray", dimensions=DETECTOR)


class ScaleConfig(PipelineTaskConfig, connections_class=ScaleConnections):
    factor: float = field(2.0, doc="Multiplier.")
    fail_visit: int = field(-1, doc="Raise for this visit (to test failures).")
    no_work_detector: int = field(-1, doc="Raise NoWorkFound for this detector.")


class ScaleTask(PipelineTask):
    """Multiply an image by ``factor``; fails or finds no work on request."""

    ConfigClass = ScaleConfig
    default_name = "scale"

    def run(self, image: np.ndarray) -> Struct:  # type: ignore[override]
        self.log.info("scaling an image of mean %.1f", float(image.mean()))
        if float(image[0, 0]) // 10 == self.config.fail_visit:
            raise RuntimeError("injected failure")
        if round(float(image[0, 0])) % 10 == self.config.no_work_detector:
            raise NoWorkFound("detector asked to have no work")
        return Struct(scaled=image * self.config.factor)


# -- gather per visit ----------------------------------------------------------------------------------
class VisitSumConnections(PipelineTaskConnections, dimensions=("instrument", "visit")):
    images = Input(name="scaled_image", storage_class="NumpyArray", dimensions=DETECTOR, multiple=True)
    total = Output(name="visit_sum", storage_class="StructuredDataDict", dimensions=("instrument", "visit"))


class VisitSumConfig(PipelineTaskConfig, connections_class=VisitSumConnections):
    pass


class VisitSumTask(PipelineTask):
    """Sum the pixels of all detectors of a visit."""

    ConfigClass = VisitSumConfig
    default_name = "visit_sum"

    def run(self, images: list[np.ndarray]) -> Struct:  # type: ignore[override]
        return Struct(total={"sum": float(sum(float(im.sum()) for im in images)), "n": len(images)})


# -- visit/detector -> tract/patch, spatial ----------------------------------------------------------------
WARP_DIMS = ("instrument", "visit", "skymap", "tract", "patch")


class PatchWarpConnections(PipelineTaskConnections, dimensions=WARP_DIMS):
    images = Input(name="scaled_image", storage_class="NumpyArray", dimensions=DETECTOR, multiple=True)
    warp = Output(name="patch_warp", storage_class="NumpyArray", dimensions=WARP_DIMS)


class PatchWarpConfig(PipelineTaskConfig, connections_class=PatchWarpConnections):
    pass


class PatchWarpTask(PipelineTask):
    """Average the detector images overlapping a patch (a stand-in for resampling)."""

    ConfigClass = PatchWarpConfig
    default_name = "patch_warp"

    def run(self, images: list[np.ndarray]) -> Struct:  # type: ignore[override]
        return Struct(warp=np.mean(np.stack(images), axis=0))


# -- calibration prerequisite -------------------------------------------------------------------------------
class DebiasConnections(PipelineTaskConnections, dimensions=DETECTOR):
    image = Input(name="raw_image", storage_class="NumpyArray", dimensions=DETECTOR)
    bias = PrerequisiteInput(
        name="bias", storage_class="NumpyArray", dimensions=("instrument", "detector"), is_calibration=True
    )
    debiased = Output(name="debiased_image", storage_class="NumpyArray", dimensions=DETECTOR)


class DebiasConfig(PipelineTaskConfig, connections_class=DebiasConnections):
    pass


class DebiasTask(PipelineTask):
    """Subtract the bias valid at the visit's time."""

    ConfigClass = DebiasConfig
    default_name = "debias"

    def run(self, image: np.ndarray, bias: np.ndarray) -> Struct:  # type: ignore[override]
        return Struct(debiased=image - bias)


PIPELINE_YAML = """
description: scale every detector, then sum each visit
tasks:
  scale:
    class: graph_testing_tasks.ScaleTask
  visit_sum:
    class: graph_testing_tasks.VisitSumTask
"""

WARP_PIPELINE_YAML = """
description: scale every detector, then warp onto patches
tasks:
  scale:
    class: graph_testing_tasks.ScaleTask
  warp:
    class: graph_testing_tasks.PatchWarpTask
"""
