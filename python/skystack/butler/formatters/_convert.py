# SPDX-License-Identifier: GPL-3.0-or-later
"""Conversions between the in-memory table types (Arrow, astropy, pandas) used on read."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import astropy.table
    import pandas
    import pyarrow

__all__ = [
    "arrow_to_astropy",
    "arrow_to_pandas",
    "astropy_to_arrow",
    "astropy_to_pandas",
    "pandas_to_arrow",
    "pandas_to_astropy",
]


def arrow_to_astropy(table: pyarrow.Table) -> astropy.table.Table:
    """An astropy Table with the Arrow table's columns (numeric columns without copies)."""
    import astropy.table

    return astropy.table.Table({name: table.column(name).to_numpy() for name in table.column_names})


def arrow_to_pandas(table: pyarrow.Table) -> pandas.DataFrame:
    """A pandas DataFrame of the Arrow table."""
    return table.to_pandas()


def astropy_to_arrow(table: astropy.table.Table) -> pyarrow.Table:
    """An Arrow table with the astropy table's columns (units and descriptions are dropped)."""
    import numpy as np
    import pyarrow as pa

    return pa.table({name: np.asarray(table[name]) for name in table.colnames})


def astropy_to_pandas(table: astropy.table.Table) -> pandas.DataFrame:
    """A pandas DataFrame of the astropy table."""
    return table.to_pandas()


def pandas_to_arrow(frame: pandas.DataFrame) -> pyarrow.Table:
    """An Arrow table of the DataFrame (the index is kept only if it is not a default range)."""
    import pyarrow as pa

    return pa.Table.from_pandas(frame)


def pandas_to_astropy(frame: pandas.DataFrame) -> astropy.table.Table:
    """An astropy Table of the DataFrame."""
    import astropy.table

    return astropy.table.Table.from_pandas(frame)
