"""Median wall time of `mlstack --help` and of `mlstack init --yes` for the full stack.

Targets on a 2-core machine: --help under 0.12 s, init --yes under 0.35 s. Usage:
    python bench/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FULL = "api,jupyter,mlflow,postgres,qdrant,redis,trainer"


# As a user runs it: pip writes the bytecode at install (PYTHONDONTWRITEBYTECODE, set in some
# shells and CI images, would make every run of an editable checkout compile every module).
AS_INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(cmd: list[str], before=None) -> float:
    if before:
        before()
    start = time.perf_counter()
    subprocess.run(
        cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=AS_INSTALLED
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    exe = shutil.which("mlstack") or sys.exit("mlstack is not on PATH: pip install . first")
    work = Path(tempfile.mkdtemp(prefix="mlstack-bench-"))
    target = work / "bench-stack"

    def clean() -> None:
        shutil.rmtree(target, ignore_errors=True)

    cases = {
        "mlstack --help": ([exe, "--help"], None),
        "mlstack init --yes (full stack)": (
            [exe, "init", "--yes", str(target), "--with", FULL],
            clean,
        ),
    }
    print(f"{'command':<34} {'median':>8} {'min':>8} {'max':>8}  ({runs} runs, 1 warm-up)")
    for label, (cmd, before) in cases.items():
        wall(cmd, before)
        times = [wall(cmd, before) for _ in range(runs)]
        print(f"{label:<34} {statistics.median(times):8.3f} {min(times):8.3f} {max(times):8.3f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
