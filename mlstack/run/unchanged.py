"""Whether a second ``up`` has nothing to do: the same files, every service already healthy.

Compose would recreate a container whose configuration changed; it cannot have changed when
every target container was created, from this profile's files, after the last write of those
files and of ``.env``. Then ``up`` skips the preflight, image checks and ``docker compose up``
and probes once. ``--build``, a changed file or one service not healthy go the full way.
"""

from __future__ import annotations

from pathlib import Path

from mlstack.layout import ENV_FILE, Profile
from mlstack.run.records import ServiceState


def newest_write(root: Path, profile: Profile) -> float:
    """The last time the profile's compose files or ``.env`` were written."""
    times = [(root / name).stat().st_mtime for name in (*profile.compose_files, ENV_FILE)
             if (root / name).exists()]  # fmt: skip
    return max(times, default=float("inf"))


def already_up(
    states: dict[str, ServiceState], targets: list[str], root: Path, profile: Profile
) -> bool:
    """Every target runs healthy, created from this profile's files since they last changed."""
    since = newest_write(root, profile)
    wanted = profile.compose_files[-1]

    def fresh(state: ServiceState | None) -> bool:
        return (
            state is not None
            and state.state == "running"
            and state.health == "healthy"
            and state.created is not None
            and state.created > since
            and any(Path(f).name == wanted for f in state.config_files.split(","))
        )

    return bool(targets) and all(fresh(states.get(name)) for name in targets)
