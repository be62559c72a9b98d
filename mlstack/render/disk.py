"""The disk: read the stack's files (contained), then write a plan all at once or not at all.

The writer decides nothing: the plan says what each file becomes (the manifest included); this
module checks that every target can be written, stages the new content under ``.mlstack/tmp/``
and hands the moves to :mod:`mlstack.render.journal`, which commits them.
"""

from __future__ import annotations

import errno
import itertools
import os
from pathlib import Path

from mlstack.errors import ConflictError, WriteError
from mlstack.render.journal import JOURNAL, TMP, Op, commit, crash_point, remove_tmp
from mlstack.render.plan import STATE, Action, Step, digest
from mlstack.spec import contain


def snapshot(root: Path, paths: list[str]) -> tuple[dict[str, str | None], dict[str, int]]:
    """The current content and mode of every path (read without following a link)."""
    content: dict[str, str | None] = {}
    modes: dict[str, int] = {}
    for path in dict.fromkeys(paths):
        state = contain.read_file(root, path)
        content[path] = state.text if state else None
        if state:
            modes[path] = state.mode
    return content, modes


def apply(root: Path, steps: list[Step], force: bool = False) -> None:
    """Write every changed file as one commit, after checking that none is a hand edit.

    Nothing in the project changes until every file is staged; a failure before that (a
    read-only folder, a full disk, Ctrl-C) removes the temp files and leaves the stack as it was.
    """
    conflicts = [s.file.path for s in steps if s.action is Action.CONFLICT]
    if conflicts and not force:
        raise ConflictError(conflicts)
    writes = [s for s in steps if s.writes or s.action is Action.CONFLICT]
    if not writes:
        return
    _check_targets(root, writes)
    try:
        ops = _stage_all(root, writes)
        commit(root, ops)
    finally:
        if not (root / JOURNAL).exists():  # a commit that stopped halfway stays for recovery
            remove_tmp(root)


def _check_targets(root: Path, writes: list[Step]) -> None:
    """Every target is contained and its folder writable: found now, not halfway through."""
    probed: set[Path] = set()
    for step in writes:
        paths = [step.file.path]
        if step.action is Action.CONFLICT:
            paths.append(f"{step.file.path}.bak")
        for rel in paths:
            folder = contain.checked(root, rel).parent
            while not folder.exists():
                folder = folder.parent
            if folder not in probed:
                probed.add(folder)
                _probe(folder, root / rel, root)


def _probe(folder: Path, target: Path, root: Path) -> None:
    """Fail like a write into ``folder`` would, without creating a visible file.

    An unnamed O_TMPFILE gives the kernel's own answer (EROFS, EACCES); where the system or the
    filesystem has none, ``access`` stands in.
    """
    try:
        try:
            os.close(os.open(folder, getattr(os, "O_TMPFILE", 0) | os.O_WRONLY, 0o600))
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES)) from exc
    except OSError as exc:
        raise _write_error(exc, root, target) from exc


def _stage_all(root: Path, writes: list[Step]) -> list[Op]:
    """Stage every new file (and every .bak copy); the journal's moves, in commit order."""
    tmp = root / TMP
    try:
        tmp.mkdir(mode=0o700)
    except OSError as exc:
        raise _write_error(exc, root, tmp) from exc
    numbers = itertools.count()
    backups, news, deletes, last = [], [], [], []
    for step in writes:
        path = step.file.path
        if step.action is Action.DELETE:
            deletes.append(Op("delete", path, sha256=digest(step.file.content)))
            continue
        if step.action is Action.CONFLICT:
            data, mode = contain.read_bytes(root, path)
            backup = f"{path}.bak"
            backups.append(Op("backup", backup, _stage(root, next(numbers), data, mode, backup)))
        content = step.file.content.encode()
        temp = _stage(root, next(numbers), content, step.file.mode, path)
        (last if step.file.policy == STATE else news).append(Op("write", path, temp))
    return backups + news + deletes + last


def _stage(root: Path, number: int, data: bytes, mode: int, target: str) -> str:
    """Write one temp file: private (0600) from creation, its final mode set once written.

    No fsync: the commit survives a kill or a crash of mlstack (the page cache outlives the
    process), not a power cut; fsync-ing every file cost ~100 ms a render on a busy disk.
    """
    crash_point("stage")
    name = str(number)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(root / TMP / name, flags, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _write_error(exc, root, root / target) from exc
    return name


def write_one(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    """Write one machine-local file (not in the manifest) whole: never through a link.

    The temp file beside it is created exclusively without following a link (a planted link
    there fails the write), then renamed over the target (a rename replaces a link itself).
    """
    target = contain.checked(root, rel)
    contain.refuse_link(root, rel)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    created = False
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        created = True
        try:
            view = memoryview(text.encode())
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        temp.replace(target)
    except OSError as exc:
        if created and os.path.lexists(temp):
            temp.unlink()
        raise _write_error(exc, root, target) from exc


def _write_error(exc: OSError, root: Path, target: Path) -> WriteError:
    return WriteError(
        f"cannot write: {exc.strerror}",
        f"make {root} writable (and check free space); nothing was changed",
        str(target),
    )
