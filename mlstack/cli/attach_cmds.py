"""``mlstack run``, ``exec``, ``shell`` and ``open``: into the stack from the user's terminal.

Registered on the main app by :func:`register`; the core is ``mlstack.run.attach``. A command
run inside the stack gives its own exit code back (a job that fails fails the script).
"""

from __future__ import annotations

import os
import sys

import typer

from mlstack.cli.app import PROFILE, STATE, command
from mlstack.layout import Profile

ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def run(
    job: str = typer.Argument(..., help="The job (a component of kind job: trainer)."),
    args: list[str] = typer.Argument(None, help="Arguments for the job, after --."),
    profile: Profile = PROFILE,
) -> None:
    """Run a job once and exit with its code.

    The job gets its GPUs and shm; its output is streamed.
    """
    from mlstack.run.attach import run_job

    raise typer.Exit(run_job(STATE["dir"], job, list(args or []), profile))


def exec_(
    service: str = typer.Argument(..., help="A running service."),
    cmd: list[str] = typer.Argument(None, help="The command (default: a shell), after --."),
    profile: Profile = PROFILE,
) -> None:
    """Run a command in a running service (default: a shell)."""
    from mlstack.run.attach import exec_in

    raise typer.Exit(exec_in(STATE["dir"], service, list(cmd or []), profile))


def shell(
    service: str = typer.Argument(..., help="A running service."), profile: Profile = PROFILE
) -> None:
    """Open a shell (bash, else sh) in a running service."""
    from mlstack.run.attach import exec_in

    raise typer.Exit(exec_in(STATE["dir"], service, [], profile))


def open_(
    service: str = typer.Argument(..., help="A service with a URL (api, jupyter, mlflow...)."),
    profile: Profile = PROFILE,
) -> None:
    """Print a service's URL; open it in a browser if any."""
    from mlstack.run.attach import service_url

    opened = service_url(STATE["dir"], service, profile)
    typer.echo(opened.shown)
    if has_browser():
        import webbrowser

        webbrowser.open(opened.url)


def has_browser() -> bool:
    """A display, a Mac, or a BROWSER the user chose; never on a server or in CI."""
    if os.environ.get("CI"):
        return False
    graphical = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return bool(os.environ.get("BROWSER") or graphical or sys.platform == "darwin")


def register() -> None:
    """Add the commands to the main app (in this order in --help)."""
    command("run", context_settings=ARGS)(run)
    command("exec", context_settings=ARGS)(exec_)
    command("shell")(shell)
    command("open")(open_)
