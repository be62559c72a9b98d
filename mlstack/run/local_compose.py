"""``compose.local.yaml``: this machine's GPU devices and images, for Compose, from its settings.

``mlstack.local.yaml`` may pick other GPUs than the committed ``compose.gpu.yaml`` asks for, and
other images (a mirror). Compose cannot take those from ``.env`` (a device list or an image is
not one ``${VAR}`` of a committed file), so ``up`` writes them to this git-ignored file, merged
after the committed ones; without such settings there is no file. ``!override`` replaces the
committed device request instead of adding a second one (Compose >= 2.24).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from mlstack.layout import LOCAL_COMPOSE
from mlstack.render.compose_model import BASE_ARG, image_ref
from mlstack.render.disk import write_one
from mlstack.run.stack import Stack
from mlstack.spec import contain
from mlstack.spec.catalog import Catalog
from mlstack.spec.local import LocalSettings
from mlstack.spec.stack_spec import StackSpec

HEADER = (
    "# compose.local.yaml: written by `mlstack up` from mlstack.local.yaml (this machine only,\n"
    "# git-ignored). Edit mlstack.local.yaml instead; plain docker compose: add this file last.\n"
)


def local_document(
    spec: StackSpec, catalog: Catalog, local: LocalSettings, on_gpu: bool
) -> dict[str, Any]:
    """The services' keys this machine changes: images (local or mirrored), GPU devices.

    A built image whose base is a build arg (Jupyter's ``BASE_IMAGE``: CPU, or CUDA on a GPU
    host) gets that arg from the local images too; other Dockerfile bases stay as committed.
    """
    services: dict[str, dict[str, Any]] = {}
    if local.images or local.mirror:
        for name in spec.components:
            frag = catalog[name]
            gpu_slot = f"{frag.image}-gpu"
            if not frag.build:
                services[name] = {"image": image_ref(spec, catalog, frag.image)}
            elif gpu_slot in frag.images:
                slot = gpu_slot if on_gpu and spec.uses_gpu(name) else frag.image
                services[name] = {"build": {"args": {BASE_ARG: image_ref(spec, catalog, slot)}}}
    if on_gpu and local.gpu_devices is not None:
        for name, choice in spec.gpu.items():
            request = {"devices": OverrideList([choice.compose_request()])}
            services.setdefault(name, {})["deploy"] = {"resources": {"reservations": request}}
    return {"services": services} if services else {}


class OverrideList(list):  # type: ignore[type-arg]
    """A list Compose must take instead of merging it with the committed one (``!override``)."""


def dump_local(document: dict[str, Any]) -> str:
    """The file's text: YAML with the ``!override`` tags Compose reads."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.representer.add_representer(
        OverrideList, lambda rep, data: rep.represent_sequence("!override", list(data))
    )
    out = io.StringIO()
    yaml.dump(document, out)
    return HEADER + out.getvalue()


def write_local_compose(root: Path, document: dict[str, Any]) -> tuple[str, ...]:
    """Write (or remove) the file; the compose files to add for it (none when it is empty)."""
    target = contain.checked(root, LOCAL_COMPOSE)
    contain.refuse_link(root, LOCAL_COMPOSE)
    if not document:
        if os.path.lexists(target):
            target.unlink()
        return ()
    write_one(root, LOCAL_COMPOSE, dump_local(document))
    return (LOCAL_COMPOSE,)


def machine_files(stack: Stack, gpu_files: tuple[str, ...]) -> tuple[str, ...]:
    """The compose files ``up`` adds on this machine: the GPU file here, then the local one."""
    document = local_document(stack.spec, stack.catalog, stack.local, bool(gpu_files))
    return (*gpu_files, *write_local_compose(stack.root, document))
