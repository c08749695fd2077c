# SPDX-License-Identifier: GPL-3.0-or-later
"""Trivial PipelineTasks for the execution benchmark, shaped like the Rubin peer's ``benchtasks``.

``DetStepTask`` per (instrument, visit, detector) reads a 16x16 ``bench_raw`` array and writes a
scaled copy and a small dict; ``VisitGatherTask`` per visit gathers the dicts into an Astropy
table; ``SummaryTask`` per instrument reduces the tables to a dict. The work per quantum is
negligible, so the time measures the framework: scheduling, I/O, provenance, registration.
Kept in their own module so that worker processes (pool, Dask) can import them by name.
"""

from __future__ import annotations

from typing import Any

import astropy.table
import numpy as np

from skystack.config import field
from skystack.pipe import Input, Output, PipelineTask, PipelineTaskConfig, PipelineTaskConnections
from skystack.task import Struct

__all__ = ["PIPELINE_YAML", "DetStepTask", "SummaryTask", "VisitGatherTask"]

DETECTOR = ("instrument", "visit", "detector")


class DetStepConnections(PipelineTaskConnections, dimensions=DETECTOR):
    raw = Input(name="bench_raw", storage_class="NumpyArray", dimensions=DETECTOR)
    calexp = Output(name="bench_calexp", storage_class="NumpyArray", dimensions=DETECTOR)
    stats = Output(name="bench_det_stats", storage_class="StructuredDataDict", dimensions=DETECTOR)


class DetStepConfig(PipelineTaskConfig, connections_class=DetStepConnections):
    scale: float = field(2.0, doc="Multiplier.")


class DetStepTask(PipelineTask):
    """Scale the input and summarise it."""

    ConfigClass = DetStepConfig
    default_name = "detStep"

    def run(self, raw: np.ndarray) -> Struct:  # type: ignore[override]
        calexp = raw * self.config.scale
        stats = {"mean": float(calexp.mean()), "std": float(calexp.std()), "n": int(calexp.size)}
        return Struct(calexp=calexp, stats=stats)


class VisitGatherConnections(PipelineTaskConnections, dimensions=("instrument", "visit")):
    stats = Input(
        name="bench_det_stats", storage_class="StructuredDataDict", dimensions=DETECTOR, multiple=True
    )
    table = Output(name="bench_visit_table", storage_class="AstropyTable", dimensions=("instrument", "visit"))


class VisitGatherConfig(PipelineTaskConfig, connections_class=VisitGatherConnections):
    pass


class VisitGatherTask(PipelineTask):
    """One row per detector of the visit."""

    ConfigClass = VisitGatherConfig
    default_name = "visitGather"

    def run(self, stats: list[dict[str, Any]]) -> Struct:  # type: ignore[override]
        return Struct(
            table=astropy.table.Table(
                {"mean": np.array([s["mean"] for s in stats]), "std": np.array([s["std"] for s in stats])}
            )
        )


class SummaryConnections(PipelineTaskConnections, dimensions=("instrument",)):
    tables = Input(
        name="bench_visit_table",
        storage_class="AstropyTable",
        dimensions=("instrument", "visit"),
        multiple=True,
    )
    summary = Output(name="bench_summary", storage_class="StructuredDataDict", dimensions=("instrument",))


class SummaryConfig(PipelineTaskConfig, connections_class=SummaryConnections):
    pass


class SummaryTask(PipelineTask):
    """Survey-wide numbers."""

    ConfigClass = SummaryConfig
    default_name = "summary"

    def run(self, tables: list[astropy.table.Table]) -> Struct:  # type: ignore[override]
        n_rows = sum(len(t) for t in tables)
        mean = float(np.mean([float(np.mean(t["mean"])) for t in tables])) if tables else 0.0
        return Struct(summary={"n_visits": len(tables), "n_rows": n_rows, "mean": mean})


PIPELINE_YAML = """
description: per-detector -> per-visit -> global, trivial work (execution benchmark)
tasks:
  detStep:
    class: bench_exec_tasks.DetStepTask
  visitGather:
    class: bench_exec_tasks.VisitGatherTask
  summary:
    class: bench_exec_tasks.SummaryTask
"""
