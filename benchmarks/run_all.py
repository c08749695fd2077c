# SPDX-License-Identifier: GPL-3.0-or-later
"""Run every ``benchmarks/bench_*.py`` (or those named on the command line), each in its own process.

Usage: ``python benchmarks/run_all.py [startup fits wcs catalog ...]``
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        wanted = {f"bench_{name.removeprefix('bench_').removesuffix('.py')}.py" for name in argv}
        unknown = wanted - {s.name for s in scripts}
        if unknown:
            have = ", ".join(s.stem for s in scripts)
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {have}")
            return 2
        scripts = [s for s in scripts if s.name in wanted]
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE).returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
