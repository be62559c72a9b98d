"""Waiting for health: container health first, then a probe from the host, under one deadline.

The rules follow Compose's own (``convergence.go``): healthy -> probe, then done; starting or
created -> wait; unhealthy or exited -> fail at once; the deadline -> fail with what was seen last.
Clock, sleep and state reader are injected, so the rules are tested without an engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

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
) -> list[ServiceReport]:
    """Wait until every service is healthy and answers its probe, one fails, or time runs out.

    ``settled`` tells whether ``docker compose up`` has returned (True), failed (its error), or
    is still creating containers (False). Until it has, states may be those of containers about
    to be replaced, so they are shown but nothing is concluded from them.
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
                    probes,
                    urls,
                    pool,
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


def _conclude(
    services: list[str],
    states: dict[str, ServiceState],
    probes: dict[str, Probe],
    urls: dict[str, str],
    pool: ThreadPoolExecutor,
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
        elif verdict(state) == "ready":
            ready.append(name)
    to_probe = [n for n in ready if n in probes]
    errors = dict(zip(to_probe, pool.map(lambda n: run_probe(probes[n]), to_probe), strict=True))
    for name in ready:
        if errors.get(name):
            last_probe[name] = errors[name]
        else:
            done[name] = _report(name, states[name], urls, seconds=since(name))


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
