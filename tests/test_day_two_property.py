"""Property (issue 11): random hand edits and random spec changes, rendered; derandomized.

Every non-conflicting edit (a key or line added, a value changed, a key removed) is still
there after the render, every conflict is reported, no file
is lost or torn (each YAML file parses), and a second render changes nothing.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mlstack.errors import MergeConflictError
from mlstack.render.generate import render_project

pytestmark = pytest.mark.usefixtures("cpu_only_host")

CASES = 12
Removed = list[tuple[str, tuple[str, ...]]]
YAML_FILES = ("compose.yaml", "compose.override.yaml", "compose.prod.yaml")
TEXT_FILES = ("api/Dockerfile", "api/requirements.txt", "api/.dockerignore")
TMPFS = "    tmpfs:\n      - /tmp\n"
HARDENED = (
    "    cap_drop:\n      - ALL\n    security_opt:\n      - no-new-privileges:true\n    ports:\n"
)
# Keys the user deletes that no spec change touches: (file, key path, text, what is left).
REMOVALS = (
    ("compose.yaml", ("api", "healthcheck", "start_period"), "      start_period: 30s\n", ""),
    ("compose.yaml", ("api", "environment", "LOG_LEVEL"), "      LOG_LEVEL: info\n", ""),
    (
        "compose.override.yaml",
        ("api", "environment"),
        "    environment:\n      LOG_LEVEL: debug\n",
        "",
    ),
    (
        "compose.prod.yaml",
        ("api", "tmpfs"),  # the api's: the only prod service with ports
        TMPFS + HARDENED,
        HARDENED,
    ),
)
SPEC_CHANGES = {
    "image": ("gpu:", "images:\n  redis: redis:8.12-alpine\ngpu:"),
    "python": ("python: '3.12'", "python: '3.11'"),
    "shm": ("gpu:", "shm_size: 3g\ngpu:"),
}


def _user_edits(root: Path, rng: random.Random) -> tuple[list[tuple[str, str]], Removed, bool]:
    """Apply random edits: the (file, text) each must keep, the (file, key path) each removed,
    and whether redis's image changed."""
    kept, removed = [], []
    for n, path in enumerate(rng.sample(YAML_FILES, rng.randint(0, 3))):
        file = root / path
        line = f"    labels:  # mine {n}\n      owner: team{n}\n"
        file.write_text(file.read_text().replace("  api:\n", "  api:\n" + line, 1))
        kept.append((path, line))
    for n, path in enumerate(rng.sample(TEXT_FILES, rng.randint(0, 3))):
        line = f"# my note {n}\n" if "requirements" not in path else f"numpy==2.3.{n}\n"
        with (root / path).open("a") as handle:
            handle.write(line)
        kept.append((path, line))
    for path, keys, text, left in rng.sample(REMOVALS, rng.randint(0, len(REMOVALS))):
        file = root / path
        assert file.read_text().count(text) == 1, (path, text)
        file.write_text(file.read_text().replace(text, left))
        removed.append((path, keys))
    pinned = rng.random() < 0.5
    if pinned:
        file = root / "compose.yaml"
        file.write_text(file.read_text().replace("redis:8.10-alpine", "redis:8.8-alpine"))
    return kept, removed, pinned


def _spec_changes(root: Path, rng: random.Random) -> set[str]:
    chosen = set(rng.sample(sorted(SPEC_CHANGES), rng.randint(1, 3)))
    spec = root / "mlstack.yaml"
    for name in sorted(chosen):
        old, new = SPEC_CHANGES[name]
        spec.write_text(spec.read_text().replace(old, new, 1))
    return chosen


def _render(root: Path) -> tuple[list[str], Any]:
    try:
        return [], render_project(root)
    except MergeConflictError as exc:
        return exc.places, None


@pytest.mark.parametrize("seed", range(CASES))
def test_random_edits_and_spec_changes(
    tmp_path: Path, make_stack: Any, tree_state: Any, seed: int
) -> None:
    rng = random.Random(seed)
    root = make_stack(tmp_path, "--with", "api,jupyter,redis")
    kept, removed, pinned = _user_edits(root, rng)
    changes = _spec_changes(root, rng)
    conflicts, _ = _render(root)
    expected = ["compose.yaml: services.redis.image"] if pinned and "image" in changes else []
    assert [c.split(" (")[0] for c in conflicts] == expected
    for path, text in kept:
        assert text in (root / path).read_text(), (seed, path, text)
    for path in YAML_FILES:
        YAML(typ="safe").load((root / path).read_text())  # not torn
    for path, keys in removed:  # a key the user deleted stays deleted
        *parents, last = keys
        node = YAML(typ="safe").load((root / path).read_text())["services"]
        for key in parents:
            node = node[key]
        assert last not in node, (seed, path, keys)
    assert (root / "api" / "Dockerfile").exists() and not list(root.rglob("*.bak"))
    before = tree_state(root)
    again, result = _render(root)
    assert again == conflicts
    assert tree_state(root) == before  # the second render is a no-op
    if result is not None:
        assert not result.drift
