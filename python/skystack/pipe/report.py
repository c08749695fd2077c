# SPDX-License-Identifier: GPL-3.0-or-later
"""What happened in a pipeline run, read back from its provenance datasets (``pipetask report``).

`collect_report` looks only at the repository, never at an executor's memory, so it works for
runs that crashed or were made by another process:

* a quantum *succeeded* or found *no work* if its ``<label>_metadata`` exists (its
  ``quantum.status`` says which);
* it *failed* if its ``<label>_log`` exists without the metadata (the log holds the exception,
  the traceback and earlier attempts' errors);
* it was *blocked* if the ``run_summary`` of the last execution lists it and it has neither;
* with the run's quantum graph, quanta with no trace at all are *missing* (never attempted, e.g.
  because the driver was killed).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skystack.butler import Butler

    from .graph import QuantumGraph

__all__ = ["REPORT_STATES", "ReportError", "RunReport", "collect_report"]

REPORT_STATES = ("succeeded", "failed", "blocked", "no_work")
"""The per-task counts of a report (``missing`` is added when a graph is given)."""


class ReportError(LookupError):
    """The run does not exist, is not a RUN collection, or holds no provenance."""


@dataclasses.dataclass
class RunReport:
    """Per-task counts of a run and its failures.

    Attributes
    ----------
    run : `str`
    counts : `dict` [`str`, `dict` [`str`, `int`]]
        Per task label, the number of quanta in each state (`REPORT_STATES`, plus ``missing``
        when a graph was given).
    failures : `list` [`dict`]
        Per failed quantum: ``task``, ``data_id``, ``exception``, ``traceback``, ``attempt``,
        ``previous_errors``, ``host``.
    """

    run: str
    counts: dict[str, dict[str, int]]
    failures: list[dict[str, Any]]

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-compatible form (what ``pipetask report --json`` prints)."""
        return {"run": self.run, "tasks": self.counts, "failures": self.failures}

    @property
    def ok(self) -> bool:
        """Whether no quantum failed, was blocked or is missing."""
        return not any(c.get(k, 0) for c in self.counts.values() for k in ("failed", "blocked", "missing"))

    def table(self, *, tracebacks: bool = False) -> str:
        """The counts as a table, then one line per failure (and its traceback if asked)."""
        heads = list(REPORT_STATES) + (
            ["missing"] if any("missing" in c for c in self.counts.values()) else []
        )
        width = max([len("task"), *(len(k) for k in self.counts)])
        lines = [f"Run {self.run!r}", f"{'task':<{width}}  " + "  ".join(f"{h:>9}" for h in heads)]
        for label, c in self.counts.items():
            lines.append(f"{label:<{width}}  " + "  ".join(f"{c.get(h, 0):>9}" for h in heads))
        for f in self.failures:
            data_id = ", ".join(f"{k}: {v!r}" for k, v in f["data_id"].items())
            lines.append(f"FAILED {f['task']}{{{data_id}}}: {f['exception']}")
            if tracebacks and f.get("traceback"):
                lines.extend("    " + line for line in f["traceback"].rstrip().splitlines())
        return "\n".join(lines)


def _labels(butler: Butler, run: str) -> list[str]:
    labels = []
    for dtype in butler.registry.query_dataset_types("*_log"):
        if dtype.storage_class_name != "StructuredDataDict":
            continue
        if butler.registry.query_datasets_simple(dtype, [run], find_first=False):
            labels.append(dtype.name.removesuffix("_log"))
    return labels


def _key(data_id: Any) -> tuple[Any, ...]:
    return tuple(data_id.values_tuple)


def collect_report(butler: Butler, run: str, *, graph: QuantumGraph | None = None) -> RunReport:
    """Count the quanta of ``run`` by state, from its provenance datasets.

    Parameters
    ----------
    butler : `~skystack.butler.Butler`
    run : `str`
        The output RUN collection.
    graph : `~skystack.pipe.graph.QuantumGraph`, optional
        The run's graph: fixes the task order and counts quanta without provenance as
        ``missing``.

    Returns
    -------
    report : `RunReport`

    Raises
    ------
    ReportError
        If ``run`` is not a RUN collection, or (without a graph) has no quantum provenance.
    """
    from skystack.butler import CollectionType, MissingCollectionError, MissingDatasetTypeError

    from .provenance import RUN_SUMMARY

    try:
        ctype = butler.registry.get_collection_type(run)
    except MissingCollectionError:
        raise ReportError(f"no collection {run!r} in the repository at {butler.root}") from None
    if ctype is not CollectionType.RUN:
        raise ReportError(f"collection {run!r} is {ctype.name}; pipetask report needs the output RUN")
    summary: dict[str, Any] = {}
    try:
        ref = butler.registry.find_dataset(RUN_SUMMARY, {}, collections=[run])
    except MissingDatasetTypeError:
        ref = None
    if ref is not None:
        summary = butler.get(ref)
    labels = list(graph.task_defs) if graph is not None else _labels(butler, run)
    if graph is None:
        order = list(summary.get("counts", {}))
        labels.sort(key=lambda label: (order.index(label) if label in order else len(order), label))
    if not labels:
        raise ReportError(f"run {run!r} holds no quantum provenance (no <label>_log datasets)")
    counts: dict[str, dict[str, int]] = {}
    failures: list[dict[str, Any]] = []
    for label in labels:
        c = counts[label] = {s: 0 for s in REPORT_STATES}
        metas = _refs(butler, f"{label}_metadata", run)
        logs = _refs(butler, f"{label}_log", run)
        for meta_ref in metas.values():
            status = butler.get(meta_ref).get("quantum.status", "succeeded")
            c["no_work" if status == "no_work" else "succeeded"] += 1
        for key, log_ref in logs.items():
            if key in metas:
                continue
            log = butler.get(log_ref)
            c["failed"] += 1
            prov = log.get("quantum") or {}
            failures.append(
                {
                    "task": label,
                    "data_id": dict(zip(log_ref.data_id.dimensions.required, key, strict=True)),
                    "exception": log.get("exception"),
                    "traceback": log.get("traceback"),
                    "attempt": prov.get("attempt"),
                    "previous_errors": log.get("previous_errors", []),
                    "host": prov.get("host"),
                }
            )
        traced = set(metas) | set(logs)
        blocked = {tuple(d.values()) for d in summary.get("blocked", {}).get(label, [])} - traced
        c["blocked"] = len(blocked)
        if graph is not None:
            known = traced | blocked
            c["missing"] = sum(1 for q in graph.quanta_of(label) if _key(q.data_id) not in known)
    return RunReport(run, counts, failures)


def _refs(butler: Butler, name: str, run: str) -> dict[tuple[Any, ...], Any]:
    from skystack.butler import MissingDatasetTypeError

    try:
        refs = butler.registry.query_datasets_simple(name, [run], find_first=False)
    except MissingDatasetTypeError:
        return {}
    return {_key(r.data_id): r for r in refs}
