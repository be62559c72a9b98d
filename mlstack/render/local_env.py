"""The ``.env`` lines that carry ``mlstack.local.yaml`` to Compose: host ports, the project name.

Compose reads ``COMPOSE_PROJECT_NAME`` and the ``*_HOST_PORT`` variables of compose.yaml's
``${REDIS_HOST_PORT:-6379}`` from ``.env``, which is machine-local and git-ignored: so this
machine's ports and project name never touch a committed file, and a plain ``docker compose``
in the directory sees them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from mlstack.render.compose_model import image_defaults, image_ref, port_variable
from mlstack.render.envfile import (
    check_env,
    fill_secrets,
    parse_env,
    read_env,
    secret_names,
    set_env_values,
)
from mlstack.spec.catalog import Catalog
from mlstack.spec.local import LocalSettings, apply_local, load_local
from mlstack.spec.stack_spec import StackSpec

PROJECT_VARIABLE = "COMPOSE_PROJECT_NAME"


def local_env_values(local: LocalSettings) -> dict[str, str]:
    """The ``.env`` values this machine's settings set (replacing the file's own lines)."""
    values = {port_variable(name): str(port) for name, port in sorted(local.ports.items())}
    if local.name:
        values[PROJECT_VARIABLE] = local.name
    return values


def env_values_for(
    root: Path, spec: StackSpec, catalog: Catalog, given: Mapping[str, str]
) -> tuple[str | None, dict[str, str]]:
    """``.env`` as it is (with the set values' lines replaced), and every value it must hold.

    ``given`` (a credential from a flag) and ``mlstack.local.yaml``'s ports and project name
    replace the file's lines; the stack's secrets are kept, or generated when missing.
    """
    local = load_local(root)
    apply_local(spec, local, catalog)  # a port for a component this stack lacks: named here
    given = {**local_env_values(local), **given}
    current = read_env(root)
    check_env(current or "")
    current = set_env_values(current, given)
    secrets = fill_secrets(secret_names(spec, catalog), parse_env(current or ""))
    return current, {**secrets, **given}


def mirrored(spec: StackSpec, catalog: Catalog, local: LocalSettings) -> StackSpec:
    """``spec`` with every image slot behind ``images.mirror`` (slots named locally excepted)."""
    if not local.mirror:
        return spec
    prefix = local.mirror if local.mirror.endswith("/") else f"{local.mirror}/"
    slots = image_defaults(spec, catalog)
    moved = {s: prefix + image_ref(spec, catalog, s) for s in slots if s not in local.images}
    return replace(spec, images={**spec.images, **moved})
