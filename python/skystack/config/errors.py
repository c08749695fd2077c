# SPDX-License-Identifier: GPL-3.0-or-later
"""Exceptions raised by the configuration system."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConfigFieldError",
    "ConfigFileError",
    "ConfigFrozenError",
    "ConfigValidationError",
    "ConfigValueError",
    "SubtaskError",
]


class ConfigError(ValueError):
    """Base class of configuration errors; the message says what is wrong and where."""


class ConfigFieldError(ConfigError, AttributeError):
    """A field name that the config does not have."""


class ConfigValueError(ConfigError, TypeError):
    """A value of the wrong type or out of the allowed range for a field."""


class ConfigFrozenError(ConfigError, AttributeError):
    """An assignment to a frozen config."""


class ConfigFileError(ConfigError):
    """An override file that cannot be read or parsed."""


class ConfigValidationError(ConfigError):
    """A cross-field check of a whole config failed."""


class SubtaskError(ConfigError):
    """An unknown or unusable subtask implementation name."""
