"""What ``up`` tells its caller while it works: small records, rendered by the CLI.

The core never prints: ``operate.up`` hands each event to a callback (``on_event``), and the CLI
turns them into lines, a live table, the health table and the failure reports. Tests collect
them in a list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlstack.render.plan import Step
from mlstack.run.checks import Check
from mlstack.run.gpu_host import GpuDecision
from mlstack.run.records import ServiceReport, ServiceState


@dataclass(frozen=True)
class Rendered:
    """A file that rendering before ``up`` wrote (a fresh clone gets its ``.env`` here)."""

    step: Step


@dataclass(frozen=True)
class CheckWarning:
    """A preflight check that did not fail but is not ok either."""

    check: Check


@dataclass(frozen=True)
class GpuDecided:
    """Whether the stack's GPU services get their GPU on this host, or run on CPU, and why."""

    decision: GpuDecision


@dataclass(frozen=True)
class Pulling:
    """Images about to be pulled."""

    images: tuple[str, ...]


@dataclass(frozen=True)
class Building:
    """Services whose images are about to be built."""

    services: tuple[str, ...]


@dataclass(frozen=True)
class Starting:
    """The services are being started; the wait for health begins."""

    services: tuple[str, ...]
    profile: str
    timeout: float


@dataclass(frozen=True)
class Tick:
    """One poll of the wait: every container's state, the services concluded, seconds so far."""

    states: dict[str, ServiceState]
    done: dict[str, ServiceReport]
    elapsed: float


@dataclass(frozen=True)
class Reported:
    """The wait is over: one report per service (the health table)."""

    title: str
    reports: tuple[ServiceReport, ...]


@dataclass(frozen=True)
class Failed:
    """A service that is not healthy: its report, last log lines and the known causes."""

    report: ServiceReport
    logs: str
    hints: tuple[str, ...]


@dataclass(frozen=True)
class Interrupted:
    """Ctrl-C while waiting: the state of every service at that moment."""

    reports: tuple[ServiceReport, ...]


Event = (
    Rendered
    | CheckWarning
    | GpuDecided
    | Pulling
    | Building
    | Starting
    | Tick
    | Reported
    | Failed
    | Interrupted
)
OnEvent = Callable[[Event], None]


def ignore(_: Event) -> None:
    """The callback of a caller that does not listen."""
