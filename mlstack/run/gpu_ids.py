"""GPUs a stack asks for that this host does not have: Compose would refuse to start it here."""

from __future__ import annotations

from mlstack.machine.host import GpuScan, missing_gpus
from mlstack.spec.stack_spec import StackSpec


def absent_gpus(spec: StackSpec, scan: GpuScan) -> str:
    """Which services ask for GPU ids (or more GPUs) than this host has; '' when none do."""
    said = []
    for service, choice in sorted(spec.gpu.items()):
        missing = missing_gpus(choice.ids, scan)
        if missing:
            said.append(f"{service} asks for GPU {', '.join(missing)}, not on this host")
        elif choice.kind == "count" and choice.count > len(scan.gpus):
            said.append(f"{service} asks for {choice.count} GPUs, this host has {len(scan.gpus)}")
    return "; ".join(said)
