"""One writer at a time: concurrent commands on one project lose nothing and never collide.

Was: two ``mlstack add`` at once both exited 0 and one component was lost about half the time,
then false "edited" conflicts followed. Every writing command now holds ``.mlstack/lock`` from
before it reads mlstack.yaml until its commit is done.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlstack.render.lock import WAIT_ENV, holder, project_lock

pytestmark = pytest.mark.usefixtures("cpu_only_host")

PAIRS = [
    ("qdrant", "postgres"),
    ("mlflow", "jupyter"),
    ("postgres", "mlflow"),
    ("jupyter", "qdrant"),
]


def start(root: Path, *args: str, wait: float) -> subprocess.Popen[str]:
    """``mlstack -C ROOT ARGS`` as a real process, waiting at most ``wait`` s for the lock."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlstack", "-C", str(root), *args],
        cwd=root,
        env={**os.environ, WAIT_ENV: str(wait)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def finish(child: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = child.communicate(timeout=300)
    return child.returncode, out + err


def components(root: Path) -> list[str]:
    lines = (root / "mlstack.yaml").read_text().split("components:\n", 1)[1].splitlines()
    return [line.strip()[2:] for line in lines if line.startswith("  - ")]


def test_twenty_pairs_of_concurrent_adds_lose_nothing(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path / "stack", "--with", "api,redis")
    for i in range(20):
        first, second = PAIRS[i % len(PAIRS)]
        children = [start(root, "add", name, wait=120) for name in (first, second)]
        for code, output in map(finish, children):
            assert code == 0, output
            assert "conflict" not in output
        assert {first, second} <= set(components(root)), f"pair {i}: {components(root)}"
        compose = (root / "compose.yaml").read_text()
        assert f"  {first}:" in compose and f"  {second}:" in compose
        check = cli("-C", root, "render", "--check")
        assert check.exit_code == 0, f"pair {i}: {check.output}"
        result = cli("-C", root, "remove", first, second)
        assert result.exit_code == 0, result.output
        assert components(root) == ["api", "redis"]


def test_a_held_lock_makes_a_writer_wait_then_name_the_holder(
    tmp_path: Path, make_stack: Any, tree_state: Any
) -> None:
    root = make_stack(tmp_path / "stack", "--with", "api,redis")
    before = tree_state(root)
    with project_lock(root, command="mlstack add trainer (held by the test)"):
        started = time.monotonic()
        code, output = finish(start(root, "add", "qdrant", wait=1.5))
        waited = time.monotonic() - started
    assert code == 1, output
    assert output.startswith(
        f"error: .mlstack/lock: another mlstack is writing this project: pid {os.getpid()} "
        "(mlstack add trainer (held by the test)); waited 1.5 s"
    ), output
    assert "fix: wait for it to finish, then run the command again" in output
    assert waited >= 1.5
    assert tree_state(root) == before


@pytest.mark.parametrize(
    "command", [["init", "--yes", "--force", "--with", "redis"], ["render"], ["remove", "api"]]
)
def test_every_writing_command_takes_the_lock(
    tmp_path: Path, make_stack: Any, command: list[str]
) -> None:
    root = make_stack(tmp_path / "stack", "--with", "api,redis")
    with project_lock(root, command="the test"):
        code, output = finish(start(root, *command, wait=0.2))
    assert code == 1, output
    assert f"pid {os.getpid()} (the test)" in output


@pytest.mark.parametrize(
    "command", [["render", "--check"], ["render", "--dry-run"], ["components"]]
)
def test_read_only_commands_do_not_wait_for_the_lock(
    tmp_path: Path, make_stack: Any, command: list[str]
) -> None:
    root = make_stack(tmp_path / "stack", "--with", "api,redis")
    with project_lock(root, command="the test"):
        code, output = finish(start(root, *command, wait=60))
    assert code == 0, output


def test_the_lock_is_free_again_after_its_holder_is_killed(tmp_path: Path, make_stack: Any) -> None:
    root = make_stack(tmp_path / "stack", "--with", "redis")
    env = {**os.environ, "MLSTACK_TEST_CRASH_AT": "rename:1"}
    done = subprocess.run(
        [sys.executable, "-m", "mlstack", "-C", str(root), "add", "api"],
        cwd=root,
        env=env,
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 137
    assert holder(root).endswith("(mlstack -C " + str(root) + " add api)")  # its record stays
    code, output = finish(start(root, "add", "qdrant", wait=0))
    assert code == 0, output
    assert components(root) == ["redis", "api", "qdrant"]
