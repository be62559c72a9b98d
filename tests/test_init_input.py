"""``init``'s own choices said aloud, and input that cannot be right refused before any write.

GPU hosts are these machines with an ``nvidia-smi`` on PATH that replays real recorded output
(tests/data/recorded), as in test_gpu_flow.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine, fake_environment
from helpers import RECORDED
from typer.testing import CliRunner

from mlstack.cli import app
from mlstack.machine.host import scan_gpus
from mlstack.run.doctor import run_doctor


@pytest.fixture()
def fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(recording: str) -> None:
        bindir = tmp_path / "bin"
        bindir.mkdir(exist_ok=True)
        script = bindir / "nvidia-smi"
        script.write_text(f"#!/bin/sh\ncat '{RECORDED / recording}'\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")

    return install


def init(root: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["-C", str(root), "init", "--yes", *args])


def test_yes_on_a_gpu_host_says_what_it_chose(fake_smi: Any, tmp_path: Path) -> None:
    fake_smi("nvidia-smi-query-h100-x1.csv")
    done = init(tmp_path / "s")
    assert done.exit_code == 0, done.output
    assert "GPU found (1, driver 570.124.06): gpu: all" in done.output
    assert "trainer added" in done.output
    assert "cuda: 12.8.1 (the newest the driver runs natively)" in done.output


def test_yes_without_a_gpu_says_cpu_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # no nvidia-smi
    done = init(tmp_path / "s")
    assert done.exit_code == 0, done.output
    assert "no NVIDIA GPU" in done.output and "gpu: none, CPU images" in done.output
    assert "trainer added" not in done.output


def test_a_gpu_trainer_gets_its_cuda_images_python(fake_smi: Any, tmp_path: Path) -> None:
    """Driver 535 runs CUDA 12.2 natively: an Ubuntu 22.04 image, whose Python is 3.10."""
    fake_smi("nvidia-smi-query-a100-x8.csv")
    root = tmp_path / "s"
    done = init(root)
    assert done.exit_code == 0, done.output
    assert "python: 3.10" in done.output
    assert "python: '3.10'" in (root / "mlstack.yaml").read_text()
    assert "python3=3.10.*" in (root / "trainer/Dockerfile").read_text()


def test_a_python_the_gpu_image_cannot_give_is_refused(fake_smi: Any, tmp_path: Path) -> None:
    fake_smi("nvidia-smi-query-h100-x1.csv")
    root = tmp_path / "s"
    done = init(root, "--with", "trainer", "--python", "3.13")
    assert done.exit_code == 2, done.output
    assert "--python" in done.output and "has Python 3.12, not 3.13" in done.output
    assert not root.exists()
    assert init(root, "--with", "trainer", "--python", "3.13", "--gpu", "none").exit_code == 0


def test_the_file_is_held_to_the_same_rule(tmp_path: Path, make_stack: Any, cli: Any) -> None:
    root = make_stack(tmp_path / "s", "--with", "trainer", "--gpu", "all")
    spec = root / "mlstack.yaml"
    spec.write_text(spec.read_text().replace("python: '3.12'", "python: '3.11'"))
    done = cli("-C", root, "render")
    assert done.exit_code == 2, done.output
    assert "mlstack.yaml: python:" in done.output and "not 3.11" in done.output


@pytest.mark.parametrize("value", ["", ",", " , "])
def test_an_empty_with_is_refused(tmp_path: Path, value: str) -> None:
    done = init(tmp_path / "s", "--with", value)
    assert done.exit_code == 2, done.output
    assert "--with: no component given" in done.output
    assert not (tmp_path / "s").exists()


def test_a_target_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "some-file").write_text("x")
    done = init(tmp_path / "some-file" / "x")
    assert done.exit_code == 2, done.output
    assert "some-file is a file" in done.output and "internal error" not in done.output


def test_a_ca_bundle_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "s"
    done = init(root, "--with", "api", "--ca-bundle", str(tmp_path / "missing.pem"))
    assert done.exit_code == 2, done.output
    assert "--ca-bundle" in done.output and "is not a file" in done.output
    assert not root.exists()
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert init(root, "--with", "api", "--ca-bundle", str(tmp_path / "ca.pem")).exit_code == 0


def test_gpu_ids_this_host_lacks_warn_and_doctor_fails(fake_smi: Any, tmp_path: Path) -> None:
    fake_smi("nvidia-smi-query-h100-x1.csv")  # one GPU: index 0
    root = tmp_path / "s"
    done = init(root, "--with", "trainer", "--gpu", "0,7")
    assert done.exit_code == 0, done.output  # the stack may run on a bigger host
    assert "warning: this host has no GPU 7 (it has: 0)" in done.output
    env = fake_environment(FakeEngine(), scan=scan_gpus())
    driver = {c.id: c for c in run_doctor(root, env=env)}["gpu.driver"]
    assert driver.status == "fail" and "trainer asks for GPU 7, not on this host" in driver.found


def test_a_count_beyond_the_host_fails_doctor(fake_smi: Any, tmp_path: Path) -> None:
    fake_smi("nvidia-smi-query-h100-x1.csv")
    root = tmp_path / "s"
    assert init(root, "--with", "trainer", "--gpu", "2").exit_code == 0
    env = fake_environment(FakeEngine(), scan=scan_gpus())
    driver = {c.id: c for c in run_doctor(root, env=env)}["gpu.driver"]
    assert driver.status == "fail" and "asks for 2 GPUs, this host has 1" in driver.found


@pytest.mark.parametrize(
    "args", [("--name", "Bad"), ("--port", "api=70000"), ("--image", "python=bad^ref")]
)
def test_a_bad_flag_is_fixed_by_the_flag_not_a_file_that_is_not_there(
    tmp_path: Path, args: tuple[str, str]
) -> None:
    root = tmp_path / "s"
    done = init(root, "--with", "api", *args)
    assert done.exit_code == 2, done.output
    assert f"fix: change {args[0]} (`mlstack init --help`)" in done.output
    assert "edit mlstack.yaml" not in done.output and not root.exists()


@pytest.mark.parametrize(
    ("line", "key", "example"),
    [("python: 3.10", "python", '"3.12"'), ("cuda: 12.10", "cuda", '"12.8.1"')],
)
def test_a_version_yaml_read_as_a_number_says_to_quote_it(
    tmp_path: Path, make_stack: Any, cli: Any, line: str, key: str, example: str
) -> None:
    root = make_stack(tmp_path / "s", "--with", "api")
    spec = root / "mlstack.yaml"
    lines = [line if ln.startswith(f"{key}:") else ln for ln in spec.read_text().splitlines()]
    spec.write_text("\n".join(lines) + "\n")
    done = cli("-C", root, "render")
    assert done.exit_code == 2, done.output
    assert f"mlstack.yaml: {key}:" in done.output
    assert f"fix: quote the value, e.g. {key}: {example}" in done.output


@pytest.mark.parametrize(
    ("field", "asked", "said"),
    [
        ("components[0]", {"components"}, 'the answer to "Components" (components[0])'),
        ("components[0]", set(), "--with (components[0])"),
        ("gpu.services.trainer", {"gpu"}, "--gpu-services / --gpu SERVICE=SPEC"),
        ("build.ca_bundle", set(), "--ca-bundle (build.ca_bundle)"),
        ("shm_size", {"shm_size"}, 'the answer to "/dev/shm size" (shm_size)'),
    ],
)
def test_an_error_names_what_the_user_used(field: str, asked: set[str], said: str) -> None:
    """Flags for flags, the wizard's question for an answer, never the file init has not written."""
    from mlstack.cli.messages import as_flag_error
    from mlstack.errors import InputError
    from mlstack.spec.stack_spec import FIX

    error = as_flag_error(InputError("mlstack init", field, "bad", FIX), frozenset(asked))
    assert error.field.startswith(said), error.field
    assert "mlstack.yaml" not in error.fix


def test_a_gpu_services_error_is_named_as_its_flag(tmp_path: Path) -> None:
    done = init(tmp_path / "s", "--with", "api", "--gpu-services", "trainer")
    assert done.exit_code == 2, done.output
    assert "--gpu-services / --gpu SERVICE=SPEC (gpu.services.trainer)" in done.output
