"""What people expect of any CLI: --version, -h, shell completion, coloured errors, short help."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from importlib.metadata import version
from typing import Any

import pytest

from mlstack.cli.messages import painted


def mlstack(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "mlstack", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )


def test_version(cli: Any) -> None:
    for flag in ("--version", "-V"):
        result = cli(flag)
        assert result.exit_code == 0
        assert result.output == f"mlstack {version('mlstack')}\n"


@pytest.mark.parametrize("command", [[], ["status"], ["export", "k8s"]])
def test_dash_h_is_help(cli: Any, command: list[str]) -> None:
    short, long = cli(*command, "-h"), cli(*command, "--help")
    assert short.exit_code == long.exit_code == 0
    assert short.output == long.output and "Usage: " in short.output


def test_shell_completion_script_is_offered() -> None:
    done = mlstack("--show-completion", "bash", SHELL="/bin/bash")
    assert done.returncode == 0, done.stderr
    assert "_mlstack_completion()" in done.stdout and "_MLSTACK_COMPLETE" in done.stdout
    assert "--install-completion" in mlstack("--help").stdout


def test_completion_completes_commands() -> None:
    done = mlstack(_MLSTACK_COMPLETE="complete_bash", COMP_WORDS="mlstack sh", COMP_CWORD="1")
    assert done.stdout.split() == ["shell"]


def test_every_summary_fits_in_help_at_80_columns() -> None:
    text = mlstack("--help", COLUMNS="80").stdout
    commands = text.split("Commands:")[1].splitlines()[1:]
    assert len(commands) >= 17
    assert [line for line in commands if line.endswith("...") or len(line) > 80] == []


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_errors_are_red_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    text = "error: mlstack.yaml: file not found\n  fix: run `mlstack init` first"
    coloured = painted(text, Terminal())
    assert coloured.startswith("\x1b[31m\x1b[1merror:\x1b[0m mlstack.yaml")
    assert painted(text, io.StringIO()) == text  # not a terminal (a pipe, a CI log)
    monkeypatch.setenv("NO_COLOR", "1")
    assert painted(text, Terminal()) == text


def test_errors_in_a_pipe_carry_no_colour(tmp_path: Any) -> None:
    done = mlstack("-C", str(tmp_path), "status")
    assert done.returncode == 2
    assert done.stderr.startswith("error: mlstack.yaml") and "\x1b[" not in done.stderr
