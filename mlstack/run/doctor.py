"""``mlstack doctor``: every check of the machine against the stack, as records."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mlstack.errors import EngineError, MlstackError
from mlstack.layout import ENV_FILE, Profile
from mlstack.machine.docker_info import EngineInfo
from mlstack.render.compose_model import overlay
from mlstack.render.generate import Result, render_project
from mlstack.render.plan import Action
from mlstack.render.published import long_running, published_ports
from mlstack.run.checks import (
    FAIL,
    OK,
    Check,
    check_allow,
    check_compose,
    check_disk,
    check_engine,
    check_files,
    check_ports,
    check_shm,
    held_by_stack,
    images_of,
)
from mlstack.run.env_checks import check_unused_env, check_user_secrets
from mlstack.run.environment import REAL, Environment, StackEngine
from mlstack.run.gpu_host import host_checks
from mlstack.spec.catalog import load_catalog
from mlstack.spec.local import with_local

SPEC_CHECKS = ("gpu.driver", "gpu.runtime", "gpu.cuda", "shm", "ports", "disk")
NOT_CHECKED = "not checked: no valid mlstack.yaml here"


def run_doctor(root: Path, profile: Profile = Profile.DEV, env: Environment = REAL) -> list[Check]:
    """Run every check; never raises for what it finds (only the records say it)."""
    engine, info, version, checks = _engine_checks(root, profile, env)
    try:
        catalog = load_catalog(root)
        result = render_project(root, dry_run=True)
        with_local(result.spec, root, catalog)  # a bad mlstack.local.yaml is reported like the spec
    except MlstackError as exc:
        return (
            checks
            + [Check(i, OK, NOT_CHECKED) for i in SPEC_CHECKS]
            + [check_files(None, exc), Check("allow", OK, NOT_CHECKED)]
            + [Check("secrets", OK, NOT_CHECKED), Check("env", OK, NOT_CHECKED)]
        )
    spec, scan = with_local(result.spec, root, catalog), env.scan_gpus()
    ports = published_ports(root, spec, catalog, profile)
    states, container_on = {}, _no_container
    if engine is not None and info is not None and version is not None:
        states, container_on = engine.states(), engine.container_on_port
    missing = None
    if engine is not None and info is not None:
        images = images_of(spec, catalog, long_running(spec, catalog)).values()
        missing = 0 if all(engine.image_exists(i) for i in images if i != "build") else None
    decision, gpu = host_checks(spec, info, scan)  # optional: a GPU problem warns (CPU here)
    model = overlay(result.model.base, result.model.gpu) if decision.use_gpu else result.model.base
    return [
        *checks,
        *gpu,
        check_shm(model["services"]),
        check_ports(ports, held_by_stack(ports, states), container_on),
        check_disk(info.docker_root_dir if info else None, missing),
        _files(result),
        check_allow(spec),
        check_user_secrets(root, spec),
        check_unused_env(root, spec),
    ]


def _engine_checks(
    root: Path, profile: Profile, env: Environment
) -> tuple[StackEngine | None, EngineInfo | None, tuple[int, int, int] | None, list[Check]]:
    """The engine and Compose checks, and what they found for the checks after them."""
    engine, info, version, errors = None, None, None, {"engine": None, "compose": None}
    try:
        engine = env.connect(root, profile)
        info = engine.info()
        version = engine.compose_version()
    except EngineError as exc:
        errors["engine" if info is None else "compose"] = exc
    compose = (
        check_compose(version, errors["compose"])
        if info
        else Check(
            "compose", FAIL, "not checked: the engine is not reachable", "start the engine first"
        )
    )
    return engine, info, version, [check_engine(info, errors["engine"]), compose]


def _files(result: Result) -> Check:
    """Drift; a missing .env is a fresh clone's (git-ignored): ``up`` creates it, no fault."""
    fresh = [s for s in result.drift if s.file.path == ENV_FILE and s.action == Action.CREATE]
    check = check_files([step.file.path for step in result.drift if step not in fresh])
    if fresh and check.status == OK:
        found = f"{check.found}; no .env yet: `mlstack up` creates it with fresh secrets"
        return dataclasses.replace(check, found=found)
    return check


def _no_container(_: int) -> str | None:
    return None
