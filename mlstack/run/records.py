"""Records of a running stack: one container's state (parsed from `compose ps`), a verdict.

Apart from the code that fetches them (the engine) and the rules that judge them (health), so
that both, the console and the tests import the record and not the driver.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceState:
    """One service's container as ``docker compose ps`` reports it."""

    service: str
    container: str
    state: str  # running, exited, created, restarting, paused, dead
    health: str  # healthy, unhealthy, starting, or "" without a health check
    exit_code: int | None = None
    working_dir: str = ""  # the checkout whose compose project made the container ("": unknown)
    created: float | None = None  # seconds since the epoch, where the reader knows it
    config_files: str = ""  # the compose files it was created from (compose's label)


WORKING_DIR = "com.docker.compose.project.working_dir"


def working_dir(labels: str) -> str:
    """The checkout a container belongs to, from compose ps's ``Labels`` (``k=v,k=v``)."""
    pairs = (item.partition("=") for item in labels.split(","))
    return next((value for key, _, value in pairs if key == WORKING_DIR), "")


@dataclass(frozen=True)
class ServiceReport:
    """The end state of one service: what the table and ``status --json`` show."""

    service: str
    state: str
    health: str
    url: str = ""
    seconds: float | None = None  # time to healthy, from the start of the wait
    problem: str = ""
    exit_code: int | None = None
    container: str = ""

    @property
    def ok(self) -> bool:
        """Healthy, and answering from the host where it is published."""
        return not self.problem


@dataclass(frozen=True)
class LogOptions:
    """What ``mlstack logs`` asks compose for (its own flags: --follow, --tail, --since, -t)."""

    follow: bool = False
    tail: int | None = None  # the last N lines of each service
    since: str | None = None  # a timestamp (2026-01-02T15:04:05) or a duration (10m)
    timestamps: bool = False


def parse_ps(text: str) -> list[ServiceState]:
    """``docker compose ps --format json``: a JSON array (older 2.x) or one object a line."""
    text = text.strip()
    if not text:
        return []
    rows = json.loads(text) if text.startswith("[") else [json.loads(x) for x in text.splitlines()]
    return [
        ServiceState(
            service=r["Service"],
            container=r["Name"],
            state=r["State"],
            health=r.get("Health", ""),
            exit_code=r.get("ExitCode"),
            working_dir=working_dir(r.get("Labels") or ""),
        )
        for r in rows
    ]
