"""The disk: read what is there, then write a plan all at once or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from mlstack.errors import ConflictError, InputError, WriteError
from mlstack.layout import MANIFEST
from mlstack.render.plan import GENERATED, Action, PlannedFile, Step, digest
from mlstack.render.stack_files import manifest_file


def read_text(path: Path) -> str | None:
    """A file's text, or None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path), "", "is not a UTF-8 text file", "restore it or delete it"
        ) from exc


def snapshot(root: Path, paths: list[str]) -> dict[str, str | None]:
    """The current content of every path."""
    return {path: read_text(root / path) for path in paths}


def read_record(root: Path) -> dict[str, str]:
    """The digests mlstack recorded when it last wrote the generated files."""
    text = read_text(root / MANIFEST)
    if text is None:
        return {}
    try:
        return dict(json.loads(text)["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            MANIFEST,
            "files",
            "is not mlstack's record of generated files",
            "restore it from git, or delete it and render with --force",
        ) from exc


def apply(root: Path, steps: list[Step], record: dict[str, str], force: bool = False) -> None:
    """Write every changed file atomically, after checking that none is a hand edit.

    All content goes to temporary files first; only when every one exists are they moved into
    place, so a failure (a read-only directory, a full disk) leaves the directory as it was.
    """
    conflicts = [s.file.path for s in steps if s.action is Action.CONFLICT]
    if conflicts and not force:
        raise ConflictError(conflicts)
    writes = [s for s in steps if s.writes or s.action is Action.CONFLICT]
    new_record = {
        path: d
        for path, d in record.items()
        if not any(s.file.path == path and s.action is Action.DELETE for s in steps)
    }
    for step in steps:
        if step.file.policy == GENERATED and step.action is not Action.DELETE:
            new_record[step.file.path] = digest(step.file.content)
    if writes or new_record != record:
        writes.append(Step(manifest_file(new_record), Action.UPDATE))
    staged = _stage_all(root, [s.file for s in writes if s.action is not Action.DELETE])
    for step in writes:
        if step.action is Action.CONFLICT:
            target = root / step.file.path
            target.replace(target.with_name(target.name + ".bak"))
    for temp, target in staged:
        temp.replace(target)
    for step in writes:
        if step.action is Action.DELETE:
            _delete(root, root / step.file.path)
    for step in steps:  # .env stays private even if it was created by hand
        target = root / step.file.path
        if target.exists() and (target.stat().st_mode & 0o777) != step.file.mode:
            target.chmod(step.file.mode)


def _stage_all(root: Path, files: list[PlannedFile]) -> list[tuple[Path, Path]]:
    """Write every file to a temporary beside its target; on failure, remove all of them."""
    staged: list[tuple[Path, Path]] = []
    made: list[Path] = []
    for file in files:
        try:
            staged.append((_stage(root, file, made), root / file.path))
        except OSError as exc:
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
            for directory in reversed(made):
                directory.rmdir()
            raise WriteError(
                f"cannot write: {exc.strerror}",
                f"make {root} writable (and check free space); nothing was changed",
                str(root / file.path),
            ) from exc
    return staged


def _delete(root: Path, path: Path) -> None:
    """Remove a file, and the directories it leaves empty (up to the stack's root)."""
    path.unlink()
    parent = path.parent
    while parent != root and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def _stage(root: Path, file: PlannedFile, made: list[Path]) -> Path:
    target = root / file.path
    missing = [p for p in reversed(target.relative_to(root).parents) if not (root / p).exists()]
    for part in missing:
        (root / part).mkdir()
        made.append(root / part)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(file.content)
    os.chmod(name, file.mode)  # noqa: PTH101 - on the path mkstemp returned
    return Path(name)
