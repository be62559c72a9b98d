"""The entrypoint wrapper of a Swarm service: secrets from files, waits, then the real command.

Swarm gives secrets only as files under ``/run/secrets`` and has no ``depends_on``. Images that
read ``VAR_FILE`` (Postgres, Jupyter: the fragment's ``file_env``) get that; for the rest a small
``/bin/sh`` wrapper exports each variable from its file (``DATABASE_URL`` built around the
password), runs ``mlstack-wait.py`` once per dependency, then ``exec``s the service's command.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from mlstack.errors import InputError
from mlstack.export.model import ExportService
from mlstack.export.values import Secret, Text, literal, only_secret, secrets_in
from mlstack.render.dockerfiles import dockerfile
from mlstack.spec.catalog import Catalog
from mlstack.spec.stack_spec import StackSpec

SECRETS_DIR = "/run/secrets"
WAIT_PATH = "/mlstack/wait.py"


@dataclass(frozen=True)
class Wrapper:
    """What a service's entrypoint does before its command: exports, waits, then start."""

    exports: tuple[tuple[str, Text], ...]
    waits: tuple[tuple[str, ...], ...]
    start: tuple[str, ...]
    start_from: str  # where the command came from: compose, fragment or Dockerfile

    def script(self) -> str:
        """The ``sh -c`` text: exports, waits, then ``exec "$@"`` (the command follows)."""
        steps = [*export_lines(self.exports), *(shlex.join(w) for w in self.waits)]
        return " && ".join([*steps, 'exec "$@"'])


def sh_quoted(text: Text) -> str:
    """A value in double quotes for sh, each secret read from its file."""
    out = []
    for part in text:
        if isinstance(part, Secret):
            out.append(f"$(cat {SECRETS_DIR}/{part.name})")
        else:
            out.append("".join(f"\\{c}" if c in '\\$"`' else c for c in part))
    return '"' + "".join(out) + '"'


def export_lines(exports: tuple[tuple[str, Text], ...]) -> list[str]:
    """``export VAR="..."`` statements."""
    return [f"export {name}={sh_quoted(text)}" for name, text in exports]


def file_env(svc: ExportService) -> dict[str, str]:
    """Variables the image reads from ``VAR_FILE``, with the secret each one is."""
    return {
        name: secret
        for name, text in svc.env
        if name in svc.frag.file_env and (secret := only_secret(text))
    }


def exported(svc: ExportService) -> tuple[tuple[str, Text], ...]:
    """Variables holding a secret that the image cannot read from a file itself."""
    by_file = file_env(svc)
    return tuple((n, t) for n, t in svc.env if secrets_in(t) and n not in by_file)


def wait_argv(dep: ExportService) -> tuple[tuple[str, ...], str | None]:
    """The wait for one dependency, and the secret it needs (a Redis password)."""
    kind = dep.frag.probe.get("kind", "tcp")
    argv = ["python", WAIT_PATH, kind, dep.name, str(dep.port)]
    if kind == "http":
        argv += ["--path", dep.frag.probe.get("path", "/")]
    secret = dep.frag.secrets[0] if kind == "redis" and dep.frag.secrets else None
    if secret:
        argv += ["--password-env", secret]
    return tuple(argv), secret


def can_wait(svc: ExportService) -> bool:
    """The wait script needs Python: every image mlstack builds has it."""
    return svc.built


def wrapper(
    spec: StackSpec, catalog: Catalog, svc: ExportService, deps: list[ExportService]
) -> Wrapper | None:
    """The service's wrapper, or None when it needs none."""
    exports = list(exported(svc))
    waits = []
    for dep in deps if can_wait(svc) else []:
        argv, secret = wait_argv(dep)
        waits.append(argv)
        if secret and secret not in {n for n, _ in exports}:
            exports.append((secret, (Secret(secret),)))
    if not exports and not waits:
        return None
    start, origin = start_command(spec, catalog, svc)
    return Wrapper(tuple(exports), tuple(waits), start, origin)


def start_command(
    spec: StackSpec, catalog: Catalog, svc: ExportService
) -> tuple[tuple[str, ...], str]:
    """What the wrapper ``exec``s: compose's command, the fragment's ``start``, or a CMD.

    The CMD is the one of the Dockerfile mlstack generates for the component.
    """
    if svc.command:
        words = [literal(word) for word in svc.command]
        if None not in words:
            return tuple(words), "compose"  # type: ignore[arg-type]
    if svc.frag.start:
        return tuple(svc.frag.start), "fragment"
    if svc.frag.build:
        for line in dockerfile(svc.frag.build, spec, catalog).splitlines():
            if line.startswith("CMD ["):
                return tuple(json.loads(line.removeprefix("CMD "))), "Dockerfile"
    raise InputError(
        svc.frag.source,
        "start",
        f"{svc.name} reads a secret from a file on Swarm, so mlstack wraps its start, and the "
        "image's start command is not known",
        "set `start: [...]` in the fragment to the image's ENTRYPOINT and CMD",
    )


def health_prefix(exports: tuple[tuple[str, Text], ...]) -> str:
    """The exports of variables that are one secret, for a shell health check."""
    return " && ".join(export_lines(tuple((n, t) for n, t in exports if only_secret(t))))
