"""`mlstack doctor` with a scripted engine: every check is reported, whatever is missing.

The checks themselves are in test_checks.py; here, how the doctor puts them together when the
engine is down, Compose is missing, there is no mlstack.yaml, or the files drifted.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine, fake_environment, state
from helpers import RECORDED

from mlstack.errors import EngineError
from mlstack.layout import Profile
from mlstack.machine.host import scan_gpus
from mlstack.run.checks import Check
from mlstack.run.doctor import run_doctor
from mlstack.run.engine import INSTALL_COMPOSE

pytestmark = pytest.mark.usefixtures("cpu_only_host")

IDS = [
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
    "secrets",  # services.<name>.secrets the user fills (issue 11)
    "env",  # .env keys nothing reads (issue 11)
]


def doctor(root: Path, engine: FakeEngine, **kw: Any) -> dict[str, Check]:
    checks = run_doctor(root, env=fake_environment(engine, **kw))
    assert [c.id for c in checks] == IDS  # always all of them, in this order
    return {c.id: c for c in checks}


def test_a_healthy_machine_and_stack(tmp_path: Path, make_stack: Any):
    root = make_stack(tmp_path, "--with", "redis")
    checks = doctor(root, FakeEngine(images={"redis:8.10-alpine"}))
    assert checks["engine"] == Check(
        "engine", "ok", "Docker Engine 20.10.24+dfsg1 (Debian GNU/Linux 12 (bookworm))"
    )
    assert checks["compose"] == Check("compose", "ok", "Docker Compose 2.40.3")
    assert checks["files"].status == "ok"
    assert checks["gpu.driver"].found.startswith("no GPU service in this stack")
    assert not [c for c in checks.values() if c.status == "fail" and c.id != "disk"]


def test_engine_down(tmp_path: Path, make_stack: Any):
    root = make_stack(tmp_path, "--with", "redis")
    down = EngineError("the Docker engine is not reachable: no socket", "start it")
    checks = doctor(root, FakeEngine(info=down))
    assert checks["engine"] == Check(
        "engine", "fail", "the Docker engine is not reachable: no socket", "start it"
    )
    assert checks["compose"] == Check(
        "compose", "fail", "not checked: the engine is not reachable", "start the engine first"
    )
    assert checks["disk"].found.endswith("size of the images to pull unknown")
    assert checks["files"].status == "ok"  # the stack is still judged


def test_compose_missing(tmp_path: Path, make_stack: Any):
    root = make_stack(tmp_path, "--with", "redis")
    missing = EngineError("Docker Compose v2 is missing: unknown command", INSTALL_COMPOSE)
    checks = doctor(root, FakeEngine(compose_version=missing))
    assert checks["engine"].status == "ok"
    assert checks["compose"] == Check(
        "compose", "fail", "Docker Compose v2 is missing: unknown command", INSTALL_COMPOSE
    )


def test_old_compose_is_a_warning(tmp_path: Path, make_stack: Any):
    root = make_stack(tmp_path, "--with", "redis")
    checks = doctor(root, FakeEngine(compose_version=(2, 17, 0)))
    assert checks["compose"].status == "warn"
    assert "older than 2.20" in checks["compose"].found


def test_no_mlstack_yaml(tmp_path: Path):
    checks = doctor(tmp_path, FakeEngine())
    for check_id in ("gpu.driver", "gpu.runtime", "gpu.cuda", "shm", "ports", "disk"):
        assert checks[check_id] == Check(check_id, "ok", "not checked: no valid mlstack.yaml here")
    files = checks["files"]
    assert files.status == "fail"
    assert files.found == "mlstack.yaml: file not found"
    assert "mlstack init" in files.fix


def test_drift_names_the_file(tmp_path: Path, make_stack: Any):
    root = make_stack(tmp_path, "--with", "redis")
    # Was: a hand edit was drift; since issue 11 render keeps it, so a spec change is.
    spec = root / "mlstack.yaml"
    spec.write_text(spec.read_text() + "images:\n  redis: redis:8.12-alpine\n")
    files = doctor(root, FakeEngine())["files"]
    assert files == Check(
        "files",
        "fail",
        "drifted from mlstack.yaml: compose.yaml",
        "run `mlstack render` (it merges your edits; see `mlstack diff`)",
    )


def test_ports_held_by_the_stack_itself_are_fine(tmp_path: Path, make_stack: Any):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        root = make_stack(tmp_path, "--with", "redis", "--port", f"redis={port}")
        running = FakeEngine(frames=[{"redis": state("redis")}])
        assert doctor(root, running)["ports"].status == "ok"
        other = FakeEngine(on_port={port: "other-redis-1 (compose project other)"})
        ports = doctor(root, other)["ports"]
    assert ports.status == "fail"
    assert f"{port} (redis) is held by container other-redis-1 (compose project other)" in (
        ports.found
    )


def test_a_gpu_host_without_the_nvidia_runtime(
    tmp_path: Path, make_stack: Any, monkeypatch: pytest.MonkeyPatch
):
    """nvidia-smi answers (a recorded A100 host); Docker has no NVIDIA runtime."""
    root = make_stack(tmp_path / "stack", "--with", "jupyter", "--gpu", "all", "--cuda", "12.8.1")
    bindir = tmp_path / "bin"  # PATH: the fake nvidia-smi and cat, no NVIDIA hooks
    bindir.mkdir()
    (bindir / "cat").symlink_to(shutil.which("cat"))
    smi = bindir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\ncat '{RECORDED / 'nvidia-smi-query-a100-x8.csv'}'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    checks = doctor(root, FakeEngine(), scan=scan_gpus())
    assert checks["gpu.driver"].status == "ok" and "535.104.05" in checks["gpu.driver"].found
    assert checks["gpu.cuda"].status == "warn"  # 12.8.1 on 535: minor-version compat only
    assert "570.124.06" in checks["gpu.cuda"].fix
    # gpu.mode optional (the default, issue 12): jupyter runs on CPU here, a warning
    assert checks["gpu.runtime"].status == "warn"
    assert "jupyter run on CPU on this host" in checks["gpu.runtime"].found
    assert "nvidia-ctk runtime configure" in checks["gpu.runtime"].fix
    assert checks["shm"].status == "ok"
    spec = root / "mlstack.yaml"
    spec.write_text(spec.read_text().replace("  devices: all", "  mode: required\n  devices: all"))
    required = doctor(root, FakeEngine(), scan=scan_gpus())["gpu.runtime"]
    assert required.status == "fail" and "nvidia-ctk runtime configure" in required.fix
    assert "gpu: {mode: optional}" in required.fix and "mlstack.local.yaml" in required.fix


def test_doctor_uses_the_profile_it_is_given(tmp_path: Path, make_stack: Any):
    root = make_stack(tmp_path, "--with", "redis")
    engine = FakeEngine()
    run_doctor(root, Profile.PROD, fake_environment(engine))
    assert engine.profiles == [Profile.PROD]
