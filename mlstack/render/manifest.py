"""The manifest (``.mlstack/manifest.json``): which files mlstack generated, and their digests.

It is committed with the stack, so it is someone else's input: a schema limits it to the files a
render can generate (relative, inside the project, never ``.git/``), and the plan, never the
writer, decides its next content. Format 2 adds a ``format`` key; format 1 (no key) is read and
migrated on the next write.
"""

from __future__ import annotations

import json
from typing import Any

from mlstack.errors import InputError
from mlstack.layout import MANIFEST
from mlstack.render.plan import GENERATED, STATE, Action, PlannedFile, Step, digest
from mlstack.resources import schema

FORMAT = 2
ABOUT = "digests of the files mlstack generated; see `mlstack render`"
FIX = "restore it from git, or delete it and run `mlstack render --force`"
MAX_BYTES = 256 * 1024


def generated_paths() -> frozenset[str]:
    """Every file a render of some component can generate: all a manifest may name."""
    return frozenset(schema("manifest")["properties"]["files"]["propertyNames"]["enum"])


def parse_record(text: str, source: str = MANIFEST) -> dict[str, str]:
    """The ``files`` map of a manifest of any known format, or an InputError naming the field."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(source, "", "is not valid JSON", FIX) from exc
    if isinstance(data, dict) and isinstance(data.get("format"), int) and data["format"] > FORMAT:
        raise InputError(
            source,
            "format",
            f"is {data['format']}: written by a newer mlstack (this one reads 1 to {FORMAT})",
            "upgrade mlstack",
        )
    check_schema(data, "manifest", source, FIX)
    return dict(data["files"])  # format 1 and 2 share the files map: migrating is re-writing it


def check_schema(data: Any, name: str, source: str, fix: str) -> None:
    """Raise an InputError for the most specific violation of schema ``name``, if any."""
    import jsonschema  # deferred: ~100 ms to import

    validator = jsonschema.Draft202012Validator(schema(name))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return
    field = "".join(_part(p) for p in error.absolute_path)
    problem = error.message
    if "propertyNames" in error.schema_path:
        field += f"[{json.dumps(error.instance)}]"
        problem = "is not a file mlstack generates (a relative path of a generated file)"
    raise InputError(source, field.lstrip(".") or "(top level)", problem, fix)


def _part(part: Any) -> str:
    """``[0]``, ``.ops`` or ``["api/Dockerfile"]``: a field path a reader can paste back."""
    if isinstance(part, int):
        return f"[{part}]"
    return f".{part}" if str(part).isidentifier() else f"[{json.dumps(part)}]"


def manifest_file(record: dict[str, str]) -> PlannedFile:
    """The manifest holding ``record``: commit it, so teammates' renders know it too."""
    body = {"format": FORMAT, "about": ABOUT, "files": dict(sorted(record.items()))}
    return PlannedFile(MANIFEST, json.dumps(body, indent=2) + "\n", STATE)


def next_record(steps: list[Step], record: dict[str, str]) -> dict[str, str]:
    """The record after ``steps``: deleted files dropped, every generated file's digest set."""
    deleted = {s.file.path for s in steps if s.action is Action.DELETE}
    new = {path: d for path, d in record.items() if path not in deleted}
    for step in steps:
        if step.file.policy == GENERATED and step.action is not Action.DELETE:
            new[step.file.path] = digest(step.file.content)
    return new


def with_manifest(steps: list[Step], record: dict[str, str], on_disk: str | None) -> list[Step]:
    """``steps`` and, when anything is written or the record changes, the manifest's update."""
    new = next_record(steps, record)
    if not any(s.writes or s.action is Action.CONFLICT for s in steps) and new == record:
        return steps
    file = manifest_file(new)
    if on_disk == file.content:
        return [*steps, Step(file, Action.IDENTICAL)]
    return [*steps, Step(file, Action.CREATE if on_disk is None else Action.UPDATE)]
