# SPDX-License-Identifier: GPL-3.0-or-later
"""Safe YAML reading that remembers the line of every value, for error messages and history.

Only YAML's safe subset is accepted: a ``!!python/...`` tag or any other custom tag is an error,
so no override file can make skystack execute code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigFileError

__all__ = ["LineMap", "load_yaml_with_lines"]

LineMap = dict[str, int]
"""Key path (``"overscan.order"``, ``"tasks.isr.config[0]"``) -> 1-based line number."""

# libyaml's parser when PyYAML was built with it (several times faster); same safe constructors.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _walk(loader: Any, node: yaml.Node, prefix: str, lines: LineMap) -> Any:
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
        raise ConfigFileError(
            f"line {node.start_mark.line + 1}: tag {node.tag!r} is not allowed; override files hold "
            "plain mappings, lists and scalars only"
        )
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            path = f"{prefix}[{index}]"
            lines[path] = item.start_mark.line + 1
            items.append(_walk(loader, item, path, lines))
        return items
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise ConfigFileError(
                    f"line {key_node.start_mark.line + 1}: mapping keys must be strings, got {key!r}"
                )
            if key in result:
                raise ConfigFileError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            path = f"{prefix}.{key}" if prefix else key
            lines[path] = key_node.start_mark.line + 1
            result[key] = _walk(loader, value_node, path, lines)
        return result
    return loader.construct_object(node, deep=True)


def load_yaml_with_lines(text: str, name: str = "<string>") -> tuple[Any, LineMap]:
    """Parse YAML text safely, returning the data and the line of each mapping value.

    Parameters
    ----------
    text : `str`
        YAML document.
    name : `str`
        Name of the source for error messages (usually the file path).

    Raises
    ------
    ConfigFileError
        If the text is not valid YAML, uses a non-safe tag, or has duplicate keys; the message
        names the source and the line.
    """
    loader = _SafeLoader(text)
    lines: LineMap = {}
    try:
        node = loader.get_single_node()
        data = None if node is None else _walk(loader, node, "", lines)
    except ConfigFileError as err:
        raise ConfigFileError(f"Cannot read config overrides from {name}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigFileError(f"Cannot parse YAML in {name}{where}: {problem}") from None
    finally:
        loader.dispose()
    return data, lines


def read_yaml_file(path: str | Path) -> tuple[Any, LineMap]:
    """Read a YAML file with `load_yaml_with_lines`; refuses Python config files."""
    path = Path(path)
    if path.suffix == ".py":
        raise ConfigFileError(
            f"{path}: Python config files are not executed by skystack; "
            "write the overrides as YAML (field: value) instead"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"Config override file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigFileError(f"Cannot read config override file {path}: {err}") from None
    return load_yaml_with_lines(text, str(path))
