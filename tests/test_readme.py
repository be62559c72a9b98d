"""README.md is the truth: its examples render, and what it says about the output holds.

Each test reads the claim from README.md itself (a code block, a sentence, a list of fields),
so a README edit that stops being true fails here, and so does a code change under it.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes import FakeEngine, fake_environment

from mlstack.run.doctor import run_doctor

pytestmark = pytest.mark.usefixtures("cpu_only_host")

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
BUILT = ("api", "jupyter", "mlflow", "trainer")  # the components whose Dockerfile mlstack writes


def section(title: str) -> str:
    """The README's text from a heading to the next heading of any level."""
    body = README.split(f"\n{title}\n", 1)[1]
    return re.split(r"\n#{1,6} ", body, maxsplit=1)[0]


def onboarding_command() -> str:
    block = README.split("<!-- onboarding-command -->", 1)[1].split("<!-- /onboarding-command -->")[
        0
    ]
    return re.search(r"```bash\n(.*?)\n```", block, re.S)[1]  # type: ignore[index]


def test_the_mlstack_yaml_example_renders(tmp_path: Path, cli: Any) -> None:
    block = re.search(r"```yaml\n(.*?)```", section("## mlstack.yaml"), re.S)[1]  # type: ignore[index]
    assert "${PIP_INDEX_CREDENTIALS}" in block and "allow:" in block  # the parts worth proving
    (tmp_path / "mlstack.yaml").write_text(block)
    done = cli("-C", tmp_path, "render")
    assert done.exit_code == 0, done.output
    compose = yaml.safe_load((tmp_path / "compose.yaml").read_text())
    trainer = compose["services"]["trainer"]
    assert trainer["ipc"] == "host" and trainer["environment"]["NCCL_DEBUG"] == "INFO"
    assert compose["services"]["redis"]["image"] == "registry.example.com/redis:8.10-alpine"
    api = compose["services"]["api"]["environment"]  # services.api.env and .secrets (issue 11)
    assert api["APP_MODE"] == "demo" and api["HF_TOKEN"].startswith("${HF_TOKEN?")
    assert "PIP_INDEX_CREDENTIALS=" in (tmp_path / ".env.example").read_text()
    assert compose["secrets"] == {  # the CA and the index credential reach builds as secrets
        "pip_ca": {"file": "/etc/ssl/certs/corp-ca.pem"},
        "pip_index_credentials": {"environment": "PIP_INDEX_CREDENTIALS"},
    }


def test_the_onboarding_command_leaves_the_checkout_clean(tmp_path: Path, tool_path: Any) -> None:
    """Run from mlstack's checkout, it puts the stack outside it (no untracked demo/ inside)."""
    command = onboarding_command()
    steps = [step.strip() for step in command.split("&&")]
    init = next(s for s in steps if " init " in s)
    up = next(s for s in steps if " up" in s)
    target = shlex.split(init)[-1]
    assert shlex.split(up)[shlex.split(up).index("-C") + 1] == target
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    mlstack = tool_path("mlstack")
    assert mlstack, "mlstack is not installed beside the tests"
    subprocess.run(
        init.replace(".venv/bin/mlstack", shlex.quote(mlstack)),
        shell=True,
        cwd=checkout,
        check=True,
        capture_output=True,
    )
    assert (checkout / target).resolve().joinpath("mlstack.yaml").is_file()
    assert not (checkout / target).resolve().is_relative_to(checkout.resolve())
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=checkout, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def generated_facts(root: Path) -> dict[str, set[str]]:
    """Which built images are multi-stage, have a HEALTHCHECK, end as root; which services of
    compose.yaml have a health check."""
    lines = {c: (root / c / "Dockerfile").read_text().splitlines() for c in BUILT}
    last_user = {c: [ln for ln in text if ln.startswith("USER ")][-1:] for c, text in lines.items()}
    compose = yaml.safe_load((root / "compose.yaml").read_text())
    return {
        "multi-stage": {
            c for c, text in lines.items() if sum(ln.startswith("FROM ") for ln in text) > 1
        },
        "HEALTHCHECK": {
            c for c, text in lines.items() if any(ln.startswith("HEALTHCHECK") for ln in text)
        },
        "root": {
            c for c, user in last_user.items() if not user or user[0].split()[1] in ("root", "0")
        },
        "exec CMD": {c for c, text in lines.items() if any(ln.startswith("CMD [") for ln in text)},
        "compose healthcheck": {
            s for s, body in compose["services"].items() if body.get("healthcheck")
        },
    }


def test_what_it_says_about_the_dockerfiles_holds(tmp_path: Path, make_stack: Any) -> None:
    said = "multi-stage where there is a build step: the API's"
    assert said in README
    assert "a `HEALTHCHECK` in the API's and MLflow's" in README
    assert "Jupyter's health check is in `compose.yaml` and the trainer, a job, has none" in README
    assert "non-root multi-stage" not in README
    facts = generated_facts(make_stack(tmp_path, "--with", ",".join([*BUILT, "postgres"])))
    assert facts["multi-stage"] == {"api"}
    assert facts["HEALTHCHECK"] == {"api", "mlflow"}
    assert facts["root"] == set()
    assert facts["exec CMD"] == {"api", "mlflow", "trainer"}  # Jupyter keeps its image's own
    assert {"jupyter", "api", "mlflow"} <= facts["compose healthcheck"]
    assert "trainer" not in facts["compose healthcheck"]


def test_the_teammate_path_through_doctor(tmp_path: Path, make_stack: Any, cli: Any) -> None:
    """A clone has every generated file but .env: doctor is not a failure, then up makes .env."""
    assert "`mlstack doctor` first: its `files` check is ok without `.env`" in README
    root = make_stack(tmp_path, "--with", "redis")
    (root / ".env").unlink()
    env = fake_environment(FakeEngine(images={"redis:8.10-alpine"}))
    files = {c.id: c for c in run_doctor(root, env=env)}["files"]
    assert files.status == "ok" and "`mlstack up` creates it" in files.found, files
    assert not (root / ".env").exists()  # doctor writes nothing
    assert cli("-C", root, "render").exit_code == 0  # what up runs first: fresh secrets
    assert re.search(r"REDIS_PASSWORD=\S{16,}", (root / ".env").read_text())


def gpu_forms() -> list[str]:
    """Every ``--gpu`` form the init row of the commands table names."""
    row = next(ln for ln in README.splitlines() if ln.startswith("| `mlstack init"))
    forms = re.findall(r"`--gpu ([^`]+)`", row)
    assert forms == ["none\\|all\\|N\\|0,1", "SERVICE=SPEC"], forms
    return [*forms[0].split("\\|"), forms[1]]


@pytest.mark.parametrize("form", gpu_forms())
def test_each_gpu_form_it_names_works(tmp_path: Path, make_stack: Any, form: str) -> None:
    value = {"N": "2", "SERVICE=SPEC": "trainer=0,1"}.get(form, form)
    root = make_stack(tmp_path, "--with", "api,trainer", "--gpu", value)
    gpu = yaml.safe_load((root / "mlstack.yaml").read_text())["gpu"]
    expected = {"none": "none", "all": "all", "N": 2, "0,1": ["0", "1"]}
    if form == "SERVICE=SPEC":
        assert gpu["services"] == {"trainer": ["0", "1"]}
    else:
        assert gpu["devices"] == expected[form]


def test_the_required_fragment_fields_are_the_schemas() -> None:
    said = re.search(r"Required fields: ((?:`\w+`,? ?)+);", section("## Components and fragments"))
    assert said, "README must say which fragment fields are required"
    schema = json.loads((REPO / "mlstack/schemas/fragment.schema.json").read_text())
    assert re.findall(r"`(\w+)`", said[1]) == schema["required"]
