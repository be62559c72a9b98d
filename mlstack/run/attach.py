"""Commands a user runs *inside* the stack: a job (``run``), a command or shell (``exec``), a URL.

Each is one ``docker compose`` call whose terminal is the user's own (the engine hands stdin,
stdout and stderr through, nothing is captured), so a shell is interactive and a job streams its
output; the command's exit code is the result. The plain-compose equivalents are in README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlstack.errors import ExitCode, InputError, MlstackError
from mlstack.layout import ENV_FILE, Profile
from mlstack.render.envfile import build_secret_values, parse_env
from mlstack.render.published import long_running
from mlstack.run.access import access_urls
from mlstack.run.environment import REAL, Environment
from mlstack.run.stack import Stack, open_stack
from mlstack.spec import contain

SHELL = ("sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash || exec sh")


class NotRunningError(MlstackError):
    """A service that must be running is not (exit 1: the stack, not the input, is the cause)."""

    exit_code = ExitCode.FAILURE


def run_job(
    root: Path, job: str, args: list[str], profile: Profile, env: Environment = REAL
) -> int:
    """``docker compose --profile P run --rm JOB ARGS`` (GPUs and shm from the files); its code."""
    stack = open_stack(root, profile, env, render=True)
    jobs = [c for c in stack.spec.components if stack.catalog[c].is_job]
    if job not in stack.spec.components:
        choose = f"jobs of this stack: {', '.join(jobs)}" if jobs else "this stack has no job"
        raise InputError("mlstack run", "JOB", f"{job!r} is not in this stack", choose)
    profiles = stack.catalog[job].service.get("profiles") or []
    secrets = parse_env(contain.read_text(stack.root, ENV_FILE) or "")
    return stack.engine.run_job(job, args, profiles, build_secret_values(stack.spec, secrets))


def exec_in(
    root: Path, service: str, command: list[str], profile: Profile, env: Environment = REAL
) -> int:
    """``docker compose exec SERVICE COMMAND`` (a shell by default) in a running service."""
    stack = open_stack(root, profile, env)
    _require_running(stack, service, "exec")
    return stack.engine.exec(service, command or list(SHELL))


@dataclass(frozen=True)
class Opened:
    """What ``mlstack open`` shows (secrets as ``${VAR}``) and what it hands a browser."""

    shown: str
    url: str


def service_url(root: Path, service: str, profile: Profile, env: Environment = REAL) -> Opened:
    """The URL of a published service, with its token filled in for the browser."""
    stack = open_stack(root, profile, env)
    _require_running(stack, service, "open")
    shown = access_urls(stack, show_secrets=False)
    if service not in shown:
        raise InputError(
            "mlstack open",
            "SERVICE",
            f"{service} publishes no URL in the {stack.profile} profile",
            f"services with a URL: {', '.join(shown) or 'none'}",
        )
    return Opened(shown[service], access_urls(stack, show_secrets=True)[service])


def _require_running(stack: Stack, service: str, command: str) -> None:
    services = long_running(stack.spec, stack.catalog)
    if service not in services:
        raise InputError(
            f"mlstack {command}",
            "SERVICE",
            f"{service!r} is not a service of this stack",
            f"choose among: {', '.join(services)}",
        )
    state = stack.engine.states().get(service)
    if state is None or state.state != "running":
        raise NotRunningError(
            f"{service} is not running" + (f" ({state.state})" if state else ""),
            "start it: `mlstack up`",
        )
