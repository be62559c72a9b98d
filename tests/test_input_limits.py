"""Bounded input: files, YAML documents, .env, caches and templates, one hostile case at a time.

Each refusal is an InputError (exit 2) naming the file and the field; none is a MemoryError,
a RecursionError, a hang or an "internal error".
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from mlstack.errors import ExitCode, InputError
from mlstack.render.compose_model import build_compose, image_defaults
from mlstack.render.envfile import check_env, read_env
from mlstack.render.published import published_ports
from mlstack.run.masking import mask, secret_values
from mlstack.spec import cache, limits
from mlstack.spec.catalog import fragment_from_data, load_catalog, load_rules
from mlstack.spec.interpolation import interpolation_problem
from mlstack.spec.placeholders import IMAGE_PLACEHOLDERS, check_placeholders, fill
from mlstack.spec.schema import validate
from mlstack.spec.stack_spec import spec_from_document
from mlstack.spec.yamlio import load_file, load_text, to_plain

pytestmark = pytest.mark.usefixtures("cpu_only_host")

CATALOG = load_catalog()
SHIPPED = {name: load_file(Path(frag.source)) for name, frag in CATALOG.items()}
BOMB = "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9 if i else ['lol'] * 9)}]\n" for i in range(9)
)


def refused(text: str, source: str = "mlstack.yaml") -> InputError:
    with pytest.raises(InputError) as caught:
        load_text(text, source)
    error = caught.value
    assert error.exit_code == ExitCode.BAD_INPUT
    assert error.file == source and error.field and error.problem and error.fix
    assert "\n" not in error.message, error.message
    return error


# --- files -----------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "mlstack.yaml"
    with big.open("wb") as handle:  # sparse: 50 MB that costs nothing to make
        handle.truncate(50 * 1024 * 1024)
    start = time.perf_counter()
    with pytest.raises(InputError) as caught:
        limits.read_bounded(big, "mlstack.yaml")
    assert time.perf_counter() - start < 0.5
    assert (caught.value.file, caught.value.field) == ("mlstack.yaml", "(file size)")
    assert "52,428,800 bytes" in caught.value.problem
    assert "1,048,576" in caught.value.problem


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / ".env"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_env(tmp_path)


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom"])
def test_a_link_to_a_device_is_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "mlstack.yaml").symlink_to(target)
    with pytest.raises(InputError, match="outside the project"):
        limits.read_bounded(tmp_path / "mlstack.yaml", "mlstack.yaml", root=tmp_path)
    with pytest.raises(InputError, match="not a regular file"):
        limits.read_bounded(tmp_path / "mlstack.yaml", "mlstack.yaml")


def test_env_as_a_link_is_refused_outside_and_inside(tmp_path: Path) -> None:
    # mlstack writes .env (new secrets), and never through a link: reading one would only defer
    # the refusal to the write, so a link is refused when it is read, wherever it points.
    outside = tmp_path / "secret.txt"
    outside.write_text("ssh-key")
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").symlink_to(outside)
    with pytest.raises(InputError) as caught:
        read_env(project)
    assert caught.value.file == ".env" and "is a symbolic link" in caught.value.problem
    (project / "real.env").write_text("A=1\n")
    (project / ".env").unlink()
    (project / ".env").symlink_to("real.env")
    with pytest.raises(InputError, match="is a symbolic link"):
        read_env(project)


def test_a_directory_and_non_utf8_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(InputError, match="not a regular file"):
        limits.read_bounded(tmp_path / "dir.yaml", "stacks/dir.yaml")
    (tmp_path / "latin.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(InputError) as caught:
        limits.read_bounded(tmp_path / "latin.yaml", "stacks/latin.yaml")
    assert (caught.value.field, caught.value.problem) == ("byte 9", "is not UTF-8 text")


def test_a_missing_file_is_left_to_the_caller(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        limits.read_bounded(tmp_path / "nope", "nope")
    assert read_env(tmp_path) is None


# --- YAML documents ----------------------------------------------------------------------------


def test_the_alias_bomb_is_refused_at_once() -> None:
    assert len(BOMB) < 700
    start = time.perf_counter()
    error = refused(BOMB)
    assert time.perf_counter() - start < 0.5
    assert error.field == "l4"
    assert "aliases expand to more than 10,000 values" in error.problem


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        pytest.param("[" * 100_000, "line 1", "nested deeper than 32 levels", id="deep-flow"),
        pytest.param(
            "".join(" " * i + "a:\n" for i in range(40)) + " " * 40 + "b",
            "line 32",
            "nested deeper than 32 levels",
            id="deep-block",
        ),
        pytest.param(
            "a: &a " + "[" * 25 + "1" + "]" * 25 + "\nb: " + "[" * 10 + "*a" + "]" * 10,
            "b" + "[0]" * 10,
            "nested deeper than 32 levels",
            id="deep-through-an-alias",
        ),
        pytest.param("[" + "1," * 20_000 + "1]", "line 1", "more than 10,000 values", id="nodes"),
        pytest.param("a: &a [*a]", "a[0]", "refers to its own anchor", id="cycle"),
        pytest.param("a: &a {b: *a}", "a.b", "refers to its own anchor", id="map-cycle"),
        pytest.param("port: " + "9" * 5000, "line 1", "5,000 digits", id="huge-int"),
        pytest.param("port: 0x" + "f" * 100, "line 1", "102 digits", id="huge-hex"),
        pytest.param("a: !!python/object:os.system x", "line 1", "!!python/object", id="tag"),
        pytest.param("a: !!binary aGk=", "line 1", "!!binary", id="binary"),
        pytest.param("a: !!set {x}", "line 1", "!!set", id="set"),
        pytest.param("a: !custom 1", "line 1", "!custom", id="custom-tag"),
        pytest.param("a: 2024-13-45", "line 1", "cannot be read: month must be", id="bad-date"),
        pytest.param("a: !!float abc", "line 1", "cannot be read", id="bad-float"),
        pytest.param("a: 1\nb: x\x07y", "line 2", "U+0007 is not allowed", id="control-char"),
        pytest.param("a: 1\na: 2", "line 2", "duplicate key", id="duplicate-key"),
        pytest.param("a: 1\n---\nb: 2", "line 2", "another document", id="two-documents"),
        pytest.param("? [a, [b]]\n: 1", "(document)", "cannot be read", id="unhashable-key"),
    ],
)
def test_hostile_yaml_is_one_input_error(text: str, field: str, problem: str) -> None:
    start = time.perf_counter()
    error = refused(text)
    assert time.perf_counter() - start < 2
    assert error.field == field
    assert problem in error.problem


def test_worst_case_text_of_the_maximum_size_parses_in_bounded_time() -> None:
    n = limits.MAX_FILE_BYTES - 10
    for text in ("#x\n" * (n // 3), "a: " + "x" * n, "{" * n, "- &a x\n" + "- *a\n" * (n // 5)):
        start = time.perf_counter()
        try:
            load_text(text, "mlstack.yaml")
        except InputError:
            pass
        assert time.perf_counter() - start < 30  # ~2 s alone: a bound against minutes


def test_anchors_merges_and_a_few_aliases_are_fine() -> None:
    text = "x-common: &common {restart: always}\nservice:\n  <<: *common\n  user: app\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a repeated anchor is legal YAML: no warning printed
        assert to_plain(load_text(text + "y: &common 1\n", "f.yaml"))["service"] == {
            "user": "app",
            "restart": "always",
        }


def test_text_beyond_the_limit_is_refused_before_parsing() -> None:
    error = refused("a" * (limits.MAX_FILE_BYTES + 1))
    assert error.field == "(file size)"


def test_to_plain_refuses_a_structure_that_contains_itself() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested deeper"):
        to_plain(loop)


# --- caches ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "exact"),
    [
        ({"a": [1, 1.0, "1", True, None]}, True),
        ({"a": datetime.date(2024, 1, 1)}, False),
        ({1: "int key"}, False),
        ({"a": (1, 2)}, False),
        ({"a": {1, 2}}, False),
        (b"bytes", False),
    ],
)
def test_only_json_exact_values_are_cached(value: Any, exact: bool) -> None:
    assert cache.is_json_exact(value) is exact
    if exact:
        assert json.loads(json.dumps(value)) == value


def test_a_yaml_date_and_its_string_get_their_own_verdicts() -> None:
    """Was: the validation key was json.dumps(default=str): the date took the string's verdict."""
    as_string = {"name": "2024-01-01", "components": ["api"]}
    as_date = {"name": datetime.date(2024, 1, 1), "components": ["api"]}
    for _ in range(2):  # the second round reads the cache
        validate(as_string, "spec", "mlstack.yaml", "fix")
        with pytest.raises(InputError) as caught:
            validate(as_date, "spec", "mlstack.yaml", "fix")
        assert caught.value.field == "name"
        assert "datetime.date(2024, 1, 1)" in caught.value.problem


def test_the_parse_cache_returns_what_a_fresh_parse_does(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text("a: 2024-01-01\nb: '2024-01-01'\nc: 1.0\nd: 1\ne: yes\nf: ~\ng: [1, '1']\n")
    cached = [load_file(path) for _ in range(2)]
    os.environ["MLSTACK_NO_CACHE"] = "1"
    try:
        fresh = load_file(path)
    finally:
        del os.environ["MLSTACK_NO_CACHE"]
    for doc in cached:
        assert doc == fresh
        assert [type(v) for v in doc.values()] == [type(v) for v in fresh.values()]
        assert [type(v) for v in doc["g"]] == [int, str]
    assert type(fresh["a"]) is datetime.date and type(fresh["c"]) is float


def test_a_cached_document_cannot_be_changed_by_its_reader(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text("a: [1]\n")
    load_file(path)["a"].append(2)
    assert load_file(path) == {"a": [1]}


# --- the spec and fragments --------------------------------------------------------------------


def spec_error(**change: Any) -> InputError:
    doc = {"name": "demo", "components": ["api", "redis", "trainer"], **change}
    with pytest.raises(InputError) as caught:
        spec_from_document(doc, CATALOG)
    assert caught.value.file == "mlstack.yaml" and caught.value.exit_code == 2
    return caught.value


@pytest.mark.parametrize(
    ("change", "field", "phrase"),
    [
        ({"ports": {"api": 8080.0}}, "ports.api", "got 8080.0"),
        ({"ports": {"api": 0}}, "ports.api", "from 1 to 65535"),
        ({"ports": {"api": 70000}}, "ports.api", "from 1 to 65535"),
        ({"ports": {"api": True}}, "ports.api", "got True"),
        ({"gpu": {"devices": 10**9}}, "gpu.devices", "from 1 to 64 (no one host has more"),
        ({"gpu": {"devices": 2.0}}, "gpu.devices", "got 2.0"),
        ({"gpu": {"devices": ["0", 0]}}, "gpu.devices", "device 0 is listed twice"),
        ({"gpu": {"services": {"api": [1, "1"]}}}, "gpu.services.api", "listed twice"),
        ({"gpu": {"services": {"trainer": 65}}}, "gpu.services.trainer", "from 1 to 64"),
        ({"shm_size": "0g"}, "shm_size", "0 bytes"),
        ({"shm_size": "5000g"}, "shm_size", "more than 4096g"),
        ({"shm_size": "-1g"}, "shm_size", "a size such as"),
        ({"shm_size": "9" * 400 + "g"}, "shm_size", "a size such as"),
        ({"name": "demo;rm -rf"}, "name", "compose project name"),
        ({"name": "a" * 64}, "name", "compose project name"),
        ({"components": ["api", "x" * 40]}, "components[1]", "at most 31"),
        ({"images": {"redis": "redis:8 ${HOME}"}}, "images.redis", "no spaces, no $"),
        ({"images": {"redis": "r" * 300}}, "images.redis", "image reference"),
        ({"build": {"ca_bundle": "ca\n.pem"}}, "build.ca_bundle", "no control characters"),
        ({"build": {"pip_index_url": "https://x/$(id)"}}, "build.pip_index_url", "percent-encoded"),
    ],
)
def test_spec_values_that_would_render_invalid_compose_are_refused(
    change: dict, field: str, phrase: str
) -> None:
    error = spec_error(**change)
    assert error.field == field, error
    assert phrase in error.problem, error


def fragment_error(name: str = "api", **change: Any) -> InputError:
    data = {**SHIPPED[name], **change}
    with pytest.raises(InputError) as caught:
        fragment_from_data(data, f"stacks/{name}.yaml")
    assert caught.value.file == f"stacks/{name}.yaml"
    return caught.value


@pytest.mark.parametrize(
    ("change", "field", "phrase"),
    [
        ({"port": 8000.0}, "port", "got 8000.0"),
        ({"images": {"python": "python:{python.__class__}"}}, "images.python", "a brace"),
        ({"images": {"python": "python:{python}{0}"}}, "images.python", "a brace"),
        ({"images": {"python": "{os}:1"}}, "images.python", "unknown placeholder {os}"),
        ({"url": "http://127.0.0.1:{port.real}/"}, "url", "a brace"),
        ({"url": "http://127.0.0.1:{host}/"}, "url", "unknown placeholder {host}"),
        ({"summary": "\x1b]0;pwned\x07 api"}, "summary", "one line"),
        ({"volumes": {"data": "/data:rw,z"}}, "volumes.data", "absolute container path"),
        ({"secrets": ["lower"]}, "secrets[0]", "environment variable name"),
        ({"service": {"environment": "x"}}, "service.environment", "a mapping or a list"),
        ({"service": {"volumes": {"a": 1}}}, "service.volumes", "not of type 'array'"),
        ({"prod": {"deploy": "x"}}, "prod.deploy", "not of type"),
        ({"service": {"image": "evil"}}, "service.image", "mlstack sets this key itself"),
        (
            {"service": {"healthcheck": {"test": ["python", "-c", "1"]}}},
            "service.healthcheck.test",
            "a list starting with CMD",
        ),
        (
            {"service": {"healthcheck": {"retries": "3"}}},
            "service.healthcheck.retries",
            "a whole number",
        ),
        (
            {"dev": {"healthcheck": {"interval": "2 s"}}},
            "dev.healthcheck.interval",
            "a duration such as",
        ),
        (
            {"service": {"environment": {"URL": "${HOST:=localhost}"}}},
            "service.environment.URL",
            "${HOST:=localhost} is not a variable",
        ),
        ({"provides": {"URL": "http://${HOST"}}, "provides.URL", "${ without its }"),
        ({"prod": {"read_only": "maybe"}}, "prod.read_only", "true or false (or ${VAR})"),
        ({"service": {"pids_limit": "lots"}}, "service.pids_limit", "a number (or ${VAR})"),
    ],
)
def test_fragment_values_that_would_render_invalid_compose_are_refused(
    change: dict, field: str, phrase: str
) -> None:
    error = fragment_error(**change)
    assert error.field == field, error
    assert phrase in error.problem, error


def test_placeholders_are_filled_from_an_allow_list_only() -> None:
    check_placeholders("python:{python}-slim", IMAGE_PLACEHOLDERS, "f", "images.python")
    assert fill("python:{python}-slim", {"python": "3.12"}) == "python:3.12-slim"
    with pytest.raises(InputError):
        check_placeholders("{python!r}", IMAGE_PLACEHOLDERS, "f", "images.python")
    spec = spec_from_document({"name": "demo", "components": ["api"]}, CATALOG)
    assert image_defaults(spec, CATALOG)["python"] == "python:3.12-slim"


def test_a_fragment_environment_list_is_merged_with_what_mlstack_adds() -> None:
    redis = {**SHIPPED["redis"], "service": {**SHIPPED["redis"]["service"]}}
    redis["service"]["environment"] = ["A=1", "B"]
    catalog = {**CATALOG, "redis": fragment_from_data(redis, "stacks/redis.yaml")}
    spec = spec_from_document({"name": "demo", "components": ["redis"]}, catalog)
    model = build_compose(spec, catalog, load_rules("dev"), load_rules("prod"))
    assert model.base["services"]["redis"]["environment"] == {"A": "1", "B": None}


@pytest.mark.parametrize("value", ["abc", "0", "70000", "9" * 5000, "-1", "\uff18\uff10"])
def test_a_bad_host_port_in_env_names_the_variable(tmp_path: Path, value: str) -> None:
    (tmp_path / ".env").write_text(f"API_HOST_PORT={value}\n")
    spec = spec_from_document({"name": "demo", "components": ["api"]}, CATALOG)
    with pytest.raises(InputError) as caught:
        published_ports(tmp_path, spec, CATALOG, "dev")
    assert (caught.value.file, caught.value.field) == (".env", "API_HOST_PORT")


INTERPOLATION = {  # what Compose 2.x makes of each (checked against it below)
    "plain": True,
    "$${ESCAPED}": True,
    "$NAME and ${NAME}": True,
    "${A:-${B:-b}}": True,
    "${A:?must be set}": True,
    "${A-{x}}": True,
    "cost $5, a $ b, x$": True,
    "${A:=x}": False,
    "${A": False,
    "${}": False,
    "${1A}": False,
    "${A{B}": False,
}


@pytest.mark.judge
@pytest.mark.parametrize(("text", "valid"), list(INTERPOLATION.items()))
def test_interpolation_is_read_the_way_compose_reads_it(
    tmp_path: Path, require: Any, text: str, valid: bool
) -> None:
    assert (interpolation_problem(text) is None) is valid
    require("docker compose")
    compose = tmp_path / "compose.yaml"
    compose.write_text(json.dumps({"services": {"s": {"image": "x", "environment": {"X": text}}}}))
    done = subprocess.run(
        ["docker", "compose", "-f", str(compose), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "A": "a", "B": "b", "NAME": "n"},
    )
    assert (done.returncode == 0) is valid, done.stderr


ENV_FILES = {  # what Compose 2.x makes of each .env (checked against it below)
    'A=1\nY="x\nB=2\n': False,
    "Y='x\nB=2\n": False,
    'X="a\\"\n': False,
    'Y="multi\nline"\n': True,
    "Y='multi\nline'\n": True,
    'X="a\\"b"\n': True,
    '# Y="x\n': True,
    'Y=a"b\n': True,
}


@pytest.mark.judge
@pytest.mark.parametrize(("text", "valid"), list(ENV_FILES.items()))
def test_env_quotes_are_read_the_way_compose_reads_them(
    tmp_path: Path, require: Any, text: str, valid: bool
) -> None:
    if valid:
        check_env(text)
    else:
        with pytest.raises(InputError) as caught:
            check_env(text)
        assert caught.value.file == ".env" and caught.value.field in ("X", "Y")
    require("docker compose")
    (tmp_path / ".env").write_text(text)
    (tmp_path / "compose.yaml").write_text('{"services": {"s": {"image": "x"}}}')
    done = subprocess.run(
        ["docker", "compose", "--project-directory", str(tmp_path), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode == 0) is valid, done.stderr


# --- masking -----------------------------------------------------------------------------------


def test_every_env_value_and_secret_looking_text_is_masked() -> None:
    env = {"POSTGRES_PASSWORD": "Zx9-long-secret", "SHORT": "pw", "API_HOST_PORT": "8080"}
    text = (
        "invalid hostPort: Zx9-long-secret; user pw logged in; pwned; port 8080; "
        "postgresql://app:hunter2@db:5432/app; PASSWORD=letmein token: abc123"
    )
    masked = mask(text, secret_values(env))
    assert masked == (
        "invalid hostPort: ***; user *** logged in; pwned; port 8080; "
        "postgresql://app:***@db:5432/app; PASSWORD=*** token: ***"
    )


def test_collecting_the_tests_does_not_write_the_real_cache(tmp_path: Path) -> None:
    """Was: test modules load the catalog at import, before any fixture: into ~/.cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "MLSTACK_NO_CACHE")}
    tests = Path(__file__).resolve().parent
    modules = [str(tests / "test_spec.py"), str(tests / "test_compose.py")]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-qp", "no:cacheprovider", *modules],
        capture_output=True,
        text=True,
        check=False,
        env={**env, "HOME": str(tmp_path)},
        cwd=tests.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (tmp_path / ".cache").exists()
    assert cache.cache_dir().is_relative_to(Path(os.environ["XDG_CACHE_HOME"]))
