"""A container's own health command, run now: ``up``'s check while Docker's first one is due.

Docker runs a steady service's health check every 30 s (at rest, checks cost CPU in every
container, forever). Engines before 25 have no ``start_interval`` to check more often while a
service starts, so ``up`` runs the very same command itself, once per poll, until it passes.
"""

from __future__ import annotations

import json
import subprocess

from mlstack.run.docker_cli import DockerFailed, run_docker

TIMEOUT_SECONDS = 5.0


def health_command(test: list[str]) -> list[str] | None:
    """The argv that ``docker exec`` runs for a healthcheck ``test`` (None: no command)."""
    if len(test) >= 2 and test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    if len(test) >= 2 and test[0] == "CMD":
        return test[1:]
    return None


def run_health_command(container: str) -> str | None:
    """None when the container's health command passes now; otherwise why not."""
    try:
        found = run_docker(["inspect", "--format", "{{json .Config.Healthcheck}}", container])
        command = health_command((json.loads(found) or {}).get("Test") or [])
    except (DockerFailed, ValueError) as exc:
        return f"cannot read its health check: {exc}"
    if command is None:
        return "it has no health command"
    try:
        done = subprocess.run(
            ["docker", "exec", container, *command],
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"its health command ran over {TIMEOUT_SECONDS:.0f} s"
    return None if done.returncode == 0 else f"its health command exits {done.returncode}"
