"""``up --free-ports`` without an engine: which ports and which project name a second checkout
takes, what it writes (mlstack.local.yaml, then .env; nothing committed), and that the images
``up`` looks for are named after the project Compose uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine, fake_environment

from mlstack.layout import Profile
from mlstack.render.envfile import parse_env
from mlstack.render.published import Published
from mlstack.run.free_ports import checkout_name, claim, pick_ports
from mlstack.run.preflight import images_to_get
from mlstack.run.records import ServiceState
from mlstack.run.stack import open_stack
from mlstack.spec.yamlio import load_file

COMMITTED = ("mlstack.yaml", "compose.yaml", "compose.override.yaml", ".gitignore")


def running(service: str, where: Path) -> ServiceState:
    return ServiceState(service, f"demo-{service}-1", "running", "healthy", None, str(where))


@pytest.fixture(name="clones")
def clones_fixture(tmp_path: Path, make_stack: Any) -> tuple[Path, Path]:
    first = make_stack(tmp_path / "first", "--name", "demo", "--with", "api,redis")
    second = make_stack(tmp_path / "second", "--name", "demo", "--with", "api,redis")
    return first, second


def test_pick_ports_moves_only_the_ones_in_use_by_others() -> None:
    ports = [Published("api", "127.0.0.1", 8000), Published("redis", "127.0.0.1", 6379)]
    in_use = {8000, 6379, 18000}
    picked = pick_ports(ports, {6379: "redis"}, lambda port, _: port not in in_use)
    assert picked == {"api": (8000, 18001)}  # redis is this stack's own; 18000 is taken
    high = pick_ports([Published("x", "", 60000)], {}, lambda port, _: port != 60000)
    assert high == {"x": (60000, 60001)}
    clash = [Published("a", "", 1000), Published("b", "", 1001)]
    assert pick_ports(clash, {}, lambda port, _: port > 1001) == {
        "a": (1000, 11000),
        "b": (1001, 11001),
    }


def test_an_extra_port_never_takes_the_services_own_setting() -> None:
    """services.api.ports' 9001 in use must not move api's main port (ports.api)."""
    ports = [Published("api", "127.0.0.1", 8000), Published("api", "127.0.0.1", 9001, 9001)]
    assert pick_ports(ports, {}, lambda port, _: port != 9001) == {}


def test_the_checkout_name_is_distinct_and_stable(tmp_path: Path) -> None:
    one, two = checkout_name("demo", tmp_path / "a"), checkout_name("demo", tmp_path / "b")
    assert one != two and one.startswith("demo-") and len(one) == len("demo-") + 6
    assert checkout_name("demo", tmp_path / "a") == one
    assert len(checkout_name("x" * 63, tmp_path)) <= 63


def test_a_second_checkout_claims_a_project_and_ports(clones: tuple[Path, Path], tree: Any):
    first, second = clones
    before = tree(second)
    theirs = {s: running(s, first) for s in ("api", "redis")}  # the first checkout's project
    engine = FakeEngine(frames=[theirs])
    taken = {8000, 6379}
    claimed = claim(second, Profile.DEV, fake_environment(engine), lambda p, _: p not in taken)
    assert claimed.name == checkout_name("demo", second)
    assert claimed.ports == {"api": (8000, 18000), "redis": (6379, 16379)}
    local = load_file(second / "mlstack.local.yaml")
    assert local == {"name": claimed.name, "ports": {"api": 18000, "redis": 16379}}
    opened = open_stack(second, Profile.DEV, fake_environment(FakeEngine()), render=True)
    env = parse_env((second / ".env").read_text())
    assert env["COMPOSE_PROJECT_NAME"] == claimed.name and env["API_HOST_PORT"] == "18000"
    assert opened.spec.name == claimed.name and opened.project == claimed.name
    after = tree(second)
    assert all(after[f] == before[f] for f in COMMITTED)  # nothing committed changed


def test_nothing_in_use_changes_nothing(clones: tuple[Path, Path]) -> None:
    _, second = clones
    engine = FakeEngine(frames=[{}])
    assert not claim(second, Profile.DEV, fake_environment(engine), lambda *_: True)
    assert not (second / "mlstack.local.yaml").exists()


def test_the_own_project_keeps_its_ports_and_other_keys(clones: tuple[Path, Path]) -> None:
    _, second = clones
    (second / "mlstack.local.yaml").write_text("# mine\ngpu: {mode: optional}\n")
    ours = {"redis": running("redis", second)}
    engine = FakeEngine(frames=[ours])
    taken = {8000, 6379}  # redis: ours (running); api: someone else's
    claimed = claim(second, Profile.DEV, fake_environment(engine), lambda p, _: p not in taken)
    assert claimed.name is None and claimed.ports == {"api": (8000, 18000)}
    text = (second / "mlstack.local.yaml").read_text()
    assert text.startswith("# mine\n") and "mode: optional" in text and "api: 18000" in text


def test_images_are_looked_for_under_the_project_compose_uses(
    clones: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, root = clones
    (root / "mlstack.local.yaml").write_text("name: demo-b\n")
    engine = FakeEngine(images={"demo-api"})  # the other checkout's build: not this one's
    opened = open_stack(root, Profile.DEV, fake_environment(engine), render=True)
    assert images_to_get(opened, ["api"], build=False)[0] == ["api"]
    engine.images.add("demo-b-api")
    assert images_to_get(opened, ["api"], build=False)[0] == []
    (root / "mlstack.local.yaml").unlink()  # a hand-set .env line, then the shell, win as well
    env = (root / ".env").read_text().replace("COMPOSE_PROJECT_NAME=demo-b", "")
    (root / ".env").write_text(env + "COMPOSE_PROJECT_NAME=demo-c\n")
    opened = open_stack(root, Profile.DEV, fake_environment(engine))
    assert opened.project == "demo-c"
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "demo-d")
    assert opened.project == "demo-d"


def test_up_adds_compose_local_only_with_local_images(clones: tuple[Path, Path]) -> None:
    from mlstack.run import operate

    _, root = clones
    redis = ServiceState("redis", "demo-redis-1", "running", "healthy", None, str(root))
    api = ServiceState("api", "demo-api-1", "running", "healthy", None, str(root))
    frames = [{}, {"redis": redis, "api": api}]
    engine = FakeEngine(images={"demo-api", "redis:8.2-alpine"}, frames=list(frames))
    kw = {"profile": Profile.PROD, "build": False, "timeout": 60, "services": ["redis"]}
    operate.up(root, env=fake_environment(engine), **kw)
    assert not any(call[0] == "add_files" for call in engine.calls)
    assert not (root / "compose.local.yaml").exists()
    (root / "mlstack.local.yaml").write_text("images: {mirror: mirror.local:5000}\n")
    engine = FakeEngine(images={"demo-api"}, frames=list(frames))
    operate.up(root, env=fake_environment(engine), **kw)
    assert ("add_files", "compose.local.yaml") in engine.calls
    text = (root / "compose.local.yaml").read_text()
    assert "image: mirror.local:5000/redis:" in text
    pulled = [call[1] for call in engine.calls if call[0] == "pull"]
    assert pulled and all(ref.startswith("mirror.local:5000/") for ref in pulled)
    (root / "mlstack.local.yaml").unlink()  # no local images: the file goes
    operate.up(root, env=fake_environment(FakeEngine(frames=list(frames))), **kw)
    assert not (root / "compose.local.yaml").exists()


@pytest.mark.parametrize(
    ("failed", "tty", "offered"),
    [
        (("project",), True, True),
        (("ports", "project"), True, True),
        (("project",), False, False),  # a script or CI: the error and its fix stand
        (("project", "gpu.driver"), True, False),  # something --free-ports cannot fix
    ],
)
def test_a_terminal_is_offered_free_ports_on_a_clash(
    monkeypatch: pytest.MonkeyPatch, failed: tuple[str, ...], tty: bool, offered: bool
) -> None:
    import sys

    import typer

    from mlstack.cli.up_view import offer_free_ports
    from mlstack.errors import PreflightError
    from mlstack.run.checks import FAIL, Check

    asked: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: tty)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    monkeypatch.setattr(typer, "confirm", lambda text, default: asked.append(text) or True)
    error = PreflightError([Check(name, FAIL, "in use", "fix") for name in failed])
    assert offer_free_ports(error) is offered
    assert bool(asked) is offered
