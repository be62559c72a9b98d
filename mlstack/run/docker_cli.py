"""The docker CLI by subprocess: the quick path for short commands (ps, info, pull, config).

python-on-whales (with pydantic) costs about half a second to import on a small machine; the
commands that only read a state (``mlstack status``) need none of it, so they run the docker
CLI directly and keep its words in the same form (the last line it printed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from python_on_whales.exceptions import DockerException


INSTALL_ENGINE = (
    "install Docker Engine (Debian/Ubuntu: `sudo apt-get install docker.io`; "
    "others: https://docs.docker.com/engine/install/), then start it"
)
START_ENGINE = (
    "start it: `sudo systemctl start docker` (Linux) or open Docker Desktop; "
    "check that your user may use it: `docker info`"
)
INSTALL_COMPOSE = (
    "install the Compose v2 plugin: `sudo apt-get install docker-compose-plugin`, "
    "or put the docker-compose binary in ~/.docker/cli-plugins/"
)


def engine_fix() -> str:
    """Start the engine, or, where none is installed, install it first."""
    if shutil.which("dockerd") is None and not Path("/var/run/docker.sock").exists():
        return f"no Docker engine is installed here (only the docker CLI): {INSTALL_ENGINE}"
    return START_ENGINE


@dataclass(frozen=True)
class DockerFailed(Exception):
    """The docker CLI exited non-zero: its exit code and what it printed."""

    return_code: int
    stdout: str
    stderr: str

    def words(self) -> str:
        """What Docker said: the last line of its error output (else of its output)."""
        text = (self.stderr or self.stdout or "").strip()
        return text.splitlines()[-1] if text else f"exit code {self.return_code}"


def run_docker(
    args: Sequence[str], env: Mapping[str, str] | None = None, stdin: bytes | None = None
) -> str:
    """Run ``docker ARGS``; its output without the trailing newline, or DockerFailed.

    ``env`` is added to this process's environment (the shell's values are kept otherwise).
    """
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, env=full_env, check=False
    )
    stdout = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        raise DockerFailed(done.returncode, stdout, done.stderr.decode(errors="replace"))
    return stdout.removesuffix("\n")


def image_present(reference: str) -> bool:
    """Whether the engine has the image locally (one quick ``docker image inspect``)."""
    try:
        run_docker(["image", "inspect", "--format", "{{.Id}}", reference])
    except DockerFailed:
        return False
    return True


def whales_error() -> type[DockerException]:
    """python-on-whales' error class, imported when an ``except`` needs it (after its use)."""
    from python_on_whales.exceptions import DockerException

    return DockerException


def docker_words(exc: DockerException | DockerFailed) -> str:
    """What Docker said, without python-on-whales' framing."""
    if isinstance(exc, DockerFailed):
        return exc.words()
    text = (exc.stderr or exc.stdout or "").strip()
    return text.splitlines()[-1] if text else f"exit code {exc.return_code}"
