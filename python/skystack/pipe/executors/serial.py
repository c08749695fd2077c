# SPDX-License-Identifier: GPL-3.0-or-later
"""`SerialExecutor`: runs the quanta one after the other in this process.

The tasks constructed by the driver are reused; each quantum runs through the same
`~skystack.pipe.quantum_runner.QuantumRunner` as in worker processes (datastore only), and the
driver registers finished quanta in batches. A per-quantum time limit uses ``SIGALRM`` when
`execute` runs in the main thread.
"""

from __future__ import annotations

import time

from ..quantum_runner import QuantumRunner
from .base import QuantumExecutor, RunState

__all__ = ["SerialExecutor"]


class SerialExecutor(QuantumExecutor):
    """Runs the quanta of a graph in this process, in dependency order.

    Takes the parameters of `~skystack.pipe.executors.base.QuantumExecutor`.
    """

    def _drive(self, run: RunState, graph_path: str | None) -> None:
        runner = QuantumRunner(
            self.butler.datastore,
            run.graph,
            init_records=run.init_records,
            timeout=self.timeout,
            retry_os_errors=self.retry.retry_os_errors,
            tasks=run.tasks,
        )
        while not run.done:
            item = run.next()
            if item is None:  # only delayed retries are left
                time.sleep(run.wait_time() or 0.01)
                run.tick()
                continue
            index, attempt, previous = item
            result = runner.run(index, run.inputs_of(index), attempt=attempt, previous_errors=previous)
            run.complete(result)
