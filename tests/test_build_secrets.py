"""Build secrets: the CA bundle and the pip index credential reach pip, and nothing else.

The CA bundle and the index's ``user:token`` are BuildKit secrets mounted into the pip step
only, readable by whichever user the base image builds as (Jupyter's jovyan is uid 1000); the
credential is in ``.env`` and nowhere else that mlstack writes. The real builds, image history
included, are in tests/e2e/test_build_security.py.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import pytest

from mlstack.render.dockerfiles import dockerfile
from mlstack.render.envfile import build_secret_values, set_env_values
from mlstack.spec.catalog import load_catalog
from mlstack.spec.index_url import split_credentials
from mlstack.spec.stack_spec import StackSpec, spec_from_document

pytestmark = pytest.mark.usefixtures("cpu_only_host")

CATALOG = load_catalog()
TEMPLATES = ("api", "jupyter", "mlflow", "trainer")
ALL = "api,jupyter,mlflow,postgres,qdrant,redis,trainer"
TOKEN = "tok-9a8b7c6d5e4f"
INDEX = f"https://ci-user:{TOKEN}@pypi.corp.example/simple"
# The user each template's base image builds as: Jupyter Docker Stacks end with USER 1000
# (jovyan); python, mlflow and nvidia/cuda images have no USER, so root.
BASE_USER = {"api": 0, "jupyter": 1000, "mlflow": 0, "trainer": 0}


def spec_for(build: dict[str, str], components: str = ALL, gpu: str = "none") -> StackSpec:
    doc = {"name": "s", "components": components.split(","), "gpu": {"devices": gpu}}
    return spec_from_document({**doc, "build": build} if build else doc, CATALOG)


def secret_mounts(text: str) -> list[tuple[dict[str, str], str | None]]:
    """Each secret mount of a Dockerfile, with the USER its RUN runs as (None: the base's)."""
    mounts, user = [], None
    for instruction in re.split(r"\n(?=[A-Z]+ )", text.replace("\\\n", " ")):
        if instruction.startswith("USER "):
            user = instruction.split()[1]
        for found in re.findall(r"--mount=(\S+)", instruction):
            options = dict(part.split("=", 1) for part in found.split(","))
            if options.get("type") == "secret":
                mounts.append((options, user))
    return mounts


def readable_by(options: dict[str, str], uid: int) -> bool:
    """Whether a secret mounted with these options can be read by ``uid`` (BuildKit rules)."""
    mode = int(options.get("mode", "0400"), 8)  # BuildKit's default: 0400, uid 0, gid 0
    owner = int(options.get("uid", "0"))
    return uid == 0 or bool(mode & 0o004) or (uid == owner and bool(mode & 0o400))


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize(
    "build",
    [{"ca_bundle": "/etc/ca.pem"}, {"ca_bundle": "/etc/ca.pem", "pip_index_url": INDEX}],
    ids=["ca", "ca-and-credential"],
)
def test_every_secret_mount_is_readable_by_the_build_user(
    template: str, build: dict[str, str]
) -> None:
    """Was: mounted with BuildKit's default 0400 root, so jovyan's pip got PermissionError."""
    build = {k: split_credentials(v)[0] for k, v in build.items()}
    text = dockerfile(template, spec_for(build), CATALOG)
    mounts = secret_mounts(text)
    assert mounts, text
    for options, user in mounts:
        uid = int(user) if user and user.isdigit() else BASE_USER[template]
        assert user is None or user.isdigit(), f"{template}: RUN as {user} before pip"
        assert readable_by(options, uid), (template, options, uid)
        assert readable_by(options, 5000)  # an image overridden to build as another user


def test_the_mount_rules_follow_buildkit() -> None:
    """The checker itself: BuildKit's default mount is root-only."""
    assert not readable_by({"type": "secret", "id": "x"}, 1000)
    assert readable_by({"type": "secret", "id": "x", "uid": "1000"}, 1000)
    assert readable_by({"type": "secret", "id": "x", "mode": "0444"}, 1000)


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize(
    "build", [{}, {"pip_index_url": "https://mirror.example/simple"}], ids=["none", "plain-index"]
)
def test_no_mount_without_a_secret_so_the_classic_builder_still_builds(
    template: str, build: dict[str, str]
) -> None:
    text = dockerfile(template, spec_for(build), CATALOG)
    assert "--mount" not in text
    assert "ARG PIP_INDEX_URL" not in text
    if build:
        assert 'PIP_INDEX_URL="https://mirror.example/simple" ' in text


def test_the_credential_is_spliced_in_from_the_secret_inside_the_run_line() -> None:
    spec = spec_for({"pip_index_url": split_credentials(INDEX)[0]}, "jupyter,redis")
    text = dockerfile("jupyter", spec, CATALOG)
    assert "--mount=type=secret,id=pip_index_credentials,mode=0444" in text
    assert (
        'PIP_INDEX_URL="https://$(cat /run/secrets/pip_index_credentials)@pypi.corp.example/simple"'
        in text
    )
    assert "needs PIP_INDEX_CREDENTIALS=user:token in .env" in text  # an empty secret says so
    assert TOKEN not in text and "ARG " not in text and "ENV PIP" not in text


@pytest.mark.parametrize(
    ("url", "reference", "credential"),
    [
        (INDEX, "https://${PIP_INDEX_CREDENTIALS}@pypi.corp.example/simple", f"ci-user:{TOKEN}"),
        ("https://__token__@h/simple", "https://${PIP_INDEX_CREDENTIALS}@h/simple", "__token__"),
        (
            "https://a:b%40c@h:8443/s?x=1",
            "https://${PIP_INDEX_CREDENTIALS}@h:8443/s?x=1",
            "a:b%40c",
        ),
        ("https://h/simple", "https://h/simple", None),
        ("https://h/simple/@scope", "https://h/simple/@scope", None),
        ("https://${MY_KEY}@h/simple", "https://${MY_KEY}@h/simple", None),
    ],
)
def test_split_credentials(url: str, reference: str, credential: str | None) -> None:
    assert split_credentials(url) == (reference, credential)


STACKS = {
    "api": ["--with", "api"],
    "all-cpu": ["--with", ALL, "--gpu", "none"],
    "all-gpu-with-ca": ["--with", ALL, "--gpu", "all", "--ca-bundle", "{ca}"],
    "notebook": ["--with", "jupyter,postgres,qdrant"],
}


@pytest.mark.parametrize("stack", STACKS)
def test_the_credential_is_in_env_only(
    stack: str, tmp_path: Path, make_stack: Any, tree: Any
) -> None:
    ca = tmp_path / "ca.pem"  # init refuses a CA bundle that is not a file (it used to accept any)
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    args = [arg.replace("{ca}", str(ca)) for arg in STACKS[stack]]
    root = make_stack(tmp_path / "stack", "--name", "s", *args, "--pip-index-url", INDEX)
    files = tree(root)
    holding = sorted(name for name, data in files.items() if TOKEN.encode() in data)
    assert holding == [".env"]
    assert f"PIP_INDEX_CREDENTIALS=ci-user:{TOKEN}\n" in files[".env"].decode()
    assert stat.S_IMODE((root / ".env").stat().st_mode) == 0o600
    assert b"ci-user" not in b"".join(data for name, data in files.items() if name != ".env")
    spec_text = files["mlstack.yaml"].decode()
    assert "pip_index_url: https://${PIP_INDEX_CREDENTIALS}@pypi.corp.example/simple" in spec_text
    assert "\nPIP_INDEX_CREDENTIALS=\n" in files[".env.example"].decode()
    compose = files["compose.yaml"].decode()
    assert "pip_index_credentials:\n    environment: PIP_INDEX_CREDENTIALS" in compose
    assert "args:" not in compose  # the URL is no build argument any more (image history)


def test_render_keeps_the_credential_and_init_force_replaces_it(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--name", "s", "--with", "api", "--pip-index-url", INDEX)
    assert cli("-C", root, "render").exit_code == 0
    assert (root / ".env").read_text().count("PIP_INDEX_CREDENTIALS=") == 1
    new = INDEX.replace(TOKEN, "tok-new")
    done = cli("-C", root, "init", "--yes", "--force", "--name", "s", "--pip-index-url", new)
    assert done.exit_code == 0, done.output
    env = (root / ".env").read_text()
    assert "PIP_INDEX_CREDENTIALS=ci-user:tok-new\n" in env and TOKEN not in env


def test_a_credential_written_into_mlstack_yaml_is_refused_and_not_echoed(
    tmp_path: Path, make_stack: Any, cli: Any
) -> None:
    root = make_stack(tmp_path, "--name", "s", "--with", "redis")
    spec = root / "mlstack.yaml"
    spec.write_text(spec.read_text() + f"build:\n  pip_index_url: {INDEX}\n")
    done = cli("-C", root, "render")
    assert done.exit_code == 2
    assert "build.pip_index_url: holds a user or token" in done.output
    assert "PIP_INDEX_CREDENTIALS=user:token in .env" in done.output
    assert TOKEN not in done.output


@pytest.mark.parametrize("url", [f"ftp://u:{TOKEN}@h/simple", f"u:{TOKEN}@h/simple"])
def test_a_bad_index_url_with_a_credential_is_refused_without_echoing_it(
    url: str, tmp_path: Path, cli: Any
) -> None:
    done = cli("-C", tmp_path, "init", "--yes", "--name", "s", "--pip-index-url", url)
    assert done.exit_code == 2
    assert "pip_index_url" in done.output
    assert TOKEN not in done.output
    assert not (tmp_path / "mlstack.yaml").exists()


def test_builds_get_the_credential_from_env_only_when_it_is_set() -> None:
    spec = spec_for({"pip_index_url": split_credentials(INDEX)[0]}, "api")
    assert build_secret_values(spec, {"PIP_INDEX_CREDENTIALS": "u:t", "REDIS_PASSWORD": "x"}) == {
        "PIP_INDEX_CREDENTIALS": "u:t"
    }
    assert build_secret_values(spec, {"PIP_INDEX_CREDENTIALS": ""}) == {}
    assert build_secret_values(spec_for({}, "api"), {"PIP_INDEX_CREDENTIALS": "u:t"}) == {}


def test_set_env_values_replaces_in_place_and_keeps_the_rest() -> None:
    current = "# mine\nA=1\nPIP_INDEX_CREDENTIALS=old\nB=2\n"
    assert set_env_values(current, {"PIP_INDEX_CREDENTIALS": "new"}) == (
        "# mine\nA=1\nPIP_INDEX_CREDENTIALS=new\nB=2\n"
    )
    assert set_env_values(None, {"X": "1"}) is None
    assert set_env_values(current, {}) == current
