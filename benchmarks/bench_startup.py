# SPDX-License-Identifier: GPL-3.0-or-later
"""Start-up cost of the package and its commands, beside the Rubin middleware's ``pipetask``.

Targets (issue 2 / DESIGN.md): ``python -c "import skystack"`` under 0.3 s, ``pipetask --help``
under 0.5 s. The peer is the Rubin ``pipetask --help`` from the venv made by
``../shared/bench/rubin/setup_venv.sh`` (found through ``$RUBIN_VENV`` or ``/tmp/rubin-venv``);
it is skipped, and said so, when that venv does not exist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from _util import Row, median_time, print_rows

REPEAT = 7


def _command_time(argv: list[str]) -> float:
    def run() -> None:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return median_time(run, repeat=REPEAT, warmup=1)


def _exe(name: str) -> str:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


def _rubin_pipetask() -> str | None:
    venv = Path(os.environ.get("RUBIN_VENV", "/tmp/rubin-venv"))
    exe = venv / "bin" / "pipetask"
    return str(exe) if exe.exists() else None


def main() -> None:
    py = sys.executable
    bare = _command_time([py, "-c", "pass"])
    rows = [
        Row("python -c pass (interpreter alone)", bare),
        Row(
            'python -c "import skystack"',
            t := _command_time([py, "-c", "import skystack"]),
            target="< 0.3 s",
            passed=t < 0.3,
        ),
        Row('python -c "import skystack.config"', _command_time([py, "-c", "import skystack.config"])),
        Row('python -c "import skystack.task"', _command_time([py, "-c", "import skystack.task"])),
    ]
    rubin = _rubin_pipetask()
    peer = _command_time([rubin, "--help"]) if rubin else None
    ours = _command_time([_exe("pipetask"), "--help"])
    rows.append(
        Row(
            "pipetask --help",
            ours,
            peer=peer,
            peer_name="Rubin pipetask",
            target="< 0.5 s",
            passed=ours < 0.5,
        )
    )
    rows.append(Row("butler --help", _command_time([_exe("butler"), "--help"]), target="< 0.5 s"))
    rows[-1].passed = rows[-1].ours < 0.5
    print_rows(f"Start-up (median of {REPEAT} runs)", rows)
    if rubin is None:
        print("(Rubin peer not measured: no venv at $RUBIN_VENV or /tmp/rubin-venv;")
        print(" make one with ../shared/bench/rubin/setup_venv.sh /tmp/rubin-venv python3.12)")


if __name__ == "__main__":
    main()
