"""How `mlstack status` reads a stack deployed on Swarm: service replicas and tasks to the
same records as compose containers, judged by the same health rules (no engine needed)."""

from __future__ import annotations

from mlstack.run.health import verdict
from mlstack.run.swarm import _state


def task(state: str, desired: str = "Running", error: str = "") -> dict[str, str]:
    return {"Name": "demo_api.1", "CurrentState": state, "DesiredState": desired, "Error": error}


def test_converged_with_a_healthy_container_is_ready():
    state = _state("api", "1/1", [task("Running 2 minutes ago")], "healthy")
    assert (state.state, state.health, state.container) == ("running", "healthy", "demo_api.1")
    assert verdict(state) == "ready"


def test_converged_without_a_local_container_counts_as_healthy():
    """Swarm marks a task running only after its health check passed (node elsewhere)."""
    assert verdict(_state("api", "1/1", [task("Running 1 second ago")], None)) == "ready"


def test_an_unhealthy_container_fails():
    assert verdict(_state("api", "1/1", [task("Running 1 minute ago")], "unhealthy")) == "fail"


def test_a_starting_task_waits_and_keeps_the_last_error():
    tasks = [
        task("Starting 3 seconds ago"),
        task("Failed 10 seconds ago", desired="Shutdown", error="task: non-zero exit (1)"),
    ]
    state = _state("api", "0/1", tasks, "starting")
    assert verdict(state) == "wait"
    assert state.health == "last task: task: non-zero exit (1)"


def test_a_task_being_replaced_waits():
    state = _state("api", "0/1", [task("Rejected 1 second ago")], None)
    assert state.state == "restarting" and verdict(state) == "wait"


def test_a_service_scaled_to_zero_fails():
    assert verdict(_state("qdrant", "0/0", [], None)) == "fail"
