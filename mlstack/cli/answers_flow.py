"""From ``init``'s flags (and the wizard, for what they leave open) to one set of Answers."""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mlstack.errors import InputError
from mlstack.machine.host import GpuScan
from mlstack.spec.answers import (
    DEFAULT_COMPONENTS,
    Answers,
    InitOptions,
    answers_from,
    trainer_python,
)
from mlstack.spec.gpu_choice import ALL_GPUS, NO_GPU, GpuChoice
from mlstack.spec.stack_spec import DEFAULT_CUDA

T = TypeVar("T")


def default_name(root: Path) -> str:
    """A compose project name from the directory's name."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", root.resolve().name.lower()).strip("-_")
    return slug or "mlstack"


def host_defaults(root: Path) -> tuple[Answers, GpuScan]:
    """Defaults from this machine's GPUs, and what nvidia-smi said.

    With a GPU: all of them, the newest CUDA its driver runs natively, and the training job;
    without one: CPU images.
    """
    from mlstack.machine.cuda import trainable_native_releases
    from mlstack.machine.host import scan_gpus

    scan = scan_gpus()
    if not scan.gpus:
        return Answers(default_name(root), DEFAULT_COMPONENTS, NO_GPU, cuda=DEFAULT_CUDA), scan
    cuda = next(iter(trainable_native_releases(scan.driver)), DEFAULT_CUDA)
    return Answers(default_name(root), (*DEFAULT_COMPONENTS, "trainer"), ALL_GPUS, cuda=cuda), scan


@dataclass(frozen=True)
class Gathered:
    """``init``'s answers, and what to tell the user about them (choices made, warnings)."""

    answers: Answers
    notes: list[str]
    asked: frozenset[str] = frozenset()  # the fields the wizard asked (errors name the question)


def gather_answers(root: Path, options: InitOptions, interactive: bool, force: bool) -> Gathered:
    """Answers from flags; the wizard asks whatever the flags left open unless ``--yes``.

    Input that cannot be right, and an existing stack, are refused before the first question.
    """
    from mlstack.cli.init_checks import check_options, check_target, gpu_warnings
    from mlstack.cli.wizard_summary import decided_lines

    check_options(root, options)
    check_target(root, force)
    defaults, scan = host_defaults(root)
    answers = answers_from(options, defaults)
    if "python" not in options.given():  # a GPU trainer's Python is its image's
        answers = dataclasses.replace(answers, python=trainer_python(answers) or answers.python)
    if not interactive:
        return Gathered(
            answers, decided_lines(answers, options.given(), scan) + gpu_warnings(answers, scan)
        )
    if not sys.stdin.isatty():
        raise InputError(
            "mlstack init",
            "",
            "interactive session required",
            "pass --yes (with flags such as --with and --gpu) in scripts and CI",
        )
    from mlstack.cli.wizard import WIZARD_FIELDS, run_wizard

    answers = run_wizard(answers, options.given(), scan)
    asked = frozenset(WIZARD_FIELDS) - options.given()
    return Gathered(answers, gpu_warnings(answers, scan), asked)


def gpu_flag(value: str) -> GpuChoice:
    """One ``--gpu`` value: none, all, a count or device ids."""
    try:
        return GpuChoice.parse(value)
    except ValueError as exc:
        raise InputError(
            "mlstack init",
            "--gpu",
            str(exc),
            "e.g. --gpu all, --gpu 2, --gpu 0,1 (one device: --gpu 3,)",
        ) from None


def gpu_flags(values: list[str]) -> tuple[GpuChoice | None, dict[str, GpuChoice]]:
    """``--gpu all --gpu trainer=0,1``: the choice for GPU services, and per-service choices."""
    plain = [v for v in values if "=" not in v]
    own = parse_pairs([v for v in values if "=" in v], "--gpu", gpu_flag)
    return (gpu_flag(plain[-1]) if plain else None), own


def parse_pairs(
    values: list[str],
    flag: str,
    kind: Callable[[str], T] = str,  # type: ignore[assignment]
) -> dict[str, T]:
    """``KEY=VALUE`` flags such as ``--image redis=mirror/redis:8`` or ``--port api=8080``."""
    pairs = {}
    for item in values:
        key, sep, raw = item.partition("=")
        try:
            if not (sep and key and raw):
                raise ValueError
            pairs[key.strip()] = kind(raw.strip())
        except ValueError:
            raise InputError(
                "mlstack init",
                flag,
                f"expected KEY=VALUE, got {item!r}",
                f"e.g. {flag} api=8080"
                if kind is int
                else f"e.g. {flag} redis=registry.example.com/redis:8.10-alpine",
            ) from None
    return pairs


def split_list(value: str | None) -> tuple[str, ...] | None:
    """``--with api,redis`` -> ("api", "redis"); None when the flag was not given, () if empty."""
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())
