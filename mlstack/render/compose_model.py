"""The compose model: a pure function from spec + catalog + rules to four compose documents.

``compose.yaml`` holds what every environment shares and runs on any host, GPU or not;
``compose.override.yaml`` (dev, loaded by ``docker compose`` automatically) and
``compose.prod.yaml`` hold only the differences; ``compose.gpu.yaml`` holds the GPU reservations
(and the CUDA base images), applied only on a host with a usable GPU (run/gpu_host.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from mlstack.render.hardening import harden
from mlstack.render.health_timing import as_gate
from mlstack.render.service_settings import (
    extra_ports,
    over_variant,
    settings_environment,
    with_limits,
)
from mlstack.spec.catalog import Catalog, Fragment, Rules
from mlstack.spec.placeholders import fill
from mlstack.spec.service_settings import wanted
from mlstack.spec.stack_spec import SIZE, StackSpec, size_in_bytes

NETWORK = "backend"
CA_SECRET = "pip_ca"
INDEX_SECRET = "pip_index_credentials"
HEALTHY = {"condition": "service_healthy"}
STARTED = {"condition": "service_started"}
MISSING_SECRET = "run mlstack render to create .env"


@dataclass(frozen=True)
class ComposeModel:
    """The compose documents, as plain dicts (``gpu``: empty when no service asks for one)."""

    base: dict[str, Any]
    dev: dict[str, Any]
    prod: dict[str, Any]
    gpu: dict[str, Any] = field(default_factory=dict)


def overlay(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge ``extra`` into a copy of ``base``: mappings key by key, anything else replaced."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = overlay(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def port_variable(component: str) -> str:
    """The ``.env`` variable that moves a component's host port, e.g. ``REDIS_HOST_PORT``."""
    return f"{component.upper().replace('-', '_')}_HOST_PORT"


def image_defaults(spec: StackSpec, catalog: Catalog) -> dict[str, str]:
    """Every image slot with its default reference, placeholders filled.

    A slot defined by a component of the stack wins over one defined elsewhere in the catalog.
    """
    from mlstack.machine.cuda import cuda_image_tag

    values = {
        "python": spec.python,
        "cuda_tag": cuda_image_tag(spec.cuda),
        "cuda_major": spec.cuda.split(".")[0],
    }
    frags = [*catalog.values(), *(catalog[name] for name in spec.components)]
    return {slot: fill(ref, values) for frag in frags for slot, ref in frag.images.items()}


def image_ref(spec: StackSpec, catalog: Catalog, slot: str) -> str:
    """The reference for an image slot: the spec's override, else the fragment's default."""
    return spec.images.get(slot) or image_defaults(spec, catalog)[slot]


def build_compose(spec: StackSpec, catalog: Catalog, dev: Rules, prod: Rules) -> ComposeModel:
    """Compose the stack: pure, so the same inputs always give the same documents."""
    frags = [catalog[name] for name in spec.components]
    gates = {name for f in frags for name in f.waits_for}
    base = {
        "name": spec.name,
        "services": {
            f.name: _require(_base_service(f, spec, catalog, f.name in gates), _secrets(frags))
            for f in frags
        },
        "networks": {NETWORK: {}},
    }
    volumes = {vol: {} for f in frags for vol in f.volumes}
    if volumes:
        base["volumes"] = volumes
    if any(f.build for f in frags) and build_secrets(spec):
        base["secrets"] = build_secrets(spec)
    prod_services = {f.name: _variant(f, spec, prod, f.prod) for f in frags}
    for name, service in prod_services.items():
        if "shm_size" in base["services"][name]:
            _room_for_shm(service, spec.shm_size)
        prod_services[name] = with_limits(service, spec, name)  # the user's, checked vs shm
    return ComposeModel(
        base=base,
        dev={"services": {f.name: _variant(f, spec, dev, f.dev) for f in frags}},
        prod={"services": prod_services},
        gpu=gpu_document(spec, catalog),
    )


def gpu_document(spec: StackSpec, catalog: Catalog) -> dict[str, Any]:
    """``compose.gpu.yaml``: each GPU service's device request and CUDA base image.

    Apart from compose.yaml so that the same repo runs on a host without a GPU: there the file
    is left out and the services run on CPU with their CPU base image.
    """
    services = {}
    for name in (c for c in spec.components if spec.uses_gpu(c)):
        devices = [spec.gpu[name].compose_request()]
        service: dict[str, Any] = {
            "deploy": {"resources": {"reservations": {"devices": devices}}},
            "environment": {"NVIDIA_DRIVER_CAPABILITIES": "compute,utility"},
        }
        gpu_base = catalog[name].images.get(f"{catalog[name].image}-gpu")
        if catalog[name].build and gpu_base:
            slot = f"{catalog[name].image}-gpu"
            service["build"] = {"args": {BASE_ARG: image_ref(spec, catalog, slot)}}
        elif catalog[name].build in TWO_TARGETS:
            service["build"] = {"target": "gpu"}
        services[name] = service
    return {"services": services} if services else {}


TWO_TARGETS = ("trainer",)  # build templates with a cpu and a gpu target (render/dockerfiles.py)
BASE_ARG = "BASE_IMAGE"  # the build arg that picks a built image's base (CPU or CUDA)


def _room_for_shm(service: dict[str, Any], shm_size: str) -> None:
    """/dev/shm is tmpfs and counts against the memory limit: keep the limit above it.

    A limit mlstack cannot read (``${MEMORY}``, ``4GiB``) is left to Compose.
    """
    limits: Any = service
    for key in ("deploy", "resources", "limits"):
        limits = limits.get(key) if isinstance(limits, dict) else None
    if not isinstance(limits, dict) or not SIZE.match(str(limits.get("memory", "")).lower()):
        return
    wanted = size_in_bytes(shm_size) + 4 * 1024**3
    if size_in_bytes(str(limits["memory"])) < wanted:
        limits["memory"] = f"{wanted // 1024**2}m"


def _environment_mapping(env: Any) -> dict[str, Any]:
    """A service's environment as a mapping (Compose also takes a list of ``KEY=VALUE``)."""
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {key: (value if sep else None) for key, sep, value in pairs}
    return dict(env or {})


def _base_service(frag: Fragment, spec: StackSpec, catalog: Catalog, gate: bool) -> dict[str, Any]:
    """``gate``: another service of the stack waits for this one to be healthy."""
    present = wanted(frag.name, spec.components, catalog, spec.settings)
    service: dict[str, Any] = _build(frag, spec) if frag.build else {}
    if not frag.build:
        service["image"] = image_ref(spec, catalog, frag.image)
    body = frag.service
    for name in present:
        body = overlay(body, frag.with_.get(name, {}).get("service", {}))
    if gate and isinstance(body.get("healthcheck"), dict):
        body = {**body, "healthcheck": as_gate(body["healthcheck"])}
    body = overlay(body, spec.compose.get(frag.name, {}))  # services.<name>.compose
    service.update(copy.deepcopy(body))
    env = {
        **_environment_mapping(service.get("environment")),
        **_environment(frag, spec, catalog, present),
        **settings_environment(spec, frag.name),  # services.<name>.env and .secrets
    }
    if env:
        service["environment"] = env
    if frag.shm or spec.uses_gpu(frag.name):
        service["shm_size"] = spec.shm_size
    mounts = [f"{vol}:{path}" for vol, path in frag.volumes.items()]
    if mounts or "volumes" in service:
        service["volumes"] = mounts + (service.get("volumes") or [])
    depends = {
        n: dict(HEALTHY if n in frag.waits_for else STARTED)
        for n in present
        if not catalog[n].is_job
    }
    if depends:
        service["depends_on"] = depends
    if "network_mode" not in service:  # Compose refuses both (an allowed network_mode: host)
        service["networks"] = [NETWORK]
    return service


def _environment(
    frag: Fragment, spec: StackSpec, catalog: Catalog, present: list[str]
) -> dict[str, str]:
    """What mlstack adds to a service's environment: the settings of what it uses, and more."""
    env = {key: value for name in present for key, value in catalog[name].provides.items()}
    if frag.name == "postgres":  # the databases other components asked for (initdb script)
        databases = [
            catalog[n].database
            for n in spec.components
            if "postgres" in catalog[n].uses and catalog[n].database
        ]
        env["POSTGRES_EXTRA_DATABASES"] = ",".join(databases)
    return env


def _secrets(frags: list[Fragment]) -> list[str]:
    return [name for f in frags for name in f.secrets]


def _require(value: Any, secrets: list[str]) -> Any:
    """Make every ``${SECRET}`` required, so plain `docker compose` without .env says why."""
    if isinstance(value, dict):
        return {k: _require(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_require(v, secrets) for v in value]
    if isinstance(value, str):
        for name in secrets:
            value = value.replace(f"${{{name}}}", f"${{{name}:?{MISSING_SECRET}}}")
    return value


def build_secrets(spec: StackSpec) -> dict[str, dict[str, str]]:
    """The BuildKit secrets of the builds: the CA bundle (a file) and the index credential.

    The credential's source is an environment variable, never a file beside compose.yaml:
    its value lives only in .env. Compose does not read build secrets from .env (on purpose,
    since 2.39.3), so ``mlstack up`` passes it into compose's environment (run/engine.py).
    """
    secrets = {}
    if spec.ca_bundle:
        secrets[CA_SECRET] = {"file": spec.ca_bundle}
    if spec.pip_index_credentials:
        secrets[INDEX_SECRET] = {"environment": spec.pip_index_credentials}
    return secrets


def _build(frag: Fragment, spec: StackSpec) -> dict[str, Any]:
    build: dict[str, Any] = {"context": f"./{frag.name}"}
    if frag.build in TWO_TARGETS and spec.uses_gpu(frag.name):
        build["target"] = "cpu"  # compose.gpu.yaml picks "gpu" on GPU hosts
    if build_secrets(spec):
        build["secrets"] = list(build_secrets(spec))
    return {"build": build}


def _variant(frag: Fragment, spec: StackSpec, rules: Rules, own: dict[str, Any]) -> dict[str, Any]:
    """Dev or prod keys: the rules' defaults, the fragment's own, then the hardening (last)."""
    service = overlay(rules.every_job if frag.is_job else rules.every_service, own)
    if rules.hardening:
        allowed = [p for p in spec.allowed if p.service == frag.name]
        service = harden(service, rules.hardening, allowed)
    publish = frag.port and (rules.publish_address or frag.publish_in_prod)
    if publish:
        address = f"{rules.publish_address}:" if rules.publish_address else ""
        host = f"${{{port_variable(frag.name)}:-{spec.ports[frag.name]}}}"
        service["ports"] = [f"{address}{host}:{frag.port}"]
    if extra_ports(frag, spec, rules):
        service["ports"] = [*service.get("ports", []), *extra_ports(frag, spec, rules)]
    return over_variant(service, spec, frag.name)
