"""``compose.local.yaml``: this machine's GPU devices, images and engine features, for Compose.

``mlstack.local.yaml`` may pick other GPUs than the committed ``compose.gpu.yaml`` asks for, and
other images (a mirror). Compose cannot take those from ``.env`` (a device list or an image is
not one ``${VAR}`` of a committed file), so ``up`` writes them to this git-ignored file, merged
after the committed ones; without such settings there is no file. On Engine 25+ it also holds
the health checks' ``start_interval`` (Compose refuses the key on older engines).
``!override`` replaces the committed device request instead of adding a second one (Compose
>= 2.24).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from mlstack.layout import BASE, LOCAL_COMPOSE
from mlstack.render.compose_model import BASE_ARG, image_ref
from mlstack.render.disk import write_one
from mlstack.run.stack import Stack
from mlstack.spec import contain
from mlstack.spec.catalog import Catalog
from mlstack.spec.local import LocalSettings
from mlstack.spec.stack_spec import StackSpec
from mlstack.spec.yamlio import load_file

HEADER = (
    "# compose.local.yaml: written by `mlstack up` from mlstack.local.yaml and this engine's\n"
    "# features (this machine only, git-ignored). Edit mlstack.local.yaml instead; plain\n"
    "# docker compose: add this file last.\n"
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


START_INTERVAL = "1s"


def starting_checks(root: Path) -> dict[str, Any]:
    """``start_interval`` for every service of compose.yaml whose health check has a start period.

    Docker checks every second while such a service starts, then at the steady interval (10 s):
    quick to healthy and light at rest, for ``docker compose`` too. Engine 25+ only.
    """
    compose = load_file(contain.checked(root, BASE), BASE, root=root)
    services = compose.get("services") if isinstance(compose, dict) else None
    return {
        name: {"healthcheck": {"start_interval": START_INTERVAL}}
        for name, body in (services or {}).items()
        if isinstance(body, dict)
        and isinstance(body.get("healthcheck"), dict)
        and "start_period" in body["healthcheck"]
    }


def machine_files(
    stack: Stack, gpu_files: tuple[str, ...], start_interval: bool = False
) -> tuple[str, ...]:
    """The compose files ``up`` adds on this machine: the GPU file here, then the local one."""
    document = local_document(stack.spec, stack.catalog, stack.local, bool(gpu_files))
    if start_interval:
        services = document.setdefault("services", {})
        for name, keys in starting_checks(stack.root).items():
            services.setdefault(name, {}).update(keys)
    return (*gpu_files, *write_local_compose(stack.root, document))
