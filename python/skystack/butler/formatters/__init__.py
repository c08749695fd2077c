# SPDX-License-Identifier: GPL-3.0-or-later
"""Formatters: write an in-memory dataset to a file and read it (or a component, or a part) back.

Each storage class names its formatter (see `skystack.butler.storage_classes`); formatter modules
are imported only when a dataset of their storage class is written or read, so that importing
the Butler does not import astropy, pandas or pyarrow.
"""

from ._base import Formatter, FormatterError

__all__ = ["Formatter", "FormatterError"]
