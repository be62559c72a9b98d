"""The commit of a write: a journal of moves, applied so that a crash at any point is recoverable.

Every new file (and every ``.bak`` copy) is first written in full under ``.mlstack/tmp/``. Then
one small journal, itself written to a temp file and renamed into place, lists the moves:
backups, then new files, then deletions, the manifest last. Renaming the journal into place is
the commit. A kill before it leaves the old stack untouched (the next run removes the temp
folder); a kill after it is completed by the next mlstack command, before anything else. Each
move is idempotent (a temp file already moved is skipped, a deletion checks the file's digest
first), so a kill during that recovery is recovered the same way. Ctrl-C during the moves is
held back until they are done: the command then exits 130 with the new stack in place.
Nothing is fsync-ed: this protects against a kill or crash of the process, not a power cut.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import stat
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlstack.errors import InputError, WriteError
from mlstack.layout import MANIFEST, STATE_DIR
from mlstack.render.manifest import check_schema, generated_paths
from mlstack.render.plan import digest
from mlstack.spec import contain

TMP = f"{STATE_DIR}/tmp"
JOURNAL = f"{TMP}/journal.json"
JOURNAL_FIX = f"delete the folder {TMP} (mlstack's temporary files), then run the command again"

# Test hook, and nothing else: MLSTACK_TEST_CRASH_AT=POINT:N kills the process (os._exit(137))
# at the N-th time it reaches POINT; POINT:N:sigint sends it SIGINT (Ctrl-C) instead.
CRASH_ENV = "MLSTACK_TEST_CRASH_AT"
CRASH_POINTS = ("stage", "journal", "backup", "rename", "delete", "commit", "cleanup")
BEFORE_COMMIT = ("stage", "journal")  # a kill here leaves the old stack; later, the new one
_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Die here when the test hook says so (see CRASH_ENV); a no-op otherwise."""
    wanted = os.environ.get(CRASH_ENV, "").split(":")
    if wanted[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if len(wanted) > 1 and str(_hits[name]) == wanted[1]:
        if wanted[2:] == ["sigint"]:
            os.kill(os.getpid(), signal.SIGINT)
        else:
            os._exit(137)


@dataclass(frozen=True)
class Op:
    """One move of a commit: ``backup``/``write`` a staged temp to ``path``, or ``delete`` it."""

    op: str
    path: str
    temp: str = ""
    sha256: str = ""  # delete only while the file still has this digest (still unedited)

    def as_json(self) -> dict[str, str]:
        """The journal entry (empty fields left out)."""
        return {k: v for k, v in asdict(self).items() if v}


def commit(root: Path, ops: list[Op]) -> None:
    """Write the journal (the commit point), then apply it and clean up."""
    tmp = root / TMP
    data = json.dumps({"format": 1, "ops": [op.as_json() for op in ops]}).encode()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(tmp / "journal.new", flags, 0o600)
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        finally:
            os.close(fd)
    except OSError as exc:
        raise _unchanged(exc, root) from exc
    crash_point("journal")
    with held_sigint():
        try:
            (tmp / "journal.new").replace(root / JOURNAL)  # the commit point
        except OSError as exc:
            raise _unchanged(exc, root) from exc
        _apply(root, ops)
        finish(root)


def _unchanged(exc: OSError, root: Path) -> WriteError:
    return WriteError(
        f"cannot write: {exc.strerror}",
        f"make {root} writable (and check free space); nothing was changed",
        str(root / JOURNAL),
    )


def recover(root: Path) -> bool:
    """Complete a commit a crash left halfway, and remove stale temp files; True if one was."""
    try:
        info = (root / TMP).lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(
            TMP, "", "is not a folder (mlstack keeps temporary files in it)", JOURNAL_FIX
        )
    ops = read_journal(root)
    with held_sigint():
        if ops is not None:
            _apply(root, ops)
        finish(root)
    return ops is not None


def finish(root: Path) -> None:
    """Remove the journal (the commit is done), then the temp folder."""
    crash_point("commit")
    with contextlib.suppress(OSError):  # a journal left behind is applied again: idempotent
        (root / JOURNAL).unlink()
    crash_point("cleanup")
    remove_tmp(root)


def remove_tmp(root: Path) -> None:
    """Remove ``.mlstack/tmp`` and everything in it (never following a link inside it).

    Best effort: what cannot be removed now, the next run removes.
    """
    with contextlib.suppress(OSError):
        shutil.rmtree(root / TMP)


def read_journal(root: Path) -> list[Op] | None:
    """The moves of an unfinished commit (None when there is none), every path checked."""
    text = contain.read_text(root, JOURNAL, 1024 * 1024)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(JOURNAL, "", "is not valid JSON", JOURNAL_FIX) from exc
    check_schema(data, "journal", JOURNAL, JOURNAL_FIX)
    ops = [Op(**entry) for entry in data["ops"]]
    for i, op in enumerate(ops):
        _check_op(op, f"ops[{i}].path")
    return ops


def _check_op(op: Op, field: str) -> None:
    """Moves stay inside the project, out of .git/ and .mlstack/ (the manifest excepted)."""
    path = op.path
    allowed = contain.is_plain_relative(path) and (
        not path.startswith(f"{STATE_DIR}/") or path == MANIFEST
    )
    if op.op == "delete":
        allowed = allowed and path in generated_paths()
    if not allowed:
        raise InputError(JOURNAL, field, f"{path!r} is not a file mlstack writes", JOURNAL_FIX)


def _apply(root: Path, ops: list[Op]) -> None:
    """Every move, in order; each one is skipped when it was done already."""
    try:
        for op in ops:
            crash_point({"write": "rename"}.get(op.op, op.op))
            target = contain.checked(root, op.path)
            if op.op == "delete":
                _delete(root, op.path, op.sha256)
                continue
            source = root / TMP / op.temp
            if source.exists():
                _make_parents(root, op.path)
                source.replace(target)
    except OSError as exc:
        raise WriteError(
            f"cannot finish writing: {exc.strerror}",
            f"fix that (free space, permissions), then run any mlstack command: it completes "
            f"the write recorded in {JOURNAL}",
            str(root / op.path),
        ) from exc


def _make_parents(root: Path, rel: str) -> None:
    parts = rel.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = root.joinpath(*parts[:depth])
        if not folder.exists():
            folder.mkdir()


def _delete(root: Path, rel: str, sha256: str) -> None:
    """Remove a still-unedited file, and the real folders it leaves empty (not the root)."""
    current = contain.read_text(root, rel)
    if current is None or digest(current) != sha256:
        return
    (root / rel).unlink()
    parts = rel.split("/")[:-1]
    while parts:
        folder = root.joinpath(*parts)
        if folder.is_symlink() or any(folder.iterdir()):
            return
        folder.rmdir()
        parts.pop()


@contextlib.contextmanager
def held_sigint() -> Iterator[None]:
    """Hold Ctrl-C back while the moves run; raise it (exit 130) once they are done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
