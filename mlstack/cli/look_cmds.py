"""``mlstack status`` and ``logs``: looking at a stack that runs.

Registered on the main app by :func:`register`; the core is ``mlstack.run.status_view`` and
``mlstack.run.operate``.
"""

from __future__ import annotations

import typer

from mlstack.cli.app import PROFILE, STATE, command
from mlstack.errors import ExitCode
from mlstack.layout import Profile


def status(
    profile: Profile = PROFILE,
    as_json: bool = typer.Option(False, "--json", help="Stable JSON for scripts."),
    show_secrets: bool = typer.Option(
        False, "--show-secrets", help="Print tokens and passwords inside the URLs."
    ),
) -> None:
    """Show state, health and how to get in (URLs, tokens)."""
    from mlstack.run.status_view import status_view

    view = status_view(STATE["dir"], profile, show_secrets)
    if as_json:
        import json

        from mlstack.run.status_view import view_json

        typer.echo(json.dumps(view_json(view), indent=2))
    else:
        from mlstack.cli.console import print_status

        print_status(view)
    if not view.ok:
        raise typer.Exit(ExitCode.FAILURE)


def logs(
    service: list[str] = typer.Argument(None, help="Services (default: all)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing."),
    tail: int | None = typer.Option(None, "--tail", "-n", min=0, help="Last N lines of each."),
    since: str | None = typer.Option(None, help="Since a time (2026-01-02T15:04:05) or 10m."),
    timestamps: bool = typer.Option(False, "--timestamps", "-t", help="Show timestamps."),
) -> None:
    """Print the stack's logs (all services, or the ones named)."""
    from mlstack.run.operate import logs as run_logs
    from mlstack.run.records import LogOptions

    options = LogOptions(follow, tail, since, timestamps)
    for line in run_logs(STATE["dir"], service or [], options=options):
        typer.echo(line, nl=False)


def register() -> None:
    """Add the commands to the main app."""
    command("status")(status)
    command("logs")(logs)
