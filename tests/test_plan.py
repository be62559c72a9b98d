"""The file plan and its execution: what mlstack writes, what it keeps, all-or-nothing writes."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlstack.render.plan import (
    BLOCK,
    GENERATED,
    MARK_BEGIN,
    MARK_END,
    SCAFFOLD,
    SECRETS,
    Action,
    PlannedFile,
    Step,
    decide,
    digest,
    plan,
)

pytestmark = pytest.mark.usefixtures("cpu_only_host")

ENV_LINE = "{key}="


def words(text: str) -> list[str]:
    """Plan lines with their padding collapsed: 'create compose.yaml'."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def set_in_spec(root: Path, old: str, new: str) -> None:
    spec = root / "mlstack.yaml"
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new))


def env_values(root: Path) -> dict[str, str]:
    lines = (root / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def manifest(root: Path) -> dict[str, str]:
    return json.loads((root / ".mlstack" / "manifest.json").read_text())["files"]


# The plan as data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "text"),
    [
        (Action.CREATE, "create            compose.yaml"),
        (Action.UPDATE, "update            compose.yaml"),
        (Action.IDENTICAL, "identical         compose.yaml"),
        (Action.KEEP, "keep              compose.yaml"),
        (Action.CONFLICT, "conflict (edited) compose.yaml"),
        (Action.DELETE, "delete            compose.yaml"),
    ],
)
def test_step_text_form(action: Action, text: str) -> None:
    assert str(Step(PlannedFile("compose.yaml", "x"), action)) == text


NEW = "services: {}\n"


@pytest.mark.parametrize(
    ("policy", "on_disk", "recorded", "action"),
    [
        pytest.param(GENERATED, None, None, Action.CREATE, id="missing"),
        pytest.param(GENERATED, NEW, digest(NEW), Action.IDENTICAL, id="identical"),
        pytest.param(GENERATED, "old\n", digest("old\n"), Action.UPDATE, id="unedited"),
        pytest.param(GENERATED, "edited\n", digest("old\n"), Action.CONFLICT, id="edited"),
        pytest.param(GENERATED, "unknown\n", None, Action.CONFLICT, id="never-recorded"),
        pytest.param(SCAFFOLD, "mine\n", None, Action.KEEP, id="scaffold-kept"),
        pytest.param(SCAFFOLD, None, None, Action.CREATE, id="scaffold-missing"),
        pytest.param(SECRETS, "A=1\n", None, Action.UPDATE, id="secrets-merged"),
        pytest.param(BLOCK, "node_modules/\n", None, Action.UPDATE, id="block-merged"),
    ],
)
def test_decide(policy: str, on_disk: str | None, recorded: str | None, action: Action) -> None:
    assert decide(PlannedFile("f", NEW, policy), on_disk, recorded) is action


def test_plan_deletes_only_unedited_files_the_stack_no_longer_has() -> None:
    record = {"gone/Dockerfile": digest("old\n"), "edited/Dockerfile": digest("old\n")}
    disk = {"gone/Dockerfile": "old\n", "edited/Dockerfile": "mine\n", "compose.yaml": None}
    steps = plan([PlannedFile("compose.yaml", NEW)], disk, record)
    assert [str(s) for s in steps] == [
        "create            compose.yaml",
        "delete            gone/Dockerfile",
    ]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path, cli: Any) -> None:
    result = cli("-C", tmp_path, "init", "--yes", "--with", "api,redis", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = words(result.output)
    for path in (
        "mlstack.yaml",
        "compose.yaml",
        "compose.override.yaml",
        "compose.prod.yaml",
        ".env",
        ".gitignore",
        "api/Dockerfile",
        "api/app/main.py",
    ):
        assert f"create {path}" in lines
    assert list(tmp_path.iterdir()) == []


def test_render_dry_run_shows_identical_and_conflict(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    result = cli("-C", root, "render", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "identical compose.yaml" in words(result.output)
    assert "identical api/Dockerfile" in words(result.output)
    with (root / "compose.yaml").open("a") as handle:
        handle.write("# my tweak\n")
    result = cli("-C", root, "render", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "kept (edited) compose.yaml" in words(result.output)  # was a conflict (issue 11)
    assert "identical compose.override.yaml" in words(result.output)


# Hand edits -------------------------------------------------------------------------------


@pytest.fixture
def edited_stack(tmp_path: Path, make_stack: Any) -> Path:
    """A stack whose compose.yaml was edited by hand and whose mlstack.yaml changed since."""
    root = make_stack(tmp_path, "--with", "api,jupyter,redis")
    with (root / "compose.yaml").open("a") as handle:
        handle.write("# my tweak\n")
    set_in_spec(root, "python: '3.12'", "python: '3.11'")  # api and jupyter files change too
    return root


def test_render_merges_a_hand_edit(edited_stack: Path, cli: Any) -> None:
    """Was: render stopped (exit 2) on any hand edit; since issue 11 it merges it."""
    result = cli("-C", edited_stack, "render")
    assert result.exit_code == 0, result.output
    assert (edited_stack / "compose.yaml").read_text().endswith("# my tweak\n")
    assert "FROM python:3.11-slim" in (edited_stack / "api" / "Dockerfile").read_text()
    assert not (edited_stack / "compose.yaml.bak").exists()
    assert cli("-C", edited_stack, "render", "--check").exit_code == 0


def test_force_overwrites_and_keeps_a_backup(edited_stack: Path, cli: Any) -> None:
    result = cli("-C", edited_stack, "render", "--force")
    assert result.exit_code == 0, result.output
    assert (edited_stack / "compose.yaml.bak").read_text().endswith("# my tweak\n")
    assert "# my tweak" not in (edited_stack / "compose.yaml").read_text()
    assert "FROM python:3.11-slim" in (edited_stack / "api" / "Dockerfile").read_text()
    assert cli("-C", edited_stack, "render", "--check").exit_code == 0


@pytest.mark.parametrize(
    "command",
    [["render"], ["render", "--force"], ["init", "--yes", "--force", "--with", "api,redis"]],
    ids=" ".join,
)
def test_scaffolds_are_never_overwritten(
    tmp_path: Path, make_stack: Any, cli: Any, command: list[str]
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis,trainer")
    mine = {"api/app/main.py": "print('mine')\n", "trainer/src/train.py": "# my training\n"}
    for path, text in mine.items():
        (root / path).write_text(text)
    set_in_spec(root, "python: '3.12'", "python: '3.11'")
    result = cli("-C", root, *command)
    assert result.exit_code == 0, result.output
    for path, text in mine.items():
        assert (root / path).read_text() == text
        assert not (root / f"{path}.bak").exists()


def test_init_force_keeps_the_old_spec_as_a_backup(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    # Was: generate.init_project plans mlstack.yaml as a SCAFFOLD and forces its step to
    # UPDATE, so `init --force` replaces a hand-edited mlstack.yaml (the file users are told
    # to edit) without the .bak that the error message ("`mlstack init --force` to start over
    # (edited files are kept as .bak)") and --help promise. Fix: in init_project, when the
    # existing mlstack.yaml differs from the new one, make its step Action.CONFLICT so
    # files.apply moves it to mlstack.yaml.bak under --force.
    root = make_stack(tmp_path, "--with", "redis")
    set_in_spec(root, "components:", "# keep: our staging settings\ncomponents:")
    edited = (root / "mlstack.yaml").read_text()
    result = cli("-C", root, "init", "--yes", "--force", "--with", "redis,api")
    assert result.exit_code == 0, result.output
    assert (root / "mlstack.yaml.bak").read_text() == edited


def test_init_refuses_an_existing_stack(
    tmp_path: Path, make_stack: Any, cli: Any, tree_state: Any
) -> None:
    root = make_stack(tmp_path, "--with", "redis")
    before = tree_state(root)
    result = cli("-C", root, "init", "--yes", "--with", "api")
    assert result.exit_code == 2, result.output
    assert "mlstack.yaml: a stack already exists here" in result.output
    assert "`mlstack render`" in result.output and "--force" in result.output
    assert tree_state(root) == before
    result = cli("-C", root, "init", "--yes", "--with", "api", "--force")
    assert result.exit_code == 0, result.output
    assert "api:" in (root / "compose.yaml").read_text()


# User-owned files: .env and .gitignore ----------------------------------------------------


def test_env_is_private_and_keeps_its_values(tmp_path: Path, make_stack: Any, cli: Any) -> None:
    root = make_stack(tmp_path, "--with", "api,postgres,redis")
    env = root / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    values = env_values(root)
    assert set(values) == {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    assert all(len(v) >= 24 for v in values.values())
    env.write_text(env.read_text().replace(values["REDIS_PASSWORD"], "chosen-by-me"))
    env.chmod(0o644)
    set_in_spec(root, "python: '3.12'", "python: '3.11'")
    result = cli("-C", root, "render")
    assert result.exit_code == 0, result.output
    assert env_values(root) == {**values, "REDIS_PASSWORD": "chosen-by-me"}
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


def test_adding_a_component_appends_its_secret(tmp_path: Path, make_stack: Any, cli: Any) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    before = (root / ".env").read_text()
    result = cli("-C", root, "add", "qdrant", "jupyter")
    assert result.exit_code == 0, result.output
    after = (root / ".env").read_text()
    assert after.startswith(before)
    added = dict(line.split("=", 1) for line in after[len(before) :].splitlines())
    assert set(added) == {"QDRANT_API_KEY", "JUPYTER_TOKEN"}
    assert all(added.values())
    assert stat.S_IMODE((root / ".env").stat().st_mode) == 0o600
    example = (root / ".env.example").read_text()
    for key in ("REDIS_PASSWORD", "QDRANT_API_KEY", "JUPYTER_TOKEN"):
        assert ENV_LINE.format(key=key) in example.splitlines()


def test_gitignore_keeps_the_users_lines(tmp_path: Path, cli: Any, make_stack: Any) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    root = make_stack(tmp_path, "--with", "redis")
    text = (root / ".gitignore").read_text()
    assert text.startswith("node_modules/\n")
    assert f"{MARK_BEGIN}\n.env\n" in text and text.endswith(f"{MARK_END}\n")
    (root / ".gitignore").write_text(text.replace(".env\n", ".env\nwrong\n") + "data/\n")
    result = cli("-C", root, "add", "api")
    assert result.exit_code == 0, result.output
    again = (root / ".gitignore").read_text()
    assert again.startswith("node_modules/\n") and again.endswith(f"{MARK_END}\ndata/\n")
    assert "wrong" not in again  # inside the block: mlstack's
    assert again.count(MARK_BEGIN) == 1


# render --check ------------------------------------------------------------------------------


def test_check_passes_on_a_fresh_stack(tmp_path: Path, make_stack: Any, cli: Any) -> None:
    root = make_stack(tmp_path, "--with", "api,jupyter,redis")
    result = cli("-C", root, "render", "--check")
    assert result.exit_code == 0, result.output
    assert "no drift" in result.output


@pytest.mark.parametrize("change", ["hand-edit", "spec-edit"])
def test_check_reports_drift_and_writes_nothing(
    tmp_path: Path, make_stack: Any, cli: Any, tree_state: Any, change: str
) -> None:
    root = make_stack(tmp_path, "--with", "api,jupyter,redis")
    if change == "hand-edit":  # was an appended comment: render keeps that now (issue 11)
        compose = root / "compose.yaml"
        compose.write_text(compose.read_text().replace("redis:8.10-alpine", "redis:8.8-alpine"))
        set_in_spec(root, "gpu:", "images:\n  redis: redis:8.12-alpine\ngpu:")
        expected = "drift: conflict (merged) compose.yaml"
    else:
        set_in_spec(root, "gpu:", "shm_size: 2g\ngpu:")
        expected = "drift: update compose.yaml"
    before = tree_state(root)
    result = cli("-C", root, "render", "--check")
    assert result.exit_code == 1, result.output
    assert expected in words(result.output)
    assert "fix: run `mlstack render`" in result.output
    assert tree_state(root) == before


# add / remove ----------------------------------------------------------------------------------


def test_add_then_remove_keeps_the_users_comments(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    set_in_spec(root, "components:", "# why these: the demo of 2025-06\ncomponents:  # ours")
    result = cli("-C", root, "add", "qdrant")
    assert result.exit_code == 0, result.output
    text = (root / "mlstack.yaml").read_text()
    assert "# why these: the demo of 2025-06\ncomponents:  # ours\n" in text
    assert "  - qdrant\n" in text
    assert "qdrant:" in (root / "compose.yaml").read_text()
    assert "QDRANT_URL: http://qdrant:6333" in (root / "compose.yaml").read_text()
    result = cli("-C", root, "remove", "qdrant")
    assert result.exit_code == 0, result.output
    text = (root / "mlstack.yaml").read_text()
    assert "# why these: the demo of 2025-06\ncomponents:  # ours\n" in text
    assert "qdrant" not in text
    assert "qdrant" not in (root / "compose.yaml").read_text()
    assert cli("-C", root, "render", "--check").exit_code == 0


def test_remove_deletes_the_unedited_files_of_a_built_component(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--with", "api,jupyter,trainer,redis")
    (root / "trainer" / "requirements.txt").write_text("torch\n")  # a hand edit
    result = cli("-C", root, "remove", "jupyter", "trainer")
    assert result.exit_code == 0, result.output
    lines = words(result.output)
    for path in (
        "jupyter/Dockerfile",
        "jupyter/.dockerignore",
        "jupyter/requirements.txt",
        "trainer/Dockerfile",
        "trainer/.dockerignore",
    ):
        assert f"delete {path}" in lines
        assert not (root / path).exists()
        assert path not in manifest(root)
    assert (root / "trainer" / "requirements.txt").read_text() == "torch\n"  # edited: kept
    assert (root / "trainer" / "src" / "train.py").exists()  # scaffold: the user's
    assert (root / "notebooks" / "README.md").exists()
    assert (root / "api" / "Dockerfile").exists()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["add", "nope"], "components[2]: unknown component 'nope'"),
        (["remove", "qdrant"], "components: 'qdrant' is not in this stack"),
    ],
)
def test_add_and_remove_refuse_bad_names(
    tmp_path: Path, make_stack: Any, cli: Any, tree_state: Any, command: list[str], message: str
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis")
    before = tree_state(root)
    result = cli("-C", root, *command)
    assert result.exit_code == 2, result.output
    assert f"mlstack.yaml: {message}" in result.output
    assert tree_state(root) == before


# A directory that cannot be written ------------------------------------------------------


@pytest.fixture
def read_only(skip_or_fail: Callable[[str], None]) -> Iterator[Callable[[Path], None]]:
    """Make a directory read-only for root too: a read-only bind mount of it onto itself."""
    mounted: list[Path] = []

    def make(path: Path) -> None:
        try:
            done = subprocess.run(
                ["mount", "--bind", "-o", "ro", str(path), str(path)],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            skip_or_fail(f"cannot run mount: {exc}")
        if done.returncode != 0:
            skip_or_fail(
                f"a read-only bind mount needs root and CAP_SYS_ADMIN: {done.stderr.strip()}"
            )
        mounted.append(path)
        with pytest.raises(OSError):
            (path / "probe").write_text("x")

    yield make
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], check=True, timeout=30)


@pytest.mark.parametrize("locked", [".", "api"], ids=["target", "subdirectory"])
def test_read_only_directory_fails_cleanly(
    tmp_path: Path, cli: Any, tree_state: Any, read_only: Callable[[Path], None], locked: str
) -> None:
    root = tmp_path / "stack"
    (root / locked).mkdir(parents=True)
    read_only(root / locked)
    before = tree_state(root)
    result = cli("-C", root, "init", "--yes", "--with", "api,redis")
    assert result.exit_code == 2, result.output
    # the first path not writable: the lock's folder (.mlstack, taken before anything is read)
    first = ".mlstack" if locked == "." else "api/Dockerfile"
    assert f"error: {root / first}: cannot write: Read-only file system" in result.output
    assert f"fix: make {root} writable (and check free space); nothing was changed" in result.output
    after = tree_state(root)
    if locked != ".":  # the lock's folder stays, holding only the lock: no temp file, no stack file
        assert sorted(p.name for p in (root / ".mlstack").iterdir()) == ["lock", "lock.owner"]
        del after[".mlstack"]
    assert after == before  # in "subdirectory", root-level files were staged first
    names = sorted(p.name for p in root.iterdir())
    assert names == ([] if locked == "." else [".mlstack", "api"])
