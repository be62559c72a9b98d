"""A compose project's container states from plain ``docker ps``: one quick call.

``docker compose ps`` loads and resolves the compose files first (about 0.2 s on a small
machine); ``docker ps`` filtered on compose's own labels answers the same question in a few
milliseconds, so ``status`` and ``up``'s watch loop ask it instead.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from mlstack.run.records import ServiceState

FORMAT = "\t".join(
    (
        '{{.Label "com.docker.compose.service"}}',
        "{{.Names}}",
        "{{.State}}",
        "{{.Status}}",
        "{{.CreatedAt}}",
        '{{.Label "com.docker.compose.project.config_files"}}',
        '{{.Label "com.docker.compose.project.working_dir"}}',
    )
)
HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
EXITED = re.compile(r"^Exited \((-?\d+)\)")
NAME = re.compile(r"^name:\s*['\"]?([a-z0-9][a-z0-9_-]*)['\"]?\s*$", re.MULTILINE)


def ps_args(project: str) -> list[str]:
    """``docker ps`` arguments for the project's service containers (not ``run`` one-offs)."""
    return [
        "ps",
        "--all",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--filter",
        "label=com.docker.compose.oneoff=False",
        "--format",
        FORMAT,
    ]


def parse_states(text: str) -> dict[str, ServiceState]:
    """The lines of ``ps_args``' format as ServiceStates, by service."""
    states = {}
    for line in text.splitlines():
        service, name, state, status, created, files, workdir = [*line.split("\t"), *[""] * 7][:7]
        if not service:
            continue
        health = HEALTH.search(status)
        exited = EXITED.match(status)
        states[service] = ServiceState(
            service=service,
            container=name,
            state=state,
            health=health.group(1).replace("health: ", "") if health else "",
            exit_code=int(exited.group(1)) if exited else (0 if state == "running" else None),
            created=_epoch(created),
            config_files=files,
            working_dir=workdir,
        )
    return states


def _epoch(created: str) -> float | None:
    """``docker ps``' CreatedAt (``2026-11-25 14:28:48 +0000 UTC``) in seconds since the epoch."""
    try:
        return datetime.strptime(created[:25], "%Y-%m-%d %H:%M:%S %z").timestamp()
    except ValueError:
        return None


def project_name(root: Path, env: dict[str, str]) -> str | None:
    """The compose project's name as compose picks it, or None where mlstack cannot tell.

    ``COMPOSE_PROJECT_NAME`` (the shell's, then .env's) wins over the file's top-level ``name``.
    """
    if env.get("COMPOSE_PROJECT_NAME"):
        return env["COMPOSE_PROJECT_NAME"]
    try:
        head = (root / "compose.yaml").read_text(encoding="utf-8")[:4096]
    except OSError:
        return None
    found = NAME.search(head)
    return found.group(1) if found else None
