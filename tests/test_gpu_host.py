"""The per-host GPU decision (issue 12): GPU present/absent x optional/required x a service that
can or cannot use a GPU, on recorded nvidia-smi and docker info outputs."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import recorded_info
from helpers import RECORDED

from mlstack.machine.host import GpuScan
from mlstack.machine.nvidia_smi import parse_nvidia_smi_csv
from mlstack.run.gpu_host import host_checks
from mlstack.spec.catalog import load_catalog
from mlstack.spec.stack_spec import spec_from_document

GPU_HOST = GpuScan(
    tuple(parse_nvidia_smi_csv((RECORDED / "nvidia-smi-query-h100-x1.csv").read_text()))
)
NO_GPU = GpuScan((), "nvidia-smi is not installed (no NVIDIA driver on this host)")
HOSTS = {
    # an H100 with the NVIDIA runtime (CDI, Docker 28) / this CPU-only CI engine (Docker 20.10)
    "gpu": (GPU_HOST, "docker-info-28.2.2-nvidia-cdi.json"),
    "gpu-no-runtime": (GPU_HOST, "docker-info-20.10.24.json"),
    "cpu": (NO_GPU, "docker-info-20.10.24.json"),
}
SERVICES = {"can": "jupyter", "cannot": "api"}  # the api: slim Python, no torch


def spec(service: str, mode: str) -> Any:
    doc = {"name": "t", "components": [service], "gpu": {"mode": mode, "devices": "all"}}
    return spec_from_document(doc, load_catalog())


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("mode", ["optional", "required"])
@pytest.mark.parametrize("can", SERVICES)
def test_decision_table(host: str, mode: str, can: str) -> None:
    scan, info = HOSTS[host]
    decision, checks = host_checks(spec(SERVICES[can], mode), recorded_info(info), scan)
    statuses = {c.id: c.status for c in checks}
    if can == "cannot":  # no GPU asked for: nothing to decide, nothing fails, anywhere
        assert decision.services == () and not decision.use_gpu
        assert decision.compose_files == () and "fail" not in statuses.values()
        return
    assert decision.services == ("jupyter",)
    if host == "gpu":
        assert decision.use_gpu and decision.on_cpu == ()
        assert decision.compose_files == ("compose.gpu.yaml",)
        assert set(statuses.values()) == {"ok"}
        return
    assert not decision.use_gpu and decision.on_cpu == ("jupyter",)
    assert decision.compose_files == ()
    failed = [c for c in checks if c.status != "ok"]
    assert failed and decision.reason == "; ".join(
        c.found.split(": jupyter run on")[0] for c in failed
    )
    if mode == "optional":  # CPU here: warnings, nothing stops `up`
        assert {c.status for c in failed} == {"warn"}
        assert all("jupyter run on CPU on this host" in c.found for c in failed)
    else:  # required: the preflight stops, and the fix names the machine-local way out
        assert {c.status for c in failed} == {"fail"}
        assert all("gpu: {mode: optional}" in c.fix for c in failed)


def test_a_missing_runtime_is_the_reason_on_a_gpu_host() -> None:
    decision, _ = host_checks(spec("jupyter", "optional"), recorded_info(), GPU_HOST)
    assert "Docker has no NVIDIA runtime" in decision.reason
    assert decision.as_dict() == {
        "mode": "optional",
        "services": ["jupyter"],
        "use_gpu": False,
        "on_cpu": ["jupyter"],
        "reason": decision.reason,
    }


def test_mode_defaults_to_optional_and_is_checked() -> None:
    doc = {"name": "t", "components": ["jupyter"], "gpu": {"devices": "all"}}
    assert spec_from_document(doc, load_catalog()).gpu_mode == "optional"
    from mlstack.errors import InputError

    with pytest.raises(InputError) as caught:
        spec_from_document({**doc, "gpu": {"mode": "maybe"}}, load_catalog())
    assert caught.value.field == "gpu.mode" and "optional" in str(caught.value)


def local_stack(tmp_path: Any, make_stack: Any, local: str | None) -> Any:
    root = make_stack(tmp_path / "stack", "--with", "jupyter", "--gpu", "all", "--cuda", "12.8.1")
    spec = root / "mlstack.yaml"
    spec.write_text(spec.read_text().replace("gpu:\n", "gpu:\n  mode: required\n"))
    if local is not None:
        (root / "mlstack.local.yaml").write_text(local)
    return root


def test_local_gpu_mode_wins_over_the_committed_one(tmp_path: Any, make_stack: Any) -> None:
    from mlstack.render.generate import render_project
    from mlstack.spec.catalog import load_catalog
    from mlstack.spec.local import with_local

    root = local_stack(tmp_path, make_stack, "gpu:\n  mode: optional\n")
    committed = render_project(root).spec
    assert committed.gpu_mode == "required"
    assert with_local(committed, root, load_catalog()).gpu_mode == "optional"
    # never rendered into a committed file, never drift, and git-ignored
    assert render_project(root, dry_run=True).drift == []
    for path in root.rglob("*"):
        if path.is_file() and path.name != "mlstack.local.yaml" and ".mlstack" not in path.parts:
            assert "optional" not in path.read_text(errors="replace"), path
    assert "mlstack.local.yaml" in (root / ".gitignore").read_text().splitlines()


def test_doctor_reads_the_local_mode(tmp_path: Any, make_stack: Any) -> None:
    from fakes import FakeEngine, fake_environment

    from mlstack.run.doctor import run_doctor

    engine = FakeEngine()
    env = fake_environment(engine, scan=NO_GPU)
    required = local_stack(tmp_path / "a", make_stack, None)
    assert {c.id: c.status for c in run_doctor(required, env=env)}["gpu.driver"] == "fail"
    local = local_stack(tmp_path / "b", make_stack, "gpu: {mode: optional}\n")
    assert {c.id: c.status for c in run_doctor(local, env=env)}["gpu.driver"] == "warn"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("ports: {api: 0}\n", "ports.api"),
        ("ports: {api: 8080.0}\n", "ports.api"),
        ("ports: {qdrant: 6333}\n", "ports.qdrant"),  # not in this stack
        ("gpu: {mode: maybe}\n", "gpu.mode"),
        ("gpu: {devices: [0, 0]}\n", "gpu.devices"),
        ("gpu: {devices: sometimes}\n", "gpu.devices"),
        ("name: My Stack\n", "name"),
        ("images: {nosuchslot: a/b:1}\n", "images.nosuchslot"),
        ("images: {redis: 'a b'}\n", "images.redis"),
        ("colour: blue\n", "(top level)"),
        ("- gpu\n", ""),
    ],
)
def test_a_bad_local_file_names_the_field(
    tmp_path: Any, make_stack: Any, text: str, field: str
) -> None:
    from mlstack.errors import InputError
    from mlstack.render.generate import render_project
    from mlstack.run.validate import validate_project

    root = local_stack(tmp_path, make_stack, text)
    with pytest.raises(InputError) as caught:
        validate_project(root)
    with pytest.raises(InputError):
        render_project(root, dry_run=True)
    assert (caught.value.source, caught.value.field) == ("mlstack.local.yaml", field)
    assert caught.value.exit_code == 2


def test_a_second_checkout_does_not_take_over_the_first(tmp_path: Any) -> None:
    from mlstack.run.engine import parse_ps
    from mlstack.run.neighbours import check_project

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    row = (
        '{"Service": "redis", "Name": "demo-redis-1", "State": "running", "Health": "healthy",'
        ' "Labels": "com.docker.compose.project=demo,com.docker.compose.project.working_dir='
        f'{first},com.docker.compose.service=redis"}}'
    )
    states = {s.service: s for s in parse_ps(row)}
    assert states["redis"].working_dir == str(first)
    assert check_project(first, states).status == "ok"
    clash = check_project(second, states)
    assert clash.status == "fail" and str(first) in clash.found and "demo-redis-1" in clash.found
    assert "COMPOSE_PROJECT_NAME" in clash.fix and "*_HOST_PORT" in clash.fix
    assert check_project(second, {}).status == "ok"


def test_gpus_here_but_not_the_ones_asked_for_is_not_a_cpu_host() -> None:
    doc = {"name": "t", "components": ["jupyter"], "gpu": {"devices": ["0", "7"]}}
    info = recorded_info("docker-info-28.2.2-nvidia-cdi.json")
    decision, checks = host_checks(spec_from_document(doc, load_catalog()), info, GPU_HOST)
    driver = {c.id: c for c in checks}["gpu.driver"]
    assert driver.status == "fail" and "7" in driver.found  # fix the choice; no silent CPU
    assert not decision.use_gpu
