"""The trainer's CPU variant: one Dockerfile with a ``cpu`` and a ``gpu`` target, one spec.

compose.yaml builds ``cpu`` (Python slim, torch from the CPU wheel index), so a GPU stack
builds on a CPU host; compose.gpu.yaml (GPU hosts only) builds ``gpu`` (pinned nvidia/cuda,
CUDA wheels). Judged by ``docker compose config`` and hadolint, as every generated file is.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.judge


def compose_config(root: Path, *files: str) -> dict[str, Any]:
    args = [a for f in files for a in ("-f", f)]
    done = subprocess.run(
        ["docker", "compose", *args, "--profile", "*", "config", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(name="gpu_trainer")
def gpu_trainer_fixture(tmp_path: Path, make_stack: Any) -> Path:
    return make_stack(tmp_path / "t", "--with", "trainer", "--gpu", "all", "--cuda", "12.8.1")


def test_cpu_hosts_build_the_cpu_target_gpu_hosts_the_gpu_one(
    gpu_trainer: Path, require: Any
) -> None:
    require("docker compose")
    cpu = compose_config(gpu_trainer, "compose.yaml", "compose.override.yaml")
    assert cpu["services"]["trainer"]["build"]["target"] == "cpu"
    assert "deploy" not in cpu["services"]["trainer"]
    gpu = compose_config(gpu_trainer, "compose.yaml", "compose.gpu.yaml", "compose.override.yaml")
    assert gpu["services"]["trainer"]["build"]["target"] == "gpu"
    assert gpu["services"]["trainer"]["deploy"]["resources"]["reservations"]["devices"]
    dockerfile = (gpu_trainer / "trainer" / "Dockerfile").read_text()
    assert "FROM python:3.12-slim AS cpu" in dockerfile
    assert "FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS gpu" in dockerfile
    cpu_reqs = (gpu_trainer / "trainer" / "requirements-cpu.txt").read_text()
    gpu_reqs = (gpu_trainer / "trainer" / "requirements.txt").read_text()
    assert "https://download.pytorch.org/whl/cpu" in cpu_reqs and "+cpu" in cpu_reqs
    assert "https://download.pytorch.org/whl/cu128" in gpu_reqs and "+cu128" in gpu_reqs


def test_hadolint_passes_both_targets(gpu_trainer: Path, require: Any, tool_path: Any) -> None:
    require("hadolint")
    done = subprocess.run(
        [str(tool_path("hadolint")), "--no-color", "--failure-threshold", "warning", "-"],
        input=(gpu_trainer / "trainer" / "Dockerfile").read_text(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_cpu_trainer_has_one_stage_and_no_cpu_requirements(
    tmp_path: Path, make_stack: Any
) -> None:
    root = make_stack(tmp_path / "c", "--with", "trainer")
    dockerfile = (root / "trainer" / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") == 1 and " AS " not in dockerfile
    assert not (root / "trainer" / "requirements-cpu.txt").exists()
    assert "target" not in (root / "compose.yaml").read_text()
