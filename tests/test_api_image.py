"""The API image's shape: what reaches the runtime stage, and in which order (layer caching).

bench/api_image.py measures the effect (size against a naive single-stage image, rebuild time
after a code-only change); these tests pin the Dockerfile properties those figures rest on.
"""

from __future__ import annotations

import pytest

from mlstack.render.dockerfiles import dockerfile
from mlstack.spec.catalog import load_catalog
from mlstack.spec.stack_spec import spec_from_document

pytestmark = pytest.mark.usefixtures("cpu_only_host")

CATALOG = load_catalog()
CA = "/etc/ssl/certs/ca-certificates.crt"
INDEX = "https://pypi.corp.example/simple"


def stages(text: str) -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), one list per FROM."""
    joined = text.replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    result: list[list[str]] = []
    for line in lines:
        if line.startswith("FROM "):
            result.append([])
        if line and not line.startswith("#") and result:
            result[-1].append(line)
    return result


def api_dockerfile(build: dict[str, str] | None = None, apt: bool = False) -> str:
    doc = {"name": "s", "components": ["api", "postgres", "redis", "mlflow"]}
    if build:
        doc["build"] = build
    if apt:
        doc["services"] = {"api": {"apt": ["curl=7.*"]}}
    return dockerfile("api", spec_from_document(doc, CATALOG), CATALOG)


VARIANTS = [
    pytest.param({}, False, id="plain"),
    pytest.param({"ca_bundle": CA, "pip_index_url": INDEX}, False, id="ca-and-index"),
    pytest.param({}, True, id="apt-packages"),
]


@pytest.mark.parametrize(("build", "apt"), VARIANTS)
def test_the_runtime_venv_has_no_pip_and_the_build_pip_fills_it(build, apt) -> None:
    build_stage, runtime = stages(api_dockerfile(build, apt))
    assert "RUN python -m venv --without-pip /opt/venv" in build_stage
    installs = [line for line in build_stage if " install " in line and "pip" in line]
    assert len(installs) == 1
    assert "pip --python /opt/venv/bin/python install --no-cache-dir -r" in installs[0]
    assert not any("pip" in line for line in runtime if line.startswith("RUN"))


@pytest.mark.parametrize(("build", "apt"), VARIANTS)
def test_code_is_copied_after_the_dependencies_and_runs_as_the_app_user(build, apt) -> None:
    runtime = stages(api_dockerfile(build, apt))[1]
    copies = [line for line in runtime if line.startswith("COPY")]
    assert copies == ["COPY --from=build /opt/venv /opt/venv", "COPY app /app/app"]
    # nothing that a code change invalidates comes before the dependencies
    assert runtime.index(copies[1]) > max(runtime.index(line) for line in runtime if "RUN" in line)
    assert "USER app" in runtime and runtime.index("USER app") > runtime.index(copies[1])
