"""From ``init``'s flags (and the wizard, for what they leave open) to one set of Answers."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from mlstack.errors import InputError
from mlstack.spec.answers import DEFAULT_COMPONENTS, Answers, parse_gpu, parse_pairs, split_list
from mlstack.spec.stack_spec import DEFAULT_CUDA, DEFAULT_PYTHON


def default_name(root: Path) -> str:
    """A compose project name from the directory's name."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", root.resolve().name.lower()).strip("-_")
    return slug or "mlstack"


def host_defaults() -> dict[str, Any]:
    """Defaults from this machine's GPUs.

    With a GPU: all of them, the newest CUDA its driver runs natively, and the training job;
    without one: CPU images.
    """
    from mlstack.machine.cuda import trainable_native_releases
    from mlstack.machine.host import scan_gpus

    scan = scan_gpus()
    if not scan.gpus:
        return {"gpu": "none", "cuda": DEFAULT_CUDA, "components": DEFAULT_COMPONENTS, "scan": scan}
    return {
        "gpu": "all",
        "cuda": next(iter(trainable_native_releases(scan.driver)), DEFAULT_CUDA),
        "components": (*DEFAULT_COMPONENTS, "trainer"),
        "scan": scan,
    }


def _gpu_flags(values: list[str], services: str | None, default: Any) -> dict[str, Any]:
    """``--gpu all --gpu trainer=0,1``: a default for GPU services, and per-service choices."""
    plain = [v for v in values if "=" not in v]
    per_service = parse_pairs([v for v in values if "=" in v], "--gpu", parse_gpu)
    devices = parse_gpu(plain[-1]) if plain else default
    chosen: Any = split_list(services) if services else None
    if per_service:
        chosen = {**dict.fromkeys(chosen or (), devices), **per_service}
    return {"gpu": devices, "gpu_services": chosen}


def gather_answers(root: Path, flags: dict[str, Any], interactive: bool) -> Answers:
    """Answers from flags; the wizard asks whatever the flags left open unless ``--yes``."""
    given = {k for k, v in flags.items() if v not in (None, [])}
    host = host_defaults()
    values = {
        "name": flags["name"] or default_name(root),
        "components": split_list(flags["with_"]) if flags["with_"] else host["components"],
        **_gpu_flags(flags["gpu"], flags["gpu_services"], host["gpu"]),
        "shm_size": flags["shm_size"],
        "python": flags["python"] or DEFAULT_PYTHON,
        "cuda": flags["cuda"] or host["cuda"],
        "images": parse_pairs(flags["image"], "--image"),
        "ports": parse_pairs(flags["port"], "--port", int),
        "ca_bundle": flags["ca_bundle"],
        "pip_index_url": flags["pip_index_url"],
    }
    if interactive:
        if not sys.stdin.isatty():
            raise InputError(
                "mlstack init",
                "",
                "interactive session required",
                "pass --yes (with flags such as --with and --gpu) in scripts and CI",
            )
        from mlstack.cli.wizard import run_wizard

        values = run_wizard(values, given, host["scan"])
    return Answers(**values)
