# SPDX-License-Identifier: GPL-3.0-or-later
"""Pipeline definitions and execution: reading and expanding pipelines, ``pipetask build``, and
the framework overhead of running trivial quanta with each executor.

Targets (issue 5): ``pipetask --help`` under 0.2 s; reading and expanding a 100-task pipeline
(class import, four config layers, connections, contracts, topological sort) under 0.1 s, i.e.
well below the quantum-graph budget. Peers measured in the same run: the interpreter alone,
``yaml.safe_load`` of the same pipeline text (the floor of any YAML pipeline reader), and Rubin's
``pipetask --help`` when the venv of ``../shared/bench/rubin/setup_venv.sh`` exists.

Execution: about 2,000 trivial quanta (per-detector -> per-visit -> global, the shape of the
Rubin harness' ``benchtasks``) with the serial, pool and Dask executors at -j1 and -j2: wall time
of ``execute`` per quantum (start-up of workers or of the Dask cluster, preparation and
registration included; median of ``SKYSTACK_BENCH_REPEATS`` runs, default 3). Target <= 5 ms.
The peer is Rubin's ``pipetask run -g`` (lsst-ctrl-mpexec) on the same machine and graph shape,
timed from its log (first "Preparing execution" to the last "Executed", as the harness does):
at -j1 on the same ~2,000 quanta, at -j2 on ``RUBIN_J2_SIZE`` (default 4x9 = 41 quanta) because
it starts one process per quantum. Set ``SKYSTACK_BENCH_RUBIN=0`` to skip the Rubin runs
(minutes), ``SKYSTACK_BENCH_EXEC_SIZE=VxD`` to change the size (quanta = V*D + V + 1).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from _util import Row, median_time, print_rows
from skystack.pipe import Pipeline

N_TASKS = 100
TEST_TASKS = Path(__file__).resolve().parent.parent / "tests" / "pipe"
HERE = Path(__file__).resolve().parent
RUBIN_HARNESS = Path(os.environ.get("RUBIN_HARNESS", "/work/shared/bench/rubin"))
RUBIN_VENV = Path(os.environ.get("RUBIN_VENV", "/tmp/rubin-venv"))
EXEC_TARGET_S = 0.005


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
    execution_benchmark()


# -- execution of trivial quanta ----------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    visits, _, detectors = text.partition("x")
    return int(visits), int(detectors)


def _make_exec_repo(root: Path, n_visits: int, n_detectors: int) -> object:
    """Our repository with the dimension records and one 16x16 ``bench_raw`` per visit/detector."""
    import numpy as np

    from skystack.butler import Butler, DatasetType

    butler = Butler.create(root)
    r = butler.registry
    r.insert_dimension_records(
        "instrument", [{"name": "BenchCam", "visit_max": 10**7, "exposure_max": 10**7, "detector_max": 10**4}]
    )
    r.insert_dimension_records(
        "physical_filter", [{"instrument": "BenchCam", "name": "BenchCam-r", "band": "r"}]
    )
    r.insert_dimension_records("detector", [{"instrument": "BenchCam", "id": d} for d in range(n_detectors)])
    r.insert_dimension_records(
        "visit",
        [{"instrument": "BenchCam", "id": v, "physical_filter": "BenchCam-r"} for v in range(n_visits)],
    )
    r.insert_dimension_records(
        "visit_detector_region",
        [
            {"instrument": "BenchCam", "visit": v, "detector": d}
            for v in range(n_visits)
            for d in range(n_detectors)
        ],
    )
    raw = DatasetType("bench_raw", ("instrument", "visit", "detector"), "NumpyArray")
    rng = np.random.default_rng(42)
    for v in range(n_visits):
        for d in range(n_detectors):
            arr = rng.normal(size=(16, 16)).astype(np.float32)
            butler.put(arr, raw, {"instrument": "BenchCam", "visit": v, "detector": d}, run="bench/raw")
    return butler


def _time_ours(butler: object, kind: str, processes: int, run: str) -> tuple[float, int]:
    from bench_exec_tasks import PIPELINE_YAML
    from skystack.pipe import Pipeline
    from skystack.pipe.executors import make_executor
    from skystack.pipe.graph_builder import QuantumGraphBuilder

    defs = Pipeline.from_string(PIPELINE_YAML).to_expanded()
    graph = QuantumGraphBuilder(
        butler.registry, defs, input_collections=["bench/raw"], output_run=run
    ).build()  # type: ignore[attr-defined]
    executor = make_executor(kind, butler, processes)
    t0 = time.perf_counter()
    report = executor.execute(graph, register_dataset_types=True)
    elapsed = time.perf_counter() - t0
    if not report.ok:
        raise RuntimeError(f"benchmark run {run} failed:\n{report.table()}")
    return elapsed, len(graph)


def _rubin_exec(work: Path, n_visits: int, n_detectors: int, processes: int) -> tuple[float, int] | None:
    """Rubin's execution time and quanta of ``pipetask run -j N -g`` (from its log), or None."""
    py = RUBIN_VENV / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(RUBIN_HARNESS)}
    work.mkdir(parents=True, exist_ok=True)
    repo = work / "repo"

    def call(*args: str, log: Path | None = None) -> None:
        with open(log or os.devnull, "w") as out:
            subprocess.run(args, check=True, env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT)

    bin_dir = RUBIN_VENV / "bin"
    call(str(bin_dir / "butler"), "create", str(repo))
    call(
        str(py), str(RUBIN_HARNESS / "bench_butler.py"), "setup", str(repo),
        "--visits", str(n_visits), "--detectors", str(n_detectors),
    )  # fmt: skip
    pipeline = str(RUBIN_HARNESS / "pipeline.yaml")
    graph = work / "g.qg"
    out = f"out/j{processes}"
    call(
        str(bin_dir / "pipetask"), "qgraph", "-b", str(repo), "-i", "bench/raw", "-o", out,
        "-p", pipeline, "--save-qgraph", str(graph),
    )  # fmt: skip
    log = work / f"run_j{processes}.log"
    extra = ["--start-method", "spawn"] if processes > 1 else []
    call(
        str(bin_dir / "pipetask"), "--long-log", "run", "-b", str(repo), "-i", "bench/raw", "-o", out,
        "-g", str(graph), "--register-dataset-types", "-j", str(processes), *extra, log=log,
    )  # fmt: skip
    spec = importlib.util.spec_from_file_location(
        "parse_pipetask_log", RUBIN_HARNESS / "parse_pipetask_log.py"
    )
    if spec is None or spec.loader is None:
        return None
    parser = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parser)
    parsed = parser.parse(str(log))
    if "exec_s" not in parsed or "quanta" not in parsed:
        return None
    return float(parsed["exec_s"]), int(parsed["quanta"])


def execution_benchmark() -> None:
    """Framework overhead per trivial quantum of each executor at -j1/-j2, beside Rubin's."""
    sys.path.insert(0, str(HERE))
    n_visits, n_detectors = _size(os.environ.get("SKYSTACK_BENCH_EXEC_SIZE", "100x19"))
    repeats = int(os.environ.get("SKYSTACK_BENCH_REPEATS", "3"))
    want_rubin = (
        os.environ.get("SKYSTACK_BENCH_RUBIN", "1") != "0" and (RUBIN_VENV / "bin" / "pipetask").exists()
    )
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="skystack-bench-exec-") as tmp:
        rubin: dict[int, float] = {}
        if want_rubin:
            j2_visits, j2_detectors = _size(os.environ.get("RUBIN_J2_SIZE", "4x9"))
            for processes, (v, d) in ((1, (n_visits, n_detectors)), (2, (j2_visits, j2_detectors))):
                try:
                    found = _rubin_exec(Path(tmp) / f"rubin_j{processes}", v, d, processes)
                except (subprocess.CalledProcessError, OSError) as err:
                    notes.append(f"Rubin -j{processes} failed: {err}")
                    continue
                if found is not None:
                    rubin[processes] = found[0] / found[1]
                    notes.append(f"Rubin -j{processes}: {found[1]} quanta in {found[0]:.1f} s (from its log)")
        else:
            notes.append("Rubin execution not measured (SKYSTACK_BENCH_RUBIN=0 or no venv at $RUBIN_VENV)")
        butler = _make_exec_repo(Path(tmp) / "ours", n_visits, n_detectors)
        for kind, processes in (("serial", 1), ("pool", 1), ("pool", 2), ("dask", 1), ("dask", 2)):
            per: list[float] = []
            n = 0
            for k in range(repeats):
                elapsed, n = _time_ours(butler, kind, processes, f"out/{kind}{processes}/{k}")
                per.append(elapsed / n)
            t = statistics.median(per)
            rows.append(
                Row(
                    f"{kind} -j{processes}: per trivial quantum ({n})",
                    t * 1e3,
                    "ms",
                    rubin[processes] * 1e3 if processes in rubin else None,
                    f"Rubin -j{processes}",
                    "<= 5 ms",
                    t <= EXEC_TARGET_S,
                )
            )
        butler.close()  # type: ignore[attr-defined]
    print_rows("Execution of trivial quanta (wall per quantum, start-up and registration included)", rows)
    for note in notes:
        print(f"({note})")


if __name__ == "__main__":
    main()
