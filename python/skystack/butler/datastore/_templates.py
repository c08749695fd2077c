# SPDX-License-Identifier: GPL-3.0-or-later
"""File-name templates of the datastore: ``{run}/{dataset_type}/{band:?}/{visit:?}/...``.

A template is a ``/``-separated relative path of literal text and ``{field}`` or ``{field:?}``
(optional) placeholders. Fields are ``run``, ``dataset_type``, ``component`` and the data-ID
dimensions and record fields of the dataset (e.g. ``band``, ``day_obs``). An optional field
missing from the data ID is dropped together with one ``_`` or ``-`` separator before it, and
path segments left empty disappear; a missing required field is an error.

Paths are unique per dataset: required dimensions of the dataset type that the template does not
use are appended to the file name, and every value is escaped (``%XX`` for any character other
than letters, digits and ``_.+-@,=``), so no value can add a folder or climb out of the root.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_TEMPLATE", "PathTemplate", "TemplateError"]

DEFAULT_TEMPLATE = (
    "{run}/{dataset_type}/{band:?}/{day_obs:?}/{dataset_type}_{instrument:?}_{exposure:?}_{visit:?}"
    "_{detector:?}_{physical_filter:?}_{skymap:?}_{tract:?}_{patch:?}_{run}"
)
"""The default template; the dataset's run and data ID make each path unique."""

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:\?)?\}")
_SAFE = re.compile(r"[A-Za-z0-9_.+\-@,=]")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+\-@,=]")


class TemplateError(ValueError):
    """A template is malformed or lacks a value for one of its required fields."""


def escape_value(value: Any) -> str:
    """A data-ID value as a safe path component (injective; ``.``/``..``/empty are escaped)."""
    text = str(value)
    text = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)
    if text in ("", ".", ".."):
        text = "".join(f"%{b:02X}" for b in text.encode()) or "%00"
    return text


class PathTemplate:
    """A parsed file-name template.

    Parameters
    ----------
    template : `str`
        The template text (see the module docstring).

    Raises
    ------
    TemplateError
        If it is empty, absolute, contains ``..``/``.`` segments or backslashes, has unbalanced
        braces, or does not use ``{run}`` (paths must differ between runs).
    """

    def __init__(self, template: str) -> None:
        self.template = template
        if not template or template.startswith("/") or "\\" in template:
            raise TemplateError(f"file template {template!r} must be a non-empty relative path without '\\'")
        literal_text = _FIELD.sub("", template)
        if "{" in literal_text or "}" in literal_text:
            raise TemplateError(f"file template {template!r} has an unbalanced or malformed '{{...}}' field")
        for segment in template.split("/"):
            if segment in ("", ".", ".."):
                raise TemplateError(f"file template {template!r} has an empty, '.' or '..' path segment")
        self.parts: list[tuple[str, str | None, bool]] = []  # (literal before, field, optional)
        pos = 0
        for match in _FIELD.finditer(template):
            self.parts.append((template[pos : match.start()], match.group(1), bool(match.group(2))))
            pos = match.end()
        self.tail = template[pos:]
        self.fields = frozenset(f for _, f, _ in self.parts if f is not None)
        if "run" not in self.fields:
            raise TemplateError(f"file template {template!r} must use {{run}} so that runs never share files")

    def format(self, values: Mapping[str, Any], unused: list[Any] | tuple[Any, ...] = ()) -> str:
        """The relative path for ``values`` (``run`` is not escaped: it is a validated name).

        Parameters
        ----------
        values : mapping
            Field values; ``run`` may contain ``/``.
        unused : sequence, optional
            Values appended to the file name (``_value``) to keep paths unique.

        Raises
        ------
        TemplateError
            If a required field has no value (the message lists the known fields).
        """
        out: list[str] = []
        drop_separator = False  # a dropped optional field began its segment: drop the next "_"
        for literal, name, optional in self.parts:
            if drop_separator and literal[:1] in ("_", "-"):
                literal = literal[1:]
            drop_separator = False
            out.append(literal)
            assert name is not None
            value = values.get(name)
            if value is None:
                if not optional:
                    raise TemplateError(
                        f"file template {self.template!r} needs {{{name}}}, which the dataset lacks; known "
                        f"fields: {', '.join(sorted(values))} (mark it optional as {{{name}:?}})"
                    )
                if out[-1][-1:] in ("_", "-") and out[-1][-1:]:
                    out[-1] = out[-1][:-1]
                else:
                    text = "".join(out)
                    drop_separator = not text or text.endswith("/")
                continue
            out.append(str(value) if name == "run" else escape_value(value))
        tail = self.tail[1:] if drop_separator and self.tail[:1] in ("_", "-") else self.tail
        out.append(tail)
        out.extend("_" + escape_value(value) for value in unused)
        return "/".join(s for s in "".join(out).split("/") if s)

    def __repr__(self) -> str:
        return f"PathTemplate({self.template!r})"
