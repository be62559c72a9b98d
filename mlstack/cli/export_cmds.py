"""``mlstack export k8s|swarm`` and ``mlstack deploy swarm``: parse, call the core, print.

Registered on the main app by :func:`register`; the export core lives in ``mlstack.export``,
the deployment in ``mlstack.run.swarm``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from mlstack.cli.app import STATE
from mlstack.cli.messages import handled
from mlstack.errors import ExitCode

export_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Write the stack for Kubernetes or Docker Swarm.",
)
deploy_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Deploy the stack to a cluster."
)

OUT = typer.Option(None, "--out", "-o", help="Output folder (default: deploy/<target>).")
PROFILE = typer.Option("prod", "--profile", "-p", help="dev or prod (default: prod).")
CHECK = typer.Option(
    False, "--check", help="Write nothing; list what the target cannot carry; exit 1 if any."
)
TAG = typer.Option("latest", "--tag", help="Tag of the images mlstack builds, in the registry.")
FORCE = typer.Option(False, "--force", help="Overwrite edited export files (keeps .bak).")
AS_JSON = typer.Option(False, "--json", help="The notes as JSON (with --check).")
PUBLISH = typer.Option(
    "ingress", "--publish", help="How Swarm publishes the API: ingress (routing mesh) or host."
)


def _handled(func: Any) -> Any:
    """The error handling of every command (one message, its exit code), for the exports."""
    return handled(func, lambda: STATE["debug"])


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``deploy`` to the main app."""
    app.add_typer(export_app, name="export")
    app.add_typer(deploy_app, name="deploy")


def _run_export(
    target: str, out: Path | None, check: bool, force: bool, as_json: bool, **opts: Any
) -> None:
    from mlstack.export.project import ExportOptions, export_stack, write_stack_export

    if check:
        _print_check(export_stack(STATE["dir"], target, ExportOptions(**opts)).notes, as_json)
        return
    written = write_stack_export(STATE["dir"], target, out, ExportOptions(**opts), force)
    for step in written.steps:
        if step.writes:
            typer.echo(f"  {step.action.value:<9} {written.folder / step.file.path}")
    typer.echo(f"{target} export in {written.folder} ({len(written.result.files)} files)")
    _print_notes(written.result.notes)
    if written.next_steps:
        typer.echo("next (in the stack's folder):")
        for line in written.next_steps:
            typer.echo(f"  {line}")


def _print_notes(notes: list[Any]) -> None:
    if notes:
        typer.echo("not carried as is (service: key: why; instead: what mlstack did):")
        for note in notes:
            typer.echo(f"  {note}")


def _print_check(notes: list[Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"notes": [n.as_dict() for n in notes]}, indent=2))
    elif notes:
        _print_notes(notes)
    else:
        typer.echo("every setting is carried: nothing to report")
    if notes:
        raise typer.Exit(ExitCode.FAILURE)


@export_app.command("k8s")
@_handled
def export_k8s(
    out: Path | None = OUT,
    profile: str = PROFILE,
    check: bool = CHECK,
    tag: str = TAG,
    runtime_class: str | None = typer.Option(
        None, "--runtime-class", help="runtimeClassName of GPU pods (where NVIDIA is not default)."
    ),
    force: bool = FORCE,
    as_json: bool = AS_JSON,
) -> None:
    """Kustomize layout: base + overlays/dev + overlays/prod; the Secret made from .env."""
    _run_export(
        "k8s", out, check, force, as_json, profile=profile, tag=tag, runtime_class=runtime_class
    )


@export_app.command("swarm")
@_handled
def export_swarm(
    out: Path | None = OUT,
    profile: str = PROFILE,
    check: bool = CHECK,
    tag: str = TAG,
    publish: str = PUBLISH,
    force: bool = FORCE,
    as_json: bool = AS_JSON,
) -> None:
    """A stack file for `docker stack deploy` (Engine 20.10 and later)."""
    _run_export("swarm", out, check, force, as_json, profile=profile, tag=tag, publish=publish)


@deploy_app.command("swarm")
@_handled
def deploy_swarm(
    out: Path | None = OUT,
    profile: str = PROFILE,
    tag: str = TAG,
    publish: str = PUBLISH,
    timeout: float = typer.Option(300, help="Seconds to wait for every service to converge."),
    force: bool = FORCE,
) -> None:
    """Export, create the Swarm secrets from .env, `docker stack deploy`, wait until healthy."""
    from mlstack.cli.console import health_table
    from mlstack.cli.console import out as console
    from mlstack.run.swarm import deploy

    name, reports = deploy(STATE["dir"], out, profile, tag, publish, timeout, force, typer.echo)
    console.print(health_table(reports, f"{name} (swarm, {profile})"))
    if not all(r.ok for r in reports):
        raise typer.Exit(ExitCode.FAILURE)
