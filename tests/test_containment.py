"""Containment: a cloned repository cannot make mlstack read or write outside the project.

The manifest, the generated files and folders, mlstack's own state folder and a leftover journal
are all input from whoever wrote the repository. Each hostile case must end in exit 2 naming the
file (and field), with the target outside the project untouched: content, mode and existence.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mlstack.render.journal import JOURNAL
from mlstack.render.manifest import FORMAT, generated_paths, parse_record
from mlstack.render.plan import GENERATED
from mlstack.render.stack_files import stack_files

pytestmark = pytest.mark.usefixtures("cpu_only_host")

MANIFEST = ".mlstack/manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A user's file outside the project: what a hostile repository would like to reach."""
    victim = tmp_path / "home" / "notes.txt"
    victim.parent.mkdir()
    victim.write_text("my notes\n")
    victim.chmod(0o600)
    return victim


@pytest.fixture
def project(tmp_path: Path, make_stack: Any) -> Path:
    return make_stack(tmp_path / "clone", "--with", "api,redis")


def untouched(victim: Path, text: str = "my notes\n", mode: int = 0o600) -> None:
    assert victim.read_text() == text
    assert stat.S_IMODE(victim.stat().st_mode) == mode


def write_manifest(root: Path, body: Any) -> None:
    (root / MANIFEST).write_text(json.dumps(body))


# The manifest ---------------------------------------------------------------------------------


def test_manifest_has_a_format_version(project: Path) -> None:
    body = json.loads((project / MANIFEST).read_text())
    assert body["format"] == FORMAT == 3
    assert set(body["files"]) <= generated_paths()


def test_manifest_schema_names_exactly_the_files_a_render_can_generate(tmp_path: Path) -> None:
    from mlstack.render.compose_model import build_compose
    from mlstack.spec.answers import Answers, spec_document
    from mlstack.spec.catalog import load_catalog, load_rules
    from mlstack.spec.stack_spec import spec_from_document

    catalog = load_catalog()
    templates = {frag.build for frag in catalog.values() if frag.build}
    assert templates == {"api", "jupyter", "mlflow", "trainer"}  # every build template
    from mlstack.spec.gpu_choice import ALL_GPUS

    answers = Answers(name="all", components=tuple(catalog), gpu=ALL_GPUS)  # compose.gpu.yaml
    spec = spec_from_document(spec_document(answers), catalog)
    model = build_compose(spec, catalog, load_rules("dev"), load_rules("prod"))
    files = stack_files(spec, catalog, model, {}, None, None)
    generated = {f.path for f in files if f.policy == GENERATED}
    assert generated == generated_paths()


BAD_ENTRIES = {
    "absolute": "/etc/passwd",
    "parent": "../notes.txt",
    "git-config": ".git/config",
    "git-hook": ".git/hooks/post-checkout",
    "state": ".mlstack/lock",
    "directory": "api",
    "unknown-kind": "api/app/main.py",
    "dot-slash": "./compose.yaml",
    "spec": "mlstack.yaml",
    "env": ".env",
}


@pytest.mark.parametrize("entry", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_manifest_entry_outside_the_generated_files_is_refused(
    project: Path, outside: Path, cli: Any, tree_state: Any, entry: str
) -> None:
    body = json.loads((project / MANIFEST).read_text())
    target = project / entry if not entry.startswith("/") else Path(entry)
    if entry == "../notes.txt":
        (project.parent / "notes.txt").write_text("my notes\n")
        target = project.parent / "notes.txt"
    data = target.read_bytes() if target.is_file() else b""
    body["files"][entry] = sha256(data)
    write_manifest(project, body)
    before = tree_state(project)
    for command in (["render"], ["render", "--force"], ["add", "qdrant"], ["render", "--check"]):
        result = cli("-C", project, *command)
        assert result.exit_code == 2, result.output
        assert f'{MANIFEST}: files["{entry}"]: is not a file mlstack generates' in result.output
        assert "fix: restore it from git" in result.output
    assert tree_state(project) == before
    if target.is_file():
        assert target.read_bytes() == data  # the file it names still exists, unchanged
    untouched(outside)


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        pytest.param([], "(top level)", "is not of type 'object'", id="list"),
        pytest.param({"format": 2}, "(top level)", "'files' is a required property", id="no-files"),
        pytest.param({"files": []}, "files", "is not of type 'object'", id="files-list"),
        pytest.param(
            {"files": {"compose.yaml": 5}}, 'files["compose.yaml"]', "not of type", id="int"
        ),
        pytest.param(
            {"files": {"compose.yaml": "abc"}}, 'files["compose.yaml"]', "does not match", id="sha"
        ),
        pytest.param({"format": "2", "files": {}}, "format", "is not one of", id="format-str"),
        pytest.param({"format": 9, "files": {}}, "format", "newer mlstack", id="format-newer"),
        pytest.param({"files": {}, "x": 1}, "(top level)", "Additional properties", id="extra"),
    ],
)
def test_malformed_manifest_is_exit_2_naming_the_field(
    project: Path, cli: Any, tree_state: Any, body: Any, field: str, problem: str
) -> None:
    write_manifest(project, body)
    before = tree_state(project)
    result = cli("-C", project, "render")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {MANIFEST}: {field}: "), result.output
    assert problem in result.output
    assert tree_state(project) == before


@pytest.mark.parametrize(
    "text", ["{", "[" * 100_000, '"' + "x" * 300_000 + '"'], ids=["broken", "deep", "huge"]
)
def test_unreadable_manifest_is_exit_2(project: Path, cli: Any, text: str) -> None:
    (project / MANIFEST).write_text(text)
    result = cli("-C", project, "render")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {MANIFEST}: "), result.output
    assert "internal error" not in result.output


def test_format_1_manifest_is_read_and_migrated(project: Path, cli: Any) -> None:
    files = json.loads((project / MANIFEST).read_text())["files"]
    old = {"about": "digests of the files mlstack generated", "files": files}
    write_manifest(project, old)
    assert parse_record(json.dumps(old)) == files
    result = cli("-C", project, "render", "--check")
    assert result.exit_code == 0, result.output  # the old format is not drift
    assert cli("-C", project, "add", "qdrant").exit_code == 0
    body = json.loads((project / MANIFEST).read_text())
    assert body["format"] == 3  # was 2: format 3 adds the merge bases (issue 11)
    assert set(files) <= set(body["files"])
    assert set(body["base"]) == set(body["files"])


def test_deletes_only_what_the_manifest_may_name(project: Path, cli: Any) -> None:
    """A removed component's unedited files go; the digest check still guards each one."""
    result = cli("-C", project, "remove", "api")
    assert result.exit_code == 0, result.output
    assert not (project / "api" / "Dockerfile").exists()
    assert (project / "api" / "app" / "main.py").exists()  # the user's scaffold stays


# Symbolic links -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["compose.yaml", ".env", "api/Dockerfile", ".gitignore"])
@pytest.mark.parametrize("where", ["outside", "inside"])
def test_a_generated_file_replaced_by_a_link_is_refused(
    project: Path, outside: Path, cli: Any, name: str, where: str
) -> None:
    link = project / name
    target = outside if where == "outside" else project / "notes-inside.txt"
    if where == "inside":
        target.write_text("my notes\n")
        target.chmod(0o600)
    link.unlink()
    link.symlink_to(target)
    for command in (["render"], ["render", "--force"], ["add", "qdrant"], ["render", "--check"]):
        result = cli("-C", project, *command)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"error: {name}: is a symbolic link (to {target})")
        assert link.is_symlink()
        untouched(target)


def test_env_link_keeps_its_targets_mode(project: Path, outside: Path, cli: Any) -> None:
    """Was: `render` chmod-ed the target of a linked .env to 0600 (and any other file's to 0644)."""
    outside.chmod(0o644)
    (project / ".env").unlink()
    (project / ".env").symlink_to(outside)
    result = cli("-C", project, "render")
    assert result.exit_code == 2, result.output
    untouched(outside, mode=0o644)


@pytest.mark.parametrize("folder", ["api", "api/app"])
def test_a_generated_folder_linked_outside_is_refused(
    project: Path, tmp_path: Path, cli: Any, tree: Any, folder: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    (project / folder).rename(elsewhere)
    (project / folder).symlink_to(elsewhere)
    before = tree(elsewhere)
    (project / "mlstack.yaml").write_text(
        (project / "mlstack.yaml").read_text().replace("python: '3.12'", "python: '3.11'")
    )
    for command in (["render"], ["render", "--force"], ["add", "qdrant"], ["render", "--check"]):
        result = cli("-C", project, *command)
        assert result.exit_code == 2, result.output
        # The writer refuses the link; where the API's dev bind mount passes through it, the
        # privilege review (which runs first, on the spec) refuses the mount already.
        assert (
            f"error: {folder}: is a symbolic link to {elsewhere}, outside the project"
            in result.output
            or "bind-mounts ./api/app (a symlink to" in result.output
        ), result.output
    assert tree(elsewhere) == before
    assert not list(elsewhere.glob(".*.tmp"))


def test_a_folder_linked_into_git_is_refused(project: Path, cli: Any, tree: Any) -> None:
    git = project / ".git"
    (git / "hooks").mkdir(parents=True)
    (project / "api").rename(project / "api-real")
    (project / "api").symlink_to(git / "hooks")
    result = cli("-C", project, "render", "--force")
    assert result.exit_code == 2, result.output
    assert f"error: api: is a symbolic link to {git / 'hooks'}, into .git/" in result.output
    assert list((git / "hooks").iterdir()) == []


def test_a_folder_linked_inside_the_project_is_followed(project: Path, cli: Any) -> None:
    (project / "api").rename(project / "services-api")
    (project / "api").symlink_to("services-api")
    (project / "mlstack.yaml").write_text(
        (project / "mlstack.yaml").read_text().replace("python: '3.12'", "python: '3.11'")
    )
    result = cli("-C", project, "render")
    assert result.exit_code == 0, result.output
    assert "FROM python:3.11-slim" in (project / "services-api" / "Dockerfile").read_text()
    assert (project / "api").is_symlink()
    assert cli("-C", project, "render", "--check").exit_code == 0


@pytest.mark.parametrize("name", [".mlstack", "stacks", "mlstack.yaml"])
def test_state_spec_and_fragments_linked_outside_are_refused(
    project: Path, tmp_path: Path, cli: Any, name: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    if name == "stacks":
        elsewhere.mkdir()
        (elsewhere / "evil.yaml").write_text("name: evil\n")
    else:
        (project / name).rename(elsewhere)
    (project / name).symlink_to(elsewhere)
    before = sorted(p.name for p in elsewhere.iterdir()) if elsewhere.is_dir() else None
    result = cli("-C", project, "render")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {name}"), result.output
    assert "symbolic link" in result.output or "is not a folder" in result.output
    if before is not None:
        assert sorted(p.name for p in elsewhere.iterdir()) == before


def test_a_lock_file_linked_outside_is_never_opened(project: Path, outside: Path, cli: Any) -> None:
    (project / ".mlstack" / "lock").unlink()
    (project / ".mlstack" / "lock").symlink_to(outside)
    result = cli("-C", project, "render")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: .mlstack/lock: is not a regular file")
    untouched(outside)


def test_a_fifo_where_a_file_belongs_is_refused_not_read(project: Path, cli: Any) -> None:
    (project / "compose.yaml").unlink()
    os.mkfifo(project / "compose.yaml")
    result = cli("-C", project, "render")
    assert result.exit_code == 2, result.output
    assert "error: compose.yaml: is not a regular file" in result.output


def test_a_folder_where_a_file_belongs_is_refused(project: Path, cli: Any) -> None:
    (project / "compose.prod.yaml").unlink()
    (project / "compose.prod.yaml").mkdir()
    result = cli("-C", project, "render")
    assert result.exit_code == 2, result.output
    assert "error: compose.prod.yaml: is a folder where mlstack keeps a file" in result.output


# A journal shipped in a repository ----------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "field"),
    [
        pytest.param({"op": "write", "temp": "0", "path": "../notes.txt"}, "ops[0].path", id="up"),
        pytest.param({"op": "write", "temp": "0", "path": "/etc/x"}, "ops[0].path", id="abs"),
        pytest.param({"op": "write", "temp": "0", "path": ".git/config"}, "ops[0].path", id="git"),
        pytest.param({"op": "write", "temp": "0", "path": ".mlstack/lock"}, "ops[0].path", id="st"),
        pytest.param(
            {"op": "delete", "path": "api/app/main.py", "sha256": "0" * 64},
            "ops[0].path",
            id="delete-scaffold",
        ),
        pytest.param({"op": "write", "temp": "../x", "path": "a"}, "ops[0].temp", id="temp"),
        pytest.param({"op": "chmod", "temp": "0", "path": "a"}, "ops[0].op", id="op"),
    ],
)
def test_a_hostile_journal_is_refused(
    project: Path, outside: Path, cli: Any, tree_state: Any, op: dict[str, str], field: str
) -> None:
    tmp = project / ".mlstack" / "tmp"
    tmp.mkdir()
    (tmp / "0").write_text("planted\n")
    (project / JOURNAL).write_text(json.dumps({"format": 1, "ops": [op]}))
    before = tree_state(project)
    for command in (["render"], ["render", "--check"]):
        result = cli("-C", project, *command)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"error: {JOURNAL}: {field}: "), result.output
        assert f"fix: delete the folder {tmp.relative_to(project)}" in result.output
    assert tree_state(project) == before
    untouched(outside)


# Modes: restored by rewriting the file, never by chmod through a path -----------------------


def test_a_readable_env_is_drift_and_render_makes_it_private(project: Path, cli: Any) -> None:
    env = project / ".env"
    text = env.read_text()
    env.chmod(0o644)
    check = cli("-C", project, "render", "--check")
    assert check.exit_code == 1, check.output
    assert "drift: chmod 600 .env" in [" ".join(x.split()) for x in check.output.splitlines()]
    result = cli("-C", project, "render")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert env.read_text() == text


def test_a_script_that_lost_its_x_bit_gets_it_back(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path / "stack", "--with", "postgres")
    script = root / "postgres" / "initdb" / "10-create-databases.sh"
    script.chmod(0o644)
    assert cli("-C", root, "render").exit_code == 0
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


def test_a_checkouts_group_bits_are_not_drift(project: Path, cli: Any) -> None:
    (project / "compose.yaml").chmod(0o664)  # git with umask 002
    assert cli("-C", project, "render", "--check").exit_code == 0


def test_nothing_to_write_leaves_the_manifest_alone() -> None:
    from mlstack.render.manifest import manifest_file, with_manifest
    from mlstack.render.plan import Action, PlannedFile, Step, digest

    record = {"compose.yaml": digest("x\n")}
    bases = {"compose.yaml": "x\n"}  # format 3 records the merge base too
    same = [Step(PlannedFile("compose.yaml", "x\n"), Action.IDENTICAL)]
    assert with_manifest(same, record, manifest_file(record, bases).content, bases) == same
    changed = [Step(PlannedFile("compose.yaml", "y\n"), Action.UPDATE)]
    last = with_manifest(changed, record, manifest_file(record, bases).content, bases)[-1]
    assert (last.file.path, last.action) == (MANIFEST, Action.UPDATE)
    assert json.loads(last.file.content)["files"] == {"compose.yaml": digest("y\n")}
