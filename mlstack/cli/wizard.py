"""The ``mlstack init`` wizard: questionary prompts for what the flags left open."""

from __future__ import annotations

import dataclasses
from typing import Any

import questionary

from mlstack.errors import ExitCode, InputError, MlstackError
from mlstack.machine.host import GpuScan
from mlstack.spec.answers import Answers
from mlstack.spec.catalog import load_catalog
from mlstack.spec.gpu_choice import ALL_GPUS, NO_GPU, GpuChoice

PYTHONS = ["3.12", "3.11", "3.13"]


class WizardCancelled(MlstackError):
    """The user left the wizard (Ctrl-C or Ctrl-D): nothing was written."""

    exit_code = ExitCode.INTERRUPTED


def _ask(question: Any) -> Any:
    answer = question.ask()
    if answer is None:
        raise WizardCancelled("wizard cancelled: nothing was written")
    return answer


def run_wizard(answers: Answers, given: set[str], scan: GpuScan) -> Answers:
    """Ask each question whose flag was not given; return the completed answers."""
    out: dict[str, Any] = {}
    if "name" not in given:
        out["name"] = _ask(questionary.text("Project name:", default=answers.name))
    if "components" not in given:
        out["components"] = _ask_components(answers.components)
    gpu = answers.gpu if "gpu" in given else _ask_gpu(answers.gpu, scan)
    out["gpu"] = gpu
    if gpu.wanted and "cuda" not in given and scan.driver:
        out["cuda"] = _ask_cuda(answers.cuda, scan.driver)
    if gpu.wanted and "shm_size" not in given:
        out["shm_size"] = _ask(
            questionary.text("/dev/shm size for training and notebooks:", default="8gb")
        )
    if "python" not in given:
        out["python"] = _ask(
            questionary.select(
                "Python version of built images:", choices=PYTHONS, default=answers.python
            )
        )
    return dataclasses.replace(answers, **out)


def _ask_components(default: tuple[str, ...]) -> tuple[str, ...]:
    choices = [
        questionary.Choice(f"{f.name:<9} {f.summary}", value=f.name, checked=f.name in default)
        for f in load_catalog().values()
    ]
    return tuple(
        _ask(
            questionary.checkbox(
                "Components (space to toggle, enter to confirm):",
                choices=choices,
                validate=lambda picked: bool(picked) or "pick at least one component",
            )
        )
    )


def _ask_cuda(default: str, driver: str) -> str:
    """Offer the CUDA releases the driver runs natively, newest first, and say what they give."""
    from mlstack.machine.cuda import cuda_image_tag, torch_wheel_index, trainable_native_releases

    offered = trainable_native_releases(driver)[:6] or [default]
    cuda = _ask(
        questionary.select(
            f"CUDA version (driver {driver} runs these natively):",
            choices=offered,
            default=default if default in offered else offered[0],
        )
    )
    questionary.print(
        f"GPU images: nvidia/cuda:{cuda_image_tag(cuda)}, PyTorch wheels: {torch_wheel_index(cuda)}"
    )
    return cuda


def _ask_gpu(default: GpuChoice, scan: GpuScan) -> GpuChoice:
    if not scan.gpus:
        questionary.print(f"No NVIDIA GPU: {scan.reason}. Using CPU images.", style="italic")
        return NO_GPU
    names = ", ".join(f"{g.index}: {g.name}" for g in scan.gpus)
    questionary.print(f"GPUs found (driver {scan.driver}): {names}")
    choice = _ask(
        questionary.select(
            "GPUs for the GPU services:",
            choices=["all", "none", "a count", "device ids"],
            default="all" if default == ALL_GPUS else "none",
        )
    )
    try:
        if choice == "a count":
            return GpuChoice.parse(_ask(questionary.text("How many GPUs:", default="1")))
        if choice == "device ids":
            ids = _ask(questionary.text("Device ids, comma-separated:", default="0"))
            return GpuChoice.parse([i.strip() for i in ids.split(",") if i.strip()])
    except ValueError as exc:
        raise InputError("mlstack init", "--gpu", str(exc), "e.g. 2, or device ids 0,1") from None
    return GpuChoice.parse(choice)
