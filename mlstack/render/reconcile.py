"""A generated file the user edited: merge the new render into it instead of refusing to render.

``plan.decide`` says CONFLICT for every hand-edited generated file; here that step becomes a
three-way merge (:mod:`mlstack.render.merge`) of the last render (the base, kept in the
manifest), the file on disk and the new render:

- the render brings nothing new: EDITED (the file stays the user's, nothing to write);
- a clean merge: MERGE (the merged text is written; the new render is the next base);
- a YAML conflict: CONFLICTS, the user's value kept in the file and the old base kept, so the
  next render sees the conflict again until ``--ours``/``--theirs`` or an edit settles it;
- a text conflict: CONFLICTS, written between markers; the new render is the base, since the
  markers themselves keep the conflict visible (a file with markers is not merged again).

A step stays CONFLICT (only ``--force`` overwrites it, keeping a .bak) where no merge is
possible: no recorded base (a manifest of format 1 or 2), a base that does not match the
recorded digest, or a file that still holds conflict markers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from mlstack.errors import MergeConflictError
from mlstack.render.merge import merge_file
from mlstack.render.merge_records import Conflict
from mlstack.render.merge_text import has_conflict_markers
from mlstack.render.plan import GENERATED, Action, PlannedFile, Step, digest


def merge_edited(
    steps: list[Step],
    bases: Mapping[str, str],
    record: Mapping[str, str],
    resolve: Mapping[str, str],
) -> list[Step]:
    """Every step, the hand-edited generated files merged (see the module docstring)."""
    return [reconcile(s, bases.get(s.file.path), record.get(s.file.path), resolve) for s in steps]


def reconcile(
    step: Step, base: str | None, recorded: str | None, resolve: Mapping[str, str]
) -> Step:
    """The step for an edited generated file: merged where a base is known, else CONFLICT."""
    file, ours = step.file, step.before
    if step.action is not Action.CONFLICT or file.policy != GENERATED or ours is None:
        return step
    if base is None or recorded is None or digest(base) != recorded:
        return step
    if has_conflict_markers(ours):
        marker = Conflict(file.path, "conflict markers (resolve them, then render)", "", "")
        return Step(_with(file, ours), Action.CONFLICTS, ours, None, (marker,))
    if file.content == base:
        return Step(_with(file, ours), Action.EDITED, ours, file.content)
    result = merge_file(file.path, base, ours, file.content, for_file(resolve, file.path))
    if result.clean:
        return Step(_with(file, result.text), Action.MERGE, ours, file.content)
    yaml = file.path.endswith((".yaml", ".yml"))
    new_base = None if yaml else file.content
    return Step(_with(file, result.text), Action.CONFLICTS, ours, new_base, result.conflicts)


def for_file(resolve: Mapping[str, str], path: str) -> dict[str, str]:
    """The resolutions for one file: ``KEY`` applies to every YAML file, ``FILE:KEY`` to one."""
    picked: dict[str, str] = {}
    for key, side in resolve.items():
        name, sep, rest = key.partition(":")
        if not sep:
            picked[key] = side
        elif PurePosixPath(name) == PurePosixPath(path):
            picked[rest] = side
    return picked


def _with(file: PlannedFile, content: str) -> PlannedFile:
    return PlannedFile(file.path, content, file.policy, file.mode)


def known_bases(
    bases: Mapping[str, str], record: Mapping[str, str], disk: Mapping[str, str | None]
) -> dict[str, str]:
    """The recorded bases, and for a manifest before format 3 the unedited files on disk.

    A base must match the recorded digest: a hand-edited manifest cannot make a merge drop a
    change (a mismatched base is ignored, the file then needs ``--force``).
    """
    known = {p: b for p, b in bases.items() if record.get(p) == digest(b)}
    for path, recorded in record.items():
        text = disk.get(path)
        if path not in known and text is not None and digest(text) == recorded:
            known[path] = text
    return known


@dataclass(frozen=True)
class Merge:
    """How a render treats hand-edited generated files.

    ``overwrite`` (``--force``): replace them with the render, a .bak kept of each; otherwise
    merged. ``resolve``: YAML key path (or ``FILE:KEY``) -> ``ours``/``theirs``.
    """

    overwrite: bool = False
    resolve: Mapping[str, str] = field(default_factory=dict)


def raise_conflicts(steps: Sequence[Step]) -> None:
    """After the write: name every conflict a merge left (exit 1), if any."""
    conflicts = [c for s in steps for c in s.conflicts]
    if conflicts:
        places = [f"{c.file}: {c.where}" + _sides(c) for c in conflicts]
        yaml_keys = any(c.file.endswith((".yaml", ".yml")) for c in conflicts)
        raise MergeConflictError(places, yaml_keys)


def _sides(conflict: Conflict) -> str:
    """`` (yours: 7.2, mlstack: 7.4)`` where both sides are short enough to show."""
    ours, theirs = conflict.ours.strip(), conflict.theirs.strip()
    if not (ours or theirs) or "\n" in ours + theirs or len(ours + theirs) > 80:
        return ""
    return f" (yours: {ours}, mlstack: {theirs})"
