"""The engine's calls that run on the user's own terminal: a job, a command in a service.

Apart from ``engine`` (which captures and masks what Docker says) because here nothing is
captured: stdin, stdout and stderr are the user's, so a shell is interactive, a job streams,
Ctrl-C reaches the container, and the exit code is the command's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlstack.layout import Profile


class AttachedCalls:
    """Mixed into ``Engine``: needs its ``root``, ``profile`` and ``docker`` client."""

    root: Path
    profile: Profile
    docker: Any

    def attached(self, *args: str, env: Mapping[str, str] | None = None) -> int:
        """``docker compose ARGS`` on the user's own terminal (nothing captured); its exit code.

        For a shell, a job's streamed output and Ctrl-C reaching the container; ``env`` is added
        to compose's environment (the shell's values win, as in :meth:`build`).
        """
        files = [a for f in self.files for a in ("-f", str(self.root / f))]
        cmd = [*self.docker.client_config.docker_cmd, "compose", "--project-directory"]
        extra = {k: v for k, v in (env or {}).items() if k not in os.environ}
        return subprocess.run(
            [*cmd, str(self.root), *files, *args], env={**os.environ, **extra}, check=False
        ).returncode

    def run_job(
        self, service: str, args: list[str], profiles: list[str], secrets: Mapping[str, str]
    ) -> int:
        """``docker compose --profile P run --rm SERVICE ARGS``: the job's exit code."""
        chosen = [a for p in profiles for a in ("--profile", p)]
        no_tty = [] if sys.stdin.isatty() else ["--no-TTY"]
        return self.attached(*chosen, "run", "--rm", *no_tty, service, *args, env=secrets)

    def exec(self, service: str, command: list[str]) -> int:
        """``docker compose exec SERVICE COMMAND`` in the running container: its exit code."""
        no_tty = [] if sys.stdin.isatty() else ["--no-TTY"]
        return self.attached("exec", *no_tty, service, *command)
