"""A stack on Docker Swarm: ``mlstack deploy swarm``, and its state for ``mlstack status``.

Deploy = render (the stack's ``.env``), build the images mlstack builds (no registry: they must
be on the node), export, create the Swarm secrets from ``.env`` (values on stdin, never on a
command line or in a file), ``docker stack deploy``, then wait as ``up`` does: every service
converged with its task healthy, and the published API answering from this machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mlstack.errors import EngineError
from mlstack.export.project import ExportOptions, write_stack_export
from mlstack.export.swarm import STACK_FILE, secret_name
from mlstack.layout import ENV_FILE
from mlstack.render.envfile import parse_env, secret_names
from mlstack.render.published import long_running
from mlstack.run.docker_cli import DockerFailed, run_docker
from mlstack.run.engine import START_ENGINE
from mlstack.run.health import wait_for
from mlstack.run.probes import Probe
from mlstack.run.records import ServiceReport, ServiceState
from mlstack.spec import contain
from mlstack.spec.stack_spec import REGISTRY

if TYPE_CHECKING:
    from mlstack.run.stack import Stack

NOT_MANAGER = "this Docker engine is not a Swarm manager"
STARTING = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting")


class Swarm:
    """The docker CLI's swarm, stack, service and secret commands for one stack."""

    def __init__(self, stack: str) -> None:
        self.stack = stack

    def _run(self, *args: str, what: str, fix: str, stdin: bytes | None = None) -> str:
        try:
            return run_docker(args, stdin=stdin)
        except DockerFailed as exc:
            raise EngineError(f"{what}: {exc.words()}", fix) from exc

    def is_manager(self) -> bool:
        """Whether this engine can deploy stacks (an active Swarm manager)."""
        state = self._run(
            "info",
            "--format",
            "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}",
            what="the Docker engine is not reachable",
            fix=START_ENGINE,
        )
        return state.split() == ["active", "true"]

    def has_secret(self, name: str) -> bool:
        """Whether a Swarm secret of that name exists."""
        out = self._run(
            "secret",
            "ls",
            "--format",
            "{{.Name}}",
            what="docker secret ls failed",
            fix=START_ENGINE,
        )
        return name in out.split()

    def create_secret(self, name: str, value: str) -> None:
        """A Swarm secret whose value goes on stdin only."""
        self._run(
            "secret",
            "create",
            "--label",
            f"com.docker.stack.namespace={self.stack}",
            name,
            "-",
            stdin=value.encode(),
            what=f"cannot create the Swarm secret {name}",
            fix="check `docker secret ls`; a secret cannot change: `docker secret rm` it first",
        )

    def deploy(self, stack_file: Path, registry: bool) -> None:
        """``docker stack deploy``; without a registry, the node's own images."""
        resolve = ["--with-registry-auth"] if registry else ["--resolve-image", "never"]
        self._run(
            "stack", "deploy", *resolve, "-c", str(stack_file), self.stack,
            what="docker stack deploy failed",
            fix=f"read the message; `mlstack export swarm --check` lists what {stack_file.name} "
            "carries differently",
        )  # fmt: skip

    def _json_lines(self, *args: str) -> list[dict]:
        out = self._run(*args, "--format", "{{json .}}", what="docker failed", fix=START_ENGINE)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def deployed(self) -> bool:
        """Whether this stack has services on this Swarm (False where there is no Swarm)."""
        try:  # one call: on an engine outside a Swarm, `service ls` fails at once
            return bool(self._services())
        except EngineError:
            return False

    def _services(self) -> list[dict]:
        label = f"label=com.docker.stack.namespace={self.stack}"
        return self._json_lines("service", "ls", "--filter", label)

    def states(self) -> dict[str, ServiceState]:
        """Each service's state as a ServiceState: converged and healthy, or why not."""
        tasks = self._json_lines("stack", "ps", "--no-trunc", self.stack)
        health = self._local_health()
        states = {}
        for service in self._services():
            name = service["Name"].removeprefix(f"{self.stack}_")
            mine = [t for t in tasks if t["Name"].startswith(f"{service['Name']}.")]
            states[name] = _state(name, service["Replicas"], mine, health.get(service["Name"]))
        return states

    def _local_health(self) -> dict[str, str]:
        """Health of this node's task containers: service name -> healthy/starting/unhealthy."""
        rows = self._json_lines("ps", "--filter", f"label=com.docker.stack.namespace={self.stack}")
        out = {}
        for row in rows:
            labels = dict(x.split("=", 1) for x in row.get("Labels", "").split(",") if "=" in x)
            status = row.get("Status", "")
            found = next((h for h in ("unhealthy", "healthy", "starting") if h in status), "")
            out[labels.get("com.docker.swarm.service.name", "")] = found
        return out


def _state(name: str, replicas: str, tasks: list[dict], health: str | None) -> ServiceState:
    running, _, desired = replicas.partition("/")
    if desired.split(" ")[0] == "0":
        return ServiceState(name, f"{name} (0 replicas)", "scaled to 0", "")
    current = [t for t in tasks if t.get("DesiredState", "").lower() == "running"]
    task = current[0] if current else {}
    label = task.get("Name", f"{name}.1")
    if running == desired.split(" ")[0]:
        # Swarm reports a task running only once its health check passed
        return ServiceState(name, label, "running", health or "healthy")
    failed = next((t for t in tasks if t.get("Error")), {})
    why = f"last task: {failed['Error']}" if failed else ""
    words = task.get("CurrentState", "").lower().split()
    state = "created" if not words or words[0] in STARTING else "restarting"
    return ServiceState(name, label, state, why or (words[0] if words else "starting"))


def probes_and_urls(stack: Stack) -> tuple[dict[str, Probe], dict[str, str]]:
    """The published services (the API), probed from this machine through the published port."""
    spec, catalog = stack.spec, stack.catalog
    probes, urls = {}, {}
    for name in long_running(spec, catalog):
        frag = catalog[name]
        if frag.publish_in_prod and frag.port:
            port = spec.ports[name]
            probes[name] = Probe(
                frag.probe.get("kind", "tcp"), "127.0.0.1", port, frag.probe.get("path", "")
            )
            if frag.url:
                urls[name] = frag.url.format(port=port)
    return probes, urls


def deployed_reports(stack: Stack) -> list[ServiceReport] | None:
    """``mlstack status`` of a stack deployed on this Swarm; None when it is not deployed."""
    swarm = Swarm(stack.spec.name)
    if not swarm.deployed():
        return None
    probes, urls = probes_and_urls(stack)
    states = swarm.states()
    services = long_running(stack.spec, stack.catalog)
    return wait_for(services, lambda: states, probes, urls, timeout=0, sleep=lambda _: None)


def deploy(
    root: Path,
    out: Path | None,
    profile: str,
    tag: str,
    publish: str,
    timeout: float,
    force: bool,
    say: Callable[[str], None],
) -> tuple[str, list[ServiceReport]]:
    """Deploy the stack on this engine's Swarm; its name, and every service's report."""
    from mlstack.run.preflight import images_to_get
    from mlstack.run.stack import open_stack

    stack = open_stack(root, profile, render=True)
    swarm = Swarm(stack.spec.name)
    if not swarm.is_manager():
        raise EngineError(NOT_MANAGER, "make it one: `docker swarm init` (or join a swarm)")
    options = ExportOptions(profile, tag, publish=publish)
    folder = write_stack_export(root, "swarm", out, options, force).folder
    registry = bool(stack.spec.images.get(REGISTRY))
    services = long_running(stack.spec, stack.catalog)
    if not registry:
        _images_on_this_node(stack, images_to_get(stack, services, build=False), say)
    _secrets(root, stack, swarm, say)
    say(f"deploying {stack.spec.name} ({profile}) from {folder / STACK_FILE}")
    swarm.deploy(folder / STACK_FILE, registry)
    probes, urls = probes_and_urls(stack)
    say(f"waiting up to {timeout:.0f}s for {', '.join(services)}")
    return stack.spec.name, wait_for(services, swarm.states, probes, urls, timeout)


def _images_on_this_node(
    stack: Stack, wanted: tuple[list[str], list[str]], say: Callable[[str], None]
) -> None:
    to_build, to_pull = wanted
    for image in to_pull:
        say(f"pulling {image}")
        stack.engine.pull(image)
    if to_build:
        say(f"building {', '.join(to_build)} (docker compose build)")
        stack.engine.compose(
            "build",
            *to_build,
            what="docker compose build failed",
            fix="read the build output above",
        )


def _secrets(root: Path, stack: Stack, swarm: Swarm, say: Callable[[str], None]) -> None:
    values = parse_env(contain.read_text(root, ENV_FILE) or "")
    for key in secret_names(stack.spec, stack.catalog):
        name = secret_name(stack.spec, key)
        if swarm.has_secret(name):
            say(f"secret {name}: kept (a Swarm secret cannot change)")
        else:
            swarm.create_secret(name, values[key])
            say(f"secret {name}: created from {ENV_FILE}")
