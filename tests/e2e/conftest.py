"""End-to-end fixtures: a real Docker engine, locally built stand-in images, real stacks.

In CI (CI=true) a missing engine is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import engine_problem, skip_or_fail
from images import E2E_IMAGES, ensure_images

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@pytest.fixture(scope="session")
def e2e_images() -> dict[str, str]:
    """The stand-in images, built once (cached across runs by content hash)."""
    problem = engine_problem()
    if problem:
        skip_or_fail(f"end-to-end tests need a Docker engine: {problem}")
    return ensure_images()


def mlstack(
    root: Path, *args: str, timeout: float = 900, env: dict | None = None, check: bool = False
) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, as a user would."""
    done = subprocess.run(
        [sys.executable, "-m", "mlstack", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )
    if check:
        assert done.returncode == 0, f"mlstack {' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


def init_stack(
    root: Path,
    name: str,
    components: str,
    ports: dict[str, int],
    images: dict[str, str],
    *extra: str,
) -> None:
    """``mlstack init --yes`` pointed at the stand-in images, with the host CA for pip."""
    args = ["init", "--yes", "--name", name, "--with", components, "--ca-bundle", CA_BUNDLE]
    args += [a for slot, ref in images.items() for a in ("--image", f"{slot}={ref}")]
    args += [a for svc, port in ports.items() for a in ("--port", f"{svc}={port}")]
    mlstack(root, *args, *extra, check=True)


def compose(root: Path, *args: str, profile: str = "dev") -> subprocess.CompletedProcess:
    """``docker compose`` on the stack's files, for checks from outside mlstack."""
    files = ["compose.yaml", "compose.override.yaml" if profile == "dev" else "compose.prod.yaml"]
    cmd = ["docker", "compose", "--project-directory", str(root)]
    cmd += [a for f in files for a in ("-f", str(root / f))]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, check=False, timeout=300)


def volumes_of(project: str) -> list[str]:
    """The named volumes of a compose project."""
    out = subprocess.run(
        [
            "docker",
            "volume",
            "ls",
            "--filter",
            f"label=com.docker.compose.project={project}",
            "--format",
            "{{.Name}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def published(project: str) -> dict[str, list]:
    """Host ports each running container of a project publishes."""
    names = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    data = (
        json.loads(
            subprocess.run(
                ["docker", "inspect", *names], capture_output=True, text=True, check=True
            ).stdout
        )
        if names
        else []
    )
    return {
        c["Config"]["Labels"]["com.docker.compose.service"]: [
            b
            for bindings in (c["NetworkSettings"]["Ports"] or {}).values()
            if bindings
            for b in bindings
        ]
        for c in data
    }


def destroy(root: Path, project: str) -> None:
    """Remove a test stack and its volumes, whatever state it is in."""
    compose(root, "down", "--volumes", "--remove-orphans", "--timeout", "5")
    for volume in volumes_of(project):
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True, check=False)


__all__ = ["E2E_IMAGES", "compose", "destroy", "init_stack", "mlstack", "published", "volumes_of"]
