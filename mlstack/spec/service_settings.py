"""``services.<name>`` in mlstack.yaml: per-service env, secrets, ports, resources and uses.

The schema checks each value's shape; this module checks what needs the rest of the stack:
the service is in it, a name does not collide with a secret or port mlstack already writes,
a host port is not taken twice, a memory limit leaves room for /dev/shm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mlstack.errors import InputError
from mlstack.spec.catalog import Catalog
from mlstack.spec.credentials import credential_name, credential_value, reserved_secret

USER = "user"  # a secret the user fills in .env; "random": generated like the stack's own
SIZE = re.compile(r"^(\d+(?:\.\d+)?)([bkmg])$")


@dataclass(frozen=True)
class ExtraSecret:
    """A secret a service asks for: generated into ``.env``, or left for the user to fill."""

    name: str
    user: bool = False


@dataclass(frozen=True)
class ExtraPort:
    """One more published port of a service: the container's and the host's default."""

    container: int
    host: int


@dataclass(frozen=True)
class ServiceSettings:
    """One service's ``services.<name>`` fields (packages, apt, compose live on StackSpec)."""

    env: dict[str, str | int | float | bool] = field(default_factory=dict)
    secrets: tuple[ExtraSecret, ...] = ()
    ports: tuple[ExtraPort, ...] = ()
    resources: dict[str, str] = field(default_factory=dict)  # prod limits: cpus, memory
    uses: tuple[str, ...] = ()


def built_lists(
    data: dict[str, Any], key: str, components: tuple[str, ...], catalog: Catalog, source: str
) -> dict[str, tuple[str, ...]]:
    """``services.<name>.packages`` / ``.apt``: only for components in the stack mlstack builds."""
    found = {}
    for name, settings in data.get("services", {}).items():
        items = tuple(settings.get(key, ()))
        if not items:
            continue
        if name not in components or catalog[name].build is None:
            built = sorted(c for c in components if catalog[c].build)
            raise InputError(
                source,
                f"services.{name}.{key}",
                f"{name!r} is not an image mlstack builds in this stack",
                f"{key} go to a built component: {', '.join(built) or 'none in this stack'}",
            )
        found[catalog[name].build] = items  # keyed by what is built: the image's folder
    return found


def service_settings(
    data: dict[str, Any],
    components: tuple[str, ...],
    catalog: Catalog,
    ports: dict[str, int],
    source: str,
) -> dict[str, ServiceSettings]:
    """Every service's env, secrets, ports, resources and uses, checked against the stack."""
    out = {}
    for name, raw in data.get("services", {}).items():
        fields = {k: raw[k] for k in ("env", "secrets", "ports", "resources", "uses") if k in raw}
        if not fields:
            continue
        if name not in components:
            raise InputError(
                source,
                f"services.{name}.{next(iter(fields))}",
                f"{name!r} is not a component of this stack",
                f"add it (`mlstack add {name}`) or use one of: {', '.join(components)}",
            )
        out[name] = ServiceSettings(
            env=dict(raw.get("env", {})),
            secrets=tuple(_secret(item) for item in raw.get("secrets", ())),
            ports=tuple(_port(item) for item in raw.get("ports", ())),
            resources={k: str(v) for k, v in raw.get("resources", {}).items()},
            uses=tuple(raw.get("uses", ())),
        )
    _check_secrets(out, components, catalog, source)
    _check_env(out, components, catalog, source)
    _check_ports(out, ports, source)
    _check_uses(out, components, catalog, source)
    return out


def _secret(item: str | dict[str, str]) -> ExtraSecret:
    if isinstance(item, str):
        return ExtraSecret(item)
    return ExtraSecret(item["name"], item.get("from", "random") == USER)


def _port(item: int | dict[str, int]) -> ExtraPort:
    if isinstance(item, int):
        return ExtraPort(item, item)
    return ExtraPort(item["container"], item.get("host", item["container"]))


def stack_secrets(components: tuple[str, ...], catalog: Catalog) -> dict[str, str]:
    """The secrets the stack's fragments declare: name -> the component that declares it."""
    return {s: c for c in components for s in catalog[c].secrets}


def _check_secrets(
    settings: dict[str, ServiceSettings], components: tuple[str, ...], catalog: Catalog, source: str
) -> None:
    own = stack_secrets(components, catalog)
    kinds: dict[str, tuple[str, bool]] = {}
    for service, s in settings.items():
        for i, secret in enumerate(s.secrets):
            where = f"services.{service}.secrets[{i}]"
            if secret.name in own:
                raise InputError(
                    source,
                    where,
                    f"{secret.name} is already a secret of {own[secret.name]} (generated in .env)",
                    f"choose another name; {service} gets {own[secret.name]}'s settings "
                    f"with `uses: [{own[secret.name]}]`",
                )
            if reserved_secret(secret.name):
                raise InputError(source, where, reserved_secret(secret.name), "choose another name")
            if secret.name in [x.name for x in s.secrets[:i]]:
                raise InputError(source, where, f"{secret.name} is listed twice", "list it once")
            other = kinds.setdefault(secret.name, (service, secret.user))
            if other[1] != secret.user:
                raise InputError(
                    source,
                    where,
                    f"{secret.name} is also a secret of {other[0]}, filled another way",
                    "give it the same `from:` in both services",
                )


def _check_env(
    settings: dict[str, ServiceSettings], components: tuple[str, ...], catalog: Catalog, source: str
) -> None:
    secrets = set(stack_secrets(components, catalog))
    secrets |= {x.name for s in settings.values() for x in s.secrets}
    for service, s in settings.items():
        for key in s.env:
            where = f"services.{service}.env.{key}"
            if key in secrets:
                raise InputError(
                    source,
                    where,
                    f"{key} is a secret of this stack; its value lives in .env only",
                    f"remove it from env ({service} gets it through `secrets` or `uses`)",
                )
            if credential_name(key) or credential_value(s.env[key]):
                what = "carries a password" if credential_value(s.env[key]) else "is a credential"
                raise InputError(
                    source,
                    where,
                    f"{key} looks like it {what}, and mlstack.yaml is committed",
                    f"list it under services.{service}.secrets "
                    f"(`- {{name: {key}, from: user}}`) and put its value in .env",
                )


def _check_ports(settings: dict[str, ServiceSettings], ports: dict[str, int], source: str) -> None:
    seen = {port: f"ports.{name}" for name, port in ports.items()}
    for service, s in settings.items():
        containers = set()
        for i, port in enumerate(s.ports):
            where = f"services.{service}.ports[{i}]"
            if port.host in seen:
                raise InputError(
                    source,
                    where,
                    f"host port {port.host} is already used by {seen[port.host]}",
                    f"publish it on another host port: {{container: {port.container}, "
                    f"host: {port.host + 1}}}",
                )
            if port.container in containers:
                raise InputError(
                    source, where, f"container port {port.container} is listed twice",
                    "list each container port once",
                )  # fmt: skip
            seen[port.host], containers = where, containers | {port.container}


def _check_uses(
    settings: dict[str, ServiceSettings], components: tuple[str, ...], catalog: Catalog, source: str
) -> None:
    for service, s in settings.items():
        for i, name in enumerate(s.uses):
            if name not in components or name == service:
                what = "the service itself" if name == service else "not in the stack"
                raise InputError(
                    source,
                    f"services.{service}.uses[{i}]",
                    f"{name!r} is {what}",
                    f"use another component of the stack: {', '.join(components)}",
                )
            if catalog[name].is_job:
                raise InputError(
                    source,
                    f"services.{service}.uses[{i}]",
                    f"{name} is a job: it is not running when {service} starts",
                    "use a long-running service",
                )


def check_room(
    settings: dict[str, ServiceSettings],
    shm_users: list[str],
    shm: str,
    shm_bytes: int,
    source: str,
) -> None:
    """A prod memory limit counts /dev/shm (tmpfs): it must hold it and some more."""
    for name in shm_users:
        memory = settings.get(name, ServiceSettings()).resources.get("memory")
        if memory and memory_bytes(memory) <= shm_bytes:
            raise InputError(
                source,
                f"services.{name}.resources.memory",
                f"{memory} does not hold {name}'s /dev/shm ({shm}), which counts against it",
                f"give it more than shm_size, e.g. {shm_bytes // 1024**3 + 4}g",
            )


def memory_bytes(size: str) -> int:
    """A compose memory limit such as ``2g`` or ``512m`` in bytes."""
    number, unit = SIZE.match(size.lower()).groups()  # type: ignore[union-attr]
    return int(float(number) * 1024 ** "bkmg".index(unit))


def wanted(
    service: str,
    components: tuple[str, ...],
    catalog: Catalog,
    settings: dict[str, ServiceSettings],
) -> list[str]:
    """The components ``service`` gets the settings (``provides``) of and starts after.

    Its fragment's ``requires`` and ``uses``, mlstack.yaml's ``services.<name>.uses``, and
    every fragment of the stack that says it ``serves`` this service; each once, in that order.
    """
    frag = catalog[service]
    extra = settings.get(service, ServiceSettings()).uses
    serving = [c for c in components if service in catalog[c].serves]
    names = [*frag.requires, *frag.uses, *extra, *serving]
    return [n for n in dict.fromkeys(names) if n in components and n != service]


def check_cycles(
    components: tuple[str, ...],
    catalog: Catalog,
    settings: dict[str, ServiceSettings],
    source: str,
) -> None:
    """Refuse ``uses``/``serves`` that make two services wait for each other (compose would)."""
    graph = {c: wanted(c, components, catalog, settings) for c in components}
    for start in components:
        if start in _closure(graph, start):
            loop = sorted(n for n in _closure(graph, start) if start in _closure(graph, n))
            raise InputError(
                source,
                "services",
                f"{', '.join(loop)} wait for each other (uses / serves make a cycle)",
                "remove one of the services.<name>.uses or fragment serves entries",
            )


def _closure(graph: dict[str, list[str]], start: str) -> set[str]:
    """Every service ``start`` waits for, directly or not."""
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += graph[name]
    return seen
