"""Writing an export's folder: the one impure step, all files or none, never over a hand edit.

The folder keeps its own record (``.mlstack-export.json``: a digest per file written), apart from
the stack's manifest, so ``mlstack render`` and the export never judge each other's files. A file
edited since the last export is a conflict: refused, or with ``--force`` kept as ``FILE.bak``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from mlstack.errors import ConflictError, InputError, WriteError
from mlstack.render.plan import Action, PlannedFile, Step, digest, plan

RECORD = ".mlstack-export.json"


def read_export_record(out: Path) -> dict[str, str]:
    """The digests of what the last export wrote into ``out``."""
    try:
        data = json.loads((out / RECORD).read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data["files"].items()}
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise InputError(
            str(out / RECORD),
            "files",
            "is not mlstack's record of an export",
            "delete it and export again with --force (edited files are kept as .bak)",
        ) from exc


def plan_export(out: Path, files: list[PlannedFile]) -> list[Step]:
    """What writing the export into ``out`` would do, file by file."""
    record = read_export_record(out)
    for file in files:
        if Path(file.path).is_absolute() or ".." in Path(file.path).parts:
            raise ValueError(f"an export file must stay inside its folder: {file.path}")
    disk = {path: _read(out / path) for path in {f.path for f in files} | set(record)}
    return plan(files, disk, record)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, IsADirectoryError):
        return ""  # not what mlstack wrote: a conflict


def write_export(out: Path, steps: list[Step], force: bool) -> None:
    """Write every changed file (temporary files first, then moved into place) and the record."""
    conflicts = [s.file.path for s in steps if s.action is Action.CONFLICT]
    if conflicts and not force:
        raise ConflictError([f"{out}/{path}" for path in conflicts])
    record = {s.file.path: digest(s.file.content) for s in steps if s.action is not Action.DELETE}
    body = json.dumps(
        {"about": "digests of the files `mlstack export` wrote", "files": record}, indent=2
    )
    writes = [s.file for s in steps if s.writes and s.action is not Action.DELETE]
    writes += [s.file for s in steps if s.action is Action.CONFLICT]
    staged = _stage([*writes, PlannedFile(RECORD, body + "\n")], out)
    for step in steps:
        if step.action is Action.CONFLICT:
            target = out / step.file.path
            target.replace(target.with_name(target.name + ".bak"))
    for temp, target in staged:
        temp.replace(target)
    for step in steps:
        if step.action is Action.DELETE:
            (out / step.file.path).unlink(missing_ok=True)


def _stage(files: list[PlannedFile], out: Path) -> list[tuple[Path, Path]]:
    staged: list[tuple[Path, Path]] = []
    try:
        for file in files:
            target = out / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(file.content)
            os.chmod(name, file.mode)  # noqa: PTH101 - on the path mkstemp returned
            staged.append((Path(name), target))
    except OSError as exc:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        raise WriteError(
            f"cannot write: {exc.strerror}",
            f"make {out} writable (and check free space); no export file was changed",
            str(out),
        ) from exc
    return staged
