"""Before ``up`` starts anything: the checks that can stop it, and the images to get.

A failed check raises PreflightError with every check as a record; nothing has been started.
"""

from __future__ import annotations

from collections.abc import Callable

from mlstack.errors import EngineError, PreflightError
from mlstack.machine.docker_info import EngineInfo
from mlstack.machine.host import GpuScan
from mlstack.render.published import published_ports
from mlstack.run.checks import (
    FAIL,
    Check,
    check_compose,
    check_engine,
    check_ports,
    held_by_stack,
    images_of,
)
from mlstack.run.env_checks import check_user_secrets, user_secrets
from mlstack.run.gpu_host import GpuDecision, decide, host_checks
from mlstack.run.neighbours import check_project
from mlstack.run.records import ServiceState
from mlstack.run.stack import Stack


def preflight(
    stack: Stack,
    services: list[str],
    scan_gpus: Callable[[], GpuScan],
    states: dict[str, ServiceState] | None = None,
) -> tuple[list[Check], GpuDecision, EngineInfo]:
    """The checks that can stop ``up``, this host's GPU decision, and the engine's facts.

    Raises PreflightError (nothing started) if a check fails: a GPU check fails only when the
    stack's ``gpu.mode`` is required (optional: the GPU services run on CPU here).
    ``states``: the containers' states when the caller has just read them (else read here).
    """
    try:
        info, engine_error = stack.engine.info(), None
    except EngineError as exc:
        info, engine_error = None, exc
    checks = [check_engine(info, engine_error)]
    if info is None:
        raise PreflightError(checks)
    try:
        version, compose_error = stack.engine.compose_version(), None
    except EngineError as exc:
        version, compose_error = None, exc
    checks.append(check_compose(version, compose_error))
    if version is None:
        raise PreflightError(checks)
    ports = [
        p
        for p in published_ports(stack.root, stack.spec, stack.catalog, stack.profile)
        if p.service in services
    ]
    states = stack.engine.states() if states is None else states
    checks.append(check_project(stack.root, states))
    own = held_by_stack(ports, states)
    checks.append(check_ports(ports, own, stack.engine.container_on_port))
    secrets = check_user_secrets(stack.root, stack.spec, services)  # or the shell replaces
    if user_secrets(stack.spec, services) or secrets.status == FAIL:
        checks.append(secrets)
    decision = decide(stack.spec, [])
    if any(stack.spec.uses_gpu(s) for s in services):
        decision, gpu = host_checks(stack.spec, info, scan_gpus())
        checks += gpu
    if any(c.status == FAIL for c in checks):
        raise PreflightError(checks)
    return checks, decision, info


def images_to_get(stack: Stack, services: list[str], build: bool) -> tuple[list[str], list[str]]:
    """The services whose image must be built, and the image references to pull."""
    to_build, to_pull = [], []
    for service, image in images_of(stack.spec, stack.catalog, services).items():
        if image == "build":
            if build or not stack.engine.image_exists(f"{stack.project}-{service}"):
                to_build.append(service)
        elif not stack.engine.image_exists(image):
            to_pull.append(image)
    return to_build, to_pull
