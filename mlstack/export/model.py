"""One service as every export target reads it: the compose model of a profile, made explicit.

The compose model is built from the spec (``render.compose_model``); this module reads each
service of one profile (the base alone, or base + dev/prod) into an :class:`ExportService`
whose fields the targets map one by one. Keys that no target knows are kept in ``extra`` so that
they are reported, never dropped silently.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from mlstack.errors import InputError
from mlstack.export.images import image_for
from mlstack.export.values import Text, literal, parse_text, seconds
from mlstack.layout import SPEC_FILE
from mlstack.render.compose_model import ComposeModel, overlay
from mlstack.render.envfile import extra_secrets, secret_names
from mlstack.render.service_settings import settings_of
from mlstack.spec.catalog import Catalog, Fragment
from mlstack.spec.gpu_choice import GpuChoice
from mlstack.spec.stack_spec import StackSpec

Devices = str | int | tuple[str, ...]  # a cluster's view of a GPU choice: all, a count, ids

# Keys the export model reads; anything else in a service lands in ``extra``.
KNOWN = {
    "build", "image", "command", "environment", "healthcheck", "volumes", "depends_on",
    "networks", "deploy", "shm_size", "profiles", "read_only", "tmpfs", "user", "cap_drop",
    "security_opt", "restart", "logging", "ports",
}  # fmt: skip
NO_NEW_PRIVILEGES = "no-new-privileges:true"


@dataclass(frozen=True)
class Health:
    """A compose health check, as argv inside the container, with its timings in seconds."""

    test: tuple[str, ...]  # CMD-SHELL becomes (/bin/sh, -c, TEXT)
    interval: int
    timeout: int
    retries: int
    start_period: int

    @property
    def shell(self) -> str:
        """The check as one shell command line (for waits written in sh)."""
        if self.test[:2] == ("/bin/sh", "-c") and len(self.test) == 3:
            return self.test[2]
        return shlex.join(self.test)


@dataclass(frozen=True)
class Bind:
    """A host folder mounted into the container (``./api/app:/app/app:ro``)."""

    source: str
    target: str
    read_only: bool


@dataclass(frozen=True)
class ExportService:
    """Everything a target needs about one service of one profile."""

    name: str
    frag: Fragment
    image: str
    built: bool
    command: tuple[Text, ...] | None
    env: tuple[tuple[str, Text], ...]
    health: Health | None
    volumes: tuple[tuple[str, str], ...]  # named volume -> path
    binds: tuple[Bind, ...]
    tmpfs: tuple[str, ...]
    read_only: bool
    user: str | None
    cap_drop: tuple[str, ...]
    no_new_privileges: bool
    security_opt: tuple[str, ...]  # besides no-new-privileges
    limits: dict[str, str]
    gpu: Devices | None
    shm: str | None
    port: int | None
    published: bool
    depends: tuple[str, ...]
    restart: str | None
    logging: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    extra_ports: tuple[tuple[int, int], ...] = ()  # services.<name>.ports: (container, host)

    @property
    def container_ports(self) -> tuple[tuple[str, int], ...]:
        """Every container port, named: the service's own (``service``), then the extra ones."""
        own = (("service", self.port),) if self.port else ()
        return own + tuple((f"port-{c}", c) for c, _ in self.extra_ports)

    @property
    def is_job(self) -> bool:
        """A job (the trainer): run on demand, not kept running."""
        return self.frag.is_job

    def env_value(self, name: str) -> Text | None:
        """The text of one environment variable, if the service sets it."""
        return dict(self.env).get(name)


def export_services(
    spec: StackSpec,
    catalog: Catalog,
    model: ComposeModel,
    profile: str | None,
    registry_required: bool,
    tag: str = "latest",
) -> list[ExportService]:
    """Every service of the stack for ``profile`` (None: the base alone), in stack order."""
    variant = {"dev": model.dev, "prod": model.prod}.get(profile or "", {"services": {}})
    secrets = set(secret_names(spec, catalog)) | set(extra_secrets(spec, user=True))
    out = []
    for name in spec.components:
        compose = overlay(model.base["services"][name], variant["services"].get(name, {}))
        frag = catalog[name]
        image = image_for(spec, catalog, frag, tag, registry_required)
        out.append(_service(spec, frag, compose, image, secrets, profile))
    return out


def _service(
    spec: StackSpec,
    frag: Fragment,
    compose: dict[str, Any],
    image: str,
    secrets: set[str],
    profile: str | None,
) -> ExportService:
    where = f"{frag.source}: {frag.name}"
    named, binds = _volumes(compose.get("volumes", []))
    security = [str(s) for s in compose.get("security_opt", [])]
    command = compose.get("command")
    if isinstance(command, str):
        command = shlex.split(command)
    env = compose.get("environment", {})
    return ExportService(
        name=frag.name,
        frag=frag,
        image=image,
        built=frag.build is not None,
        command=tuple(parse_text(str(c), secrets, where) for c in command) if command else None,
        env=tuple((k, parse_text(str(v), secrets, where)) for k, v in env.items()),
        health=_health(compose.get("healthcheck"), secrets, where),
        volumes=tuple(named),
        binds=tuple(binds),
        tmpfs=tuple(compose.get("tmpfs", [])),
        read_only=bool(compose.get("read_only", False)),
        user=str(compose["user"]) if "user" in compose else None,
        cap_drop=tuple(compose.get("cap_drop", [])),
        no_new_privileges=NO_NEW_PRIVILEGES in security,
        security_opt=tuple(s for s in security if s != NO_NEW_PRIVILEGES),
        limits={
            k: str(v)
            for k, v in compose.get("deploy", {}).get("resources", {}).get("limits", {}).items()
        },
        gpu=_devices(spec.gpu.get(frag.name)),
        shm=compose.get("shm_size"),
        port=frag.port,
        published=bool(compose.get("ports")),
        depends=tuple(compose.get("depends_on", {})),
        restart=compose.get("restart"),
        logging=dict(compose.get("logging", {})),
        extra={k: v for k, v in compose.items() if k not in KNOWN},
        extra_ports=tuple((p.container, p.host) for p in settings_of(spec, frag.name).ports),
    )


def _volumes(entries: list[Any]) -> tuple[list[tuple[str, str]], list[Bind]]:
    named, binds = [], []
    for entry in entries:
        if isinstance(entry, dict):  # the long syntax
            if entry.get("type") == "bind":
                binds.append(Bind(entry["source"], entry["target"], bool(entry.get("read_only"))))
            elif entry.get("type", "volume") == "volume" and entry.get("source"):
                named.append((entry["source"], entry["target"]))
            continue
        source, _, rest = str(entry).partition(":")
        target, _, mode = rest.partition(":")
        if source.startswith((".", "/", "~")):
            binds.append(Bind(source, target, "ro" in mode.split(",")))
        else:
            named.append((source, target))
    return named, binds


def _health(check: dict[str, Any] | None, secrets: set[str], where: str) -> Health | None:
    if not check or check.get("disable") or check.get("test") in (["NONE"], "NONE"):
        return None
    test = check["test"]
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    words = []
    for word in test[1:]:
        text = literal(parse_text(str(word), secrets, f"{where}: healthcheck.test"))
        if text is None:
            raise _secret_in_check(where)
        words.append(text)
    argv = ("/bin/sh", "-c", words[0]) if test[0] == "CMD-SHELL" else tuple(words)
    return Health(
        test=argv,
        interval=seconds(check.get("interval"), 30),
        timeout=seconds(check.get("timeout"), 30),
        retries=int(check.get("retries", 3)),
        start_period=seconds(check.get("start_period"), 0) if check.get("start_period") else 0,
    )


def _secret_in_check(where: str) -> Exception:
    return InputError(
        where,
        "healthcheck.test",
        "the health check names a secret: probes cannot read the cluster's secrets",
        "read it from the environment inside the check instead ($$VAR in a CMD-SHELL test)",
    )


def _devices(choice: GpuChoice | None) -> Devices | None:
    """The GPU choice as the exports read it: a count (schedulable), ``all`` or ids (refused)."""
    if choice is None or not choice.wanted:
        return None
    if choice.kind == "count":
        return choice.count
    return choice.ids if choice.kind == "ids" else choice.kind


def require_gpu_counts(services: list[ExportService]) -> None:
    """A cluster schedules a number of GPUs: ``all`` and device ids are refused, with the fix."""
    for svc in services:
        if svc.gpu is not None and not isinstance(svc.gpu, int):
            asked = "all GPUs" if svc.gpu == "all" else f"the GPUs {', '.join(svc.gpu)}"
            raise InputError(
                SPEC_FILE,
                "gpu",
                f"{svc.name} asks for {asked}: a cluster schedules a count of GPUs, "
                "never all of a node's or given devices",
                f"give {svc.name} a count, e.g. `gpu: {{devices: 1}}` or "
                f"`gpu: {{services: {{{svc.name}: 2}}}}`",
            )
