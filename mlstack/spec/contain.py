"""Containment: every path mlstack reads or writes stays inside the project, and never in .git.

A cloned repository is someone else's input, symbolic links included. Before mlstack reads,
writes or replaces a file it walks the path from the project root with ``lstat``: a folder may
be a link only when it resolves inside the project (and not into ``.git/`` or ``.mlstack/``);
the file itself must be a regular file, never a link. Reads open with ``O_NOFOLLOW``, so a link
swapped in after the check is refused too. A refusal is an InputError naming the link (exit 2).
A leaf module: every stage may use it.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from mlstack.errors import InputError
from mlstack.layout import STATE_DIR

MAX_READ = 4 * 1024 * 1024  # no file mlstack generates or edits comes near this
PRIVATE_TOPS = (".git", STATE_DIR)  # folders a link may not lead into
LINK_FIX = (
    "replace the link with a real folder (or delete it), then run the command again; "
    "mlstack never reads or writes through a link that leaves the project"
)
FILE_LINK_FIX = (
    "replace the link with a copy of the file it points to (or delete it), then run the "
    "command again; mlstack writes regular files only, never through a link"
)


@dataclass(frozen=True)
class FileState:
    """A file's text (newlines as Python's text mode reads them) and permission bits."""

    text: str
    mode: int


def is_plain_relative(rel: str) -> bool:
    """A relative POSIX path with no empty, ``.`` or ``..`` part and no ``.git`` folder."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel or "\0" in rel:
        return False
    return not any(part in ("", ".", "..", ".git") for part in rel.split("/"))


def checked(root: Path, rel: str) -> Path:
    """``root / rel`` once every existing part of it is safe to go through (see the module).

    A missing part is fine: mlstack creates it. Raises an InputError naming the offending part.
    """
    if not is_plain_relative(rel):
        raise InputError(rel, "", "is not a path inside the project", "this is a bug in mlstack")
    parts = rel.split("/")
    for depth in range(1, len(parts) + 1):
        here = "/".join(parts[:depth])
        try:
            info = (root / here).lstat()
        except (FileNotFoundError, NotADirectoryError):
            return root / rel
        _check_part(root, here, info, last=depth == len(parts))
    return root / rel


def _check_part(root: Path, here: str, info: os.stat_result, last: bool) -> None:
    if stat.S_ISLNK(info.st_mode):
        if last:
            raise _file_link(root, here)
        _check_folder_link(root, here)
    elif last and stat.S_ISDIR(info.st_mode):
        raise InputError(
            here, "", "is a folder where mlstack keeps a file", "move the folder away, then retry"
        )
    elif last and not stat.S_ISREG(info.st_mode):
        raise InputError(here, "", "is not a regular file", "delete it, then run the command again")
    elif not last and not stat.S_ISDIR(info.st_mode):
        raise InputError(
            here, "", "is a file where mlstack needs a folder", "move the file away, then retry"
        )


def _file_link(root: Path, rel: str) -> InputError:
    try:
        target = str((root / rel).readlink())
    except OSError:
        target = "?"
    problem = f"is a symbolic link (to {target}) where mlstack keeps a file"
    return InputError(rel, "", problem, FILE_LINK_FIX)


def _check_folder_link(root: Path, here: str) -> None:
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(root / here))
    try:
        inside = target.relative_to(real_root)
    except ValueError:
        inside = None
    if inside is None or (inside.parts and inside.parts[0] in PRIVATE_TOPS):
        where = "outside the project" if inside is None else f"into {inside.parts[0]}/"
        raise InputError(here, "", f"is a symbolic link to {target}, {where}", LINK_FIX)
    if not target.is_dir():
        raise InputError(here, "", "is a link where mlstack needs a folder", LINK_FIX)


def read_file(root: Path, rel: str, limit: int = MAX_READ) -> FileState | None:
    """A file's text and mode, read without following a link; None when it does not exist."""
    path = checked(root, rel)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _file_link(root, rel) from exc
        raise InputError(rel, "", f"cannot read: {exc.strerror}", "check the file") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputError(rel, "", "is not a regular file", "delete it, then retry")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise InputError(rel, "", f"is larger than {limit // 1024} KiB", "restore it or delete it")
    return FileState(_decode(rel, data), stat.S_IMODE(info.st_mode))


def read_text(root: Path, rel: str, limit: int = MAX_READ) -> str | None:
    """A file's text (see :func:`read_file`), or None when it does not exist."""
    state = read_file(root, rel, limit)
    return state.text if state else None


def read_bytes(root: Path, rel: str) -> tuple[bytes, int]:
    """A file's exact bytes and mode (for a ``.bak`` copy), without following a link."""
    try:
        fd = os.open(checked(root, rel), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(rel, "", f"cannot read: {exc.strerror}", "check the file") from exc
    with os.fdopen(fd, "rb") as handle:
        return handle.read(), stat.S_IMODE(os.fstat(handle.fileno()).st_mode)


def _decode(rel: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(rel, "", "is not a UTF-8 text file", "restore it or delete it") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as Path.read_text sees it


def state_dir(root: Path, create: bool = False) -> Path:
    """``.mlstack/``, refused when it is anything but a real folder (created when asked)."""
    path = root / STATE_DIR
    try:
        info = path.lstat()
    except FileNotFoundError:
        if create:
            root.mkdir(parents=True, exist_ok=True)  # `init a/b/c`, as `git init` does
            path.mkdir()
        return path
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(STATE_DIR, "", "is not a folder (mlstack keeps its state in it)", LINK_FIX)
    return path


def refuse_link(root: Path, rel: str) -> None:
    """Refuse ``rel`` when it exists as anything but a regular file (a link, a folder...)."""
    try:
        info = (root / rel).lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            rel, "", "is not a regular file (mlstack keeps its own file here)", FILE_LINK_FIX
        )
