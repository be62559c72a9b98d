"""One repo on every machine (issue 12), on the real engine of this CPU-only host.

A stack is rendered with ``--gpu all`` on a recorded GPU host (an nvidia-smi that replays an
H100's output, as in tests/test_gpu_flow.py), then brought up here, where there is no GPU,
without an edit to any committed file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import compose, destroy, init_stack, mlstack, volumes_of
from helpers import RECORDED

from mlstack.render.envfile import parse_env

pytestmark = pytest.mark.engine

COMMITTED = ("mlstack.yaml", "compose.yaml", "compose.override.yaml", "compose.gpu.yaml")


def on_a_gpu_host(tmp_path: Path) -> dict[str, str]:
    """The environment of a recorded H100 host: its nvidia-smi first on PATH."""
    bindir = tmp_path / "h100-bin"
    bindir.mkdir()
    smi = bindir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\ncat '{RECORDED / 'nvidia-smi-query-h100-x1.csv'}'\n")
    smi.chmod(0o755)
    return {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}


def digests(root: Path) -> dict[str, str]:
    return {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in COMMITTED}


@pytest.fixture()
def gpu_rendered(tmp_path, e2e_images, monkeypatch):
    created = []

    def make(name: str, components: str, ports: dict[str, int]) -> Path:
        root = tmp_path / name
        with monkeypatch.context() as host:
            host.setenv("PATH", on_a_gpu_host(tmp_path)["PATH"])
            init_stack(root, name, components, ports, e2e_images, "--gpu", "all")
        created.append((root, name))
        return root

    yield make
    for root, name in created:
        destroy(root, name)


def test_a_gpu_stack_runs_on_cpu_here_without_an_edit(gpu_rendered):
    root = gpu_rendered(
        "e2ecpu", "api,redis,jupyter", {"api": 28101, "redis": 26401, "jupyter": 28889}
    )
    gpu = (root / "compose.gpu.yaml").read_text()
    assert "driver: nvidia" in gpu and "pytorch-notebook" in gpu  # rendered for the GPU host
    assert "driver: nvidia" not in (root / "compose.yaml").read_text()
    before = digests(root)
    done = mlstack(root, "up", "--timeout", "300")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gpu: jupyter run on CPU on this host (gpu.mode optional)" in done.stdout
    assert "nvidia-smi is not installed" in done.stdout or "no NVIDIA runtime" in done.stdout
    for service in ("api", "redis", "jupyter"):
        row = next(line for line in done.stdout.splitlines() if line.startswith(f"│ {service} "))
        assert "│ running │ healthy │" in row, row
    assert digests(root) == before  # no committed file was touched
    status = mlstack(root, "status", "--json")
    assert status.returncode == 0, status.stderr
    import json

    doc = json.loads(status.stdout)
    assert doc["gpu"]["services"] == ["jupyter"] and doc["gpu"]["on_cpu"] == ["jupyter"]
    assert doc["gpu"]["use_gpu"] is False and doc["gpu"]["reason"]


def test_gpu_mode_required_stops_the_preflight_here(gpu_rendered):
    root = gpu_rendered("e2ereq", "jupyter", {"jupyter": 28890})
    spec = root / "mlstack.yaml"
    spec.write_text(spec.read_text().replace("gpu:\n", "gpu:\n  mode: required\n"))
    done = mlstack(root, "up", "--timeout", "60")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "preflight failed, nothing was started" in done.stderr
    assert "jupyter ask for a GPU" in done.stderr
    assert "gpu.mode is required" in done.stderr and "gpu: {mode: optional}" in done.stderr
    assert compose(root, "ps", "-a", "-q").stdout.strip() == ""


def redis_cli(root: Path, *args: str) -> str:
    done = compose(root, "exec", "-T", "redis", "redis-cli", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture()
def two_clones(tmp_path, e2e_images):
    first, second = tmp_path / "first", tmp_path / "second"
    init_stack(first, "e2etwo", "redis", {"redis": 26411}, e2e_images)
    shutil.copytree(first, second, ignore=shutil.ignore_patterns(".env", ".mlstack"))
    yield first, second
    for root in (second, first):
        done = compose(root, "down", "--volumes", "--remove-orphans", "--timeout", "5")
        assert done.returncode == 0, done.stderr
    destroy(first, "e2etwo")


def test_two_clones_on_one_host(two_clones):
    first, second = two_clones
    mlstack(first, "up", "--timeout", "120", check=True)
    assert redis_cli(first, "SET", "kept", "first") == "OK"
    # the second clone has the same project name: its up must not take over the first's
    taken = mlstack(second, "up", "--timeout", "60")
    assert taken.returncode == 1, taken.stdout + taken.stderr
    assert "preflight failed, nothing was started" in taken.stderr
    assert f"the compose project is in use by the stack in {first}" in taken.stderr
    assert "COMPOSE_PROJECT_NAME" in taken.stderr
    # nor may its down: a clone naming another stack's project would delete that stack's data
    refused = mlstack(second, "down", "--volumes", "--yes")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"the compose project is in use by the stack in {first}" in refused.stderr
    assert redis_cli(first, "GET", "kept") == "first"
    env = second / ".env"  # machine-local: written by that up's render, never committed
    env.write_text(env.read_text() + "COMPOSE_PROJECT_NAME=e2etwo-b\nREDIS_HOST_PORT=26412\n")
    mlstack(second, "up", "--timeout", "120", check=True)
    for root in (first, second):
        status = mlstack(root, "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
    assert redis_cli(second, "GET", "kept") == ""  # separate volumes
    mlstack(second, "down", "--volumes", "--yes", check=True)
    assert mlstack(first, "status", "--json").returncode == 0
    assert redis_cli(first, "GET", "kept") == "first"  # the first one's data is still there


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture()
def two_git_clones(tmp_path, e2e_images):
    """Two ``git clone``s of one committed stack repo (api + redis), removed whatever happens."""
    origin, first, second = tmp_path / "origin", tmp_path / "first", tmp_path / "second"
    init_stack(origin, "e2efree", "api,redis", {"api": 28201, "redis": 26421}, e2e_images)
    git("init", "-q", cwd=origin)
    git("add", "-A", cwd=origin)
    git("commit", "-q", "-m", "stack", cwd=origin)
    for clone in (first, second):
        git("clone", "-q", str(origin), str(clone), cwd=tmp_path)
    try:
        yield first, second
    finally:
        for root in (second, first):  # compose reads each clone's own .env: its own project
            project = parse_env((root / ".env").read_text()).get("COMPOSE_PROJECT_NAME")
            destroy(root, project or "e2efree")


def test_two_git_clones_both_up_with_free_ports(two_git_clones):
    first, second = two_git_clones
    mlstack(first, "up", "--timeout", "300", check=True)
    assert redis_cli(first, "SET", "kept", "first") == "OK"
    taken = mlstack(second, "up", "--timeout", "60")
    assert taken.returncode == 1, taken.stdout + taken.stderr
    assert "mlstack up --free-ports" in taken.stderr
    done = mlstack(second, "up", "--free-ports", "--timeout", "300")
    assert done.returncode == 0, done.stdout + done.stderr
    project = parse_env((second / ".env").read_text())["COMPOSE_PROJECT_NAME"]
    assert project.startswith("e2efree-") and f"compose project {project}" in done.stdout
    assert "api 28201 -> " in done.stdout and "redis 26421 -> " in done.stdout
    api_port = parse_env((second / ".env").read_text())["API_HOST_PORT"]
    assert f"127.0.0.1:{api_port}" in done.stdout  # the URL of the moved API
    assert git("status", "--porcelain", cwd=second) == ""  # nothing committed was touched
    for root in (first, second):
        status = json.loads(mlstack(root, "status", "--json", check=True).stdout)
        assert status["healthy"] is True, status
    assert set(volumes_of("e2efree")).isdisjoint(volumes_of(project))
    assert redis_cli(second, "GET", "kept") == ""  # separate volumes
    mlstack(second, "down", "--volumes", "--yes", check=True)
    assert volumes_of(project) == [] and volumes_of("e2efree")
    assert json.loads(mlstack(first, "status", "--json", check=True).stdout)["healthy"] is True
    assert redis_cli(first, "GET", "kept") == "first"  # the first one's data is still there


def test_a_local_image_reaches_compose_without_an_edit(tmp_path, e2e_images):
    """mlstack.local.yaml ``images`` (a mirror's copy, here a local tag) runs, nothing edited."""
    root = tmp_path / "img"
    init_stack(root, "e2eimg", "redis", {"redis": 26431}, e2e_images)
    mirrored = "mlstack-e2e-mirror.local/redis:7"  # what a mirror would serve: the same image
    subprocess.run(["docker", "tag", e2e_images["redis"], mirrored], check=True)
    committed = {f: (root / f).read_bytes() for f in ("compose.yaml", "compose.override.yaml")}
    try:
        (root / "mlstack.local.yaml").write_text(f"images:\n  redis: {mirrored}\n")
        done = mlstack(root, "up", "--timeout", "120")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"image: {mirrored}" in (root / "compose.local.yaml").read_text()
        container = compose(root, "ps", "-q", "redis").stdout.strip()
        assert container, "redis is not running"
        image = subprocess.run(
            ["docker", "inspect", "--format", "{{.Config.Image}}", container],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert image == mirrored
        assert {f: (root / f).read_bytes() for f in committed} == committed
    finally:
        destroy(root, "e2eimg")
        subprocess.run(["docker", "rmi", mirrored], capture_output=True, check=False)
