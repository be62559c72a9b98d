"""``mlstack validate``: the schemas, then Compose's own judgement of base, dev and prod."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlstack.errors import EngineError, InputError
from mlstack.layout import BASE, DEV, PROD
from mlstack.render.generate import render_project
from mlstack.spec.catalog import load_catalog

COMBINATIONS = {"base": (BASE,), "base+dev": (BASE, DEV), "base+prod": (BASE, PROD)}


def validate_project(root: Path) -> list[str]:
    """Report lines; raises InputError (schema) or EngineError (compose refused a file)."""
    catalog = load_catalog(root)
    result = render_project(root, dry_run=True)
    lines = [
        f"fragments: {len(catalog)} valid",
        f"mlstack.yaml: valid ({len(result.spec.components)} components)",
    ]
    lines += [f"allowed: {privilege.describe()}" for privilege in result.spec.allowed]
    lines += [
        f"unused allow entry: {entry} (nothing asks for it: remove it)"
        for entry in result.spec.unused_allow
    ]
    lines += [f"drift: {step} (run `mlstack render`)" for step in result.drift]
    if shutil.which("docker") is None:
        return [*lines, "docker compose config: skipped, the docker CLI is not installed"]
    from mlstack.run.engine import Engine

    engine = Engine(root)
    try:
        engine.compose_version()
    except EngineError:
        return [*lines, "docker compose config: skipped, Compose v2 is not installed"]
    for label, files in COMBINATIONS.items():
        try:
            engine.compose_files(files, "config", "--quiet", what="rejected", fix="")
        except EngineError as exc:
            reason = exc.message.removeprefix("rejected: ")
            raise InputError(
                " + ".join(files),
                "",
                f"docker compose config: {reason}",
                "fix the file it names, or regenerate it: `mlstack render --force`",
            ) from exc
        lines.append(f"docker compose config ({label}): ok")
    return lines
