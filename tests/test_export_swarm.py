"""`mlstack export swarm`: the stack file, judged offline by a docker CLI's own loader
(`docker stack config`, 25+), plus what the 20.10 CLI refuses or Swarm drops silently.
The real deploy is tests/e2e/test_swarm.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mlstack.export import swarm_entry
from mlstack.export.values import Secret
from mlstack.render.envfile import parse_env

pytestmark = pytest.mark.usefixtures("cpu_only_host")

FULL = "api,jupyter,mlflow,postgres,qdrant,redis,trainer"
STACKS = {
    "cpu": ("--with", "api,jupyter,mlflow,postgres,qdrant,redis", "--gpu", "none"),
    "gpu-count": ("--with", FULL, "--gpu", "2", "--shm-size", "16gb"),
    "per-service-gpus": ("--with", FULL, "--gpu", "none", "--gpu", "trainer=2"),
    "mlflow-sqlite": ("--with", "api,mlflow,redis", "--gpu", "none"),
    "mlflow-postgres": ("--with", "mlflow,postgres", "--gpu", "none"),
    "day-two": ("--with", "api,redis", "--gpu", "none"),
}
# services.<name> settings (issue 11): appended to the stack's mlstack.yaml before the export
SETTINGS = {
    "day-two": "services:\n  api:\n    env: {APP_MODE: demo}\n"
    "    secrets: [APP_SIGNING_KEY, {name: HF_TOKEN, from: user}]\n"
    "    ports: [9001]\n    resources: {cpus: 1, memory: 2g}\n"
}


def load(path: Path) -> dict[str, Any]:
    return YAML(typ="safe").load(path.read_text())


@pytest.fixture(scope="module")
def exported(tmp_path_factory, make_stack, cli) -> dict[tuple[str, str], Path]:
    """(stack, profile) -> the export folder."""
    out = {}
    for name, flags in STACKS.items():
        root = make_stack(tmp_path_factory.mktemp(name), "--name", name, *flags)
        with (root / "mlstack.yaml").open("a") as handle:
            handle.write(SETTINGS.get(name, ""))
        for profile in ("dev", "prod"):
            folder = root / "deploy" / profile
            result = cli("-C", root, "export", "swarm", "--profile", profile, "--out", folder)
            assert result.exit_code == 0, result.output
            out[(name, profile)] = folder
    return out


@pytest.fixture(scope="module")
def stack_config(skip_or_fail) -> str:
    """A docker CLI whose `docker stack config` loads a stack file offline (25 and later)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        cli = Path(folder) / "docker"
        if cli.is_file():
            probe = subprocess.run(
                [str(cli), "stack", "config", "--help"], capture_output=True, check=False
            )
            if probe.returncode == 0:
                return str(cli)
    skip_or_fail("no docker CLI with `docker stack config` (25 or later)")
    return ""


def judge(cli: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cli, "stack", "config", "-c", str(folder / "stack.yaml")],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
    )


@pytest.mark.judge
@pytest.mark.parametrize("key", [(s, p) for s in STACKS for p in ("dev", "prod")])
def test_docker_stack_config_loads_the_file(exported, stack_config, key):
    done = judge(stack_config, exported[key])
    assert done.returncode == 0, done.stderr


@pytest.mark.judge
def test_the_judge_refuses_what_the_cli_refuses(exported, stack_config, tmp_path):
    """A long depends_on, as compose writes it, is refused: the judge can fail."""
    doc = load(exported[("cpu", "prod")] / "stack.yaml")
    doc["services"]["api"]["depends_on"] = {"redis": {"condition": "service_healthy"}}
    (tmp_path / "stack.yaml").write_text(_dump(doc))
    assert judge(stack_config, tmp_path).returncode != 0


def _dump(doc: dict[str, Any]) -> str:
    from mlstack.spec.yamlio import dump

    return dump(doc)


@pytest.mark.judge
def test_dollars_reach_the_container_as_written(exported, stack_config):
    loaded = YAML(typ="safe").load(judge(stack_config, exported[("cpu", "prod")]).stdout)
    script = loaded["services"]["api"]["entrypoint"][2]
    assert 'export DATABASE_URL="postgresql://app:$(cat /run/secrets/POSTGRES_PASSWORD)@' in script
    assert script.endswith('exec "$@"')
    health = loaded["services"]["postgres"]["healthcheck"]["test"][1]
    assert "-U ${POSTGRES_USER}" in health


def test_what_the_20_10_cli_refuses_is_not_there(exported):
    for folder in exported.values():
        doc = load(folder / "stack.yaml")
        assert doc["version"] == "3.8" and "name" not in doc
        for name, service in doc["services"].items():
            for key in ("profiles", "depends_on", "shm_size", "tmpfs", "gpus", "build", "restart"):
                assert key not in service, f"{name}: {key}"
            assert "devices" not in service["deploy"].get("resources", {}).get("reservations", {})


def test_shm_gpu_secrets_ports_and_hardening(exported):
    doc = load(exported[("gpu-count", "prod")] / "stack.yaml")
    services = doc["services"]
    shm = {"type": "tmpfs", "target": "/dev/shm", "tmpfs": {"size": 16 * 1024**3}}
    assert shm in services["jupyter"]["volumes"] and shm in services["trainer"]["volumes"]
    gpu = services["trainer"]["deploy"]["resources"]["reservations"]["generic_resources"]
    assert gpu == [{"discrete_resource_spec": {"kind": "GPU", "value": 2}}]
    assert [n for n, s in services.items() if "ports" in s] == ["api"]
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/POSTGRES_PASSWORD"
    assert "entrypoint" not in postgres  # the image reads the file itself
    assert postgres["read_only"] is True and postgres["user"] == "postgres"
    assert {"type": "tmpfs", "target": "/var/run/postgresql"} in postgres["volumes"]
    assert doc["secrets"]["POSTGRES_PASSWORD"] == {
        "external": True,
        "name": "gpu-count_postgres_password",
    }
    trainer = services["trainer"]["deploy"]
    assert trainer["replicas"] == 0 and trainer["restart_policy"] == {"condition": "none"}
    assert services["api"]["deploy"]["endpoint_mode"] == "vip"  # the routing mesh
    assert services["redis"]["deploy"]["endpoint_mode"] == "dnsrr"
    redis_health = services["redis"]["healthcheck"]["test"][1]
    assert redis_health.startswith('export REDISCLI_AUTH="$$(cat /run/secrets/REDIS_PASSWORD)"')


def test_waits_follow_depends_on(exported):
    services = load(exported[("cpu", "prod")] / "stack.yaml")["services"]
    script = services["api"]["entrypoint"][2]
    for wait in (
        "python /mlstack/wait.py postgres postgres 5432",
        "python /mlstack/wait.py redis redis 6379 --password-env REDIS_PASSWORD",
        "python /mlstack/wait.py http qdrant 6333 --path /readyz",
        "python /mlstack/wait.py http mlflow 5000 --path /health",
    ):
        assert wait in script
    assert {"source": "mlstack_wait", "target": "/mlstack/wait.py", "mode": 0o444} in services[
        "api"
    ]["configs"]
    assert services["api"]["command"] == [
        "uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000",
    ]  # fmt: skip


def test_no_secret_value_in_any_file(exported):
    for (name, _), folder in exported.items():
        values = [v for v in parse_env((folder.parents[1] / ".env").read_text()).values()]
        for path in folder.rglob("*"):
            if path.is_file():
                assert not [v for v in values if v in path.read_text()], (name, path)


@pytest.mark.parametrize(
    "value",
    ["plain", 'a "quoted" $HOME `cmd` back\\slash', "it's"],
)
def test_the_wrapper_quotes_any_value_for_sh(tmp_path, monkeypatch, value):
    monkeypatch.setattr(swarm_entry, "SECRETS_DIR", str(tmp_path))
    (tmp_path / "S").write_text("s3cr3t")
    text = swarm_entry.sh_quoted((value, Secret("S"), value))
    done = subprocess.run(
        ["sh", "-c", f"printf %s {text}"], capture_output=True, text=True, check=True
    )
    assert done.stdout == f"{value}s3cr3t{value}"


def test_check_lists_what_swarm_cannot_carry(make_stack, cli, tmp_path):
    root = make_stack(tmp_path, "--with", "api,redis,trainer", "--gpu", "none")
    result = cli("-C", root, "export", "swarm", "--check", "--profile", "dev")
    assert result.exit_code == 1
    for line in (
        "api: depends_on: Swarm starts every service at once; instead: its entrypoint waits",
        "api: build: Swarm does not build images; instead: runs",
        "redis: ports: Swarm publishes on every interface",
        "redis: entrypoint: Swarm gives secrets as files only",
        "trainer: profiles: the 20.10 CLI has no jobs",
        "api: volumes: ./api/app:/app/app: a host folder of this machine; instead: left out",
    ):
        assert line in result.output
    assert not (root / "deploy").exists()


def test_refusals(make_stack, cli, tmp_path):
    root = make_stack(tmp_path / "all", "--with", "trainer", "--gpu", "all")
    result = cli("-C", root, "export", "swarm")
    assert result.exit_code == 2 and "count" in result.output
    root = make_stack(tmp_path / "mode", "--with", "redis", "--gpu", "none")
    result = cli("-C", root, "export", "swarm", "--publish", "mesh")
    assert result.exit_code == 2 and "--publish" in result.output


def test_a_secret_reading_image_without_a_known_start_is_refused(make_stack, cli, tmp_path):
    root = make_stack(tmp_path, "--with", "qdrant", "--gpu", "none")
    (root / "stacks").mkdir()
    text = (Path(__file__).parents[1] / "stacks/qdrant.yaml").read_text()
    (root / "stacks/qdrant.yaml").write_text(text.replace("start: [./entrypoint.sh]", ""))
    result = cli("-C", root, "export", "swarm")
    assert result.exit_code == 2
    assert "stacks/qdrant.yaml: start:" in result.output and "ENTRYPOINT and CMD" in result.output


TOKEN_FRAGMENT = """\
name: echo
summary: a service with a secret on its command line
image: echo
images:
  echo: registry.example.com/busybox:1.37
secrets: [ECHO_TOKEN]
service:
  command: [sh, -c, "echo ${ECHO_TOKEN} && sleep infinity"]
"""


def test_a_secret_on_a_command_line(make_stack, cli, tmp_path):
    """Kubernetes carries it ($(ECHO_TOKEN), the variable from the Secret); Swarm refuses."""
    root = tmp_path / "echo"
    (root / "stacks").mkdir(parents=True)
    (root / "stacks/echo.yaml").write_text(TOKEN_FRAGMENT)
    make_stack(root, "--with", "echo", "--gpu", "none")
    result = cli("-C", root, "export", "swarm")
    assert result.exit_code == 2
    assert "stacks/echo.yaml: service.command" in result.output
    assert cli("-C", root, "export", "k8s").exit_code == 0
    manifest = (root / "deploy/k8s/base/echo.yaml").read_text()
    assert "echo $(ECHO_TOKEN) && sleep infinity" in manifest
    assert "key: ECHO_TOKEN" in manifest
