"""`mlstack run`, `exec` and `status`'s ways in, on a real engine with real containers.

The trainer's image installs torch (gigabytes, no registry here), so `run` is shown on a job of
the same kind a user adds: a fragment of kind job on the python stand-in. Jupyter is the real
JupyterLab (the stand-in installs it), so its token URL is checked against its own API.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from conftest import destroy, init_stack, mlstack

pytestmark = pytest.mark.engine

PROJECT = "e2edaily"
PORTS = {"redis": 26391, "jupyter": 28891}
HELLO = """\
# A job of the user's own: `mlstack run hello -- CMD`.
name: hello
summary: a tiny job on the python image
kind: job
image: python
images:
  python: python:{python}-slim
service:
  profiles: [jobs]
  command: [python, -c, "print('hello')"]
"""


@pytest.fixture(scope="module")
def daily(tmp_path_factory, e2e_images):
    """A running stack: Redis, Jupyter, and a job."""
    root = tmp_path_factory.mktemp("daily") / PROJECT
    (root / "stacks").mkdir(parents=True)
    (root / "stacks" / "hello.yaml").write_text(HELLO)
    init_stack(root, PROJECT, "redis,jupyter,hello", PORTS, e2e_images)
    try:
        mlstack(root, "up", "--timeout", "300", check=True)
        yield root
    finally:
        destroy(root, PROJECT)


def test_run_streams_the_jobs_output_and_returns_its_exit_code(daily):
    code = "import sys; print('epoch 1 done', flush=True); sys.exit(5)"
    done = mlstack(daily, "run", "hello", "--", "python", "-c", code)
    assert done.returncode == 5, done.stderr
    assert "epoch 1 done" in done.stdout
    assert mlstack(daily, "run", "hello").stdout.strip().endswith("hello")  # its own command
    leftover = mlstack(daily, "status", "--json")  # --rm: no job container stays behind
    assert "hello" not in {s["service"] for s in json.loads(leftover.stdout)["services"]}


def test_exec_runs_in_the_service_as_its_non_root_user(daily):
    done = mlstack(daily, "exec", "jupyter", "--", "id", "-u")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1000"
    failed = mlstack(daily, "exec", "jupyter", "--", "sh", "-c", "exit 4")
    assert failed.returncode == 4


def in_a_terminal(root, *args: str, typed: bytes = b"", timeout: float = 120) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin, stdout and stderr, as a user's shell does;
    ``typed`` is what the user types."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlstack", "-C", str(root), *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    os.write(leader, typed)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: every process on it has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=30), b"".join(chunks).decode(errors="replace")


def test_exec_and_shell_hand_the_users_terminal_through(daily):
    code, text = in_a_terminal(daily, "exec", "jupyter", "--", "tty")
    assert code == 0, text
    assert "/dev/pts/" in text  # compose allocated a TTY in the container: ours reached it
    code, text = in_a_terminal(
        daily, "shell", "jupyter", typed=b"echo $((6*7))-$(id -un)\nexit 5\n"
    )
    assert code == 5, text  # the shell read what was typed, and its exit code came back
    assert "42-jovyan" in text


def test_status_token_url_logs_into_the_live_jupyter(daily):
    shown = json.loads(mlstack(daily, "status", "--json").stdout)
    masked = {s["service"]: s["access_url"] for s in shown["services"]}
    assert masked["jupyter"].endswith("/lab?token=${JUPYTER_TOKEN}")
    doc = json.loads(mlstack(daily, "status", "--json", "--show-secrets").stdout)
    url = {s["service"]: s["access_url"] for s in doc["services"]}["jupyter"]
    base, _, token = url.partition("/lab?token=")
    assert base == f"http://127.0.0.1:{PORTS['jupyter']}" and token
    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=10) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:  # the token is what lets you in
        urllib.request.urlopen(f"{base}/api/status", timeout=10)
    assert refused.value.code == 403
    assert masked["redis"] == f"redis://:${{REDIS_PASSWORD}}@127.0.0.1:{PORTS['redis']}"
