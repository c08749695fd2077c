# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed, validated, freezable task configurations with per-field history (the pex_config role).

See `Config` for declaring configs, `subtask_field` for choosing subtask implementations, and
`Config.history` for where each value came from.
"""

from .base import Config, FrozenDict, FrozenList, field
from .errors import (
    ConfigError,
    ConfigFieldError,
    ConfigFileError,
    ConfigFrozenError,
    ConfigValidationError,
    ConfigValueError,
    SubtaskError,
)
from .history import ConfigSource, HistoryEntry, SourceKind, config_source
from .subtask import SubtaskSelection, import_class, subtask_field
from .yaml_lines import load_yaml_with_lines, read_yaml_file

__all__ = [
    "Config",
    "ConfigError",
    "ConfigFieldError",
    "ConfigFileError",
    "ConfigFrozenError",
    "ConfigSource",
    "ConfigValidationError",
    "ConfigValueError",
    "FrozenDict",
    "FrozenList",
    "HistoryEntry",
    "SourceKind",
    "SubtaskError",
    "SubtaskSelection",
    "config_source",
    "field",
    "import_class",
    "load_yaml_with_lines",
    "read_yaml_file",
    "subtask_field",
]
