"""Parse what the Docker engine and Compose report about themselves.

Generated stacks must work from Debian's Engine 20.10 to current releases, so features are
gated on these records. The parsers take captured output and never run anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# A release suffix such as "-desktop.1", "+dfsg1" or "+ds1-1" (distribution builds).
_SUFFIX = r"(?:[-+~][0-9A-Za-z.+~-]*)?"
# No "2." anywhere: Compose jumped from v2.40.3 to v5.0.0.
_COMPOSE_RE = re.compile(
    rf"(?:docker[ -]compose version:?\s+)?v?(\d+)\.(\d+)\.(\d+){_SUFFIX}(?:, build \w+)?",
    re.IGNORECASE,
)
_ENGINE_RE = re.compile(rf"v?(\d+)\.(\d+)\.(\d+){_SUFFIX}")


@dataclass(frozen=True)
class EngineInfo:
    """The parts of ``docker info`` that decide which GPU and Compose features are usable.

    ``cdi_spec_dirs`` is empty on engines before 25.0 and ``discovered_devices`` (CDI ids such
    as ``nvidia.com/gpu=all``) before 28.2, where ``docker info`` lacks those fields.
    """

    server_version: str
    api_version: str | None
    runtimes: tuple[str, ...]
    default_runtime: str | None
    cdi_spec_dirs: tuple[str, ...]
    discovered_devices: tuple[str, ...]
    docker_root_dir: str | None
    os: str | None


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"unparseable docker info field {key}: {value!r}")
    return value


def _str_list(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"unparseable docker info field {key}: {value!r}")
    return tuple(value)


def _device_ids(data: Mapping[str, Any]) -> tuple[str, ...]:
    value = data.get("DiscoveredDevices") or []
    if not isinstance(value, list) or not all(
        isinstance(item, Mapping) and isinstance(item.get("ID"), str) for item in value
    ):
        raise ValueError(f"unparseable docker info field DiscoveredDevices: {value!r}")
    return tuple(item["ID"] for item in value)


def parse_docker_info(
    data: Mapping[str, Any], version: Mapping[str, Any] | None = None
) -> EngineInfo:
    """Build an ``EngineInfo`` from the JSON of ``docker info --format '{{json .}}'``.

    ``docker info`` does not report the server's API version; pass the JSON of
    ``docker version --format '{{json .}}'`` as ``version`` to fill ``api_version``.

    Raises:
        ValueError: if ``ServerVersion`` is missing or empty (the CLI still prints JSON when
            the daemon is unreachable) or a field has an unexpected type.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"unparseable docker info: expected a JSON object, got {data!r}")
    server_version = _optional_str(data, "ServerVersion")
    if server_version is None:
        raise ValueError("unparseable docker info: no ServerVersion (is the daemon reachable?)")
    runtimes = data.get("Runtimes") or {}
    if not isinstance(runtimes, Mapping):
        raise ValueError(f"unparseable docker info field Runtimes: {runtimes!r}")
    server = (version or {}).get("Server") or {}
    api_version = server.get("ApiVersion") if isinstance(server, Mapping) else None
    return EngineInfo(
        server_version=server_version,
        api_version=api_version if isinstance(api_version, str) and api_version else None,
        runtimes=tuple(sorted(runtimes)),
        default_runtime=_optional_str(data, "DefaultRuntime"),
        cdi_spec_dirs=_str_list(data, "CDISpecDirs"),
        discovered_devices=_device_ids(data),
        docker_root_dir=_optional_str(data, "DockerRootDir"),
        os=_optional_str(data, "OperatingSystem"),
    )


def has_nvidia_runtime(info: EngineInfo) -> bool:
    """Tell whether the engine can hand NVIDIA GPUs to containers.

    True with the legacy ``nvidia`` runtime (written by ``nvidia-ctk runtime configure``) or
    with CDI-discovered NVIDIA devices (Engine 28.2+).
    """
    return "nvidia" in info.runtimes or any(
        device.startswith("nvidia.com/gpu") for device in info.discovered_devices
    )


def _version(pattern: re.Pattern[str], text: str, what: str) -> tuple[int, int, int]:
    match = pattern.fullmatch(text.strip())
    if not match:
        raise ValueError(f"unparseable {what} version: {text!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def parse_compose_version(text: str) -> tuple[int, int, int]:
    """Parse ``docker compose version [--short]`` output, e.g. ``2.40.3`` or ``v5.6.1``.

    Accepts the long form ``Docker Compose version v2.40.3`` and build suffixes such as
    ``2.24.0-desktop.1`` or ``2.39.2+ds1-1``; compare the result as a tuple, never by major.

    Raises:
        ValueError: if ``text`` holds no such version.
    """
    return _version(_COMPOSE_RE, text, "Docker Compose")


def parse_engine_version(text: str) -> tuple[int, int, int]:
    """Parse the engine's ``ServerVersion``, e.g. ``20.10.24+dfsg1`` (Debian) or ``28.2.2``.

    Raises:
        ValueError: if ``text`` is not such a version.
    """
    return _version(_ENGINE_RE, text, "Docker Engine")


def supports_start_interval(info: EngineInfo) -> bool:
    """Whether health checks may have ``start_interval`` (Engine 25+; Compose refuses it before).

    An engine whose version mlstack cannot read is taken as an old one: the file still runs.
    """
    try:
        return parse_engine_version(info.server_version) >= (25, 0, 0)
    except ValueError:
        return False
