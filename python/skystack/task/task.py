# SPDX-License-Identifier: GPL-3.0-or-later
"""The `Task` base class: a configurable unit of processing with subtasks, a logger and metadata.

A Task is usable on in-memory objects with no Butler and no pipeline::

    task = IsrTask(config=config)
    result = task.run(raw_exposure)       # a Struct

Subtasks are chosen by the config (see `skystack.config.subtask_field`) and built with
`Task.make_subtask`; their loggers and metadata are named by the task hierarchy
(``isr.overscan``).
"""

from __future__ import annotations

import datetime
import functools
import logging
import resource
import sys
import time
from collections.abc import Callable
from typing import Any, ClassVar, ParamSpec, TypeVar

from skystack.config import Config, ConfigError, SubtaskSelection

from .metadata import TaskMetadata

__all__ = ["Task", "TaskError", "timed"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class TaskError(RuntimeError):
    """A Task was built or used incorrectly (wrong config type, unknown subtask, ...)."""


def _max_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


def timed(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate a Task method so that each call records its cost in the task metadata.

    Under ``metadata["timing.<method>"]``: ``calls``, total ``wall_s`` and ``cpu_s`` (process CPU
    time, all threads), ``start_utc`` of the last call, and ``max_rss_mb``, the process's peak
    resident memory at the end of the call (a high-water mark: ``getrusage`` gives no
    per-call peak without tracing every allocation, which would slow pixel code down).
    """
    name = method.__name__

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        task = args[0]
        if not isinstance(task, Task):
            raise TaskError(f"@timed decorates Task methods; {name} was called on {type(task).__name__}")
        start_utc = datetime.datetime.now(datetime.UTC).isoformat()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            md = task.metadata
            key = f"timing.{name}"
            calls = md.get(f"{key}.calls", 0)
            md[key] = {
                "calls": calls + 1,
                "wall_s": md.get(f"{key}.wall_s", 0.0) + wall,
                "cpu_s": md.get(f"{key}.cpu_s", 0.0) + cpu,
                "start_utc": start_utc,
                "max_rss_mb": _max_rss_mb(),
            }

    return wrapper


class Task:
    """Base class of all tasks.

    Parameters
    ----------
    config : `~skystack.config.Config`, optional
        An instance of the task's ``ConfigClass`` (its default when omitted). It is checked
        (`Config.check`) but not frozen; executors freeze it before running.
    name : `str`, optional
        The task's name; ``default_name`` when omitted. Subtasks are named after their field.
    parent : `Task`, optional
        The task this one is a subtask of; sets the hierarchical ``full_name``.
    log : `logging.Logger`, optional
        Parent logger under which this task's logger is made; by default loggers are named
        by ``full_name`` (``"isr.overscan"``).

    Notes
    -----
    Subclasses set ``ConfigClass`` and ``default_name`` and implement ``run`` returning a
    `~skystack.task.Struct`. ``run`` must take in-memory objects and never a Butler.
    """

    ConfigClass: ClassVar[type[Config]] = Config
    default_name: ClassVar[str] = ""

    full_name: str
    """Hierarchical name: the parent's full name, a dot, and this task's name."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        name: str | None = None,
        parent: Task | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        cls = type(self)
        if config is None:
            config = cls.ConfigClass()
        elif not isinstance(config, cls.ConfigClass):
            raise TaskError(
                f"{cls.__name__} needs a config of type {cls.ConfigClass.__name__}, "
                f"got {type(config).__name__}; build one with {cls.__name__}.ConfigClass()"
            )
        try:
            config.check()
        except ConfigError as err:
            raise TaskError(f"Invalid config for {cls.__name__}: {err}") from err
        name = name or cls.default_name
        if not name:
            raise TaskError(f"{cls.__name__} has no default_name; pass name=...")
        if "." in name:
            raise TaskError(f"Task name {name!r} must not contain '.'")
        self.config = config
        self.name = name
        self._parent = parent
        self.full_name = f"{parent.full_name}.{name}" if parent is not None else name
        if log is not None:
            self.log = log.getChild(name)
        elif parent is not None:
            self.log = parent.log.getChild(name)
        else:
            self.log = logging.getLogger(self.full_name)
        self.metadata = TaskMetadata()
        self._subtasks: dict[str, Task] = {}

    def make_subtask(self, name: str, **kwargs: Any) -> Task:
        """Build the subtask selected by the config field ``name`` and attach it as ``self.<name>``.

        Parameters
        ----------
        name : `str`
            Name of a `~skystack.config.SubtaskSelection` field of this task's config.
        **kwargs
            Extra constructor arguments for the subtask.

        Raises
        ------
        TaskError
            If the config has no such subtask field.
        """
        selection = getattr(self.config, name, None) if name in type(self.config).model_fields else None
        if not isinstance(selection, SubtaskSelection):
            fields = [f for f, v in self.config if isinstance(v, SubtaskSelection)]
            raise TaskError(
                f"{type(self).__name__} has no subtask field {name!r} in its config; "
                f"subtask fields: {', '.join(fields) or '(none)'}"
            )
        target = selection.target
        if not (isinstance(target, type) and issubclass(target, Task)):
            raise TaskError(f"Subtask {name!r} selects {target!r}, which is not a Task class")
        subtask = target(config=selection.config, name=name, parent=self, **kwargs)
        self._subtasks[name] = subtask
        setattr(self, name, subtask)
        return subtask

    @property
    def parent(self) -> Task | None:
        return self._parent

    def get_task_dict(self) -> dict[str, Task]:
        """This task and all its subtasks, recursively, by full name."""
        tasks: dict[str, Task] = {self.full_name: self}
        for sub in self._subtasks.values():
            tasks.update(sub.get_task_dict())
        return tasks

    def get_full_metadata(self) -> TaskMetadata:
        """The metadata of this task and every subtask, keyed by full name (dots as nesting)."""
        full = TaskMetadata()
        for full_name, task in self.get_task_dict().items():
            full[full_name.replace(".", ":")] = task.metadata
        return full

    def empty_metadata(self) -> None:
        """Clear the metadata of this task and its subtasks (before another run)."""
        for task in self.get_task_dict().values():
            task.metadata = TaskMetadata()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.full_name!r})"
