"""``services.<name>`` env, secrets, ports and resources, as compose keys.

Pure functions the compose model calls: the environment a service gets from mlstack.yaml (never
a secret's value: a ``${NAME...}`` reference that Compose fills from ``.env``), the extra ports
it publishes, and its prod limits.
"""

from __future__ import annotations

import copy
from typing import Any

from mlstack.spec.catalog import Fragment, Rules
from mlstack.spec.service_settings import ExtraPort, ServiceSettings
from mlstack.spec.stack_spec import StackSpec

GENERATED_MISSING = "run mlstack render to create .env"


def settings_of(spec: StackSpec, service: str) -> ServiceSettings:
    """A service's ``services.<name>`` settings (empty when it has none)."""
    return spec.settings.get(service, ServiceSettings())


def user_missing(name: str) -> str:
    """What compose says when a user-filled secret's line is missing from ``.env``."""
    return f"put {name}=VALUE in .env (mlstack.yaml services.*.secrets asks for it)"


def secret_reference(name: str, user: bool) -> str:
    """The compose value that hands a secret over from ``.env``.

    A generated secret is required to be set and not empty (``:?``); a user's may be empty in
    ``.env`` (render writes ``NAME=`` for them to fill), so that ``down`` and ``status`` still
    work before it is filled: ``mlstack up`` and ``doctor`` refuse the empty value themselves.
    """
    if user:
        return f"${{{name}?{user_missing(name)}}}"
    return f"${{{name}:?{GENERATED_MISSING}}}"


def literal(value: str | int | float | bool) -> str:
    """A non-secret value as compose takes it literally (``$`` would be interpolated)."""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return text.replace("$", "$$")


def settings_environment(spec: StackSpec, service: str) -> dict[str, str]:
    """The variables mlstack.yaml's env and secrets give ``service``."""
    settings = settings_of(spec, service)
    env = {key: literal(value) for key, value in settings.env.items()}
    env.update({s.name: secret_reference(s.name, s.user) for s in settings.secrets})
    return env


def over_variant(service: dict[str, Any], spec: StackSpec, name: str) -> dict[str, Any]:
    """A dev/prod variant whose own environment sets a key of ``env``: the user's value wins."""
    env = settings_of(spec, name).env
    variant = service.get("environment")
    if not isinstance(variant, dict) or not env.keys() & variant.keys():
        return service
    out = copy.deepcopy(service)
    out["environment"].update({k: literal(v) for k, v in env.items() if k in variant})
    return out


def extra_port_variable(component: str, container: int) -> str:
    """The ``.env`` variable that moves an extra host port, e.g. ``MINIO_9001_HOST_PORT``."""
    return f"{component.upper().replace('-', '_')}_{container}_HOST_PORT"


def extra_ports(frag: Fragment, spec: StackSpec, rules: Rules) -> list[str]:
    """Compose ``ports`` entries of a service's extra ports in a profile (same rule as its port)."""
    if not (rules.publish_address or frag.publish_in_prod):
        return []
    address = f"{rules.publish_address}:" if rules.publish_address else ""
    return [_entry(frag.name, port, address) for port in settings_of(spec, frag.name).ports]


def _entry(name: str, port: ExtraPort, address: str) -> str:
    variable = extra_port_variable(name, port.container)
    return f"{address}${{{variable}:-{port.host}}}:{port.container}"


def with_limits(service: dict[str, Any], spec: StackSpec, name: str) -> dict[str, Any]:
    """The prod service with mlstack.yaml's ``resources`` as its ``deploy.resources.limits``."""
    resources = settings_of(spec, name).resources
    if not resources:
        return service
    out = copy.deepcopy(service)
    limits = out.setdefault("deploy", {}).setdefault("resources", {}).setdefault("limits", {})
    limits.update(resources)
    return out
