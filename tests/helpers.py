"""What several test modules share, defined once: recordings, CI, the engine probes, the catalog.

Importable from every test module (``from helpers import ...``): pytest puts ``tests/`` on
``sys.path`` for ``tests/conftest.py``. Nothing here runs at import time, so collecting the tests
writes nothing (the catalog is loaded on first use, inside a test, under the test cache).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from mlstack.spec.catalog import Catalog, Rules, load_catalog, load_rules

RECORDED = Path(__file__).parent / "data" / "recorded"  # real tools' output, see its README
CI = os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where nothing may be silently skipped."""
    if CI:
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason)


def engine_problem() -> str | None:
    """Why the Docker engine or Compose v2 cannot be used here, or None."""
    if shutil.which("docker") is None:
        return "no docker CLI"
    info = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if info.returncode != 0 or not info.stdout.strip():
        return f"no Docker engine: {info.stderr.strip()[-200:]}"
    return None if compose_cli_works() else "no Compose v2 plugin"


def compose_cli_works() -> bool:
    """``docker compose version`` answers (the CLI plugin; no engine needed for ``config``)."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@cache
def shipped_catalog() -> Catalog:
    """The fragments that ship with mlstack, loaded once (inside a test, never at collection)."""
    return load_catalog()


@cache
def rules(profile: str) -> Rules:
    """The shipped dev or prod override rules, loaded once."""
    return load_rules(profile)


# Every check `mlstack doctor` runs, in its order (the unit and the e2e tests hold it to this).
DOCTOR_CHECKS = [
    "engine",
    "compose",
    "gpu.driver",
    "gpu.runtime",
    "gpu.cuda",
    "shm",
    "ports",
    "disk",
    "files",
    "allow",
    "secrets",  # services.<name>.secrets the user fills
    "env",  # .env keys nothing reads
]
