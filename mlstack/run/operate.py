"""Running a stack: up (preflight, build, start, wait, report), status, down, logs.

Nothing here prints: ``up`` hands events to a callback (``mlstack.run.events``), the others
return records or lines, and the CLI shows them. The engine, GPU scan and clock come from an
``Environment`` (the real machine unless a test passes another).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

from mlstack.errors import EngineError, InputError, UnhealthyError
from mlstack.layout import ENV_FILE, Profile
from mlstack.machine.docker_info import supports_start_interval
from mlstack.render.envfile import build_secret_values, parse_env
from mlstack.render.published import long_running, published_ports
from mlstack.run import events
from mlstack.run.environment import REAL, Environment
from mlstack.run.events import OnEvent
from mlstack.run.gpu_host import GpuDecision, decide, host_checks
from mlstack.run.health import wait_for
from mlstack.run.hints import hints_for
from mlstack.run.local_compose import machine_files
from mlstack.run.neighbours import refuse_other_checkout
from mlstack.run.preflight import images_to_get, preflight
from mlstack.run.probes import Probe
from mlstack.run.records import LogOptions, ServiceReport, ServiceState
from mlstack.run.stack import Stack, open_stack
from mlstack.run.unchanged import already_up
from mlstack.spec import contain
from mlstack.spec.placeholders import fill
from mlstack.spec.stack_spec import StackSpec


def probes_and_urls(stack: Stack) -> tuple[dict[str, Probe], dict[str, str]]:
    """How to reach each published service from the host, and the URL to show."""
    secrets = parse_env(contain.read_text(stack.root, ENV_FILE) or "")
    probes, urls = {}, {}
    for item in published_ports(stack.root, stack.spec, stack.catalog, stack.profile):
        if item.container is not None:  # an extra port (services.<name>.ports): not probed
            continue
        frag = stack.catalog[item.service]
        host = item.address or "127.0.0.1"
        kind = frag.probe.get("kind", "tcp")
        secret = secrets.get("REDIS_PASSWORD", "") if kind == "redis" else ""
        probes[item.service] = Probe(kind, host, item.port, frag.probe.get("path", ""), secret)
        if frag.url:
            urls[item.service] = fill(frag.url, {"port": item.port})
    return probes, urls


def up(
    root: Path,
    profile: Profile,
    build: bool,
    timeout: float,
    services: list[str],
    on_event: OnEvent = events.ignore,
    env: Environment = REAL,
) -> list[ServiceReport]:
    """Bring the stack up and prove every service healthy; raise UnhealthyError otherwise."""
    stack = open_stack(root, profile, env, render=True, on_event=on_event)
    targets = services or long_running(stack.spec, stack.catalog)
    unknown = [s for s in targets if s not in stack.spec.components]
    if unknown:
        raise InputError(
            "mlstack up",
            "--service",
            f"not in this stack: {', '.join(unknown)}",
            f"choose among: {', '.join(stack.spec.components)}",
        )
    states = _states_or_none(stack)
    if not build and states is not None:
        reports = _probe_if_unchanged(stack, states, targets, on_event, env)
        if reports is not None:
            return reports
    checks, gpu, info = preflight(stack, targets, env.scan_gpus, states)
    for check in checks:
        if check.status != "ok":
            on_event(events.CheckWarning(check))
    if gpu.services:
        on_event(events.GpuDecided(gpu))
    # compose.gpu.yaml, compose.local.yaml (with start_interval where the engine has it)
    files = machine_files(stack, gpu.compose_files, supports_start_interval(info))
    if files:
        stack.engine.add_files(files)
    _get_images(stack, targets, build, on_event)
    return _start_and_wait(stack, targets, timeout, on_event, env)


def _states_or_none(stack: Stack) -> dict[str, ServiceState] | None:
    """The containers now; None where the engine does not answer (the preflight says why)."""
    try:
        return stack.engine.states()
    except EngineError:
        return None


def _probe_if_unchanged(
    stack: Stack,
    states: dict[str, ServiceState],
    targets: list[str],
    on_event: OnEvent,
    env: Environment,
) -> list[ServiceReport] | None:
    """The reports of a stack already up from unchanged files, probed once; else None."""
    if not already_up(states, targets, stack.root, stack.profile):
        return None
    probes, urls = probes_and_urls(stack)
    inside = env.check_inside
    reports = wait_for(targets, lambda: states, probes, urls, 0, check_inside=inside)
    reports = [replace(r, seconds=None) for r in reports]
    if not all(r.ok for r in reports):
        return None
    on_event(events.Reported(f"{stack.spec.name} ({stack.profile})", tuple(reports)))
    return reports


def _get_images(stack: Stack, targets: list[str], build: bool, on_event: OnEvent) -> None:
    to_build, to_pull = images_to_get(stack, targets, build)
    if to_pull:
        on_event(events.Pulling(tuple(to_pull)))
        for image in to_pull:
            stack.engine.pull(image)
    if to_build:
        on_event(events.Building(tuple(to_build)))
        env = parse_env(contain.read_text(stack.root, ENV_FILE) or "")
        stack.engine.build(to_build, build_secret_values(stack.spec, env))


def _start_and_wait(
    stack: Stack, targets: list[str], timeout: float, on_event: OnEvent, env: Environment
) -> list[ServiceReport]:
    """Start in the background and watch meanwhile; until compose returns, nothing is concluded."""
    started = env.in_background(lambda: stack.engine.up(targets, build=False))
    probes, urls = probes_and_urls(stack)
    on_event(events.Starting(tuple(targets), str(stack.profile), timeout))
    try:
        reports = wait_for(
            targets,
            stack.engine.states,
            probes,
            urls,
            timeout,
            on_tick=lambda states, done, elapsed: on_event(events.Tick(states, done, elapsed)),
            settled=lambda: _settled(started),
            clock=env.clock,
            sleep=env.sleep,
            check_inside=env.check_inside,
        )
    except KeyboardInterrupt:
        on_event(events.Interrupted(tuple(status_reports(stack))))
        raise
    return _finish(stack, reports, on_event)


def _settled(started: Future[None]) -> str | bool:
    """False while ``docker compose up`` runs; then True, or its error."""
    if not started.done():
        return False
    error = started.exception()
    if error is None:
        return True
    if isinstance(error, EngineError):
        return error.message
    raise error


def _finish(stack: Stack, reports: list[ServiceReport], on_event: OnEvent) -> list[ServiceReport]:
    on_event(events.Reported(f"{stack.spec.name} ({stack.profile})", tuple(reports)))
    failed = [r for r in reports if not r.ok]
    for report in failed:
        logs = stack.engine.logs(report.service)
        oom = bool(report.container) and stack.engine.oom_killed(report.container)
        on_event(events.Failed(report, logs, tuple(hints_for(logs, report.exit_code, oom))))
    if failed:
        raise UnhealthyError(
            f"{len(failed)} of {len(reports)} services are not healthy: "
            f"{', '.join(r.service for r in failed)}",
            reports,
        )
    return reports


def status_reports(
    stack: Stack,
    check_inside: Callable[[str], str | None] | None = None,
    states: dict[str, ServiceState] | None = None,
) -> list[ServiceReport]:
    """The state of every service now, probed once from the host (or inside); no waiting."""
    states = stack.engine.states() if states is None else states
    probes, urls = probes_and_urls(stack)
    services = long_running(stack.spec, stack.catalog)
    reports = wait_for(
        services, lambda: states, probes, urls, 0, sleep=lambda _: None, check_inside=check_inside
    )
    return [replace(r, seconds=None) for r in reports]


def current_reports(stack: Stack, env: Environment) -> list[ServiceReport]:
    """Compose's containers where there are any; else the Swarm's services, where deployed.

    Compose's are read first: one ``docker ps``, and no Swarm call for the common case.
    """
    states = stack.engine.states()
    if not states:
        from mlstack.run.swarm import deployed_reports  # the export model: only when needed

        on_swarm = deployed_reports(stack)
        if on_swarm is not None:
            return on_swarm
    return status_reports(stack, env.check_inside, states)


def status(
    root: Path, profile: Profile, env: Environment = REAL
) -> tuple[StackSpec, list[ServiceReport], GpuDecision]:
    """`mlstack status`: the table's records, and this host's GPU decision."""
    stack = open_stack(root, profile, env)
    return stack.spec, current_reports(stack, env), host_decision(stack, env)


def host_decision(stack: Stack, env: Environment) -> GpuDecision:
    """Whether this host runs the stack's GPU services on a GPU (the checks of doctor)."""
    if not stack.spec.gpu:
        return decide(stack.spec, [])
    try:
        info = stack.engine.info()
    except EngineError:
        info = None
    return host_checks(stack.spec, info, env.scan_gpus())[0]


def status_json(
    spec: StackSpec,
    profile: Profile,
    reports: list[ServiceReport],
    gpu: GpuDecision | None = None,
) -> dict:
    """The stable JSON of `mlstack status --json` (documented in README.md)."""
    return {
        "project": spec.name,
        "profile": str(profile),
        "healthy": all(r.ok for r in reports),
        "gpu": gpu.as_dict() if gpu else None,
        "services": [
            {
                "service": r.service,
                "state": r.state,
                "health": r.health,
                "ok": r.ok,
                "url": r.url or None,
                "exit_code": r.exit_code,
                "container": r.container or None,
                "problem": r.problem or None,
            }
            for r in reports
        ],
    }


def down(root: Path, volumes: bool, env: Environment = REAL) -> None:
    """Stop the stack; the named volumes (the data) stay unless ``volumes``.

    Only this checkout's: a project another checkout runs is refused, not stopped.
    """
    engine = open_stack(root, Profile.DEV, env).engine
    refuse_other_checkout(root, engine.states(), "mlstack down")
    engine.down(volumes)


def logs(
    root: Path,
    services: str | list[str] | None,
    follow: bool = False,
    env: Environment = REAL,
    options: LogOptions | None = None,
) -> Iterator[str]:
    """The logs, line by line (``follow``: until the user stops it); unknown services refused."""
    stack = open_stack(root, Profile.DEV, env)
    names = [services] if isinstance(services, str) else list(services or [])
    unknown = [s for s in names if s not in stack.spec.components]
    if unknown:
        raise InputError(
            "mlstack logs",
            "SERVICE",
            f"not in this stack: {', '.join(unknown)}",
            f"choose among: {', '.join(stack.spec.components)}",
        )
    return stack.engine.follow_logs(names, options or LogOptions(follow=follow))
