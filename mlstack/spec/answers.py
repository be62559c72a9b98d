"""Answers to ``mlstack init`` (from the wizard or from flags) and the mlstack.yaml they make."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlstack.spec.gpu_choice import NO_GPU, GpuChoice
from mlstack.spec.index_url import CREDENTIALS_VAR, split_credentials
from mlstack.spec.stack_spec import DEFAULT_CUDA, DEFAULT_PYTHON

DEFAULT_COMPONENTS = ("api", "jupyter", "mlflow", "postgres", "qdrant", "redis")
INIT_SOURCE = "mlstack init"  # the source errors in init's answers name (the CLI adds the flag)


@dataclass(frozen=True)
class Answers:
    """Everything ``init`` asks; the wizard and the flags both produce one."""

    name: str
    components: tuple[str, ...] = DEFAULT_COMPONENTS
    gpu: GpuChoice = NO_GPU  # for the GPU services (every GPU-capable one unless listed)
    gpu_services: tuple[str, ...] | None = None  # None: every GPU-capable service
    gpu_per_service: Mapping[str, GpuChoice] = field(default_factory=dict)  # over ``gpu``
    shm_size: str | None = None
    python: str = DEFAULT_PYTHON
    cuda: str = DEFAULT_CUDA
    ports: Mapping[str, int] = field(default_factory=dict)
    images: Mapping[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None
    pip_index_url: str | None = None


@dataclass(frozen=True)
class InitOptions:
    """What ``init``'s flags fixed, parsed: None (or empty) where a flag was not given.

    The typed hand-off from the command line to ``init``: the wizard asks only what is left open,
    and defaults fill the rest (:func:`answers_from`).
    """

    name: str | None = None
    components: tuple[str, ...] | None = None
    gpu: GpuChoice | None = None
    gpu_services: tuple[str, ...] | None = None
    gpu_per_service: Mapping[str, GpuChoice] = field(default_factory=dict)
    shm_size: str | None = None
    python: str | None = None
    cuda: str | None = None
    ports: Mapping[str, int] = field(default_factory=dict)
    images: Mapping[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None
    pip_index_url: str | None = None

    def given(self) -> set[str]:
        """The names of the options a flag set."""
        return {f.name for f in dataclasses.fields(self) if getattr(self, f.name) not in (None, {})}


def answers_from(options: InitOptions, defaults: Answers) -> Answers:
    """The defaults, with every option a flag gave in their place."""
    return dataclasses.replace(defaults, **{k: getattr(options, k) for k in options.given()})


def spec_document(answers: Answers) -> dict[str, Any]:
    """The mlstack.yaml content for a set of answers, defaults left out where they are implied."""
    doc: dict[str, Any] = {
        "name": answers.name,
        "components": list(answers.components),
        "python": answers.python,
        "cuda": answers.cuda,
        "gpu": _gpu_section(answers),
    }
    if answers.shm_size:
        doc["shm_size"] = answers.shm_size
    for key in ("ports", "images"):
        if getattr(answers, key):
            doc[key] = dict(getattr(answers, key))
    build = {k: getattr(answers, k) for k in ("ca_bundle", "pip_index_url") if getattr(answers, k)}
    if "pip_index_url" in build:  # the credential goes to .env (index_credentials), never here
        build["pip_index_url"] = split_credentials(build["pip_index_url"])[0]
    if build:
        doc["build"] = build
    return doc


def index_credentials(answers: Answers) -> dict[str, str]:
    """The ``.env`` value that ``--pip-index-url https://user:token@host/...`` carries, if any."""
    credential = split_credentials(answers.pip_index_url or "")[1]
    return {CREDENTIALS_VAR: credential} if credential else {}


def _gpu_section(answers: Answers) -> dict[str, Any]:
    """``gpu:`` of mlstack.yaml; its reader is :func:`mlstack.spec.gpu_choice.per_service`.

    With per-service choices and a list of GPU services, ``devices`` is the choice of the capable
    services that are in neither (none): the listed ones get ``gpu`` in the mapping.
    """
    listed = answers.gpu_services
    if not answers.gpu_per_service:
        section = {"devices": answers.gpu.to_yaml()}
        return section if listed is None else {**section, "services": list(listed)}
    others = answers.gpu if listed is None else NO_GPU
    choices = {**dict.fromkeys(listed or (), answers.gpu), **answers.gpu_per_service}
    return {
        "devices": others.to_yaml(),
        "services": {name: choice.to_yaml() for name, choice in choices.items()},
    }


def trainer_python(answers: Answers) -> str | None:
    """The Python a GPU trainer has (its CUDA image's Ubuntu's); None without a GPU trainer."""
    from mlstack.machine.cuda import image_python

    if "trainer" not in answers.components:
        return None
    listed = answers.gpu_services is None or "trainer" in answers.gpu_services
    choice = answers.gpu_per_service.get("trainer", answers.gpu if listed else NO_GPU)
    return image_python(answers.cuda) if choice.wanted else None
