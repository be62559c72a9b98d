"""The ``mlstack init`` wizard for real: questionary in a pseudo-terminal, driven by pexpect.

The wizard asks (mlstack/prompts.py): the project name (text, the directory's name pre-filled),
the components (checkbox, every component but the trainer pre-checked, catalog order), the GPUs
(skipped on a host without one: it prints "No NVIDIA GPU"; conftest makes every test host such
a host), /dev/shm (only with a GPU) and the Python version (select: 3.12, 3.11, 3.13).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

pytestmark = pytest.mark.usefixtures("cpu_only_host")

DOWN, SPACE, ENTER, CTRL_C, CTRL_D, CTRL_U = "\x1b[B", " ", "\r", "\x03", "\x04", "\x15"
TIMEOUT = 60  # seconds per expected prompt: generous, the first start imports a lot


@pytest.fixture
def wizard(tool_path: Callable[[str], str | None]) -> Iterator[Callable[[Path], Any]]:
    """Start ``mlstack -C DIR init`` in a pseudo-terminal of 40x120."""
    children = []

    def spawn(root: Path, *extra: str) -> Any:
        binary = tool_path("mlstack")
        command, args = (binary, []) if binary else (sys.executable, ["-m", "mlstack"])
        child = pexpect.spawn(
            command,
            [*args, "-C", str(root), "init", *extra],
            env={**os.environ, "TERM": "xterm"},
            dimensions=(40, 120),
            timeout=TIMEOUT,
            encoding="utf-8",
            codec_errors="replace",
        )
        children.append(child)
        return child

    yield spawn
    for child in children:
        if child.isalive():
            child.terminate(force=True)


def finish(child: Any) -> str:
    """Wait for the end; the transcript's tail, for assertion messages."""
    child.expect(pexpect.EOF)
    child.close()
    return child.before or ""


def test_wizard_writes_what_the_equivalent_flags_write(
    tmp_path: Path, wizard: Any, make_stack: Any, tree: Any
) -> None:
    asked = tmp_path / "asked"
    asked.mkdir()
    child = wizard(asked)
    child.expect("Project name:")
    child.send(CTRL_U)  # clear the pre-filled directory name
    child.send("wiz-stack" + ENTER)
    child.expect(r"Components \(space to toggle, enter to confirm\):")
    child.expect("trainer")  # the whole list is drawn
    child.send(DOWN * 4 + SPACE)  # api, jupyter, mlflow, postgres, [qdrant]: off
    child.send(DOWN * 2 + SPACE)  # redis, [trainer]: on
    child.send(ENTER)
    child.expect("No NVIDIA GPU")
    child.expect("Python version of built images:")
    child.expect("3.13")
    child.send(DOWN + ENTER)  # 3.12, [3.11]
    child.expect("Write this stack?")  # the summary's confirmation (new step: Enter is yes)
    child.send(ENTER)
    child.expect("is ready in")
    transcript = finish(child)
    assert child.exitstatus == 0, transcript

    flagged = make_stack(
        tmp_path / "flagged",
        "--name",
        "wiz-stack",
        "--with",
        "api,jupyter,mlflow,postgres,redis,trainer",
        "--python",
        "3.11",
    )
    ours, theirs = tree(asked), tree(flagged)
    assert ours.pop(".env") and theirs.pop(".env")  # random secrets: the only difference
    assert sorted(ours) == sorted(theirs)
    for path in ours:
        assert ours[path] == theirs[path], path
    assert b"python: '3.11'" in ours["mlstack.yaml"]


@pytest.mark.parametrize("question", ["Project name:", "Components", "Python version"])
def test_ctrl_c_leaves_nothing_behind(tmp_path: Path, wizard: Any, question: str) -> None:
    child = wizard(tmp_path)
    child.expect("Project name:")
    if question != "Project name:":
        child.send(ENTER)  # keep the directory's name
        child.expect("Components")
        child.expect("trainer")
    if question == "Python version":
        child.send(ENTER)  # keep the default components
        child.expect("Python version of built images:")
        child.expect("3.13")
    child.send(CTRL_C)
    transcript = finish(child)
    assert child.exitstatus == 130, transcript  # ExitCode.INTERRUPTED
    assert "nothing was written" in transcript
    assert list(tmp_path.iterdir()) == []


def test_a_bad_name_is_asked_again_at_once(tmp_path: Path, wizard: Any) -> None:
    child = wizard(tmp_path)
    child.expect("Project name:")
    child.send(CTRL_U + "Bad Name!" + ENTER)
    child.expect("a compose project name")  # the schema's words, under the same question
    child.send(CTRL_U + "good-name" + ENTER)
    child.expect("Components")  # the next question: nothing was lost, nothing was written
    child.send(CTRL_C)
    finish(child)
    assert child.exitstatus == 130
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("question", ["Project name:", "Components", "Write this stack?"])
def test_ctrl_d_cancels_like_ctrl_c(tmp_path: Path, wizard: Any, question: str) -> None:
    child = wizard(tmp_path)
    child.expect("Project name:")
    if question != "Project name:":
        child.send(ENTER)
        child.expect("Components")
        child.expect("trainer")
    if question == "Write this stack?":
        child.send(ENTER)
        child.expect("Python version of built images:")
        child.expect("3.13")
        child.send(ENTER)
        child.expect(question)
    child.send(CTRL_D)
    transcript = finish(child)
    assert child.exitstatus == 130, transcript
    assert "nothing was written" in transcript
    assert list(tmp_path.iterdir()) == []


def test_summary_then_no_writes_nothing(tmp_path: Path, wizard: Any) -> None:
    child = wizard(tmp_path)
    child.expect("Project name:")
    child.send(CTRL_U + "summed" + ENTER)
    child.expect("trainer")
    child.send(ENTER)
    child.expect("3.13")
    child.send(ENTER)
    child.expect("Write this stack?")
    shown = child.before
    child.send("n")
    transcript = finish(child)
    assert child.exitstatus == 130, transcript
    assert "name: summed" in shown and "components: api, jupyter" in shown
    assert "python: 3.12" in shown
    assert "nothing was written" in transcript
    assert list(tmp_path.iterdir()) == []


def test_an_existing_stack_is_refused_before_the_first_question(
    tmp_path: Path, wizard: Any, make_stack: Any
) -> None:
    root = make_stack(tmp_path / "there")
    child = wizard(root)
    transcript = finish(child)
    assert child.exitstatus == 2, transcript
    assert "a stack already exists here" in transcript and "--force" in transcript
    assert "Project name" not in transcript


def test_the_summary_never_shows_the_index_credential(tmp_path: Path, wizard: Any) -> None:
    url = "https://alice:s3cr3t-token@pypi.example.com/simple"
    child = wizard(
        tmp_path, "--name", "cred", "--with", "api", "--python", "3.12", "--pip-index-url", url
    )
    child.expect("Write this stack?")
    shown = child.before
    child.send("n")
    transcript = finish(child)
    assert "build.pip_index_url: https://${PIP_INDEX_CREDENTIALS}@pypi.example.com/simple" in shown
    assert "s3cr3t-token" not in shown + transcript
