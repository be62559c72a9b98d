"""``mlstack add``, ``remove`` and ``render``: changing a stack and its files.

Registered on the main app by :func:`register`; the core is ``mlstack.render.generate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mlstack.cli.app import DRY_RUN, DRY_RUN_DONE, STATE, _print_steps, command
from mlstack.errors import ExitCode

if TYPE_CHECKING:  # imported by the commands that run: --help stays quick
    from mlstack.spec.stack_spec import StackSpec


def add(
    names: list[str] = typer.Argument(..., help="Components to add."),
    force: bool = typer.Option(False, help="Overwrite edited files (keeps .bak)."),
    dry_run: bool = DRY_RUN,
) -> None:
    """Add components to mlstack.yaml and re-render."""
    from mlstack.render.generate import change_components

    result = change_components(STATE["dir"], add=names, force=force, dry_run=dry_run)
    if result.already:
        nothing = "; nothing changed" if not result.steps else ""
        typer.echo(f"already in the stack: {', '.join(result.already)}{nothing}")
    _print_steps(result.steps, verbose=dry_run, notes=result.notes)
    _print_unused(result.spec)
    if dry_run:
        typer.echo(DRY_RUN_DONE)


def remove(
    names: list[str] = typer.Argument(..., help="Components to remove."),
    force: bool = typer.Option(False, help="Overwrite edited files (keeps .bak)."),
    dry_run: bool = DRY_RUN,
) -> None:
    """Remove components from mlstack.yaml and re-render."""
    from mlstack.render.generate import change_components

    result = change_components(STATE["dir"], remove=names, force=force, dry_run=dry_run)
    _print_steps(result.steps, verbose=dry_run, notes=result.notes)
    _print_unused(result.spec)
    if dry_run:
        typer.echo(DRY_RUN_DONE)


def render(
    check: bool = typer.Option(False, help="Write nothing; exit 1 if files drifted."),
    force: bool = typer.Option(
        False, help="Overwrite edited files instead of merging (keeps .bak)."
    ),
    dry_run: bool = typer.Option(False, help="Print the plan and the diff; write nothing."),
    ours: list[str] = typer.Option(
        [], "--ours", help="YAML KEY (or FILE:KEY) in conflict: keep your value (repeatable)."
    ),
    theirs: list[str] = typer.Option(
        [], "--theirs", help="YAML KEY (or FILE:KEY) in conflict: take mlstack's (repeatable)."
    ),
) -> None:
    """Regenerate the files from mlstack.yaml, merging your edits."""
    from mlstack.render.generate import render_project

    resolve = {**{key: "ours" for key in ours}, **{key: "theirs" for key in theirs}}
    result = render_project(STATE["dir"], force, check or dry_run, resolve)
    if check:
        for step in result.drift:
            typer.echo(f"drift: {step}")
        if result.drift:
            typer.echo("fix: run `mlstack render` (or --force for edited files)", err=True)
            raise typer.Exit(ExitCode.FAILURE)
        typer.echo("no drift: the files match mlstack.yaml")
        return
    _print_steps(result.steps, verbose=dry_run, notes=result.notes)
    _print_unused(result.spec)
    if dry_run:
        from mlstack.cli.diff_view import print_conflicts, print_diff

        print_diff(result.steps)
        print_conflicts(result.steps)
        typer.echo(DRY_RUN_DONE)


def _print_unused(spec: StackSpec) -> None:
    """A note on .env keys nothing reads: render never removes a key, the user may."""
    from mlstack.render.env_usage import unused_in_project

    unused = unused_in_project(STATE["dir"], spec)
    if unused:
        typer.echo(
            f"note: .env keys no service uses: {', '.join(unused)} "
            "(kept; delete their lines if nothing else of yours reads them)"
        )


def register() -> None:
    """Add the commands to the main app."""
    command("add")(add)
    command("remove")(remove)
    command("render")(render)
