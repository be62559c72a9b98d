"""Output a user would rather look at than read: live progress, tables, failure reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from mlstack.run.checks import Check
from mlstack.run.gpu_host import GpuDecision
from mlstack.run.records import ServiceReport, ServiceState

if TYPE_CHECKING:
    from mlstack.run.status_view import StatusView

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}


def health_table(reports: Sequence[ServiceReport], title: str = "") -> Table:
    """Service, state, health, URL, time to healthy (a URL is wrapped, never cut)."""
    table = Table(title=title or None, title_justify="left")
    for column in ("service", "state", "health", "url", "healthy after"):
        table.add_column(column, overflow="fold")
    for r in reports:
        style = "green" if r.ok else "red"
        seconds = f"{r.seconds:.1f}s" if r.seconds is not None else "-"
        table.add_row(r.service, r.state, f"[{style}]{r.health}[/]", r.url or "-", seconds)
    return table


def progress_table(
    services: list[str],
    states: dict[str, ServiceState],
    done: dict[str, ServiceReport],
    elapsed: float,
) -> Table:
    """The live view while waiting."""
    table = Table(title=f"waiting for health ({elapsed:.0f}s)", title_justify="left")
    for column in ("service", "state", "health"):
        table.add_column(column)
    for name in services:
        state = states.get(name)
        if name in done:
            mark = "[green]healthy[/]" if done[name].ok else "[red]failed[/]"
        else:
            mark = f"[yellow]{(state.health or 'running') if state else 'pending'}…[/]"
        table.add_row(name, state.state if state else "-", mark)
    return table


class Progress:
    """A live table on a terminal; one line per change elsewhere (CI logs stay readable)."""

    def __init__(self, services: list[str]) -> None:
        self.services = services
        self.live: Live | None = None
        self.seen: dict[str, str] = {}

    def __enter__(self) -> Progress:
        if out.is_terminal:
            self.live = Live(
                progress_table(self.services, {}, {}, 0),
                console=out,
                refresh_per_second=4,
                transient=True,
            )
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live:
            self.live.__exit__(*exc)

    def tick(
        self, states: dict[str, ServiceState], done: dict[str, ServiceReport], elapsed: float
    ) -> None:
        """Show the current states."""
        if self.live:
            self.live.update(progress_table(self.services, states, done, elapsed))
            return
        for name in self.services:
            state = states.get(name)
            now = (
                ("healthy" if done[name].ok else "failed")
                if name in done
                else (f"{state.state}/{state.health or '-'}" if state else "pending")
            )
            if self.seen.get(name) != now:
                self.seen[name] = now
                out.print(f"  {elapsed:5.1f}s  {name:<10} {now}")


def print_failure(report: ServiceReport, logs: str, hints: list[str]) -> None:
    """State, exit code, last log lines and the known causes of one failed service."""
    err.print(f"\n[red bold]✗ {report.service}[/]: {report.problem}")
    err.print(
        f"  state: {report.state}, health: {report.health}, exit code: "
        f"{report.exit_code if report.exit_code is not None else '-'}"
    )
    lines = logs.rstrip().splitlines()[-30:]
    if lines:
        err.print(f"  last {len(lines)} log lines:")
        for line in lines:
            err.print(f"    {line}", markup=False)
    for hint in hints:
        err.print(f"  hint: {hint}")
    err.print(
        f"  troubleshoot: docker compose logs {report.service}; "
        f"docker compose ps {report.service}; mlstack doctor"
    )


def checks_table(checks: list[Check]) -> Table:
    """The doctor's findings."""
    table = Table(title_justify="left")
    for column in ("check", "status", "found", "fix"):
        table.add_column(column, overflow="fold")
    for c in checks:
        table.add_row(c.id, f"[{STATUS_STYLE[c.status]}]{c.status}[/]", c.found, c.fix)
    return table


def say(message: str) -> None:
    """A line of progress."""
    out.print(message, markup=False)


def gpu_line(decision: GpuDecision) -> str:
    """``gpu: ...`` as `up` prints it: which services get a GPU or run on CPU, and why."""
    services = ", ".join(decision.services)
    if decision.use_gpu:
        return f"gpu: {services} use the GPU ({decision.reason})"
    return f"gpu: {services} run on CPU on this host (gpu.mode optional): {decision.reason}"


def print_status(view: StatusView) -> None:
    """The health table, then one unbroken line per way in, and where the secrets are."""
    title = f"{view.spec.name} ({view.profile})"
    if view.note:
        err.print(f"{title}: {view.note}", markup=False)
        return
    out.print(health_table(view.reports, title))
    if view.access or view.ports:
        out.print("get in:")
        for service, url in [*view.access.items(), *view.ports.items()]:  # + extra ports
            out.print(f"  {service:<10} {url}", markup=False, soft_wrap=True)
    if view.gpu is not None and view.gpu.services:
        out.print(gpu_line(view.gpu), markup=False, soft_wrap=True)
    if view.secrets:
        out.print(
            f"secrets: {', '.join(view.secrets)} in .env (`mlstack status --show-secrets` "
            "prints them in the URLs)",
            markup=False,
            soft_wrap=True,
        )
