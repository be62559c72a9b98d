"""Parse what ``nvidia-smi`` prints about the host's GPUs and driver.

The parsers take captured text and never run anything, so ``doctor`` can test them against
recorded outputs and run the command (``NVIDIA_SMI_QUERY``) wherever it likes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The argv whose output parse_nvidia_smi_csv reads; a tuple so no caller can mutate it.
NVIDIA_SMI_QUERY: tuple[str, ...] = (
    "nvidia-smi",
    "--query-gpu=index,name,memory.total,driver_version,uuid",
    "--format=csv,noheader,nounits",
)

_NO_DEVICES = "No devices were found"
_DRIVER_RE = re.compile(r"\d+(?:\.\d+)*")
_SMI_CUDA_RE = re.compile(r"CUDA Version:\s*(\d+\.\d+)")


@dataclass(frozen=True)
class Gpu:
    """One row of the ``nvidia-smi`` query; ``None`` where the driver reports no value."""

    index: int
    name: str
    memory_mib: int | None
    driver_version: str
    uuid: str | None


def _optional(value: str) -> str | None:
    """Map nvidia-smi's placeholders (``[N/A]``, ``[Not Supported]``, ``N/A``) to ``None``.

    MIG mode and some virtualised GPUs report these instead of a number.
    """
    if not value or value == "N/A" or (value.startswith("[") and value.endswith("]")):
        return None
    return value


def parse_driver_version(text: str) -> tuple[int, ...]:
    """Turn a driver version such as ``570.124.06`` into a tuple that compares numerically.

    NVIDIA compares the parts as numbers (``570.124.06`` is newer than ``570.26``), so string
    comparison would be wrong.

    Raises:
        ValueError: if ``text`` is not dot-separated numbers.
    """
    value = text.strip()
    if not _DRIVER_RE.fullmatch(value):
        raise ValueError(f"unparseable NVIDIA driver version: {text!r}")
    return tuple(int(part) for part in value.split("."))


def parse_nvidia_smi_csv(text: str) -> list[Gpu]:
    """Parse the output of ``NVIDIA_SMI_QUERY``; an empty list means no GPU.

    nvidia-smi does not quote CSV fields. The name is the only free-text field (index, memory,
    driver version and UUID never contain commas), so the row is split from both ends and
    whatever is left in the middle, commas included, is the name.

    Raises:
        ValueError: for a row that does not have the five fields, or a bad index, memory or
            driver version (e.g. when nvidia-smi printed an error message instead).
    """
    gpus = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == _NO_DEVICES:
            continue
        index, _, rest = line.partition(",")
        fields = rest.rsplit(",", 3)
        if len(fields) != 4:
            raise ValueError(f"unparseable nvidia-smi row (expected 5 fields): {line!r}")
        name, memory, driver, uuid = (field.strip() for field in fields)
        index = index.strip()
        memory_value = _optional(memory)
        if (
            not index.isdigit()
            or not name
            or (memory_value is not None and not memory_value.isdigit())
        ):
            raise ValueError(f"unparseable nvidia-smi row (index, name or memory): {line!r}")
        try:
            parse_driver_version(driver)
        except ValueError:
            raise ValueError(f"unparseable nvidia-smi row (driver version): {line!r}") from None
        gpus.append(
            Gpu(
                index=int(index),
                name=name,
                memory_mib=None if memory_value is None else int(memory_value),
                driver_version=driver,
                uuid=_optional(uuid),
            )
        )
    return gpus


def parse_smi_header_cuda(text: str) -> str | None:
    """Return the ``CUDA Version`` from plain ``nvidia-smi`` output, e.g. ``"12.8"``.

    That number is the newest CUDA the driver supports, not an installed toolkit; ``None`` when
    the header lacks it (old drivers print no CUDA version, some print ``N/A``).
    """
    match = _SMI_CUDA_RE.search(text)
    return match.group(1) if match else None
