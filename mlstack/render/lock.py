"""One writer at a time: a lock on the project, held by every command that writes.

``init``, ``render``, ``add``, ``remove`` and ``up``'s render step take ``.mlstack/lock`` (an
flock, through the filelock library) before they read anything they write back, so two
``mlstack add`` at once cannot lose either change. A second writer waits a few seconds
(``MLSTACK_LOCK_WAIT``, default 5), then exits 1 naming the holder's pid and command, which the
holder wrote to ``.mlstack/lock.owner`` (the lock file itself belongs to filelock). The kernel
drops the lock when its holder dies, so a crash never leaves the project locked. Read-only
commands (``render --check``, ``validate``, ``doctor``, ``status``) do not take it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

from mlstack.errors import BusyError, InputError, WriteError
from mlstack.layout import STATE_DIR
from mlstack.spec import contain

LOCK = f"{STATE_DIR}/lock"
OWNER = f"{STATE_DIR}/lock.owner"
WAIT_ENV = "MLSTACK_LOCK_WAIT"
DEFAULT_WAIT = 5.0


def lock_wait() -> float:
    """Seconds a writer waits for the lock: ``MLSTACK_LOCK_WAIT``, else 5."""
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT)))
    except ValueError:
        return DEFAULT_WAIT


def this_command() -> str:
    """How this process was started, as the holder's record shows it."""
    return shlex.join(["mlstack", *sys.argv[1:]])


@contextlib.contextmanager
def project_lock(
    root: Path, command: str | None = None, wait: float | None = None
) -> Iterator[None]:
    """Hold the project's lock (creating ``.mlstack/`` when needed) for the ``with`` body."""
    from filelock import FileLock, Timeout  # deferred: ~20 ms, paid by writing commands only

    try:
        contain.state_dir(root, create=True)
    except OSError as exc:
        raise _write_error(exc, root) from exc
    contain.refuse_link(root, LOCK)
    contain.refuse_link(root, OWNER)
    seconds = lock_wait() if wait is None else wait
    lock = FileLock(str(root / LOCK), timeout=seconds)
    try:
        lock.acquire()
    except Timeout:
        raise BusyError(
            f"another mlstack is writing this project: {holder(root)}; waited {seconds:g} s",
            "wait for it to finish, then run the command again",
            LOCK,
        ) from None
    except OSError as exc:
        raise _write_error(exc, root) from exc
    try:
        _write_owner(root, command or this_command())
        yield
    finally:
        lock.release()


def holder(root: Path) -> str:
    """``pid 123 (mlstack add redis)`` from the holder's record, or what is known of it."""
    try:
        data = json.loads(contain.read_text(root, OWNER, 4096) or "{}")
        pid, command = data["pid"], data["command"]
    except (InputError, ValueError, RecursionError, KeyError, TypeError):
        return "pid unknown"
    if not isinstance(pid, int) or not isinstance(command, str):
        return "pid unknown"
    shown = "".join(c if c.isprintable() else "?" for c in command[:200])
    return f"pid {pid} ({shown})"


def _write_owner(root: Path, command: str) -> None:
    """Record who holds the lock; best effort (a full disk must not stop the command here)."""
    data = json.dumps({"pid": os.getpid(), "command": command}).encode()
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    with contextlib.suppress(OSError):
        fd = os.open(root / OWNER, flags, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def _write_error(exc: OSError, root: Path) -> WriteError:
    return WriteError(
        f"cannot write: {exc.strerror}",
        f"make {root} writable (and check free space); nothing was changed",
        str(root / STATE_DIR),
    )
