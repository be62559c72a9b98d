"""The doctor's checks: each looks at one thing and returns a record with what it found and the fix.

``mlstack doctor`` runs them all; ``mlstack up`` runs the ones that can stop it, before starting
anything. Each check gets what it needs as arguments and never raises.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from mlstack.errors import MlstackError
from mlstack.machine.docker_info import EngineInfo, has_nvidia_runtime
from mlstack.machine.host import GpuScan, port_holder, port_is_free
from mlstack.render.compose_model import image_ref, port_variable
from mlstack.render.published import Published
from mlstack.run.gpu_ids import absent_gpus
from mlstack.run.records import ServiceState
from mlstack.spec.catalog import Catalog
from mlstack.spec.stack_spec import StackSpec, size_in_bytes

OK, WARN, FAIL = "ok", "warn", "fail"
GIB = 1024**3
SHM_DEFAULT = 64 * 1024**2
HOOKS = ("nvidia-container-runtime-hook", "nvidia-cdi-hook")


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ok, warn or fail; ``fix`` says what to do when not ok."""

    id: str
    status: str
    found: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        """The stable JSON form (README: mlstack doctor --json)."""
        return asdict(self)


def failed_check(check_id: str, error: MlstackError | None, fix: str = "") -> Check:
    """A failed check that reports an error record: its problem, and its fix."""
    if error is None:
        return Check(check_id, FAIL, "not checked", fix)
    return Check(check_id, FAIL, error.message, error.fix or fix)


def check_engine(info: EngineInfo | None, error: MlstackError | None = None) -> Check:
    """The Docker engine answers, and its version."""
    if info is None:
        return failed_check("engine", error)
    return Check("engine", OK, f"Docker Engine {info.server_version} ({info.os or 'unknown OS'})")


def check_compose(version: tuple[int, int, int] | None, error: MlstackError | None = None) -> Check:
    """Compose v2 or later is installed (2.x and 5.x both exist)."""
    if version is None:
        return failed_check("compose", error)
    text = ".".join(map(str, version))
    if version < (2, 20, 0):
        return Check(
            "compose",
            WARN,
            f"Docker Compose {text} (older than 2.20)",
            "upgrade Compose: mlstack's files use features of 2.20 and later",
        )
    return Check("compose", OK, f"Docker Compose {text}")


def gpu_services(spec: StackSpec) -> list[str]:
    """The services of the stack that ask for a GPU."""
    return sorted(spec.gpu)


def check_gpu_driver(spec: StackSpec, scan: GpuScan) -> Check:
    """nvidia-smi answers with the GPUs the stack asks for."""
    wanted = gpu_services(spec)
    listed = ", ".join(f"{g.index}: {g.name} ({g.memory_mib or '?'} MiB)" for g in scan.gpus)
    if not wanted:
        found = f"no GPU service in this stack; host: {listed or scan.reason}"
        return Check("gpu.driver", OK, found)
    if not scan.gpus:
        return Check(
            "gpu.driver",
            FAIL,
            f"{', '.join(wanted)} ask for a GPU, but {scan.reason}",
            "install the NVIDIA driver, or set `gpu: {devices: none}` in mlstack.yaml",
        )
    absent = absent_gpus(spec, scan)
    if absent:
        fix = "in mlstack.yaml set gpu.devices (and gpu.services) to ids this host has, or `all`"
        return Check("gpu.driver", FAIL, f"{absent}; host: {listed}", fix)
    return Check("gpu.driver", OK, f"driver {scan.driver}; {listed}")


def check_gpu_runtime(spec: StackSpec, info: EngineInfo | None) -> Check:
    """Docker can hand GPUs to containers: the nvidia runtime, CDI devices or the hooks."""
    wanted = gpu_services(spec)
    hooks = [h for h in HOOKS if shutil.which(h)]
    seen = []
    if info is not None:
        seen = [f"runtimes: {', '.join(info.runtimes) or 'none'}"]
        if info.discovered_devices:
            seen.append(f"CDI devices: {', '.join(info.discovered_devices)}")
        if info.cdi_spec_dirs:
            seen.append(f"CDI spec dirs: {', '.join(info.cdi_spec_dirs)}")
    seen.append(f"hooks on PATH: {', '.join(hooks) or 'none'}")
    found = "; ".join(seen)
    if not wanted:
        return Check("gpu.runtime", OK, f"no GPU service in this stack; {found}")
    if (info is not None and has_nvidia_runtime(info)) or hooks:
        return Check("gpu.runtime", OK, found)
    return Check(
        "gpu.runtime",
        FAIL,
        f"{', '.join(wanted)} ask for a GPU, but Docker has no NVIDIA runtime ({found})",
        "install the NVIDIA Container Toolkit, run `sudo nvidia-ctk runtime configure "
        "--runtime=docker` and restart Docker; or set `gpu: {devices: none}`",
    )


def check_gpu_cuda(spec: StackSpec, scan: GpuScan) -> Check:
    """The host driver runs the CUDA of the stack's GPU images (NVIDIA's driver table)."""
    from mlstack.machine.cuda import check_driver

    if not gpu_services(spec):
        return Check("gpu.cuda", OK, "no GPU service in this stack")
    if scan.driver is None:
        return Check(
            "gpu.cuda",
            FAIL,
            f"cannot check CUDA {spec.cuda}: {scan.reason}",
            "install the NVIDIA driver, or set `gpu: {devices: none}`",
        )
    verdict = check_driver(scan.driver, spec.cuda)
    status = {"native": OK, "minor": WARN, "unsupported": FAIL}[verdict.status]
    fix = (
        ""
        if status == OK
        else (
            f"update the NVIDIA driver to >= {verdict.needed_driver}, or "
            "set `cuda:` in mlstack.yaml to a version it runs natively"
        )
    )
    return Check("gpu.cuda", status, verdict.message, fix)


def check_shm(services: dict[str, dict]) -> Check:
    """GPU, training and notebook services get more than Docker's 64 MB ``/dev/shm``.

    ``services`` is the base compose model, so a hand edit is judged too.
    """
    gpu = {
        n
        for n, s in services.items()
        if s.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices")
    }
    sized = {n: s["shm_size"] for n, s in services.items() if "shm_size" in s}
    bare = sorted(gpu - set(sized))
    if bare:
        return Check(
            "shm",
            WARN,
            f"{', '.join(bare)} use a GPU with Docker's 64 MB /dev/shm",
            "set shm_size in mlstack.yaml (e.g. 8gb), then `mlstack render`",
        )
    if not sized:
        return Check("shm", OK, "no GPU, training or notebook service in this stack")
    found = ", ".join(f"{n}: {size}" for n, size in sorted(sized.items()))
    small = [
        n
        for n, size in sized.items()
        if size_in_bytes(str(size)) <= SHM_DEFAULT or (n in gpu and size_in_bytes(str(size)) < GIB)
    ]
    if small:
        return Check(
            "shm",
            WARN,
            f"shm_size {found} (PyTorch DataLoader workers die with "
            "'Bus error' when it is too small)",
            "set shm_size: 8gb in mlstack.yaml, then `mlstack render`",
        )
    return Check("shm", OK, f"shm_size {found}")


def held_by_stack(ports: list[Published], states: dict[str, ServiceState]) -> dict[int, str]:
    """Host ports this stack's own running containers hold already (a second ``up`` is fine).

    ``states`` is keyed by compose service name, which is the component's name as written
    (``my-comp``), not its port variable (``MY_COMP_HOST_PORT``).
    """
    return {
        p.port: p.service
        for p in ports
        if p.service in states and states[p.service].state == "running"
    }


def check_ports(
    ports: list[Published],
    own: dict[int, str],
    container_on: Callable[[int], str | None] = lambda _: None,
) -> Check:
    """Every host port the profile publishes is free, or held by this stack already.

    A port Docker publishes for another container is named by that container (its process is
    only Docker's proxy); any other holder by its process, read from /proc.
    """
    held = []
    for item in ports:
        if item.port in own or port_is_free(item.port, item.address or "0.0.0.0"):
            continue
        holder = container_on(item.port)
        holder = f"container {holder}" if holder else port_holder(item.port) or "another process"
        held.append(f"{item.port} ({item.service}) is held by {holder}")
    listed = ", ".join(f"{p.service}:{p.port}" for p in ports) or "none"
    if held:
        variables = ", ".join(
            port_variable(p.service) for p in ports if any(h.startswith(f"{p.port} ") for h in held)
        )
        return Check(
            "ports",
            FAIL,
            "; ".join(held),
            f"stop what holds it, or move the service: set {variables} in .env",
        )
    return Check("ports", OK, f"free: {listed}")


def check_disk(
    root_dir: str | None,
    missing_bytes: int | None,
    free_bytes: Callable[[Path], int] = lambda path: shutil.disk_usage(path).free,
) -> Check:
    """Free space where Docker keeps images, against what the stack still needs."""
    path = Path(root_dir or "/var/lib/docker")
    while not path.exists():
        path = path.parent
    free = free_bytes(path)
    need = missing_bytes or 0
    found = f"{free / GIB:.1f} GiB free at {path}"
    if missing_bytes is None:
        found += "; size of the images to pull unknown"
    if free < need + 2 * GIB:
        return Check(
            "disk",
            FAIL,
            found + f", {need / GIB:.1f} GiB needed",
            "free space: `docker system prune` removes unused images and build cache",
        )
    if free < need + 10 * GIB:
        return Check(
            "disk",
            WARN,
            found + " (a CUDA image alone takes 5-10 GiB)",
            "free space: `docker system prune`",
        )
    return Check("disk", OK, found)


def check_files(drift: list[str] | None, error: MlstackError | None = None) -> Check:
    """The stack's files exist, are valid, and match mlstack.yaml (``render --check``)."""
    if error is not None:
        return failed_check("files", error, "fix mlstack.yaml")
    if drift:
        return Check(
            "files",
            FAIL,
            "drifted from mlstack.yaml: " + ", ".join(drift),
            "run `mlstack render` (edited files: move the edit into mlstack.yaml, or --force)",
        )
    return Check("files", OK, "present, valid, and matching mlstack.yaml")


def check_allow(spec: StackSpec) -> Check:
    """Every privileged setting mlstack.yaml's ``allow:`` grants: each is a reason to look twice."""
    unused = "; ".join(spec.unused_allow)
    unused_fix = f"remove the allow entries nothing asks for: {unused}" if unused else ""
    if not spec.allowed:
        return Check("allow", OK, "no privileged setting is allowed", unused_fix)
    listed = "; ".join(p.describe() for p in spec.allowed)
    return Check(
        "allow",
        WARN,
        f"{len(spec.allowed)} privileged setting(s) allowed: {listed}",
        "check each is still wanted: it gives a container more than its sandbox (SECURITY.md); "
        "delete its entry under allow: in mlstack.yaml to refuse it"
        + (f"; {unused_fix}" if unused else ""),
    )


def images_of(spec: StackSpec, catalog: Catalog, services: list[str]) -> dict[str, str]:
    """The image each service runs (``build`` for the ones mlstack builds)."""
    return {
        s: "build" if catalog[s].build else image_ref(spec, catalog, catalog[s].image)
        for s in services
    }
