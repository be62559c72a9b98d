"""Day two (issue 11): hand edits survive re-rendering, merged three ways, never lost."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlstack.layout import MANIFEST

pytestmark = pytest.mark.usefixtures("cpu_only_host")

LABELS = "  api:\n    labels:  # who owns it\n      team: ml\n"


def edit(root: Path, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text()
    assert old in text, f"{old!r} not in {path}"
    file.write_text(text.replace(old, new, 1))


def test_a_package_appended_by_hand_survives_add(tmp_path: Path, make_stack: Any, cli: Any) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    with (root / "api" / "requirements.txt").open("a") as handle:
        handle.write("numpy==2.3.0\n")
    result = cli("-C", root, "add", "postgres")
    assert result.exit_code == 0, result.output
    assert "merge (edited)    api/requirements.txt" in result.output
    lines = (root / "api" / "requirements.txt").read_text().splitlines()
    assert "numpy==2.3.0" in lines
    assert any(line.startswith("psycopg") for line in lines)
    assert not list(root.rglob("*.bak"))
    result = cli("-C", root, "render", "--check")
    assert result.exit_code == 0, result.output


def test_a_hand_added_key_and_its_comment_survive_every_rerender(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--with", "api,jupyter,redis")
    edit(root, "compose.yaml", "  api:\n", LABELS)
    edit(root, "mlstack.yaml", "gpu:", "shm_size: 2g\ngpu:")
    for command in (
        ["render"],
        ["add", "qdrant"],
        ["remove", "redis"],
        ["init", "--yes", "--force", "--with", "api,jupyter,postgres"],
    ):
        result = cli("-C", root, *command)
        assert result.exit_code == 0, (command, result.output)
        compose = (root / "compose.yaml").read_text()
        assert LABELS in compose, (command, compose)
        assert cli("-C", root, "render", "--check").exit_code == 0, command
        if command == ["render"]:
            assert "shm_size: 2g" in compose, compose
    assert "postgres:" in compose and "\n  redis:" not in compose


def test_a_conflict_is_named_by_key_path_and_the_users_value_stays(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    edit(root, "compose.yaml", "redis:8.10-alpine", "redis:8.8-alpine")
    edit(root, "mlstack.yaml", "gpu:", "images:\n  redis: redis:8.12-alpine\ngpu:")
    result = cli("-C", root, "render")
    assert result.exit_code == 1, result.output
    assert "compose.yaml: services.redis.image" in result.output
    assert "--theirs" in result.output and "--ours" in result.output
    assert "image: redis:8.8-alpine" in (root / "compose.yaml").read_text()
    # The conflict is seen again until it is resolved, by the check as well.
    assert cli("-C", root, "render").exit_code == 1
    check = cli("-C", root, "render", "--check")
    assert check.exit_code == 1 and "conflict (merged) compose.yaml" in check.output
    result = cli("-C", root, "render", "--ours", "compose.yaml:services.redis.image")
    assert result.exit_code == 0, result.output
    assert "image: redis:8.8-alpine" in (root / "compose.yaml").read_text()
    assert cli("-C", root, "render", "--check").exit_code == 0


def test_theirs_takes_the_render(tmp_path: Path, make_stack: Any, cli: Any) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    edit(root, "compose.yaml", "redis:8.10-alpine", "redis:8.8-alpine")
    edit(root, "mlstack.yaml", "gpu:", "images:\n  redis: redis:8.12-alpine\ngpu:")
    result = cli("-C", root, "render", "--theirs", "services.redis.image")
    assert result.exit_code == 0, result.output
    assert "image: redis:8.12-alpine" in (root / "compose.yaml").read_text()


def test_a_text_conflict_is_written_between_markers(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    edit(root, "api/Dockerfile", "FROM python:3.12-slim AS build", "FROM python:3.13-slim AS build")
    edit(root, "mlstack.yaml", "python: '3.12'", "python: '3.11'")
    result = cli("-C", root, "render")
    assert result.exit_code == 1, result.output
    assert "api/Dockerfile: line" in result.output
    text = (root / "api" / "Dockerfile").read_text()
    assert "<<<<<<< yours" in text and "python:3.13-slim" in text and "python:3.11-slim" in text
    again = cli("-C", root, "render")  # markers left in: named, never merged over
    assert again.exit_code == 1 and "api/Dockerfile: conflict markers" in again.output
    assert (root / "api" / "Dockerfile").read_text() == text
    result = cli("-C", root, "render", "--force")  # still overwrites, with a .bak
    assert result.exit_code == 0, result.output
    assert (root / "api" / "Dockerfile.bak").read_text() == text
    assert cli("-C", root, "render", "--check").exit_code == 0


def test_diff_and_dry_run_show_the_change_and_write_nothing(
    tmp_path: Path, make_stack: Any, cli: Any, tree_state: Any
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    with (root / "api" / "requirements.txt").open("a") as handle:
        handle.write("numpy==2.3.0\n")
    edit(root, "mlstack.yaml", "gpu:", "images:\n  redis: redis:8.12-alpine\ngpu:")
    before = tree_state(root)
    result = cli("-C", root, "diff")
    assert result.exit_code == 0, result.output
    assert "-    image: redis:8.10-alpine\n+    image: redis:8.12-alpine\n" in result.output
    assert "requirements.txt" not in result.output  # the user's line is kept: no change
    only = cli("-C", root, "diff", "api/Dockerfile")
    assert only.exit_code == 0 and only.output == ""
    dry = cli("-C", root, "render", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "+    image: redis:8.12-alpine" in dry.output
    assert "dry run: nothing was written" in dry.output
    assert tree_state(root) == before


def test_a_format_2_manifest_is_migrated_with_merge_bases(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    body = json.loads((root / MANIFEST).read_text())
    old = {"format": 2, "about": body["about"], "files": body["files"]}
    (root / MANIFEST).write_text(json.dumps(old))
    assert cli("-C", root, "render", "--check").exit_code == 0  # not drift
    with (root / "api" / "requirements.txt").open("a") as handle:
        handle.write("numpy==2.3.0\n")
    result = cli("-C", root, "add", "postgres")  # unedited files had their base on disk
    assert result.exit_code == 2, result.output  # the edited one has none: --force, as before
    assert "api/requirements.txt" in result.output
    edit(root, "api/requirements.txt", "numpy==2.3.0\n", "")
    assert cli("-C", root, "render").exit_code == 0
    new = json.loads((root / MANIFEST).read_text())
    assert new["format"] == 3 and set(new["base"]) == set(new["files"])
    assert new["mlstack"]


def test_a_tampered_base_is_not_trusted(tmp_path: Path, make_stack: Any, cli: Any) -> None:
    """A base that does not match its digest could make a merge drop an edit: ignored."""
    root = make_stack(tmp_path, "--with", "api,redis")
    body = json.loads((root / MANIFEST).read_text())
    body["base"]["compose.yaml"] = "services: {}\n"
    (root / MANIFEST).write_text(json.dumps(body))
    edit(root, "compose.yaml", "  api:\n", LABELS)
    result = cli("-C", root, "render")
    assert result.exit_code == 2 and "compose.yaml" in result.output
    assert LABELS in (root / "compose.yaml").read_text()


PACKAGES = "services:\n  api:\n    packages: [numpy==2.3.0]\n    apt: [libgomp1]\n"


def test_packages_in_the_spec_reach_requirements_through_add(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    assert "packages: [numpy==2.3.0]" in (root / "mlstack.yaml").read_text()  # shown, commented
    with (root / "mlstack.yaml").open("a") as handle:
        handle.write(PACKAGES)
    result = cli("-C", root, "add", "postgres")
    assert result.exit_code == 0, result.output
    lines = (root / "api" / "requirements.txt").read_text().splitlines()
    assert "numpy==2.3.0" in lines and any(line.startswith("psycopg") for line in lines)
    dockerfile = (root / "api" / "Dockerfile").read_text()
    runtime = dockerfile.split("FROM python:3.12-slim\n")[1]
    assert "apt-get install -y --no-install-recommends libgomp1" in runtime
    assert "rm -rf /var/lib/apt/lists/*" in runtime
    assert runtime.index("libgomp1") < runtime.index("USER app")
    assert cli("-C", root, "render", "--check").exit_code == 0


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ("  api:\n    packages: ['numpy; rm -rf /']\n", "services.api.packages[0]"),
        ("  api:\n    apt: ['curl && sh']\n", "services.api.apt[0]"),
        ("  redis:\n    packages: [numpy]\n", "services.redis.packages"),
    ],
)
def test_bad_packages_are_named_by_field(
    tmp_path: Path, make_stack: Any, cli: Any, tree_state: Any, settings: str, field: str
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    with (root / "mlstack.yaml").open("a") as handle:
        handle.write("services:\n" + settings)
    before = tree_state(root)
    result = cli("-C", root, "render")
    assert result.exit_code == 2, result.output
    assert f"mlstack.yaml: {field}" in result.output
    assert tree_state(root) == before


@pytest.mark.judge
def test_apt_and_packages_are_hadolint_clean(
    tmp_path: Path, make_stack: Any, cli: Any, require: Any, tool_path: Any
) -> None:
    require("hadolint")
    root = make_stack(tmp_path, "--with", "api,jupyter,mlflow,trainer,postgres")
    with (root / "mlstack.yaml").open("a") as handle:
        handle.write("services:\n")
        for name in ("api", "jupyter", "mlflow", "trainer"):
            handle.write(f"  {name}:\n    packages: ['httpx>=0.27,<1']\n")
            handle.write("    apt: [libgomp1, 'curl=8.*']\n")
    assert cli("-C", root, "render").exit_code == 0
    for name in ("api", "jupyter", "mlflow", "trainer"):
        found = subprocess.run(
            [tool_path("hadolint"), "--failure-threshold", "warning", f"{name}/Dockerfile"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert found.returncode == 0, (name, found.stdout)
        assert (
            "--no-install-recommends curl=8.* libgomp1" in (root / name / "Dockerfile").read_text()
        )
    assert "'httpx>=0.27,<1'" in (root / "mlflow" / "Dockerfile").read_text()


def test_an_upgrade_says_what_changed_and_keeps_hand_edits(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    """An older mlstack pinned redis 8.8 (here: a fragment in stacks/ standing in for it)."""
    shipped = Path(__file__).parent.parent / "stacks" / "redis.yaml"
    (tmp_path / "stacks").mkdir()
    old = shipped.read_text().replace("redis:8.10-alpine", "redis:8.8-alpine")
    (tmp_path / "stacks" / "redis.yaml").write_text(old)
    root = make_stack(tmp_path, "--with", "api,redis")
    edit(root, "compose.yaml", "  api:\n", LABELS)
    (root / "stacks" / "redis.yaml").unlink()  # the new release's default is 8.10
    body = json.loads((root / MANIFEST).read_text())
    (root / MANIFEST).write_text(json.dumps({**body, "mlstack": "0.0.1"}))
    result = cli("-C", root, "render")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("mlstack 0.0.1 -> ") for line in lines)
    assert any(
        line.startswith("redis image redis:8.8-alpine -> redis:8.10-alpine: new default in")
        for line in lines
    )
    compose = (root / "compose.yaml").read_text()
    assert "image: redis:8.10-alpine" in compose and LABELS in compose
    again = cli("-C", root, "render")
    assert again.exit_code == 0 and "->" not in again.output
