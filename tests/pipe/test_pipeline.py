# SPDX-License-Identifier: GPL-3.0-or-later
"""Pipelines in YAML: imports, subsets, parameters, contracts, config layering and history, ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from skystack.config import SourceKind
from skystack.pipe import Pipeline, PipelineError, TaskDef, register_instrument

TASKS = "pipe_testing_tasks"


def _by_label(defs: list[TaskDef]) -> dict[str, TaskDef]:
    return {d.label: d for d in defs}


def test_instrument_pipeline_file_layering_with_history(pipe_data: Path) -> None:
    defs = _by_label(Pipeline.from_file(pipe_data / "base.yaml").to_expanded())
    cam = pipe_data / "testcam"
    scale = defs["calib_scale"].config
    assert scale.frozen and scale.factor == 4.0 and scale.offset == 7.0
    offset = scale.history("offset")
    assert [h.value for h in offset] == [0.0, 1.0, 5.0, 7.0]
    assert [h.source.kind for h in offset] == [
        SourceKind.DEFAULT,
        SourceKind.INSTRUMENT,  # testcam/scale.yaml (task default name)
        SourceKind.INSTRUMENT,  # testcam/calib_scale.yaml (label)
        SourceKind.PIPELINE,  # file: overrides/scale_offset.yaml
    ]
    assert (offset[1].source.location, offset[1].source.line) == (str(cam / "scale.yaml"), 3)
    assert (offset[2].source.location, offset[2].source.line) == (str(cam / "calib_scale.yaml"), 2)
    assert (offset[3].source.location, offset[3].source.line) == (
        str(pipe_data / "overrides" / "scale_offset.yaml"),
        2,
    )
    factor = scale.history("factor")
    assert [h.value for h in factor] == [2.0, 3.0, 4.0]
    assert (factor[2].source.location, factor[2].source.line) == (str(pipe_data / "base.yaml"), 14)
    assert defs["calib_scale"].instrument_files == (str(cam / "scale.yaml"), str(cam / "calib_scale.yaml"))
    # Connections renamed by a config block: calib_scale reads detrend's output, so it runs after it.
    assert defs["calib_scale"].connections.image.name == "detrended_image"
    assert defs["calib_scale"].connections.scaled.name == "calib_scaled"
    gain = defs["detrend"].config.history("gain")
    assert [h.value for h in gain] == [1.0, 1.5, 2.0]  # default, instrument, parameters.gain
    assert gain[2].source.line == 9


def test_imports_exclude_parameters_and_appended_config(pipe_data: Path) -> None:
    pipeline = Pipeline.from_file(pipe_data / "drp.yaml")
    assert list(pipeline.tasks) == ["detrend", "stats", "scale", "gather", "warp", "coadd"]
    assert pipeline.instrument == f"{TASKS}.TestCam"  # inherited from the import
    assert pipeline.parameters == {"gain": 3.0}  # the importing pipeline's value wins
    assert set(pipeline.subsets) == {"detrending", "step1", "step2"}
    assert [s.label for s in pipeline.steps] == ["step1", "step2"]
    assert pipeline.steps[1].dimensions == ("skymap", "tract")
    defs = _by_label(pipeline.to_expanded())
    assert defs["detrend"].config.gain == 3.0
    check = defs["detrend"].config.history("check_bias")
    assert check[-1].source.location == str(pipe_data / "drp.yaml") and check[-1].source.line == 20
    assert defs["scale"].config.factor == 3.0 and defs["gather"].config.bad_detectors == [3]
    assert defs["coadd"].config.statistic == "median"
    assert defs["coadd"].connections.warps.name == "deep_warp"


def test_include_import_and_import_config_false(tmp_path: Path, pipe_data: Path) -> None:
    text = f"""
imports:
  - location: {pipe_data / "base.yaml"}
    include: [detrending]
    import_config: false
"""
    pipeline = Pipeline.from_string(text)
    assert list(pipeline.tasks) == ["detrend", "stats"]
    defs = _by_label(pipeline.to_expanded())
    assert defs["detrend"].config.gain == 1.5  # instrument override only, the pipeline block was dropped
    with pytest.raises(PipelineError, match="give include or exclude, not both"):
        Pipeline.from_string(text.replace("import_config: false", "exclude: [stats]"))


def test_subset_selection(pipe_data: Path) -> None:
    step1 = Pipeline.from_file(f"{pipe_data / 'drp.yaml'}#step1")
    assert list(step1.tasks) == ["scale", "gather"] and len(step1.contracts) == 1
    step2 = Pipeline.from_file(f"{pipe_data / 'drp.yaml'}#step2")
    assert list(step2.tasks) == ["warp", "coadd"] and step2.contracts == []
    assert set(step2.subsets) == {"step2"} and [s.label for s in step2.steps] == ["step2"]
    mixed = Pipeline.from_file(f"{pipe_data / 'drp.yaml'}#coadd,detrending")
    assert list(mixed.tasks) == ["detrend", "stats", "coadd"]
    with pytest.raises(
        PipelineError, match="'nope' is neither a task label nor a subset; labels: detrend, stats"
    ):
        Pipeline.from_file(f"{pipe_data / 'drp.yaml'}#nope")


def test_user_overrides_come_last(tmp_path: Path, pipe_data: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("# mine\noffset: -2.5\n")
    pipeline = Pipeline.from_file(pipe_data / "drp.yaml")
    pipeline.add_config_file("scale", user)
    pipeline.add_config_override("scale", "factor=5")
    defs = _by_label(pipeline.to_expanded())
    factor = defs["scale"].config.history("factor")
    assert [h.value for h in factor] == [2.0, 3.0, 5.0]
    assert factor[-1].source.kind is SourceKind.COMMAND_LINE and "-c scale:factor=5" in str(factor[-1].source)
    offset = defs["scale"].config.history("offset")
    assert (
        offset[-1].value == -2.5 and offset[-1].source.kind is SourceKind.FILE and offset[-1].source.line == 2
    )
    with pytest.raises(PipelineError, match="No task labelled 'scal' .*labels are: detrend, stats, scale"):
        pipeline.add_config_override("scal", "factor=1")
    pipeline.add_config_override("scale", "factr=1")
    with pytest.raises(PipelineError, match="Task 'scale' .*has no field 'factr'.*Did you mean 'factor'"):
        pipeline.to_expanded()


def test_topological_order_cycles_and_duplicates() -> None:
    text = f"""
tasks:
  coadd: {TASKS}.CoaddTask
  warp: {TASKS}.WarpTask
  gather: {TASKS}.GatherTask
  scale: {TASKS}.ScaleTask
"""
    assert [d.label for d in Pipeline.from_string(text).to_expanded()] == ["scale", "warp", "coadd", "gather"]
    long_scale = f"scale: {{class: {TASKS}.ScaleTask, config: {{connections: {{image: deep_coadd}}}}}}"
    cycle = text.replace(f"scale: {TASKS}.ScaleTask", long_scale)
    with pytest.raises(
        PipelineError,
        match=r"cycle through their datasets: coadd -\[deep_coadd\]-> scale, "
        r"scale -\[scaled_image\]-> warp, warp -\[deep_warp\]-> coadd$",
    ):
        Pipeline.from_string(cycle).to_expanded()
    dup = text + f"  scale2: {TASKS}.ScaleTask\n"
    with pytest.raises(
        PipelineError, match="'scaled_image' is written by both task 'scale' and task 'scale2'"
    ):
        Pipeline.from_string(dup).to_expanded()
    prov = (
        text
        + f"  other:\n    class: {TASKS}.ScaleTask\n    config: {{connections: {{scaled: warp_metadata}}}}\n"
    )
    with pytest.raises(
        PipelineError, match="'warp_metadata' is written by both task 'warp' and task 'other'"
    ):
        Pipeline.from_string(prov).to_expanded()
    prereq = (
        f"tasks:\n  detrend: {TASKS}.DetrendTask\n  mkbias:\n    class: {TASKS}.ScaleTask\n"
        "    config: {connections: {scaled: bias}}\n"
    )
    with pytest.raises(PipelineError, match="reads 'bias' as a PrerequisiteInput .*task 'mkbias' writes it"):
        Pipeline.from_string(prereq).to_expanded()


def test_contracts_in_pipelines(pipe_data: Path) -> None:
    text = f"""
tasks:
  scale: {TASKS}.ScaleTask
  gather: {TASKS}.GatherTask
contracts:
  - contract: scale.factor > 10
    msg: Scale must amplify.
"""
    with pytest.raises(
        PipelineError, match=r"'scale.factor > 10' failed \(Scale must amplify.\): scale.factor = 2.0"
    ):
        Pipeline.from_string(text).to_expanded()
    pipeline = Pipeline.from_string(text)
    pipeline.add_config_override("scale", "factor=11")
    assert len(pipeline.to_expanded()) == 2
    with pytest.raises(
        PipelineError, match="names 'calibrate', which is not a task label; labels are: gather, scale"
    ):
        Pipeline.from_string(text.replace("scale.factor > 10", "calibrate.x == 1"))
    with pytest.raises(PipelineError, match="only the functions len, abs, min, max may be called"):
        Pipeline.from_string(text.replace("scale.factor > 10", "open('x')"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f"tasks:\n  s:\n    class: {TASKS}.ScaleTask\n    config:\n      - python: config.factor = 1\n",
            "line 5: 'python:' config blocks are not supported",
        ),
        ("taks: {}\n", "unknown entry 'taks', line 1"),
        ("tasks:\n  s:\n    config: {factor: 1}\n", "Task 's' at <string>, line 2 has no 'class'"),
        ("tasks:\n  s: [1]\n", "'tasks.s', line 2: Input should be a valid dictionary"),
        (
            f"tasks:\n  s: {TASKS}.ScaleTask\nsubsets:\n  one: [s, t]\n",
            "Subset 'one' names unknown label\\(s\\) \\['t'\\]",
        ),
        (
            f"tasks:\n  s: {{class: {TASKS}.ScaleTask, config: {{factor: parameters.f}}}}\n",
            "uses undefined parameter\\(s\\) f; defined parameters: \\(none\\)",
        ),
        ("description: !!python/name:os.system ''\n", "could not determine a constructor for the tag"),
        (f"tasks:\n  s: {TASKS}.ScaleTask\nsteps:\n  - label: nope\n", "Step 'nope' is not a subset"),
    ],
)
def test_invalid_pipelines(text: str, message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        Pipeline.from_string(text)


def test_expansion_errors(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="Task 'x' .*Cannot import module 'skystack.nope'"):
        Pipeline.from_string("tasks:\n  x: skystack.nope.Task\n").to_expanded()
    with pytest.raises(PipelineError, match="ImageStatisticsTask is not a PipelineTask subclass"):
        Pipeline.from_file("$SKYSTACK_CONFIG/pipelines/smoke.yaml").to_expanded()
    with pytest.raises(PipelineError, match="Unknown instrument 'NoCam'.*TestCamShort"):
        register_instrument("TestCamShort", f"{TASKS}.TestCam")
        Pipeline.from_string(f"instrument: NoCam\ntasks:\n  s: {TASKS}.ScaleTask\n").to_expanded()
    defs = Pipeline.from_string(f"instrument: TestCamShort\ntasks:\n  s: {TASKS}.ScaleTask\n").to_expanded()
    assert defs[0].config.factor == 3.0  # the registered short name found the overrides
    with pytest.raises(
        PipelineError, match="Invalid value for field 'gain'.*expected float.*from pipeline <string>, line 4"
    ):
        Pipeline.from_string(
            f"tasks:\n  d:\n    class: {TASKS}.DetrendTask\n    config: {{gain: many}}\n"
        ).to_expanded()
    (tmp_path / "a.yaml").write_text("imports: [b.yaml]\n")
    (tmp_path / "b.yaml").write_text("imports: [a.yaml]\n")
    with pytest.raises(PipelineError, match="imports form a cycle: .*a.yaml -> .*b.yaml -> .*a.yaml"):
        Pipeline.from_file(tmp_path / "a.yaml")
    with pytest.raises(PipelineError, match="does not exist"):
        Pipeline.from_file(tmp_path / "missing.yaml")


def test_yaml_round_trip(pipe_data: Path) -> None:
    pipeline = Pipeline.from_file(pipe_data / "drp.yaml")
    pipeline.add_config_override("gather", "bad_detectors=[5]")
    again = Pipeline.from_string(pipeline.to_yaml())
    assert again == pipeline
    first, second = _by_label(pipeline.to_expanded()), _by_label(again.to_expanded())
    assert list(first) == list(second)
    for label in first:
        assert first[label].config == second[label].config, label
    assert second["gather"].config.bad_detectors == [5]


def test_task_def_makes_the_task(pipe_data: Path) -> None:
    defs = _by_label(Pipeline.from_file(pipe_data / "base.yaml").to_expanded())
    detrend = defs["detrend"].make_task()
    assert detrend.name == "detrend" and detrend.config is defs["detrend"].config
    stats = defs["stats"].make_task(init_inputs=detrend.init_outputs)
    assert stats.init_inputs == {"schema": ["mean", "stddev"]}
    assert defs["stats"].dimensions == ("instrument", "visit", "detector")
    assert defs["stats"].task_name == f"{TASKS}.StatsTask"
