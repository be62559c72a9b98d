"""Two checkouts of one stack on one host: the second must not take over the first's project.

Both checkouts render the same ``name:`` into compose.yaml, so without a project name of its own
the second ``up`` would see the first one's containers as its own and recreate them from its
files, on the first one's volumes. Compose labels each container with the directory it came
from; a container of this project from another directory stops the preflight.
"""

from __future__ import annotations

from pathlib import Path

from mlstack.errors import MlstackError
from mlstack.run.checks import FAIL, OK, Check
from mlstack.run.records import ServiceState

FIX = (
    "give this checkout a compose project and ports of its own: `mlstack up --free-ports` "
    "picks free ones and writes them to mlstack.local.yaml (this machine only); or set "
    "COMPOSE_PROJECT_NAME and the *_HOST_PORT lines of the other checkout's ports in .env"
)


def check_project(root: Path, states: dict[str, ServiceState]) -> Check:
    """This compose project's containers all come from this checkout (or there are none)."""
    here = root.resolve()
    others = sorted(
        {s.working_dir for s in states.values() if s.working_dir and Path(s.working_dir) != here}
    )
    if others:
        names = ", ".join(sorted(s.container for s in states.values() if s.working_dir))
        return Check(
            "project",
            FAIL,
            f"the compose project is in use by the stack in {others[0]} (containers {names})",
            FIX,
        )
    return Check("project", OK, "this project's containers are this checkout's")


def refuse_other_checkout(root: Path, states: dict[str, ServiceState], what: str) -> None:
    """Stop ``down`` (``what``) before it stops another checkout's containers or volumes.

    A cloned repo picks its project name (mlstack.yaml or mlstack.local.yaml ``name:``); one
    that names the project of another stack on this host would make ``down --volumes`` here
    delete that stack's data.
    """
    check = check_project(root, states)
    if check.status == FAIL:
        raise MlstackError(
            f"{check.found}: `{what}` here would stop it (and delete its volumes with --volumes)",
            "run it in that checkout; if this checkout should be a stack of its own, "
            "give it its own name in mlstack.local.yaml (`mlstack up --free-ports`)",
        )
