"""GPU awareness of init and doctor, on a host whose nvidia-smi replays recorded real output.

These machines have no GPU: an `nvidia-smi` script on PATH prints what nvidia-smi printed on
real hosts (tests/data/recorded), so the real subprocess path and parsers run end to end.
"""

from __future__ import annotations

import os
import stat

import pytest
from helpers import RECORDED
from typer.testing import CliRunner

from mlstack.cli import app
from mlstack.cli.answers_flow import host_defaults
from mlstack.machine.host import scan_gpus
from mlstack.spec.gpu_choice import ALL_GPUS, NO_GPU


@pytest.fixture()
def fake_smi(tmp_path, monkeypatch):
    def install(recording: str, code: int = 0) -> None:
        bindir = tmp_path / "bin"
        bindir.mkdir(exist_ok=True)
        script = bindir / "nvidia-smi"
        script.write_text(f"#!/bin/sh\ncat '{RECORDED / recording}'\nexit {code}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")

    return install


def test_scan_reads_one_h100(fake_smi):
    fake_smi("nvidia-smi-query-h100-x1.csv")
    scan = scan_gpus()
    assert [g.name for g in scan.gpus] == ["NVIDIA H100 80GB HBM3"]
    assert scan.driver == "570.124.06"


def test_scan_reads_eight_a100s(fake_smi):
    fake_smi("nvidia-smi-query-a100-x8.csv")
    assert len(scan_gpus().gpus) == 8


def test_scan_explains_a_broken_driver(fake_smi):
    fake_smi("nvidia-smi-no-driver.txt", code=9)
    scan = scan_gpus()
    assert scan.gpus == () and "nvidia-smi failed" in scan.reason


def test_defaults_follow_the_driver(fake_smi, tmp_path):
    fake_smi("nvidia-smi-query-a100-x8.csv")  # driver 535.104.05: CUDA 12.2 natively
    defaults, _ = host_defaults(tmp_path)
    assert defaults.gpu == ALL_GPUS
    assert defaults.cuda.startswith("12.2")
    assert "trainer" in defaults.components


def test_init_on_a_gpu_host_uses_gpu_images(fake_smi, tmp_path):
    fake_smi("nvidia-smi-query-h100-x1.csv")
    root = tmp_path / "stack"
    done = CliRunner().invoke(app, ["-C", str(root), "init", "--yes"])
    assert done.exit_code == 0, done.output
    spec = (root / "mlstack.yaml").read_text()
    assert "devices: all" in spec and "cuda: 12.8.1" in spec and "- trainer" in spec
    assert (
        "FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04"
        in (root / "trainer/Dockerfile").read_text()
    )
    assert "pytorch-notebook:cuda12-" in (root / "jupyter/Dockerfile").read_text()
    assert "whl/cu128" in (root / "trainer/requirements.txt").read_text()
    compose = (root / "compose.yaml").read_text()
    assert "driver: nvidia" in compose and "shm_size: 8gb" in compose


def test_init_without_a_gpu_says_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi anywhere
    defaults, scan = host_defaults(tmp_path)
    assert defaults.gpu == NO_GPU and "not installed" in scan.reason
    assert "trainer" not in defaults.components


def test_wizard_offers_the_gpus_and_the_cuda_the_driver_runs(fake_smi, tmp_path):
    """The wizard in a pseudo-terminal on a host whose nvidia-smi shows one H100 (570 driver)."""
    import sys

    import pexpect

    fake_smi("nvidia-smi-query-h100-x1.csv")
    root = tmp_path / "gpu-stack"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "mlstack", "-C", str(root), "init"],
        env={**os.environ, "TERM": "xterm"},
        dimensions=(40, 120),
        timeout=60,
        encoding="utf-8",
    )
    child.expect("Project name:")
    child.send("\r")
    child.expect("Components")
    child.expect("trainer")
    child.send("\r")  # the defaults: the trainer is in, a GPU was found
    child.expect(r"GPUs found \(driver 570.124.06\): 0: NVIDIA H100 80GB HBM3")
    child.expect("GPUs for the GPU services:")
    child.send("\r")  # all
    child.expect(r"CUDA version \(driver 570.124.06 runs these natively\):")
    child.expect("12.6.3")
    child.send("\r")  # the newest: 12.8.1
    child.expect("GPU images: nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04, PyTorch wheels: cu128")
    child.expect("/dev/shm size")
    child.send("\r")
    # a GPU trainer has its CUDA image's Python: said, not asked (it used to be asked, then ignored)
    child.expect(r"Python 3.12: the GPU trainer's CUDA 12.8.1 image has it")
    child.expect("Write this stack?")
    child.send("\r")
    child.expect("is ready in")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    spec = (root / "mlstack.yaml").read_text()
    assert "cuda: 12.8.1" in spec and "devices: all" in spec and "- trainer" in spec
    assert "shm_size: 8gb" in spec
