# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of skystack.config: typed fields, validation, overrides, history, freezing, files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import pytest

from skystack.config import (
    Config,
    ConfigFieldError,
    ConfigFileError,
    ConfigFrozenError,
    ConfigSource,
    ConfigValidationError,
    ConfigValueError,
    SourceKind,
    SubtaskError,
    SubtaskSelection,
    config_source,
    field,
    subtask_field,
)


class PolyConfig(Config):
    order: int = field(1, doc="Polynomial order.", ge=0, le=10)


class MedianConfig(Config):
    clip: float = field(3.0, doc="Clip in sigma.", gt=0)


class PolyTask:
    ConfigClass = PolyConfig


class MedianTask:
    ConfigClass = MedianConfig


class NotATask:
    pass


class Inner(Config):
    scale: float = field(1.0, doc="A scale.")
    names: list[str] = field(default_factory=list, doc="Some names.")


class Outer(Config):
    count: int = field(2, doc="A count.", ge=0, le=100)
    mode: Literal["fast", "slow"] = field("fast", doc="A choice.")
    label: str = field("x", doc="A string.")
    inner: Inner = field(default_factory=Inner, doc="Nested config.")
    weights: dict[str, float] = field(default_factory=dict, doc="Per-band weights.")
    radii: list[float] = field(default_factory=lambda: [3.0, 6.0], doc="Aperture radii.")
    pair: tuple[int, int] = field((1, 2), doc="A pair.")
    overscan: SubtaskSelection = subtask_field(
        choices={"poly": PolyTask, "median": MedianTask}, default="poly", doc="Overscan estimator."
    )
    low: float = field(0.0, doc="Lower bound.")
    high: float = field(1.0, doc="Upper bound.")

    def validate_config(self) -> None:
        if self.low >= self.high:
            raise ConfigValidationError(f"low ({self.low}) must be below high ({self.high})")


# -- declaration and validation -----------------------------------------------------------------


def test_defaults_types_and_docs() -> None:
    c = Outer()
    assert c.count == 2 and c.mode == "fast" and c.inner.scale == 1.0 and c.radii == [3.0, 6.0]
    assert c.overscan.name == "poly" and c.overscan.order == 1
    assert Outer.model_fields["count"].description == "A count."
    text = Outer.describe()
    assert "count (int): A count." in text and "choices: poly, median; default: poly" in text


def test_mutable_defaults_are_not_shared() -> None:
    a, b = Outer(), Outer()
    a.radii.append(9.0)
    a.inner.names.append("z")
    assert b.radii == [3.0, 6.0] and b.inner.names == []


def test_type_coercion_on_assignment() -> None:
    c = Outer()
    c.count = "7"  # type: ignore[assignment]
    assert c.count == 7 and isinstance(c.count, int)
    c.pair = [3, 4]  # type: ignore[assignment]
    assert c.pair == (3, 4)


def test_wrong_type_message_names_field_value_and_type() -> None:
    c = Outer()
    with pytest.raises(ConfigValueError) as info:
        c.count = "many"  # type: ignore[assignment]
    msg = str(info.value)
    assert "'count'" in msg and "'many'" in msg and "expected int" in msg and "Outer" in msg


def test_out_of_range_and_bad_choice() -> None:
    c = Outer()
    with pytest.raises(ConfigValueError, match=r"'count'.*101.*less than or equal to 100"):
        c.count = 101
    with pytest.raises(ConfigValueError, match=r"'mode'.*'medium'.*'fast' or 'slow'"):
        c.mode = "medium"  # type: ignore[assignment]
    assert c.count == 2 and c.mode == "fast"  # unchanged after errors


def test_unknown_field_suggests_closest() -> None:
    c = Outer()
    with pytest.raises(ConfigFieldError) as info:
        c.cout = 3
    assert "no field 'cout'" in str(info.value) and "Did you mean 'count'" in str(info.value)
    with pytest.raises(ConfigFieldError, match="no field 'bogus'"):
        Outer(bogus=1)


def test_cross_field_check() -> None:
    c = Outer()
    c.low = 5.0  # allowed transiently
    with pytest.raises(ConfigValidationError, match=r"Outer: low \(5.0\) must be below high \(1.0\)"):
        c.check()
    with pytest.raises(ConfigValidationError):
        c.freeze()
    assert not c.frozen
    c.high = 10.0
    c.freeze()
    assert c.frozen


# -- subtasks ------------------------------------------------------------------------------------


def test_subtask_selection_and_forwarding() -> None:
    c = Outer()
    assert c.overscan.target is PolyTask
    c.overscan.order = 4
    c.overscan.name = "median"
    assert c.overscan.target is MedianTask and c.overscan.clip == 3.0
    c.overscan.clip = 2.0
    c.overscan.name = "poly"  # configs of earlier choices are kept
    assert c.overscan.order == 4 and c.overscan["median"].clip == 2.0
    c.overscan = "median"  # type: ignore[assignment]
    assert c.overscan.name == "median"


def test_subtask_by_import_path() -> None:
    c = Outer()
    c.overscan.name = "skystack.tasks.image_statistics.MadStatsTask"
    from skystack.tasks.image_statistics import MadStatsTask

    assert c.overscan.target is MadStatsTask and c.overscan.use_mean is False


def test_unknown_subtask_name() -> None:
    c = Outer()
    with pytest.raises(SubtaskError) as info:
        c.overscan.name = "polly"
    msg = str(info.value)
    assert "Unknown subtask 'polly'" in msg and "poly, median" in msg and "Did you mean 'poly'" in msg
    with pytest.raises(SubtaskError, match="Field 'overscan' of Outer"):
        c.overscan = "nope"  # type: ignore[assignment]
    with pytest.raises(SubtaskError, match="Cannot import module 'no_such_pkg.mod'"):
        c.overscan.name = "no_such_pkg.mod.Task"
    with pytest.raises(SubtaskError, match="no ConfigClass"):
        c.overscan.name = f"{__name__}.NotATask"
    assert c.overscan.name == "poly"
    with pytest.raises(ConfigValueError, match="selects a subtask"):
        c.overscan = 3  # type: ignore[assignment]


# -- overrides and history -----------------------------------------------------------------------


def test_override_strings_are_coerced() -> None:
    c = Outer()
    c.apply_overrides(
        [
            "count=5",
            "inner.scale=2.5",
            "radii=[1, 2.5]",
            "weights.g=0.5",
            "label=123",  # YAML int, but the field is a string
            "mode=slow",
            "overscan.name=median",
            "overscan.clip=4",
        ]
    )
    assert c.count == 5 and c.inner.scale == 2.5 and c.radii == [1.0, 2.5]
    assert c.weights == {"g": 0.5} and c.label == "123" and c.mode == "slow"
    assert c.overscan.name == "median" and c.overscan.clip == 4.0


def test_override_string_errors() -> None:
    c = Outer()
    with pytest.raises(ConfigValueError, match="not of the form"):
        c.apply_override("count")
    with pytest.raises(ConfigFieldError, match=r"In 'inner'.*no field 'scal'.*Did you mean 'scale'"):
        c.apply_override("inner.scal=3")
    with pytest.raises(ConfigValueError) as info:
        c.apply_override("inner.scale=abc")
    msg = str(info.value)
    assert "'inner.scale'" in msg and "'abc'" in msg and "expected float" in msg and "command-line" in msg
    with pytest.raises(SubtaskError, match="overscan.name"):
        c.apply_override("overscan.name=bogus")


def test_yaml_file_overrides_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "over.yaml"
    path.write_text("count: 4\ninner:\n  scale: 0.5\noverscan:\n  name: median\n  clip: 2.0\n")
    c = Outer()
    c.load_overrides(path, SourceKind.INSTRUMENT)
    assert c.count == 4 and c.inner.scale == 0.5 and c.overscan.clip == 2.0
    entry = c.history("inner.scale")[-1]
    assert entry.source == ConfigSource(SourceKind.INSTRUMENT, str(path), 3)
    assert c.history("overscan.name")[-1].source.line == 5


def test_yaml_file_errors_name_file_line_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("count: 4\ninner:\n  scale: notanumber\n")
    with pytest.raises(ConfigValueError) as info:
        Outer().load_overrides(path)
    msg = str(info.value)
    assert str(path) in msg and "line 3" in msg and "'inner.scale'" in msg and "expected float" in msg

    path.write_text("count: 4\ninnr:\n  scale: 1\n")
    with pytest.raises(ConfigFieldError, match=r"no field 'innr'.*line 2.*Did you mean 'inner'"):
        Outer().load_overrides(path)

    path.write_text("count: [1,\n")
    with pytest.raises(ConfigFileError, match=rf"Cannot parse YAML in {path}, line 2"):
        Outer().load_overrides(path)

    path.write_text("count: 1\ncount: 2\n")
    with pytest.raises(ConfigFileError, match="duplicate key 'count'"):
        Outer().load_overrides(path)

    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigFileError, match="must be a mapping"):
        Outer().load_overrides(path)

    with pytest.raises(ConfigFileError, match="does not exist"):
        Outer().load_overrides(tmp_path / "missing.yaml")


def test_override_files_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f"count: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigFileError, match="tag .*python/object/apply:os.system.* is not allowed"):
        Outer().load_overrides(path)
    assert not marker.exists()
    py = tmp_path / "over.py"
    py.write_text(f"open({str(marker)!r}, 'w')\n")
    with pytest.raises(ConfigFileError, match="Python config files are not executed"):
        Outer().load_overrides(py)
    assert not marker.exists()


def test_history_records_every_source(tmp_path: Path) -> None:
    inst = tmp_path / "inst.yaml"
    inst.write_text("count: 3\n")
    pipe = tmp_path / "pipe.yaml"
    pipe.write_text("count: 4\n")
    c = Outer()
    c.load_overrides(inst, SourceKind.INSTRUMENT)
    c.load_overrides(pipe, SourceKind.PIPELINE)
    c.apply_override("count=5")
    c.count = 6
    hist = c.history("count")
    assert [h.value for h in hist] == [2, 3, 4, 5, 6]
    assert [h.source.kind for h in hist] == [
        SourceKind.DEFAULT,
        SourceKind.INSTRUMENT,
        SourceKind.PIPELINE,
        SourceKind.COMMAND_LINE,
        SourceKind.PYTHON,
    ]
    assert hist[4].source.location == __file__
    with config_source(ConfigSource(SourceKind.FILE, "user.yaml", 9)):
        c.count = 7
    assert str(c.history("count")[-1].source) == "file user.yaml, line 9"
    assert "count: 7" in c.format_history("count")
    with pytest.raises(ConfigFieldError, match="nested config"):
        c.history("inner")


def test_history_of_list_value_is_a_snapshot() -> None:
    c = Outer()
    c.radii = [1.0]
    c.radii.append(2.0)
    assert c.history("radii")[-1].value == [1.0]


# -- freezing ------------------------------------------------------------------------------------


def test_freeze_refuses_every_change() -> None:
    c = Outer().freeze()
    with pytest.raises(ConfigFrozenError, match=r"Cannot set Outer.count: the config is frozen"):
        c.count = 3
    with pytest.raises(ConfigFrozenError):
        c.inner.scale = 3.0
    with pytest.raises(ConfigFrozenError):
        c.radii.append(1.0)
    with pytest.raises(ConfigFrozenError):
        c.weights["g"] = 1.0
    with pytest.raises(ConfigFrozenError):
        c.overscan.name = "median"
    with pytest.raises(ConfigFrozenError):
        c.overscan.order = 2
    with pytest.raises(ConfigFrozenError):
        c.apply_override("count=9")
    assert c.count == 2 and c.radii == [3.0, 6.0]
    d = c.copy()
    d.count = 3
    d.radii.append(1.0)
    assert not d.frozen and c.count == 2 and c.frozen


# -- comparison, hashing, serialization ----------------------------------------------------------


def _modified() -> Outer:
    c = Outer()
    c.apply_overrides(
        ["count=9", "inner.names=[a, b]", "weights={g: 0.1, r: 1e-300}", "overscan.name=median"]
    )
    c.inner.scale = 0.1 + 0.2  # not exactly representable in decimal
    c.high = math.inf
    return c


def test_yaml_and_json_round_trips_are_lossless(tmp_path: Path) -> None:
    c = _modified()
    assert Outer.from_yaml(c.to_yaml()) == c
    assert Outer.from_json(c.to_json()) == c
    assert Outer.from_yaml(c.to_yaml()).inner.scale == 0.1 + 0.2
    for name in ("c.yaml", "c.json"):
        c.save(tmp_path / name)
        back = Outer.load(tmp_path / name)
        assert back == c and back.digest() == c.digest()
    assert json.loads(c.to_json())["overscan"] == {"name": "median", "config": {"clip": 3.0}}


def test_comparison_and_digest() -> None:
    a, b = Outer(), Outer()
    assert a == b and a.digest() == b.digest()
    b.count = 3
    assert a != b and a.digest() != b.digest()
    assert a.compare(b) == ["count: 2 != 3"]
    b.count = 2
    assert a == b and a.digest() == b.digest()  # history differs, values do not
    assert Outer() != Inner()
    # The digest is stable across processes: it depends only on class name and values.
    assert len(a.digest()) == 64 and a.digest() == Outer.from_yaml(a.to_yaml()).digest()


def test_from_json_rejects_bad_text() -> None:
    with pytest.raises(ConfigFileError, match="Cannot parse JSON config"):
        Outer.from_json("{count: 1")


def test_tags_on_mappings_and_lists_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text("inner: !!python/object:collections.OrderedDict {scale: 2}\n")
    with pytest.raises(ConfigFileError, match="line 1: tag 'tag:yaml.org,2002:python/object"):
        Outer().load_overrides(path)
    path.write_text("radii: !!python/tuple [1, 2]\n")
    with pytest.raises(ConfigFileError, match="is not allowed"):
        Outer().load_overrides(path)


def test_line_numbers_of_list_items() -> None:
    from skystack.config import load_yaml_with_lines

    data, lines = load_yaml_with_lines("a:\n  - x: 1\n  - y: 2\n    z: 3\n")
    assert data == {"a": [{"x": 1}, {"y": 2, "z": 3}]}
    assert lines["a[0]"] == 2 and lines["a[1].z"] == 4
