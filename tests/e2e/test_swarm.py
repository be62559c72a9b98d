"""`mlstack deploy swarm` for real: a single-node Swarm on this engine, the prod stack on the
stand-in images (built by compose, no registry: --resolve-image never).

The swarm is always left (`docker swarm leave --force`) by a fixture finalizer, test failure or
not; an engine that is already in a swarm is not touched (the test fails instead). The stack is
deployed with the oldest docker CLI on PATH (20.10 is the strict one); a newer CLI's
`docker stack config` must accept the same file.

The API is published through the routing mesh where the kernel has IPVS; where it has none (no
ip_vs module: the mesh cannot work at all) it is published in host mode, and the test says so.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import init_stack, mlstack

pytestmark = pytest.mark.engine

PROJECT = "e2eswarm"
FULL = "api,qdrant,redis,mlflow,jupyter,postgres"
PORTS = {
    "api": 29000,
    "jupyter": 29888,
    "mlflow": 25001,
    "postgres": 25433,
    "qdrant": 26334,
    "redis": 26380,
}
STACK_LABEL = f"label=com.docker.stack.namespace={PROJECT}"


def docker(*args: str, check: bool = False, cli: str = "docker") -> subprocess.CompletedProcess:
    return subprocess.run([cli, *args], capture_output=True, text=True, check=check, timeout=300)


def ipvs_in_kernel() -> bool:
    """The routing mesh needs IPVS: built in (/proc/net/ip_vs) or as a loadable module."""
    modules = Path("/lib/modules") / platform.release()
    return Path("/proc/net/ip_vs").exists() or any(modules.rglob("ip_vs.ko*"))


def docker_clis() -> list[tuple[tuple[int, ...], str]]:
    """Every docker CLI on PATH, oldest first, with its version."""
    found = {}
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(folder) / "docker"
        if path.is_file() and os.access(path, os.X_OK) and path.resolve() not in found:
            out = docker("version", "--format", "{{.Client.Version}}", cli=str(path)).stdout
            digits = out.strip().split("+")[0].split("-")[0].split(".")
            if all(d.isdigit() for d in digits) and digits != [""]:
                found[path.resolve()] = (tuple(map(int, digits)), str(path))
    return sorted(found.values())


def wait_until_gone(label: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not docker("ps", "-aq", "--filter", label).stdout.split():
            return
        time.sleep(1)


def test_deploy_outside_a_swarm_says_how_to_make_one(tmp_path, e2e_images):
    """Before the module's swarm exists (file order), or run alone: nothing is deployed."""
    if docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() != "inactive":
        pytest.fail("run this test alone or first: the engine is in a swarm")
    init_stack(tmp_path, "e2enoswarm", "redis", {"redis": 26381}, e2e_images)
    done = mlstack(tmp_path, "deploy", "swarm")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not a Swarm manager" in done.stderr and "docker swarm init" in done.stderr
    assert not (tmp_path / "deploy").exists()


@pytest.fixture(scope="module")
def swarm(e2e_images):
    """A single-node swarm for this module, always left afterwards."""
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
    if state != "inactive":
        pytest.fail(
            f"this engine is in a swarm ({state!r}): the test never touches a swarm it did not make"
        )
    had_bridge = docker("network", "inspect", "docker_gwbridge").returncode == 0
    docker("swarm", "init", "--advertise-addr", "127.0.0.1", check=True)
    try:
        yield
    finally:
        docker("stack", "rm", PROJECT)
        wait_until_gone(STACK_LABEL)
        docker("swarm", "leave", "--force")
        if not had_bridge:
            docker("network", "rm", "docker_gwbridge")
        volumes = docker("volume", "ls", "-q", "--filter", STACK_LABEL).stdout.split()
        for volume in volumes:
            docker("volume", "rm", "-f", volume)


@pytest.fixture(scope="module")
def deployed(swarm, tmp_path_factory, e2e_images):
    """The prod stack deployed with the oldest docker CLI; (root, the deploy's output, mode)."""
    root = tmp_path_factory.mktemp("swarm")
    init_stack(root, PROJECT, FULL, PORTS, e2e_images)
    mode = "ingress" if ipvs_in_kernel() else "host"
    oldest = docker_clis()[0][1]
    path = os.pathsep.join([str(Path(oldest).parent), os.environ["PATH"]])
    started = time.monotonic()
    done = mlstack(
        root, "deploy", "swarm", "--publish", mode, "--timeout", "300", env={"PATH": path}
    )
    print(f"deploy with {oldest} ({mode}) took {time.monotonic() - started:.0f}s")
    return root, done, mode


def test_every_service_converges_healthy(deployed):
    _, done, _ = deployed
    assert done.returncode == 0, done.stdout + done.stderr
    for service in ("api", "qdrant", "redis", "mlflow", "jupyter", "postgres"):
        row = next(line for line in done.stdout.splitlines() if line.startswith(f"│ {service} "))
        assert "│ running │ healthy │" in row, row


def test_api_answers_ready_through_the_published_port(deployed):
    _, _, mode = deployed
    with urllib.request.urlopen(f"http://127.0.0.1:{PORTS['api']}/ready", timeout=10) as reply:
        body = json.load(reply)
    assert body == {
        "status": "ready",
        "checks": {"redis": "ok", "postgres": "ok", "qdrant": "ok", "mlflow": "ok"},
    }, f"published in {mode} mode"
    if mode == "host":
        print("no IPVS in this kernel: the API was published in host mode, not the routing mesh")


def task_container(service: str) -> str:
    label = f"label=com.docker.swarm.service.name={PROJECT}_{service}"
    ids = docker("ps", "-q", "--filter", label).stdout.split()
    assert ids, f"no running task of {service}"
    return ids[0]


def test_jupyter_shm_has_the_configured_size(deployed):
    out = docker("exec", task_container("jupyter"), "df", "-B1", "--output=size", "/dev/shm")
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) == 1024**3  # shm_size 1gb without a GPU


def test_read_only_root_with_tmpfs_carried(deployed):
    container = task_container("postgres")
    assert docker("exec", container, "touch", "/probe").returncode != 0
    assert docker("exec", container, "touch", "/tmp/probe").returncode == 0
    assert docker("exec", container, "id", "-un").stdout.strip() == "postgres"


def test_service_inspect_shows_no_secret_value(deployed):
    root, _, _ = deployed
    values = [
        line.split("=", 1)[1].strip()
        for line in (root / ".env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    ]
    assert len(values) == 4 and all(len(v) > 16 for v in values)
    names = docker("service", "ls", "-q", "--filter", STACK_LABEL).stdout.split()
    inspected = docker("service", "inspect", *names, check=True).stdout
    assert len(json.loads(inspected)) == 6
    assert "/run/secrets/POSTGRES_PASSWORD" in inspected  # secrets are there, by reference
    assert not [v for v in values if v in inspected]
    for path in (root / "deploy/swarm").rglob("*"):
        if path.is_file():
            assert not [v for v in values if v in path.read_text()], path


def test_status_reports_the_deployed_stack(deployed):
    root, _, _ = deployed
    done = mlstack(root, "status", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["healthy"] is True
    rows = {s["service"]: s for s in report["services"]}
    assert set(rows) == {"api", "qdrant", "redis", "mlflow", "jupyter", "postgres"}
    assert rows["api"]["container"] == f"{PROJECT}_api.1"
    assert rows["api"]["url"] == f"http://127.0.0.1:{PORTS['api']}/docs"


def test_status_names_a_service_scaled_to_zero(deployed):
    root, _, _ = deployed
    docker("service", "scale", "--detach", f"{PROJECT}_qdrant=0", check=True)
    try:
        done = mlstack(root, "status", "--json")
        assert done.returncode == 1
        rows = {s["service"]: s for s in json.loads(done.stdout)["services"]}
        assert rows["qdrant"]["ok"] is False and rows["redis"]["ok"] is True
    finally:
        docker("service", "scale", "--detach", f"{PROJECT}_qdrant=1", check=True)


def test_every_other_cli_accepts_the_same_stack_file(deployed):
    """The deploy judged the file with the oldest CLI; each newer one (25+) judges it too."""
    root, _, _ = deployed
    clis = docker_clis()
    assert clis, "no docker CLI found on PATH"
    for version, cli in clis[1:]:
        if version >= (25,):  # `docker stack config` is there from 20.10.x on, but not in 20.10.24
            done = docker("stack", "config", "-c", str(root / "deploy/swarm/stack.yaml"), cli=cli)
            assert done.returncode == 0, f"{cli}: {done.stderr}"
