"""`run`, `exec`, `shell`, `open` through the CLI on a scripted engine: the calls, codes, errors.

The same commands run on the real engine in tests/e2e/test_daily.py.
"""

from __future__ import annotations

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
    monkeypatch.delenv("BROWSER", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return fake


@pytest.fixture
def stack(tmp_path: Path, make_stack: Any) -> Path:
    """A stack with a job, an HTTP service with a token and a database."""
    return make_stack(tmp_path, "--name", "t", "--with", "jupyter,trainer,postgres,redis")


def test_run_passes_the_arguments_after_dashes_and_returns_the_jobs_code(
    stack: Path, cli: Any, engine: FakeEngine
) -> None:
    engine.exit_code = 3
    result = cli("-C", stack, "run", "trainer", "--", "python", "train.py", "--epochs", "2")
    assert result.exit_code == 3, result.output
    run = [c for c in engine.calls if c[0] == "run"]
    assert run == [
        ("run", "trainer", ("python", "train.py", "--epochs", "2"), ("train",), run[0][4])
    ]


def test_run_of_an_unknown_job_names_the_jobs(stack: Path, cli: Any, engine: FakeEngine) -> None:
    result = cli("-C", stack, "run", "trainr")
    assert result.exit_code == 2
    assert "'trainr' is not in this stack" in result.output
    assert "jobs of this stack: trainer" in result.output
    assert not [c for c in engine.calls if c[0] == "run"]


def test_exec_runs_the_command_in_a_running_service(
    stack: Path, cli: Any, engine: FakeEngine
) -> None:
    engine.frames = [{"redis": state("redis")}]
    engine.exit_code = 7
    result = cli("-C", stack, "exec", "redis", "--", "redis-cli", "ping")
    assert result.exit_code == 7, result.output
    assert ("exec", "redis", ("redis-cli", "ping")) in engine.calls


def test_shell_and_exec_without_a_command_open_a_shell(
    stack: Path, cli: Any, engine: FakeEngine
) -> None:
    engine.frames = [{"redis": state("redis")}]
    assert cli("-C", stack, "shell", "redis").exit_code == 0
    assert cli("-C", stack, "exec", "redis").exit_code == 0
    shells = [c for c in engine.calls if c[0] == "exec"]
    assert len(shells) == 2 and shells[0] == shells[1]
    assert shells[0][2][0] == "sh" and "bash" in shells[0][2][-1]


def test_exec_in_a_stopped_service_says_to_run_up(
    stack: Path, cli: Any, engine: FakeEngine
) -> None:
    engine.frames = [{"redis": state("redis", "exited", "", 0)}]
    result = cli("-C", stack, "exec", "redis", "--", "true")
    assert result.exit_code == 1
    assert "error: redis is not running (exited)" in result.output
    assert "mlstack up" in result.output
    assert not [c for c in engine.calls if c[0] == "exec"]


def test_exec_in_an_unknown_service_names_the_services(
    stack: Path, cli: Any, engine: FakeEngine
) -> None:
    result = cli("-C", stack, "exec", "mongo")
    assert result.exit_code == 2
    assert "choose among: jupyter, postgres, redis" in result.output


def test_open_prints_the_url_with_the_token_as_a_variable(
    stack: Path, cli: Any, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    engine.frames = [{"jupyter": state("jupyter")}]
    result = cli("-C", stack, "open", "jupyter")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "http://127.0.0.1:8888/lab?token=${JUPYTER_TOKEN}"
    assert opened == []  # no display, no BROWSER: nothing to open


def test_open_hands_the_browser_the_real_token(
    stack: Path, cli: Any, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    monkeypatch.setenv("BROWSER", "true")
    monkeypatch.delenv("CI", raising=False)
    engine.frames = [{"jupyter": state("jupyter")}]
    token = next(
        line.split("=", 1)[1]
        for line in (stack / ".env").read_text().splitlines()
        if line.startswith("JUPYTER_TOKEN=")
    )
    assert cli("-C", stack, "open", "jupyter").exit_code == 0
    assert opened == [f"http://127.0.0.1:8888/lab?token={token}"]
    assert token not in cli("-C", stack, "open", "jupyter").output


def test_logs_passes_tail_since_and_timestamps_for_several_services(
    stack: Path, cli: Any, engine: FakeEngine
) -> None:
    from mlstack.run.records import LogOptions

    engine._logs = {"redis": "r1\n", "postgres": "p1\n", "jupyter": "j1\n"}
    result = cli("-C", stack, "logs", "redis", "postgres", "--tail", "5", "--since", "10m", "-t")
    assert result.exit_code == 0, result.output
    assert result.output == "r1\np1\n"
    options = LogOptions(follow=False, tail=5, since="10m", timestamps=True)
    assert ("logs", ("redis", "postgres"), options) in engine.calls


def test_logs_of_an_unknown_service_is_bad_input_said_once(
    stack: Path, cli: Any, engine: FakeEngine
) -> None:
    result = cli("-C", stack, "logs", "redis", "mongo")
    assert result.exit_code == 2
    assert result.output.count("mongo") == 1
    assert "not in this stack: mongo" in result.output
    assert "choose among: jupyter, postgres, redis, trainer" in result.output
    assert not [c for c in engine.calls if c[0] == "logs"]
