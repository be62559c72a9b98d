"""Dockerfiles and requirements for the components that mlstack builds: pure text from the spec.

Every Dockerfile is portable to the builders teams really have: no ``# syntax=`` line (it pulls a
frontend image, which fails offline), and ``RUN --mount=type=secret`` only when the spec names a
CA bundle or an index credential (the classic builder does not know it). Both reach pip as
BuildKit secrets, never as a layer, an ARG or an ENV of the image; the index URL itself (no
credential in it) is written into the pip step.
"""

from __future__ import annotations

import shlex

from mlstack.render.compose_model import BASE_ARG, CA_SECRET, INDEX_SECRET, image_ref
from mlstack.spec.catalog import Catalog
from mlstack.spec.stack_spec import StackSpec

PINS = {
    "fastapi": "fastapi==0.165.0",
    "uvicorn": "uvicorn==0.54.0",
    "redis": "redis==8.1.0",
    "postgres": "psycopg[binary]==3.3.9",
    "mlflow": "mlflow-skinny==3.17.0",
    "qdrant": "qdrant-client==1.20.0",
    "psycopg2": "psycopg2-binary==2.9.13",
}
# torch release per PyTorch wheel variant (component-facts 7.6)
TORCH = {
    "cpu": "2.9.1",
    "cu118": "2.7.1",
    "cu121": "2.5.1",
    "cu124": "2.6.0",
    "cu126": "2.9.1",
    "cu128": "2.9.1",
    "cu129": "2.8.0",
    "cu130": "2.9.1",
}
APP_UID = 10001
CA_PATH = f"/run/secrets/{CA_SECRET}"
INDEX_PATH = f"/run/secrets/{INDEX_SECRET}"
PY_HEALTH = (
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=3)"
)


def dockerfile(template: str, spec: StackSpec, catalog: Catalog) -> str:
    """The Dockerfile of one built component."""
    return {"api": _api, "jupyter": _jupyter, "mlflow": _mlflow, "trainer": _trainer}[template](
        spec, catalog
    )


def requirements(template: str, spec: StackSpec, cpu: bool = False) -> list[str] | None:
    """The pinned requirements of a built component (None: it has no requirements file).

    ``cpu``: a GPU trainer's CPU variant (torch from the CPU wheel index), for CPU hosts.
    """
    clients = [PINS[c] for c in ("postgres", "redis", "mlflow") if c in spec.components]
    clients += spec.packages.get(template, ())  # services.<name>.packages, as the user wrote them
    if template == "api":
        return [PINS["fastapi"], PINS["uvicorn"], *clients]
    if template == "jupyter":
        return clients + ([PINS["qdrant"]] if "qdrant" in spec.components else [])
    if template == "trainer":
        from mlstack.machine.cuda import torch_index_url, torch_wheel_index

        cuda = spec.cuda if spec.uses_gpu("trainer") and not cpu else None
        variant = torch_wheel_index(cuda) if cuda else "cpu"
        # the local version (+cu128, +cpu) is only on PyTorch's index, never PyPI's build
        torch = f"torch=={TORCH[variant]}+{variant}"
        return [f"--extra-index-url {torch_index_url(cuda)}", torch, *clients]
    return None


def apt_install(spec: StackSpec, template: str) -> list[str]:
    """``services.<name>.apt``: one RUN in the runtime stage, no recommends, lists removed.

    Packages are pinned as the user writes them (``curl=8.*``); an unpinned one is the user's
    choice, so hadolint's DL3008 (pin apt versions) is waived for that line only, said so.
    """
    packages = spec.apt.get(template, ())
    if not packages:
        return []
    lines = []
    if any("=" not in p for p in packages):
        lines.append("# unpinned as written in mlstack.yaml (pin as NAME=VERSION to reproduce)")
        lines.append("# hadolint ignore=DL3008")
    listed = " ".join(sorted(packages))
    lines.append(
        "RUN apt-get update \\\n"
        f"    && apt-get install -y --no-install-recommends {listed} \\\n"
        "    && rm -rf /var/lib/apt/lists/*"
    )
    return lines


def _pip(spec: StackSpec, pip: str, args: str) -> str:
    """A RUN line installing with pip, the build secrets mounted for this step only.

    Secrets are mounted 0444: the base image may build as a non-root user (Jupyter's jovyan,
    uid 1000), and BuildKit's default (0400, owned by root) leaves pip a PermissionError. The
    mount lives only while this RUN runs, and nothing else runs in it.
    """
    mounts, steps = [], []
    if spec.ca_bundle:
        mounts.append(CA_SECRET)
        steps.append(f"if [ -f {CA_PATH} ]; then export PIP_CERT={CA_PATH}; fi")
    install = f"{pip} install --no-cache-dir {args}"
    if spec.pip_index_url and spec.pip_index_credentials:
        mounts.append(INDEX_SECRET)
        steps.append(
            f'if [ ! -s {INDEX_PATH} ]; then echo "{_no_credential(spec)}" >&2; exit 1; fi'
        )
        scheme, _, rest = spec.pip_index_url.partition("://")
        install = f'PIP_INDEX_URL="{scheme}://$(cat {INDEX_PATH})@{rest}" {install}'
    elif spec.pip_index_url:
        install = f'PIP_INDEX_URL="{spec.pip_index_url}" {install}'
    flags = [f"--mount=type=secret,id={name},mode=0444" for name in mounts]
    return "RUN " + " \\\n    ".join([*flags, " \\\n    && ".join([*steps, install])])


def _no_credential(spec: StackSpec) -> str:
    """What a build says when the index's credential did not arrive (never the value)."""
    var = spec.pip_index_credentials
    return (
        f"mlstack: the pip index needs {var}=user:token in .env. mlstack up passes it to the"
        f" build; plain docker compose needs it in the environment: set -a; . ./.env; set +a"
    )


def _healthcheck(port: int, path: str) -> str:
    code = PY_HEALTH.format(port=port, path=path)
    return (
        f"HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \\\n"
        f'    CMD ["python", "-c", "{code}"]'
    )


def _user(name: str) -> str:
    return (
        f"RUN groupadd --system --gid {APP_UID} {name} \\\n"
        f"    && useradd --system --uid {APP_UID} --gid {name} --no-create-home {name}"
    )


def _lines(*parts: str | list[str]) -> str:
    flat = [p for part in parts for p in ([part] if isinstance(part, str) else part)]
    return "\n".join(flat) + "\n"


def _api(spec: StackSpec, catalog: Catalog) -> str:
    """Two stages: the runtime stage gets the base image and the app's packages, nothing else.

    The virtualenv has no pip or setuptools of its own (about 25 MB): the build stage's pip
    installs into it (``pip --python``, pip 22.3+), and a requirement that does need setuptools
    at run time still gets it as a dependency. Bytecode is kept (pip compiles it at install):
    the app user cannot write it at run time, so without it every start would compile again.
    """
    base = image_ref(spec, catalog, "python")
    return _lines(
        "# Build stage: dependencies into a virtualenv (no pip in it), copied into the runtime.",
        f"FROM {base} AS build",
        "ENV PIP_DISABLE_PIP_VERSION_CHECK=1",
        "RUN python -m venv --without-pip /opt/venv",
        "COPY requirements.txt /tmp/requirements.txt",
        _pip(spec, "pip --python /opt/venv/bin/python", "-r /tmp/requirements.txt"),
        "",
        "# Runtime stage: slim, non-root, code copied after the dependencies for layer caching.",
        f"FROM {base}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH",
        apt_install(spec, "api"),
        _user("app"),
        "WORKDIR /app",
        "COPY --from=build /opt/venv /opt/venv",
        "COPY app /app/app",
        "USER app",
        "EXPOSE 8000",
        _healthcheck(8000, "/health"),
        'CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]',
    )


def _jupyter(spec: StackSpec, catalog: Catalog) -> str:
    """The CPU image by default; on a GPU host compose.gpu.yaml sets the CUDA one (a build arg)."""
    gpu = (
        [f"# GPU hosts: compose.gpu.yaml sets {BASE_ARG}={image_ref(spec, catalog, 'jupyter-gpu')}"]
        if spec.uses_gpu("jupyter")
        else []
    )
    reqs = requirements("jupyter", spec)
    install = (
        [
            "COPY requirements.txt /tmp/requirements.txt",
            _pip(spec, "pip", "-r /tmp/requirements.txt"),
        ]
        if reqs
        else []
    )
    return _lines(
        "# Jupyter Docker Stacks image (user jovyan, uid 1000) plus the stack's client libraries.",
        *gpu,
        f"ARG {BASE_ARG}={image_ref(spec, catalog, 'jupyter')}",
        f"FROM ${{{BASE_ARG}}}",
        *(["USER root", *apt_install(spec, "jupyter")] if spec.apt.get("jupyter") else []),
        *install,
        "USER 1000",
        "EXPOSE 8888",
    )


def _mlflow(spec: StackSpec, catalog: Catalog) -> str:
    driver = [PINS["psycopg2"]] if "postgres" in spec.components else []
    wanted = [*driver, *spec.packages.get("mlflow", ())]
    pip = [_pip(spec, "pip", " ".join(shlex.quote(p) for p in wanted))] if wanted else []
    return _lines(
        "# MLflow's image runs as root and has no database driver: add the driver, run as mlflow.",
        f"FROM {image_ref(spec, catalog, 'mlflow')}",
        *apt_install(spec, "mlflow"),
        *pip,
        f"RUN groupadd --system --gid {APP_UID} mlflow \\\n"
        f"    && useradd --system --uid {APP_UID} --gid mlflow --no-create-home mlflow \\\n"
        "    && mkdir -p /mlflow/artifacts && chown -R mlflow:mlflow /mlflow",
        "USER mlflow",
        "EXPOSE 5000",
        _healthcheck(5000, "/health"),
        'CMD ["mlflow", "server", "--serve-artifacts", "--artifacts-destination", '
        '"/mlflow/artifacts"]',
    )


def _trainer(spec: StackSpec, catalog: Catalog) -> str:
    """Python slim and CPU torch; a GPU trainer adds a ``gpu`` target (CUDA base and wheels).

    One Dockerfile, two targets: compose.yaml builds ``cpu`` (any host can build and run it),
    compose.gpu.yaml, applied on GPU hosts only, builds ``gpu``.
    """
    gpu_too = spec.uses_gpu("trainer")
    cpu = _trainer_stage(
        spec,
        f"FROM {image_ref(spec, catalog, 'python')}" + (f" AS {CPU_TARGET}" if gpu_too else ""),
        ["RUN python -m venv /opt/venv"],
        CPU_REQUIREMENTS if gpu_too else "requirements.txt",
    )
    if not gpu_too:
        return _lines("# Training job on Python slim (no GPU).", cpu)
    from mlstack.machine.cuda import image_python

    py = image_python(spec.cuda)  # nvidia/cuda has no Python: Ubuntu's, pinned to its minor
    gpu = _trainer_stage(
        spec,
        f"FROM {image_ref(spec, catalog, 'cuda')} AS {GPU_TARGET}",
        [
            "ENV DEBIAN_FRONTEND=noninteractive",
            "RUN apt-get update \\\n"
            "    && apt-get install -y --no-install-recommends \\\n"
            f"       python3={py}.* python3-venv={py}.* \\\n"
            "    && rm -rf /var/lib/apt/lists/*",
            "RUN python3 -m venv /opt/venv",
        ],
        "requirements.txt",
    )
    return _lines(
        f"# Training job. Target {CPU_TARGET}: Python slim, torch from the CPU wheel index",
        f"# (CPU hosts). Target {GPU_TARGET}: pinned nvidia/cuda, CUDA wheels (compose.gpu.yaml).",
        cpu,
        "",
        gpu,
    )


CPU_TARGET, GPU_TARGET = "cpu", "gpu"
CPU_REQUIREMENTS = "requirements-cpu.txt"  # a GPU trainer's CPU variant


def _trainer_stage(spec: StackSpec, start: str, python: list[str], reqs: str) -> str:
    """One trainer stage: its base, a venv, the requirements, the non-root user and the code."""
    return _lines(
        start,
        "ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH",
        *python,
        *apt_install(spec, "trainer"),
        f"COPY {reqs} /tmp/requirements.txt",
        _pip(spec, "/opt/venv/bin/pip", "-r /tmp/requirements.txt"),
        _user("trainer"),
        "RUN mkdir -p /data /checkpoints /outputs \\\n"
        "    && chown trainer:trainer /data /checkpoints /outputs",
        "WORKDIR /app",
        "COPY src /app/src",
        "USER trainer",
        'CMD ["python", "-m", "src.train"]',
    ).rstrip("\n")
