"""`mlstack up` / `status` / `down` on a real engine with real Redis, Postgres, MLflow, Jupyter.

One full stack is shared by the module (built once), but no test relies on another having run:
a test that needs it running asks for ``running_dev``, which brings it up (quick when it already
is), so each test passes alone (``pytest tests/e2e -k NAME``) and in any order.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import compose, destroy, init_stack, mlstack, published, volumes_of
from helpers import DOCTOR_CHECKS

pytestmark = pytest.mark.engine

FULL = "api,qdrant,redis,mlflow,jupyter,postgres"
PORTS = {
    "api": 18000,
    "jupyter": 18888,
    "mlflow": 15000,
    "postgres": 15432,
    "qdrant": 16333,
    "redis": 16379,
}
PROJECT = "e2efull"


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory, e2e_images):
    root = tmp_path_factory.mktemp("full")
    init_stack(root, PROJECT, FULL, PORTS, e2e_images)
    yield root
    destroy(root, PROJECT)


@pytest.fixture()
def running_dev(full_stack):
    """The full stack up and healthy in dev, whatever an earlier test did to it."""
    mlstack(full_stack, "up", "--profile", "dev", "--timeout", "300", check=True)
    return full_stack


def exec_in(root, service, *cmd, profile="dev"):
    done = compose(root, "exec", "-T", service, *cmd, profile=profile)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_dev_up_every_service_healthy(full_stack):
    done = mlstack(full_stack, "up", "--profile", "dev", "--timeout", "300")
    assert done.returncode == 0, done.stdout + done.stderr
    for service in ("api", "qdrant", "redis", "mlflow", "jupyter", "postgres"):
        row = next(line for line in done.stdout.splitlines() if line.startswith(f"│ {service} "))
        assert "│ running │ healthy │" in row, row
    assert "http://127.0.0.1:18000/docs" in done.stdout


def test_api_ready_reaches_every_dependency(running_dev):
    with urllib.request.urlopen("http://127.0.0.1:18000/ready", timeout=10) as response:
        body = json.load(response)
    assert body == {
        "status": "ready",
        "not_ready": [],
        "checks": {"redis": "ok", "postgres": "ok", "qdrant": "ok", "mlflow": "ok"},
    }


def test_api_ready_names_a_dependency_that_is_not_ready(running_dev):
    """The API does not wait for its soft dependencies' health: /ready says which one is missing."""
    stopped = compose(running_dev, "stop", "redis")
    assert stopped.returncode == 0, stopped.stderr
    try:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen("http://127.0.0.1:18000/ready", timeout=30)
        assert caught.value.code == 503
        body = json.load(caught.value)
        assert body["status"] == "not ready"
        assert body["not_ready"] == ["redis"]
        assert body["checks"]["redis"].startswith("error: ")
        assert body["checks"]["postgres"] == "ok"
    finally:
        compose(running_dev, "start", "redis")


def test_logs_of_one_service(running_dev):
    done = mlstack(running_dev, "logs", "redis")
    assert done.returncode == 0, done.stderr
    assert "Ready to accept connections" in done.stdout


def log_mlflow_run(root, name):
    code = (
        "import mlflow, os; mlflow.set_tracking_uri(os.environ['MLFLOW_TRACKING_URI']);"
        f"r = mlflow.start_run(run_name='{name}'); mlflow.log_metric('loss', 0.25);"
        "mlflow.end_run(); print(r.info.run_id)"
    )
    return exec_in(root, "api", "python", "-c", code).strip().splitlines()[-1]


def psql(root, sql, db="app"):
    return exec_in(root, "postgres", "psql", "-U", "app", "-d", db, "-tAc", sql).strip()


def test_mlflow_logs_a_run_to_postgres_from_the_api(running_dev):
    run_id = log_mlflow_run(running_dev, "from-api")
    assert (
        psql(running_dev, f"SELECT status FROM runs WHERE run_uuid = '{run_id}'", db="mlflow")
        == "FINISHED"
    )


def test_data_survives_down_and_up(running_dev):
    psql(running_dev, "CREATE TABLE IF NOT EXISTS kept (v text); INSERT INTO kept VALUES ('row')")
    exec_in(running_dev, "redis", "redis-cli", "SET", "kept", "key")
    run_id = log_mlflow_run(running_dev, "kept-run")
    exec_in(running_dev, "jupyter", "sh", "-c", "echo file > /home/jovyan/work/kept.txt")

    down = mlstack(running_dev, "down")
    assert down.returncode == 0 and "data volumes kept" in down.stdout
    assert compose(running_dev, "ps", "-q").stdout.strip() == ""
    assert volumes_of(PROJECT), "down must keep the named volumes"
    mlstack(running_dev, "up", "--timeout", "300", check=True)

    assert psql(running_dev, "SELECT v FROM kept") == "row"
    assert exec_in(running_dev, "redis", "redis-cli", "GET", "kept").strip() == "key"
    assert (
        psql(running_dev, f"SELECT count(*) FROM runs WHERE run_uuid = '{run_id}'", db="mlflow")
        == "1"
    )
    assert exec_in(running_dev, "jupyter", "cat", "/home/jovyan/work/kept.txt").strip() == "file"


def test_status_shows_a_killed_container(running_dev):
    healthy = mlstack(running_dev, "status", "--json")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert json.loads(healthy.stdout)["healthy"] is True

    container = compose(running_dev, "ps", "-q", "redis").stdout.strip()
    subprocess.run(["docker", "kill", container], check=True, capture_output=True)
    started = time.monotonic()
    done = mlstack(running_dev, "status", "--json")
    assert time.monotonic() - started < 30
    assert done.returncode == 1
    report = {s["service"]: s for s in json.loads(done.stdout)["services"]}
    assert report["redis"]["state"] == "exited"
    assert report["redis"]["exit_code"] == 137
    assert report["redis"]["ok"] is False
    assert report["postgres"]["ok"] is True


def test_prod_profile_healthy_without_database_ports(full_stack):
    done = mlstack(full_stack, "up", "--profile", "prod", "--timeout", "300")
    assert done.returncode == 0, done.stdout + done.stderr
    ports = published(PROJECT)
    assert set(ports) == {"api", "jupyter", "mlflow", "postgres", "qdrant", "redis"}
    assert [b["HostPort"] for b in ports["api"]] and all(
        b["HostPort"] == "18000" for b in ports["api"]
    )
    for service in ("postgres", "redis", "qdrant", "mlflow", "jupyter"):
        assert ports[service] == [], f"{service} publishes {ports[service]} in prod"
    user = exec_in(full_stack, "postgres", "id", "-un", profile="prod").strip()
    assert user == "postgres"


def test_down_volumes_removes_the_data(running_dev):
    assert volumes_of(PROJECT), "the running stack has its named volumes"
    done = mlstack(running_dev, "down", "--volumes", "--yes")
    assert done.returncode == 0, done.stderr
    assert volumes_of(PROJECT) == []


def test_down_volumes_without_yes_refuses_in_a_script(full_stack):
    done = mlstack(full_stack, "down", "--volumes")
    assert done.returncode == 2
    assert "--yes" in done.stderr


# ---- faults -------------------------------------------------------------------------------

BROKEN = """\
name: broken
summary: a service whose health check can never pass
image: broken
images:
  broken: {image}
service:
  healthcheck:
    test: [CMD-SHELL, "echo never healthy; exit 1"]
    interval: 1s
    timeout: 2s
    retries: 2
"""
# Never healthy and never failed within a test: failures in the start period do not count, so
# it stays "starting" for ten minutes (a wait that only a deadline or Ctrl-C ends).
STARTING = """\
name: starting
summary: a service whose health check stays in its start period
image: starting
images:
  starting: {image}
service:
  healthcheck:
    test: [CMD-SHELL, "exit 1"]
    interval: 1s
    timeout: 2s
    retries: 2
    start_period: 600s
"""


@pytest.fixture()
def small_stack(tmp_path, e2e_images):
    created = []

    def make(name, components, ports, *extra):
        root = tmp_path / name
        root.mkdir()
        (root / "stacks").mkdir()
        for fragment, text in (("broken", BROKEN), ("starting", STARTING)):
            (root / "stacks" / f"{fragment}.yaml").write_text(
                text.format(image=e2e_images["redis"])
            )
        init_stack(root, name, components, ports, e2e_images, *extra)
        created.append((root, name))
        return root

    yield make
    for root, name in created:
        destroy(root, name)


def test_unhealthy_service_fails_within_timeout_and_is_named(small_stack):
    root = small_stack("e2ebroken", "redis,broken", {"redis": 26379})
    started = time.monotonic()
    done = mlstack(root, "up", "--timeout", "40")
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert elapsed < 40 + 30
    assert "broken" in done.stderr and "health check fails" in done.stderr
    assert "log lines" in done.stderr and "troubleshoot:" in done.stderr


def test_port_taken_is_reported_before_anything_starts(small_stack):
    root = small_stack("e2eport", "redis", {"redis": 26380})
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 26380))
        holder.listen()
        done = mlstack(root, "up", "--timeout", "60")
    assert done.returncode == 1
    assert "preflight failed, nothing was started" in done.stderr
    assert "26380 (redis) is held by python" in done.stderr
    assert "REDIS_HOST_PORT" in done.stderr
    assert compose(root, "ps", "-a", "-q").stdout.strip() == ""


def test_stopped_engine_gives_one_clear_message(small_stack):
    root = small_stack("e2enoengine", "redis", {"redis": 26381})
    done = mlstack(root, "up", env={"DOCKER_HOST": "unix:///tmp/mlstack-no-engine.sock"})
    assert done.returncode == 1
    assert "the Docker engine is not reachable" in done.stderr
    assert "fix: start it" in done.stderr
    assert "Traceback" not in done.stderr


def test_doctor_json_on_the_real_engine(small_stack):
    root = small_stack("e2edoctor", "redis", {"redis": 26382})
    done = mlstack(root, "doctor", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    checks = {c["id"]: c for c in json.loads(done.stdout)["checks"]}
    assert list(checks) == DOCTOR_CHECKS
    assert all(set(c) == {"id", "status", "found", "fix"} for c in checks.values())
    assert checks["engine"]["status"] == "ok" and "Docker Engine" in checks["engine"]["found"]
    assert checks["compose"]["status"] == "ok"
    assert checks["gpu.driver"]["status"] == "ok"
    assert "no GPU service" in checks["gpu.driver"]["found"]
    assert checks["files"]["status"] == "ok"


def test_gpu_request_without_gpu_runtime_fails_preflight(small_stack):
    # (issue 12: the api uses no GPU, and a GPU stack stops only with gpu.mode: required;
    # optional runs on CPU, tests/e2e/test_machines.py)
    root = small_stack(
        "e2egpu", "jupyter,redis", {"jupyter": 28001, "redis": 26383}, "--gpu", "all"
    )
    spec = root / "mlstack.yaml"
    spec.write_text(spec.read_text().replace("gpu:\n", "gpu:\n  mode: required\n"))
    done = mlstack(root, "up", "--timeout", "60")
    assert done.returncode == 1
    assert "preflight failed, nothing was started" in done.stderr
    assert "gpu.runtime: jupyter ask for a GPU, but Docker has no NVIDIA runtime" in done.stderr
    assert "nvidia-ctk runtime configure" in done.stderr
    assert compose(root, "ps", "-a", "-q").stdout.strip() == ""


def test_ctrl_c_stops_waiting_and_says_what_is_running(small_stack):
    # Was: the stack's `broken` service failed its health check within ~3 s, racing the
    # signal sent "1 s after redis has a container": when it won, `up` had already exited 1.
    # Now the other service stays "starting" (never fails before the deadline), and the
    # signal goes only once `up` has said redis is healthy: nothing left to race.
    root = small_stack("e2ectrlc", "redis,starting", {"redis": 26384})
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlstack", "-C", str(root), "up", "--timeout", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A shell without job control starts background jobs with SIGINT ignored, and Python
        # then never raises KeyboardInterrupt: give `up` the default, as a terminal does.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = pump(proc.stdout)
    try:
        out = read_until(lines, re.compile(r"\bredis\s+healthy$"), timeout=240)
        proc.send_signal(signal.SIGINT)
        out += read_until(lines, None, timeout=60)
        code = proc.wait(timeout=10)
    finally:
        proc.kill()
    assert code == 130, out
    assert "stopped waiting. Running now:" in out
    assert re.search(r"│ redis +│ running +│ healthy", out), out
    assert re.search(r"│ starting +│ running +│ starting", out), out
    assert "mlstack down" in out
    assert out.rstrip().endswith("interrupted"), out


def pump(stream) -> queue.Queue:
    """A queue of the stream's lines, read by a thread; None once it ends."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in iter(stream.readline, ""):
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def read_until(lines: queue.Queue, pattern: re.Pattern | None, timeout: float) -> str:
    """Lines up to the first that matches ``pattern`` (None: to the end); fails after timeout."""
    seen, deadline = "", time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"nothing more after {timeout:.0f}s; so far:\n{seen}") from None
        if line is None:
            assert pattern is None, f"the output ended before {pattern.pattern!r}:\n{seen}"
            return seen
        seen += line
        if pattern is not None and pattern.search(line.rstrip()):
            return seen


@pytest.fixture()
def mlflow_image(full_stack):
    image = f"{PROJECT}-mlflow"
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
        assert compose(full_stack, "build", "mlflow").returncode == 0
    return image


def test_ca_bundle_is_used_for_builds_but_never_stored_in_an_image(mlflow_image):
    inspect = json.loads(
        subprocess.run(
            ["docker", "image", "inspect", mlflow_image], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    assert not any("PIP_CERT" in e for e in inspect["Config"]["Env"])
    history = subprocess.run(
        ["docker", "history", "--no-trunc", mlflow_image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "/run/secrets/pip_ca" in history  # the install step read the secret...
    done = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            mlflow_image,
            "-c",
            "ls -A /run/secrets 2>/dev/null",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout == ""  # ...which left no file in the image (at most an empty mount point)


def test_a_teammates_clone_without_env_comes_up(small_stack):
    """The onboarding path: the repo has every generated file but not .env (git-ignored)."""
    root = small_stack("e2eclone", "redis,postgres", {"redis": 26385, "postgres": 25433})
    (root / ".env").unlink()
    plain = compose(root, "config", "-q")  # plain compose names what is missing
    assert plain.returncode != 0 and "run mlstack render to create .env" in plain.stderr
    done = mlstack(root, "up", "--timeout", "120")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "create            .env" in done.stdout
    assert (root / ".env").stat().st_mode & 0o777 == 0o600
    assert "REDIS_PASSWORD=" in (root / ".env").read_text()
