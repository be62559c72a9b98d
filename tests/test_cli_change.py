"""add/remove that change nothing say so; remove keeps the rest; .env filled in place;
a broken fragment the stack does not use; every --dry-run says that nothing was written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine

pytestmark = pytest.mark.usefixtures("cpu_only_host")

DRY_RUN_DONE = "dry run: nothing was written"


@pytest.fixture
def stack(tmp_path: Path, make_stack: Any) -> Path:
    """A stack with Redis and the API."""
    return make_stack(tmp_path / "s", "--name", "demo", "--with", "redis,api")


def test_add_of_a_present_component_says_so_and_writes_nothing(
    stack: Path, cli: Any, tree: Any
) -> None:
    before = tree(stack)
    result = cli("-C", stack, "add", "redis")
    assert result.exit_code == 0, result.output
    assert result.output == "already in the stack: redis; nothing changed\n"
    assert tree(stack) == before


def test_add_of_present_and_new_adds_the_new_and_names_the_present(stack: Path, cli: Any) -> None:
    result = cli("-C", stack, "add", "redis", "postgres")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("already in the stack: redis\n")
    assert "  - postgres" in (stack / "mlstack.yaml").read_text()


def test_remove_of_an_absent_component_is_refused_and_writes_nothing(
    stack: Path, cli: Any, tree: Any
) -> None:
    before = tree(stack)
    result = cli("-C", stack, "remove", "postgres")
    assert result.exit_code == 2
    assert "'postgres' is not in this stack" in result.output
    assert "the stack has: redis, api" in result.output
    assert tree(stack) == before


def test_remove_keeps_the_users_other_settings_and_comments(stack: Path, cli: Any) -> None:
    spec = stack / "mlstack.yaml"
    text = spec.read_text().replace("  - redis\n", "  - redis  # the cache\n")
    text += "# my own note\nimages:\n  redis: redis:7-alpine  # pinned by me\n"
    text += "services:\n  redis:\n    compose:\n      environment:\n        A: b  # kept\n"
    spec.write_text(text)
    assert cli("-C", stack, "render").exit_code == 0
    result = cli("-C", stack, "remove", "api")
    assert result.exit_code == 0, result.output
    after = spec.read_text()
    assert after == text.replace("  - api\n", "")


def test_an_empty_value_in_env_is_filled_not_duplicated(stack: Path, cli: Any) -> None:
    env = stack / ".env"
    env.write_text(env.read_text().replace(_line(env, "REDIS_PASSWORD"), "REDIS_PASSWORD="))
    assert cli("-C", stack, "render").exit_code == 0
    lines = [x for x in env.read_text().splitlines() if x.startswith("REDIS_PASSWORD=")]
    assert len(lines) == 1 and len(lines[0]) > len("REDIS_PASSWORD=") + 16


def _line(env: Path, key: str) -> str:
    return next(x for x in env.read_text().splitlines() if x.startswith(f"{key}="))


BROKEN = "name: extra\nsummary: [not closed\n"


def test_a_broken_fragment_the_stack_does_not_use_breaks_neither_status_nor_down(
    stack: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FakeEngine()
    monkeypatch.setattr("mlstack.run.engine.Engine", engine.connect)
    (stack / "stacks").mkdir()
    (stack / "stacks" / "extra.yaml").write_text(BROKEN)
    status = cli("-C", stack, "status")
    assert status.exit_code == 1 and "not running: run `mlstack up`" in status.output
    assert cli("-C", stack, "down").exit_code == 0
    assert engine.calls == [("down", False)]
    rendered = cli("-C", stack, "render")  # what renders still needs every fragment sound
    assert rendered.exit_code == 2 and "stacks/extra.yaml: line 3" in rendered.output


def test_a_broken_fragment_the_stack_uses_is_the_error(
    stack: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mlstack.run.engine.Engine", FakeEngine().connect)
    (stack / "stacks").mkdir()
    (stack / "stacks" / "redis.yaml").write_text(BROKEN.replace("extra", "redis"))
    status = cli("-C", stack, "status")
    assert status.exit_code == 2 and "error: stacks/redis.yaml: line 3" in status.output


@pytest.mark.parametrize(
    "command",
    [
        ["init", "--yes", "--with", "redis", "--force"],
        ["render"],
        ["add", "postgres"],
        ["remove", "api"],
        ["add", "redis"],
    ],
)
def test_every_dry_run_says_nothing_was_written(
    stack: Path, cli: Any, tree: Any, command: list[str]
) -> None:
    (stack / "compose.yaml").write_text("# edited\n")  # so that render has something to do
    before = tree(stack)
    result = cli("-C", stack, *command, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"\n{DRY_RUN_DONE}\n") or result.output == DRY_RUN_DONE + "\n"
    assert tree(stack) == before
