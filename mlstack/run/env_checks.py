"""Checks of ``.env`` against mlstack.yaml: user-filled secrets present, and keys nothing reads.

A secret listed ``from: user`` under ``services.<name>.secrets`` is never generated: render
writes an empty ``NAME=`` line and the user puts the value there. ``up`` stops before starting
anything while one is empty; ``doctor`` says the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlstack.layout import ENV_FILE
from mlstack.render.env_usage import read_in_project, unused_in_project
from mlstack.render.envfile import parse_env, read_env
from mlstack.run.checks import FAIL, OK, Check
from mlstack.spec.credentials import TOOL_PREFIXES
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


def shell_shadowed(
    root: Path, spec: StackSpec, values: dict[str, str], services: list[str] | None = None
) -> dict[str, str]:
    """Variables the compose files read that the shell sets otherwise -> who reads them.

    Compose takes the shell's value over ``.env``'s (and over a default), so a cloned repo
    whose fragment or ``services.<name>.secrets`` names a variable like a credential of the
    user's shell (``GITHUB_TOKEN``) would be handed that credential. Only the knobs meant for
    the shell pass: user-filled secrets, ``*_HOST_PORT``, ``COMPOSE_*``, the pip credential.
    """
    knobs = {*user_secrets(spec), spec.pip_index_credentials}
    out: dict[str, str] = {}
    for name, settings in spec.settings.items():
        if services is None or name in services:
            out.update({s.name: name for s in settings.secrets if s.name not in knobs})
    read = sorted(read_in_project(root, spec) - knobs - set(out))
    out.update({name: "compose files" for name in read})
    return {
        name: who
        for name, who in out.items()
        if not (name.endswith("_HOST_PORT") or name.startswith(TOOL_PREFIXES))
        and os.environ.get(name) is not None
        and os.environ.get(name) != values.get(name)
    }


def check_user_secrets(root: Path, spec: StackSpec, services: list[str] | None = None) -> Check:
    """Fail while a user-filled secret is missing or empty in ``.env``.

    Or while the shell would replace a generated one (:func:`shell_shadowed`); never a value.
    """
    values = parse_env(read_env(root) or "")
    shadowed = shell_shadowed(root, spec, values, services)
    if shadowed:
        names = ", ".join(f"{n} ({shadowed[n]})" for n in shadowed)
        return Check(
            "secrets",
            FAIL,
            f"your shell sets {names}, not as {ENV_FILE} has it: compose would hand the "
            "services your shell's value",
            f"unset it for mlstack (`env -u {next(iter(shadowed))} mlstack up`), or rename the "
            "variable where the stack asks for it (a fragment, services.<name>.secrets)",
        )
    wanted = user_secrets(spec, services)
    if not wanted:
        return Check("secrets", OK, "no secret for you to fill (services.<name>.secrets)")
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
