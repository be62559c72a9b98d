"""One stack to operate: its directory, spec, catalog and engine for a profile, and how it opens.

Apart from operate (up, status, down) so that preflight and the Swarm deployment share it without
importing the commands that use them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mlstack.layout import Profile
from mlstack.render.envfile import parse_env, read_env
from mlstack.render.generate import render_project
from mlstack.render.local_env import PROJECT_VARIABLE as PROJECT
from mlstack.render.local_env import mirrored
from mlstack.run import events
from mlstack.run.environment import REAL, Environment, StackEngine
from mlstack.run.events import OnEvent
from mlstack.spec.catalog import Catalog, load_catalog
from mlstack.spec.in_use import load_in_use
from mlstack.spec.local import LocalSettings, apply_local, load_local
from mlstack.spec.stack_spec import StackSpec


@dataclass(frozen=True)
class Stack:
    """A rendered stack directory, its spec and the engine for one profile."""

    root: Path
    spec: StackSpec
    catalog: Catalog
    engine: StackEngine
    profile: Profile
    local: LocalSettings = field(default_factory=LocalSettings)  # applied to spec already

    @property
    def project(self) -> str:
        """The compose project name as Compose takes it: the shell's, .env's, else the spec's.

        Compose names the images it builds ``<project>-<service>``; a second checkout's project
        (mlstack.local.yaml ``name``, or a hand-set COMPOSE_PROJECT_NAME) is not the spec's.
        """
        env = parse_env(read_env(self.root) or "")
        return os.environ.get(PROJECT) or env.get(PROJECT) or self.spec.name


def open_stack(
    root: Path,
    profile: Profile,
    env: Environment = REAL,
    render: bool = False,
    on_event: OnEvent = events.ignore,
) -> Stack:
    """Load the stack (rendering first when asked: a fresh clone gets its .env here)."""
    if render:
        catalog = load_catalog(root)
        result = render_project(root)
        for step in result.steps:
            if step.writes:
                on_event(events.Rendered(step))
        spec = result.spec
    else:
        spec, catalog = load_in_use(root)
    local = load_local(root)  # mlstack.local.yaml: this machine's settings
    spec = mirrored(apply_local(spec, local, catalog), catalog, local)
    return Stack(root, spec, catalog, env.connect(root, profile), profile, local)
