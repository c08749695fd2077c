# SPDX-License-Identifier: GPL-3.0-or-later
"""Pipeline definitions: reading, expanding (configs, connections, ordering) and ``pipetask build``.

Targets (issue 5): ``pipetask --help`` under 0.2 s; reading and expanding a 100-task pipeline
(class import, four config layers, connections, contracts, topological sort) under 0.1 s, i.e.
well below the quantum-graph budget. Peers measured in the same run: the interpreter alone,
``yaml.safe_load`` of the same pipeline text (the floor of any YAML pipeline reader), and Rubin's
``pipetask --help`` when the venv of ``../shared/bench/rubin/setup_venv.sh`` exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from _util import Row, median_time, print_rows
from skystack.pipe import Pipeline

N_TASKS = 100
TEST_TASKS = Path(__file__).resolve().parent.parent / "tests" / "pipe"


def _pipeline_text(n: int) -> str:
    """A chain of ``n`` ScaleTasks, each reading the previous one's output, with config blocks."""
    lines = [
        "description: benchmark chain",
        "instrument: pipe_testing_tasks.TestCam",
        "parameters: {f: 1.5}",
        "tasks:",
    ]
    for i in range(n):
        source = "raw_image" if i == 0 else f"img{i - 1}"
        lines += [
            f"  s{i}:",
            "    class: pipe_testing_tasks.ScaleTask",
            "    config:",
            "      - factor: parameters.f",
            f"      - connections: {{image: {source}, scaled: img{i}}}",
        ]
    lines += ["contracts:", "  - s0.factor == s1.factor"]
    return "\n".join(lines) + "\n"


def _exe(name: str) -> str:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


def main() -> None:
    sys.path.insert(0, str(TEST_TASKS))
    text = _pipeline_text(N_TASKS)
    rows: list[Row] = []
    floor = median_time(lambda: yaml.safe_load(text), repeat=7)
    read = median_time(lambda: Pipeline.from_string(text), repeat=7)
    rows.append(Row(f"read {N_TASKS}-task pipeline", read, peer=floor, peer_name="yaml.safe_load"))
    expand = median_time(lambda: Pipeline.from_string(text).to_expanded(), repeat=7)
    rows.append(
        Row(
            f"read + expand {N_TASKS} tasks",
            expand,
            peer=floor,
            peer_name="yaml.safe_load",
            target="< 0.1 s",
            passed=expand < 0.1,
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chain.yaml"
        path.write_text(text)
        env = {**os.environ, "PYTHONPATH": str(TEST_TASKS)}

        def build() -> None:
            subprocess.run(
                [_exe("pipetask"), "build", "-p", str(path)], check=True, stdout=subprocess.DEVNULL, env=env
            )

        rows.append(Row(f"pipetask build -p ({N_TASKS} tasks), whole process", median_time(build, repeat=5)))
    bare = median_time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), repeat=7)
    ours = median_time(
        lambda: subprocess.run([_exe("pipetask"), "--help"], check=True, stdout=subprocess.DEVNULL), repeat=7
    )
    rubin = Path(os.environ.get("RUBIN_VENV", "/tmp/rubin-venv")) / "bin" / "pipetask"
    peer = (
        median_time(
            lambda: subprocess.run([str(rubin), "--help"], check=True, stdout=subprocess.DEVNULL), repeat=5
        )
        if rubin.exists()
        else None
    )
    rows.append(
        Row(
            "pipetask --help",
            ours,
            peer=peer,
            peer_name="Rubin pipetask",
            target="< 0.2 s",
            passed=ours < 0.2,
        )
    )
    rows.append(Row("python -c pass (interpreter alone)", bare))
    print_rows("Pipeline definitions (median times)", rows)
    if peer is None:
        print("(Rubin pipetask not measured: no venv at $RUBIN_VENV or /tmp/rubin-venv)")


if __name__ == "__main__":
    main()
