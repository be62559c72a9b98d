"""What counts as privileged in a service's compose keys: a pure table, key by key.

Each check takes one key's value and yields an :class:`Ask` for every part of it that reaches
outside the container's sandbox (the host's namespaces, devices, kernel, files or Docker itself).
The checks say what is *safe*, not what is dangerous: a form they do not know (an interpolated
``${VAR}``, a spelling Compose also accepts) is asked about, never waved through.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# Namespace keys, and the values that keep the container inside the stack.
NAMESPACES = {
    "network_mode": ("network", {"bridge", "none", "default"}),
    "ipc": ("IPC", {"private", "shareable", "none"}),
    "pid": ("process", set()),
    "uts": ("hostname (UTS)", set()),
    "userns_mode": ("user", set()),
    "cgroup": ("cgroup", {"private"}),
}
SHARES_WITHIN_STACK = ("network_mode", "ipc", "pid")  # `service:NAME` stays inside the stack
SYSTEM_PATHS = (
    "/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/var/run", "/run", "/usr", "/lib",
    "/lib64", "/bin", "/sbin", "/var/lib/docker", "/home",
)  # fmt: skip
HOOKS = ("post_start", "pre_stop", "pre_start")
ROOT_USERS = {"root", "0"}
# Settings whose allow entry is a list of items (the rest name one value).
LISTED = {
    "cap_add", "devices", "device_cgroup_rules", "security_opt", "sysctls", "volumes_from",
    "volumes", "env_file", "label_file", "develop", "secrets",
}  # fmt: skip


@dataclass(frozen=True)
class Ask:
    """One privileged setting a layer asks for, and what ``allow:`` must say to grant it."""

    setting: str  # the compose key: also the key of the allow entry
    value: Any  # what the allow entry says (one item of it when ``listed``)
    field: str  # where in the layer: ``privileged``, ``volumes[0]``
    why: str  # what it would give the container
    listed: bool = False  # the allow entry is a list of such values


def _namespace(key: str, value: Any) -> Iterator[Ask]:
    what, safe = NAMESPACES[key]
    if (isinstance(value, str) and value in safe) or (
        key in SHARES_WITHIN_STACK and _within_stack(value)
    ):
        return
    if value == "host":
        why = f"{key}: host shares the host's {what} namespace"
    else:
        why = f"{key}: {value} shares the {what} namespace of {value}, outside the stack"
    yield Ask(key, value, key, why)


def _within_stack(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("service:") and "$" not in value


def _privileged(key: str, value: Any) -> Iterator[Ask]:
    if value is not False:
        yield Ask(key, True, key, "gives the container every capability and host device: root")


def _socket(key: str, value: Any) -> Iterator[Ask]:
    if value is not False:
        yield Ask(key, True, key, "gives the container the Docker API socket: the host")


def _each(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _cap_add(key: str, value: Any) -> Iterator[Ask]:
    for i, cap in enumerate(_each(value)):
        name = str(cap).upper().removeprefix("CAP_")
        yield Ask(key, name, f"{key}[{i}]", f"adds the capability {name}", listed=True)


def _devices(key: str, value: Any) -> Iterator[Ask]:
    for i, item in enumerate(_each(value)):
        host = item.get("source") if isinstance(item, dict) else str(item).split(":")[0]
        yield Ask(key, host, f"{key}[{i}]", f"gives the container the host device {host}", True)


def _device_rules(key: str, value: Any) -> Iterator[Ask]:
    for i, rule in enumerate(_each(value)):
        yield Ask(key, rule, f"{key}[{i}]", f"lets the container use host devices ({rule})", True)


def option_name(option: Any) -> tuple[str, str]:
    """``no-new-privileges:true`` or ``=true`` -> (name, value): Docker takes both spellings."""
    text = str(option)
    cut = min((i for i in (text.find(":"), text.find("=")) if i >= 0), default=len(text))
    return text[:cut].strip().lower(), text[cut + 1 :].strip().lower()


def _security_opt(key: str, value: Any) -> Iterator[Ask]:
    for i, option in enumerate(_each(value)):
        if option_name(option) not in (("no-new-privileges", "true"), ("no-new-privileges", "")):
            why = f"{option} weakens the container's confinement"
            yield Ask(key, option, f"{key}[{i}]", why, listed=True)


def _sysctls(key: str, value: Any) -> Iterator[Ask]:
    if isinstance(value, dict):
        names = [(f"{key}.{name}", name) for name in value]
    else:
        names = [(f"{key}[{i}]", str(v).split("=")[0]) for i, v in enumerate(_each(value))]
    for field, name in names:
        yield Ask(key, name, field, f"sets the kernel parameter {name}", listed=True)


def _cgroup_parent(key: str, value: Any) -> Iterator[Ask]:
    yield Ask(key, value, key, f"places the container in the host cgroup {value}")


def _provider(key: str, value: Any) -> Iterator[Ask]:
    kind = value.get("type") if isinstance(value, dict) else value
    yield Ask(key, kind, key, f"runs the Compose provider {kind!r}, a program on the host")


def _extends(key: str, value: Any) -> Iterator[Ask]:
    if isinstance(value, dict) and "file" in value:
        why = f"takes settings from {value['file']}, a file mlstack does not check"
        yield Ask(key, value["file"], f"{key}.file", why)


def _secrets(key: str, value: Any) -> Iterator[Ask]:
    for i, item in enumerate(_each(value)):
        name = item.get("source") if isinstance(item, dict) else item
        why = f"mounts the secret {name} (a host file, e.g. build.ca_bundle) into the container"
        yield Ask(key, name, f"{key}[{i}]", why, listed=True)


def _volumes_from(key: str, value: Any) -> Iterator[Ask]:
    for i, item in enumerate(_each(value)):
        if str(item).startswith("container:") or "$" in str(item):
            why = f"mounts the volumes of {item}, a container outside the stack"
            yield Ask(key, item, f"{key}[{i}]", why, listed=True)


def outside_project(path: str) -> str | None:
    """Why a host path a service reads is not the project's own, or None when it is.

    A cloned repo is someone else's input: a path outside the project reaches into the
    machine of whoever runs it (home, keys, other projects, the system).
    """
    if path.rstrip("/").endswith("docker.sock"):
        return "the Docker socket, and whoever controls the container controls the host"
    if "$" in path:
        return "a path the environment decides, which may be anywhere on the host"
    if path.startswith("~"):
        return "a home directory, outside the project"
    if "\\" in path:
        return "a Windows host path or named pipe"
    norm = posixpath.normpath(path)
    if norm.startswith("/"):
        if norm in ("/", "//"):
            return "the host's root filesystem"
        system = next((p for p in SYSTEM_PATHS if norm == p or norm.startswith(p + "/")), None)
        return f"the host's {system}" if system else "a host path outside the project"
    if norm == ".." or norm.startswith("../"):
        return "outside the project directory"
    if norm == ".":
        return "the whole project, its .git and .env included"
    if norm == ".git" or norm.startswith(".git/"):
        return "the project's .git (hooks planted there run on your machine)"
    return None


def bind_source(entry: Any) -> str | None:
    """The host path of a volume entry, or None for a named volume, tmpfs or anonymous volume."""
    if isinstance(entry, dict):
        kind = entry.get("type", "volume")
        return str(entry.get("source", "")) if kind in ("bind", "npipe") else None
    parts = str(entry).split(":")
    source = parts[0] if len(parts) > 1 else ""
    return source if source.startswith((".", "/", "~")) or "$" in source else None


def volume_paths(value: Any) -> list[tuple[str, Any]]:
    """(field suffix, host path) of each bind mount in a ``volumes`` list."""
    return [(f"[{i}]", bind_source(v)) for i, v in enumerate(_each(value))]


def file_paths(value: Any) -> list[tuple[str, Any]]:
    """(field suffix, host path) of each file in ``env_file`` or ``label_file``."""
    items = [v.get("path") if isinstance(v, dict) else v for v in _each(value)]
    return [(f"[{i}]" if isinstance(value, list) else "", p) for i, p in enumerate(items)]


def watch_paths(value: Any) -> list[tuple[str, Any]]:
    """(field suffix, host path) of each ``develop.watch`` entry."""
    watch = value.get("watch", []) if isinstance(value, dict) else []
    entries = [(i, w) for i, w in enumerate(watch) if isinstance(w, dict)]
    return [(f".watch[{i}].path", w.get("path")) for i, w in entries]


# Keys that name host paths: what the service does with them, and where the paths are.
HOST_PATHS: dict[str, tuple[str, Callable[[Any], list[tuple[str, Any]]]]] = {
    "volumes": ("bind-mounts", volume_paths),
    "env_file": ("reads", file_paths),
    "label_file": ("reads", file_paths),
    "develop": ("syncs", watch_paths),
}


def host_paths(body: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(key, field, verb, path) of every host path a layer of service keys names."""
    for key, (verb, paths) in HOST_PATHS.items():
        if body.get(key) is not None:
            for suffix, path in paths(body[key]):
                if path is not None:
                    yield key, f"{key}{suffix}", verb, str(path)


def _outside(body: dict[str, Any]) -> Iterator[Ask]:
    for key, field, verb, path in host_paths(body):
        reason = outside_project(path)
        if reason:
            yield Ask(key, path, field, f"{verb} {path} ({reason})", listed=True)


def _hooks(key: str, value: Any) -> Iterator[Ask]:
    for i, hook in enumerate(_each(value)):
        if isinstance(hook, dict) and "privileged" in hook:
            for ask in _privileged("privileged", hook["privileged"]):
                yield Ask(ask.setting, ask.value, f"{key}[{i}].privileged", ask.why)


CHECKS: dict[str, Callable[[str, Any], Iterator[Ask]]] = {
    **dict.fromkeys(NAMESPACES, _namespace),
    "privileged": _privileged,
    "use_api_socket": _socket,
    "cap_add": _cap_add,
    "devices": _devices,
    "device_cgroup_rules": _device_rules,
    "security_opt": _security_opt,
    "sysctls": _sysctls,
    "cgroup_parent": _cgroup_parent,
    "provider": _provider,
    "extends": _extends,
    "volumes_from": _volumes_from,
    "secrets": _secrets,
    **dict.fromkeys(HOOKS, _hooks),
}


def asks(body: dict[str, Any]) -> Iterator[Ask]:
    """Every privileged setting in one layer of compose service keys, wherever it runs."""
    for key, value in body.items():
        if key in CHECKS and value is not None:
            yield from CHECKS[key](key, value)
    yield from _outside(body)


def is_root(user: Any) -> bool:
    """``root``, ``0``, ``root:GROUP``, ``0:GROUP``, or a ``${VAR}`` that may be any of them."""
    name = str(user).strip().split(":")[0]
    return name in ROOT_USERS or (name.isdigit() and int(name) == 0) or "$" in str(user)


def root_users(body: dict[str, Any]) -> Iterator[Ask]:
    """Root in a layer that reaches prod, where the rules want a non-root user."""
    why = "runs as root in prod, where the rules want a non-root user"
    if "user" in body and is_root(body["user"]):
        yield Ask("user", body["user"], "user", why)
    for key in HOOKS:
        for i, hook in enumerate(_each(body.get(key) or [])):
            if isinstance(hook, dict) and "user" in hook and is_root(hook["user"]):
                yield Ask("user", hook["user"], f"{key}[{i}].user", why)
