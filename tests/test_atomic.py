"""Atomic writes: a kill, Ctrl-C or a full disk at any point leaves the old stack or the new one.

The writer names its points (``journal.CRASH_POINTS``) and, for tests only, dies at the N-th
time it reaches one (``MLSTACK_TEST_CRASH_AT=POINT:N``, ``...:sigint`` for Ctrl-C). Each case
runs the real CLI in a subprocess, kills it there, then checks the project file by file (bytes,
modes, folders) against the stack before the command and the stack a clean run gives.
"""

from __future__ import annotations

import errno
import itertools
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlstack.render.journal import BEFORE_COMMIT, CRASH_ENV, CRASH_POINTS, TMP
from mlstack.render.lock import LOCK, OWNER

pytestmark = pytest.mark.usefixtures("cpu_only_host")

SCENARIOS: dict[str, tuple[str, list[str], list[str]]] = {
    # name: (components at init, edits before the command, the command)
    "add": ("redis", [], ["add", "api"]),
    "render": ("api,redis", ["spec"], ["render"]),
    "render --force": ("api,redis", ["spec", "compose"], ["render", "--force"]),
    "remove": ("api,jupyter,redis", [], ["remove", "jupyter"]),
}
REACHED = {  # the points each scenario goes through (the others must not fire)
    "add": {"stage", "journal", "rename", "commit", "cleanup"},
    "render": {"stage", "journal", "rename", "commit", "cleanup"},
    "render --force": {"stage", "journal", "backup", "rename", "commit", "cleanup"},
    "remove": {"stage", "journal", "rename", "delete", "commit", "cleanup"},
}
HITS = [f"{p}:1" for p in CRASH_POINTS] + ["stage:3", "rename:3"]

State = dict[str, tuple[bytes, int]]


def state(root: Path) -> State:
    """Every file and folder of the project with bytes and mode; the lock and temp files aside."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel in (LOCK, OWNER) or rel == TMP or rel.startswith(f"{TMP}/"):
            continue
        info = path.lstat()
        out[rel] = (path.read_bytes() if path.is_file() else b"", info.st_mode)
    return out


def _default_sigint() -> None:
    """A child started from a background job would ignore SIGINT; a terminal's would not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def mlstack(root: Path, *args: str, crash: str = "", **kwargs: Any) -> Any:
    """The real CLI in a subprocess: ``python -m mlstack -C ROOT ARGS``."""
    env = {**os.environ, CRASH_ENV: crash} if crash else dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "mlstack", "-C", str(root), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=kwargs.pop("preexec_fn", _default_sigint),
        check=False,
        **kwargs,
    )


def prepare(where: Path, scenario: str, cli: Any) -> Path:
    components, edits, _ = SCENARIOS[scenario]
    where.mkdir(parents=True)
    assert cli("-C", where, "init", "--yes", "--with", components).exit_code == 0
    if "spec" in edits:
        spec = where / "mlstack.yaml"
        text = spec.read_text().replace("python: '3.12'", "python: '3.11'")
        spec.write_text(text + "ports:\n  api: 8081\n")  # a Dockerfile and compose files change
    if "compose" in edits:
        with (where / "compose.yaml").open("a") as handle:
            handle.write("# my tweak\n")
    return where


@pytest.fixture(scope="module")
def stacks(
    tmp_path_factory: pytest.TempPathFactory, cli: Any, cpu_only_host: None
) -> dict[str, tuple[Path, State, State, float]]:
    """Per scenario: a prepared project, its state, the state after a clean run, its seconds."""
    out = {}
    for name, (_, _, command) in SCENARIOS.items():
        base = prepare(tmp_path_factory.mktemp("base") / "stack", name, cli)
        ref = tmp_path_factory.mktemp("ref") / "stack"
        shutil.copytree(base, ref, symlinks=True)
        started = time.monotonic()
        assert mlstack(ref, *command).returncode == 0
        seconds = time.monotonic() - started  # how long a real run takes here
        old, new = state(base), state(ref)
        assert old != new
        out[name] = (base, old, new, seconds)
    return out


def copy_of(stacks: dict[str, Any], scenario: str, where: Path) -> Path:
    root = where / "stack"
    shutil.copytree(stacks[scenario][0], root, symlinks=True)
    return root


# A kill (os._exit) and Ctrl-C at every named point -------------------------------------------


@pytest.mark.parametrize("hit", HITS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_kill_at_every_point_leaves_the_old_or_the_new_stack(
    stacks: dict[str, Any], tmp_path: Path, cli: Any, scenario: str, hit: str
) -> None:
    _, old, new, _ = stacks[scenario]
    root = copy_of(stacks, scenario, tmp_path)
    point = hit.split(":")[0]
    done = mlstack(root, *SCENARIOS[scenario][2], crash=hit)
    if point not in REACHED[scenario]:
        assert done.returncode == 0, done.stderr
        assert state(root) == new
        return
    assert done.returncode == 137, done.stderr
    committed = point not in BEFORE_COMMIT
    if not committed:
        assert state(root) == old  # untouched, even before the next run cleans up
    check = cli("-C", root, "render", "--check")  # the next run, read-only: it recovers first
    assert "internal error" not in check.output
    assert not (root / TMP).exists()
    assert state(root) == (new if committed else old)
    if not committed:  # running the command again gets the new stack
        assert cli("-C", root, *SCENARIOS[scenario][2]).exit_code == 0
        assert state(root) == new


@pytest.mark.parametrize("hit", [f"{p}:1" for p in CRASH_POINTS])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ctrl_c_at_every_point_exits_130_with_the_old_or_the_new_stack(
    stacks: dict[str, Any], tmp_path: Path, scenario: str, hit: str
) -> None:
    _, old, new, _ = stacks[scenario]
    root = copy_of(stacks, scenario, tmp_path)
    point = hit.split(":")[0]
    done = mlstack(root, *SCENARIOS[scenario][2], crash=f"{hit}:sigint")
    assert not (root / TMP).exists()  # no temp file left, no next run needed
    if point not in REACHED[scenario]:
        assert done.returncode == 0, done.stderr
        assert state(root) == new
        return
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().endswith("interrupted"), done.stderr
    # before the commit point Ctrl-C cancels; after it, the moves finish first
    assert state(root) == (old if point in BEFORE_COMMIT else new)


def test_a_kill_during_recovery_is_recovered_too(
    stacks: dict[str, Any], tmp_path: Path, cli: Any
) -> None:
    _, _, new, _ = stacks["render --force"]
    root = copy_of(stacks, "render --force", tmp_path)
    assert mlstack(root, "render", "--force", crash="rename:2").returncode == 137
    assert mlstack(root, "render", "--check", crash="rename:1").returncode == 137
    assert mlstack(root, "render", "--check", crash="cleanup:1").returncode == 137
    assert cli("-C", root, "render", "--check").exit_code == 0
    assert not (root / TMP).exists()
    assert state(root) == new


def test_the_next_writer_recovers_before_it_reads(
    stacks: dict[str, Any], tmp_path: Path, cli: Any
) -> None:
    root = copy_of(stacks, "add", tmp_path)
    assert mlstack(root, "add", "api", crash="rename:1").returncode == 137
    result = cli("-C", root, "add", "qdrant")  # reads mlstack.yaml only after the recovery
    assert result.exit_code == 0, result.output
    spec = (root / "mlstack.yaml").read_text()
    assert "  - api\n" in spec and "  - qdrant\n" in spec
    assert cli("-C", root, "render", "--check").exit_code == 0


@pytest.mark.parametrize("seed", range(8))
def test_a_kill_at_a_random_moment_leaves_the_old_or_the_new_stack(
    stacks: dict[str, Any], tmp_path: Path, cli: Any, seed: int
) -> None:
    """SIGKILL at a random moment (seeded): from the first temp file on, where writes happen."""
    scenario = list(SCENARIOS)[seed % len(SCENARIOS)]
    _, old, new, _ = stacks[scenario]
    root = copy_of(stacks, scenario, tmp_path)
    command = [sys.executable, "-m", "mlstack", "-C", str(root), *SCENARIOS[scenario][2]]
    rng = random.Random(seed)
    child = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL)
    while child.poll() is None and not (root / TMP).exists():
        time.sleep(0.0005)
    time.sleep(rng.uniform(0, 0.08))
    child.kill()
    child.wait(timeout=60)
    assert cli("-C", root, "render", "--check").exit_code in (0, 1)
    assert not (root / TMP).exists()
    assert state(root) in (old, new)


@pytest.mark.parametrize(
    ("scenario", "points"),
    [("render --force", ("stage", "backup", "rename")), ("remove", ("delete",))],
)
def test_kill_at_every_occurrence_of_a_point(
    stacks: dict[str, Any], tmp_path: Path, cli: Any, scenario: str, points: tuple[str, ...]
) -> None:
    """Every staging, backup, rename and delete, not just the first: N = 1, 2, ... to the last."""
    _, old, new, _ = stacks[scenario]
    for point in points:
        for n in itertools.count(1):
            root = copy_of(stacks, scenario, tmp_path / f"{point}-{n}")
            done = mlstack(root, *SCENARIOS[scenario][2], crash=f"{point}:{n}")
            if done.returncode == 0:  # past the last occurrence
                assert n > 1, f"{point} was never reached"
                break
            assert done.returncode == 137, done.stderr
            assert cli("-C", root, "render", "--check").exit_code in (0, 1)
            assert state(root) == (old if point in BEFORE_COMMIT else new), f"{point}:{n}"


# Temp files: private, in one git-ignored place ------------------------------------------------


def test_staged_secrets_are_private_and_git_ignored(
    tmp_path: Path, make_stack: Any, skip_or_fail: Any
) -> None:
    root = make_stack(tmp_path / "stack", "--with", "api,redis")
    env = (root / ".env").read_text()
    (root / ".env").write_text(
        "".join(line for line in env.splitlines(True) if "REDIS" not in line)
    )
    assert mlstack(root, "render", crash="journal:1").returncode == 137  # all staged, no commit
    staged = sorted((root / TMP).iterdir())
    assert staged, "nothing was staged"
    assert (root / TMP).stat().st_mode & 0o077 == 0
    secrets = [p for p in staged if b"REDIS_PASSWORD=" in p.read_bytes()]
    assert len(secrets) == 1
    assert secrets[0].stat().st_mode & 0o777 == 0o600
    if shutil.which("git") is None:
        skip_or_fail("git is not installed")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    tracked = subprocess.run(
        ["git", "-C", str(root), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert ".mlstack/manifest.json" in tracked
    assert not [t for t in tracked if t.startswith((f"{TMP}/", LOCK)) or t == ".env"]


# A full disk ------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path, skip_or_fail: Any) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root and CAP_SYS_ADMIN, as in CI)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        skip_or_fail(f"mounting a tmpfs needs root and CAP_SYS_ADMIN: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True, timeout=30)


def fill(folder: Path) -> None:
    """Write a file until the disk is full."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_full_disk_changes_nothing(
    small_disk: Path, make_stack: Any, cli: Any, tree_state: Any
) -> None:
    root = make_stack(small_disk / "stack", "--with", "redis")
    fill(small_disk)
    before = tree_state(root)
    result = cli("-C", root, "add", "api", "jupyter")
    assert result.exit_code == 2, result.output
    assert "cannot write: No space left on device" in result.output
    assert "nothing was changed" in result.output
    after = tree_state(root)
    assert not (root / TMP).exists()
    del before[".mlstack"], after[".mlstack"]  # its timestamp: the temp folder came and went
    assert after == before
    (small_disk / "filler").unlink()
    assert cli("-C", root, "add", "api", "jupyter").exit_code == 0


def _small_files() -> None:
    _default_sigint()
    resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))


def test_file_size_limit_changes_nothing(
    stacks: dict[str, Any], tmp_path: Path, tree_state: Any
) -> None:
    """Where a tmpfs cannot be mounted, RLIMIT_FSIZE makes a write fail the same way (EFBIG)."""
    root = copy_of(stacks, "add", tmp_path)
    before = tree_state(root)
    done = mlstack(root, "add", "api", preexec_fn=_small_files)
    assert done.returncode == 2, done.stderr
    assert "cannot write: File too large" in done.stderr
    assert "nothing was changed" in done.stderr
    after = tree_state(root)
    assert not (root / TMP).exists()
    del before[".mlstack"], after[".mlstack"]  # its timestamp: the temp folder came and went
    assert after == before
