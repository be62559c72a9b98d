"""Day two on the real engine: ``services.api.packages`` and ``apt`` build, come up, and work.

The API image is built from the rendered Dockerfile with a pip package and a Debian package
the base image does not have; the stack comes up healthy and the package imports inside the
running container, as the user who runs the app (not root). A second stack sets
``services.api.env``, a generated and a user-filled secret, and a second published port: each
is seen inside the running container, and the second port answers on 127.0.0.1.
"""

from __future__ import annotations

import time
import urllib.request

import pytest
from conftest import compose, destroy, init_stack, mlstack

pytestmark = pytest.mark.engine

PROJECT = "e2edaytwo"
SETTINGS = "services:\n  api:\n    packages: [six==1.17.0]\n    apt: [jq]\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, e2e_images):
    root = tmp_path_factory.mktemp("daytwo")
    init_stack(root, PROJECT, "api,redis", {"api": 18100, "redis": 16390}, e2e_images)
    with (root / "mlstack.yaml").open("a") as handle:
        handle.write(SETTINGS)
    with (root / "api" / "requirements.txt").open("a") as handle:
        handle.write("idna==3.10\n")  # a hand edit, merged by the render
    mlstack(root, "render", check=True)
    yield root
    destroy(root, PROJECT)


def test_packages_and_apt_build_and_the_stack_is_healthy(stack):
    requirements = (stack / "api" / "requirements.txt").read_text().splitlines()
    assert "six==1.17.0" in requirements and "idna==3.10" in requirements
    done = mlstack(stack, "up", "--profile", "dev", "--build", "--timeout", "300")
    assert done.returncode == 0, done.stdout + done.stderr
    code = "import six, idna, os; print(six.__version__, idna.__version__, os.getuid())"
    run = compose(stack, "exec", "-T", "api", "python", "-c", code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1.17.0", "3.10", "10001"]
    jq = compose(stack, "exec", "-T", "api", "jq", "--version")
    assert jq.returncode == 0 and jq.stdout.startswith("jq-"), jq.stderr


SETTINGS_PROJECT = "e2edaytwoenv"
ENV_SETTINGS = """\
services:
  api:
    env: {APP_MODE: e2e, PRICE: 5$}
    secrets: [APP_SIGNING_KEY, {name: HF_TOKEN, from: user}]
    ports: [{container: 9001, host: 18111}]
"""
SEEN = ("APP_MODE", "PRICE", "APP_SIGNING_KEY", "HF_TOKEN")
ECHO = f"import os; print(*(os.environ[k] for k in {SEEN!r}))"


@pytest.fixture(scope="module")
def settings_stack(tmp_path_factory, e2e_images):
    root = tmp_path_factory.mktemp("daytwoenv")
    ports = {"api": 18110, "redis": 16391}
    init_stack(root, SETTINGS_PROJECT, "api,redis", ports, e2e_images)
    with (root / "mlstack.yaml").open("a") as handle:
        handle.write(ENV_SETTINGS)
    mlstack(root, "render", check=True)
    yield root
    destroy(root, SETTINGS_PROJECT)


def test_env_secrets_and_a_second_port_reach_the_running_service(settings_stack):
    root = settings_stack
    refused = mlstack(root, "up", "--profile", "dev", "--timeout", "300")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "HF_TOKEN (api) is missing or empty" in refused.stdout + refused.stderr
    assert compose(root, "ps", "-q").stdout.strip() == ""  # nothing was started
    env = (root / ".env").read_text()
    (root / ".env").write_text(env.replace("HF_TOKEN=\n", "HF_TOKEN=hf_e2e_value\n"))
    done = mlstack(root, "up", "--profile", "dev", "--build", "--timeout", "300")
    assert done.returncode == 0, done.stdout + done.stderr
    run = compose(root, "exec", "-T", "api", "python", "-c", ECHO)
    assert run.returncode == 0, run.stderr
    signing = next(line for line in env.splitlines() if line.startswith("APP_SIGNING_KEY="))
    assert run.stdout.split() == ["e2e", "5$", signing.split("=", 1)[1], "hf_e2e_value"]
    server = ["python", "-m", "http.server", "9001", "--bind", "0.0.0.0", "--directory", "/tmp"]
    assert compose(root, "exec", "-d", "-T", "api", *server).returncode == 0
    assert _answers("http://127.0.0.1:18111/"), "the second published port does not answer"


def _answers(url: str, seconds: float = 20) -> bool:
    """Whether ``url`` answers 200 within ``seconds`` (the server in the container starts now)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            time.sleep(0.5)
    return False
