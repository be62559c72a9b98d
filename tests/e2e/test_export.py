"""The commands an export writes are run for real, inside a live compose stack (prod profile).

A schema proves a probe is well formed, not that it passes. Here every exec probe of the
Kubernetes export runs in its service's running container, every HTTP probe is fetched over the
stack's network as the kubelet would, and every initContainer's wait runs in the dependency's
image, with its environment and as the dependant's uid, against the dependency's name (the
Service's, in a cluster). Each wait is also run against a host without that service, and must
fail: a check that cannot fail proves nothing. The Swarm export's waits (mlstack-wait.py, run by
each dependant's entrypoint) are run the same way, in the dependant's container.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import compose, destroy, init_stack, mlstack
from ruamel.yaml import YAML

from mlstack.render.envfile import parse_env

pytestmark = pytest.mark.engine

PROJECT = "e2eexport"
FULL = "api,qdrant,redis,mlflow,jupyter,postgres"
PORTS = {
    "api": 38000,
    "jupyter": 38888,
    "mlflow": 35000,
    "postgres": 35432,
    "qdrant": 36333,
    "redis": 36379,
}
KUBECTL = str(Path(sys.executable).with_name("kubectl"))


@pytest.fixture(scope="module")
def live(tmp_path_factory, e2e_images):
    """The full stack up in prod, and its Kubernetes export rendered by kubectl kustomize."""
    root = tmp_path_factory.mktemp("export")
    images = {**e2e_images, "registry": "registry.invalid/e2e"}
    init_stack(root, PROJECT, FULL, PORTS, images)
    try:
        mlstack(root, "up", "--profile", "prod", "--timeout", "300", check=True)
        mlstack(root, "export", "k8s", check=True)
        mlstack(root, "export", "swarm", check=True)
        done = subprocess.run(
            [KUBECTL, "kustomize", str(root / "deploy/k8s/overlays/prod")],
            capture_output=True,
            text=True,
            check=True,
        )
        objects = [d for d in YAML(typ="safe").load_all(done.stdout) if d]
        yield (
            root,
            {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
            | {o["metadata"]["name"]: o for o in objects if o["kind"] == "StatefulSet"},
        )
    finally:
        destroy(root, PROJECT)


def exec_in(root: Path, service: str, argv: list[str], user: str | None = None):
    flags = ["--user", user] if user else []
    return compose(root, "exec", "-T", *flags, service, *argv, profile="prod")


def pod(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def test_every_exec_probe_passes_in_its_running_container(live):
    root, workloads = live
    ran = []
    for name, workload in workloads.items():
        container = pod(workload)["containers"][0]
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = container[kind]
            if "exec" in probe:
                done = exec_in(root, name, probe["exec"]["command"])
                assert done.returncode == 0, f"{name} {kind}: {done.stdout}{done.stderr}"
                ran.append((name, kind))
    assert {n for n, _ in ran} == {"api", "qdrant", "redis", "mlflow", "jupyter", "postgres"}


def test_every_http_probe_answers_over_the_network(live):
    root, workloads = live
    fetched = []
    for name, workload in workloads.items():
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            http = pod(workload)["containers"][0][kind].get("httpGet")
            if http:
                url = f"http://{name}:{http['port']}{http['path']}"
                code = (
                    "import sys, urllib.request;"
                    f"r = urllib.request.urlopen({url!r}, timeout=5); sys.exit(r.status != 200)"
                )
                done = exec_in(root, "api", ["python", "-c", code])
                assert done.returncode == 0, f"{url}: {done.stderr}"
                fetched.append(url)
    assert "http://api:8000/ready" in fetched and "http://qdrant:6333/readyz" in fetched


def waits(workloads: dict[str, Any]):
    """(dependant, dependency, the initContainer) for every wait the export wrote."""
    for name, workload in workloads.items():
        for init in pod(workload).get("initContainers", []):
            yield name, init["name"].removeprefix("wait-for-"), init, pod(workload)


def test_every_init_wait_returns_against_the_service(live):
    root, workloads = live
    seen = set()
    for dependant, dependency, init, spec in waits(workloads):
        user = str(spec["securityContext"]["runAsUser"])
        done = exec_in(root, dependency, init["command"], user=user)
        assert done.returncode == 0, f"{dependant} waiting for {dependency}: {done.stderr}"
        assert f"{dependency} is healthy" in done.stdout
        seen.add(dependency)
    assert seen == {"postgres", "redis", "qdrant", "mlflow"}


def test_every_init_wait_check_fails_where_the_service_is_not(live):
    """The same check, pointed at a host that does not serve it, fails (once, no loop)."""
    root, workloads = live
    for _, dependency, init, _ in waits(workloads):
        script = init["command"][-1]
        check = script.removeprefix("until ").split("; do echo", 1)[0]
        wrong = check.replace(f" {dependency} ", " api ").replace(f"//{dependency}:", "//api:")
        wrong = wrong.replace(f"/dev/tcp/{dependency}/", "/dev/tcp/api/")
        assert wrong != check, check
        done = exec_in(root, dependency, ["/bin/sh", "-c", wrong], user="10001")
        assert done.returncode != 0, f"{dependency}: `{wrong}` passed against the api"


def swarm_waits(root: Path):
    """(dependant, argv) of every wait in the Swarm stack file's entrypoints."""
    stack = YAML(typ="safe").load((root / "deploy/swarm/stack.yaml").read_text())
    for name, service in stack["services"].items():
        script = service.get("entrypoint", ["", "", ""])[2].replace("$$", "$")
        for step in script.split(" && "):
            if step.startswith("python /mlstack/wait.py "):
                yield name, shlex.split(step)[2:]


def run_wait(root: Path, service: str, args: list[str]) -> subprocess.CompletedProcess:
    """mlstack-wait.py, fed on stdin, in the service's running container (prod files)."""
    secrets = parse_env((root / ".env").read_text())
    files = [a for f in ("compose.yaml", "compose.prod.yaml") for a in ("-f", str(root / f))]
    env = ["-e", f"REDIS_PASSWORD={secrets['REDIS_PASSWORD']}"]
    command = ["docker", "compose", "--project-directory", str(root), *files, "exec", "-T", *env]
    return subprocess.run(
        [*command, service, "python", "-", *args],
        input=(root / "deploy/swarm/mlstack-wait.py").read_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_swarm_wait_returns_in_the_dependant(live):
    root, _ = live
    ran = set()
    for dependant, args in swarm_waits(root):
        done = run_wait(root, dependant, args)
        assert done.returncode == 0, f"{dependant}: wait {args}: {done.stdout}{done.stderr}"
        assert f"{args[1]} is healthy" in done.stdout
        ran.add((dependant, args[1]))
    assert {("api", "postgres"), ("api", "redis"), ("mlflow", "postgres")} <= ran
    assert {d for _, d in ran} == {"postgres", "redis", "qdrant", "mlflow"}


def test_every_swarm_wait_fails_once_where_the_service_is_not(live):
    root, _ = live
    for dependant, args in swarm_waits(root):
        wrong = [args[0], "jupyter", *args[2:], "--once"]
        done = run_wait(root, dependant, wrong)
        assert done.returncode == 1, f"{dependant}: {wrong} passed against jupyter"
