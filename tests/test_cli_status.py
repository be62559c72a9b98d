"""`mlstack status` on a scripted engine: the ways in, secrets, stopped, jobs only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine, state

pytestmark = pytest.mark.usefixtures("cpu_only_host")


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The engine every command of this test gets."""
    fake = FakeEngine()
    monkeypatch.setattr("mlstack.run.engine.Engine", fake.connect)
    monkeypatch.setattr("mlstack.run.health.run_probe", lambda probe, timeout=3.0: None)
    return fake


def env_value(root: Path, name: str) -> str:
    """One value of the stack's .env."""
    lines = (root / ".env").read_text().splitlines()
    return next(line.split("=", 1)[1] for line in lines if line.startswith(f"{name}="))


@pytest.fixture
def running(tmp_path: Path, make_stack: Any, engine: FakeEngine) -> Path:
    """A running, healthy stack with Jupyter, Postgres and Redis."""
    root = make_stack(tmp_path, "--name", "demo", "--with", "jupyter,postgres,redis")
    engine.frames = [{s: state(s) for s in ("jupyter", "postgres", "redis")}]
    return root


def test_status_says_how_to_get_in_without_printing_secrets(running: Path, cli: Any) -> None:
    result = cli("-C", running, "status")
    assert result.exit_code == 0, result.output
    assert "  jupyter    http://127.0.0.1:8888/lab?token=${JUPYTER_TOKEN}\n" in result.output
    assert "  postgres   postgresql://app:${POSTGRES_PASSWORD}@127.0.0.1:5432/app\n" in (
        result.output
    )
    assert "  redis      redis://:${REDIS_PASSWORD}@127.0.0.1:6379\n" in result.output
    assert "JUPYTER_TOKEN, POSTGRES_PASSWORD, REDIS_PASSWORD in .env" in result.output
    for name in ("JUPYTER_TOKEN", "POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        assert env_value(running, name) not in result.output


def test_show_secrets_prints_them_inside_the_urls_unbroken(running: Path, cli: Any) -> None:
    result = cli("-C", running, "status", "--show-secrets")
    assert result.exit_code == 0, result.output
    token = env_value(running, "JUPYTER_TOKEN")
    assert f"http://127.0.0.1:8888/lab?token={token}\n" in result.output
    assert f"redis://:{env_value(running, 'REDIS_PASSWORD')}@127.0.0.1:6379" in result.output


def test_status_json_keeps_its_fields_and_adds_the_ways_in(running: Path, cli: Any) -> None:
    doc = json.loads(cli("-C", running, "status", "--json").output)
    assert doc["healthy"] is True and doc["running"] is True and doc["note"] is None
    first = doc["services"][0]
    assert set(first) >= {"service", "state", "health", "ok", "url", "exit_code", "container"}
    assert first["url"] == "http://127.0.0.1:8888/lab"  # unchanged: no credential
    assert first["access_url"] == "http://127.0.0.1:8888/lab?token=${JUPYTER_TOKEN}"
    assert doc["secrets_file"] == ".env"


def test_a_stopped_stack_says_run_up(tmp_path: Path, make_stack: Any, cli: Any, engine) -> None:
    root = make_stack(tmp_path, "--name", "demo", "--with", "redis")
    result = cli("-C", root, "status")
    assert result.exit_code == 1
    assert result.output.strip() == "demo (dev): not running: run `mlstack up`"
    doc = json.loads(cli("-C", root, "status", "--json").output)
    assert doc["healthy"] is False and doc["running"] is False


def test_a_stack_of_jobs_only_is_not_healthy_with_nothing_in_it(
    tmp_path: Path, make_stack: Any, cli: Any, engine: FakeEngine
) -> None:
    root = make_stack(tmp_path, "--name", "demo", "--with", "trainer", "--gpu", "none")
    result = cli("-C", root, "status")
    assert result.exit_code == 0, result.output
    assert "no long-running service in this stack (jobs: trainer" in result.output
    doc = json.loads(cli("-C", root, "status", "--json").output)
    assert doc["healthy"] is False and doc["services"] == []
    assert doc["note"].startswith("no long-running service")
