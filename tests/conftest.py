"""Shared fixtures and helpers for the generator tests.

Every generator test runs the real CLI in-process through typer's CliRunner, in a temporary
directory, with mlstack's parse/validation cache in a per-session directory and (fixture
``cpu_only_host``) a host that has no NVIDIA GPU, so ``init``'s defaults are the CPU ones on
every machine, GPU runners included.

External judges (docker compose, hadolint, compose-lint, check-jsonschema) are required in CI:
``require`` skips a test without one on a laptop, and fails it when ``CI=true``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

# Before anything imports mlstack: test modules load the catalog at import (collection) time,
# and that must not write into the real ~/.cache. One fresh cache for the whole session,
# inherited by every subprocess the tests start.
SESSION_CACHE = Path(tempfile.mkdtemp(prefix="mlstack-test-cache-"))
os.environ["XDG_CACHE_HOME"] = str(SESSION_CACHE)
os.environ.pop("MLSTACK_NO_CACHE", None)
atexit.register(shutil.rmtree, SESSION_CACHE, ignore_errors=True)  # --collect-only included

import pytest  # noqa: E402
from click.testing import Result  # noqa: E402
from helpers import compose_cli_works, skip_or_fail  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from mlstack.cli import app  # noqa: E402

RUNNER = CliRunner()
VENV_BIN = Path(sys.executable).parent  # the judges' binaries live beside the interpreter


def tool_path(name: str) -> str | None:
    """An executable from the test interpreter's bin directory, else from PATH."""
    search = os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")])
    return shutil.which(name, path=search)


def _check_jsonschema_works() -> bool:
    try:
        from check_jsonschema.builtin_schemas import get_builtin_schema

        get_builtin_schema("vendor.compose-spec")
    except Exception:  # any failure means the judge cannot be used
        return False
    return True


JUDGES = {
    "docker compose": compose_cli_works,
    "hadolint": lambda: tool_path("hadolint") is not None,
    "compose-lint": lambda: tool_path("compose-lint") is not None,
    "check-jsonschema": _check_jsonschema_works,
    "docker-compose 5": lambda: tool_path("docker-compose") is not None,
}
_AVAILABLE: dict[str, bool] = {}


def require(tool: str) -> None:
    """Make sure an external judge is there: skip without it, but fail in CI."""
    if tool not in _AVAILABLE:
        _AVAILABLE[tool] = JUDGES[tool]()
    if not _AVAILABLE[tool]:
        skip_or_fail(f"{tool} is not installed")


def run_cli(*args: object) -> Result:
    """``mlstack ARGS...`` in-process; the result has exit_code, output (stdout+stderr)."""
    return RUNNER.invoke(app, [str(a) for a in args])


def make_stack(where: Path, *args: object) -> Path:
    """``mlstack -C WHERE init --yes ARGS...``; the stack's directory (created if needed)."""
    where.mkdir(parents=True, exist_ok=True)
    result = run_cli("-C", where, "init", "--yes", *args)
    assert result.exit_code == 0, result.output
    return where


# Who holds the project lock (every writing command takes it): bookkeeping, not the stack.
LOCK_BOOKKEEPING = (".mlstack/lock", ".mlstack/lock.owner")


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes), but the lock's (LOCK_BOOKKEEPING)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).as_posix() not in LOCK_BOOKKEEPING
    }


def tree_state(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every path under ``root`` with its bytes, mtime (ns) and mode: to prove nothing changed.

    The lock's own files are left out (see LOCK_BOOKKEEPING); everything else counts, temp
    files and the folders' timestamps included.
    """
    state = {}
    for path in sorted(root.rglob("*")):
        if path.relative_to(root).as_posix() in LOCK_BOOKKEEPING:
            continue
        info = path.lstat()
        content = path.read_bytes() if path.is_file() else b""
        state[path.relative_to(root).as_posix()] = (content, info.st_mtime_ns, info.st_mode)
    return state


MARKER_OF = {"require": "judge", "e2e_images": "engine"}  # a fixture -> the marker it needs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses an external judge or the engine must say so with its marker.

    Tests marked ``gpu`` need real NVIDIA hardware: on a machine without ``nvidia-smi`` they are
    deselected (not skipped: no CI machine here has a GPU; they run where one is lent).
    """
    if shutil.which("nvidia-smi") is None:
        hardware = [item for item in items if item.get_closest_marker("gpu")]
        if hardware:
            config.hook.pytest_deselected(items=hardware)
            items[:] = [item for item in items if not item.get_closest_marker("gpu")]
    unmarked = [
        f"{item.nodeid} (uses {fixture}: mark it {marker})"
        for item in items
        for fixture, marker in MARKER_OF.items()
        if fixture in getattr(item, "fixturenames", ()) and not item.get_closest_marker(marker)
    ]
    if unmarked:
        raise pytest.UsageError("tests without their marker:\n" + "\n".join(unmarked))


@pytest.fixture(scope="session", autouse=True)
def isolated_cache() -> Iterator[Path]:
    """mlstack caches parse/validation results under $XDG_CACHE_HOME: one fresh cache a session.

    Set when this file is imported (above), removed when the process exits.
    """
    yield SESSION_CACHE


@pytest.fixture(scope="module")
def cpu_only_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``init`` asks nvidia-smi for GPU defaults: make it answer "no GPU" on every machine.

    A failing ``nvidia-smi`` first on PATH reaches the in-process CLI and the wizard's
    subprocess alike, so the expected files do not depend on the runner's hardware. The
    generator test modules use it (``pytest.mark.usefixtures``); the end-to-end suite does not.
    """
    bin_dir = tmp_path_factory.mktemp("no-gpu-bin")
    fake = bin_dir / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\necho 'NVIDIA-SMI has failed (test host without a GPU)' >&2\nexit 9\n"
    )
    fake.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        yield


# The helpers, as fixtures: tests ask for what they use instead of importing conftest.


@pytest.fixture(scope="session", name="cli")
def cli_fixture() -> Callable[..., Result]:
    """``cli("-C", dir, "render")``: see :func:`run_cli`."""
    return run_cli


@pytest.fixture(scope="session", name="make_stack")
def make_stack_fixture() -> Callable[..., Path]:
    """``make_stack(tmp_path, "--with", "api,redis")``: see :func:`make_stack`."""
    return make_stack


@pytest.fixture(scope="session", name="require")
def require_fixture() -> Callable[[str], None]:
    """``require("hadolint")``: see :func:`require`."""
    return require


@pytest.fixture(scope="session", name="skip_or_fail")
def skip_or_fail_fixture() -> Callable[[str], None]:
    """``skip_or_fail(reason)``: see :func:`skip_or_fail`."""
    return skip_or_fail


@pytest.fixture(scope="session", name="tree")
def tree_fixture() -> Callable[[Path], dict[str, bytes]]:
    """``tree(root)``: see :func:`tree`."""
    return tree


@pytest.fixture(scope="session", name="tree_state")
def tree_state_fixture() -> Callable[[Path], dict[str, tuple[bytes, int, int]]]:
    """``tree_state(root)``: see :func:`tree_state`."""
    return tree_state


@pytest.fixture(scope="session", name="tool_path")
def tool_path_fixture() -> Callable[[str], str | None]:
    """``tool_path("hadolint")``: see :func:`tool_path`."""
    return tool_path
