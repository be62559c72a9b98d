"""The manifest (``.mlstack/manifest.json``): the files mlstack generated and their last render.

The last render of each file is the base of the merge of a hand-edited file.

It is committed with the stack, so it is someone else's input: a schema limits it to the files a
render can generate (relative, inside the project, never ``.git/``), and the plan, never the
writer, decides its next content. Format 2 adds a ``format`` key; format 3 adds ``base`` (kept
in the manifest, not as loose copies under ``.mlstack/``: one file, written in the same commit as
the stack, validated by one schema, and not secret since ``.env`` is never a generated file).
Formats 1 and 2 (no ``base``) are read and migrated on the next write: the base of an unedited
file is its content on disk.
"""

from __future__ import annotations

import json
from typing import Any

from mlstack.errors import InputError
from mlstack.layout import MANIFEST
from mlstack.render.plan import GENERATED, STATE, Action, PlannedFile, Step, digest
from mlstack.resources import schema

FORMAT = 3
ABOUT = "digests of the files mlstack generated; see `mlstack render`"
FIX = "restore it from git, or delete it and run `mlstack render --force`"
MAX_BYTES = 4 * 1024 * 1024


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
    return dict(data["files"])  # formats 1 to 3 share the files map: migrating is re-writing it


def parse_bases(text: str) -> dict[str, str]:
    """The ``base`` map of a manifest already checked by :func:`parse_record` ({} before 3)."""
    return dict(json.loads(text).get("base", {}))


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


def manifest_file(
    record: dict[str, str],
    bases: dict[str, str] | None = None,
    sources: dict[str, str] | None = None,
) -> PlannedFile:
    """The manifest holding ``record``: commit it, so teammates' renders know it too."""
    body: dict[str, object] = {"format": FORMAT, "about": ABOUT, "mlstack": version()}
    body["files"] = dict(sorted(record.items()))
    body["base"] = dict(sorted((bases or {}).items()))
    body["sources"] = dict(sorted((sources or {}).items()))
    return PlannedFile(MANIFEST, json.dumps(body, indent=2) + "\n", STATE)


def version() -> str:
    """The installed mlstack's version, recorded so an upgrade can say what it changed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("mlstack")
    except PackageNotFoundError:
        return "unknown"


def next_record(
    steps: list[Step], record: dict[str, str], bases: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Digests and bases after ``steps``: deleted files dropped, every generated file's set.

    A merged file records the render (its ``base``); a YAML conflict keeps the old record, so
    the conflict is seen again until it is resolved.
    """
    deleted = {s.file.path for s in steps if s.action is Action.DELETE}
    new = {path: d for path, d in record.items() if path not in deleted}
    new_bases = {p: b for p, b in (bases or {}).items() if p in new}
    merged = (Action.MERGE, Action.CONFLICTS, Action.EDITED)
    for step in steps:
        if step.file.policy != GENERATED or step.action is Action.DELETE:
            continue
        base = step.base if step.action in merged else step.file.content
        if base is not None:
            new[step.file.path] = digest(base)
            new_bases[step.file.path] = base
    return new, new_bases


def with_manifest(
    steps: list[Step],
    record: dict[str, str],
    on_disk: str | None,
    bases: dict[str, str] | None = None,
    sources: dict[str, str] | None = None,
) -> list[Step]:
    """``steps`` and, when anything is written or the record changes, the manifest's update."""
    new, new_bases = next_record(steps, record, bases)
    file = manifest_file(new, new_bases, sources)
    same = new == record and new_bases == (bases or {})
    if same and (on_disk is None or _same_sources(on_disk, file)):
        if not any(s.writes or s.action is Action.CONFLICT for s in steps):
            return steps
    if on_disk == file.content:
        return [*steps, Step(file, Action.IDENTICAL)]
    return [*steps, Step(file, Action.CREATE if on_disk is None else Action.UPDATE, on_disk)]


def _same_sources(on_disk: str, file: PlannedFile) -> bool:
    """Whether the manifest on disk already records these fragments, rules and version."""
    try:
        old = json.loads(on_disk)
    except ValueError:
        return False
    new = json.loads(file.content)
    return all(old.get(key) == new.get(key) for key in ("format", "mlstack", "sources"))
