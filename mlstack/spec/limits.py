"""How much input mlstack takes, and the one bounded way to read a file of the project.

Everything committed to a stack (``mlstack.yaml``, ``stacks/``, ``.env``, ``.mlstack/``) may come
from someone else's repository. So every file mlstack reads from a project goes through
:func:`read_bounded` (size checked with ``fstat`` and a limited read, before any parsing; no
FIFO or device can block or stream forever) and every YAML document is measured while it is
composed (:mod:`mlstack.spec.yamlio`): nodes, nesting, what its aliases expand to.
The numbers are documented in SECURITY.md; a real stack uses a small fraction of each.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mlstack.errors import InputError

MAX_FILE_BYTES = 1024 * 1024  # mlstack.yaml, a fragment, .env, the manifest: real ones < 4 KiB
MAX_NODES = 10_000  # values in one YAML document, aliases expanded (a fragment has ~100)
MAX_DEPTH = 32  # nesting of one YAML document (a compose service needs ~8)
MAX_EXPANDED_CHARS = MAX_FILE_BYTES  # aliases cannot make a document bigger than a file could be
MAX_NUMBER_DIGITS = 32  # an integer literal (a port, a count); beyond this it is not a number
MAX_USER_FRAGMENTS = 64  # files in the project's stacks/
FIX_SIZE = "this is not a file mlstack wrote or a person would: restore it from git"


def stamp() -> str:
    """The limits as text: part of every cache key, so changing one re-checks cached input."""
    return f"{MAX_FILE_BYTES}/{MAX_NODES}/{MAX_DEPTH}/{MAX_EXPANDED_CHARS}/{MAX_NUMBER_DIGITS}"


def read_bounded(
    path: Path, label: str, limit: int = MAX_FILE_BYTES, root: Path | None = None
) -> str:
    """A project file's UTF-8 text, refused (InputError) when it is not a regular file or too big.

    ``FileNotFoundError`` is left to the caller, which knows what a missing file means.
    The file is opened without blocking (a FIFO cannot hang the command) and read up to
    ``limit + 1`` bytes, so a file that grows while it is read is refused too. With ``root``
    (the project), a symlink that leads out of it is refused before anything is opened.
    """
    if root is not None:
        check_inside(path, label, root)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputError(label, "", f"cannot read: {exc.strerror}", "check the file") from exc
    try:
        data = _read_regular(fd, label, limit)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _too_big(label, len(data), limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            label, f"byte {exc.start}", "is not UTF-8 text", "save the file as UTF-8"
        ) from exc


def _read_regular(fd: int, label: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of an open file, which must be a regular file."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(label, "", "is not a regular file", "replace it with a plain text file")
    if info.st_size > limit:
        raise _too_big(label, info.st_size, limit)
    chunks, left = [], limit + 1
    try:
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise InputError(label, "", f"cannot read: {exc.strerror}", "check the file") from exc
    return b"".join(chunks)


def check_inside(path: Path, label: str, root: Path) -> None:
    """Refuse ``path`` when it resolves outside ``root``: a link a cloned repo may carry."""
    real, inside = path.resolve(), root.resolve()
    if real != inside and inside not in real.parents:
        raise InputError(
            label,
            "",
            f"is a symbolic link to {real}, outside the project",
            "replace the link with the file itself (mlstack reads only the project's files)",
        )


def _too_big(label: str, size: int, limit: int) -> InputError:
    return InputError(
        label,
        "(file size)",
        f"is {size:,} bytes; mlstack reads at most {limit:,} bytes of it",
        FIX_SIZE,
    )
