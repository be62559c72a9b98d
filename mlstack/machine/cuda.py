"""Decide whether a host driver can run a CUDA version, and name matching images and wheels.

All data comes from NVIDIA's and PyTorch's published tables (see ``component-facts.md`` 7.4-7.6),
encoded here so ``doctor`` and the generators agree without network access.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from mlstack.machine.nvidia_smi import parse_driver_version

# Linux x86_64 minimum driver that supports each toolkit natively (CUDA release notes, Table 3).
# "Update N" is patch N, as in NVIDIA's image tags: 12.8 GA = 12.8.0, 12.8 Update 1 = 12.8.1.
# 11.0.1 was the RC, 11.0.2 the GA. 13.1.1-13.3.0 come from secondary copies of the table.
CUDA_DRIVER_TABLE = MappingProxyType(
    {
        "13.3.0": "610.43.02",
        "13.2.1": "595.58.03",
        "13.2.0": "595.45.04",
        "13.1.1": "590.48.01",
        "13.1.0": "590.44.01",
        "13.0.2": "580.95.05",
        "13.0.1": "580.82.07",
        "13.0.0": "580.65.06",
        "12.9.1": "575.57.08",
        "12.9.0": "575.51.03",
        "12.8.1": "570.124.06",
        "12.8.0": "570.26",
        "12.6.3": "560.35.05",
        "12.6.2": "560.35.03",
        "12.6.1": "560.35.03",
        "12.6.0": "560.28.03",
        "12.5.1": "555.42.06",
        "12.5.0": "555.42.02",
        "12.4.1": "550.54.15",
        "12.4.0": "550.54.14",
        "12.3.1": "545.23.08",
        "12.3.0": "545.23.06",
        "12.2.2": "535.104.05",
        "12.2.1": "535.86.09",
        "12.2.0": "535.54.03",
        "12.1.1": "530.30.02",
        "12.1.0": "530.30.02",
        "12.0.1": "525.85.12",
        "12.0.0": "525.60.13",
        "11.8.0": "520.61.05",
        "11.7.1": "515.48.07",
        "11.7.0": "515.43.04",
        "11.6.2": "510.47.03",
        "11.6.1": "510.47.03",
        "11.6.0": "510.39.01",
        "11.5.2": "495.29.05",
        "11.5.1": "495.29.05",
        "11.5.0": "495.29.05",
        "11.4.4": "470.82.01",
        "11.4.3": "470.82.01",
        "11.4.2": "470.57.02",
        "11.4.1": "470.57.02",
        "11.4.0": "470.42.01",
        "11.3.1": "465.19.01",
        "11.3.0": "465.19.01",
        "11.2.2": "460.32.03",
        "11.2.1": "460.32.03",
        "11.2.0": "460.27.03",
        "11.1.1": "455.32",
        "11.1.0": "455.23",
        "11.0.3": "450.51.06",
        "11.0.2": "450.51.05",
        "11.0.1": "450.36.06",
    }
)

# Oldest driver with which a CUDA major's toolkits run through minor-version compatibility.
# 11.x needs 450.80.02 (newer than 11.0's own driver); 12.x starts at the 12.0 GA driver.
MINOR_COMPAT_FLOOR = MappingProxyType({13: "580.65.06", 12: "525.60.13", 11: "450.80.02"})

# PyTorch wheel variants (download.pytorch.org/whl/cuXYZ). Not every torch release has every
# variant (e.g. 2.9 and 2.10 have no cu129); callers pin torch accordingly.
_TORCH_VARIANTS = ((11, 8), (12, 1), (12, 4), (12, 6), (12, 8), (12, 9), (13, 0))

# First CUDA with nvidia/cuda tags for each Ubuntu (Docker Hub tag list, via replicate/cog's
# scrape): 24.04 came with 12.5.0, but its cuDNN variants only with 12.6.0; 22.04 with 11.7.
# Newest Ubuntu first: the default is the first one the CUDA version has.
_UBUNTU_SINCE = {"ubuntu24.04": (12, 5, 0), "ubuntu22.04": (11, 7, 0)}
_CUDNN_UBUNTU_SINCE = {"ubuntu24.04": (12, 6, 0), "ubuntu22.04": (11, 7, 0)}
_FLAVORS = ("base", "runtime", "devel")
_CUDA_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")

CudaVersion = tuple[int, int, int]


@dataclass(frozen=True)
class CudaVerdict:
    """Whether a driver runs a CUDA version, the driver for native support, and a user message."""

    status: Literal["native", "minor", "unsupported"]
    needed_driver: str
    message: str


def parse_cuda_version(s: str) -> CudaVersion:
    """Parse ``"12.8"`` or ``"12.8.1"``; a missing patch is 0, which is the GA release.

    Raises:
        ValueError: for anything else.
    """
    match = _CUDA_RE.fullmatch(s.strip())
    if not match:
        raise ValueError(f"unparseable CUDA version: {s!r} (expected e.g. 12.8 or 12.8.1)")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def _fmt(version: CudaVersion) -> str:
    return ".".join(map(str, version))


_ROWS = sorted(
    (parse_cuda_version(cuda), driver, parse_driver_version(driver))
    for cuda, driver in CUDA_DRIVER_TABLE.items()
)


def _table_row(cuda: str) -> tuple[CudaVersion, str, str]:
    """Return ``(version, driver, note)`` for ``cuda``, falling back within its major.

    Unknown releases (12.7 never existed; 13.4's minimum is unpublished here) use the nearest
    lower release of the same major, and ``note`` says so.
    """
    version = parse_cuda_version(cuda)
    same_major = [(v, driver) for v, driver, _ in _ROWS if v[0] == version[0]]
    if not same_major:
        raise ValueError(f"unknown CUDA major version: {cuda!r} (the table covers 11.x to 13.x)")
    lower = [row for row in same_major if row[0] <= version]
    row_version, driver = lower[-1] if lower else same_major[0]
    if row_version == version:
        return row_version, driver, ""
    caveat = "; its real minimum may be higher" if row_version < version else ""
    note = (
        f" CUDA {_fmt(version)} is not in NVIDIA's driver table, so the requirement of"
        f" {_fmt(row_version)}, the nearest known {version[0]}.x release, was used{caveat}."
    )
    return row_version, driver, note


def check_driver(driver: str, cuda: str) -> CudaVerdict:
    """Judge whether host driver ``driver`` can run code built with CUDA ``cuda``.

    ``minor`` (minor-version compatibility) is a warning, not a pass: JIT-compiling PTX newer
    than the driver fails, and that is exactly what torch.compile/Triton do.

    Raises:
        ValueError: for an unparseable driver or CUDA version, or an unknown CUDA major.
    """
    have = parse_driver_version(driver)
    version = parse_cuda_version(cuda)
    _, needed, note = _table_row(cuda)
    floor = MINOR_COMPAT_FLOOR[version[0]]
    if have >= parse_driver_version(needed):
        message = f"Driver {driver} supports CUDA {cuda} natively (needs >= {needed})."
        return CudaVerdict("native", needed, message + note)
    if have >= parse_driver_version(floor):
        message = (
            f"Driver {driver} runs CUDA {cuda} only through minor-version compatibility"
            f" (CUDA {version[0]}.x on drivers >= {floor}): JIT compilation of PTX newer than"
            " the driver fails (cudaErrorUnsupportedPtxVersion), which breaks torch.compile"
            " and Triton kernels, and newer APIs may return cudaErrorCallRequiresNewerDriver."
            f" Native support needs driver >= {needed}."
        )
        return CudaVerdict("minor", needed, message + note)
    message = (
        f"Driver {driver} is too old for CUDA {cuda}: it needs driver >= {needed}"
        f" (>= {floor} for minor-version compatibility only)."
    )
    return CudaVerdict("unsupported", needed, message + note)


def newest_native_cuda(driver: str) -> str | None:
    """Return the newest CUDA in the table that ``driver`` supports natively, else ``None``."""
    have = parse_driver_version(driver)
    native = [version for version, _, needed in _ROWS if have >= needed]
    return _fmt(native[-1]) if native else None


def _cudnn_tag(version: CudaVersion) -> str:
    """Name the cuDNN part of a tag: ``cudnn8`` up to 12.2, ``cudnn9`` for 12.3, then ``cudnn``."""
    if version[:2] <= (12, 2):
        return "cudnn8"
    if version[:2] == (12, 3):
        return "cudnn9"
    return "cudnn"


def cuda_image_tag(
    cuda: str, flavor: str = "runtime", os: str | None = None, cudnn: bool = True
) -> str:
    """Build an ``nvidia/cuda`` tag such as ``12.8.1-cudnn-runtime-ubuntu24.04``.

    ``os=None`` picks the newest Ubuntu that has the tag: ubuntu24.04 from CUDA 12.5 (12.6 for
    cuDNN images), ubuntu22.04 from 11.7, else ubuntu20.04. Asking explicitly for an Ubuntu
    older CUDA never shipped on is an error instead of a tag that fails to pull. Other ``os``
    values (``ubi9``, ``rockylinux9``...) pass through unchecked.

    Raises:
        ValueError: for a bad CUDA version or flavor, a cuDNN base image (none exist), or a
            CUDA/Ubuntu combination NVIDIA never published.
    """
    version = parse_cuda_version(cuda)
    if flavor not in _FLAVORS:
        raise ValueError(f"unknown nvidia/cuda flavor: {flavor!r} (expected one of {_FLAVORS})")
    if cudnn and flavor == "base":
        raise ValueError("nvidia/cuda has no cuDNN base images: use runtime/devel or cudnn=False")
    since = _CUDNN_UBUNTU_SINCE if cudnn else _UBUNTU_SINCE
    if os is None:
        os = next((name for name, first in since.items() if version >= first), "ubuntu20.04")
    elif os in since and version < since[os]:
        raise ValueError(
            f"nvidia/cuda has no {os} images for CUDA {_fmt(version)}"
            f"{' with cuDNN' if cudnn else ''} (first: {_fmt(since[os])})"
        )
    parts = [_fmt(version), *([_cudnn_tag(version)] if cudnn else []), flavor, os]
    return "-".join(parts)


def torch_wheel_index(cuda: str | None) -> str:
    """Pick the PyTorch wheel variant for a CUDA version: ``cu128``, ..., or ``cpu`` for ``None``.

    The largest variant not newer than ``cuda`` within the same major: a wheel built for a newer
    minor would need minor-version compatibility, with its JIT limits.

    Raises:
        ValueError: for a bad version, or one older than every variant of its major.
    """
    if cuda is None:
        return "cpu"
    version = parse_cuda_version(cuda)
    fits = [v for v in _TORCH_VARIANTS if v[0] == version[0] and v <= version[:2]]
    if not fits:
        known = ", ".join(f"cu{a}{b}" for a, b in _TORCH_VARIANTS)
        raise ValueError(f"no PyTorch wheel variant for CUDA {cuda!r} (known: {known})")
    major, minor = fits[-1]
    return f"cu{major}{minor}"


def torch_index_url(cuda: str | None) -> str:
    """Return the ``--index-url`` for PyTorch wheels matching ``cuda`` (CPU wheels for ``None``)."""
    return f"https://download.pytorch.org/whl/{torch_wheel_index(cuda)}"


def trainable_native_releases(driver: str) -> list[str]:
    """CUDA releases ``driver`` runs natively that PyTorch ships wheels for, newest first."""
    have = parse_driver_version(driver)
    found = []
    for version, _, needed in reversed(_ROWS):
        if have < needed:
            continue
        try:
            torch_wheel_index(_fmt(version))
        except ValueError:
            continue
        found.append(_fmt(version))
    return found


def image_python(cuda: str) -> str:
    """The Python of the Ubuntu in the nvidia/cuda image for ``cuda``: the GPU trainer's Python.

    nvidia/cuda images carry no Python; the trainer installs Ubuntu's own, so its version follows
    the image's Ubuntu (24.04: 3.12, 22.04: 3.10, 20.04: 3.8).
    """
    tag = cuda_image_tag(cuda)
    return next((py for ubuntu, py in _UBUNTU_PYTHON.items() if ubuntu in tag), "3.8")


_UBUNTU_PYTHON = {"ubuntu24.04": "3.12", "ubuntu22.04": "3.10"}
