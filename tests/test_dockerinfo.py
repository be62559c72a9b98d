import json

import pytest
from helpers import RECORDED

from mlstack.machine.docker_info import (
    EngineInfo,
    has_nvidia_runtime,
    parse_compose_version,
    parse_docker_info,
    parse_engine_version,
)


def recorded_json(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


def test_debian_engine_20_10_without_cdi() -> None:
    info = parse_docker_info(
        recorded_json("docker-info-20.10.24.json"), recorded_json("docker-version-20.10.24.json")
    )
    assert info == EngineInfo(
        server_version="20.10.24+dfsg1",
        api_version="1.41",
        runtimes=("io.containerd.runc.v2", "io.containerd.runtime.v1.linux", "runc"),
        default_runtime="runc",
        cdi_spec_dirs=(),
        discovered_devices=(),
        docker_root_dir="/var/lib/docker",
        os="Debian GNU/Linux 12 (bookworm)",
    )
    assert not has_nvidia_runtime(info)
    assert parse_engine_version(info.server_version) == (20, 10, 24)


def test_engine_28_with_nvidia_runtime_and_cdi_devices() -> None:
    info = parse_docker_info(recorded_json("docker-info-28.2.2-nvidia-cdi.json"))
    assert info.server_version == "28.2.2"
    assert info.api_version is None
    assert info.runtimes == ("io.containerd.runc.v2", "nvidia", "runc")
    assert info.default_runtime == "runc"
    assert info.cdi_spec_dirs == ("/etc/cdi", "/var/run/cdi")
    assert info.discovered_devices == (
        "nvidia.com/gpu=0",
        "nvidia.com/gpu=GPU-5b6c2d7e-8f21-4c3a-9a0e-1d2f3b4c5d6e",
        "nvidia.com/gpu=all",
    )
    assert info.os == "Ubuntu 24.04.2 LTS"
    assert has_nvidia_runtime(info)
    assert parse_engine_version(info.server_version) == (28, 2, 2)


def _info(**changes: object) -> EngineInfo:
    base = parse_docker_info(recorded_json("docker-info-20.10.24.json"))
    return EngineInfo(**{**base.__dict__, **changes})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, False),
        ({"runtimes": ("nvidia", "runc")}, True),
        ({"discovered_devices": ("nvidia.com/gpu=all",)}, True),
        ({"discovered_devices": ("nvidia.com/gpu=0",)}, True),
        ({"discovered_devices": ("amd.com/gpu=all",)}, False),
        ({"runtimes": ("nvidia-experimental",)}, False),
    ],
)
def test_has_nvidia_runtime(changes: dict, expected: bool) -> None:
    assert has_nvidia_runtime(_info(**changes)) is expected


def test_cdi_only_engine_without_nvidia_runtime() -> None:
    data = recorded_json("docker-info-28.2.2-nvidia-cdi.json")
    del data["Runtimes"]["nvidia"]
    info = parse_docker_info(data)
    assert "nvidia" not in info.runtimes
    assert has_nvidia_runtime(info)


def test_old_engine_without_cdi_keys() -> None:
    data = recorded_json("docker-info-20.10.24.json")
    del data["CDISpecDirs"]
    info = parse_docker_info(data)
    assert (info.cdi_spec_dirs, info.discovered_devices) == ((), ())


def test_daemon_down() -> None:
    with pytest.raises(ValueError, match="no ServerVersion"):
        parse_docker_info(
            recorded_json("docker-info-daemon-down.json"),
            recorded_json("docker-version-daemon-down.json"),
        )


def test_daemon_down_version_json_gives_no_api_version() -> None:
    info = parse_docker_info(
        recorded_json("docker-info-20.10.24.json"), recorded_json("docker-version-daemon-down.json")
    )
    assert info.api_version is None


@pytest.mark.parametrize(
    "changes",
    [
        {"Runtimes": ["runc"]},
        {"CDISpecDirs": "/etc/cdi"},
        {"DiscoveredDevices": ["nvidia.com/gpu=all"]},
        {"DiscoveredDevices": [{"Source": "cdi"}]},
        {"OperatingSystem": 12},
    ],
)
def test_bad_fields(changes: dict) -> None:
    data = {**recorded_json("docker-info-20.10.24.json"), **changes}
    with pytest.raises(ValueError, match=f"docker info field {next(iter(changes))}"):
        parse_docker_info(data)


def test_not_an_object() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        parse_docker_info(["ServerVersion"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ((RECORDED / "compose-version-short-2.40.3.txt").read_text(), (2, 40, 3)),
        ((RECORDED / "compose-version-long-2.40.3.txt").read_text(), (2, 40, 3)),
        ("2.40.3", (2, 40, 3)),
        ("v2.40.3", (2, 40, 3)),
        ("5.0.0", (5, 0, 0)),
        ("5.6.1\n", (5, 6, 1)),
        ("v5.5.0", (5, 5, 0)),
        ("Docker Compose version v5.6.1", (5, 6, 1)),
        ("Docker Compose version 2.39.2+ds1-1", (2, 39, 2)),
        ("2.24.0-desktop.1", (2, 24, 0)),
        ("Docker Compose version v2.24.0-desktop.1", (2, 24, 0)),
        ("2.39.2+ds1-1", (2, 39, 2)),
        ("docker-compose version 1.29.2, build 5becea4c", (1, 29, 2)),
    ],
)
def test_compose_version(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_compose_version(text) == expected


def test_compose_versions_compare_across_the_major_jump() -> None:
    assert parse_compose_version("5.0.0") > parse_compose_version("2.40.3")
    assert parse_compose_version("2.40.3") > parse_compose_version("2.9.0")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "docker: 'compose' is not a docker command.",
        "2.40",
        "Docker Compose version",
        "2.40.3 extra",
        "unknown flag: --short",
    ],
)
def test_compose_version_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="Docker Compose version"):
        parse_compose_version(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20.10.24+dfsg1", (20, 10, 24)),
        ("28.2.2", (28, 2, 2)),
        ("25.0.3", (25, 0, 3)),
        ("26.1.5+dfsg1", (26, 1, 5)),
        ("27.5.1-1~ubuntu.24.04~noble", (27, 5, 1)),
        ("17.03.2-ce", (17, 3, 2)),
    ],
)
def test_engine_version(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_engine_version(text) == expected


@pytest.mark.parametrize("text", ["", "twenty", "28.2", "Docker version 28.2.2, build e6534b4"])
def test_engine_version_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="Docker Engine version"):
        parse_engine_version(text)
