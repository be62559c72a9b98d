"""`mlstack up` on the terminal: each event of the core becomes a line, a table or a report."""

from __future__ import annotations

from typing import Any

from mlstack.cli import console
from mlstack.run import events


class UpView:
    """The callback ``operate.up`` reports to; a context, so the live table always closes."""

    def __init__(self) -> None:
        self.progress: console.Progress | None = None

    def __enter__(self) -> UpView:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop_progress()

    def __call__(self, event: events.Event) -> None:
        """Show one event."""
        if isinstance(event, events.Rendered):
            console.say(f"  {event.step}")
        elif isinstance(event, events.CheckWarning):
            check = event.check
            console.say(f"warning: {check.id}: {check.found}\n  fix: {check.fix}")
        elif isinstance(event, events.GpuDecided):
            console.say(console.gpu_line(event.decision))
        elif isinstance(event, events.Pulling):
            console.say(f"pulling: {', '.join(event.images)}")
        elif isinstance(event, events.Building):
            services = ", ".join(event.services)
            console.say(f"building: {services} (this can take minutes the first time)")
        elif isinstance(event, events.Starting):
            self._start_progress(event)
        elif isinstance(event, events.Tick) and self.progress:
            self.progress.tick(event.states, event.done, event.elapsed)
        elif isinstance(event, events.Reported):
            self._stop_progress()
            console.out.print(console.health_table(list(event.reports), event.title))
        elif isinstance(event, events.Failed):
            console.print_failure(event.report, event.logs, list(event.hints))
        elif isinstance(event, events.Interrupted):
            self._stop_progress()
            console.say("\nstopped waiting. Running now:")
            console.out.print(console.health_table(list(event.reports)))
            console.say("`mlstack status` shows them; `mlstack down` stops them.")

    def _start_progress(self, event: events.Starting) -> None:
        services = ", ".join(event.services)
        console.say(f"starting {services} ({event.profile}); waiting up to {event.timeout:.0f}s")
        self.progress = console.Progress(list(event.services)).__enter__()

    def _stop_progress(self) -> None:
        if self.progress:
            self.progress.__exit__(None, None, None)
            self.progress = None


def show_claimed(claimed: Any) -> None:
    """What ``--free-ports`` moved this checkout to (written to mlstack.local.yaml)."""
    if not claimed:
        console.say("free ports: nothing of this stack is in use here; nothing changed")
        return
    if claimed.name:
        console.say(f"free ports: compose project {claimed.name} (the committed one is in use)")
    for service, (old, new) in claimed.ports.items():
        console.say(f"free ports: {service} {old} -> {new} (in use)")
    console.say("  written to mlstack.local.yaml (this machine only) and .env")


CLASHES = ("project", "ports")  # the preflight checks --free-ports can fix


def offer_free_ports(error: Any) -> bool:
    """In a terminal, when only a clash stopped ``up``: show it and ask to pick free ones.

    Without a terminal (a script, CI) nothing is asked: the error stands, with its fix.
    """
    import sys

    import typer

    failed = list(error.failed)
    if not failed or any(c.id not in CLASHES for c in failed):
        return False
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    for check in failed:
        console.say(f"{check.id}: {check.found}")
    return typer.confirm(
        "Pick free ports and a project name of this checkout's own (mlstack.local.yaml)?",
        default=True,
    )
