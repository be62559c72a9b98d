"""Compose values read as the container will see them: text with secret references, durations.

Compose strings are interpolated on the host (``${VAR}``, ``$$`` for a literal ``$``). An export
cannot interpolate secrets into files, so a value becomes a sequence of literal text and
:class:`Secret` references, and each target writes them its own way (Kubernetes ``$(VAR)``, a
file under ``/run/secrets`` in Swarm).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mlstack.errors import InputError
from mlstack.spec.stack_spec import size_in_bytes

# ${NAME}, ${NAME:?message}, ${NAME:-default}, ${NAME-default}; or $$ (a literal $)
REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Secret:
    """A reference to a secret of the stack (a key of ``.env``)."""

    name: str


Part = str | Secret
Text = tuple[Part, ...]


def parse_text(value: str, secrets: set[str], where: str) -> Text:
    """Split a compose string into literal text and secret references.

    A reference to anything but a secret takes its default (``${X:-d}``); without one it cannot
    be exported, since the value lives only in the shell or ``.env`` of the machine rendering.
    """
    parts: list[Part] = []
    last = 0
    for match in REFERENCE.finditer(value):
        parts.append(value[last : match.start()])
        last = match.end()
        name, op, default = match.groups()
        if name is None:
            parts.append("$")
        elif name in secrets:
            parts.append(Secret(name))
        elif op in ("-", ":-"):
            parts.append(default)
        else:
            raise InputError(
                where,
                "",
                f"${{{name}}} is taken from the shell or .env, which an export cannot carry",
                f"give it a default (${{{name}:-VALUE}}), or list {name} under the fragment's "
                "`secrets` so it comes from the cluster's secret",
            )
    parts.append(value[last:])
    return _joined(parts)


def _joined(parts: list[Part]) -> Text:
    out: list[Part] = []
    for part in parts:
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] += part
        elif part != "":
            out.append(part)
    return tuple(out)


def literal(text: Text) -> str | None:
    """The text when it holds no secret, else None."""
    return "".join(text) if all(isinstance(p, str) for p in text) else None  # type: ignore[arg-type]


def secrets_in(text: Text) -> list[str]:
    """The secrets a text refers to, in order, once each."""
    return list(dict.fromkeys(p.name for p in text if isinstance(p, Secret)))


def only_secret(text: Text) -> str | None:
    """The secret's name when the whole text is one secret reference."""
    return text[0].name if len(text) == 1 and isinstance(text[0], Secret) else None


def seconds(duration: str | int | float | None, default: int) -> int:
    """A compose duration (``2s``, ``1m30s``, ``500ms``) in whole seconds, at least 1."""
    if duration is None:
        return default
    if isinstance(duration, int | float):
        return max(1, math.ceil(duration))
    total = sum(float(n) * UNITS[u] for n, u in DURATION.findall(duration))
    return max(1, math.ceil(total))


def quantity(size: str) -> str:
    """A compose byte size (``8gb``, ``4096m``) as a Kubernetes quantity (``8Gi``)."""
    value = size_in_bytes(str(size))
    for unit, factor in (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if value % factor == 0:
            return f"{value // factor}{unit}"
    return str(value)


def cpu_quantity(cpus: str | float | int) -> str:
    """Compose ``cpus`` (``"2"``, ``0.5``) as a Kubernetes CPU quantity (``2``, ``500m``)."""
    milli = round(float(cpus) * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
