"""What a rendered stack exposes per profile: its services, host ports, GPU users, image slots."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlstack.errors import InputError
from mlstack.layout import ENV_FILE
from mlstack.render.compose_model import port_variable
from mlstack.render.envfile import parse_env
from mlstack.render.service_settings import extra_port_variable, settings_of
from mlstack.spec import contain
from mlstack.spec.catalog import Catalog, load_rules
from mlstack.spec.stack_spec import StackSpec


@dataclass(frozen=True)
class Published:
    """A host port a service publishes in a profile."""

    service: str
    address: str  # "" = every interface
    port: int
    container: int | None = None  # an extra port's container port (None: the service's port)


def env_values(root: Path) -> dict[str, str]:
    """What compose interpolates with: ``.env``, overridden by the shell (compose's precedence)."""
    values = parse_env(contain.read_text(root, ENV_FILE) or "")
    values.update({k: v for k, v in os.environ.items() if k in values or k.endswith("_HOST_PORT")})
    return values


def long_running(spec: StackSpec, catalog: Catalog) -> list[str]:
    """The services ``up`` starts (jobs sit in a profile)."""
    return [c for c in spec.components if not catalog[c].is_job]


def published_ports(root: Path, spec: StackSpec, catalog: Catalog, profile: str) -> list[Published]:
    """Host ports of the profile, with ``*_HOST_PORT`` overrides from .env or the shell applied."""
    rules = load_rules(profile)
    env = env_values(root)
    out = []
    for name in long_running(spec, catalog):
        frag = catalog[name]
        if frag.port and (rules.publish_address or frag.publish_in_prod):
            port = _host_port(env.get(port_variable(name)), port_variable(name))
            out.append(Published(name, rules.publish_address, port or spec.ports[name]))
        if rules.publish_address or frag.publish_in_prod:
            out += _extra(name, spec, env, rules.publish_address)
    return out


def _extra(name: str, spec: StackSpec, env: dict[str, str], address: str) -> list[Published]:
    """The host ports of a service's ``services.<name>.ports``."""
    out = []
    for extra in settings_of(spec, name).ports:
        variable = extra_port_variable(name, extra.container)
        port = _host_port(env.get(variable), variable)
        out.append(Published(name, address, port or extra.host, extra.container))
    return out


def _host_port(value: str | None, variable: str) -> int | None:
    """A ``*_HOST_PORT`` from .env or the shell: a port, or None when unset."""
    if not value:
        return None
    if not (len(value) <= 5 and value.isascii() and value.isdigit() and 1 <= int(value) <= 65535):
        raise InputError(
            ENV_FILE,
            variable,
            f"expected a host port from 1 to 65535, got {value[:40]!r}",
            f"fix or delete the {variable} line in .env (or unset it in your shell)",
        )
    return int(value)
