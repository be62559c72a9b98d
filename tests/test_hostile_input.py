"""Hostile input through the real command line: each ends in exit 2, naming the file and field.

The ones that used to run for minutes or exhaust memory run in a subprocess under an address
space limit (``RLIMIT_AS``) and a timeout, so a regression fails here instead of hanging CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("cpu_only_host")

MEMORY = 1024**3  # 1 GiB of address space: a render needs a few hundred MiB
TIMEOUT = 60  # seconds; each case takes well under a second alone
BOMB = "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9 if i else ['lol'] * 9)}]\n" for i in range(9)
)
BOUNDED = (
    "import resource, sys; "
    f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY}, {MEMORY})); "
    "from mlstack.cli import main; sys.argv = ['mlstack', *sys.argv[1:]]; main()"
)


def bounded_cli(root: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """``mlstack -C ROOT ARGS`` in a subprocess limited to 1 GiB and 60 s."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", BOUNDED, "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error::Warning:mlstack"},
    )
    return done, time.perf_counter() - start


def assert_refused(output: str, file: str, field: str, *phrases: str) -> None:
    assert f"error: {file}: {field}: " in output, output
    assert "internal error" not in output and "Traceback" not in output, output
    assert "\n  fix: " in output, output
    for phrase in phrases:
        assert phrase in output, output


def test_a_normal_render_fits_the_bound(tmp_path: Path, make_stack: Any) -> None:
    """The control: the limits of this file are not what fails the cases below."""
    root = make_stack(tmp_path / "ok", "--with", "api,redis")
    done, _ = bounded_cli(root, "render", "--dry-run")
    assert done.returncode == 0, done.stderr


def written(root: Path) -> list[str]:
    """The project's entries; a `.mlstack/` that holds only the project lock is no write (the
    lock is taken before the spec is read, and a lock file is never deleted under a waiter)."""
    names = sorted(p.name for p in root.iterdir())
    state = root / ".mlstack"
    if state.is_dir() and {p.name for p in state.iterdir()} <= {"lock", "lock.owner"}:
        names.remove(".mlstack")
    return names


@pytest.mark.parametrize(
    ("filename", "content", "file", "field", "phrase"),
    [
        pytest.param(
            "mlstack.yaml",
            BOMB,
            "mlstack.yaml",
            "l4",
            "aliases expand to more than 10,000 values",
            id="alias-bomb",
        ),
        pytest.param(
            "stacks/api.yaml",
            BOMB,
            "stacks/api.yaml",
            "l4",
            "aliases expand",
            id="alias-bomb-in-a-fragment",
        ),
        pytest.param(
            "mlstack.yaml",
            "name: x\ncomponents: " + "[" * 500_000,
            "mlstack.yaml",
            "line 2",
            "nested deeper than 32 levels",
            id="deep-nesting",
        ),
        pytest.param(
            "mlstack.yaml",
            None,  # 50 MB, made below
            "mlstack.yaml",
            "(file size)",
            "52,428,800 bytes",
            id="50MB-file",
        ),
        pytest.param(
            "mlstack.yaml",
            "name: x\ncomponents: [api]\nports: {api: " + "9" * 100_000 + "}\n",
            "mlstack.yaml",
            "line 3",
            "100,000 digits",
            id="huge-number",
        ),
    ],
)
def test_bombs_end_in_exit_2_in_bounded_time_and_memory(
    tmp_path: Path, filename: str, content: str | None, file: str, field: str, phrase: str
) -> None:
    root = tmp_path / "stack"
    (root / "stacks").mkdir(parents=True)
    (root / "mlstack.yaml").write_text("name: demo\ncomponents: [api, redis]\n")
    target = root / filename
    if content is None:  # sparse: 50 MB on the size check, nothing on the disk
        target.write_text("name: demo\n")
        os.truncate(target, 50 * 1024 * 1024)
    else:
        target.write_text(content)
    done, seconds = bounded_cli(root, "render")
    assert done.returncode == 2, done.stderr
    assert_refused(done.stderr, file, field, phrase)
    assert seconds < 30, seconds  # it used to run for minutes, then die of MemoryError
    assert written(root) == ["mlstack.yaml", "stacks"]  # nothing written


def test_a_fifo_for_mlstack_yaml_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "mlstack.yaml")
    done, _ = bounded_cli(tmp_path, "render")
    assert done.returncode == 2
    assert "error: mlstack.yaml: is not a regular file" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("spec", "field", "phrases"),
    [
        pytest.param(
            "ports: {api: 8080.0}", "ports.api", ["got 8080.0", "whole number"], id="float-port"
        ),
        pytest.param("ports: {api: 0}", "ports.api", ["from 1 to 65535"], id="port-0"),
        pytest.param("ports: {api: 70000}", "ports.api", ["from 1 to 65535"], id="port-70000"),
        pytest.param(
            "gpu: {devices: 1000000000}", "gpu.devices", ["from 1 to 64"], id="absurd-gpu-count"
        ),
        pytest.param("shm_size: 0g", "shm_size", ["0 bytes"], id="zero-shm"),
        pytest.param("shm_size: 99999g", "shm_size", ["more than 4096g"], id="huge-shm"),
        pytest.param(
            "images: {redis: 'redis:8 && curl evil'}", "images.redis", ["image reference"], id="ref"
        ),
        pytest.param(
            "x: !!python/object/apply:os.system [id]",
            "line 3",
            ["!!python/object/apply:os.system"],
            id="python-tag",
        ),
        pytest.param("x: &a [*a]", "x[0]", ["refers to its own anchor"], id="alias-cycle"),
        pytest.param("ports: 5", "ports", ["not of type 'object'"], id="ports-not-a-mapping"),
    ],
)
def test_hostile_specs_are_refused_by_render_and_add(
    tmp_path: Path, make_stack: Any, cli: Any, spec: str, field: str, phrases: list[str]
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis,trainer")
    (root / "mlstack.yaml").write_text(f"name: demo\ncomponents: [api, redis, trainer]\n{spec}\n")
    before = written(root)
    for command in (["render"], ["add", "qdrant"], ["validate"]):
        result = cli("-C", root, *command)
        assert result.exit_code == 2, (command, result.output)
        assert_refused(result.output, "mlstack.yaml", field, *phrases)
    assert written(root) == before


def test_a_yaml_date_and_the_same_text_as_a_string_each_get_a_fresh_verdict(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    """Was: both shared one cached verdict, so the date was accepted after the string."""
    root = make_stack(tmp_path, "--with", "redis")
    spec = root / "mlstack.yaml"
    for _ in range(2):
        spec.write_text("name: '2024-01-01'\ncomponents: [redis]\n")
        assert cli("-C", root, "render", "--dry-run").exit_code == 0
        spec.write_text("name: 2024-01-01\ncomponents: [redis]\n")
        result = cli("-C", root, "render", "--dry-run")
        assert result.exit_code == 2, result.output
        assert_refused(result.output, "mlstack.yaml", "name", "datetime.date(2024, 1, 1)")


@pytest.mark.parametrize(
    ("change", "field", "phrase"),
    [
        pytest.param(
            ("python:{python}-slim", "python:{python.__class__.__mro__}"),
            "images.python",
            "a brace that is no placeholder",
            id="template-injection",
        ),
        pytest.param(
            ("python:{python}-slim", "python:{secret}"),
            "images.python",
            "unknown placeholder {secret}",
            id="unknown-placeholder",
        ),
        pytest.param(
            ("url: http://127.0.0.1:{port}/docs", "url: http://x/{port.__class__}"),
            "url",
            "a brace",
            id="url-injection",
        ),
        pytest.param(
            ("    LOG_LEVEL: info", "    - [A=1]"),
            "service.environment[0]",
            "not of type 'string'",
            id="environment-shape",
        ),
    ],
)
def test_hostile_fragments_are_refused(
    tmp_path: Path, make_stack: Any, cli: Any, change: tuple[str, str], field: str, phrase: str
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    shipped = (Path(__file__).resolve().parents[1] / "stacks" / "api.yaml").read_text()
    assert change[0] in shipped
    (root / "stacks").mkdir()
    (root / "stacks" / "api.yaml").write_text(shipped.replace(*change))
    result = cli("-C", root, "render")
    assert result.exit_code == 2, result.output
    assert_refused(result.output, "stacks/api.yaml", field, phrase)


def test_a_spec_linked_to_a_file_outside_the_project_is_refused(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path / "stack", "--with", "redis")
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text((root / "mlstack.yaml").read_text())
    (root / "mlstack.yaml").unlink()
    (root / "mlstack.yaml").symlink_to(outside)
    result = cli("-C", root, "render")
    assert result.exit_code == 2, result.output
    assert "error: mlstack.yaml: is a symbolic link" in result.output
