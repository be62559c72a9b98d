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
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Compose, check and run a containerised ML stack in one command.",
)
# "dir": the stack (-C, else the nearest mlstack.yaml upward); "here": -C or the cwd, for init
STATE: dict[str, Any] = {"dir": Path(), "here": Path(), "debug": False}


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """``app.command`` with mlstack's error handling."""
    return lambda func: app.command(*args, **kwargs)(handled(func, lambda: STATE["debug"]))


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"mlstack {version('mlstack')}")
        raise typer.Exit()


@app.callback()
def main_options(
    project_dir: Path | None = typer.Option(
        None,
        "--dir",
        "-C",
        help="Project directory (default: the nearest one upward with mlstack.yaml).",
        file_okay=False,
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
    version: bool = typer.Option(
        False, "--version", "-V", is_eager=True, callback=_print_version, help="Print the version."
    ),
) -> None:
    """Compose, check and run a containerised ML stack in one command."""
    STATE.update(dir=project_dir, here=project_dir or Path(), debug=debug)
    if project_dir is None:  # as compose and git: the nearest stack upward, else here
        from mlstack.spec.project_root import find_project

        STATE["dir"] = find_project(Path.cwd()) or Path()


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
    """Create a stack: mlstack.yaml and its files.

    A wizard, or flags with --yes.
    """
    from mlstack.cli.answers_flow import gather_answers, gpu_flags, parse_pairs, split_list
    from mlstack.cli.messages import as_flag_error
    from mlstack.render.generate import init_project
    from mlstack.spec.answers import InitOptions

    root = directory or STATE["here"]
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
    if dry_run:
        typer.echo(DRY_RUN_DONE)
    else:
        run = "mlstack" if root == STATE["here"] else f"mlstack -C {root}"
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


DRY_RUN = typer.Option(False, "--dry-run", help="Print the plan; write nothing.")
DRY_RUN_DONE = "dry run: nothing was written"


@command()
def validate() -> None:
    """Check mlstack.yaml, the fragments and the compose files.

    `docker compose config` judges the files, where Compose is installed.
    """
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
    free_ports: bool = typer.Option(
        False, help="Ports or project in use here: pick free ones (mlstack.local.yaml)."
    ),
) -> None:
    """Start the stack and prove every service healthy.

    Or say which service is not, and why.
    """
    from mlstack.cli.up_view import UpView, offer_free_ports, show_claimed
    from mlstack.errors import PreflightError
    from mlstack.run.free_ports import claim
    from mlstack.run.operate import up as run_up

    if free_ports:
        show_claimed(claim(STATE["dir"], profile))
    try:
        with UpView() as view:
            run_up(STATE["dir"], profile, build, timeout, service, on_event=view)
    except PreflightError as error:  # in a terminal, a clash offers what --free-ports does
        if free_ports or not offer_free_ports(error):
            raise
        show_claimed(claim(STATE["dir"], profile))
        with UpView() as view:
            run_up(STATE["dir"], profile, build, timeout, service, on_event=view)


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
def doctor(
    profile: Profile = PROFILE,
    as_json: bool = typer.Option(False, "--json", help="Stable JSON for scripts."),
) -> None:
    """Check this machine against the stack.

    Engine, Compose, GPU, CUDA, shm, ports, disk, files.
    """
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
