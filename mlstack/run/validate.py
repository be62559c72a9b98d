"""``mlstack validate``: the schemas, then Compose's own judgement of base, dev and prod.

Compose judges what a render would write now, not the files on disk (which may be stale or
edited): the planned compose files and ``.env`` go to a private temporary directory (0700,
removed on exit, Ctrl-C included) and ``docker compose config`` reads them as if they were
the project's. Anything Compose says back is masked (:mod:`mlstack.run.masking`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mlstack.errors import EngineError, InputError
from mlstack.layout import BASE, DEV, ENV_FILE, GPU_FILE, LOCAL_COMPOSE, LOCAL_FILE, PROD
from mlstack.render.envfile import parse_env
from mlstack.render.generate import Result, render_project
from mlstack.render.local_env import mirrored
from mlstack.render.plan import Action
from mlstack.run.local_compose import dump_local, local_document
from mlstack.spec.catalog import load_catalog
from mlstack.spec.local import load_local, with_local

if TYPE_CHECKING:  # the Docker client is imported only when Docker is there
    from mlstack.run.engine import Engine

COMBINATIONS = {"base": (BASE,), "base+dev": (BASE, DEV), "base+prod": (BASE, PROD)}
LOCAL_GPU = "compose.local.gpu.yaml"  # compose.local.yaml as `up` writes it on a GPU host
LOCAL_COMBINATIONS = {
    "base+local+dev": (BASE, LOCAL_COMPOSE, DEV),
    "base+gpu+local+dev": (BASE, GPU_FILE, LOCAL_GPU, DEV),
}
GPU_COMBINATIONS = {"base+gpu+dev": (BASE, GPU_FILE, DEV), "base+gpu+prod": (BASE, GPU_FILE, PROD)}


def validate_project(root: Path) -> list[str]:
    """Report lines; raises InputError (schema) or EngineError (compose refused a file)."""
    catalog = load_catalog(root)
    result = render_project(root, dry_run=True)
    lines = [
        f"fragments: {len(catalog)} valid",
        f"mlstack.yaml: valid ({len(result.spec.components)} components)",
    ]
    local = load_local(root)
    spec = mirrored(with_local(result.spec, root, catalog), catalog, local)  # keys vs this stack
    if local:
        lines.append(f"{LOCAL_FILE}: valid (this machine's settings)")
    lines += [f"allowed: {privilege.describe()}" for privilege in result.spec.allowed]
    lines += [
        f"unused allow entry: {entry} (nothing asks for it: remove it)"
        for entry in result.spec.unused_allow
    ]
    lines += [f"drift: {step} (run `mlstack render`)" for step in result.drift]
    if shutil.which("docker") is None:
        return [*lines, "docker compose config: skipped, the docker CLI is not installed"]
    from mlstack.run.engine import Engine

    planned = planned_files(result)
    for name, on_gpu in ((LOCAL_COMPOSE, False), (LOCAL_GPU, True)):  # as `up` would write it
        document = local_document(spec, catalog, local, on_gpu)
        planned.update({name: dump_local(document)} if document else {})
    engine = Engine(root, secrets=parse_env(planned.get(ENV_FILE, "")).values())
    try:
        engine.compose_version()
    except EngineError:
        return [*lines, "docker compose config: skipped, Compose v2 is not installed"]
    return lines + judge_planned(engine, planned)


def planned_files(result: Result) -> dict[str, str]:
    """The content a render would leave in each file (deleted files left out)."""
    return {s.file.path: s.file.content for s in result.steps if s.action is not Action.DELETE}


def judge_planned(engine: Engine, planned: dict[str, str]) -> list[str]:
    """``docker compose config`` on each combination of the planned compose files."""
    lines = []
    with tempfile.TemporaryDirectory(prefix="mlstack-validate-") as temp:
        where = Path(temp)
        for name in (BASE, DEV, PROD, GPU_FILE, ENV_FILE, LOCAL_COMPOSE, LOCAL_GPU):
            _write_private(where / name, planned.get(name, ""))
        gpu = GPU_COMBINATIONS if GPU_FILE in planned else {}  # as `up` runs on a GPU host
        local = {
            label: files
            for label, files in LOCAL_COMBINATIONS.items()
            if set(files) <= set(planned)
        }
        for label, files in {**COMBINATIONS, **gpu, **local}.items():
            try:
                engine.judge([where / f for f in files], where / ENV_FILE)
            except EngineError as exc:
                reason = exc.message.removeprefix("rejected: ").replace(f"{where}{os.sep}", "")
                raise InputError(
                    " + ".join(files),
                    "",
                    f"docker compose config (as `mlstack render` would write it): {reason}",
                    "fix mlstack.yaml or the fragment that gives this value, "
                    "or the .env line it names",
                ) from exc
            lines.append(f"docker compose config ({label}): ok")
    return lines


def _write_private(path: Path, text: str) -> None:
    """A file only this user can read: one of them holds every secret."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
