"""Commands work from any subdirectory of a stack (as compose and git do); -C still wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine, state

from mlstack.spec.project_root import find_project

pytestmark = pytest.mark.usefixtures("cpu_only_host")


def test_find_project_is_the_nearest_upward(tmp_path: Path) -> None:
    (tmp_path / "outer" / "inner" / "deep").mkdir(parents=True)
    (tmp_path / "outer" / "mlstack.yaml").write_text("name: outer\n")
    assert find_project(tmp_path / "outer" / "inner" / "deep") == tmp_path / "outer"
    (tmp_path / "outer" / "inner" / "mlstack.yaml").write_text("name: inner\n")
    assert find_project(tmp_path / "outer" / "inner" / "deep") == tmp_path / "outer" / "inner"
    assert find_project(tmp_path) is None
    (tmp_path / "dir-named-so" / "mlstack.yaml").mkdir(parents=True)  # a folder is no stack
    assert find_project(tmp_path / "dir-named-so") is None


def test_status_from_a_subdirectory_finds_the_stack(
    tmp_path: Path, make_stack: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_stack(tmp_path / "proj", "--name", "demo", "--with", "redis")
    fake = FakeEngine(frames=[{"redis": state("redis")}])
    monkeypatch.setattr("mlstack.run.engine.Engine", fake.connect)
    monkeypatch.setattr("mlstack.run.health.run_probe", lambda probe, timeout=3.0: None)
    (root / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(root / "notebooks" / "deep")
    result = cli("status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["project"] == "demo"
    wins = cli("-C", ".", "status")  # -C names the directory, with no search
    assert wins.exit_code == 2 and "mlstack.yaml: file not found" in wins.output


def test_init_in_a_subdirectory_creates_a_stack_there(
    tmp_path: Path, make_stack: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = make_stack(tmp_path / "outer", "--name", "outer", "--with", "redis")
    (outer / "sub").mkdir()
    monkeypatch.chdir(outer / "sub")
    result = cli("init", "--yes", "--name", "inner", "--with", "redis")
    assert result.exit_code == 0, result.output
    assert "name: inner" in (outer / "sub" / "mlstack.yaml").read_text()
    assert "name: outer" in (outer / "mlstack.yaml").read_text()
