"""GPU where there is one, CPU where there is not: the per-host decision for one stack.

The committed ``compose.yaml`` runs on any host; ``compose.gpu.yaml`` adds the reservations and
the CUDA base images. Whether this host gets it is decided here from the checks ``doctor`` has
(driver, runtime or CDI, CUDA the driver can run) and ``gpu.mode``: ``optional`` services run on
CPU where the GPU is not usable, ``required`` ones stop the preflight with the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mlstack.layout import GPU_FILE, LOCAL_FILE
from mlstack.machine.docker_info import EngineInfo
from mlstack.machine.host import GpuScan
from mlstack.run.checks import (
    FAIL,
    WARN,
    Check,
    check_gpu_cuda,
    check_gpu_driver,
    check_gpu_runtime,
    gpu_services,
)
from mlstack.spec.stack_spec import StackSpec

OPTIONAL, REQUIRED = "optional", "required"
ON_CPU_FIX = (
    f"; or set `gpu: {{mode: optional}}` in {LOCAL_FILE} to run them on CPU on this machine"
)


@dataclass(frozen=True)
class GpuDecision:
    """What this host does with the stack's GPU services, and why (``status --json``: gpu)."""

    mode: str
    services: tuple[str, ...]  # the services that ask for a GPU
    use_gpu: bool
    reason: str

    @property
    def on_cpu(self) -> tuple[str, ...]:
        """The services that ask for a GPU but run on CPU on this host."""
        return () if self.use_gpu else self.services

    @property
    def compose_files(self) -> tuple[str, ...]:
        """The files added to the profile's on this host (``compose.gpu.yaml`` or none)."""
        return (GPU_FILE,) if self.use_gpu else ()

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON form (README: status --json)."""
        return {
            "mode": self.mode,
            "services": list(self.services),
            "use_gpu": self.use_gpu,
            "on_cpu": list(self.on_cpu),
            "reason": self.reason,
        }


def gpu_checks(spec: StackSpec, info: EngineInfo | None, scan: GpuScan) -> list[Check]:
    """The three GPU checks of doctor, as they stand for a stack that must have its GPU."""
    return [check_gpu_driver(spec, scan), check_gpu_runtime(spec, info), check_gpu_cuda(spec, scan)]


def decide(spec: StackSpec, checks: list[Check]) -> GpuDecision:
    """The decision table: no GPU service -> CPU; a GPU check failed -> CPU; else GPU."""
    wanted = tuple(gpu_services(spec))
    if not wanted:
        return GpuDecision(spec.gpu_mode, (), False, "no service of this stack asks for a GPU")
    failed = [c for c in checks if c.status == FAIL]
    if failed:
        return GpuDecision(spec.gpu_mode, wanted, False, "; ".join(c.found for c in failed))
    driver = next((c.found for c in checks if c.id == "gpu.driver"), "a usable GPU")
    return GpuDecision(spec.gpu_mode, wanted, True, driver)


def host_checks(
    spec: StackSpec, info: EngineInfo | None, scan: GpuScan
) -> tuple[GpuDecision, list[Check]]:
    """The decision, and the GPU checks as this host reports them.

    ``optional``: a failed GPU check is a warning (the services run on CPU); ``required``: it
    stays a failure, and its fix names the machine-local way out.
    """
    checks = gpu_checks(spec, info, scan)
    decision = decide(spec, checks)
    if decision.use_gpu or not decision.services:
        return decision, checks
    if spec.gpu_mode == REQUIRED:
        return decision, [_required(c) for c in checks]
    # GPUs here, but not the ones asked for: a device choice to fix, not a host without a GPU
    keep = {"gpu.driver"} if scan.gpus else set()
    on_cpu = ", ".join(decision.on_cpu)
    return decision, [
        replace(c, status=WARN, found=f"{c.found}: {on_cpu} run on CPU on this host")
        if c.status == FAIL and c.id not in keep
        else c
        for c in checks
    ]


def _required(check: Check) -> Check:
    if check.status != FAIL:
        return check
    return replace(check, fix=f"{check.fix} (gpu.mode is required){ON_CPU_FIX}")
