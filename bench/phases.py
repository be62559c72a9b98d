"""What the engine benchmarks share: one timed command, and a lock around each engine phase."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
from pathlib import Path

# As a user runs it: pip compiles the bytecode at install; an editable checkout writes it on the
# first run unless PYTHONDONTWRITEBYTECODE is set (then every run compiles every module again).
AS_INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> float:
    """Wall seconds of one command (which must succeed)."""
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, env=env, **QUIET)
    return time.perf_counter() - start


@contextlib.contextmanager
def locked(path: str | None):
    """Hold ``path``'s flock for one phase (nothing without --lock)."""
    if not path:
        yield
        return
    with Path(path).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
