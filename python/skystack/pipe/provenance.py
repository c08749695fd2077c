# SPDX-License-Identifier: GPL-3.0-or-later
"""Provenance of pipeline runs: what each quantum read, wrote and cost, and the software used.

Per quantum, executors store two datasets (their types are made by the graph):

``<label>_metadata`` (`~skystack.task.TaskMetadata`), only for quanta that succeeded or found no
    work, so that its existence marks a finished quantum (``--skip-existing``); key ``quantum``
    holds `quantum_provenance`, key ``task`` the task's own metadata.
``<label>_log`` (StructuredDataDict), for every quantum that ran: ``status``, ``records`` (the
    log records), ``exception`` and ``traceback`` of a failure, ``previous_errors`` of retried
    attempts and ``quantum`` (`quantum_provenance`).

Per run: ``packages`` (`package_versions`: Python, platform and the versions of skystack, its
core dependencies and the packages of the tasks, written once) and ``run_summary`` (per-task
counts of the last execution and the quanta it blocked). The size of all of it is proportional to
the work: a quantum's provenance names only its own inputs and outputs.
"""

from __future__ import annotations

import functools
import os
import platform
import resource
import sys
import uuid
from collections.abc import Iterable, Sequence
from importlib import metadata as importlib_metadata
from typing import TYPE_CHECKING, Any

from skystack.butler import DatasetType

if TYPE_CHECKING:
    from .graph import Quantum

__all__ = [
    "PACKAGES",
    "RUN_SUMMARY",
    "data_id_dict",
    "max_rss_mb",
    "package_versions",
    "quantum_provenance",
]

PACKAGES = DatasetType("packages", (), "StructuredDataDict")
"""Run-level dataset of the software versions used (written once per run)."""
RUN_SUMMARY = DatasetType("run_summary", (), "StructuredDataDict")
"""Run-level dataset: per-task counts of the last execution, its failures and blocked quanta."""

_CORE_PACKAGES = (
    "skystack",
    "numpy",
    "scipy",
    "astropy",
    "sqlalchemy",
    "pydantic",
    "pyarrow",
    "numba",
    "lsst-sphgeom",
    "healpy",
)


def max_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


def data_id_dict(data_id: Any) -> dict[str, Any]:
    """A data coordinate's required values as a plain dict."""
    return dict(zip(data_id.dimensions.required, data_id.values_tuple, strict=True))


def quantum_provenance(
    quantum: Quantum,
    *,
    status: str,
    attempt: int,
    start: float,
    wall_s: float,
    cpu_s: float,
    host: str,
    config_digest: str,
    inputs: Sequence[uuid.UUID],
    outputs: Sequence[uuid.UUID],
    error: str | None = None,
) -> dict[str, Any]:
    """The provenance record of one run of a quantum (JSON-compatible).

    Parameters
    ----------
    quantum : `~skystack.pipe.graph.Quantum`
    status : `str`
        A `~skystack.pipe.quantum_runner.QuantumStatus` value.
    attempt : `int`
        1 for the first try.
    start : `float`
        Start time (Unix seconds).
    wall_s, cpu_s : `float`
        Wall and CPU time of the quantum.
    host : `str`
        Host name.
    config_digest : `str`
        SHA-256 of the task's config (`~skystack.config.Config.digest`).
    inputs, outputs : sequence of `uuid.UUID`
        IDs of the datasets read (that existed) and written (provenance excluded).
    error : `str`, optional
        ``"Type: message"`` of a failure.

    Returns
    -------
    provenance : `dict`
        Keys ``task``, ``data_id``, ``id``, ``status``, ``attempt``, ``start``, ``wall_s``,
        ``cpu_s``, ``max_rss_mb`` (peak of the process so far), ``host``, ``pid``,
        ``config_digest``, ``inputs``, ``outputs`` and, for a failure, ``exception``.
    """
    prov: dict[str, Any] = {
        "task": quantum.task_label,
        "data_id": data_id_dict(quantum.data_id),
        "id": str(quantum.id),
        "status": status,
        "attempt": attempt,
        "start": start,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "max_rss_mb": max_rss_mb(),
        "host": host,
        "pid": os.getpid(),
        "config_digest": config_digest,
        "inputs": [str(i) for i in inputs],
        "outputs": [str(i) for i in outputs],
    }
    if error is not None:
        prov["exception"] = error
    return prov


@functools.cache
def _distribution_version(name: str) -> str | None:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return None


def package_versions(task_classes: Iterable[type] = ()) -> dict[str, Any]:
    """The software of a run: Python, platform, and versions of the core and task packages.

    Parameters
    ----------
    task_classes : iterable of `type`
        Task classes; for each one's top-level module, the version of the distribution of that
        name, else the module's ``__version__``, else ``"unknown"`` is recorded.

    Returns
    -------
    packages : `dict`
        ``{"python": ..., "implementation": ..., "platform": ..., "packages": {name: version}}``.
    """
    packages: dict[str, str] = {}
    for name in _CORE_PACKAGES:
        version = _distribution_version(name)
        if version is not None:
            packages[name] = version
    for cls in task_classes:
        top = cls.__module__.partition(".")[0]
        if top in packages:
            continue
        version = _distribution_version(top)
        if version is None:
            version = str(getattr(sys.modules.get(top), "__version__", "unknown"))
        packages[top] = version
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": dict(sorted(packages.items())),
    }
