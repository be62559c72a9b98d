import pytest
from helpers import RECORDED

from mlstack.machine.cuda import (
    CUDA_DRIVER_TABLE,
    MINOR_COMPAT_FLOOR,
    check_driver,
    cuda_image_tag,
    newest_native_cuda,
    parse_cuda_version,
    torch_index_url,
    torch_wheel_index,
)
from mlstack.machine.nvidia_smi import (
    parse_driver_version,
    parse_nvidia_smi_csv,
    parse_smi_header_cuda,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12.8", (12, 8, 0)), ("12.8.1", (12, 8, 1)), ("11.0.3", (11, 0, 3)), (" 13.0 ", (13, 0, 0))],
)
def test_parse_cuda_version(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_cuda_version(text) == expected


@pytest.mark.parametrize("text", ["", "12", "12.8.1.2", "cu128", "v12.8", "12.x", "12.8-1"])
def test_parse_cuda_version_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="CUDA version"):
        parse_cuda_version(text)


def test_table_covers_11_0_to_13_3_and_grows_monotonically() -> None:
    rows = sorted(
        (parse_cuda_version(c), parse_driver_version(d)) for c, d in CUDA_DRIVER_TABLE.items()
    )
    assert rows[0][0] == (11, 0, 1)
    assert rows[-1][0] == (13, 3, 0)
    drivers = [driver for _, driver in rows]
    assert drivers == sorted(drivers)
    for cuda in ("12.8.0", "12.8.1", "12.6.3", "13.1.1", "13.2.0", "13.2.1"):
        assert cuda in CUDA_DRIVER_TABLE


@pytest.mark.parametrize(
    ("driver", "cuda", "status", "needed"),
    [
        # exactly at the native boundary, and one step below it
        ("570.124.06", "12.8.1", "native", "570.124.06"),
        ("570.124.05", "12.8.1", "minor", "570.124.06"),
        ("570.26", "12.8", "native", "570.26"),
        ("580.65.06", "13.0.0", "native", "580.65.06"),
        ("580.65.06", "13.0.1", "minor", "580.82.07"),
        ("610.43.02", "13.3.0", "native", "610.43.02"),
        ("560.28.03", "12.6.0", "native", "560.28.03"),
        ("560.28.03", "12.6.3", "minor", "560.35.05"),
        # minor-version compatibility floors, exactly and just below
        ("525.60.13", "12.8.1", "minor", "570.124.06"),
        ("525.60.12", "12.8.1", "unsupported", "570.124.06"),
        ("450.80.02", "11.8", "minor", "520.61.05"),
        ("450.80.01", "11.8", "unsupported", "520.61.05"),
        ("580.65.05", "13.0.0", "unsupported", "580.65.06"),
        # the cases from the field
        ("535.104.05", "12.8.1", "minor", "570.124.06"),
        ("470.82.01", "12.8.1", "unsupported", "570.124.06"),
        ("470.82.01", "12.8", "unsupported", "570.26"),
        ("575.57.08", "13.0.1", "unsupported", "580.82.07"),
        ("535.104.05", "12.2.2", "native", "535.104.05"),
        ("470.82.01", "11.4.4", "native", "470.82.01"),
        # newer than the table's newest row: native for everything in it
        ("620.10", "13.3.0", "native", "610.43.02"),
        ("620.10", "12.8.1", "native", "570.124.06"),
        ("620.10", "11.0.3", "native", "450.51.06"),
    ],
)
def test_check_driver(driver: str, cuda: str, status: str, needed: str) -> None:
    verdict = check_driver(driver, cuda)
    assert (verdict.status, verdict.needed_driver) == (status, needed)
    assert needed in verdict.message
    assert "not in NVIDIA's driver table" not in verdict.message


def test_minor_message_names_the_jit_limit_and_native_driver() -> None:
    message = check_driver("535.104.05", "12.8.1").message
    assert "minor-version compatibility" in message
    assert "PTX" in message
    assert "torch.compile" in message
    assert "Triton" in message
    assert ">= 570.124.06" in message


def test_unsupported_message_names_both_drivers() -> None:
    message = check_driver("575.57.08", "13.0.1").message
    assert ">= 580.82.07" in message
    assert MINOR_COMPAT_FLOOR[13] in message


@pytest.mark.parametrize(
    ("driver", "cuda", "status", "used", "needed"),
    [
        ("560.35.05", "12.7", "native", "12.6.3", "560.35.05"),
        ("560.35.03", "12.7.1", "minor", "12.6.3", "560.35.05"),
        ("610.43.02", "13.4.1", "native", "13.3.0", "610.43.02"),
        ("595.58.03", "13.4.2", "minor", "13.3.0", "610.43.02"),
        ("570.124.06", "12.8.2", "native", "12.8.1", "570.124.06"),
        ("450.36.06", "11.0", "native", "11.0.1", "450.36.06"),
    ],
)
def test_unknown_release_uses_nearest_row_of_its_major(
    driver: str, cuda: str, status: str, used: str, needed: str
) -> None:
    verdict = check_driver(driver, cuda)
    assert (verdict.status, verdict.needed_driver) == (status, needed)
    assert "not in NVIDIA's driver table" in verdict.message
    assert used in verdict.message


@pytest.mark.parametrize(("driver", "cuda"), [("580.65.06", "14.0"), ("450.80.02", "10.2")])
def test_unknown_major_is_an_error(driver: str, cuda: str) -> None:
    with pytest.raises(ValueError, match="unknown CUDA major"):
        check_driver(driver, cuda)


def test_bad_driver_is_an_error() -> None:
    with pytest.raises(ValueError, match="driver version"):
        check_driver("[N/A]", "12.8")


@pytest.mark.parametrize(
    ("driver", "expected"),
    [
        ("570.124.06", "12.8.1"),
        ("570.124.05", "12.8.0"),
        ("535.104.05", "12.2.2"),
        ("580.65.06", "13.0.0"),
        ("580.95.05", "13.0.2"),
        ("560.35.03", "12.6.2"),
        ("610.43.02", "13.3.0"),
        ("620.10", "13.3.0"),
        ("450.51.05", "11.0.2"),
        ("440.33.01", None),
    ],
)
def test_newest_native_cuda(driver: str, expected: str | None) -> None:
    assert newest_native_cuda(driver) == expected


def test_recorded_h100_host_agrees_with_its_header() -> None:
    (gpu,) = parse_nvidia_smi_csv((RECORDED / "nvidia-smi-query-h100-x1.csv").read_text())
    header_cuda = parse_smi_header_cuda((RECORDED / "nvidia-smi-h100.txt").read_text())
    assert header_cuda == "12.8"
    assert newest_native_cuda(gpu.driver_version) == "12.8.1"
    assert check_driver(gpu.driver_version, header_cuda).status == "native"


def test_recorded_a100_host_runs_cuda_12_8_only_through_minor_compat() -> None:
    gpus = parse_nvidia_smi_csv((RECORDED / "nvidia-smi-query-a100-x8.csv").read_text())
    assert check_driver(gpus[0].driver_version, "12.8.1").status == "minor"
    assert torch_wheel_index(newest_native_cuda(gpus[0].driver_version)) == "cu121"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("12.8.1",), "12.8.1-cudnn-runtime-ubuntu24.04"),
        (("12.8",), "12.8.0-cudnn-runtime-ubuntu24.04"),
        (("13.0.1", "devel"), "13.0.1-cudnn-devel-ubuntu24.04"),
        (("12.4.1",), "12.4.1-cudnn-runtime-ubuntu22.04"),
        (("12.4.1", "devel", "ubuntu22.04"), "12.4.1-cudnn-devel-ubuntu22.04"),
        (("12.3.2",), "12.3.2-cudnn9-runtime-ubuntu22.04"),
        (("12.2.2",), "12.2.2-cudnn8-runtime-ubuntu22.04"),
        (("12.1.1",), "12.1.1-cudnn8-runtime-ubuntu22.04"),
        (("11.8.0",), "11.8.0-cudnn8-runtime-ubuntu22.04"),
        (("11.6.2",), "11.6.2-cudnn8-runtime-ubuntu20.04"),
        (("12.5.1",), "12.5.1-cudnn-runtime-ubuntu22.04"),
        (("12.5.1", "runtime", None, False), "12.5.1-runtime-ubuntu24.04"),
        (("12.4.1", "base", None, False), "12.4.1-base-ubuntu22.04"),
        (("12.6.3", "base", None, False), "12.6.3-base-ubuntu24.04"),
        (("12.8.1", "runtime", "ubi9"), "12.8.1-cudnn-runtime-ubi9"),
    ],
)
def test_cuda_image_tag(args: tuple, expected: str) -> None:
    assert cuda_image_tag(*args) == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cuda": "12.4.1", "os": "ubuntu24.04"}, "no ubuntu24.04 images"),
        ({"cuda": "12.5.1", "os": "ubuntu24.04"}, "no ubuntu24.04 images"),
        ({"cuda": "11.6.2", "os": "ubuntu22.04"}, "no ubuntu22.04 images"),
        ({"cuda": "12.8.1", "flavor": "base"}, "no cuDNN base images"),
        ({"cuda": "12.8.1", "flavor": "slim"}, "flavor"),
        ({"cuda": "cu128"}, "CUDA version"),
    ],
)
def test_cuda_image_tag_rejects(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cuda_image_tag(**kwargs)


@pytest.mark.parametrize(
    ("cuda", "variant"),
    [
        (None, "cpu"),
        ("13.0", "cu130"),
        ("13.2.1", "cu130"),
        ("12.9", "cu129"),
        ("12.9.1", "cu129"),
        ("12.8.1", "cu128"),
        ("12.8", "cu128"),
        ("12.7", "cu126"),
        ("12.6.3", "cu126"),
        ("12.5.1", "cu124"),
        ("12.4", "cu124"),
        ("12.3.2", "cu121"),
        ("12.2", "cu121"),
        ("12.1.1", "cu121"),
        ("11.8", "cu118"),
    ],
)
def test_torch_wheel_index(cuda: str | None, variant: str) -> None:
    assert torch_wheel_index(cuda) == variant
    assert torch_index_url(cuda) == f"https://download.pytorch.org/whl/{variant}"


@pytest.mark.parametrize("cuda", ["12.0.1", "11.7", "14.0", "10.2"])
def test_torch_wheel_index_rejects_versions_without_a_wheel(cuda: str) -> None:
    with pytest.raises(ValueError, match="no PyTorch wheel"):
        torch_wheel_index(cuda)


def test_a_real_h100_host_agrees_with_its_header() -> None:
    """Captured on a real H100 (driver 580.159.04, nvidia-smi's header: CUDA 13.0)."""
    (gpu,) = parse_nvidia_smi_csv((RECORDED / "nvidia-smi-query-h100-580-real.csv").read_text())
    assert (gpu.index, gpu.name, gpu.memory_mib) == (0, "NVIDIA H100 80GB HBM3", 81559)
    assert gpu.driver_version == "580.159.04" and gpu.uuid.startswith("GPU-")
    header_cuda = parse_smi_header_cuda((RECORDED / "nvidia-smi-h100-580-real.txt").read_text())
    assert header_cuda == "13.0"
    assert check_driver(gpu.driver_version, header_cuda).status == "native"
    assert check_driver(gpu.driver_version, "12.8.1").status == "native"  # older CUDA: fine
    assert newest_native_cuda(gpu.driver_version).startswith("13.0")
