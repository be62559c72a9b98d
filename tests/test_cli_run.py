"""`up`, `status`, `logs`, `doctor` through the CLI, on a scripted engine: what the user reads.

The engine is replaced where the core imports it (``mlstack.run.engine.Engine``), so the CLI,
the core and the event rendering are the real ones; the same texts are asserted on a real
engine in tests/e2e.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine, state

pytestmark = pytest.mark.usefixtures("cpu_only_host")

REDIS_IMAGE = "redis:8.10-alpine"


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The engine every command of this test gets."""
    fake = FakeEngine(images={REDIS_IMAGE})
    monkeypatch.setattr("mlstack.run.engine.Engine", fake.connect)
    monkeypatch.setattr("mlstack.run.health.POLL_SECONDS", 0.0)
    return fake


def test_up_prints_progress_then_the_health_table(
    tmp_path: Path, make_stack: Any, cli: Any, engine: FakeEngine
) -> None:
    root = make_stack(tmp_path, "--name", "demo", "--with", "redis")
    engine.frames = [{}, {"redis": state("redis")}]
    engine.images.clear()
    result = cli("-C", root, "up", "--profile", "prod", "--timeout", "30")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"pulling: {REDIS_IMAGE}"
    assert lines[1] == "starting redis (prod); waiting up to 30s"
    assert "redis      healthy" in result.output  # one line per change (not a terminal)
    assert "demo (prod)" in result.output
    assert "│ redis   │ running │ healthy │" in result.output


def test_up_reports_a_failed_service_with_logs_hints_and_commands(
    tmp_path: Path, make_stack: Any, cli: Any, engine: FakeEngine
) -> None:
    root = make_stack(tmp_path, "--with", "redis")
    engine.frames = [{}, {"redis": state("redis", "exited", "", 137)}]
    engine._logs = {"redis": "loading\nKilled\n"}
    engine.oom = {"t-redis-1"}
    result = cli("-C", root, "up", "--profile", "prod")
    assert result.exit_code == 1, result.output
    assert "✗ redis: container exited (exit code 137)" in result.output
    assert "state: exited, health: no check, exit code: 137" in result.output
    assert "last 2 log lines:\n    loading\n    Killed" in result.output
    assert "hint: " in result.output
    assert "troubleshoot: docker compose logs redis;" in result.output
    assert result.output.rstrip().endswith("error: 1 of 1 services are not healthy: redis"), (
        result.output
    )


def test_a_failed_preflight_lists_each_failed_check_and_its_fix(
    tmp_path: Path, make_stack: Any, cli: Any, engine: FakeEngine
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        root = make_stack(tmp_path, "--with", "redis", "--port", f"redis={port}")
        result = cli("-C", root, "up")
    assert result.exit_code == 1, result.output
    assert result.output.startswith(
        f"error: preflight failed, nothing was started:\nports: {port} (redis) is held by "
    ), result.output
    assert "\n  fix: stop what holds it, or move the service: set REDIS_HOST_PORT in .env" in (
        result.output
    )
    assert engine.calls == []


def test_status_table_and_exit_code(
    tmp_path: Path, make_stack: Any, cli: Any, engine: FakeEngine
) -> None:
    root = make_stack(tmp_path, "--name", "demo", "--with", "redis")
    engine.frames = [{"redis": state("redis", "exited", "", 137)}]
    result = cli("-C", root, "status", "--profile", "prod")
    assert result.exit_code == 1, result.output
    assert "demo (prod)" in result.output and "│ redis   │ exited │" in result.output
    as_json = cli("-C", root, "status", "--profile", "prod", "--json")
    assert json.loads(as_json.output)["services"][0]["exit_code"] == 137


def test_logs_prints_the_lines_as_they_come(
    tmp_path: Path, make_stack: Any, cli: Any, engine: FakeEngine
) -> None:
    root = make_stack(tmp_path, "--with", "redis")
    engine._logs = {"redis": "one\ntwo\n"}
    result = cli("-C", root, "logs", "redis")
    assert result.exit_code == 0, result.output
    assert result.output == "one\ntwo\n"


def test_doctor_exits_1_when_a_check_fails(
    tmp_path: Path, make_stack: Any, cli: Any, engine: FakeEngine
) -> None:
    from mlstack.errors import EngineError

    root = make_stack(tmp_path, "--with", "redis")
    engine._info = EngineError("the Docker engine is not reachable: x", "start it")
    result = cli("-C", root, "doctor", "--json")
    assert result.exit_code == 1, result.output
    checks = {c["id"]: c for c in json.loads(result.output)["checks"]}
    assert checks["engine"] == {
        "id": "engine",
        "status": "fail",
        "found": "the Docker engine is not reachable: x",
        "fix": "start it",
    }


@pytest.mark.parametrize("command", ["up", "status", "doctor"])
def test_profile_is_dev_or_prod(tmp_path: Path, cli: Any, command: str) -> None:
    result = cli("-C", tmp_path, command, "--profile", "staging")
    assert result.exit_code == 2, result.output
    assert "'staging' is not one of 'dev', 'prod'" in result.output
