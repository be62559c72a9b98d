"""The stack spec: ``mlstack.yaml`` parsed, validated against the catalog, with defaults filled."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstack.errors import InputError
from mlstack.layout import SPEC_FILE
from mlstack.spec.catalog import Catalog
from mlstack.spec.schema import validate
from mlstack.spec.yamlio import load_file, to_plain

DEFAULT_PYTHON = "3.12"
DEFAULT_CUDA = "12.8.1"
SHM_WITH_GPU = "8gb"
SHM_WITHOUT_GPU = "1gb"
FIX = "edit mlstack.yaml (see README.md, mlstack.yaml reference), then run `mlstack render`"

# A GPU request: "all", a count, or device ids.
Devices = str | int | tuple[str, ...]


@dataclass(frozen=True)
class StackSpec:
    """What the user asked for, complete: every default filled, every reference checked."""

    name: str
    components: tuple[str, ...]
    python: str = DEFAULT_PYTHON
    cuda: str = DEFAULT_CUDA
    gpu: dict[str, Devices] = field(default_factory=dict)  # service -> devices, GPU services only
    shm_size: str = SHM_WITHOUT_GPU
    ports: dict[str, int] = field(default_factory=dict)  # component -> host port
    images: dict[str, str] = field(default_factory=dict)  # slot -> reference (overrides)
    ca_bundle: str | None = None
    pip_index_url: str | None = None

    def uses_gpu(self, service: str) -> bool:
        """Whether ``service`` gets a GPU reservation."""
        return service in self.gpu


def load_spec(project_dir: Path, catalog: Catalog) -> StackSpec:
    """Read and check ``mlstack.yaml`` in ``project_dir``."""
    data = load_file(project_dir / SPEC_FILE, SPEC_FILE, root=project_dir)
    return spec_from_document(data, catalog)


def spec_from_document(data: Any, catalog: Catalog, source: str = SPEC_FILE) -> StackSpec:
    """Validate a parsed mlstack.yaml and resolve it against the catalog."""
    if not isinstance(data, dict):
        raise InputError(source, "", "must be a YAML mapping with name and components", FIX)
    validate(data, "spec", source, FIX)
    data = to_plain(data)
    components = _components(data["components"], catalog, source)
    gpu = _gpu(data.get("gpu", {}), components, catalog, source)
    return StackSpec(
        name=data["name"],
        components=components,
        python=data.get("python", DEFAULT_PYTHON),
        cuda=_cuda(data.get("cuda", DEFAULT_CUDA), gpu, source),
        gpu=gpu,
        shm_size=_shm_size(data.get("shm_size", SHM_WITH_GPU if gpu else SHM_WITHOUT_GPU), source),
        ports=_ports(data.get("ports", {}), components, catalog, source),
        images=_images(data.get("images", {}), catalog, source),
        ca_bundle=data.get("build", {}).get("ca_bundle"),
        pip_index_url=data.get("build", {}).get("pip_index_url"),
    )


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
) -> dict[str, Devices]:
    devices = _devices(data.get("devices", "none"), source, "gpu.devices")
    capable = [c for c in components if catalog[c].gpu]
    chosen = data.get("services", capable)
    if isinstance(chosen, dict):  # per-service choices on top of the default for the others
        per_service = {**dict.fromkeys(capable, devices), **chosen}
    else:
        per_service = dict.fromkeys(chosen, devices)
    for name in chosen:
        if name not in components or not catalog[name].gpu:
            raise InputError(
                source,
                f"gpu.services.{name}",
                f"{name} is not a GPU-capable service of this stack",
                f"choose among: {', '.join(capable) or 'none (add api, jupyter or trainer)'}",
            )
    wanted = {name: _devices(d, source, f"gpu.services.{name}") for name, d in per_service.items()}
    return {name: d for name, d in wanted.items() if d != "none"}


def _devices(value: Any, source: str, field: str) -> Devices:
    """A GPU request; device ids as strings, each once (0 and "0" are the same GPU)."""
    if isinstance(value, list):
        ids = tuple(str(v) for v in value)
        twice = [i for n, i in enumerate(ids) if i in ids[:n]]
        if twice:
            raise InputError(
                source, field, f"device {twice[0]} is listed twice", "list each GPU once"
            )
        return ids
    return value


def _cuda(value: str, gpu: dict[str, Devices], source: str) -> str:
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


def _images(data: dict[str, str], catalog: Catalog, source: str) -> dict[str, str]:
    slots = {slot for frag in catalog.values() for slot in frag.images}
    for slot in data:
        if slot not in slots:
            raise InputError(
                source,
                f"images.{slot}",
                f"unknown image slot {slot!r}",
                f"use one of: {', '.join(sorted(slots))}",
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
