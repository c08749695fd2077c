# SPDX-License-Identifier: GPL-3.0-or-later
"""The Task framework (the pipe_base.Task role): tasks, results structs and run metadata."""

from .metadata import MetadataValueError, TaskMetadata
from .struct import Struct
from .task import Task, TaskError, timed

__all__ = ["MetadataValueError", "Struct", "Task", "TaskError", "TaskMetadata", "timed"]
