"""``services.<name>`` env, secrets, ports, resources and uses (issue 11): spec to compose files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine
from ruamel.yaml import YAML

from mlstack.layout import Profile
from mlstack.render.envfile import parse_env
from mlstack.render.published import Published, published_ports
from mlstack.spec.catalog import load_catalog
from mlstack.spec.stack_spec import load_spec

pytestmark = pytest.mark.usefixtures("cpu_only_host")

SETTINGS = """\
services:
  api:
    env: {APP_MODE: demo, WORKERS: 2, DEBUG: false, LOG_LEVEL: warning, PRICE: 5$}
    secrets: [APP_SIGNING_KEY, {name: HF_TOKEN, from: user}]
    ports: [9001, {container: 9002, host: 19002}]
    resources: {cpus: 1.5, memory: 2g}
"""
MY_CACHE = """\
name: my-cache
summary: a user's own cache that other services connect to
image: my-cache
images:
  my-cache: registry.example.com/my-cache:1
provides:
  MY_CACHE_URL: http://my-cache:7000
service:
  healthcheck:
    test: [CMD, /bin/true]
"""


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def with_settings(root: Path, settings: str = SETTINGS) -> Path:
    with (root / "mlstack.yaml").open("a") as handle:
        handle.write(settings)
    return root


@pytest.fixture
def rendered(tmp_path: Path, make_stack: Any, cli: Any) -> Path:
    root = with_settings(make_stack(tmp_path, "--with", "api,redis,postgres"))
    result = cli("-C", root, "render")
    assert result.exit_code == 0, result.output
    return root


def test_env_reaches_the_service_literally_and_wins_over_the_dev_value(rendered: Path) -> None:
    env = load(rendered / "compose.yaml")["services"]["api"]["environment"]
    assert {k: env[k] for k in ("APP_MODE", "WORKERS", "DEBUG", "LOG_LEVEL", "PRICE")} == {
        "APP_MODE": "demo",
        "WORKERS": "2",
        "DEBUG": "false",
        "LOG_LEVEL": "warning",
        "PRICE": "5$$",  # a literal $: compose would interpolate a single one
    }
    assert "DATABASE_URL" in env  # what the stack wires stays
    dev = load(rendered / "compose.override.yaml")["services"]["api"]["environment"]
    assert dev["LOG_LEVEL"] == "warning"  # the fragment's dev debug would undo the user's value
    assert "services.api.env" not in (rendered / "compose.yaml").read_text()


def test_secrets_reach_the_service_by_reference_only(rendered: Path, cli: Any) -> None:
    env = load(rendered / "compose.yaml")["services"]["api"]["environment"]
    assert env["APP_SIGNING_KEY"] == "${APP_SIGNING_KEY:?run mlstack render to create .env}"
    assert env["HF_TOKEN"].startswith("${HF_TOKEN?put HF_TOKEN=VALUE in .env")
    dotenv = (rendered / ".env").read_text()
    values = parse_env(dotenv)
    assert len(values["APP_SIGNING_KEY"]) >= 32  # generated like the stack's own secrets
    assert values["HF_TOKEN"] == ""  # the user's to fill: never generated
    assert "# HF_TOKEN: yours to fill" in dotenv
    example = (rendered / ".env.example").read_text()
    assert "APP_SIGNING_KEY=\n" in example and "# HF_TOKEN: yours to fill" in example
    committed = "".join(p.read_text() for p in rendered.glob("compose*.yaml"))
    assert values["APP_SIGNING_KEY"] not in committed
    (rendered / ".env").write_text(dotenv.replace("HF_TOKEN=\n", "HF_TOKEN=hf_mine\n"))
    again = cli("-C", rendered, "render")
    assert again.exit_code == 0, again.output
    kept = (rendered / ".env").read_text()
    assert "HF_TOKEN=hf_mine\n" in kept and kept.count("HF_TOKEN=") == 1
    assert f"APP_SIGNING_KEY={values['APP_SIGNING_KEY']}\n" in kept  # never changed


def test_extra_ports_are_published_on_localhost_in_dev_and_follow_prod_rules(
    tmp_path: Path, rendered: Path, make_stack: Any, cli: Any
) -> None:
    dev = load(rendered / "compose.override.yaml")["services"]["api"]["ports"]
    assert dev == [
        "127.0.0.1:${API_HOST_PORT:-8000}:8000",
        "127.0.0.1:${API_9001_HOST_PORT:-9001}:9001",
        "127.0.0.1:${API_9002_HOST_PORT:-19002}:9002",
    ]
    prod = load(rendered / "compose.prod.yaml")["services"]["api"]["ports"]
    assert prod[1:] == ["${API_9001_HOST_PORT:-9001}:9001", "${API_9002_HOST_PORT:-19002}:9002"]
    assert "# API_9002_HOST_PORT=19002" in (rendered / ".env.example").read_text()
    spec = load_spec(rendered, load_catalog(rendered))
    ports = published_ports(rendered, spec, load_catalog(rendered), Profile.DEV)
    assert Published("api", "127.0.0.1", 19002, 9002) in ports
    # a database publishes nothing in prod: its extra ports neither
    other = with_settings(
        make_stack(tmp_path / "db", "--with", "postgres"),
        "services:\n  postgres:\n    ports: [5433]\n",
    )
    assert cli("-C", other, "render").exit_code == 0
    assert "ports" not in (load(other / "compose.prod.yaml")["services"].get("postgres") or {})
    assert (
        "127.0.0.1:${POSTGRES_5433_HOST_PORT:-5433}:5433"
        in (load(other / "compose.override.yaml")["services"]["postgres"]["ports"])
    )


def test_resources_become_the_prod_limits(rendered: Path) -> None:
    prod = load(rendered / "compose.prod.yaml")["services"]
    assert prod["api"]["deploy"]["resources"]["limits"] == {"cpus": "1.5", "memory": "2g"}
    assert prod["redis"]["deploy"]["resources"]["limits"] == {"cpus": "2", "memory": "4g"}
    assert "deploy" not in load(rendered / "compose.yaml")["services"]["api"]


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ("  api:\n    env: {1BAD: x}\n", "services.api.env", "environment variable name"),
        ("  api:\n    env: {A: {b: 1}}\n", "services.api.env.A", "string, number"),
        ("  api:\n    env: {REDIS_PASSWORD: x}\n", "services.api.env.REDIS_PASSWORD", "secret"),
        ("  api:\n    env: {HF_TOKEN: x}\n", "services.api.env.HF_TOKEN", "from: user"),
        ("  api:\n    env: {A: x}\n    secrets: [A]\n", "services.api.env.A", "secret"),
        (
            "  api:\n    env: {DB: 'postgresql://u:pw@db/x'}\n",
            "services.api.env.DB",
            "carries a password",
        ),
        ("  qdrant:\n    env: {A: x}\n", "services.qdrant", "not a component"),
        ("  api:\n    secrets: [lower]\n", "services.api.secrets[0]", "in capitals"),
        (
            "  api:\n    secrets: [{name: A, from: vault}]\n",
            "services.api.secrets[0].from",
            "random (generated into .env) or user",
        ),
        ("  api:\n    secrets: [POSTGRES_PASSWORD]\n", "services.api.secrets[0]", "postgres"),
        ("  api:\n    secrets: [A_HOST_PORT]\n", "services.api.secrets[0]", "compose"),
        (
            "  api:\n    secrets: [A]\n  redis:\n    secrets: [{name: A, from: user}]\n",
            "services.redis.secrets[0]",
            "same `from:`",
        ),
        ("  api:\n    secrets: [A, {name: A}]\n", "services.api.secrets[1]", "listed twice"),
        ("  api:\n    ports: [70000]\n", "services.api.ports[0]", "1 to 65535"),
        ("  api:\n    ports: [8000]\n", "services.api.ports[0]", "ports.api"),
        ("  api:\n    ports: [9001, 9001]\n", "services.api.ports[1]", "9001"),
        ("  api:\n    resources: {memory: 2 gigs}\n", "services.api.resources.memory", "2g"),
        ("  api:\n    resources: {cpus: 0}\n", "services.api.resources.cpus", "CPUs"),
        ("  api:\n    resources: {gpus: 1}\n", "services.api.resources", "gpus"),
        ("  api:\n    uses: [qdrant]\n", "services.api.uses[0]", "not in the stack"),
        ("  redis:\n    uses: [api]\n", "services", "wait for each other"),
    ],
)
def test_bad_settings_are_named_by_field(
    tmp_path: Path,
    make_stack: Any,
    cli: Any,
    tree_state: Any,
    settings: str,
    field: str,
    words: str,
) -> None:
    root = with_settings(
        make_stack(tmp_path, "--with", "api,redis,postgres"), "services:\n" + settings
    )
    before = tree_state(root)
    result = cli("-C", root, "render")
    assert result.exit_code == 2, result.output
    assert f"mlstack.yaml: {field}" in result.output, result.output
    assert words in result.output, result.output
    assert "fix:" in result.output
    assert tree_state(root) == before


def test_a_memory_limit_must_hold_shm(tmp_path: Path, make_stack: Any, cli: Any) -> None:
    root = make_stack(tmp_path, "--with", "jupyter", "--shm-size", "4g")
    with_settings(root, "services:\n  jupyter:\n    resources: {memory: 2g}\n")
    result = cli("-C", root, "render")
    assert result.exit_code == 2
    assert "services.jupyter.resources.memory: 2g does not hold jupyter's /dev/shm" in result.output


def test_a_service_uses_a_user_fragment(tmp_path: Path, make_stack: Any, cli: Any) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "my-cache.yaml").write_text(MY_CACHE)
    root = make_stack(tmp_path, "--with", "api,jupyter,my-cache")
    api = load(root / "compose.yaml")["services"]["api"]
    assert "MY_CACHE_URL" not in api.get("environment", {})  # closed: api's uses do not name it
    with_settings(root, "services:\n  api:\n    uses: [my-cache]\n")
    assert cli("-C", root, "render").exit_code == 0
    services = load(root / "compose.yaml")["services"]
    assert services["api"]["environment"]["MY_CACHE_URL"] == "http://my-cache:7000"
    assert services["api"]["depends_on"]["my-cache"] == {"condition": "service_started"}
    assert "MY_CACHE_URL" not in services["jupyter"].get("environment", {})


def test_a_user_fragment_serves_services(tmp_path: Path, make_stack: Any) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "my-cache.yaml").write_text(MY_CACHE + "serves: [api, jupyter]\n")
    root = make_stack(tmp_path, "--with", "api,jupyter,redis,my-cache")
    services = load(root / "compose.yaml")["services"]
    for name in ("api", "jupyter"):
        assert services[name]["environment"]["MY_CACHE_URL"] == "http://my-cache:7000"
        assert "my-cache" in services[name]["depends_on"]
    assert "my-cache" not in services["redis"].get("depends_on", {})


def test_a_fragment_serving_an_unknown_component_is_named(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--with", "api")
    (root / "stacks").mkdir()
    (root / "stacks" / "my-cache.yaml").write_text(MY_CACHE + "serves: [nope]\n")
    result = cli("-C", root, "render")
    assert result.exit_code == 2
    assert "stacks/my-cache.yaml: serves: unknown component 'nope'" in result.output


def test_unused_env_keys_are_noted_never_removed(
    tmp_path: Path, make_stack: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_stack(tmp_path, "--with", "api,redis,postgres")
    with (root / ".env").open("a") as handle:
        handle.write("OLD_THING=x\nCOMPOSE_PROJECT_NAME=mine\n")
    result = cli("-C", root, "remove", "postgres")
    assert result.exit_code == 0, result.output
    note = "note: .env keys no service uses: POSTGRES_PASSWORD, OLD_THING (kept;"
    assert note in result.output
    text = (root / ".env").read_text()
    assert "OLD_THING=x\n" in text and "POSTGRES_PASSWORD=" in text  # kept, unchanged
    again = cli("-C", root, "render")
    assert note in again.output
    from mlstack.run.env_checks import check_unused_env

    spec = load_spec(root, load_catalog(root))
    assert check_unused_env(root, spec).found.startswith(
        ".env keys no service uses: POSTGRES_PASSWORD, OLD_THING"
    )


def test_up_stops_on_an_empty_user_secret(
    rendered: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FakeEngine(images={"redis:8.10-alpine", "postgres:17-alpine"})
    monkeypatch.setattr("mlstack.run.engine.Engine", engine.connect)
    result = cli("-C", rendered, "up")
    assert result.exit_code == 1, result.output
    assert "error: preflight failed, nothing was started" in result.output
    assert "secrets: .env: HF_TOKEN (api) is missing or empty" in result.output
    assert "fix: put the value after HF_TOKEN= in .env" in result.output
    assert [c for c in engine.calls if c[0] in ("up", "build", "pull")] == []
    doctor = cli("-C", rendered, "doctor", "--json")
    checks = {c["id"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["secrets"]["status"] == "fail"
    assert checks["secrets"]["found"] == ".env: HF_TOKEN (api) is missing or empty"
    env = (rendered / ".env").read_text().replace("HF_TOKEN=\n", "HF_TOKEN=hf_mine\n")
    (rendered / ".env").write_text(env)
    checks = {
        c["id"]: c for c in json.loads(cli("-C", rendered, "doctor", "--json").stdout)["checks"]
    }
    assert checks["secrets"] == {
        "id": "secrets",
        "status": "ok",
        "found": "filled in .env: HF_TOKEN",
        "fix": "",
    }


@pytest.mark.judge
def test_settings_pass_every_judge(rendered: Path, require: Any, tool_path: Any) -> None:
    from test_judges import judge_everything

    for tool in ("hadolint", "compose-lint", "check-jsonschema"):
        require(tool)
    tools = {name: str(tool_path(name)) for name in ("hadolint", "compose-lint")}
    env = (rendered / ".env").read_text().replace("HF_TOKEN=\n", "HF_TOKEN=hf_x\n")
    (rendered / ".env").write_text(env)
    assert judge_everything(rendered, tools) == []


def test_init_documents_the_fields_in_mlstack_yaml(tmp_path: Path, make_stack: Any) -> None:
    text = (make_stack(tmp_path, "--with", "api") / "mlstack.yaml").read_text()
    for shown in ("# env: {APP_MODE: demo}", "# secrets: [APP_KEY, {name: HF_TOKEN, from: user}]"):
        assert shown.replace("# ", "#   ", 1) in text, text
    for field in ("ports: [9001", "resources: {cpus: 2, memory: 4g}", "uses: [my-component]"):
        assert field in text


def test_removing_a_used_component_drops_it_from_uses(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "my-cache.yaml").write_text(MY_CACHE)
    root = with_settings(
        make_stack(tmp_path, "--with", "api,my-cache"),
        "services:\n  api:\n    uses: [my-cache]  # the team cache\n    env: {A: b}\n",
    )
    assert cli("-C", root, "render").exit_code == 0
    result = cli("-C", root, "remove", "my-cache")
    assert result.exit_code == 0, result.output
    assert "    uses: []" in (root / "mlstack.yaml").read_text()
    assert "# the team cache" in (root / "mlstack.yaml").read_text()
    assert "my-cache" not in (root / "compose.yaml").read_text()


def test_a_user_secret_from_the_shell_is_enough(
    rendered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlstack.run.env_checks import check_user_secrets

    spec = load_spec(rendered, load_catalog(rendered))
    assert check_user_secrets(rendered, spec).status == "fail"
    monkeypatch.setenv("HF_TOKEN", "from-ci")  # compose takes the shell's value over .env's
    assert check_user_secrets(rendered, spec).status == "ok"
    assert check_user_secrets(rendered, spec, ["redis"]).found.startswith("no secret")


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("HF_TOKEN", True),
        ("OPENAI_API_KEY", True),
        ("db_password", True),
        ("TOKENIZERS_PARALLELISM", False),
        ("SECRETARY", False),
        ("LOG_LEVEL", False),
    ],
)
def test_credential_names(name: str, credential: bool) -> None:
    from mlstack.spec.credentials import credential_name

    assert credential_name(name) is credential


def test_exports_carry_extra_ports_and_secrets_by_reference(rendered: Path, cli: Any) -> None:
    """Judged with every other export in test_export_k8s/_swarm (the day-two stack there)."""
    with (rendered / "mlstack.yaml").open("a") as handle:
        handle.write("images: {registry: registry.example.com/team}\n")
    assert cli("-C", rendered, "export", "k8s").exit_code == 0
    docs = list(YAML(typ="safe").load_all((rendered / "deploy/k8s/base/api.yaml").read_text()))
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    [service] = [d for d in docs if d["kind"] == "Service"]
    [api] = deployment["spec"]["template"]["spec"]["containers"]
    assert {"name": "port-9002", "containerPort": 9002} in api["ports"]
    assert {"name": "port-9001", "port": 9001, "targetPort": 9001} in service["spec"]["ports"]
    env = {e["name"]: e for e in api["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "HF_TOKEN"
    assert env["APP_MODE"]["value"] == "demo"
    out = rendered / "swarm"
    assert cli("-C", rendered, "export", "swarm", "--out", out).exit_code == 0
    ports = load(out / "stack.yaml")["services"]["api"]["ports"]
    assert [(p["target"], p["published"]) for p in ports] == [
        (8000, 8000),
        (9001, 9001),
        (9002, 19002),
    ]


def test_status_lists_the_extra_ports(
    rendered: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakes import state

    engine = FakeEngine()
    engine.frames = [{s: state(s) for s in ("api", "postgres", "redis")}]
    monkeypatch.setattr("mlstack.run.engine.Engine", engine.connect)
    monkeypatch.setattr("mlstack.run.health.run_probe", lambda probe, timeout=3.0: None)
    result = cli("-C", rendered, "status")
    assert result.exit_code == 0, result.output
    assert "  api        http://127.0.0.1:8000/docs\n" in result.output
    assert "  api:9001   127.0.0.1:9001\n  api:9002   127.0.0.1:19002\n" in result.output
    doc = json.loads(cli("-C", rendered, "status", "--json").output)
    assert doc["extra_ports"] == {"api:9001": "127.0.0.1:9001", "api:9002": "127.0.0.1:19002"}
