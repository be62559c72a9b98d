"""The only module that talks to Docker: python-on-whales, with its errors kept and reworded.

Every failure becomes an EngineError that keeps Docker's own words and ends with the fix.
Short commands (ps, info, pull, config) run the docker CLI directly (``run.docker_cli``);
python-on-whales is imported only by the commands that stream or start (up, logs, down).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlstack.errors import EngineError, MlstackError
from mlstack.layout import Profile
from mlstack.machine.docker_info import EngineInfo, parse_compose_version, parse_docker_info
from mlstack.render.envfile import parse_env, read_env
from mlstack.run import docker_cli
from mlstack.run.container_states import parse_states, project_name, ps_args
from mlstack.run.docker_cli import (
    INSTALL_COMPOSE,
    INSTALL_ENGINE,
    START_ENGINE,
    DockerFailed,
    docker_words,
    engine_fix,
    run_docker,
    whales_error,
)
from mlstack.run.engine_attached import AttachedCalls
from mlstack.run.masking import mask, secret_values
from mlstack.run.records import LogOptions, ServiceState, parse_ps

if TYPE_CHECKING:
    from python_on_whales import DockerClient
    from python_on_whales.exceptions import DockerException


class Engine(AttachedCalls):
    """A Docker engine and the compose project of one stack directory and profile.

    Every text it passes on from Docker (errors, logs) is masked: no value of the stack's
    ``.env``, nor of ``secrets`` (say, the ones a render is about to write), is repeated.
    """

    def __init__(
        self, root: Path, profile: Profile = Profile.DEV, secrets: Iterable[str] = ()
    ) -> None:
        if shutil.which("docker") is None:
            raise EngineError("the docker command is not installed", INSTALL_ENGINE)
        self.root = root
        self.profile = Profile(profile)
        self.extra_secrets = tuple(secrets)
        self.add_files(())

    def add_files(self, names: tuple[str, ...]) -> None:
        """Add compose files between the base and the profile's (compose.gpu.yaml: GPU hosts)."""
        base, rest = self.profile.compose_files
        self.files = (base, *names, rest)
        self.__dict__.pop("docker", None)  # the next call builds a client for these files

    @cached_property
    def docker(self) -> DockerClient:
        """python-on-whales' client for this project (imported on first use: it is slow)."""
        from python_on_whales import DockerClient

        return DockerClient(
            compose_files=[self.root / f for f in self.files],
            compose_project_directory=self.root,
        )

    def _dotenv(self) -> dict[str, str]:
        try:
            return parse_env(read_env(self.root) or "")
        except MlstackError:  # an unreadable .env: its values cannot be echoed either
            return {}

    def masked(self, text: str) -> str:
        """``text`` without any secret of this stack (read now: ``.env`` may have just changed)."""
        return mask(text, self._secrets())

    def _secrets(self) -> list[str]:
        return [*secret_values(self._dotenv()), *self.extra_secrets]

    def _failed(self, what: str, exc: DockerException | DockerFailed, fix: str) -> EngineError:
        """The one place an error record is made of Docker's words: masked here."""
        return EngineError(self.masked(f"{what}: {docker_words(exc)}"), fix)

    def _run(self, *args: str, what: str, fix: str, env: Mapping[str, str] | None = None) -> str:
        try:
            return run_docker(args, env=env)
        except DockerFailed as exc:
            raise self._failed(what, exc, fix) from exc

    def info(self) -> EngineInfo:
        """The engine's facts; an EngineError that says how to start it when it is down."""
        out = self._run(
            "info",
            "--format",
            "{{json .}}",
            what="the Docker engine is not reachable",
            fix=engine_fix(),
        )
        try:
            return parse_docker_info(json.loads(out))
        except ValueError as exc:
            raise EngineError(f"the Docker engine is not reachable: {exc}", START_ENGINE) from exc

    def compose_version(self) -> tuple[int, int, int]:
        """Compose's version (2.x and 5.x both exist: no assumption on the major)."""
        out = self._run(
            "compose",
            "version",
            "--short",
            what="Docker Compose v2 is missing",
            fix=INSTALL_COMPOSE,
        )
        return parse_compose_version(out)

    def compose(
        self,
        *args: str,
        what: str,
        fix: str = "see the message above",
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Run ``docker compose`` with this profile's files (``env``: added to its environment)."""
        return self.compose_files(self.files, *args, what=what, fix=fix, env=env)

    def compose_files(
        self,
        names: tuple[str, ...],
        *args: str,
        what: str,
        fix: str,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Run ``docker compose`` with the given files of the stack."""
        files = [a for f in names for a in ("-f", str(self.root / f))]
        head = ("compose", "--project-directory", str(self.root), *files)
        return self._run(*head, *args, what=what, fix=fix, env=env)

    def build(self, services: list[str], secrets: Mapping[str, str]) -> None:
        """Build the services' images; ``secrets``: build-secret variables from .env.

        Compose takes a build secret's ``environment:`` source from its own environment, so
        they are added there; as with compose's own interpolation, the shell's values win.
        """
        self.compose(
            "build",
            *services,
            what="docker compose build failed",
            fix="read the build output above; `mlstack validate` checks the files",
            env={k: v for k, v in secrets.items() if k not in os.environ},
        )

    def judge(self, files: list[Path], env_file: Path) -> None:
        """``docker compose config --quiet`` on files written elsewhere, as if in this project.

        Relative paths resolve against the project; ``env_file`` replaces its ``.env``.
        """
        args = [a for f in files for a in ("-f", str(f))]
        self._run(
            "compose",
            "--project-directory",
            str(self.root),
            "--env-file",
            str(env_file),
            *args,
            "config",
            "--quiet",
            what="rejected",
            fix="",
        )

    def config(self) -> dict[str, Any]:
        """The resolved model (interpolated with .env), as compose itself sees it."""
        out = self.compose(
            "config",
            "--format",
            "json",
            what="docker compose config failed",
            fix="run `mlstack validate` and fix the file it names",
        )
        return json.loads(out)

    def up(self, services: list[str], build: bool) -> None:
        """Create and start the services (detached); compose orders them by health."""
        try:
            self.docker.compose.up(services or None, detach=True, build=build, quiet=True)
        except whales_error() as exc:
            raise self._failed(
                "docker compose up failed", exc, "see the service report below"
            ) from exc

    def states(self) -> dict[str, ServiceState]:
        """Every service container's state and health, in one call.

        ``docker ps`` when the project's name is known (quick), else ``docker compose ps``.
        While ``compose up`` recreates a container, compose's ``ps`` can list it and then fail
        to inspect it ("No such container"): a moment of the recreate, so it is asked again.
        """
        for _ in range(4):
            try:
                return self._ps()
            except EngineError as exc:
                if "No such container" not in exc.problem:
                    raise
                time.sleep(0.2)
        return self._ps()

    def _ps(self) -> dict[str, ServiceState]:
        project = project_name(self.root, {**self._dotenv(), **os.environ})
        if project:
            out = self._run(*ps_args(project), what="docker ps failed", fix=START_ENGINE)
            return parse_states(out)
        out = self.compose(
            "ps", "--all", "--format", "json", what="docker compose ps failed", fix=START_ENGINE
        )
        return {s.service: s for s in parse_ps(out)}

    def logs(self, service: str, tail: int = 30) -> str:
        """The last lines a service printed."""
        try:
            text = self.docker.compose.logs(service, tail=str(tail), no_log_prefix=True)
        except whales_error() as exc:
            text = f"(no logs: {docker_words(exc)})"
        return self.masked(text)

    def oom_killed(self, container: str) -> bool:
        """Whether the kernel killed the container for memory."""
        try:
            return bool(self.docker.container.inspect(container).state.oom_killed)
        except whales_error():
            return False

    def down(self, volumes: bool) -> None:
        """Stop and remove the containers (and the named volumes, if asked)."""
        try:
            self.docker.compose.down(volumes=volumes, remove_orphans=True, quiet=True)
        except whales_error() as exc:
            raise self._failed("docker compose down failed", exc, START_ENGINE) from exc

    def follow_logs(self, services: list[str], options: LogOptions) -> Iterator[str]:
        """The logs, line by line as compose prints them (python-on-whales streams them)."""
        secrets = self._secrets()
        try:
            for _, line in self.docker.compose.logs(
                services,
                follow=options.follow,
                tail=None if options.tail is None else str(options.tail),
                since=options.since,
                timestamps=options.timestamps,
                stream=True,
            ):
                yield mask(line.decode(errors="replace"), secrets)
        except whales_error() as exc:
            raise self._failed("docker compose logs failed", exc, START_ENGINE) from exc

    def container_on_port(self, port: int) -> str | None:
        """The running container publishing ``port`` (and its compose project), if any."""
        out = self._run(
            "ps",
            "--filter",
            f"publish={port}",
            "--format",
            '{{.Names}}\t{{.Label "com.docker.compose.project"}}',
            what="docker ps failed",
            fix=START_ENGINE,
        )
        if not out.strip():
            return None
        name, _, project = out.strip().splitlines()[0].partition("\t")
        return f"{name} (compose project {project})" if project else name

    def pull(self, reference: str) -> None:
        """Pull one image, with a fix that names the mirror setting when the registry is away."""
        self._run(
            "pull",
            "--quiet",
            reference,
            what=f"cannot pull {reference}",
            fix="check the network and `docker login`; or point this image's slot in "
            "mlstack.yaml `images:` at a registry you can reach, then `mlstack render`",
        )

    def image_exists(self, reference: str) -> bool:
        """Whether the engine has an image locally."""
        return docker_cli.image_present(reference)
