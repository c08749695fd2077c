# SPDX-License-Identifier: GPL-3.0-or-later
"""Running quantum graphs: the executors' public names, and a Butler-backed quantum context.

The executors live in `skystack.pipe.executors` (`SerialExecutor`, `PoolExecutor`,
`~skystack.pipe.executors.dask.DaskExecutor`) and run each quantum through
`~skystack.pipe.quantum_runner.QuantumRunner`; this module re-exports their names.
`ButlerQuantumContext` reads and writes one quantum's datasets directly through a Butler (each
put registers its dataset at once), for running a task's ``run_quantum`` by hand.
"""

from __future__ import annotations

from typing import Any

from skystack.butler import Butler, DatasetIdGenEnum, DatasetRef

from .executors import (
    ExecutionError,
    ExecutionReport,
    PoolExecutor,
    QuantumExecutor,
    RetryPolicy,
    SerialExecutor,
    ensure_dataset_types,
)
from .provenance import RUN_SUMMARY
from .quantum_runner import QuantumStatus, QuantumTimeoutError, TransientError

__all__ = [
    "RUN_SUMMARY",
    "ButlerQuantumContext",
    "ExecutionError",
    "ExecutionReport",
    "PoolExecutor",
    "QuantumExecutor",
    "QuantumStatus",
    "QuantumTimeoutError",
    "RetryPolicy",
    "SerialExecutor",
    "TransientError",
    "ensure_dataset_types",
]

_ID_MODE = DatasetIdGenEnum.DATAID_TYPE_RUN


class ButlerQuantumContext:
    """Reads and writes the datasets of one quantum through a Butler.

    Parameters
    ----------
    butler : `~skystack.butler.Butler`
        A writeable Butler of the repository the graph was built on.
    """

    def __init__(self, butler: Butler) -> None:
        self.butler = butler
        self.written: list[DatasetRef] = []

    def get(self, ref: DatasetRef) -> Any:
        """Read the dataset ``ref``.

        Raises
        ------
        LookupError
            (`~skystack.butler.DatasetNotFoundError`) if it does not exist.
        """
        return self.butler.get(ref)

    def put(self, obj: Any, ref: DatasetRef) -> None:
        """Write ``obj`` as the dataset ``ref``, with the dataset ID the graph fixed.

        Raises
        ------
        ExecutionError
            If the ID the Butler gave differs from the graph's (the graph was built for another
            output run, or with another ID scheme).
        """
        new = self.butler.put(obj, ref.dataset_type, ref.data_id, run=ref.run, id_generation=_ID_MODE)
        if new.id != ref.id:
            raise ExecutionError(
                f"Dataset {ref.dataset_type.name}{ref.data_id} was written with ID {new.id}, not the "
                f"graph's {ref.id}; rebuild the graph for output run {ref.run!r}"
            )
        self.written.append(ref)
