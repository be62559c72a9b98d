"""Upgrading mlstack: the fragments and rules a render used, and what an upgrade changed.

The manifest records a digest of each; a render after an upgrade says what changed
(``redis image redis:8.10-alpine -> redis:8.12-alpine: new default in mlstack 0.2``).

The new defaults reach the files like any other change: through the three-way merge, so a
user's edit of the same key is a conflict, never overwritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mlstack.render.plan import Step
from mlstack.spec.catalog import Catalog, Rules
from mlstack.spec.stack_spec import StackSpec


def sources(spec: StackSpec, catalog: Catalog, rules: dict[str, Rules]) -> dict[str, str]:
    """A digest of each fragment and rule set the render used, by its name in the release."""
    used = {f"stacks/{name}": catalog[name] for name in spec.components}
    used.update({f"overrides/{profile}": r for profile, r in rules.items()})
    return {name: _digest(dataclasses.asdict(value)) for name, value in sorted(used.items())}


def upgrade_notes(manifest: str | None, steps: list[Step]) -> list[str]:
    """:func:`notes` for a plan: the new sources are those of the manifest it writes."""
    from mlstack.layout import MANIFEST
    from mlstack.render.manifest import version

    new = next((s for s in steps if s.file.path == MANIFEST), None)
    if new is None:
        return []
    return notes(manifest, json.loads(new.file.content).get("sources", {}), steps, version())


def notes(
    manifest: str | None, new_sources: dict[str, str], steps: list[Step], version: str
) -> list[str]:
    """What changed because mlstack changed, when the manifest was written by another version."""
    old = _load(manifest)
    before = old.get("mlstack")
    if not before or before == version:
        return []
    recorded = old.get("sources", {})
    changed = sorted(n for n, d in new_sources.items() if n in recorded and recorded[n] != d)
    lines = [f"{name} changed: new defaults in mlstack {version}" for name in changed]
    for step in steps:
        lines += _image_changes(step, old.get("base", {}), version, changed)
    return [f"mlstack {before} -> {version}", *lines] if lines else []


def _image_changes(
    step: Step, bases: dict[str, str], version: str, changed: list[str]
) -> list[str]:
    if step.file.path != "compose.yaml" or "compose.yaml" not in bases:
        return []
    old, new = _images(bases["compose.yaml"]), _images(step.base or step.file.content)
    lines = []
    for service in sorted(set(old) & set(new)):
        if old[service] != new[service]:
            why = f": new default in mlstack {version}" if f"stacks/{service}" in changed else ""
            lines.append(f"{service} image {old[service]} -> {new[service]}{why}")
    return lines


def _images(text: str) -> dict[str, str]:
    try:
        data = YAML(typ="safe").load(text) or {}
    except YAMLError:
        return {}
    services = data.get("services", {}) if isinstance(data, dict) else {}
    return {
        name: body["image"]
        for name, body in services.items()
        if isinstance(body, dict) and isinstance(body.get("image"), str)
    }


def _load(manifest: str | None) -> dict[str, Any]:
    try:
        data = json.loads(manifest or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
