"""Checks of ``.env`` against mlstack.yaml: user-filled secrets present, and keys nothing reads.

A secret listed ``from: user`` under ``services.<name>.secrets`` is never generated: render
writes an empty ``NAME=`` line and the user puts the value there. ``up`` stops before starting
anything while one is empty; ``doctor`` says the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlstack.layout import ENV_FILE
from mlstack.render.env_usage import unused_in_project
from mlstack.render.envfile import parse_env, read_env
from mlstack.run.checks import FAIL, OK, Check
from mlstack.spec.stack_spec import StackSpec


def user_secrets(spec: StackSpec, services: list[str] | None = None) -> dict[str, str]:
    """Each user-filled secret of ``services`` (None: all) -> the first service that asks."""
    out: dict[str, str] = {}
    for name, settings in spec.settings.items():
        if services is None or name in services:
            for secret in settings.secrets:
                if secret.user:
                    out.setdefault(secret.name, name)
    return out


def check_user_secrets(root: Path, spec: StackSpec, services: list[str] | None = None) -> Check:
    """Fail while a user-filled secret is missing or empty in ``.env``."""
    wanted = user_secrets(spec, services)
    if not wanted:
        return Check("secrets", OK, "no secret for you to fill (services.<name>.secrets)")
    values = parse_env(read_env(root) or "")
    shell = {name: os.environ.get(name, "") for name in wanted}  # compose: the shell wins
    empty = [name for name in wanted if not (shell[name] or values.get(name))]
    if not empty:
        return Check("secrets", OK, f"filled in {ENV_FILE}: {', '.join(wanted)}")
    asked = ", ".join(f"{n} ({wanted[n]})" for n in empty)
    return Check(
        "secrets",
        FAIL,
        f"{ENV_FILE}: {asked} {'is' if len(empty) == 1 else 'are'} missing or empty",
        f"put the value after {'= / '.join(empty)}= in {ENV_FILE} (or export it in your shell; "
        "mlstack.yaml services.<name>.secrets, from: user: mlstack never generates it)",
    )


def check_unused_env(root: Path, spec: StackSpec) -> Check:
    """A note (never a failure) on ``.env`` keys that no compose file or build reads."""
    unused = unused_in_project(root, spec)
    if not unused:
        return Check("env", OK, f"every key of {ENV_FILE} is used")
    return Check(
        "env",
        OK,
        f"{ENV_FILE} keys no service uses: {', '.join(unused)} (render keeps them)",
        "delete their lines if nothing else of yours reads them",
    )
