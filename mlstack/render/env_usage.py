"""Which ``.env`` keys the stack reads, and which it does not (kept: ``.env`` is never pruned).

``render`` only adds keys to ``.env``; a key left over from a removed component or secret stays
there. This says which ones no compose file, build or ``mlstack up`` reads, for the user to
delete if nothing else of theirs reads them.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlstack.layout import BASE, DEV, GPU_FILE, PROD
from mlstack.render.envfile import parse_env, read_env
from mlstack.spec import contain
from mlstack.spec.credentials import TOOL_PREFIXES  # read by compose or the docker CLI
from mlstack.spec.stack_spec import StackSpec

REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def used_keys(spec: StackSpec, compose_texts: list[str]) -> set[str]:
    """The variables the compose files refer to, and the one builds read as a secret."""
    used = set(REFERENCE.findall("".join(compose_texts).replace("$$", "")))
    if spec.pip_index_credentials:
        used.add(spec.pip_index_credentials)  # a build secret's environment: source
    return used


def unused_keys(env_text: str | None, spec: StackSpec, compose_texts: list[str]) -> list[str]:
    """``.env`` keys (in file order) that nothing of the stack reads."""
    used = used_keys(spec, compose_texts)
    return [
        key
        for key in parse_env(env_text or "")
        if key not in used and not key.startswith(TOOL_PREFIXES)
    ]


def unused_in_project(root: Path, spec: StackSpec) -> list[str]:
    """:func:`unused_keys` of the project's ``.env`` against its compose files on disk.

    The files on disk, not the render: a hand edit may refer to a variable of its own.
    """
    return unused_keys(read_env(root), spec, _compose_texts(root))


def read_in_project(root: Path, spec: StackSpec) -> set[str]:
    """The variables the project's compose files on disk (and its builds) read."""
    return used_keys(spec, _compose_texts(root))


def _compose_texts(root: Path) -> list[str]:
    return [contain.read_text(root, name) or "" for name in (BASE, DEV, PROD, GPU_FILE)]
