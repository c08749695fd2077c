# SPDX-License-Identifier: GPL-3.0-or-later
"""Validation of dataset-type and collection names (both become parts of file paths)."""

from __future__ import annotations

import re

from ._errors import InvalidNameError

__all__ = ["validate_collection_name", "validate_dataset_type_name"]

_DATASET_TYPE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+\-@,=]*$")
MAX_NAME_LENGTH = 255


def validate_dataset_type_name(name: str, *, allow_component: bool = True) -> str:
    """Check a dataset-type name: letters, digits and underscores, dots only to name components.

    Parameters
    ----------
    name : `str`
        E.g. ``"calexp"`` or the component ``"calexp.wcs"``.
    allow_component : `bool`, optional
        Whether a dotted component name is acceptable.

    Returns
    -------
    name : `str`
        The name, unchanged.

    Raises
    ------
    InvalidNameError
        If the name is empty, too long, starts with a digit, or has other characters.
    """
    if not isinstance(name, str) or not _DATASET_TYPE_RE.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"invalid dataset type name {name!r}: use letters, digits and underscores, not starting with a "
            "digit (a dot separates a component, as in 'calexp.wcs'), at most 255 characters"
        )
    if not allow_component and "." in name:
        raise InvalidNameError(
            f"dataset type name {name!r} names a component; register the parent "
            f"{name.split('.')[0]!r} instead"
        )
    return name


def validate_collection_name(name: str) -> str:
    """Check a collection name, which becomes a directory path in the datastore.

    Names are one or more ``/``-separated segments (``u/alice/run1``, as Rubin users write them);
    each segment starts with a letter, digit or underscore and holds only letters, digits and
    ``_ . + - @ , =``. So a name has no backslash, whitespace or control character, no empty,
    ``.`` or ``..`` segment and no leading or trailing ``/``: it can never escape the repository.

    Raises
    ------
    InvalidNameError
        If the name does not follow these rules; the message says which.
    """
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"collection name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"collection name {name[:40]!r}... is longer than {MAX_NAME_LENGTH} characters"
        )
    for segment in name.split("/"):
        if not _SEGMENT_RE.fullmatch(segment):
            raise InvalidNameError(
                f"invalid collection name {name!r}: segment {segment!r} is not allowed; use '/'-separated "
                "segments of letters, digits and '_.+-@,=' that start with a letter, digit or '_' "
                "(no spaces, backslashes, control characters, empty, '.' or '..' segments)"
            )
    return name
