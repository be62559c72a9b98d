"""Health rules with scripted container states and an injected clock (no engine)."""

from __future__ import annotations

import socket
import threading

import pytest

from mlstack.run.engine import parse_ps
from mlstack.run.health import verdict, wait_for
from mlstack.run.hints import hints_for
from mlstack.run.inside_check import health_command
from mlstack.run.probes import Probe, run_probe
from mlstack.run.records import ServiceState


def state(service, st="running", health="healthy", code=0):
    return ServiceState(service, f"p-{service}-1", st, health, code)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.mark.parametrize(
    ("st", "expected"),
    [
        (None, "wait"),
        (state("a", "created", ""), "wait"),
        (state("a", "running", "starting"), "wait"),
        (state("a", "restarting", ""), "wait"),
        (state("a", "running", "healthy"), "ready"),
        (state("a", "running", ""), "ready"),
        (state("a", "running", "unhealthy"), "fail"),
        (state("a", "exited", "", 1), "fail"),
        (state("a", "exited", "", 0), "fail"),
        (state("a", "dead", ""), "fail"),
    ],
)
def test_verdict_follows_compose_rules(st, expected):
    assert verdict(st) == expected


def scripted(*frames):
    """read_states returning each frame in turn, then the last one forever."""
    frames = list(frames)

    def read():
        return frames.pop(0) if len(frames) > 1 else frames[0]

    return read


def test_all_healthy_reports_time_to_healthy():
    clock = Clock()
    read = scripted(
        {"db": state("db", health="starting")},
        {"db": state("db", health="starting")},
        {"db": state("db")},
    )
    [report] = wait_for(
        ["db"], read, {}, {"db": "x://db"}, timeout=10, clock=clock, sleep=clock.sleep
    )
    assert report.ok and report.health == "healthy" and report.url == "x://db"
    assert report.seconds == pytest.approx(1.0)


def test_unhealthy_fails_at_once_without_waiting_for_the_deadline():
    clock = Clock()
    reports = wait_for(
        ["db", "cache"],
        lambda: {"db": state("db", health="unhealthy"), "cache": state("cache")},
        {},
        {},
        timeout=300,
        clock=clock,
        sleep=clock.sleep,
    )
    assert clock.now == 0
    assert [r.ok for r in reports] == [False, True]
    assert "health check fails" in reports[0].problem


def test_exited_container_names_its_exit_code():
    [report] = wait_for(
        ["job"],
        lambda: {"job": state("job", "exited", "", 3)},
        {},
        {},
        timeout=5,
        clock=Clock(),
        sleep=lambda _: None,
    )
    assert report.problem == "container exited (exit code 3)"
    assert report.exit_code == 3


def test_deadline_names_what_was_seen_last():
    clock = Clock()
    [report] = wait_for(
        ["slow"],
        lambda: {"slow": state("slow", health="starting")},
        {},
        {},
        timeout=3,
        clock=clock,
        sleep=clock.sleep,
    )
    assert not report.ok
    assert report.problem == "not healthy after 3s: still starting"
    assert clock.now == pytest.approx(3.0)


def test_nothing_is_concluded_before_compose_up_returns():
    """Stale 'healthy' containers about to be recreated must not count."""
    clock = Clock()
    settled = iter([False, False, True])
    [report] = wait_for(
        ["db"],
        lambda: {"db": state("db")},
        {},
        {},
        timeout=10,
        settled=lambda: next(settled),
        clock=clock,
        sleep=clock.sleep,
    )
    assert report.ok
    assert clock.now == pytest.approx(1.0)


def test_compose_failure_stops_the_wait_and_is_reported():
    [db, api] = wait_for(
        ["db", "api"],
        lambda: {"db": state("db", health="unhealthy"), "api": state("api", "created", "")},
        {},
        {},
        timeout=100,
        settled=lambda: "dependency failed to start",
        clock=Clock(),
        sleep=lambda _: None,
    )
    assert "health check fails" in db.problem
    assert api.problem == "not started: dependency failed to start"


def test_host_probe_must_answer_before_a_service_counts():
    clock = Clock()
    probe = Probe("tcp", "127.0.0.1", free_port())
    [report] = wait_for(
        ["api"],
        lambda: {"api": state("api")},
        {"api": probe},
        {},
        timeout=2,
        clock=clock,
        sleep=clock.sleep,
    )
    assert not report.ok
    assert f"127.0.0.1:{probe.port}" in report.problem


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_once(reply: bytes):
    """A one-connection TCP server on loopback that answers every read with ``reply``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def run():
        conn, _ = server.accept()
        with conn:
            while conn.recv(1024):
                conn.sendall(reply)
        server.close()

    threading.Thread(target=run, daemon=True).start()
    return server.getsockname()[1]


def test_redis_probe_sends_auth_then_ping():
    port = serve_once(b"+OK\r\n")
    assert (
        run_probe(Probe("redis", "127.0.0.1", port, secret="pw"))
        == f"redis://127.0.0.1:{port}: +OK"
    )  # a real server answers PING with +PONG


def test_postgres_probe_accepts_an_auth_request():
    port = serve_once(b"R\x00\x00\x00\x0c\x00\x00\x00\x0a")
    assert run_probe(Probe("postgres", "127.0.0.1", port)) is None


def test_postgres_probe_reports_a_server_starting_up():
    port = serve_once(
        b"E\x00\x00\x00\x30SFATAL\x00C57P03\x00Mthe database system is starting up\x00\x00"
    )
    assert "starting up" in run_probe(Probe("postgres", "127.0.0.1", port))


def test_probe_of_a_closed_port_says_so():
    assert "127.0.0.1" in run_probe(Probe("http", "127.0.0.1", free_port(), "/ready"))


@pytest.mark.parametrize(
    ("logs", "code", "oom", "needle"),
    [
        ("", 137, False, "exit code 137"),
        ("", 0, True, "out-of-memory"),
        ("ERROR: Unexpected bus error encountered in worker. Bus error", 1, False, "shm_size"),
        (
            "RuntimeError: CUDA driver version is insufficient for CUDA runtime version",
            1,
            False,
            "mlstack doctor",
        ),
        ("mkdir: cannot create directory '/data': Permission denied", 1, False, "ownership"),
        (
            "403 Invalid Host header - possible DNS rebinding attack detected",
            1,
            False,
            "MLFLOW_SERVER_ALLOWED_HOSTS",
        ),
        ('FATAL:  password authentication failed for user "app"', 1, False, "restore the old"),
        (
            "Error starting userland proxy: listen tcp4 0.0.0.0:5432: bind: address already in use",
            1,
            False,
            "_HOST_PORT",
        ),
    ],
)
def test_hints_recognise_well_known_causes(logs, code, oom, needle):
    assert any(needle in hint for hint in hints_for(logs, code, oom))


def test_no_hint_for_unknown_logs():
    assert hints_for("all fine", 1, False) == []


def test_parse_ps_accepts_both_compose_formats():
    line = (
        '{"Service":"redis","Name":"p-redis-1","State":"running","Health":"healthy","ExitCode":0}'
    )
    assert (
        parse_ps(line)
        == parse_ps(f"[{line}]")
        == [ServiceState("redis", "p-redis-1", "running", "healthy", 0)]
    )
    assert parse_ps("") == []


def test_docker_ps_lines_read_as_compose_ps_states():
    from mlstack.run.container_states import parse_states

    text = (
        "api\tp-api-1\trunning\tUp 3 seconds (health: starting)\n"
        "redis\tp-redis-1\trunning\tUp 2 minutes (healthy)\n"
        "mlflow\tp-mlflow-1\texited\tExited (137) 5 seconds ago\n"
        "qdrant\tp-qdrant-1\trunning\tUp 1 minute (unhealthy)\n"
    )
    states = parse_states(text)
    assert (states["api"].state, states["api"].health) == ("running", "starting")
    assert (states["redis"].health, states["redis"].exit_code) == ("healthy", 0)
    assert (states["mlflow"].state, states["mlflow"].exit_code) == ("exited", 137)
    assert states["qdrant"].health == "unhealthy"
    assert states["api"].container == "p-api-1"


def test_project_name_from_the_environment_then_compose_yaml(tmp_path):
    from mlstack.run.container_states import project_name

    assert project_name(tmp_path, {}) is None
    (tmp_path / "compose.yaml").write_text("# generated\nname: shop\nservices: {}\n")
    assert project_name(tmp_path, {}) == "shop"
    assert project_name(tmp_path, {"COMPOSE_PROJECT_NAME": "other"}) == "other"


def listening_port():
    """A loopback port that accepts connections for the rest of the test run (a tcp probe)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server, server.getsockname()[1]


def test_a_starting_service_that_answers_its_host_probe_is_healthy_at_once():
    """Docker's first check of a steady service is up to 30 s away: up does not wait for it."""
    server, port = listening_port()
    clock = Clock()
    with server:
        [report] = wait_for(
            ["redis"],
            lambda: {"redis": state("redis", health="starting")},
            {"redis": Probe("tcp", "127.0.0.1", port)},
            {},
            timeout=30,
            clock=clock,
            sleep=clock.sleep,
        )
    assert report.ok and report.health == "healthy"
    assert clock.now == 0


def test_a_starting_service_without_a_probe_runs_its_own_check_until_it_passes():
    clock = Clock()
    answers = ["its health command exits 1", "its health command exits 1", None]
    asked = []

    def inside(container):
        asked.append(container)
        return answers.pop(0)

    [report] = wait_for(
        ["qdrant"],
        lambda: {"qdrant": state("qdrant", health="starting")},
        {},
        {},
        timeout=30,
        clock=clock,
        sleep=clock.sleep,
        check_inside=inside,
    )
    assert report.ok and report.health == "healthy"
    assert asked == ["p-qdrant-1"] * 3
    assert clock.now == pytest.approx(1.0)


def test_a_failing_inside_check_is_named_at_the_deadline():
    clock = Clock()
    [report] = wait_for(
        ["qdrant"],
        lambda: {"qdrant": state("qdrant", health="starting")},
        {},
        {},
        timeout=2,
        clock=clock,
        sleep=clock.sleep,
        check_inside=lambda _: "its health command exits 7",
    )
    assert not report.ok
    assert report.problem == "not healthy after 2s: its health command exits 7"


def test_a_created_container_is_never_checked_inside():
    clock = Clock()
    asked = []
    [report] = wait_for(
        ["qdrant"],
        lambda: {"qdrant": state("qdrant", "created", "")},
        {},
        {},
        timeout=1,
        clock=clock,
        sleep=clock.sleep,
        check_inside=lambda c: asked.append(c),
    )
    assert not report.ok and asked == []


@pytest.mark.parametrize(
    ("test", "argv"),
    [
        (["CMD-SHELL", "pg_isready -h 127.0.0.1"], ["/bin/sh", "-c", "pg_isready -h 127.0.0.1"]),
        (["CMD", "redis-cli", "ping"], ["redis-cli", "ping"]),
        (["NONE"], None),
        ([], None),
        (["CMD-SHELL"], None),
    ],
)
def test_health_command_follows_dockers_test_forms(test, argv):
    assert health_command(test) == argv
