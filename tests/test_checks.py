"""The doctor's checks on recorded and constructed inputs (no engine, no GPU needed)."""

from __future__ import annotations

import json
import socket

import pytest
from helpers import RECORDED, rules, shipped_catalog

from mlstack.errors import EngineError
from mlstack.machine.docker_info import parse_docker_info
from mlstack.machine.host import GpuScan, port_holder
from mlstack.machine.nvidia_smi import parse_nvidia_smi_csv
from mlstack.render.compose_model import build_compose, overlay
from mlstack.render.published import Published
from mlstack.run.checks import (
    GIB,
    check_disk,
    check_engine,
    check_files,
    check_gpu_cuda,
    check_gpu_driver,
    check_gpu_runtime,
    check_ports,
    check_shm,
)
from mlstack.spec.stack_spec import spec_from_document


def spec(**extra):
    doc = {"name": "t", "components": ["api", "jupyter", "trainer", "redis"], **extra}
    return spec_from_document(doc, shipped_catalog())


def scan(driver="570.124.06"):
    return GpuScan(
        (parse_nvidia_smi_csv(f"0, NVIDIA H100 80GB HBM3, 81559, {driver}, GPU-1\n")[0],)
    )


def info(name):
    return parse_docker_info(json.loads((RECORDED / name).read_text()))


def cpu_spec():
    return spec()


def gpu_spec():
    return spec(gpu={"devices": "all"}, cuda="12.8.1")


@pytest.mark.parametrize(
    ("driver", "status", "words"),
    [
        ("570.124.06", "ok", "natively"),
        ("535.104.05", "warn", "torch.compile"),
        ("470.82.01", "fail", "570.124.06"),
    ],
)
def test_gpu_cuda_against_the_driver_table(driver, status, words):
    check = check_gpu_cuda(gpu_spec(), scan(driver))
    assert check.status == status
    assert words in check.found
    assert (check.fix == "") == (status == "ok")


def test_gpu_checks_do_not_apply_to_a_cpu_stack_but_are_reported():
    none = GpuScan((), "nvidia-smi is not installed")
    for check in (
        check_gpu_driver(cpu_spec(), none),
        check_gpu_runtime(cpu_spec(), None),
        check_gpu_cuda(cpu_spec(), none),
    ):
        assert check.status == "ok"
        assert "no GPU service" in check.found


def test_gpu_stack_without_a_driver_fails_with_the_fix():
    check = check_gpu_driver(gpu_spec(), GpuScan((), "nvidia-smi is not installed"))
    assert check.status == "fail"
    assert "gpu: {devices: none}" in check.fix


def test_gpu_runtime_needs_the_nvidia_runtime_or_cdi(tmp_path, monkeypatch):
    # Was: the "fail" asserts held only on hosts without the NVIDIA hooks on PATH (the check
    # looks for them there): PATH is now a directory of this test's own.
    monkeypatch.setenv("PATH", str(tmp_path))
    files = sorted(p.name for p in RECORDED.glob("docker-info*.json"))
    plain = next(f for f in files if "20.10" in f)
    nvidia = next(f for f in files if "nvidia" in f or "28" in f)
    assert check_gpu_runtime(gpu_spec(), info(plain)).status == "fail"
    assert "nvidia-ctk runtime configure" in check_gpu_runtime(gpu_spec(), info(plain)).fix
    assert check_gpu_runtime(gpu_spec(), info(nvidia)).status == "ok"


def test_gpu_runtime_accepts_the_container_toolkit_hook_on_path(tmp_path, monkeypatch):
    hook = tmp_path / "nvidia-container-runtime-hook"
    hook.write_text("#!/bin/sh\n")
    hook.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    check = check_gpu_runtime(gpu_spec(), info("docker-info-20.10.24.json"))
    assert check.status == "ok"
    assert "hooks on PATH: nvidia-container-runtime-hook" in check.found


def services(stack):
    """The services as a GPU host runs them: compose.yaml with compose.gpu.yaml over it."""
    model = build_compose(stack, shipped_catalog(), rules("dev"), rules("prod"))
    return overlay(model.base, model.gpu)["services"]


def test_shm_warns_when_small_or_missing():
    assert check_shm(services(gpu_spec())).status == "ok"
    assert check_shm(services(cpu_spec())).status == "ok"
    small = check_shm(services(spec(gpu={"devices": "all"}, shm_size="64m")))
    assert small.status == "warn" and "Bus error" in small.found
    edited = services(gpu_spec())
    del edited["jupyter"]["shm_size"]  # (issue 12: the api uses no GPU; jupyter does)
    bare = check_shm(edited)
    assert bare.status == "warn" and "jupyter use a GPU with Docker's 64 MB" in bare.found


def test_ports_names_the_process_holding_one():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        check = check_ports([Published("redis", "127.0.0.1", port)], {})
        assert port_holder(port).startswith("python")
    assert check.status == "fail"
    assert f"{port} (redis) is held by python" in check.found
    assert "REDIS_HOST_PORT" in check.fix


def test_ports_held_by_this_stack_are_fine():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert check_ports([Published("redis", "127.0.0.1", port)], {port: "redis"}).status == "ok"


def test_disk_thresholds(tmp_path):
    # Was: `status in ("ok", "warn")` and an `or` of two spellings: nothing that could fail,
    # and the outcome depended on the host's free space. Free space is now given.
    def free(gib):
        return lambda path: int(gib * GIB)

    assert check_disk(str(tmp_path), 0, free(20)).status == "ok"
    assert check_disk(str(tmp_path), 0, free(20)).found == f"20.0 GiB free at {tmp_path}"
    assert check_disk(str(tmp_path), 0, free(9.9)).status == "warn"  # under 10 GiB spare
    assert check_disk(str(tmp_path), 15 * GIB, free(20)).status == "warn"
    low = check_disk(str(tmp_path), 19 * GIB, free(20))  # under 2 GiB spare: fail
    assert low.status == "fail" and low.found.endswith(", 19.0 GiB needed")
    assert "docker system prune" in low.fix
    assert check_disk(str(tmp_path), 0, free(1.9)).status == "fail"
    unknown = check_disk(str(tmp_path), None, free(20))
    assert unknown.found.endswith("; size of the images to pull unknown")
    missing = check_disk(str(tmp_path / "missing" / "dir"), 0, free(20))
    assert missing.found == f"20.0 GiB free at {tmp_path}"  # the nearest existing parent
    assert check_disk(str(tmp_path), 10**15).status == "fail"  # the real disk: no host has 1 PB


def test_files_and_engine_records():
    assert check_files([]).status == "ok"
    drift = check_files(["compose.yaml"])
    assert (
        drift.status == "fail" and "compose.yaml" in drift.found and "mlstack render" in drift.fix
    )
    down = check_engine(None, EngineError("the Docker engine is not reachable: x", "start it"))
    assert down.as_dict() == {
        "id": "engine",
        "status": "fail",
        "found": "the Docker engine is not reachable: x",
        "fix": "start it",
    }
