"""Running a stack: up (preflight, build, start, wait, report), status, down, logs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

from mlstack.cli import console
from mlstack.errors import EngineError, InputError, PreflightError, UnhealthyError
from mlstack.layout import ENV_FILE
from mlstack.render.disk import read_text
from mlstack.render.envfile import parse_env
from mlstack.render.generate import render_project
from mlstack.render.published import Published, long_running, published_ports
from mlstack.run.checks import (
    FAIL,
    Check,
    check_compose,
    check_engine,
    check_gpu_cuda,
    check_gpu_runtime,
    check_ports,
    images_of,
)
from mlstack.run.engine import Engine
from mlstack.run.health import wait_for
from mlstack.run.hints import hints_for
from mlstack.run.probes import Probe
from mlstack.run.records import ServiceReport, ServiceState
from mlstack.spec.catalog import Catalog, load_catalog
from mlstack.spec.stack_spec import StackSpec, load_spec


@dataclass(frozen=True)
class Stack:
    """A rendered stack directory, its spec and the engine for one profile."""

    root: Path
    spec: StackSpec
    catalog: Catalog
    engine: Engine
    profile: str


def open_stack(root: Path, profile: str, render: bool = False) -> Stack:
    """Load the stack (rendering first when asked: a fresh clone gets its .env here)."""
    catalog = load_catalog(root)
    if render:
        result = render_project(root)
        for step in result.steps:
            if step.writes:
                console.say(f"  {step}")
        spec = result.spec
    else:
        spec = load_spec(root, catalog)
    return Stack(root, spec, catalog, Engine(root, profile), profile)


def probes_and_urls(stack: Stack) -> tuple[dict[str, Probe], dict[str, str]]:
    """How to reach each published service from the host, and the URL to show."""
    secrets = parse_env(read_text(stack.root / ENV_FILE) or "")
    probes, urls = {}, {}
    for item in published_ports(stack.root, stack.spec, stack.catalog, stack.profile):
        frag = stack.catalog[item.service]
        host = item.address or "127.0.0.1"
        kind = frag.probe.get("kind", "tcp")
        secret = secrets.get("REDIS_PASSWORD", "") if kind == "redis" else ""
        probes[item.service] = Probe(kind, host, item.port, frag.probe.get("path", ""), secret)
        if frag.url:
            urls[item.service] = frag.url.format(port=item.port)
    return probes, urls


def own_ports(
    stack: Stack, ports: list[Published], states: dict[str, ServiceState]
) -> dict[int, str]:
    """Ports this stack's own running containers hold already (a second `up` is fine)."""
    return {
        p.port: p.service
        for p in ports
        if states.get(p.service) and states[p.service].state == "running"
    }


def preflight(stack: Stack, services: list[str]) -> list[Check]:
    """The checks that can stop `up`; raises PreflightError (nothing started) if one fails."""
    try:
        info, engine_error = stack.engine.info(), None
    except EngineError as exc:
        info, engine_error = None, exc
    checks = [check_engine(info, engine_error)]
    if info is None:
        raise PreflightError(_failed(checks))
    try:
        version, compose_error = stack.engine.compose_version(), None
    except EngineError as exc:
        version, compose_error = None, exc
    checks.append(check_compose(version, compose_error))
    if version is None:
        raise PreflightError(_failed(checks))
    ports = [
        p
        for p in published_ports(stack.root, stack.spec, stack.catalog, stack.profile)
        if p.service in services
    ]
    checks.append(
        check_ports(
            ports, own_ports(stack, ports, stack.engine.states()), stack.engine.container_on_port
        )
    )
    if any(stack.spec.uses_gpu(s) for s in services):
        from mlstack.machine.host import scan_gpus

        checks += [check_gpu_runtime(stack.spec, info), check_gpu_cuda(stack.spec, scan_gpus())]
    if any(c.status == FAIL for c in checks):
        raise PreflightError(_failed(checks))
    return checks


def _failed(checks: list[Check]) -> str:
    lines = [f"{c.id}: {c.found}\n  fix: {c.fix}" for c in checks if c.status == FAIL]
    return "preflight failed, nothing was started:\n" + "\n".join(lines)


def images_to_get(stack: Stack, services: list[str], build: bool) -> tuple[list[str], list[str]]:
    """The services whose image must be built, and the image references to pull."""
    to_build, to_pull = [], []
    for service, image in images_of(stack.spec, stack.catalog, services).items():
        if image == "build":
            if build or not stack.engine.image_exists(f"{stack.spec.name}-{service}"):
                to_build.append(service)
        elif not stack.engine.image_exists(image):
            to_pull.append(image)
    return to_build, to_pull


def up(
    root: Path, profile: str, build: bool, timeout: float, services: list[str]
) -> list[ServiceReport]:
    """Bring the stack up and prove every service healthy; raise UnhealthyError otherwise."""
    stack = open_stack(root, profile, render=True)
    targets = services or long_running(stack.spec, stack.catalog)
    unknown = [s for s in targets if s not in stack.spec.components]
    if unknown:
        raise InputError(
            "mlstack up",
            "--service",
            f"not in this stack: {', '.join(unknown)}",
            f"choose among: {', '.join(stack.spec.components)}",
        )
    for check in preflight(stack, targets):
        if check.status != "ok":
            console.say(f"warning: {check.id}: {check.found}\n  fix: {check.fix}")
    to_build, to_pull = images_to_get(stack, targets, build)
    if to_pull:
        console.say(f"pulling: {', '.join(to_pull)}")
        for image in to_pull:
            stack.engine.pull(image)
    if to_build:
        console.say(f"building: {', '.join(to_build)} (this can take minutes the first time)")
        stack.engine.compose(
            "build",
            *to_build,
            what="docker compose build failed",
            fix="read the build output above; `mlstack validate` checks the files",
        )
    return _start_and_wait(stack, targets, timeout)


def _start_and_wait(stack: Stack, targets: list[str], timeout: float) -> list[ServiceReport]:
    failure: list[str] = []

    def start() -> None:
        try:
            stack.engine.up(targets, build=False)
        except EngineError as exc:
            failure.append(exc.message)

    starter = threading.Thread(target=start, daemon=True)
    starter.start()
    probes, urls = probes_and_urls(stack)
    console.say(f"starting {', '.join(targets)} ({stack.profile}); waiting up to {timeout:.0f}s")
    try:
        with console.Progress(targets) as progress:
            reports = wait_for(
                targets,
                stack.engine.states,
                probes,
                urls,
                timeout,
                on_tick=progress.tick,
                settled=lambda: (
                    (failure[0] if failure else True) if not starter.is_alive() else False
                ),
            )
    except KeyboardInterrupt:
        console.say("\nstopped waiting. Running now:")
        console.out.print(console.health_table(status_reports(stack)))
        console.say("`mlstack status` shows them; `mlstack down` stops them.")
        raise
    return _finish(stack, reports)


def _finish(stack: Stack, reports: list[ServiceReport]) -> list[ServiceReport]:
    console.out.print(console.health_table(reports, f"{stack.spec.name} ({stack.profile})"))
    failed = [r for r in reports if not r.ok]
    for report in failed:
        logs = stack.engine.logs(report.service)
        oom = bool(report.container) and stack.engine.oom_killed(report.container)
        console.print_failure(report, logs, hints_for(logs, report.exit_code, oom))
    if failed:
        raise UnhealthyError(
            f"{len(failed)} of {len(reports)} services are not healthy: "
            f"{', '.join(r.service for r in failed)}"
        )
    return reports


def status_reports(stack: Stack) -> list[ServiceReport]:
    """The state of every service now, probed once from the host; no waiting."""
    states = stack.engine.states()
    probes, urls = probes_and_urls(stack)
    services = long_running(stack.spec, stack.catalog)
    reports = wait_for(services, lambda: states, probes, urls, timeout=0, sleep=lambda _: None)
    return [replace(r, seconds=None) for r in reports]


def status(root: Path, profile: str) -> tuple[StackSpec, list[ServiceReport]]:
    """`mlstack status`: the table's records."""
    from mlstack.run.swarm import deployed_reports

    stack = open_stack(root, profile)
    on_swarm = deployed_reports(stack)  # None unless this stack is deployed on this Swarm
    return stack.spec, status_reports(stack) if on_swarm is None else on_swarm


def status_json(spec: StackSpec, profile: str, reports: list[ServiceReport]) -> dict:
    """The stable JSON of `mlstack status --json` (documented in README.md)."""
    return {
        "project": spec.name,
        "profile": profile,
        "healthy": all(r.ok for r in reports),
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


def down(root: Path, volumes: bool) -> None:
    """Stop the stack; the named volumes (the data) stay unless ``volumes``."""
    open_stack(root, "dev").engine.down(volumes)


def logs(root: Path, service: str | None, follow: bool) -> None:
    """Print (or follow) the logs."""
    open_stack(root, "dev").engine.follow_logs(service, follow)
