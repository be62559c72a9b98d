"""The ``mlstack init`` wizard: questionary prompts for what the flags left open.

Each answer is checked as it is typed, with the rules mlstack.yaml is read with, so a bad one is
asked again at once; Ctrl-C and Ctrl-D leave without writing; a summary and a confirmation close
it (No leaves like Ctrl-C: nothing is written, and the flags can fix any answer next time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import questionary
from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

from mlstack.cli.wizard_summary import summary_lines
from mlstack.errors import ExitCode, MlstackError
from mlstack.machine.host import GpuScan
from mlstack.spec.answers import Answers, trainer_python
from mlstack.spec.catalog import load_catalog
from mlstack.spec.gpu_choice import ALL_GPUS, NO_GPU, GpuChoice
from mlstack.spec.stack_spec import field_problem

PYTHONS = ["3.12", "3.11", "3.13"]
WIZARD_FIELDS = ("name", "components", "gpu", "cuda", "shm_size", "python")  # what it may ask
CANCELLED = "wizard cancelled: nothing was written"


class WizardCancelled(MlstackError):
    """The user left the wizard (Ctrl-C, Ctrl-D or No at the end): nothing was written."""

    exit_code = ExitCode.INTERRUPTED


def _leave_on_ctrl_d(question: Any) -> Any:
    """Ctrl-D leaves every prompt like Ctrl-C (prompt_toolkit alone ends only empty text)."""
    keys = KeyBindings()

    @keys.add("c-d", eager=True)
    def _(event: Any) -> None:
        event.app.exit(exception=EOFError())

    app = question.application
    app.key_bindings = merge_key_bindings([app.key_bindings or KeyBindings(), keys])
    return question


def _ask(question: Any) -> Any:
    try:
        return _leave_on_ctrl_d(question).unsafe_ask()
    except (KeyboardInterrupt, EOFError):
        raise WizardCancelled(CANCELLED) from None


def _valid(key: str) -> Callable[[str], bool | str]:
    """A questionary validator: True, or why the text cannot be mlstack.yaml's ``key``."""
    return lambda text: field_problem(key, text.strip()) or True


def run_wizard(answers: Answers, given: set[str], scan: GpuScan) -> Answers:
    """Ask each question whose flag was not given; confirm; return the completed answers."""
    out: dict[str, Any] = {}
    if "name" not in given:
        out["name"] = _text("Project name:", answers.name, _valid("name"))
    if "components" not in given:
        out["components"] = _ask_components(answers.components)
    gpu = answers.gpu if "gpu" in given else _ask_gpu(answers.gpu, scan)
    out["gpu"] = gpu
    if gpu.wanted and "cuda" not in given and scan.driver:
        out["cuda"] = _ask_cuda(answers.cuda, scan.driver)
    if gpu.wanted and "shm_size" not in given:
        out["shm_size"] = _text(
            "/dev/shm size for training and notebooks:", "8gb", _valid("shm_size")
        )
    answers = dataclasses.replace(answers, **out)
    if "python" not in given:
        answers = dataclasses.replace(answers, python=_ask_python(answers))
    _confirm(answers)
    return answers


def _text(message: str, default: str, validate: Callable[[str], bool | str]) -> str:
    return _ask(questionary.text(message, default=default, validate=validate)).strip()


def _ask_python(answers: Answers) -> str:
    """The images' Python; a GPU trainer has its CUDA image's, said instead of asked."""
    fixed = trainer_python(answers)
    if fixed:
        questionary.print(f"Python {fixed}: the GPU trainer's CUDA {answers.cuda} image has it.")
        return fixed
    return _ask(
        questionary.select(
            "Python version of built images:", choices=PYTHONS, default=answers.python
        )
    )


def _confirm(answers: Answers) -> None:
    questionary.print("\nThe stack:")
    for line in summary_lines(answers):
        questionary.print(f"  {line}")
    if not _ask(questionary.confirm("Write this stack?", default=True)):
        raise WizardCancelled(CANCELLED)


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
    if choice == "a count":
        return GpuChoice.parse(_text("How many GPUs:", "1", _gpu_check(scan, "count")))
    if choice == "device ids":
        ids = _text("Device ids, comma-separated:", "0", _gpu_check(scan, "ids"))
        return GpuChoice.parse(_id_list(ids))
    return GpuChoice.parse(choice)


def _id_list(text: str) -> list[str]:
    return [i.strip() for i in text.split(",") if i.strip()]


def _gpu_check(scan: GpuScan, kind: str) -> Callable[[str], bool | str]:
    """A count or ids this host has: the wizard saw its GPUs, so it asks again for others."""
    from mlstack.machine.host import missing_gpus

    def check(text: str) -> bool | str:
        try:
            choice = GpuChoice.parse(text.strip() if kind == "count" else _id_list(text))
        except ValueError as exc:
            return str(exc)
        if choice.kind == "count" and choice.count > len(scan.gpus):
            return f"this host has {len(scan.gpus)} GPU(s)"
        missing = missing_gpus(choice.ids, scan)
        return f"no GPU {', '.join(missing)} on this host" if missing else True

    return check
