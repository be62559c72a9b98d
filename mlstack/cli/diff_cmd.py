"""``mlstack diff``: what a render would change, as a unified diff (registered by `register`)."""

from __future__ import annotations

import typer

from mlstack.cli.app import STATE
from mlstack.cli.diff_view import print_conflicts, print_diff
from mlstack.cli.messages import handled


def diff(files: list[str] = typer.Argument(None, help="Only these files (default: all).")) -> None:
    """What `mlstack render` would change (writes nothing)."""
    from mlstack.render.generate import render_project

    result = render_project(STATE["dir"], dry_run=True)
    print_diff(result.steps, files or ())
    print_conflicts(result.steps)


def register(app: typer.Typer) -> None:
    """Add ``diff`` to the main app."""
    app.command("diff")(handled(diff, lambda: STATE["debug"]))
