"""Facts about this machine that are not Docker's: its GPUs and who holds a TCP port."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlstack.machine.nvidia_smi import NVIDIA_SMI_QUERY, Gpu, parse_nvidia_smi_csv


@dataclass(frozen=True)
class GpuScan:
    """What nvidia-smi said: the GPUs, or why there are none."""

    gpus: tuple[Gpu, ...]
    reason: str = ""

    @property
    def driver(self) -> str | None:
        """The host's NVIDIA driver version, when a GPU answered."""
        return self.gpus[0].driver_version if self.gpus else None


def scan_gpus(timeout: float = 10.0) -> GpuScan:
    """Ask nvidia-smi for the GPUs; never raises."""
    if shutil.which(NVIDIA_SMI_QUERY[0]) is None:
        return GpuScan((), "nvidia-smi is not installed (no NVIDIA driver on this host)")
    try:
        done = subprocess.run(
            NVIDIA_SMI_QUERY, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return GpuScan((), f"nvidia-smi did not answer: {exc}")
    if done.returncode != 0:
        return GpuScan((), f"nvidia-smi failed: {(done.stderr or done.stdout).strip()[:200]}")
    try:
        gpus = parse_nvidia_smi_csv(done.stdout)
    except ValueError as exc:
        return GpuScan((), str(exc))
    return GpuScan(tuple(gpus), "" if gpus else "nvidia-smi found no GPU")


def port_is_free(port: int, address: str = "127.0.0.1") -> bool:
    """Whether a TCP port can be bound on ``address`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "taken"
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def port_holder(port: int) -> str | None:
    """The process listening on a TCP port, from /proc (Linux), or None when unknown."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if fd.readlink().name in inodes:
                    name = (proc / "comm").read_text().strip()
                    return f"{name} (pid {proc.name})"
        except OSError:
            continue
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    return inodes


def missing_gpus(ids: Iterable[str], scan: GpuScan) -> list[str]:
    """The device ids (indexes or UUIDs) among ``ids`` that this host's nvidia-smi did not list."""
    present = {str(g.index) for g in scan.gpus} | {g.uuid for g in scan.gpus if g.uuid}
    return [i for i in ids if i not in present]
