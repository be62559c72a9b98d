"""`up`, `status`, `down`, `logs` with a scripted engine and clock: the core's decisions, fast.

What users see on a real engine is in tests/e2e; here each rule of the core runs in
milliseconds: what stops the preflight, what gets pulled or built, which events come out in
which order, what an unhealthy service raises, and that nothing starts after a failed check.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import NO_GPU_HOST, Clock, FakeEngine, fake_environment, state

from mlstack.errors import EngineError, InputError, PreflightError, UnhealthyError
from mlstack.layout import Profile
from mlstack.run import events, operate
from mlstack.run.preflight import images_to_get, preflight
from mlstack.run.records import ServiceReport

pytestmark = pytest.mark.usefixtures("cpu_only_host")

REDIS_IMAGE = "redis:8.10-alpine"
POSTGRES_IMAGE = "postgres:17-alpine"
MY_COMP = """\
name: my-comp
summary: a user's own service with a hyphen in its name
image: my-comp
images:
  my-comp: registry.example.com/my-comp:1
port: 9000
service: {}
"""


@pytest.fixture
def free_port() -> Iterator[socket.socket]:
    """A port held open by this test (so it is not free), on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


def kinds(seen: list[events.Event]) -> list[str]:
    return [type(e).__name__ for e in seen]


def up(
    root: Path,
    engine: FakeEngine,
    seen: list[events.Event] | None = None,
    clock: Clock | None = None,
    **kw: Any,
) -> list[ServiceReport]:
    """``operate.up`` in prod (no probes: nothing but the API publishes) with the fake engine."""
    kw = {"profile": Profile.PROD, "build": False, "timeout": 60, "services": [], **kw}
    on_event = seen.append if seen is not None else events.ignore
    return operate.up(root, on_event=on_event, env=fake_environment(engine, clock), **kw)


def stack(tmp_path: Path, make_stack: Any, components: str, *flags: str) -> Path:
    return make_stack(tmp_path / "stack", "--name", "t", "--with", components, *flags)


def test_up_pulls_starts_and_reports_every_service_healthy(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "redis,postgres")
    engine = FakeEngine(
        frames=[
            {},  # preflight: nothing of this stack runs yet
            {"postgres": state("postgres", health="starting"), "redis": state("redis", "created")},
            {"postgres": state("postgres"), "redis": state("redis", health="starting")},
            {"postgres": state("postgres"), "redis": state("redis")},
        ]
    )
    clock, seen = Clock(), []
    reports = up(root, engine, seen, clock)
    assert [(r.service, r.ok, r.seconds) for r in reports] == [
        ("postgres", True, 0.5),
        ("redis", True, 1.0),
    ]
    assert engine.calls == [
        ("pull", POSTGRES_IMAGE),
        ("pull", REDIS_IMAGE),
        ("up", ("postgres", "redis")),
    ]
    assert engine.profiles == [Profile.PROD]
    assert kinds(seen) == ["Pulling", "Starting", "Tick", "Tick", "Tick", "Reported"]
    assert seen[0] == events.Pulling((POSTGRES_IMAGE, REDIS_IMAGE))
    assert seen[1] == events.Starting(("postgres", "redis"), "prod", 60)
    assert seen[-1] == events.Reported("t (prod)", tuple(reports))
    assert clock.now == 1.0  # two polls of 0.5 s: no real time was spent


def test_up_of_a_fresh_clone_renders_env_first(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "redis")
    (root / ".env").unlink()
    engine = FakeEngine(images={REDIS_IMAGE}, frames=[{}, {"redis": state("redis")}])
    seen: list[events.Event] = []
    up(root, engine, seen)
    assert kinds(seen) == ["Rendered", "Starting", "Tick", "Reported"]
    assert " ".join(str(seen[0].step).split()) == "create .env"
    assert (root / ".env").stat().st_mode & 0o777 == 0o600


def test_images_to_get_builds_what_is_missing_or_asked_for(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "api,redis")
    engine = FakeEngine(images={REDIS_IMAGE})
    opened = operate.open_stack(root, Profile.DEV, fake_environment(engine))
    assert images_to_get(opened, ["api", "redis"], build=False) == (["api"], [])
    engine.images.add("t-api")
    assert images_to_get(opened, ["api", "redis"], build=False) == ([], [])
    assert images_to_get(opened, ["api", "redis"], build=True) == (["api"], [])
    engine.images.clear()
    assert images_to_get(opened, ["redis"], build=False) == ([], [REDIS_IMAGE])


def test_up_builds_the_images_mlstack_builds(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "mlflow")
    engine = FakeEngine(frames=[{}, {"mlflow": state("mlflow")}], images={"t-mlflow"})
    seen: list[events.Event] = []
    up(root, engine, seen, build=True)
    assert engine.calls == [("compose", "build", "mlflow"), ("up", ("mlflow",))]
    assert seen[0] == events.Building(("mlflow",))


def test_up_with_an_unhealthy_service_raises_with_reports_logs_and_hints(
    tmp_path: Path, make_stack: Any
):
    root = stack(tmp_path, make_stack, "redis,postgres")
    broken = state("postgres", "exited", "", 137)
    engine = FakeEngine(
        images={REDIS_IMAGE, POSTGRES_IMAGE},
        frames=[{}, {"postgres": broken, "redis": state("redis")}],
        logs={"postgres": "starting\nKilled\n"},
        oom={broken.container},
    )
    seen: list[events.Event] = []
    with pytest.raises(UnhealthyError) as caught:
        up(root, engine, seen)
    error = caught.value
    assert error.exit_code == 1
    assert error.problem == "1 of 2 services are not healthy: postgres"
    assert [(r.service, r.ok) for r in error.reports] == [("postgres", False), ("redis", True)]
    assert kinds(seen)[-2:] == ["Reported", "Failed"]
    failed = seen[-1]
    assert failed.report.problem == "container exited (exit code 137)"
    assert failed.logs == "starting\nKilled\n"
    assert any("memory" in hint.lower() for hint in failed.hints), failed.hints


def test_a_failed_compose_up_is_reported_not_waited_for(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "redis")
    engine = FakeEngine(images={REDIS_IMAGE}, frames=[{}])
    engine.up = lambda services, build: (_ for _ in ()).throw(  # type: ignore[method-assign]
        EngineError("docker compose up failed: no space left on device", "free space")
    )
    clock = Clock()
    with pytest.raises(UnhealthyError) as caught:
        up(root, engine, clock=clock, timeout=300)
    [report] = caught.value.reports
    assert report.problem == "not started: docker compose up failed: no space left on device"
    assert clock.now == 0  # concluded at the first poll, not at the deadline


def test_preflight_failure_starts_nothing_and_carries_the_checks(
    tmp_path: Path, make_stack: Any, free_port: socket.socket
):
    port = free_port.getsockname()[1]
    root = stack(tmp_path, make_stack, "redis", "--port", f"redis={port}")
    engine = FakeEngine(images={REDIS_IMAGE})
    with pytest.raises(PreflightError) as caught:
        up(root, engine, profile=Profile.DEV)
    error = caught.value
    assert [c.id for c in error.checks] == ["engine", "compose", "project", "ports"]
    [ports] = error.failed
    assert f"{port} (redis) is held by" in ports.found
    assert "REDIS_HOST_PORT" in ports.fix
    assert engine.calls == []  # nothing pulled, nothing started


def test_preflight_names_the_port_variable_of_a_hyphenated_component(
    tmp_path: Path, make_stack: Any, free_port: socket.socket
):
    # Was: the fix said `set MY-COMP_HOST_PORT in .env` (the service name, upper-cased), a
    # variable compose never reads; the compose files use MY_COMP_HOST_PORT.
    port = free_port.getsockname()[1]
    (tmp_path / "stack" / "stacks").mkdir(parents=True)
    (tmp_path / "stack" / "stacks" / "my-comp.yaml").write_text(MY_COMP)
    root = stack(tmp_path, make_stack, "my-comp", "--port", f"my-comp={port}")
    engine = FakeEngine(images={"registry.example.com/my-comp:1"})
    with pytest.raises(PreflightError) as caught:
        up(root, engine, profile=Profile.DEV)
    [ports] = caught.value.failed
    assert ports.fix == "stop what holds it, or move the service: set MY_COMP_HOST_PORT in .env"
    assert "${MY_COMP_HOST_PORT:-" in (root / "compose.override.yaml").read_text()


def test_a_port_held_by_the_stacks_own_hyphenated_service_is_fine(
    tmp_path: Path, make_stack: Any, free_port: socket.socket
):
    port = free_port.getsockname()[1]
    (tmp_path / "stack" / "stacks").mkdir(parents=True)
    (tmp_path / "stack" / "stacks" / "my-comp.yaml").write_text(MY_COMP)
    root = stack(tmp_path, make_stack, "my-comp", "--port", f"my-comp={port}")
    running = {"my-comp": state("my-comp")}
    engine = FakeEngine(images={"registry.example.com/my-comp:1"}, frames=[running])
    opened = operate.open_stack(root, Profile.DEV, fake_environment(engine))
    checks, gpu, _ = preflight(opened, ["my-comp"], lambda: NO_GPU_HOST)
    assert not gpu.use_gpu and gpu.services == ()
    assert [(c.id, c.status) for c in checks] == [
        ("engine", "ok"),
        ("compose", "ok"),
        ("project", "ok"),  # two checkouts on one host (issue 12)
        ("ports", "ok"),
    ]


def test_engine_down_stops_up_with_its_fix(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "redis")
    down = EngineError("the Docker engine is not reachable: no socket", "start it")
    engine = FakeEngine(info=down)
    with pytest.raises(PreflightError) as caught:
        up(root, engine)
    [check] = caught.value.checks
    assert (check.id, check.status, check.found, check.fix) == (
        "engine",
        "fail",
        "the Docker engine is not reachable: no socket",
        "start it",
    )


def test_unknown_service_is_bad_input(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "redis")
    with pytest.raises(InputError) as caught:
        up(root, FakeEngine(), services=["nope"])
    assert (caught.value.field, caught.value.problem) == ("--service", "not in this stack: nope")


def test_ctrl_c_while_waiting_reports_what_runs_then_stops(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "redis")
    engine = FakeEngine(
        images={REDIS_IMAGE}, frames=[{}, {"redis": state("redis", health="starting")}]
    )

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    env = dataclasses.replace(fake_environment(engine), sleep=interrupted)
    seen: list[events.Event] = []
    with pytest.raises(KeyboardInterrupt):
        operate.up(root, Profile.PROD, False, 60, [], on_event=seen.append, env=env)
    assert kinds(seen) == ["Starting", "Tick", "Interrupted"]
    [report] = seen[-1].reports
    assert (report.service, report.health, report.ok) == ("redis", "starting", False)


def test_status_reports_a_killed_container(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "redis,postgres")
    killed = {"postgres": state("postgres"), "redis": state("redis", "exited", "", 137)}
    spec, reports, gpu = operate.status(
        root, Profile.PROD, fake_environment(FakeEngine(frames=[killed]))
    )
    doc = operate.status_json(spec, Profile.PROD, reports, gpu)
    assert doc["profile"] == "prod" and doc["healthy"] is False
    assert doc["gpu"]["services"] == [] and doc["gpu"]["use_gpu"] is False
    by_name = {s["service"]: s for s in doc["services"]}
    assert by_name["redis"]["exit_code"] == 137 and by_name["redis"]["ok"] is False
    assert by_name["redis"]["problem"] == "container exited (exit code 137)"
    assert by_name["postgres"]["ok"] is True


def test_down_keeps_or_deletes_the_volumes(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "redis")
    engine = FakeEngine()
    operate.down(root, volumes=False, env=fake_environment(engine))
    operate.down(root, volumes=True, env=fake_environment(engine))
    assert engine.calls == [("down", False), ("down", True)]


def test_logs_are_lines_for_the_caller_to_print(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "redis,postgres")
    engine = FakeEngine(logs={"redis": "Ready to accept connections\n", "postgres": "ready\n"})
    lines = operate.logs(root, "redis", follow=False, env=fake_environment(engine))
    assert list(lines) == ["Ready to accept connections\n"]


def fresh(service: str, root: Path, profile_file: str = "compose.prod.yaml", **kw: Any):
    """A healthy container created from ``profile_file`` after the stack's files were written."""
    created = max((root / n).stat().st_mtime for n in ("compose.yaml", ".env")) + 10
    files = f"{root}/compose.yaml,{root}/{profile_file}"
    return dataclasses.replace(state(service, **kw), created=created, config_files=files)


def test_second_up_of_an_unchanged_healthy_stack_starts_nothing(tmp_path: Path, make_stack: Any):
    root = stack(tmp_path, make_stack, "redis,postgres")
    running = {name: fresh(name, root) for name in ("postgres", "redis")}
    engine = FakeEngine(frames=[running])
    seen: list[events.Event] = []
    reports = up(root, engine, seen)
    assert [(r.service, r.ok) for r in reports] == [("postgres", True), ("redis", True)]
    assert engine.calls == []  # no preflight pull, no build, no docker compose up
    assert kinds(seen) == ["Reported"]


@pytest.mark.parametrize(
    "change",
    ["profile", "edited", "unhealthy", "build"],
)
def test_second_up_goes_the_full_way_when_anything_changed(
    tmp_path: Path, make_stack: Any, change: str
):
    root = stack(tmp_path, make_stack, "redis")
    if change == "profile":  # the containers run the dev files; prod is asked for
        running = fresh("redis", root, profile_file="compose.override.yaml")
    elif change == "unhealthy":
        running = fresh("redis", root, health="unhealthy")
    else:
        running = fresh("redis", root)
    if change == "edited":  # a file written after the container was created
        later = running.created + 5
        os.utime(root / "compose.prod.yaml", (later, later))
    healthy = {"redis": fresh("redis", root)}
    engine = FakeEngine(images={REDIS_IMAGE}, frames=[{"redis": running}, healthy])
    up(root, engine, build=change == "build")
    assert ("up", ("redis",)) in engine.calls
