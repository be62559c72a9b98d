"""``up --free-ports``: a second checkout on this host takes a project name and ports of its own.

Two clones of one repo render the same compose project name and host ports. Without this, the
second ``up`` stops (the first one's project or ports are in use, :mod:`mlstack.run.neighbours`
and the ports check). With it, mlstack picks a distinct project name (the committed one and a
short hash of this checkout's path: stable, so a second ``--free-ports`` keeps it) and a free
host port for each one in use, writes them to ``mlstack.local.yaml`` (machine-local), and the
render that ``up`` starts with carries them to ``.env``. Nothing committed changes, so the two
stacks share no container, volume or port.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from mlstack.layout import LOCAL_FILE
from mlstack.machine.host import port_is_free
from mlstack.render.disk import write_one
from mlstack.render.lock import project_lock
from mlstack.render.published import Published, published_ports
from mlstack.run.checks import FAIL, held_by_stack
from mlstack.run.environment import REAL, Environment
from mlstack.run.neighbours import check_project
from mlstack.run.stack import open_stack
from mlstack.spec import contain
from mlstack.spec.local import settings_from
from mlstack.spec.yamlio import dump_document, load_document

MAX_PORT = 65535


@dataclass(frozen=True)
class Claimed:
    """What ``--free-ports`` changed in mlstack.local.yaml (empty: nothing was in use)."""

    name: str | None = None  # the new compose project name, when the old one was taken
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)  # service -> (old, new)

    def __bool__(self) -> bool:
        return bool(self.name or self.ports)


def checkout_name(name: str, root: Path) -> str:
    """``<name>-<6 hex of this checkout's path>``: distinct per checkout, the same every time."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:6]
    return f"{name[:55]}-{digest}"


def pick_ports(
    ports: list[Published], own: dict[int, str], is_free: Callable[[int, str], bool]
) -> dict[str, tuple[int, int]]:
    """A free host port for each one in use by someone else (own ones stay where they are).

    The new port is 10000 above the old one where that fits (8000 -> 18000: easy to tell
    apart), else the next one up; a port picked for one service is not given to another.
    A service's extra ports (``services.<name>.ports``) stay: the preflight names their
    ``.env`` variable when one is taken.
    """
    taken = {p.port for p in ports}
    moved = {}
    for item in ports:
        address = item.address or "0.0.0.0"
        if item.container is not None:  # an extra port (services.<name>.ports): moved in .env
            continue
        if item.port in own or is_free(item.port, address):
            continue
        start = item.port + 10000 if item.port + 10000 <= MAX_PORT else item.port + 1
        candidate = next(
            (p for p in range(start, MAX_PORT + 1) if p not in taken and is_free(p, address)),
            None,
        )
        if candidate is not None:
            taken.add(candidate)
            moved[item.service] = (item.port, candidate)
    return moved


def claim(
    root: Path,
    profile: Any,
    env: Environment = REAL,
    is_free: Callable[[int, str], bool] = port_is_free,
) -> Claimed:
    """Find what is in use on this host and move this checkout off it (mlstack.local.yaml)."""
    stack = open_stack(root, profile, env, render=True)
    states = stack.engine.states()
    clash = check_project(root, states).status == FAIL
    name = checkout_name(stack.spec.name, root) if clash else None
    ports = published_ports(root, stack.spec, stack.catalog, stack.profile)
    own = {} if clash else held_by_stack(ports, states)  # theirs, when the project is theirs
    claimed = Claimed(name, pick_ports(ports, own, is_free))
    if claimed:
        write_local(root, claimed)
    return claimed


def write_local(root: Path, claimed: Claimed) -> None:
    """Merge the claim into mlstack.local.yaml (its other keys and comments kept), atomically."""
    with project_lock(root, "mlstack up --free-ports"):
        path = contain.checked(root, LOCAL_FILE)
        exists = os.path.lexists(path)
        doc = load_document(path, LOCAL_FILE, root=root) if exists else None
        doc = doc if doc is not None else CommentedMap()
        if claimed.name:
            doc["name"] = claimed.name
        if claimed.ports:
            doc.setdefault("ports", {})
            for service, (_, new) in claimed.ports.items():
                doc["ports"][service] = new
        settings_from(doc)  # what is written is valid
        write_one(root, LOCAL_FILE, dump_document(doc))
