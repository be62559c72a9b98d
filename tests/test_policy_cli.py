"""Privileged settings through the CLI, and allowed ones before ``docker compose config``.

A hostile fragment in a project's ``stacks/`` (as a cloned repo would carry it) stops
``render``, ``up`` and ``init`` with exit 2 before anything is written or started; the exception,
once allowed, renders into files Compose accepts, and ``validate`` and ``doctor`` list it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

pytestmark = pytest.mark.usefixtures("cpu_only_host")

ALL = ("api", "jupyter", "mlflow", "postgres", "qdrant", "redis", "trainer")
TOOL = """\
name: tool
summary: a component that wants the host
image: redis
service:
  command: [sleep, infinity]
  privileged: true
  ipc: host
  pid: host
  cap_add: [SYS_PTRACE]
  devices: ["/dev/fuse:/dev/fuse"]
  security_opt: [seccomp=unconfined]
  sysctls: {net.ipv4.ip_forward: 1}
  volumes: ["/var/run/docker.sock:/var/run/docker.sock", "/:/host:ro"]
prod:
  cap_drop: []
"""
TOOL_ALLOW = {
    "tool": {
        "privileged": True,
        "ipc": "host",
        "pid": "host",
        "cap_add": ["SYS_PTRACE"],
        "devices": ["/dev/fuse"],
        "security_opt": ["seccomp=unconfined"],
        "sysctls": ["net.ipv4.ip_forward"],
        "volumes": ["/var/run/docker.sock", "/"],
        "cap_drop": [],
    },
    "redis": {"user": "root", "network_mode": "host"},
}


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def edit_spec(root: Path, **changes: Any) -> None:
    spec = load_yaml(root / "mlstack.yaml")
    spec.update(changes)
    with (root / "mlstack.yaml").open("w") as out:
        YAML(typ="safe").dump(spec, out)


def write_fragment(root: Path, name: str, text: str) -> None:
    (root / "stacks").mkdir(exist_ok=True)
    (root / "stacks" / f"{name}.yaml").write_text(text)


def hostile_redis(root: Path) -> None:
    """A shadow of the shipped redis fragment that also asks for root on the host."""
    redis = load_yaml(Path(__file__).parents[1] / "stacks" / "redis.yaml")
    redis["service"]["privileged"] = True
    (root / "stacks").mkdir(exist_ok=True)
    with (root / "stacks" / "redis.yaml").open("w") as out:
        YAML(typ="safe").dump(redis, out)


def test_render_and_up_refuse_a_hostile_fragment_and_change_nothing(
    tmp_path: Path, make_stack: Any, cli: Any, tree_state: Any
) -> None:
    root = make_stack(tmp_path / "s", "--with", "api,redis")
    hostile_redis(root)
    before = tree_state(root)
    for command in (["render"], ["render", "--force"], ["up"], ["validate"]):
        result = cli("-C", root, *command)
        assert result.exit_code == 2, (command, result.output)
        assert "stacks/redis.yaml: service.privileged: " in result.output
        assert "`allow: {redis: {privileged: true}}`" in result.output
        assert "internal error" not in result.output
    assert tree_state(root) == before


def test_init_names_the_fragment_that_asks(tmp_path: Path, cli: Any) -> None:
    write_fragment(tmp_path, "tool", TOOL)
    result = cli("-C", tmp_path, "init", "--yes", "--with", "tool")
    assert result.exit_code == 2, result.output
    assert "stacks/tool.yaml: service.privileged: " in result.output
    assert not (tmp_path / "mlstack.yaml").exists()


def test_a_committed_symlink_cannot_turn_a_shipped_mount_into_a_host_mount(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path / "s", "--with", "jupyter")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(root / "notebooks")
    (root / "notebooks").symlink_to(outside)  # what a cloned repo may carry
    result = cli("-C", root, "render")
    assert result.exit_code == 2, result.output
    assert "stacks/jupyter.yaml: dev.volumes[0]: bind-mounts ./notebooks (a symlink to" in (
        result.output
    )
    assert "`allow: {jupyter: {volumes: [./notebooks]}}`" in result.output
    edit_spec(root, allow={"jupyter": {"volumes": ["./notebooks"]}})
    # Allowed as a mount, but mlstack itself still never writes through a link out of the
    # project (its scaffold notebooks/README.md would land outside): the writer refuses.
    result = cli("-C", root, "render")
    assert result.exit_code == 2, result.output
    assert f"notebooks: is a symbolic link to {outside}, outside the project" in result.output
    assert not list(outside.iterdir())


def test_validate_and_doctor_list_every_allowed_exception(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path / "s", "--with", "redis")
    doctor = json.loads(cli("-C", root, "doctor", "--json").output)["checks"]
    assert {c["id"]: c["status"] for c in doctor}["allow"] == "ok"
    hostile_redis(root)
    edit_spec(root, allow={"redis": {"privileged": True, "ipc": "host"}})
    result = cli("-C", root, "validate")
    assert result.exit_code in (0, 1), result.output  # 1: no Compose here; judged elsewhere
    assert (
        "allowed: redis: privileged: true (mlstack.yaml allow.redis.privileged; "
        "asked by stacks/redis.yaml: service.privileged)"
    ) in result.output.splitlines()
    assert (
        "unused allow entry: allow.redis.ipc: host (nothing asks for it: remove it)"
        in result.output.splitlines()
    )
    done = cli("-C", root, "doctor", "--json")
    allow = {c["id"]: c for c in json.loads(done.output)["checks"]}["allow"]
    assert allow["status"] == "warn"
    assert "redis: privileged: true (mlstack.yaml allow.redis.privileged" in allow["found"]
    assert "allow.redis.ipc: host" in allow["fix"]


def test_doctor_reports_a_refused_setting_as_the_files_check(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path / "s", "--with", "redis")
    hostile_redis(root)
    checks = {c["id"]: c for c in json.loads(cli("-C", root, "doctor", "--json").output)["checks"]}
    assert checks["files"]["status"] == "fail"
    assert "service.privileged" in checks["files"]["found"]
    assert checks["allow"]["found"].startswith("not checked")


def test_remove_forgets_the_components_allow_and_services_entries(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path / "s", "--with", "api,redis")
    edit_spec(
        root,
        allow={"redis": {"ipc": "host"}},
        services={"redis": {"compose": {"ipc": "host"}}, "api": {"compose": {"init": True}}},
    )
    assert cli("-C", root, "render").exit_code == 0
    result = cli("-C", root, "remove", "redis")
    assert result.exit_code == 0, result.output
    spec = load_yaml(root / "mlstack.yaml")
    assert "redis" not in spec["allow"] and list(spec["services"]) == ["api"]


# The real judge: docker compose config ----------------------------------------------------


def compose_config(root: Path, *files: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    argv = ["docker", "compose", "--profile", "train", *(a for f in files for a in ("-f", f))]
    done = subprocess.run(
        [*argv, "config", "--format", "json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.judge
def test_allowed_exceptions_render_into_files_compose_accepts(
    tmp_path: Path, make_stack: Any, cli: Any, require: Any
) -> None:
    require("docker compose")
    root = make_stack(tmp_path / "s", "--with", "api,redis")
    write_fragment(root, "tool", TOOL)
    result = cli("-C", root, "add", "tool")
    assert result.exit_code == 2 and "stacks/tool.yaml: service.privileged" in result.output
    edit_spec(
        root,
        components=["api", "redis", "tool"],
        services={"redis": {"compose": {"user": "root", "network_mode": "host"}}},
        allow=TOOL_ALLOW,
    )
    result = cli("-C", root, "render")
    assert result.exit_code == 0, result.output
    for files in (("compose.yaml",), ()):  # base, and base + dev
        tool = compose_config(root, *files)["services"]["tool"]
        assert tool["privileged"] is True and tool["ipc"] == "host" and tool["pid"] == "host"
        assert tool["cap_add"] == ["SYS_PTRACE"] and "seccomp=unconfined" in tool["security_opt"]
        assert {v["source"] for v in tool["volumes"]} >= {"/var/run/docker.sock", "/"}
    prod = compose_config(root, "compose.yaml", "compose.prod.yaml")["services"]
    assert prod["tool"]["privileged"] is True and not prod["tool"].get("cap_drop")
    assert prod["redis"]["user"] == "root" and prod["redis"]["network_mode"] == "host"
    assert "networks" not in prod["redis"]
    assert prod["redis"]["cap_drop"] == ["ALL"]  # what was not allowed still holds
    assert prod["api"]["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in prod["api"]["security_opt"]
    lines = cli("-C", root, "validate").output.splitlines()
    assert sum(line.startswith("allowed: ") for line in lines) == 12, lines
    assert "docker compose config (base+prod): ok" in lines


@pytest.mark.judge
def test_prod_hardening_holds_for_every_service_in_composes_own_merge(
    tmp_path: Path, make_stack: Any, cli: Any, require: Any
) -> None:
    """services.<name>.compose may not loosen what prod drops: Compose's merge agrees."""
    require("docker compose")
    root = make_stack(tmp_path / "s", "--with", ",".join(ALL))
    loosen = {"cap_drop": [], "security_opt": ["no-new-privileges"], "read_only": True}
    edit_spec(root, services={name: {"compose": loosen} for name in ALL})
    assert cli("-C", root, "render").exit_code == 0
    prod = compose_config(root, "compose.yaml", "compose.prod.yaml")["services"]
    assert set(prod) == set(ALL)
    for name, service in prod.items():
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service.get("privileged", False) is False, name
        assert service.get("user") not in ("root", "0"), name


@pytest.mark.judge
def test_services_compose_knows_exactly_the_compose_spec_service_keys(require: Any) -> None:
    """The hand-kept key list of services.<name>.compose matches the compose-spec schema."""
    require("check-jsonschema")
    from check_jsonschema.builtin_schemas import get_builtin_schema

    from mlstack.resources import schema

    defs = get_builtin_schema("vendor.compose-spec")["$defs"]
    spec_keys = {
        key
        for name in ("service", "container_spec", "workload_spec")
        for key in defs[name].get("properties", {})
    }
    names = schema("spec")["$defs"]["compose_service"]["propertyNames"]["anyOf"]
    ours = next(n["enum"] for n in names if "enum" in n)
    assert set(ours) == spec_keys
