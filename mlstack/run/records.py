"""Records of a running stack: one container's state, one service's verdict.

Apart from the code that fetches them (the engine) and the rules that judge them (health), so
that both, the console and the tests import the record and not the driver.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceState:
    """One service's container as ``docker compose ps`` reports it."""

    service: str
    container: str
    state: str  # running, exited, created, restarting, paused, dead
    health: str  # healthy, unhealthy, starting, or "" without a health check
    exit_code: int | None = None
    created: float | None = None  # seconds since the epoch, where the reader knows it
    config_files: str = ""  # the compose files it was created from (compose's label)


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
