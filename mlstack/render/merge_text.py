"""Three-way merge of a text file by line: diff3 semantics from ``merge3``, standard markers.

Files whose lines form a set (requirements, ignore files) get one refinement: a conflict where
the two sides touched different entries (the user appended ``numpy``, the render bumped
``redis`` on the line above or appended ``mlflow`` at the same place) keeps both sides' lines,
since their order does not matter. Entries are compared by package name in requirements files,
so a pin changed on both sides is still a conflict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

import merge3

from mlstack.render.merge_records import (
    BASE_LABEL,
    BASE_MARKER,
    END_MARKER,
    MID_MARKER,
    OURS_LABEL,
    START_MARKER,
    THEIRS_LABEL,
    Conflict,
    MergeResult,
)

_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def merge_lines(path: str, base: str, ours: str, theirs: str) -> MergeResult:
    """Merge ``theirs``' changes since ``base`` into ``ours``; conflicts between markers."""
    groups = merge3.Merge3(
        base.splitlines(keepends=True),
        ours.splitlines(keepends=True),
        theirs.splitlines(keepends=True),
    ).merge_groups()
    out: list[str] = []
    conflicts: list[Conflict] = []
    for group in groups:
        if group[0] != "conflict":
            out += group[1]
            continue
        _, base_lines, ours_lines, theirs_lines = group
        union = _set_union(path, base_lines, ours_lines, theirs_lines)
        if union is not None:
            out += union
            continue
        conflicts.append(
            Conflict(path, f"line {len(out) + 1}", "".join(ours_lines), "".join(theirs_lines))
        )
        out += _marked(path, base_lines, ours_lines, theirs_lines)
    return MergeResult("".join(out), tuple(conflicts))


def _marked(
    path: str, base: Sequence[str], ours: Sequence[str], theirs: Sequence[str]
) -> list[str]:
    """A conflict in diff3 style, each side's last line ended so a marker starts a line."""
    return [
        f"{START_MARKER} {OURS_LABEL} ({path})\n",
        *_ended(ours),
        f"{BASE_MARKER} {BASE_LABEL}\n",
        *_ended(base),
        f"{MID_MARKER}\n",
        *_ended(theirs),
        f"{END_MARKER} {THEIRS_LABEL}\n",
    ]


def _ended(lines: Sequence[str]) -> list[str]:
    if lines and not lines[-1].endswith("\n"):
        return [*lines[:-1], lines[-1] + "\n"]
    return list(lines)


def is_line_set(path: str) -> bool:
    """True for files whose line order carries no meaning (requirements, ignore files)."""
    name = PurePosixPath(path).name
    return (name.startswith("requirements") and name.endswith(".txt")) or name in (
        ".gitignore",
        ".dockerignore",
    )


def entry_key(path: str, line: str) -> str | None:
    """What a line of a line-set file is about: a package name, or the line; None if blank."""
    text = line.strip()
    if not text:
        return None
    name = PurePosixPath(path).name
    match = _REQUIREMENT.match(text)
    if name.startswith("requirements") and match:
        return re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return text.split()[0] if text.startswith("-") else text


def _set_union(
    path: str, base: Sequence[str], ours: Sequence[str], theirs: Sequence[str]
) -> list[str] | None:
    """Both sides' lines when they touched different entries of a line-set file, else None."""
    if not is_line_set(path):
        return None
    ours_removed = [line for line in base if line not in ours]
    theirs_removed = [line for line in base if line not in theirs]
    ours_touched = {entry_key(path, line) for line in [*ours_removed, *_added(base, ours)]}
    theirs_added = _added(base, theirs)
    theirs_touched = {entry_key(path, line) for line in [*theirs_removed, *theirs_added]}
    if (ours_touched & theirs_touched) - {None}:
        return None
    kept = [line for line in _ended(ours) if line not in _ended(theirs_removed)]
    return kept + [line for line in _ended(theirs_added) if line not in kept]


def _added(base: Sequence[str], side: Sequence[str]) -> list[str]:
    return [line for line in side if line not in base]


def has_conflict_markers(text: str) -> bool:
    """True while a file still holds a conflict block (a start marker, then an end marker)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(START_MARKER)]
    return any(line.startswith(END_MARKER) for line in lines[starts[0] :]) if starts else False
