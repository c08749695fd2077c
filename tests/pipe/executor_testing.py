# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the executor tests: repositories on SQLite or PostgreSQL, a task that misbehaves on
request (sleeps, transient errors, kills its own process, hangs), graphs and run snapshots.

The repository is `graph_testing_tasks.make_repo` (visits 1-4, detectors 0-2, visit 4 without
detector 2). `ChaosScaleTask` reads ``raw_image`` (pixel value ``10 * visit + detector``) and
writes ``scaled_image`` like ``graph_testing_tasks.ScaleTask``; it knows its quantum from the
pixel value. Behaviours that must happen once across processes and attempts (a transient error
on the first try, a worker killing itself once) leave marker files in ``config.marker_dir``.

PostgreSQL runs when ``CI=true`` or ``SKYSTACK_TEST_POSTGRES`` is set, against
``$SKYSTACK_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
each repository in its own schema, dropped afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from graph_testing_tasks import VisitSumTask, make_repo

from skystack.butler import Butler
from skystack.config import field
from skystack.pipe import (
    Input,
    NoWorkFound,
    Output,
    Pipeline,
    PipelineTask,
    PipelineTaskConfig,
    PipelineTaskConnections,
    TransientError,
)
from skystack.pipe.graph import QuantumGraph
from skystack.pipe.graph_builder import QuantumGraphBuilder
from skystack.task import Struct

__all__ = [
    "BACKENDS",
    "CHAOS_PIPELINE_YAML",
    "ChaosScaleTask",
    "RepoFactory",
    "VisitSumTask",
    "build_graph",
    "snapshot",
]

DETECTOR = ("instrument", "visit", "detector")
POSTGRES_URL = os.environ.get(
    "SKYSTACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_enabled() -> bool:
    """Whether the PostgreSQL variants run (``CI=true`` or ``SKYSTACK_TEST_POSTGRES``)."""
    return os.environ.get("CI", "").lower() == "true" or bool(os.environ.get("SKYSTACK_TEST_POSTGRES"))


BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not postgres_enabled(), reason="set CI=true or SKYSTACK_TEST_POSTGRES=1"),
        ],
    ),
]


class RepoFactory:
    """Makes the test repository on one backend and drops its PostgreSQL schema afterwards."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.namespaces: list[str] = []
        self.butlers: list[Butler] = []

    def make(self, name: str = "repo") -> Butler:
        kwargs: dict[str, Any] = {}
        if self.backend == "postgresql":
            namespace = f"test_{uuid.uuid4().hex[:12]}"
            self.namespaces.append(namespace)
            kwargs = {"db": POSTGRES_URL, "namespace": namespace}
        butler = make_repo(self.tmp_path / name, **kwargs)
        self.butlers.append(butler)
        return butler

    def cleanup(self) -> None:
        for butler in self.butlers:
            butler.close()
        if self.namespaces:
            import sqlalchemy as sa

            engine = sa.create_engine(POSTGRES_URL)
            with engine.begin() as conn:
                for namespace in self.namespaces:
                    conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE'))
            engine.dispose()


# -- a task that misbehaves on request -------------------------------------------------------------------
class ChaosScaleConnections(PipelineTaskConnections, dimensions=DETECTOR):
    image = Input(name="raw_image", storage_class="NumpyArray", dimensions=DETECTOR)
    scaled = Output(name="scaled_image", storage_class="NumpyArray", dimensions=DETECTOR)


class ChaosScaleConfig(PipelineTaskConfig, connections_class=ChaosScaleConnections):
    factor: float = field(2.0, doc="Multiplier.")
    sleep_s: float = field(0.0, doc="Sleep this long in every quantum.")
    marker_dir: str = field("", doc="Folder for once-only behaviours (must exist).")
    fail_visit: int = field(-1, doc="Raise RuntimeError for this visit.")
    no_work_detector: int = field(-1, doc="Raise NoWorkFound for this detector.")
    transient_visit: int = field(-1, doc="Raise TransientError for this visit ...")
    transient_times: int = field(1, doc="... this many times per quantum.")
    oserror_visit: int = field(-1, doc="Raise OSError once for this visit.")
    kill_visit: int = field(-1, doc="SIGKILL the own process once, for this visit.")
    slow_visit: int = field(-1, doc="Sleep slow_s (interruptibly) for this visit.")
    slow_s: float = field(30.0, doc="Sleep of slow_visit.")
    hang_visit: int = field(-1, doc="Block SIGALRM and sleep hang_s for this visit (pool workers only).")
    hang_s: float = field(60.0, doc="Sleep of hang_visit.")


def _once(marker_dir: str, name: str, times: int = 1) -> bool:
    """True the first ``times`` calls for ``name`` (across processes), False afterwards."""
    folder = Path(marker_dir)
    for k in range(times):
        try:
            fd = os.open(folder / f"{name}.{k}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            continue
        os.close(fd)
        return True
    return False


class ChaosScaleTask(PipelineTask):
    """Multiply an image by ``factor``; sleeps, fails, kills or hangs on request."""

    ConfigClass = ChaosScaleConfig
    default_name = "scale"

    def run(self, image: np.ndarray) -> Struct:  # type: ignore[override]
        c = self.config
        value = round(float(image[0, 0]))
        visit, detector = value // 10, value % 10
        key = f"v{visit}d{detector}"
        self.log.info("scaling visit %d detector %d", visit, detector)
        if c.sleep_s:
            time.sleep(c.sleep_s)
        if visit == c.fail_visit:
            raise RuntimeError("injected failure")
        if detector == c.no_work_detector:
            raise NoWorkFound("detector asked to have no work")
        if visit == c.transient_visit and _once(c.marker_dir, f"transient-{key}", c.transient_times):
            raise TransientError(f"injected transient failure of {key}")
        if visit == c.oserror_visit and _once(c.marker_dir, f"oserror-{key}"):
            raise OSError(f"injected OSError of {key}")
        if visit == c.kill_visit and _once(c.marker_dir, f"kill-{key}"):
            os.kill(os.getpid(), signal.SIGKILL)
        if visit == c.slow_visit:  # in short sleeps, so that an exception injected in a thread surfaces
            end = time.monotonic() + c.slow_s
            while time.monotonic() < end:
                time.sleep(0.02)
        if visit == c.hang_visit:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(c.hang_s)
        return Struct(scaled=image * c.factor)


CHAOS_PIPELINE_YAML = """
description: scale every detector (with injected trouble), then sum each visit
tasks:
  scale:
    class: executor_testing.ChaosScaleTask
  visit_sum:
    class: graph_testing_tasks.VisitSumTask
"""


def build_graph(
    butler: Butler, overrides: tuple[str, ...] = (), where: str = "", run: str = "out/run"
) -> QuantumGraph:
    """The graph of `CHAOS_PIPELINE_YAML` with ``label:field=value`` overrides."""
    pipeline = Pipeline.from_string(CHAOS_PIPELINE_YAML)
    for text in overrides:
        label, _, override = text.partition(":")
        pipeline.add_config_override(label, override)
    builder = QuantumGraphBuilder(
        butler.registry, pipeline.to_expanded(), input_collections=["inputs"], output_run=run, where=where
    )
    return builder.build()


_PROVENANCE_SUFFIXES = ("_log", "_metadata")
_RUN_LEVEL = ("run_summary", "packages")


def _digest(obj: Any) -> str:
    if isinstance(obj, np.ndarray):
        return hashlib.sha256(obj.tobytes() + str(obj.dtype).encode() + str(obj.shape).encode()).hexdigest()
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def snapshot(butler: Butler, run: str, *, provenance: bool = False) -> dict[tuple[str, tuple[Any, ...]], Any]:
    """Every dataset of ``run``: ``(type, data ID values) -> (dataset ID, content digest)``.

    Provenance datasets (whose timings differ between runs) are included by ID only with
    ``provenance``; run-level summaries are left out.
    """
    out: dict[tuple[str, tuple[Any, ...]], Any] = {}
    for dtype in butler.registry.query_dataset_types():
        if dtype.name in _RUN_LEVEL:
            continue
        is_prov = dtype.name.endswith(_PROVENANCE_SUFFIXES)
        if is_prov and not provenance:
            continue
        for ref in butler.registry.query_datasets_simple(dtype, [run], find_first=False):
            key = (dtype.name, ref.data_id.values_tuple)
            out[key] = (ref.id, None if is_prov else _digest(butler.get(ref)))
    return out
