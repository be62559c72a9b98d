"""A cloned repo as the attacker: its mlstack.yaml and mlstack.local.yaml try to reach past the
project (another project's volumes, the victim's shell), inject lines into ``.env`` or keys into
compose files, or leak a secret. Each attack is one clear InputError, or is shown to hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine, fake_environment

from mlstack.errors import InputError, MlstackError
from mlstack.run import operate
from mlstack.run.records import ServiceState
from mlstack.spec.local import settings_from
from mlstack.spec.schema import validate

pytestmark = pytest.mark.usefixtures("cpu_only_host")


@pytest.mark.parametrize(
    "doc",
    [
        {"name": "demo\n"},  # would end COMPOSE_PROJECT_NAME's .env line with a blank one
        {"images": {"redis": "redis:8.2\n"}},
        {"gpu": {"devices": ["0\n"]}},
    ],
)
def test_a_trailing_newline_does_not_pass_an_anchored_pattern(doc: dict[str, Any]) -> None:
    # Python's $ also matches before a final newline: "demo\n" passed ^[a-z0-9]...$
    with pytest.raises(InputError):
        settings_from(doc)


@pytest.mark.parametrize(
    ("services", "field"),
    [
        ({"api": {"secrets": ["APP_KEY\n"]}}, "services.api.secrets[0]"),
        ({"api": {"env": {"MODE": "a\n"}}}, "services.api.env.MODE"),
        ({"api": {"resources": {"memory": "2g\n"}}}, "services.api.resources.memory"),
    ],
)
def test_a_trailing_newline_in_mlstack_yaml_is_refused(services: Any, field: str) -> None:
    doc = {"name": "demo", "components": ["api"], "services": services}
    with pytest.raises(InputError) as caught:
        validate(doc, "spec", "mlstack.yaml", "fix it")
    assert caught.value.field == field


def test_down_refuses_a_project_another_checkout_runs(tmp_path: Path, make_stack: Any) -> None:
    # the clone names the victim's project (mlstack.local.yaml name:, or mlstack.yaml name:)
    victim = make_stack(tmp_path / "victim", "--name", "demo", "--with", "redis")
    clone = make_stack(tmp_path / "clone", "--name", "other", "--with", "redis")
    (clone / "mlstack.local.yaml").write_text("name: demo\n")
    theirs = ServiceState("redis", "demo-redis-1", "running", "healthy", None, str(victim))
    engine = FakeEngine(frames=[{"redis": theirs}])
    with pytest.raises(MlstackError) as caught:
        operate.down(clone, volumes=True, env=fake_environment(engine))
    assert str(victim) in caught.value.problem and "--volumes" in caught.value.problem
    assert caught.value.exit_code == 2
    assert ("down", True) not in engine.calls
    operate.down(victim, volumes=False, env=fake_environment(engine))  # its own: stopped
    assert engine.calls == [("down", False)]
