"""mlstack.yaml and fragment validation: every bad input, one at a time.

Each case asserts the error is an InputError (exit code 2), the exact ``file: field:`` prefix
of its message, and that the message ends with a fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import shipped_catalog

from mlstack.errors import ExitCode, InputError
from mlstack.spec.catalog import load_catalog
from mlstack.spec.stack_spec import load_spec, spec_from_document

pytestmark = pytest.mark.usefixtures("cpu_only_host")

BASE = {"name": "demo", "components": ["api", "redis"]}


def rejected(doc: dict[str, Any], catalog: dict | None = None) -> InputError:
    """The InputError ``doc`` raises; fails the test if it raises nothing."""
    with pytest.raises(InputError) as caught:
        spec_from_document(doc, catalog or shipped_catalog())
    return caught.value


def assert_names(error: InputError, source: str, field: str, *phrases: str) -> None:
    message = str(error)
    assert error.exit_code == ExitCode.BAD_INPUT == 2
    assert message.startswith(f"{source}: {field}: "), message
    assert (error.source, error.field) == (source, field)
    for phrase in phrases:
        assert phrase in message, message
    assert "\n  fix: " in message, f"no fix in: {message}"


def write_fragment(root: Path, filename: str, text: str) -> None:
    (root / "stacks").mkdir(parents=True, exist_ok=True)
    (root / "stacks" / filename).write_text(text)


def test_a_good_document_is_accepted() -> None:
    spec = spec_from_document(dict(BASE), shipped_catalog())
    assert spec.components == ("api", "redis")
    assert spec.ports == {"api": 8000, "redis": 6379}


@pytest.mark.parametrize(
    ("change", "field", "phrases"),
    [
        pytest.param(
            {"components": ["api", "nope"]},
            "components[1]",
            ["unknown component 'nope'", "`mlstack components`"],
            id="unknown-component",
        ),
        pytest.param(
            {"shm_size": "8x"}, "shm_size", ["expected a size", "got '8x'"], id="shm-size-8x"
        ),
        pytest.param({"gpu": {"devices": -1}}, "gpu.devices", ["got -1"], id="gpu-devices--1"),
        pytest.param(
            {"gpu": {"devices": "some"}}, "gpu.devices", ["got 'some'"], id="gpu-devices-some"
        ),
        pytest.param({"gpu": {"devices": 0}}, "gpu.devices", ["got 0"], id="gpu-devices-0"),
        pytest.param(
            {"gpu": {"devices": "all", "services": ["redis"]}},
            "gpu.services.redis",
            ["redis is not a GPU-capable service", "choose among: none (add jupyter or trainer)"],
            id="gpu-service-not-capable",
        ),
        pytest.param(
            {"gpu": {"services": {"api": -1}}},
            "gpu.services.api",
            ["got -1"],
            id="gpu-per-service-devices--1",
        ),
        pytest.param(
            {"ports": {"api": 7000, "redis": 7000}},
            "ports.redis",
            ["host port 7000 is already used by api"],
            id="two-explicit-ports-clash",
        ),
        pytest.param(
            {"ports": {"qdrant": 6333}},
            "ports.qdrant",
            ["qdrant publishes no port in this stack"],
            id="port-of-absent-component",
        ),
        pytest.param(
            {"ports": {"api": 70000}},
            "ports.api",
            ["host port from 1 to 65535"],
            id="port-out-of-range",
        ),
        pytest.param(
            {"images": {"nope": "x:1"}},
            "images.nope",
            ["unknown image slot 'nope'", "use one of:"],
            id="unknown-image-slot",
        ),
        pytest.param(
            {"cuda": "12"}, "cuda", ['a CUDA version such as "12.8.1"', "got '12'"], id="cuda-12"
        ),
        pytest.param(
            {"name": "My Project"},
            "name",
            ["a compose project name", "got 'My Project'"],
            id="name-my-project",
        ),
        pytest.param({"python": "3"}, "python", ["got '3'"], id="python-3"),
    ],
)
def test_bad_spec_names_the_field(change: dict[str, Any], field: str, phrases: list[str]) -> None:
    assert_names(rejected({**BASE, **change}), "mlstack.yaml", field, *phrases)


def test_port_clash_names_the_port_the_user_wrote() -> None:
    # Was: spec._ports (mlstack/spec.py, the `seen` loop) checks ports in component order, so
    # `ports: {api: 6379}` with redis in the stack is reported as `ports.redis: host port 6379
    # is already used by api`: it points at a key that is not in the file. The field the user
    # wrote is ports.api; fix: check the components with an explicit port last, so the clash is
    # blamed on (and the fix suggests moving) the port the user set.
    error = rejected({**BASE, "ports": {"api": 6379}})
    assert_names(error, "mlstack.yaml", "ports.api", "host port 6379 is already used by redis")


def test_gpu_device_ids_must_not_be_negative() -> None:
    # Was: mlstack/schemas/spec.schema.json $defs.devices: list items are
    # {"type": ["string", "integer"], "pattern": ...}; `pattern` only applies to strings, so
    # `devices: [-1]` passes and compose gets device_ids: ["-1"]. Fix: add "minimum": 0 to
    # the items (the scalar -1 is already refused).
    error = rejected({**BASE, "gpu": {"devices": [-1]}})
    assert_names(error, "mlstack.yaml", "gpu.devices", "got [-1]")


@pytest.mark.parametrize("cuda", ["12.7", "12.0.1", "14.0"])
def test_cuda_without_image_or_torch_wheel_is_refused(cuda: str) -> None:
    # Was: spec._cuda (mlstack/spec.py) only checks that the version parses. 12.7 was never
    # released (FROM nvidia/cuda:12.7.0-cudnn-runtime-ubuntu24.04 does not exist); 12.0.1 and
    # 14.0 have no PyTorch wheel variant, so `render` of a GPU trainer dies with an internal
    # error (ValueError from cuda.torch_wheel_index, exit 1). Fix: in _cuda, also require the
    # version in cuda.CUDA_DRIVER_TABLE and, when the trainer gets a GPU, call
    # torch_wheel_index(value), turning ValueError into InputError(source, "cuda", ...).
    doc = {"name": "demo", "components": ["trainer"], "gpu": {"devices": "all"}, "cuda": cuda}
    assert_names(rejected(doc), "mlstack.yaml", "cuda")


def test_component_missing_what_it_requires(tmp_path: Path) -> None:
    write_fragment(
        tmp_path,
        "needs.yaml",
        """\
name: needs
summary: a service that needs postgres
image: needs
images:
  needs: busybox:1.37
requires: [postgres]
service:
  command: [sleep, infinity]
""",
    )
    catalog = load_catalog(tmp_path)
    error = rejected({"name": "demo", "components": ["needs"]}, catalog)
    assert_names(
        error, "mlstack.yaml", "components", "needs requires postgres", "`mlstack add postgres`"
    )
    fixed = spec_from_document({"name": "demo", "components": ["needs", "postgres"]}, catalog)
    assert set(fixed.components) == {"needs", "postgres"}


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "mlstack.yaml").write_text(
        "name: demo\n"
        "components:\n"
        "  - api\n"
        "  - redis\n"
        "gpu:\n"
        "  devices: all\n"
        "   services: [api]\n"  # line 7: one space too many
    )
    with pytest.raises(InputError) as caught:
        load_spec(tmp_path, shipped_catalog())
    assert_names(caught.value, "mlstack.yaml", "line 7", "not valid YAML")


def test_date_shaped_value_is_an_input_error_not_a_crash(tmp_path: Path) -> None:
    # Was: yamlio.load_file caches the parsed document as JSON (cache.remembered, cache.py:
    # `json.dumps(value)` is only guarded by `except OSError`), and an unquoted date such as
    # `name: 2024-01-01` parses to datetime.date: TypeError, an internal error (exit 1)
    # instead of the schema's message. Fix: in cache.remembered catch TypeError/ValueError
    # around json.dumps too (do not cache such a value), or make yamlio.to_plain turn
    # dates into strings.
    (tmp_path / "mlstack.yaml").write_text("name: 2024-01-01\ncomponents: [redis]\n")
    with pytest.raises(InputError) as caught:
        load_spec(tmp_path, shipped_catalog())
    assert_names(caught.value, "mlstack.yaml", "name", "a compose project name")


@pytest.mark.parametrize("key", ["ports", "image", "depends_on"])
def test_fragment_may_not_set_what_mlstack_sets(tmp_path: Path, key: str) -> None:
    value = {"ports": "['8080:80']", "image": "busybox:1.37", "depends_on": "[redis]"}[key]
    write_fragment(
        tmp_path,
        "web.yaml",
        f"""\
name: web
summary: a web server
image: web
images:
  web: nginx:1.29
service:
  {key}: {value}
""",
    )
    with pytest.raises(InputError) as caught:
        load_catalog(tmp_path)
    assert_names(
        caught.value,
        "stacks/web.yaml",
        f"service.{key}",
        "mlstack sets this key itself",
        f"remove `{key}`",
    )


def test_fragment_name_must_match_its_file(tmp_path: Path) -> None:
    write_fragment(
        tmp_path,
        "cache.yaml",
        """\
name: memcached
summary: a cache
image: memcached
images:
  memcached: memcached:1.6
service: {}
""",
    )
    with pytest.raises(InputError) as caught:
        load_catalog(tmp_path)
    assert_names(
        caught.value,
        "stacks/cache.yaml",
        "name",
        "is 'memcached' but the file is cache.yaml",
        "rename the file to memcached.yaml",
    )


def test_fragment_referring_to_an_unknown_component(tmp_path: Path) -> None:
    write_fragment(
        tmp_path,
        "web.yaml",
        """\
name: web
summary: a web server
image: web
images:
  web: nginx:1.29
uses: [nothing]
service: {}
""",
    )
    with pytest.raises(InputError) as caught:
        load_catalog(tmp_path)
    assert_names(caught.value, "stacks/web.yaml", "uses", "unknown component 'nothing'")


def test_fragment_waiting_for_a_component_it_does_not_use(tmp_path: Path) -> None:
    write_fragment(
        tmp_path,
        "web.yaml",
        """\
name: web
summary: a web server
image: web
images:
  web: nginx:1.29
uses: [postgres]
waits_for: [redis]
service: {}
""",
    )
    with pytest.raises(InputError) as caught:
        load_catalog(tmp_path)
    assert_names(caught.value, "stacks/web.yaml", "waits_for", "'redis' is not under requires")


def test_fragment_image_slot_without_a_default_is_refused(tmp_path: Path, cli: Any) -> None:
    # Was: a fragment whose `image` slot no fragment's `images:` defines passes load_catalog,
    # and mlstack.yaml cannot supply it either (spec._images refuses slots no fragment
    # declares); rendering then dies in compose.image_ref with KeyError (internal error,
    # exit 1). Fix: in catalog.check_references, refuse `image` (and the slots the build
    # templates use) that no fragment's `images:` defines: InputError(frag.source, "image", ...).
    write_fragment(
        tmp_path,
        "web.yaml",
        """\
name: web
summary: a web server
image: web
service: {}
""",
    )
    result = cli("-C", tmp_path, "init", "--yes", "--with", "web")
    assert result.exit_code == 2, result.output
    assert "stacks/web.yaml: image: " in result.output
    assert not (tmp_path / "mlstack.yaml").exists()


def test_every_shipped_fragment_is_valid() -> None:
    shipped = ["api", "jupyter", "mlflow", "postgres", "qdrant", "redis", "trainer"]
    assert sorted(shipped_catalog()) == shipped
    for name, frag in shipped_catalog().items():
        assert frag.name == name
        assert frag.source.endswith(f"stacks/{name}.yaml")
