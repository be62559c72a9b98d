"""``gpu.devices`` from mlstack.local.yaml, on this host's real GPUs (skipped where none answers).

The recorded tests (tests/test_gpu_host.py) replay nvidia-smi; here the machine's own
``nvidia-smi`` is asked, and the engine's answer is the recorded NVIDIA-runtime one (the GPU
machines that run this may have no Docker). A device this host has is used; one it lacks is a
failure under ``required`` and CPU under ``optional``, in both cases naming the devices.
"""

from __future__ import annotations

import json

import pytest
from helpers import RECORDED

from mlstack.machine.docker_info import parse_docker_info
from mlstack.machine.host import scan_gpus
from mlstack.run.gpu_host import host_checks
from mlstack.spec.catalog import load_catalog
from mlstack.spec.gpu_choice import GpuChoice
from mlstack.spec.local import apply_local, settings_from
from mlstack.spec.stack_spec import StackSpec

pytestmark = pytest.mark.gpu  # this machine's own GPU: deselected where nvidia-smi is missing


def committed(mode: str) -> StackSpec:
    return StackSpec(
        name="demo",
        components=("trainer",),
        cuda="12.8.1",
        gpu={"trainer": GpuChoice("all")},
        gpu_mode=mode,
    )


@pytest.mark.parametrize("mode", ["optional", "required"])
def test_local_devices_on_this_hosts_gpus(mode: str) -> None:
    scan = scan_gpus()
    assert scan.gpus, scan.problem  # nvidia-smi is here: it must list the GPUs
    info = parse_docker_info(
        json.loads((RECORDED / "docker-info-28.2.2-nvidia-cdi.json").read_text())
    )
    first = scan.gpus[0]
    for devices in ([first.index], [first.uuid]):
        local = settings_from({"gpu": {"devices": devices}})
        decision, checks = host_checks(
            apply_local(committed(mode), local, load_catalog()), info, scan
        )
        assert decision.use_gpu, [c.found for c in checks]
    missing = str(len(scan.gpus) + 7)
    local = settings_from({"gpu": {"devices": [missing]}})
    decision, checks = host_checks(apply_local(committed(mode), local, load_catalog()), info, scan)
    assert not decision.use_gpu
    driver = next(c for c in checks if c.id == "gpu.driver")
    assert driver.status == "fail" and missing in driver.found, driver
