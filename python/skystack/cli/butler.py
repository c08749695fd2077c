# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``butler`` command: create and manage data repositories.

Repository commands (``create``, ``register-instrument``, ``ingest-raws``, ``query-datasets``,
...) are added here as the Butler layer provides them.
"""

from __future__ import annotations

import click

from .common import log_level_option, version_option

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@log_level_option
@version_option
def main() -> None:
    """Manage skystack data repositories."""


if __name__ == "__main__":
    main()
