import pytest
from helpers import RECORDED

from mlstack.machine.nvidia_smi import (
    NVIDIA_SMI_QUERY,
    Gpu,
    parse_driver_version,
    parse_nvidia_smi_csv,
    parse_smi_header_cuda,
)


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


def test_query_asks_for_the_parsed_fields() -> None:
    assert NVIDIA_SMI_QUERY[0] == "nvidia-smi"
    assert "--query-gpu=index,name,memory.total,driver_version,uuid" in NVIDIA_SMI_QUERY
    assert "--format=csv,noheader,nounits" in NVIDIA_SMI_QUERY


def test_single_h100() -> None:
    assert parse_nvidia_smi_csv(recorded("nvidia-smi-query-h100-x1.csv")) == [
        Gpu(
            index=0,
            name="NVIDIA H100 80GB HBM3",
            memory_mib=81559,
            driver_version="570.124.06",
            uuid="GPU-5b6c2d7e-8f21-4c3a-9a0e-1d2f3b4c5d6e",
        )
    ]


def test_eight_a100s() -> None:
    gpus = parse_nvidia_smi_csv(recorded("nvidia-smi-query-a100-x8.csv"))
    assert [gpu.index for gpu in gpus] == list(range(8))
    assert {gpu.name for gpu in gpus} == {"NVIDIA A100-SXM4-80GB"}
    assert {gpu.memory_mib for gpu in gpus} == {81920}
    assert {gpu.driver_version for gpu in gpus} == {"535.104.05"}
    assert len({gpu.uuid for gpu in gpus}) == 8


def test_mig_gpu_reports_no_memory_and_padding_is_stripped() -> None:
    mig, plain = parse_nvidia_smi_csv(recorded("nvidia-smi-query-a100-mig.csv"))
    assert mig.memory_mib is None
    assert mig.uuid == "GPU-9e8d7c6b-5a49-3827-1605-f4e3d2c1b0a9"
    assert plain == Gpu(
        index=1,
        name="NVIDIA A100-SXM4-40GB",
        memory_mib=40960,
        driver_version="550.54.15",
        uuid="GPU-8d7c6b5a-4938-2716-05f4-e3d2c1b0a9f8",
    )


@pytest.mark.parametrize("name", ["nvidia-smi-query-no-devices.txt", "nvidia-smi-query-empty.csv"])
def test_no_gpu(name: str) -> None:
    assert parse_nvidia_smi_csv(recorded(name)) == []


@pytest.mark.parametrize(
    ("row", "name", "memory", "uuid"),
    [
        (
            "0, Quadro RTX 8000, Rev. B, 49152, 535.104.05, GPU-1",
            "Quadro RTX 8000, Rev. B",
            49152,
            "GPU-1",
        ),
        ("0, Tesla T4, [Not Supported], 535.104.05, [Not Supported]", "Tesla T4", None, None),
        ("0, GRID A100-4C, N/A, 535.104.05, [N/A]", "GRID A100-4C", None, None),
        ("0,Tesla T4,15360,535.104.05,GPU-2\r", "Tesla T4", 15360, "GPU-2"),
    ],
)
def test_row_variants(row: str, name: str, memory: int | None, uuid: str | None) -> None:
    (gpu,) = parse_nvidia_smi_csv(row)
    assert (gpu.name, gpu.memory_mib, gpu.uuid) == (name, memory, uuid)


@pytest.mark.parametrize(
    "text",
    [
        recorded("nvidia-smi-no-driver.txt"),
        "0, Tesla T4, 15360, 535.104.05",
        "x, Tesla T4, 15360, 535.104.05, GPU-1",
        "0, , 15360, 535.104.05, GPU-1",
        "0, Tesla T4, 15 GiB, 535.104.05, GPU-1",
        "0, Tesla T4, 15360, [N/A], GPU-1",
    ],
)
def test_unparseable_rows(text: str) -> None:
    with pytest.raises(ValueError, match="nvidia-smi row"):
        parse_nvidia_smi_csv(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("570.124.06", (570, 124, 6)),
        ("535.104.05", (535, 104, 5)),
        ("580.65.06", (580, 65, 6)),
        ("560.28.03", (560, 28, 3)),
        ("610.43.02", (610, 43, 2)),
        ("570.26", (570, 26)),
        (" 620.10\n", (620, 10)),
    ],
)
def test_driver_version(text: str, expected: tuple[int, ...]) -> None:
    assert parse_driver_version(text) == expected


def test_driver_versions_compare_numerically() -> None:
    assert parse_driver_version("570.124.06") > parse_driver_version("570.26")


@pytest.mark.parametrize("text", ["", "570.", "v570.124.06", "570.124.06-1", "[N/A]"])
def test_bad_driver_version(text: str) -> None:
    with pytest.raises(ValueError, match="driver version"):
        parse_driver_version(text)


def test_smi_header_cuda() -> None:
    assert parse_smi_header_cuda(recorded("nvidia-smi-h100.txt")) == "12.8"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("| NVIDIA-SMI 580.65.06   Driver Version: 580.65.06   CUDA Version: 13.0     |", "13.0"),
        ("| NVIDIA-SMI 470.82.01   Driver Version: 470.82.01   CUDA Version: N/A      |", None),
        (recorded("nvidia-smi-no-driver.txt"), None),
        ("", None),
    ],
)
def test_smi_header_cuda_variants(text: str, expected: str | None) -> None:
    assert parse_smi_header_cuda(text) == expected
