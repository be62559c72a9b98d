"""Day two on the real engine: ``services.api.packages`` and ``apt`` build, come up, and work.

The API image is built from the rendered Dockerfile with a pip package and a Debian package
the base image does not have; the stack comes up healthy and the package imports inside the
running container, as the user who runs the app (not root).
"""

from __future__ import annotations

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
