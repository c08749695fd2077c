# SPDX-License-Identifier: GPL-3.0-or-later
"""`numpy.ndarray` ↔ ``.npy`` files (object arrays are refused: nothing is pickled)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ._base import Formatter, FormatterError

__all__ = ["NumpyArrayFormatter"]


class NumpyArrayFormatter(Formatter):
    """`numpy.ndarray` ↔ NPY format (``allow_pickle=False`` both ways)."""

    extension: ClassVar[str] = ".npy"

    def write(self, obj: Any, path: Path) -> None:
        import numpy as np

        if obj.dtype.hasobject:
            raise TypeError(
                f"cannot store a numpy array of dtype {obj.dtype} (Python objects would be pickled); "
                "use a numeric, string or structured dtype"
            )
        with open(path, "wb") as stream:
            np.save(stream, obj, allow_pickle=False)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        import numpy as np

        try:
            with open(path, "rb") as stream:
                return np.load(stream, allow_pickle=False)
        except (ValueError, EOFError) as err:
            raise FormatterError(path, f"not a valid .npy file (truncated or corrupt?): {err}") from None
