"""A scripted engine and clock for unit tests of operate and doctor (no Docker, milliseconds).

``FakeEngine`` answers what a test scripts: ``docker info`` (a recorded one by default), the
Compose version, container states frame by frame, logs, local images, who holds a port; and it
records what it was asked to do. ``fake_environment`` hands it to the core as the real engine is
handed in production: through ``Environment.connect``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from helpers import RECORDED

from mlstack.errors import EngineError
from mlstack.layout import Profile
from mlstack.machine.docker_info import EngineInfo, parse_docker_info
from mlstack.machine.host import GpuScan
from mlstack.run.environment import Environment
from mlstack.run.records import LogOptions, ServiceState

NO_GPU_HOST = GpuScan((), "nvidia-smi is not installed (fake host)")


def recorded_info(name: str = "docker-info-20.10.24.json") -> EngineInfo:
    """``docker info`` as a real engine printed it."""
    return parse_docker_info(json.loads((RECORDED / name).read_text()))


def state(
    service: str, st: str = "running", health: str = "healthy", code: int | None = 0
) -> ServiceState:
    """One container of project ``t``, as ``docker compose ps`` reports it."""
    return ServiceState(service, f"t-{service}-1", st, health, code)


class Clock:
    """A clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run_now(work: Callable[[], Any]) -> Future[Any]:
    """Background work, done before returning: ``compose up`` has returned when waiting starts."""
    future: Future[Any] = Future()
    try:
        future.set_result(work())
    except Exception as exc:
        future.set_exception(exc)
    return future


class FakeEngine:
    """An engine whose answers are scripted, and which records the calls that change things."""

    def __init__(
        self,
        *,
        info: EngineInfo | EngineError | None = None,
        compose_version: tuple[int, int, int] | EngineError = (2, 40, 3),
        frames: list[dict[str, ServiceState]] | None = None,
        logs: dict[str, str] | None = None,
        images: set[str] | None = None,
        on_port: dict[int, str] | None = None,
        oom: set[str] | None = None,
        passing_inside: set[str] | None = None,
    ) -> None:
        self._info = info if info is not None else recorded_info()
        self._version = compose_version
        self.frames = list(frames or [{}])
        self._logs = logs or {}
        self.images = set(images or ())
        self.on_port = on_port or {}
        self.oom = oom or set()
        self.passing_inside = passing_inside or set()
        self.calls: list[tuple[Any, ...]] = []
        self.exit_code = 0  # what a job or an exec'd command returns
        self.profiles: list[Profile] = []

    def connect(self, root: Path, profile: Profile) -> FakeEngine:
        """The factory the core calls (``Environment.connect``)."""
        self.profiles.append(profile)
        return self

    def info(self) -> EngineInfo:
        if isinstance(self._info, EngineError):
            raise self._info
        return self._info

    def compose_version(self) -> tuple[int, int, int]:
        if isinstance(self._version, EngineError):
            raise self._version
        return self._version

    def add_files(self, names: tuple[str, ...]) -> None:
        self.calls.append(("add_files", *names))

    def compose(self, *args: str, what: str, fix: str = "") -> str:
        self.calls.append(("compose", *args))
        return ""

    def build(self, services: list[str], secrets: Mapping[str, str]) -> None:
        self.calls.append(("compose", "build", *services))

    def up(self, services: list[str], build: bool) -> None:
        self.calls.append(("up", tuple(services)))

    def states(self) -> dict[str, ServiceState]:
        """Each call the next frame; the last one forever."""
        return self.frames.pop(0) if len(self.frames) > 1 else self.frames[0]

    def logs(self, service: str, tail: int = 30) -> str:
        return self._logs.get(service, "")

    def follow_logs(self, services: list[str], options: LogOptions) -> Iterator[str]:
        self.calls.append(("logs", tuple(services), options))
        for name, text in self._logs.items():
            if not services or name in services:
                yield from text.splitlines(keepends=True)

    def oom_killed(self, container: str) -> bool:
        return container in self.oom

    def down(self, volumes: bool) -> None:
        self.calls.append(("down", volumes))

    def container_on_port(self, port: int) -> str | None:
        return self.on_port.get(port)

    def pull(self, reference: str) -> None:
        self.calls.append(("pull", reference))
        self.images.add(reference)

    def image_exists(self, reference: str) -> bool:
        return reference in self.images

    def run_job(
        self, service: str, args: list[str], profiles: list[str], secrets: Mapping[str, str]
    ) -> int:
        self.calls.append(("run", service, tuple(args), tuple(profiles), tuple(sorted(secrets))))
        return self.exit_code

    def exec(self, service: str, command: list[str]) -> int:
        self.calls.append(("exec", service, tuple(command)))
        return self.exit_code

    def check_inside(self, container: str) -> str | None:
        """A container's own health command, as scripted (``passing_inside``: those that pass)."""
        return None if container in self.passing_inside else "its health command exits 1"


def fake_environment(
    engine: FakeEngine, clock: Clock | None = None, scan: GpuScan = NO_GPU_HOST
) -> Environment:
    """The core's environment with ``engine``, a fake clock and a GPU scan; no thread, no Docker."""
    clock = clock or Clock()
    return Environment(
        connect=engine.connect,
        scan_gpus=lambda: scan,
        clock=clock,
        sleep=clock.sleep,
        in_background=run_now,
        check_inside=engine.check_inside,
    )
