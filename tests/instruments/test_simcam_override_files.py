# SPDX-License-Identifier: GPL-3.0-or-later
"""config/simcam/ holds SimCam's per-task overrides, each for a real task, all listed in its README."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import skystack.tasks
from skystack.config import ConfigFieldError, SourceKind
from skystack.instruments import SimCam
from skystack.pipe.instrument_overrides import apply_instrument_overrides
from skystack.task import Task


def _tasks_by_default_name() -> dict[str, dict[str, type[Task]]]:
    """``{default name: {class name: class}}`` of the tasks in ``skystack.tasks``."""
    out: dict[str, dict[str, type[Task]]] = {}
    for info in pkgutil.iter_modules(skystack.tasks.__path__, "skystack.tasks."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Task) and cls.__module__ == module.__name__ and cls.default_name:
                out.setdefault(cls.default_name, {})[cls.__name__] = cls
    return out


def _readme_rows(readme: str) -> dict[str, str]:
    """``{file: task class}`` from the README table (a row may list several files and tasks)."""
    rows: dict[str, str] = {}
    for line in readme.splitlines():
        cells = line.split("|")
        if len(cells) < 4:
            continue
        files = re.findall(r"`([\w.-]+\.yaml)`", cells[1])
        tasks = re.findall(r"`(\w+Task)`", cells[2])
        if files and len(tasks) == 1:
            tasks = tasks * len(files)
        assert len(files) == len(tasks), f"README row {line!r}: name one task per file"
        rows.update(zip(files, tasks, strict=True))
    return rows


def test_every_override_file_is_listed_and_applies_to_its_task() -> None:
    folder = SimCam().config_override_dir()
    assert folder is not None
    names = {p.name for p in folder.iterdir()}
    yamls = sorted(n for n in names if n.endswith(".yaml"))
    assert yamls, "config/simcam/ holds no override file"
    assert "README.md" in names
    readme = folder.joinpath("README.md").read_text(encoding="utf-8")
    rows = _readme_rows(readme)
    assert sorted(rows) == yamls, "config/simcam/README.md must list exactly the override files"
    tasks = _tasks_by_default_name()
    for name in yamls:
        stem = name.removesuffix(".yaml")
        assert stem in tasks, f"config/simcam/{name} names no task (no Task has default_name {stem!r})"
        assert rows[name] in tasks[stem], (
            f"README lists {name} for {rows[name]}, not one of {sorted(tasks[stem])}"
        )
        task = tasks[stem][rows[name]]
        config = task.ConfigClass()
        applied = apply_instrument_overrides(SimCam(), config, [stem])
        assert len(applied) == 1 and applied[0].endswith(name)
        config.check()
        # leaf paths that differ from the defaults (a subtask's fields are under "<subtask>.config")
        changed = [
            re.sub(r"\.config(?=\.)", "", line.split(":")[0]) for line in config.compare(task.ConfigClass())
        ]
        assert changed, f"config/simcam/{name} changes nothing"
        recorded = 0
        for path in changed:  # each change is recorded as the instrument's, with its file
            try:
                entry = config.history(path)[-1]
            except ConfigFieldError:  # a field of the default subtask that the override replaced
                continue
            assert entry.source.kind is SourceKind.INSTRUMENT and entry.source.location.endswith(name), path
            recorded += 1
        assert recorded, f"no change of config/simcam/{name} is recorded in the config's history"
