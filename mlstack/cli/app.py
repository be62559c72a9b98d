"""The command line: parse, call the core, print. No YAML, Docker or file I/O here.

Heavy modules (the Docker client, the wizard, schema validation) are imported inside the
commands that need them, so ``mlstack --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TYPER_USE_RICH", "0")  # rich help costs ~100 ms at every start

import typer

from mlstack.cli.messages import handled
from mlstack.errors import ExitCode, InputError
from mlstack.layout import Profile

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Compose, check and run a containerised ML stack in one command.",
)
STATE: dict[str, Any] = {"dir": Path(), "debug": False}


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """``app.command`` with mlstack's error handling."""
    return lambda func: app.command(*args, **kwargs)(handled(func, lambda: STATE["debug"]))


@app.callback()
def main_options(
    project_dir: Path = typer.Option(
        Path(), "--dir", "-C", help="Project directory.", file_okay=False
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
) -> None:
    """Compose, check and run a containerised ML stack in one command."""
    STATE.update(dir=project_dir, debug=debug)


def _print_steps(steps: list[Any], verbose: bool = True, notes: Any = ()) -> None:
    for step in steps:
        if verbose or step.writes:
            typer.echo(f"  {step}")
    for note in notes:
        typer.echo(note)


@command()
def init(
    directory: Path | None = typer.Argument(
        None, help="Where to create the stack (default: --dir)."
    ),
    name: str | None = typer.Option(None, help="Project name (compose project)."),
    with_: str | None = typer.Option(None, "--with", help="Components, comma-separated."),
    gpu: list[str] = typer.Option(
        [], help="none | all | COUNT | IDS (0,1); SERVICE=SPEC for one service (repeatable)."
    ),
    gpu_services: str | None = typer.Option(None, help="GPU services, comma-separated."),
    shm_size: str | None = typer.Option(None, help="/dev/shm for training and notebooks, e.g. 8g."),
    python: str | None = typer.Option(None, help="Python version of built images, e.g. 3.12."),
    cuda: str | None = typer.Option(None, help="CUDA version of GPU images, e.g. 12.8.1."),
    image: list[str] = typer.Option([], help="SLOT=REF image override (repeatable)."),
    port: list[str] = typer.Option([], help="COMPONENT=PORT host port (repeatable)."),
    ca_bundle: str | None = typer.Option(None, help="Extra CA bundle for pip in builds."),
    pip_index_url: str | None = typer.Option(None, help="pip index URL for builds."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Take defaults; never prompt."),
    force: bool = typer.Option(False, help="Replace an existing stack (edits kept as .bak)."),
    dry_run: bool = typer.Option(False, help="Print the plan; write nothing."),
) -> None:
    """Create mlstack.yaml and the stack's files (a wizard, or flags with --yes)."""
    from mlstack.cli.answers_flow import gather_answers, gpu_flags, parse_pairs, split_list
    from mlstack.cli.messages import as_flag_error
    from mlstack.render.generate import init_project
    from mlstack.spec.answers import InitOptions

    root = directory or STATE["dir"]
    gpu_default, gpu_per_service = gpu_flags(gpu)
    options = InitOptions(
        name=name,
        components=split_list(with_),
        gpu=gpu_default,
        gpu_services=split_list(gpu_services),
        gpu_per_service=gpu_per_service,
        shm_size=shm_size,
        python=python,
        cuda=cuda,
        images=parse_pairs(image, "--image"),
        ports=parse_pairs(port, "--port", int),
        ca_bundle=ca_bundle,
        pip_index_url=pip_index_url,
    )
    gathered = gather_answers(root, options, interactive=not yes, force=force)
    try:
        result = init_project(root, gathered.answers, force=force, dry_run=dry_run)
    except InputError as exc:
        raise as_flag_error(exc, gathered.asked) from exc
    for note in gathered.notes:  # what init chose on its own, and warnings: once it worked
        typer.echo(note, err=note.startswith("warning"))
    _print_steps(result.steps)
    if not dry_run:
        run = "mlstack" if root == STATE["dir"] else f"mlstack -C {root}"
        typer.echo(
            f"\nStack {result.spec.name!r} is ready in {root}. Next: "
            f"`{run} up` (or `{run} doctor` to check this machine first)."
        )


@command()
def components() -> None:
    """List the components that can be in a stack."""
    from mlstack.spec.catalog import load_catalog

    for frag in load_catalog(STATE["dir"]).values():
        extras = [x for x, on in (("gpu", frag.gpu), ("job", frag.is_job)) if on]
        tag = f" [{', '.join(extras)}]" if extras else ""
        typer.echo(f"{frag.name:<10} {frag.summary}{tag}")


@command()
def add(
    names: list[str] = typer.Argument(..., help="Components to add."),
    force: bool = typer.Option(False, help="Overwrite edited files (keeps .bak)."),
) -> None:
    """Add components to mlstack.yaml and re-render."""
    from mlstack.render.generate import change_components

    result = change_components(STATE["dir"], add=names, force=force)
    _print_steps(result.steps, verbose=False, notes=result.notes)


@command()
def remove(
    names: list[str] = typer.Argument(..., help="Components to remove."),
    force: bool = typer.Option(False, help="Overwrite edited files (keeps .bak)."),
) -> None:
    """Remove components from mlstack.yaml and re-render."""
    from mlstack.render.generate import change_components

    result = change_components(STATE["dir"], remove=names, force=force)
    _print_steps(result.steps, verbose=False, notes=result.notes)


@command()
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
    """Regenerate the stack's files from mlstack.yaml, merging your edits into them."""
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
    if dry_run:
        from mlstack.cli.diff_view import print_conflicts, print_diff

        print_diff(result.steps)
        print_conflicts(result.steps)
        typer.echo("dry run: nothing was written")


@command()
def validate() -> None:
    """Check mlstack.yaml and the fragments; run `docker compose config` when it is there."""
    from mlstack.run.validate import validate_project

    for line in validate_project(STATE["dir"]):
        typer.echo(line)


PROFILE = typer.Option(
    Profile.DEV, "--profile", "-p", help="dev (compose.override.yaml) or prod (compose.prod.yaml)."
)


@command()
def up(
    profile: Profile = PROFILE,
    build: bool = typer.Option(False, help="Rebuild the images mlstack builds."),
    timeout: float = typer.Option(300, help="Seconds to wait for every service to be healthy."),
    service: list[str] = typer.Option([], help="Only this service (repeatable) and its deps."),
) -> None:
    """Start the stack and prove every service healthy (or say which is not, and why)."""
    from mlstack.cli.up_view import UpView
    from mlstack.run.operate import up as run_up

    with UpView() as view:
        run_up(STATE["dir"], profile, build, timeout, service, on_event=view)


@command()
def status(
    profile: Profile = PROFILE,
    as_json: bool = typer.Option(False, "--json", help="Stable JSON for scripts."),
) -> None:
    """Show each service's state, health and URL now (no waiting)."""
    import json

    from mlstack.run import operate

    spec, reports = operate.status(STATE["dir"], profile)
    if as_json:
        typer.echo(json.dumps(operate.status_json(spec, profile, reports), indent=2))
    else:
        from mlstack.cli.console import health_table, out

        out.print(health_table(reports, f"{spec.name} ({profile})"))
    if not all(r.ok for r in reports):
        raise typer.Exit(ExitCode.FAILURE)


@command()
def down(
    volumes: bool = typer.Option(
        False, "--volumes", help="Also delete the named volumes (all the stack's data)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask to confirm --volumes."),
) -> None:
    """Stop the stack. The data in named volumes is kept unless --volumes."""
    from mlstack.run.operate import down as run_down

    if volumes and not yes:
        if not sys.stdin.isatty():
            raise InputError(
                "mlstack down",
                "--volumes",
                "deleting the data needs confirmation",
                "add --yes to confirm in a script",
            )
        typer.confirm("Delete every named volume of this stack (all its data)?", abort=True)
    run_down(STATE["dir"], volumes)
    typer.echo("stopped" + (" and deleted the volumes" if volumes else "; data volumes kept"))


@command()
def logs(
    service: str | None = typer.Argument(None, help="One service (default: all)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing."),
) -> None:
    """Print the stack's logs."""
    from mlstack.run.operate import logs as run_logs

    for line in run_logs(STATE["dir"], service, follow):
        typer.echo(line, nl=False)


@command()
def doctor(
    profile: Profile = PROFILE,
    as_json: bool = typer.Option(False, "--json", help="Stable JSON for scripts."),
) -> None:
    """Check this machine against the stack: engine, Compose, GPU, CUDA, shm, ports, disk, files."""
    import json

    from mlstack.run.doctor import run_doctor

    checks = run_doctor(STATE["dir"], profile)
    if as_json:
        typer.echo(json.dumps({"checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        from mlstack.cli.console import checks_table, out

        out.print(checks_table(checks))
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(ExitCode.FAILURE)


def main() -> None:
    """Console entry point."""
    app(prog_name="mlstack")


if __name__ == "__main__":
    sys.exit(main())
