"""Answers to ``mlstack init`` (from the wizard or from flags) and the mlstack.yaml they make."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlstack.errors import InputError
from mlstack.spec.index_url import CREDENTIALS_VAR, split_credentials
from mlstack.spec.stack_spec import DEFAULT_CUDA, DEFAULT_PYTHON

DEFAULT_COMPONENTS = ("api", "jupyter", "mlflow", "postgres", "qdrant", "redis")
# mlstack.yaml field -> the init flag that sets it, so errors name what the user typed
FLAGS = {
    "name": "--name",
    "components": "--with",
    "gpu": "--gpu",
    "shm_size": "--shm-size",
    "ports": "--port",
    "images": "--image",
    "python": "--python",
    "cuda": "--cuda",
    "build": "--ca-bundle / --pip-index-url",
}


@dataclass(frozen=True)
class Answers:
    """Everything ``init`` asks; the wizard and the flags both produce one."""

    name: str
    components: tuple[str, ...] = DEFAULT_COMPONENTS
    gpu: Any = "none"  # none | all | count | tuple of device ids
    # None: every GPU-capable service; a mapping gives services their own devices
    gpu_services: tuple[str, ...] | dict[str, Any] | None = None
    shm_size: str | None = None
    python: str = DEFAULT_PYTHON
    cuda: str = DEFAULT_CUDA
    ports: dict[str, int] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None
    pip_index_url: str | None = None


def spec_document(answers: Answers) -> dict[str, Any]:
    """The mlstack.yaml content for a set of answers, defaults left out where they are implied."""
    doc: dict[str, Any] = {
        "name": answers.name,
        "components": list(answers.components),
        "python": answers.python,
        "cuda": answers.cuda,
    }
    gpu: dict[str, Any] = {"devices": _devices(answers.gpu)}
    if isinstance(answers.gpu_services, dict):
        gpu["services"] = {k: _devices(v) for k, v in answers.gpu_services.items()}
    elif answers.gpu_services is not None:
        gpu["services"] = list(answers.gpu_services)
    doc["gpu"] = gpu
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


def _devices(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def parse_gpu(value: str) -> Any:
    """``--gpu``: none, all, a count (2) or device ids (0,1 or a single id as 3,)."""
    text = value.strip().lower()
    if text in ("none", "all"):
        return text
    if "," in text:
        ids = tuple(part.strip() for part in text.split(",") if part.strip())
        if ids and all(part.replace("-", "").isalnum() for part in ids):
            return ids
    elif text.isdigit() and int(text) > 0:
        return int(text)
    raise InputError(
        "mlstack init",
        "--gpu",
        f"expected none, all, a count or device ids, got {value!r}",
        "e.g. --gpu all, --gpu 2, --gpu 0,1 (one device: --gpu 3,)",
    )


def parse_pairs(values: list[str], flag: str, kind: type = str) -> dict[str, Any]:
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


def split_list(value: str) -> tuple[str, ...]:
    """``--with api,redis`` -> ("api", "redis")."""
    return tuple(part.strip() for part in value.split(",") if part.strip())
