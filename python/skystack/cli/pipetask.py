# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``pipetask`` command: build quantum graphs from pipelines and run them.

Pipeline commands (``build``, ``qgraph``, ``run``) are added here as the pipeline layer provides
them.
"""

from __future__ import annotations

import click

from .common import log_level_option, version_option

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@log_level_option
@version_option
def main() -> None:
    """Build and run skystack pipelines on a data repository."""


if __name__ == "__main__":
    main()
