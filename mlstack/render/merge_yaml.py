"""Three-way merge of a YAML file: the user's document, edited in place by key path.

The header (the ``#`` lines at the top, which mlstack writes) merges by line, so it follows the
render unless the user edited it. The body merges by key (:mod:`merge_yaml_tree`). When nothing
needs to change the user's bytes come back as they were; otherwise the document is dumped with
the project's YAML settings and the user's indentation, so untouched lines keep their comments,
order and quoting. A file that is not a YAML mapping falls back to the line merge.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from mlstack.render.merge_records import Conflict, MergeResult
from mlstack.render.merge_text import merge_lines
from mlstack.render.merge_yaml_tree import merge_tree
from mlstack.render.yaml_comments import attach_comments


def round_trip_yaml(mapping: int = 2, sequence: int = 4, offset: int = 2) -> YAML:
    """The project's YAML settings (see ``spec.yamlio``), keeping the user's quotes."""
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.preserve_quotes = True
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def split_header(text: str) -> tuple[str, str]:
    """The leading ``#`` and blank lines of a file (ruamel drops leading blanks), and the rest."""
    match = re.match(r"(?:(?:#[^\n]*|[ \t]*)(?:\n|$))*", text)
    end = match.end() if match else 0
    return text[:end], text[end:]


SIDES = ("base", "yours", "theirs")


class _Unparsed(Exception):
    """A side that is not valid YAML, named for the conflict that says so."""

    def __init__(self, side: str, problem: str) -> None:
        super().__init__(problem)
        self.side = side
        self.problem = problem


def merge_yaml(
    path: str, base: str, ours: str, theirs: str, resolve: Mapping[str, str]
) -> MergeResult:
    """Merge ``theirs``' changes since ``base`` into the user's YAML file ``ours``."""
    headers, bodies = zip(*(split_header(text) for text in (base, ours, theirs)), strict=True)
    try:
        docs = [_load(*args) for args in zip(bodies, SIDES, headers, strict=True)]
    except _Unparsed as exc:
        if exc.side == "theirs":
            raise ValueError(f"{path}: the render is not valid YAML: {exc.problem}") from exc
        lines = merge_lines(path, base, ours, theirs)
        broken = Conflict(path, "not valid YAML", exc.problem, "(merged by line instead)")
        return MergeResult(lines.text, (broken, *lines.conflicts))
    if not all(isinstance(doc, CommentedMap) for doc in docs):
        return merge_lines(path, base, ours, theirs)
    tail = [attach_comments(doc) for doc in docs][1]
    conflicts, changed = merge_tree(path, *docs, resolve)
    body = _dump(docs[1], bodies[1]) + tail if changed else bodies[1]
    return MergeResult(_merge_header(path, *headers) + body, tuple(conflicts))


def _load(body: str, side: str, header: str) -> Any:
    """Parse a body; an error names the side and the line in the whole file."""
    try:
        return round_trip_yaml().load(body)
    except MarkedYAMLError as exc:
        mark, above = exc.problem_mark, header.count("\n")
        line = f"line {mark.line + 1 + above}: " if mark is not None else ""
        raise _Unparsed(side, f"{side}: {line}{exc.problem}") from exc
    except (YAMLError, ValueError) as exc:  # ValueError: a bad date or !!int, say
        raise _Unparsed(side, f"{side}: {exc}") from exc


def _merge_header(path: str, base: str, ours: str, theirs: str) -> str:
    """The render's header unless the user edited it; both edits where they do not overlap."""
    merged = merge_lines(path, base, ours, theirs)
    return merged.text if merged.clean else ours


def _dump(doc: CommentedMap, original: str) -> str:
    """Dump the edited document with the indentation its original text used."""
    out = io.StringIO()
    _yaml_like(original).dump(doc, out)
    return out.getvalue()


def _yaml_like(text: str) -> YAML:
    """Project settings, with the user's indentation where ``text`` shows it."""
    return round_trip_yaml(*guess_indent(text))


_BLOCK_KEY = re.compile(
    r"^\s*(?!- )[^#\s][^#]*:\s*(#.*)?$"
)  # a key whose value starts on the next line


def guess_indent(text: str) -> tuple[int, int, int]:
    """``(mapping, sequence, offset)`` as ruamel counts them, read from the first nested blocks.

    Defaults are the project's (2, 4, 2), so a file mlstack wrote keeps its layout.
    """
    lines = [line for line in text.splitlines() if line.strip() and line.strip()[0] != "#"]
    mapping = offset = sequence = None
    for parent, child in pairwise(lines):
        if not _BLOCK_KEY.match(parent):
            continue
        step = _indent(child) - _indent(parent)
        item = child.lstrip()
        if item.startswith("- ") and offset is None and step >= 0:
            offset, sequence = step, step + 1 + _indent(item[1:])
        elif not item.startswith("-") and mapping is None and step > 0:
            mapping = step
    if offset is None or sequence is None:
        return (mapping or 2, 4, 2)
    return (mapping or 2, sequence, offset)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))
