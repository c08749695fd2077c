# SPDX-License-Identifier: GPL-3.0-or-later
"""The file datastore: dataset files under a root folder, their records in the registry database."""

from ._file_datastore import (
    RECORDS_TABLE,
    DatastoreError,
    FileDatastore,
    StoredFileInfo,
    VerifyReport,
    file_checksum,
)
from ._templates import DEFAULT_TEMPLATE, PathTemplate, TemplateError

__all__ = [
    "DEFAULT_TEMPLATE",
    "RECORDS_TABLE",
    "DatastoreError",
    "FileDatastore",
    "PathTemplate",
    "StoredFileInfo",
    "TemplateError",
    "VerifyReport",
    "file_checksum",
]
