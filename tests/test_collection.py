"""Collecting the tests writes nothing outside temporary directories (no real ``~/.cache``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_collecting_every_test_writes_nothing_into_home(tmp_path: Path) -> None:
    # Was: module-level `load_catalog()` in three test modules parsed the fragments at import
    # time, before the session's cache fixture, into the real ~/.cache/mlstack.
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "MLSTACK_NO_CACHE")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            str(TESTS),
        ],
        cwd=TESTS.parent,
        env={**env, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []
