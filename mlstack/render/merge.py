"""Keep the user's hand edits when a file is rendered again: a three-way merge per file.

``base`` is what mlstack generated last time, ``ours`` the file on disk (the user's), ``theirs``
the new render. The file's name picks the strategy:

- ``*.yaml`` / ``*.yml``: by key path (:mod:`merge_yaml`); a conflict keeps the user's value
  and is listed as ``file: key.path``; ``resolve`` picks a side per key path.
- ``.env``: keys only added, never changed or removed; unused keys listed (:mod:`merge_env`).
- anything else: by line, diff3 semantics (``merge3``), conflicts between markers.

Everything here is pure: text in, text and records out.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import PurePosixPath
from types import MappingProxyType

from mlstack.render.merge_env import merge_env
from mlstack.render.merge_records import Conflict, MergeResult
from mlstack.render.merge_text import has_conflict_markers, merge_lines
from mlstack.render.merge_yaml import merge_yaml

__all__ = ["Conflict", "MergeResult", "has_conflict_markers", "merge_file", "unified_diff"]

_NO_RESOLUTIONS: Mapping[str, str] = MappingProxyType({})


def merge_file(
    path: str, base: str, ours: str, theirs: str, resolve: Mapping[str, str] = _NO_RESOLUTIONS
) -> MergeResult:
    """Merge the new render ``theirs`` into the user's ``ours``, given the last render ``base``.

    Args:
        path: the file's path in the project (``compose.yaml``, ``api/requirements.txt``);
            it picks the strategy and names the file in conflicts.
        base: the content mlstack generated last time.
        ours: the content on disk now, with the user's edits.
        theirs: the content mlstack generates now.
        resolve: YAML key path -> ``"ours"`` or ``"theirs"`` (``render --ours/--theirs KEY``):
            that side wins at that path and below, instead of a conflict.

    Returns:
        The merged text (complete: YAML conflicts keep the user's value, text conflicts are
        between markers), its conflicts, and for ``.env`` the keys the stack no longer uses.
    """
    bad = {key: side for key, side in resolve.items() if side not in ("ours", "theirs")}
    if bad:
        raise ValueError(f"resolve sides must be 'ours' or 'theirs', got {bad}")
    name = PurePosixPath(path).name
    if name == ".env":
        return merge_env(ours, theirs)
    if name.endswith((".yaml", ".yml")):
        return merge_yaml(path, base, ours, theirs, resolve)
    return merge_lines(path, base, ours, theirs)


def unified_diff(path: str, old: str | None, new: str | None) -> str:
    """What writing ``new`` over ``old`` changes, as a unified diff (empty when nothing does).

    ``None`` stands for a file that does not exist (``/dev/null`` in the header), so a created
    or deleted file reads as in ``git diff``.
    """
    lines = difflib.unified_diff(
        _diff_lines(old),
        _diff_lines(new),
        fromfile=f"a/{path}" if old is not None else "/dev/null",
        tofile=f"b/{path}" if new is not None else "/dev/null",
    )
    return "".join(lines)


def _diff_lines(text: str | None) -> list[str]:
    """Lines for difflib, a missing final newline marked as ``diff`` does."""
    lines = (text or "").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines
