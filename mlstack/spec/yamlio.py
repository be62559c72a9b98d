"""YAML in and out through ruamel.yaml, with errors that name the file and line."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from mlstack.errors import InputError


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_text(text: str, source: str) -> Any:
    """Parse YAML text; a syntax error becomes an InputError naming ``source`` and the line."""
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}" if mark is not None else "?"
        raise InputError(
            source, line, f"not valid YAML: {exc.problem}", "fix the syntax at that line"
        ) from exc
    except YAMLError as exc:
        raise InputError(source, "", f"not valid YAML: {exc}", "fix the YAML syntax") from exc


def read_source(path: Path, label: str) -> str:
    """A YAML file's text, or an InputError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(label, "", "file not found", "run `mlstack init` first") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(label, "", f"cannot read: {exc}", "check the file") from exc


def load_file(path: Path, source: str | None = None) -> Any:
    """Read and parse a YAML file into plain data (comments dropped; parse results cached)."""
    from mlstack.spec import cache

    label = source or str(path)
    text = read_source(path, label)
    return cache.remembered(
        "yaml", cache.key("yaml", text), lambda: to_plain(load_text(text, label))
    )


def load_document(path: Path, source: str | None = None) -> Any:
    """Read and parse a YAML file keeping comments and layout, for editing it in place."""
    label = source or str(path)
    return load_text(read_source(path, label), label)


def dump(data: Any, header: str = "") -> str:
    """Serialise ``data`` as YAML, preceded by ``header`` comment lines."""
    buf = io.StringIO()
    _yaml().dump(to_plain(data), buf)
    lines = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return lines + buf.getvalue()


def dump_document(data: Any) -> str:
    """Serialise a document loaded with :func:`load_text`, keeping its comments and layout."""
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return buf.getvalue()


def to_plain(data: Any) -> Any:
    """Turn ruamel's commented containers and tuples into plain dicts and lists."""
    if isinstance(data, dict):
        return {str(k): to_plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [to_plain(v) for v in data]
    for kind in (bool, str, int, float):  # ruamel's scalar subclasses keep their quoting style
        if isinstance(data, kind):
            return kind(data)
    return data
