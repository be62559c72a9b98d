"""``mlstack.local.yaml``: settings that belong to this machine only (git-ignored, never rendered).

A CPU laptop may run on CPU what the committed mlstack.yaml gives a GPU (``gpu.mode``), a GPU box
may pick its own devices (``gpu.devices``), a second checkout on one host takes its own compose
project ``name`` and host ``ports``, and a machine behind a firewall pulls from a mirror
(``images``). None of it changes a committed file: ports and the project name reach Compose
through the machine-local ``.env``, devices and images through the git-ignored
``compose.local.yaml`` that ``up`` writes, so ``render --check`` and the manifest never see it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlstack.errors import InputError
from mlstack.layout import LOCAL_FILE
from mlstack.spec import contain
from mlstack.spec.catalog import Catalog
from mlstack.spec.gpu_choice import GpuChoice
from mlstack.spec.schema import validate
from mlstack.spec.stack_spec import StackSpec
from mlstack.spec.yamlio import load_file

FIX = (
    f"edit {LOCAL_FILE}: it holds name, ports, gpu (mode, devices) and images "
    "(README: One repo, every machine)"
)
MIRROR = "mirror"  # images.mirror: a prefix put before every pulled image without its own entry


@dataclass(frozen=True)
class LocalSettings:
    """This machine's settings; an empty one (no file) changes nothing."""

    name: str | None = None
    gpu_mode: str | None = None
    gpu_devices: GpuChoice | None = None
    ports: dict[str, int] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)  # slot -> reference
    mirror: str | None = None

    def __bool__(self) -> bool:
        return self != LocalSettings()


def load_local(root: Path) -> LocalSettings:
    """The machine-local settings, checked by their schema; bounded, contained reads."""
    if not os.path.lexists(contain.checked(root, LOCAL_FILE)):
        return LocalSettings()
    data = load_file(root / LOCAL_FILE, LOCAL_FILE, root=root)
    return settings_from(data)


def settings_from(data: Any) -> LocalSettings:
    """The settings of one parsed ``mlstack.local.yaml`` document (None: an empty file)."""
    if data is None:
        return LocalSettings()
    if not isinstance(data, dict):
        raise InputError(LOCAL_FILE, "", "must be a YAML mapping", FIX)
    validate(data, "local", LOCAL_FILE, FIX)
    gpu, images = data.get("gpu") or {}, dict(data.get("images") or {})
    devices = None
    if "devices" in gpu:
        try:
            devices = GpuChoice.parse(gpu["devices"])
        except ValueError as exc:
            raise InputError(LOCAL_FILE, "gpu.devices", str(exc), FIX) from exc
    return LocalSettings(
        name=data.get("name"),
        gpu_mode=gpu.get("mode"),
        gpu_devices=devices,
        ports=dict(data.get("ports") or {}),
        images={k: v for k, v in images.items() if k != MIRROR},
        mirror=images.get(MIRROR),
    )


def with_local(spec: StackSpec, root: Path, catalog: Catalog) -> StackSpec:
    """``spec`` with this machine's settings over the committed ones."""
    return apply_local(spec, load_local(root), catalog)


def apply_local(spec: StackSpec, local: LocalSettings, catalog: Catalog) -> StackSpec:
    """``spec`` as this machine runs it: each key of ``local`` wins over mlstack.yaml's."""
    slots = {slot for frag in catalog.values() for slot in frag.images}
    unknown = [slot for slot in local.images if slot not in slots]
    if unknown:
        raise InputError(
            LOCAL_FILE,
            f"images.{unknown[0]}",
            f"unknown image slot {unknown[0]!r}",
            f"use one of: {', '.join(sorted(slots))}, or {MIRROR}: a prefix for every image",
        )
    unknown = [name for name in local.ports if name not in spec.ports]
    if unknown:
        raise InputError(
            LOCAL_FILE,
            f"ports.{unknown[0]}",
            f"{unknown[0]} publishes no port in this stack",
            f"set ports for: {', '.join(spec.ports) or 'none (no component publishes one)'}",
        )
    gpu = spec.gpu
    if local.gpu_devices is not None:
        chosen = {name: local.gpu_devices for name in spec.gpu}
        gpu = {name: choice for name, choice in chosen.items() if choice.wanted}
    return replace(
        spec,
        name=local.name or spec.name,
        gpu_mode=local.gpu_mode or spec.gpu_mode,
        gpu=gpu,
        ports={**spec.ports, **local.ports},
        images={**spec.images, **local.images},
    )
