"""What running a stack reaches beyond its files: the engine, the GPUs, the clock, a thread.

``operate`` and ``doctor`` take an :class:`Environment`; the default is the real machine, and tests
pass a fake engine and a scripted clock instead (httpie's ``Environment`` is the model).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlstack.layout import Profile
from mlstack.machine.docker_info import EngineInfo
from mlstack.machine.host import GpuScan, scan_gpus
from mlstack.run.inside_check import run_health_command
from mlstack.run.records import LogOptions, ServiceState


class StackEngine(Protocol):
    """The engine calls ``operate`` and ``doctor`` make (``mlstack.run.engine.Engine``)."""

    def info(self) -> EngineInfo:
        """The engine's facts (EngineError when it is not reachable)."""

    def compose_version(self) -> tuple[int, int, int]:
        """Compose's version (EngineError when it is missing)."""

    def compose(self, *args: str, what: str, fix: str = ...) -> str:
        """Run ``docker compose`` with the profile's files."""

    def add_files(self, names: tuple[str, ...]) -> None:
        """Add compose files after the profile's (``compose.gpu.yaml`` on a GPU host)."""

    def build(self, services: list[str], secrets: Mapping[str, str]) -> None:
        """Build the services' images, with build-secret variables from .env."""
        ...

    def up(self, services: list[str], build: bool) -> None:
        """Create and start the services, detached."""

    def states(self) -> dict[str, ServiceState]:
        """Every service container's state and health."""

    def logs(self, service: str, tail: int = ...) -> str:
        """The last lines a service printed."""

    def follow_logs(self, services: list[str], options: LogOptions) -> Iterator[str]:
        """The logs, line by line."""

    def oom_killed(self, container: str) -> bool:
        """Whether the kernel killed the container for memory."""

    def down(self, volumes: bool) -> None:
        """Stop and remove the containers (and the volumes, if asked)."""

    def container_on_port(self, port: int) -> str | None:
        """The running container publishing a host port, if any."""

    def pull(self, reference: str) -> None:
        """Pull one image."""

    def image_exists(self, reference: str) -> bool:
        """Whether the engine has an image locally."""

    def run_job(
        self, service: str, args: list[str], profiles: list[str], secrets: Mapping[str, str]
    ) -> int:
        """Run a job once on the user's terminal; its exit code."""

    def exec(self, service: str, command: list[str]) -> int:
        """Run a command in a running service on the user's terminal; its exit code."""


def real_engine(root: Path, profile: Profile) -> StackEngine:
    """The Docker engine, through python-on-whales (imported only when needed)."""
    from mlstack.run.engine import Engine

    return Engine(root, profile)


def in_a_thread(work: Callable[[], Any]) -> Future[Any]:
    """Run ``work`` in a daemon thread (Ctrl-C must not wait for ``docker compose up``)."""
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # handed to the waiting side, which reports it
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


@dataclass(frozen=True)
class Environment:
    """What the core reaches: the engine, the GPU scan, time, background work, health commands.

    ``connect`` is a factory (root, profile -> engine); ``check_inside`` runs a container's own
    health command now (None when it passes).
    """

    connect: Callable[[Path, Profile], StackEngine] = real_engine
    scan_gpus: Callable[[], GpuScan] = scan_gpus
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    in_background: Callable[[Callable[[], Any]], Future[Any]] = in_a_thread
    check_inside: Callable[[str], str | None] = run_health_command


REAL = Environment()
