"""``mlstack doctor``: every check of the machine against the stack, as records."""

from __future__ import annotations

from pathlib import Path

from mlstack.errors import EngineError, MlstackError
from mlstack.machine.host import scan_gpus
from mlstack.render.published import long_running, published_ports
from mlstack.run.checks import (
    OK,
    Check,
    check_allow,
    check_compose,
    check_disk,
    check_engine,
    check_files,
    check_gpu_cuda,
    check_gpu_driver,
    check_gpu_runtime,
    check_ports,
    check_shm,
    images_of,
)
from mlstack.spec.catalog import load_catalog

SPEC_CHECKS = ("gpu.driver", "gpu.runtime", "gpu.cuda", "shm", "ports", "disk")
NOT_CHECKED = "not checked: no valid mlstack.yaml here"


def run_doctor(root: Path, profile: str = "dev") -> list[Check]:
    """Run every check; never raises for what it finds (only the records say it)."""
    from mlstack.render.generate import render_project
    from mlstack.run.engine import Engine

    engine, info, version, errors = None, None, None, {"engine": None, "compose": None}
    try:
        engine = Engine(root, profile)
        info = engine.info()
        version = engine.compose_version()
    except EngineError as exc:
        errors["engine" if info is None else "compose"] = exc
    checks = [check_engine(info, errors["engine"])]
    checks.append(
        check_compose(version, errors["compose"])
        if info
        else Check(
            "compose", "fail", "not checked: the engine is not reachable", "start the engine first"
        )
    )
    try:
        catalog = load_catalog(root)
        result = render_project(root, dry_run=True)
    except MlstackError as exc:
        return (
            checks
            + [Check(i, OK, NOT_CHECKED) for i in SPEC_CHECKS]
            + [check_files(None, exc), Check("allow", OK, NOT_CHECKED)]
        )
    spec = result.spec
    scan = scan_gpus()
    services = long_running(spec, catalog)
    ports = published_ports(root, spec, catalog, profile)
    states, container_on = {}, lambda _: None
    if engine is not None and info is not None and version is not None:
        states, container_on = engine.states(), engine.container_on_port
    own = {
        p.port: p.service
        for p in ports
        if states.get(p.service) and states[p.service].state == "running"
    }
    missing = None
    if engine is not None and info is not None:
        images = [i for i in images_of(spec, catalog, services).values() if i != "build"]
        missing = 0 if all(engine.image_exists(i) for i in images) else None
    checks += [
        check_gpu_driver(spec, scan),
        check_gpu_runtime(spec, info),
        check_gpu_cuda(spec, scan),
        check_shm(result.model.base["services"]),
        check_ports(ports, own, container_on),
        check_disk(info.docker_root_dir if info else None, missing),
        check_files([step.file.path for step in result.drift]),
        check_allow(spec),
    ]
    return checks
