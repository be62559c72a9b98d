"""Privileged settings are explicit: refused unless mlstack.yaml's ``allow:`` names them.

A cloned repo's fragments (``stacks/``) and ``services.<name>.compose`` are someone else's
input. Every layer of compose keys they give a service (``service``, ``with.*.service``,
``dev``, ``prod``, ``services.<name>.compose``) is read for settings that reach outside the
container (see :mod:`mlstack.spec.privileges`) or undo the prod rules. Each one must be named,
service by service and value by value, in ``allow:``; shipped fragments pass with none.
What is allowed is kept as :class:`Privilege` records, which ``validate`` and ``doctor`` list.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.errors import InputError
from mlstack.layout import SPEC_FILE
from mlstack.spec.catalog import Fragment
from mlstack.spec.privileges import (
    LISTED,
    Ask,
    asks,
    host_paths,
    option_name,
    outside_project,
    root_users,
)

PLAIN = re.compile(r"^[A-Za-z0-9_/.][A-Za-z0-9_./=@+-]*$")
YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


@dataclass(frozen=True)
class Privilege:
    """A privileged setting one service asks for, where it asks, and what would allow it."""

    service: str
    setting: str  # the compose key, and the key of its allow entry
    value: Any  # the allow entry's value (one item of it when ``listed``)
    source: str  # the file that asks: ``stacks/NAME.yaml`` or ``mlstack.yaml``
    field: str  # the field there: ``service.privileged``, ``services.api.compose.volumes[0]``
    why: str
    listed: bool = False
    in_prod: bool = True  # reaches compose.prod.yaml (every layer but a fragment's ``dev:``)

    @property
    def allow_field(self) -> str:
        """Where mlstack.yaml allows it: ``allow.trainer.ipc``."""
        return f"allow.{self.service}.{self.setting}"

    @property
    def allow_entry(self) -> str:
        """The exact entry that allows it, as YAML: ``allow: {trainer: {ipc: host}}``."""
        value = yaml_value([self.value] if self.listed else self.value)
        return f"allow: {{{self.service}: {{{self.setting}: {value}}}}}"

    def describe(self) -> str:
        """``trainer: ipc: host (mlstack.yaml allow.trainer.ipc; asked by FILE: FIELD)``."""
        return (
            f"{self.service}: {self.setting}: {yaml_value(self.value)} "
            f"({SPEC_FILE} {self.allow_field}; asked by {self.source}: {self.field})"
        )


@dataclass(frozen=True)
class Layer:
    """One mapping of compose keys for a service, and where it comes from."""

    source: str
    prefix: str  # its field path in the source: ``service``, ``services.api.compose``
    body: dict[str, Any]
    in_prod: bool = True
    is_prod: bool = False  # a fragment's ``prod:``: merged with the prod rules


@dataclass(frozen=True)
class Review:
    """What the stack's services were allowed, and allow entries that nothing asks for."""

    allowed: tuple[Privilege, ...] = ()
    unused: tuple[str, ...] = ()


def yaml_value(value: Any) -> str:
    """A value in YAML flow style, quoted where a plain scalar would read differently."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if PLAIN.match(text) and text.lower() not in YAML_WORDS and not _number(text):
        return text
    return json.dumps(text)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def layers(frag: Fragment, components: tuple[str, ...], compose: dict[str, Any]) -> list[Layer]:
    """Every layer of compose keys the stack gives ``frag``'s service, in merge order."""
    found = [Layer(frag.source, "service", frag.service)]
    for other, extra in frag.with_.items():
        if other in components:
            found.append(Layer(frag.source, f"with.{other}.service", extra.get("service", {})))
    found.append(Layer(frag.source, "dev", frag.dev, in_prod=False))
    found.append(Layer(frag.source, "prod", frag.prod, is_prod=True))
    if frag.name in compose:
        found.append(Layer(SPEC_FILE, f"services.{frag.name}.compose", compose[frag.name]))
    return found


def requests(
    frag: Fragment,
    components: tuple[str, ...],
    compose: dict[str, Any],
    hardening: dict[str, Any],
    root: Path | None = None,
) -> Iterator[Privilege]:
    """Every privileged setting the layers of ``frag``'s service ask for."""
    prod_read_only = frag.prod.get("read_only") is True or hardening.get("read_only") is True
    for layer in layers(frag, components, compose):
        found = list(asks(layer.body))
        if layer.in_prod:
            found += root_users(layer.body)
            if prod_read_only and layer.body.get("read_only", True) is not True:
                value = layer.body["read_only"]
                found.append(Ask("read_only", value, "read_only", "undoes read_only: true of prod"))
        if layer.is_prod:
            found += dropped_rules(layer.body, hardening)
        if root is not None:
            found += symlinks_out(layer.body, root)
        for ask in found:
            field = f"{layer.prefix}.{ask.field}"
            yield Privilege(
                frag.name, ask.setting, ask.value, layer.source, field, ask.why, ask.listed,
                layer.in_prod,
            )  # fmt: skip


def dropped_rules(prod: dict[str, Any], hardening: dict[str, Any]) -> Iterator[Ask]:
    """A fragment's ``prod:`` keys that would drop a prod rule if they won over it."""
    for key, rule in hardening.items():
        if key not in prod:
            continue
        if key == "security_opt":  # a bag of options: only an empty list drops the rule's
            for option in _each(rule) if not prod[key] else []:
                why = f"drops the prod rule {option}"
                yield Ask(key, f"{option_name(option)[0]}:false", key, why, listed=True)
        elif isinstance(rule, list):
            wanted = {_norm(key, v) for v in rule}
            if not wanted <= {_norm(key, v) for v in _each(prod[key])}:
                yield Ask(key, list(_each(prod[key])), key, f"drops the prod rule {key}: {rule}")
        elif prod[key] != rule:
            yield Ask(key, prod[key], key, f"undoes the prod rule {key}: {yaml_value(rule)}")


def symlinks_out(body: dict[str, Any], root: Path) -> Iterator[Ask]:
    """Host paths inside the project that are symlinks leading out of it (Docker follows them)."""
    top = Path(os.path.realpath(root))
    for key, field, verb, path in host_paths(body):
        if outside_project(path) is None:
            try:
                target = Path(os.path.realpath(top / path))
            except (OSError, ValueError):  # a NUL byte, a name too long: not a path to trust
                target = Path("/")
            if target != top and top not in target.parents:
                why = f"{verb} {path} (a symlink to {target}, outside the project)"
                yield Ask(key, path, field, why, listed=True)


def _each(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _norm(setting: str, value: Any) -> Any:
    """The form two spellings of one setting share: capabilities, options, users."""
    if setting in ("cap_add", "cap_drop"):
        return str(value).upper().removeprefix("CAP_")
    if setting == "security_opt":
        return option_name(value)
    if setting == "user":
        return str(value)
    return value


def is_allowed(asked: Privilege, allow: dict[str, Any]) -> bool:
    """Whether ``allow.<service>.<setting>`` names exactly this value (or this item)."""
    entry = allow.get(asked.service, {})
    if asked.setting not in entry:
        return False
    granted, setting = entry[asked.setting], asked.setting
    if asked.listed:
        return _norm(setting, asked.value) in [_norm(setting, v) for v in _each(granted)]
    if isinstance(asked.value, list):
        same = sorted(map(str, (_norm(setting, v) for v in asked.value)))
        return isinstance(granted, list) and same == sorted(str(_norm(setting, v)) for v in granted)
    return _same(_norm(setting, granted), _norm(setting, asked.value))


def _same(one: Any, other: Any) -> bool:
    """Equal and of one type: ``privileged: 1`` is not ``true``."""
    return type(one) is type(other) and one == other


def refused(asked: Privilege) -> InputError:
    """The error for a privileged setting mlstack.yaml does not allow."""
    return InputError(
        asked.source,
        asked.field,
        f"{asked.why}; mlstack refuses this unless mlstack.yaml allows it",
        f"remove it; or, if you trust {asked.source}, add to mlstack.yaml: "
        f"`{asked.allow_entry}` (README: allow; SECURITY.md)",
    )


def review(
    catalog: dict[str, Fragment],
    components: tuple[str, ...],
    allow: dict[str, Any],
    compose: dict[str, Any],
    hardening: dict[str, Any],
    root: Path | None = None,
) -> Review:
    """Refuse the first privileged setting ``allow`` does not name; keep those it does."""
    for section, names in (("allow", allow), ("services", compose)):
        for name in names:
            if name not in components:
                raise InputError(
                    SPEC_FILE,
                    f"{section}.{name}",
                    f"{name} is not a component of this stack",
                    f"remove {section}.{name}, or add the component: `mlstack add {name}`",
                )
    granted = []
    for name in components:
        for asked in requests(catalog[name], components, compose, hardening, root):
            if not is_allowed(asked, allow):
                raise refused(asked)
            granted.append(asked)
    return Review(tuple(granted), tuple(_unused(allow, granted)))


def _unused(allow: dict[str, Any], granted: list[Privilege]) -> Iterator[str]:
    """Allow entries that nothing asks for: a latent exception someone may later rely on."""
    for service, entry in allow.items():
        for setting, value in entry.items():
            listed = setting in LISTED
            for item in [[v] for v in _each(value)] if listed else [value]:
                if not any(is_allowed(p, {service: {setting: item}}) for p in granted):
                    shown = item[0] if listed else item
                    yield f"allow.{service}.{setting}: {yaml_value(shown)}"
