"""The compose model and the Dockerfiles: pure functions of the spec, no Docker.

Expected wiring is written out here from the fragments' documented intent (who uses whom, which
URL each provider hands out) rather than recomputed from the catalog, so a fragment edit that
changes the wiring shows up as a test failure.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import rules, shipped_catalog

from mlstack.render.compose_model import MISSING_SECRET, ComposeModel, build_compose
from mlstack.render.dockerfiles import dockerfile
from mlstack.spec.stack_spec import StackSpec, spec_from_document

pytestmark = pytest.mark.usefixtures("cpu_only_host")

ALL = ("api", "jupyter", "mlflow", "postgres", "qdrant", "redis", "trainer")
GPU_CAPABLE = ("jupyter", "trainer")  # the api: slim Python, no GPU (issue 12)
SUBSETS = [c for n in range(1, len(ALL) + 1) for c in itertools.combinations(ALL, n)]

# Who waits for whom (the fragments' `uses`), and what each provider hands its users.
USES = {
    "api": {"postgres", "redis", "qdrant", "mlflow"},
    "jupyter": {"postgres", "redis", "qdrant", "mlflow"},
    "trainer": {"postgres", "redis", "qdrant", "mlflow"},
    "mlflow": {"postgres"},
    "postgres": set(),
    "qdrant": set(),
    "redis": set(),
}
# Hard dependencies (waits_for): started only once healthy. Every other one only once started.
HARD = {"mlflow": {"postgres"}, "trainer": {"postgres", "redis", "qdrant", "mlflow"}}


def secret(name: str) -> str:
    """A secret from .env, required: plain `docker compose` without .env says how to fix it."""
    return f"${{{name}:?{MISSING_SECRET}}}"


PROVIDES = {
    "redis": {"REDIS_URL": f"redis://:{secret('REDIS_PASSWORD')}@redis:6379/0"},
    "postgres": {
        "DATABASE_URL": f"postgresql://app:{secret('POSTGRES_PASSWORD')}@postgres:5432/app"
    },
    "qdrant": {"QDRANT_URL": "http://qdrant:6333", "QDRANT_API_KEY": secret("QDRANT_API_KEY")},
    "mlflow": {"MLFLOW_TRACKING_URI": "http://mlflow:5000"},
}
SECRETS = ("JUPYTER_TOKEN", "POSTGRES_PASSWORD", "QDRANT_API_KEY", "REDIS_PASSWORD")
PORTS = {
    "api": 8000,
    "jupyter": 8888,
    "mlflow": 5000,
    "postgres": 5432,
    "qdrant": 6333,
    "redis": 6379,
}
BUILT = {"api", "jupyter", "mlflow", "trainer"}


def build(components: tuple[str, ...] | list[str], **extra: Any) -> tuple[StackSpec, ComposeModel]:
    doc = {"name": "demo", "components": list(components), **extra}
    spec = spec_from_document(doc, shipped_catalog())
    return spec, build_compose(spec, shipped_catalog(), rules("dev"), rules("prod"))


def ident(components: tuple[str, ...]) -> str:
    return "+".join(components)


def reservation(service: dict[str, Any]) -> list[dict[str, Any]]:
    return service["deploy"]["resources"]["reservations"]["devices"]


def from_lines(text: str, args: dict[str, str] | None = None) -> list[str]:
    """The base images, ``FROM ${ARG}`` resolved with ``args`` over the ARG's default."""
    values = dict(re.findall(r"^ARG (\w+)=(\S+)", text, flags=re.MULTILINE))
    values.update(args or {})
    refs = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    return [re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], ref) for ref in refs]


@pytest.mark.parametrize("components", SUBSETS, ids=ident)
def test_depends_on_exactly_the_used_components_present(components: tuple[str, ...]) -> None:
    _, model = build(components)
    for name, service in model.base["services"].items():
        wanted = USES[name] & set(components)
        depends = service.get("depends_on", {})
        assert set(depends) == wanted, name
        for dep, cond in depends.items():
            hard = dep in HARD.get(name, set())
            wanted_cond = "service_healthy" if hard else "service_started"
            assert cond == {"condition": wanted_cond}, f"{name} on {dep}"
        assert "trainer" not in depends  # a job is never waited for


def test_jupyter_and_the_api_start_without_waiting_for_mlflow_to_be_healthy() -> None:
    _, model = build(["api", "jupyter", "mlflow", "postgres"])
    services = model.base["services"]
    for name in ("api", "jupyter"):
        assert services[name]["depends_on"]["mlflow"] == {"condition": "service_started"}
    assert services["mlflow"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_no_python_start_up_in_any_health_check() -> None:
    """A Python interpreter every 2 s in every container is the idle cost the checks avoid."""
    _, model = build(["api", "jupyter", "mlflow", "postgres", "qdrant", "redis"])
    for name, service in model.base["services"].items():
        test = service["healthcheck"]["test"]
        assert "python" not in " ".join(test), name


def test_only_a_service_another_waits_for_is_checked_every_two_seconds() -> None:
    """At rest checks run every 10 s; a gate of ``service_healthy`` every 2 s, failing as late."""
    _, model = build(["api", "jupyter", "mlflow", "postgres", "qdrant", "redis"])
    checks = {name: s["healthcheck"] for name, s in model.base["services"].items()}
    assert (checks["postgres"]["interval"], checks["postgres"]["retries"]) == ("2s", 30)
    for name in ("api", "jupyter", "mlflow", "qdrant", "redis"):
        assert checks[name]["interval"] == "10s", name
    _, alone = build(["api", "postgres"])  # no one waits for postgres here
    assert alone.base["services"]["postgres"]["healthcheck"]["interval"] == "10s"
    _, jobs = build(["mlflow", "postgres", "qdrant", "redis", "trainer"])
    for name in ("mlflow", "postgres", "qdrant", "redis"):  # the trainer waits for all four
        assert jobs.base["services"][name]["healthcheck"]["interval"] == "2s", name


@pytest.mark.parametrize("components", SUBSETS, ids=ident)
def test_connection_variables_reach_their_users(components: tuple[str, ...]) -> None:
    _, model = build(components)
    for name, service in model.base["services"].items():
        env = service.get("environment", {})
        for provider, variables in PROVIDES.items():
            for variable, value in variables.items():
                if provider in USES[name] and provider in components:
                    assert env.get(variable) == value, f"{name}: {variable}"
                else:
                    assert variable not in env, f"{name} got {variable}"


def test_mlflow_keeps_its_runs_in_postgres_when_the_stack_has_it() -> None:
    _, model = build(["mlflow", "postgres"])
    services = model.base["services"]
    assert services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"] == (
        f"postgresql+psycopg2://app:{secret('POSTGRES_PASSWORD')}@postgres:5432/mlflow"
    )
    assert services["postgres"]["environment"]["POSTGRES_EXTRA_DATABASES"] == "mlflow"
    spec, _ = build(["mlflow", "postgres"])
    assert "psycopg2-binary==" in dockerfile("mlflow", spec, shipped_catalog())


def test_mlflow_uses_sqlite_on_its_volume_without_postgres() -> None:
    spec, model = build(["mlflow"])
    mlflow = model.base["services"]["mlflow"]
    assert mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"] == "sqlite:////mlflow/mlflow.db"
    assert "mlflow-data:/mlflow" in mlflow["volumes"]
    assert "depends_on" not in mlflow
    assert "psycopg2" not in dockerfile("mlflow", spec, shipped_catalog())


def test_postgres_creates_no_extra_database_without_mlflow() -> None:
    _, model = build(["postgres", "api"])
    assert model.base["services"]["postgres"]["environment"]["POSTGRES_EXTRA_DATABASES"] == ""


@pytest.mark.parametrize(
    ("gpu", "wanted"),
    [
        pytest.param(
            {"devices": "all"}, {name: {"count": "all"} for name in GPU_CAPABLE}, id="all"
        ),
        pytest.param({"devices": 2}, {name: {"count": 2} for name in GPU_CAPABLE}, id="count-2"),
        pytest.param(
            {"devices": ["0", "1"]},
            {name: {"device_ids": ["0", "1"]} for name in GPU_CAPABLE},
            id="ids-0-1",
        ),
        pytest.param(
            {"devices": [0, 1]},
            {name: {"device_ids": ["0", "1"]} for name in GPU_CAPABLE},
            id="int-ids",
        ),
        pytest.param(
            {"devices": "all", "services": ["trainer"]},
            {"trainer": {"count": "all"}},
            id="trainer-only",
        ),
        pytest.param(
            {"devices": 1, "services": ["jupyter"]},
            {"jupyter": {"count": 1}},
            id="jupyter-only",
        ),
        pytest.param(
            {"services": {"jupyter": ["GPU-1a2b"], "trainer": 2}},
            {"jupyter": {"device_ids": ["GPU-1a2b"]}, "trainer": {"count": 2}},
            id="per-service",
        ),
        pytest.param({"devices": "none"}, {}, id="none"),
        pytest.param({}, {}, id="absent"),
    ],
)
def test_gpu_reservations(gpu: dict[str, Any], wanted: dict[str, dict[str, Any]]) -> None:
    """Reservations live in compose.gpu.yaml alone (issue 12): compose.yaml runs on any host."""
    _, model = build(ALL, gpu=gpu)
    for name, service in model.base["services"].items():
        assert "deploy" not in service, name
        assert "NVIDIA_DRIVER_CAPABILITIES" not in service.get("environment", {}), name
    assert set(model.gpu.get("services", {})) == set(wanted)
    for name, service in model.gpu.get("services", {}).items():
        assert reservation(service) == [
            {"driver": "nvidia", **wanted[name], "capabilities": ["gpu"]}
        ], name
        assert service["environment"]["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"


NOTEBOOKS_AND_TRAINING = {"jupyter", "trainer"}


@pytest.mark.parametrize(
    ("extra", "shm", "services"),
    [
        pytest.param({"gpu": {"devices": "all"}}, "8gb", NOTEBOOKS_AND_TRAINING, id="gpu-default"),
        pytest.param({}, "1gb", NOTEBOOKS_AND_TRAINING, id="cpu-default"),
        pytest.param(
            {"gpu": {"devices": "all"}, "shm_size": "4g"},
            "4g",
            NOTEBOOKS_AND_TRAINING,  # the api can use no GPU: no shm either (issue 12)
            id="gpu-explicit",
        ),
        pytest.param({"shm_size": "16gb"}, "16gb", NOTEBOOKS_AND_TRAINING, id="cpu-explicit"),
        pytest.param(
            {"gpu": {"devices": 1, "services": ["trainer"]}},
            "8gb",
            NOTEBOOKS_AND_TRAINING,
            id="gpu-on-the-trainer-only",
        ),
    ],
)
def test_shm_size_of_notebooks_training_and_gpu_services(
    extra: dict[str, Any], shm: str, services: set[str]
) -> None:
    _, model = build(ALL, **extra)
    for name, service in model.base["services"].items():
        if name in services:
            assert service["shm_size"] == shm, name
        else:
            assert "shm_size" not in service, name


@pytest.mark.parametrize("components", SUBSETS, ids=ident)
def test_named_volumes_are_declared_and_used(components: tuple[str, ...]) -> None:
    _, model = build(components)
    mounted = set()
    for doc in (model.base, model.dev, model.prod):
        for service in doc["services"].values():
            for mount in service.get("volumes", []):
                source = mount.split(":", 1)[0]
                if not source.startswith(("/", ".", "$")):
                    mounted.add(source)
    assert mounted == set(model.base.get("volumes", {}))


@pytest.mark.parametrize("components", [ALL, ("redis",), ("api", "trainer")], ids=ident)
def test_one_network_for_every_service(components: tuple[str, ...]) -> None:
    _, model = build(components)
    assert model.base["networks"] == {"backend": {}}
    for service in model.base["services"].values():
        assert service["networks"] == ["backend"]


def test_only_the_trainer_is_in_a_profile() -> None:
    _, model = build(ALL)
    profiles = {name: s.get("profiles") for name, s in model.base["services"].items()}
    assert profiles == {**dict.fromkeys(ALL), "trainer": ["train"]}


@pytest.mark.parametrize("ports", [{}, {"api": 8080, "redis": 16379}], ids=["defaults", "moved"])
def test_dev_publishes_every_port_on_loopback(ports: dict[str, int]) -> None:
    _, model = build(ALL, ports=ports)
    for name in ALL:
        service = model.dev["services"][name]
        if name not in PORTS:
            assert "ports" not in service
            continue
        host = ports.get(name, PORTS[name])
        variable = f"{name.upper()}_HOST_PORT"
        assert service["ports"] == [f"127.0.0.1:${{{variable}:-{host}}}:{PORTS[name]}"]


def test_prod_hardens_every_service_and_publishes_only_the_api() -> None:
    _, model = build(ALL, ports={"api": 8080})
    prod = model.prod["services"]
    assert set(prod) == set(ALL)
    for name, service in prod.items():
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        if name == "api":
            assert service["ports"] == ["${API_HOST_PORT:-8080}:8000"]
        else:
            assert "ports" not in service, name
        if name == "trainer":  # a job: run by hand, never restarted
            assert "restart" not in service
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["logging"]["options"]["max-size"] == "10m", name
        read_only = name in ("api", "redis", "postgres", "mlflow")
        assert service.get("read_only", False) is read_only, name
        if service.get("read_only"):
            assert service["tmpfs"], f"{name} is read-only without a writable /tmp"


def test_dev_mounts_the_code_for_hot_reload() -> None:
    _, model = build(ALL)
    dev = model.dev["services"]
    assert "./api/app:/app/app:ro" in dev["api"]["volumes"]
    assert "--reload" in dev["api"]["command"]
    assert "./trainer/src:/app/src:ro" in dev["trainer"]["volumes"]
    assert "./notebooks:/home/jovyan/work/notebooks" in dev["jupyter"]["volumes"]


IMAGES = {
    "python": "mirror.local/python:3.12-slim",
    "jupyter": "mirror.local/scipy:1",
    "jupyter-gpu": "mirror.local/pytorch:1",
    "mlflow": "mirror.local/mlflow:3",
    "cuda": "mirror.local/cuda:12.8.1",
    "redis": "mirror.local/redis:8",
    "postgres": "mirror.local/postgres:17",
    "qdrant": "mirror.local/qdrant:1",
}


@pytest.mark.parametrize(
    ("gpu", "froms"),
    [
        pytest.param(
            "none",
            {
                "api": [IMAGES["python"]] * 2,
                "jupyter": [IMAGES["jupyter"]],
                "mlflow": [IMAGES["mlflow"]],
                "trainer": [IMAGES["python"]],
            },
            id="cpu",
        ),
        pytest.param(
            "all",
            {
                "api": [IMAGES["python"]] * 2,
                "jupyter": [IMAGES["jupyter-gpu"]],  # compose.gpu.yaml's build arg
                "mlflow": [IMAGES["mlflow"]],
                "trainer": [IMAGES["python"], IMAGES["cuda"]],  # targets cpu and gpu
            },
            id="gpu",
        ),
    ],
)
def test_image_overrides_reach_services_and_every_from_line(
    gpu: str, froms: dict[str, list[str]]
) -> None:
    spec, model = build(ALL, images=IMAGES, gpu={"devices": gpu})
    services = model.base["services"]
    for name in ("redis", "postgres", "qdrant"):
        assert services[name]["image"] == IMAGES[name]
    for name in BUILT:
        assert "image" not in services[name]
        assert services[name]["build"]["context"] == f"./{name}"
        args = model.gpu.get("services", {}).get(name, {}).get("build", {}).get("args")
        assert from_lines(dockerfile(name, spec, shipped_catalog()), args) == froms[name], name
    # without compose.gpu.yaml (a host with no usable GPU) the notebook is the CPU image
    assert from_lines(dockerfile("jupyter", spec, shipped_catalog())) == [IMAGES["jupyter"]]


def test_default_images_are_pinned() -> None:
    spec, model = build(ALL, gpu={"devices": "all"})
    refs = [s["image"] for s in model.base["services"].values() if "image" in s]
    refs += [ref for name in BUILT for ref in from_lines(dockerfile(name, spec, shipped_catalog()))]
    for ref in refs:
        assert ":" in ref.rsplit("/", 1)[-1] and not ref.endswith(":latest"), ref


def test_trainer_alone_builds_on_python_slim() -> None:
    # Was a bug (KeyError('python'): only stacks/api.yaml declared the slot); fixed in 991106f.
    spec, _ = build(["trainer", "redis"])
    assert from_lines(dockerfile("trainer", spec, shipped_catalog())) == ["python:3.12-slim"]


def test_every_secret_reference_is_required() -> None:
    _, model = build(ALL)
    text = json.dumps(model.base)
    for name in SECRETS:
        assert secret(name) in text, name
        assert f"${{{name}}}" not in text, f"{name} is referenced without :?"
    for doc in (model.dev, model.prod):
        assert not any(name in json.dumps(doc) for name in SECRETS)


def test_same_input_gives_the_same_bytes(
    tmp_path: Path, make_stack: Any, cli: Any, tree: Any
) -> None:
    first = make_stack(
        tmp_path / "first",
        "--name",
        "same",
        "--with",
        ",".join(ALL),
        "--gpu",
        "all",
        "--image",
        "redis=mirror.local/redis:8",
    )
    second = tmp_path / "second"
    second.mkdir()
    for name in ("mlstack.yaml", ".env"):
        shutil.copy2(first / name, second / name)
    result = cli("-C", second, "render")
    assert result.exit_code == 0, result.output
    ours, theirs = tree(first), tree(second)
    assert ours[".env"] == theirs[".env"]  # kept as it was
    del ours[".env"], theirs[".env"]
    assert sorted(ours) == sorted(theirs)
    for path in ours:
        assert ours[path] == theirs[path], path
    assert build(ALL, gpu={"devices": "all"})[1] == build(ALL, gpu={"devices": "all"})[1]


def test_prod_memory_limit_leaves_room_for_shm() -> None:
    _, model = build(("jupyter", "trainer", "redis"), gpu={"devices": "all"}, shm_size="16gb")
    limits = {
        n: s["deploy"]["resources"]["limits"]["memory"]
        for n, s in model.prod["services"].items()
        if "deploy" in s
    }
    assert limits == {"jupyter": "20480m", "redis": "4g"}  # the trainer job has no limit
