"""Waiting for health: container health first, then a probe from the host, under one deadline.

The rules follow Compose's own (``convergence.go``): healthy -> probe, then done; starting or
created -> wait; unhealthy or exited -> fail at once; the deadline -> fail with what was seen last.
One rule of mlstack's own: a running container whose health is still ``starting`` is healthy as
soon as mlstack's own check passes (the host probe, else the container's health command run now).
Docker runs a steady service's check only every 30 s (cheap at rest); without this, ``up`` would
wait for that first check. Clock, sleep, state reader and checks are injected (no engine needed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from mlstack.run.probes import Probe, run_probe
from mlstack.run.records import ServiceReport, ServiceState

POLL_SECONDS = 0.5


def verdict(state: ServiceState | None) -> str:
    """``ready``, ``wait`` or ``fail`` for one container state."""
    if state is None or state.state in ("created", "restarting") or state.health == "starting":
        return "wait"
    if state.state != "running" or state.health == "unhealthy":
        return "fail"
    return "ready"


def failure_text(state: ServiceState) -> str:
    """Why a container failed, in Docker's words."""
    if state.health == "unhealthy":
        return "its health check fails (container unhealthy)"
    return f"container {state.state} (exit code {state.exit_code})"


def wait_for(
    services: list[str],
    read_states: Callable[[], dict[str, ServiceState]],
    probes: dict[str, Probe],
    urls: dict[str, str],
    timeout: float,
    on_tick: Callable[[dict[str, ServiceState], dict[str, ServiceReport], float], None]
    | None = None,
    settled: Callable[[], str | bool | None] = lambda: True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    check_inside: Callable[[str], str | None] | None = None,
) -> list[ServiceReport]:
    """Wait until every service is healthy and answers its probe, one fails, or time runs out.

    ``settled`` tells whether ``docker compose up`` has returned (True), failed (its error), or
    is still creating containers (False). Until it has, states may be those of containers about
    to be replaced, so they are shown but nothing is concluded from them. ``check_inside`` runs
    a container's own health command now (None: it passed), for a starting service that has
    no host probe.
    """
    start = clock()
    done: dict[str, ServiceReport] = {}
    last_probe: dict[str, str] = {}
    first_healthy: dict[str, float] = {}
    starting: set[str] = set()
    states: dict[str, ServiceState] = {}
    stopped: str | None = None
    with ThreadPoolExecutor(max_workers=max(1, len(probes))) as pool:
        while True:
            outcome = settled()
            stopped = outcome if isinstance(outcome, str) else None
            states = read_states()
            now = clock() - start
            for name, state in states.items():
                if verdict(state) == "wait":
                    starting.add(name)
                elif name in starting and verdict(state) == "ready":
                    first_healthy.setdefault(name, now)
            if outcome:
                _conclude(
                    services,
                    states,
                    _Checks(probes, check_inside, pool),
                    urls,
                    done,
                    last_probe,
                    lambda n, now=now: first_healthy.get(n, now),
                )
            if on_tick:
                on_tick(states, done, now)
            if len(done) == len(services) or now >= timeout or stopped:
                break
            sleep(POLL_SECONDS)
    for name in services:
        if name not in done:
            done[name] = _unfinished(
                name, states.get(name), urls, last_probe.get(name), timeout, stopped
            )
    return [done[name] for name in services]


class _Checks:
    """mlstack's own checks of a service, run in parallel: the host probe, else the inside one."""

    def __init__(
        self,
        probes: dict[str, Probe],
        inside: Callable[[str], str | None] | None,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.probes, self.inside, self.pool = probes, inside, pool

    def can_check(self, name: str) -> bool:
        """Whether a starting service can be proven healthy before Docker's first check."""
        return name in self.probes or self.inside is not None

    def run(self, names: list[str], states: dict[str, ServiceState]) -> dict[str, str | None]:
        """Each name's error (None: it passed); a ready service without a probe passes."""

        def one(name: str) -> str | None:
            if name in self.probes:
                return run_probe(self.probes[name])
            if states[name].health == "starting" and self.inside:
                return self.inside(states[name].container)
            return None

        return dict(zip(names, self.pool.map(one, names), strict=True))


def _starting(state: ServiceState | None) -> bool:
    return state is not None and state.state == "running" and state.health == "starting"


def _conclude(
    services: list[str],
    states: dict[str, ServiceState],
    checks: _Checks,
    urls: dict[str, str],
    done: dict[str, ServiceReport],
    last_probe: dict[str, str],
    since: Callable[[str], float],
) -> None:
    """Record every service whose container failed, or is healthy and answers its probe."""
    ready = []
    for name in services:
        state = states.get(name)
        if name in done:
            continue
        if verdict(state) == "fail":
            done[name] = _report(name, state, urls, problem=failure_text(state))
        elif verdict(state) == "ready" or (_starting(state) and checks.can_check(name)):
            ready.append(name)
    for name, error in checks.run(ready, states).items():
        if error:
            last_probe[name] = error
        else:
            healthy = replace(states[name], health="healthy") if _starting(states[name]) else None
            done[name] = _report(name, healthy or states[name], urls, seconds=since(name))


def _unfinished(
    name: str,
    seen: ServiceState | None,
    urls: dict[str, str],
    probe_error: str | None,
    timeout: float,
    stopped: str | None,
) -> ServiceReport:
    why = probe_error or (f"still {seen.health or seen.state}" if seen else "not running")
    if stopped:
        problem = f"not started: {stopped}"
    else:
        problem = f"not healthy after {timeout:.0f}s: {why}" if timeout > 0 else why
    return _report(name, seen, urls, problem=problem)


def _report(
    name: str,
    state: ServiceState | None,
    urls: dict[str, str],
    seconds: float | None = None,
    problem: str = "",
) -> ServiceReport:
    return ServiceReport(
        service=name,
        state=state.state if state else "missing",
        health=(state.health or "no check") if state else "-",
        url=urls.get(name, ""),
        seconds=seconds,
        problem=problem,
        exit_code=state.exit_code if state else None,
        container=state.container if state else "",
    )
