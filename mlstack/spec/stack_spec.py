"""The stack spec: ``mlstack.yaml`` parsed, validated against the catalog, with defaults filled."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstack.errors import InputError
from mlstack.layout import SPEC_FILE
from mlstack.spec.catalog import Catalog, load_rules
from mlstack.spec.gpu_choice import GpuChoice, per_service
from mlstack.spec.index_url import IndexUrl, parse_index_url
from mlstack.spec.policy import Privilege, review
from mlstack.spec.schema import validate
from mlstack.spec.service_settings import (
    ServiceSettings,
    built_lists,
    check_cycles,
    check_room,
    service_settings,
)
from mlstack.spec.yamlio import load_file, to_plain

DEFAULT_PYTHON = "3.12"
DEFAULT_CUDA = "12.8.1"
SHM_WITH_GPU = "8gb"
SHM_WITHOUT_GPU = "1gb"
FIX = "edit mlstack.yaml (see README.md, mlstack.yaml reference), then run `mlstack render`"


@dataclass(frozen=True)
class StackSpec:
    """What the user asked for, complete: every default filled, every reference checked."""

    name: str
    components: tuple[str, ...]
    python: str = DEFAULT_PYTHON
    cuda: str = DEFAULT_CUDA
    gpu: dict[str, GpuChoice] = field(default_factory=dict)  # GPU services only
    gpu_mode: str = "optional"  # optional: CPU on hosts without a usable GPU; required: stop
    shm_size: str = SHM_WITHOUT_GPU
    ports: dict[str, int] = field(default_factory=dict)  # component -> host port
    images: dict[str, str] = field(default_factory=dict)  # slot -> reference (overrides)
    ca_bundle: str | None = None
    pip_index_url: str | None = None  # never with a credential (spec/index_url.py)
    pip_index_credentials: str | None = None  # the .env key holding the index's user:token
    compose: dict[str, dict[str, Any]] = field(default_factory=dict)  # services.<name>.compose
    packages: dict[str, tuple[str, ...]] = field(default_factory=dict)  # build template -> pip
    apt: dict[str, tuple[str, ...]] = field(default_factory=dict)  # build template -> apt
    settings: dict[str, ServiceSettings] = field(default_factory=dict)  # env, secrets, ports...
    allowed: tuple[Privilege, ...] = ()  # privileged settings allow: grants (README: allow)
    unused_allow: tuple[str, ...] = ()  # allow entries nothing asks for

    def uses_gpu(self, service: str) -> bool:
        """Whether ``service`` gets a GPU reservation."""
        return service in self.gpu


def load_spec(project_dir: Path, catalog: Catalog) -> StackSpec:
    """Read and check ``mlstack.yaml`` in ``project_dir``."""
    data = load_file(project_dir / SPEC_FILE, SPEC_FILE, root=project_dir)
    return spec_from_document(data, catalog, root=project_dir)


def spec_from_document(
    data: Any, catalog: Catalog, source: str = SPEC_FILE, root: Path | None = None
) -> StackSpec:
    """Validate a parsed mlstack.yaml and resolve it against the catalog.

    ``root``, the project directory, lets the privilege review see host paths inside the
    project that are symlinks leading out of it.
    """
    if not isinstance(data, dict):
        raise InputError(source, "", "must be a YAML mapping with name and components", FIX)
    index = _index_url(data, source)  # before the schema, whose messages quote the value
    validate(data, "spec", source, FIX)
    data = to_plain(data)
    components = _components(data["components"], catalog, source)
    gpu = _gpu(data.get("gpu", {}), components, catalog, source)
    compose = {name: dict(s.get("compose", {})) for name, s in data.get("services", {}).items()}
    hardening = load_rules("prod").hardening
    reviewed = review(catalog, components, data.get("allow", {}), compose, hardening, root)
    ports = _ports(data.get("ports", {}), components, catalog, source)
    settings = service_settings(data, components, catalog, ports, source)
    check_cycles(components, catalog, settings, source)
    shm = _shm_size(data.get("shm_size", SHM_WITH_GPU if gpu else SHM_WITHOUT_GPU), source)
    shm_users = [c for c in components if catalog[c].shm or c in gpu]
    check_room(settings, shm_users, shm, size_in_bytes(shm), source)
    return StackSpec(
        name=data["name"],
        components=components,
        python=_python(data, gpu, source),
        cuda=_cuda(data.get("cuda", DEFAULT_CUDA), gpu, source),
        gpu=gpu,
        gpu_mode=data.get("gpu", {}).get("mode", "optional"),
        shm_size=shm,
        ports=ports,
        images=_images(data.get("images", {}), catalog, source),
        ca_bundle=data.get("build", {}).get("ca_bundle"),
        pip_index_url=index.url if index else None,
        pip_index_credentials=index.credentials_var if index else None,
        compose={name: body for name, body in compose.items() if body},
        packages=built_lists(data, "packages", components, catalog, source),
        apt=built_lists(data, "apt", components, catalog, source),
        settings=settings,
        allowed=reviewed.allowed,
        unused_allow=reviewed.unused,
    )


def _index_url(data: dict[str, Any], source: str) -> IndexUrl | None:
    build = data.get("build")
    value = build.get("pip_index_url") if isinstance(build, dict) else None
    return parse_index_url(value, source) if isinstance(value, str) else None


def _components(names: list[str], catalog: Catalog, source: str) -> tuple[str, ...]:
    for i, name in enumerate(names):
        if name not in catalog:
            raise InputError(
                source,
                f"components[{i}]",
                f"unknown component {name!r}",
                f"use one of: {', '.join(sorted(catalog))} (`mlstack components`)",
            )
    for name in names:
        missing = [r for r in catalog[name].requires if r not in names]
        if missing:
            raise InputError(
                source,
                "components",
                f"{name} requires {', '.join(missing)}",
                f"add it: `mlstack add {' '.join(missing)}`",
            )
    order = list(catalog)  # catalog order (shipped, then the user's): stable whatever they wrote
    return tuple(sorted(names, key=order.index))


def _gpu(
    data: dict[str, Any], components: tuple[str, ...], catalog: Catalog, source: str
) -> dict[str, GpuChoice]:
    capable = [c for c in components if catalog[c].gpu]
    chosen = data.get("services")
    for name in chosen or ():
        if name not in capable:
            raise InputError(
                source,
                f"gpu.services.{name}",
                f"{name} is not a GPU-capable service of this stack",
                f"choose among: {', '.join(capable) or 'none (add jupyter or trainer)'}",
            )
    per = chosen if isinstance(chosen, dict) else {}
    asked = [("gpu.devices", data.get("devices", "none"))]
    asked += [(f"gpu.services.{n}", v) for n, v in per.items()]
    for field_name, value in asked:  # a GPU listed twice: the schema cannot see 0 and "0"
        try:
            GpuChoice.parse(value)
        except ValueError as exc:
            raise InputError(source, field_name, str(exc), "list each GPU once") from exc
    return per_service(GpuChoice.parse(asked[0][1]), capable, chosen)


def _python(data: dict[str, Any], gpu: dict[str, GpuChoice], source: str) -> str:
    """The images' Python; with a GPU trainer, the one its CUDA image has (no silent other)."""
    from mlstack.machine.cuda import image_python

    python = data.get("python", DEFAULT_PYTHON)
    if "trainer" not in gpu:
        return python
    cuda = _cuda(data.get("cuda", DEFAULT_CUDA), gpu, source)
    if python != (has := image_python(cuda)):
        raise InputError(
            source,
            "python",
            f"the GPU trainer runs on nvidia/cuda {cuda}, whose Ubuntu has Python {has}, "
            f"not {python}",
            f'use python: "{has}", or a CUDA release whose image has Python {python} '
            "(12.6 and later: Python 3.12)",
        )
    return python


def field_problem(key: str, value: Any) -> str | None:
    """Why ``value`` cannot be mlstack.yaml's top-level ``key`` (None: it can).

    The wizard checks each answer as it is typed with the same rules the file is read with.
    """
    doc = {"name": "x", "components": ["api"], key: value}
    try:
        validate(doc, "spec", SPEC_FILE, FIX)
        if key == "shm_size":
            _shm_size(value, SPEC_FILE)
    except InputError as exc:
        return exc.problem
    return None


def _cuda(value: str, gpu: dict[str, GpuChoice], source: str) -> str:
    """A CUDA release NVIDIA's table knows (its image exists), with a PyTorch wheel if needed."""
    from mlstack.machine.cuda import CUDA_DRIVER_TABLE, parse_cuda_version, torch_wheel_index

    known = list(CUDA_DRIVER_TABLE)
    fix = f"use a release such as 12.8.1 or 12.6.3 (known: {known[0]} to {known[-1]})"
    try:
        full = ".".join(map(str, parse_cuda_version(value)))
    except ValueError as exc:
        raise InputError(source, "cuda", str(exc), fix) from exc
    if full not in CUDA_DRIVER_TABLE:
        raise InputError(source, "cuda", f"CUDA {value} is not a release NVIDIA ships", fix)
    if "trainer" in gpu:
        try:
            torch_wheel_index(full)
        except ValueError as exc:
            raise InputError(
                source,
                "cuda",
                f"{exc} (the GPU trainer installs PyTorch)",
                "use 11.8, or 12.1 and later",
            ) from exc
    return value


def _ports(
    data: dict[str, int], components: tuple[str, ...], catalog: Catalog, source: str
) -> dict[str, int]:
    for name in data:
        if name not in components or catalog[name].port is None:
            published = [c for c in components if catalog[c].port]
            raise InputError(
                source,
                f"ports.{name}",
                f"{name} publishes no port in this stack",
                f"set ports for: {', '.join(published)}",
            )
    ports = {c: data.get(c, catalog[c].port) for c in components if catalog[c].port}
    seen: dict[int, str] = {}
    # the user's own choices last, so a clash names the field they wrote
    for name, port in sorted(ports.items(), key=lambda item: item[0] in data):
        if port in seen:
            raise InputError(
                source,
                f"ports.{name}",
                f"host port {port} is already used by {seen[port]}",
                f"give {name} another port, e.g. ports: {{{name}: {port + 1}}}",
            )
        seen[port] = name
    return ports


# Not a slot: where the images mlstack builds are pushed, for targets that pull (Kubernetes).
REGISTRY = "registry"


def _images(data: dict[str, str], catalog: Catalog, source: str) -> dict[str, str]:
    slots = {slot for frag in catalog.values() for slot in frag.images}
    for slot in data:
        if slot not in slots and slot != REGISTRY:
            raise InputError(
                source,
                f"images.{slot}",
                f"unknown image slot {slot!r}",
                f"use one of: {', '.join(sorted(slots))} (or {REGISTRY}: where built images go)",
            )
    return dict(data)


# 0 makes Docker fall back to its 64m default, silently; /dev/shm is memory (tmpfs), so more
# than 4 TiB is more than hosts have: a typo, and far enough past it Docker's int64 overflows.
MAX_SHM = 4 * 1024**4


def _shm_size(value: str, source: str) -> str:
    """A /dev/shm size that means what it says: more than 0 bytes, at most 4096g."""
    size = size_in_bytes(value)
    if not 0 < size <= MAX_SHM:
        raise InputError(
            source,
            "shm_size",
            f"{value} is {'0 bytes' if size <= 0 else 'more than 4096g (4 TiB)'}",
            "use a size such as 8gb or 512m, at most 4096g (/dev/shm is memory: tmpfs)",
        )
    return value


SIZE = re.compile(r"^(\d+(?:\.\d+)?)([bkmg]|kb|mb|gb)$")


def size_in_bytes(size: str) -> int:
    """Convert a compose byte value such as ``8gb`` or ``512m`` to bytes."""
    number, unit = SIZE.match(size.lower()).groups()  # type: ignore[union-attr]
    return int(float(number) * 1024 ** "bkmg".index(unit[0]))
