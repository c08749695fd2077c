# SPDX-License-Identifier: GPL-3.0-or-later
"""Options and helpers shared by the command-line tools (kept free of heavy imports)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import click

__all__ = ["LOG_LEVELS", "configure_logging", "log_level_option", "version_option"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def configure_logging(level: str) -> None:
    """Send log records of all skystack tasks to stderr at ``level``."""
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(levelname)s %(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def _set_level(ctx: click.Context, param: click.Parameter, value: str) -> str:
    configure_logging(value)
    return value


def log_level_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--log-level LEVEL``: how much the tasks and the framework log (default INFO)."""
    return click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        default="INFO",
        show_default=True,
        expose_value=False,
        is_eager=True,
        callback=_set_level,
        help="Logging level of tasks and framework messages.",
    )(fn)


def version_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--version``: print the skystack version."""
    from skystack import __version__

    return click.version_option(__version__, "--version", prog_name="skystack")(fn)
