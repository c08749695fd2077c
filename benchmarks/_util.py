# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers for the benchmark scripts: robust timing and a side-by-side report table."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Row", "median_time", "print_rows"]


def median_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs after ``warmup`` runs.

    As `timeit` does, garbage is collected once before the runs and the collector is off while
    they are timed: a collection before every run would evict the CPU caches and charge short
    operations for it.
    """
    for _ in range(warmup):
        fn()
    times = []
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return statistics.median(times)


@dataclass
class Row:
    """One benchmark figure, optionally beside the peer's figure and a target.

    ``target`` is a human-readable goal; ``passed`` says whether it was met (None: no target).
    """

    name: str
    ours: float
    unit: str = "s"
    peer: float | None = None
    peer_name: str = ""
    target: str = ""
    passed: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.peer is None or self.peer == 0:
            return None
        return self.ours / self.peer


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.1f} us"
        if value < 1:
            return f"{value * 1e3:.2f} ms"
        return f"{value:.3f} s"
    return f"{value:.4g} {unit}"


def print_rows(title: str, rows: list[Row]) -> None:
    """Print a table of rows: figure, peer figure, ratio ours/peer, target and verdict."""
    print(f"\n## {title}")
    header = f"{'measurement':44s} {'skystack':>12s} {'peer':>12s} {'ratio':>7s}  target / verdict"
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        verdict = "" if r.passed is None else ("PASS" if r.passed else "MISS")
        peer = _fmt(r.peer, r.unit) + (f" ({r.peer_name})" if r.peer_name and r.peer is not None else "")
        print(f"{r.name:44s} {_fmt(r.ours, r.unit):>12s} {peer:>12s} {ratio:>7s}  {r.target} {verdict}")
