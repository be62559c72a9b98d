"""How ``mlstack diff`` and ``render --dry-run`` show a planned render: unified diffs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

import typer

from mlstack.render.plan import STATE, Action, Step


def print_diff(steps: Sequence[Step], only: Sequence[str] = ()) -> None:
    """Print the diff of every file the render would change (``only``: these paths)."""
    wanted = {PurePosixPath(p) for p in only}
    for step in steps:
        if step.file.policy == STATE or not step.writes or step.action is Action.CHMOD:
            continue
        if wanted and PurePosixPath(step.file.path) not in wanted:
            continue
        new = None if step.action is Action.DELETE else step.file.content
        from mlstack.render.merge import unified_diff  # ruamel.yaml: not for --help

        typer.echo(unified_diff(step.file.path, step.before, new), nl=False)


def print_conflicts(steps: Sequence[Step]) -> None:
    """Name each conflict a render would leave, and files it could not merge."""
    for step in steps:
        for conflict in step.conflicts:
            typer.echo(f"conflict: {conflict.file}: {conflict.where}")
        if step.action is Action.CONFLICT and step.file.policy != STATE:
            typer.echo(f"conflict: {step.file.path}: edited, no merge base (needs --force)")
