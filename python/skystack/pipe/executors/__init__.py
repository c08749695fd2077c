# SPDX-License-Identifier: GPL-3.0-or-later
"""Executors of quantum graphs behind one interface (the ctrl_mpexec role).

`SerialExecutor` runs in process; `PoolExecutor` in a persistent pool of local worker processes
(``-j N``); `DaskExecutor` on a Dask distributed cluster (a local one by default). All share
the driver of `~skystack.pipe.executors.base`: workers write files only, the driver registers
finished quanta in batches; see that module for the run's phases and failure semantics.
`make_executor` picks one by name.
"""

from __future__ import annotations

from typing import Any

from .base import (
    ExecutionError,
    ExecutionReport,
    QuantumExecutor,
    RetryPolicy,
    RunState,
    ensure_dataset_types,
)
from .pool import DEFAULT_START_METHOD, START_METHODS, PoolExecutor
from .serial import SerialExecutor

__all__ = [
    "DEFAULT_START_METHOD",
    "EXECUTORS",
    "START_METHODS",
    "ExecutionError",
    "ExecutionReport",
    "PoolExecutor",
    "QuantumExecutor",
    "RetryPolicy",
    "RunState",
    "SerialExecutor",
    "ensure_dataset_types",
    "make_executor",
]

EXECUTORS = ("serial", "pool", "dask")
"""Names accepted by `make_executor` (``pipetask run --executor``)."""


def make_executor(
    name: str | None,
    butler: Any,
    processes: int = 1,
    *,
    start_method: str | None = None,
    scheduler_address: str | None = None,
    **kwargs: Any,
) -> QuantumExecutor:
    """The executor ``name`` (``serial``, ``pool`` or ``dask``) for ``processes`` workers.

    Parameters
    ----------
    name : `str` or `None`
        `None` chooses ``serial`` for one process and ``pool`` otherwise (``dask`` if a
        scheduler address is given).
    butler : `~skystack.butler.Butler`
    processes : `int`, optional
        Workers of the pool or of the local Dask cluster.
    start_method : `str`, optional
        Process start method of the pool (default `DEFAULT_START_METHOD`).
    scheduler_address : `str`, optional
        Dask scheduler to join.
    **kwargs
        Options of `QuantumExecutor` (``fail_fast``, ``retry``, ``timeout`` ...).

    Raises
    ------
    ValueError
        For an unknown name, or a scheduler address with another executor than ``dask``.
    """
    if name is None:
        name = "dask" if scheduler_address else ("serial" if processes == 1 else "pool")
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
    if scheduler_address is not None and name != "dask":
        raise ValueError(f"a Dask scheduler address was given for the {name!r} executor; use --executor dask")
    if name == "serial":
        if processes != 1:
            raise ValueError(f"the serial executor runs one process, not -j {processes}; use --executor pool")
        return SerialExecutor(butler, **kwargs)
    if name == "pool":
        return PoolExecutor(butler, processes, start_method=start_method or DEFAULT_START_METHOD, **kwargs)
    from .dask import DaskExecutor

    return DaskExecutor(butler, processes, scheduler_address=scheduler_address, **kwargs)
