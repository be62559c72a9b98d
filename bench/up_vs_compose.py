"""`mlstack up` against `docker compose up -d --wait` on the same files, and `mlstack status`.

Needs a Docker engine and the e2e stand-in images (built on first use, see tests/e2e/images).
Each run starts from a stopped stack (volumes kept, images built), so both commands do the same
work: create and start six containers, then wait for every health check. Ratio target <= 1.10;
status target < 1 s. Usage:
    python bench/up_vs_compose.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from images import ensure_images

FULL = "api,jupyter,mlflow,postgres,qdrant,redis"
CA = "/etc/ssl/certs/ca-certificates.crt"


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    exe = shutil.which("mlstack") or sys.exit("mlstack is not on PATH: pip install . first")
    images = ensure_images()
    root = Path(tempfile.mkdtemp(prefix="mlstack-bench-")) / "benchup"
    flags = [a for slot, ref in images.items() for a in ("--image", f"{slot}={ref}")]
    ports = [
        "--port",
        "api=28000",
        "--port",
        "jupyter=28888",
        "--port",
        "mlflow=25000",
        "--port",
        "postgres=25432",
        "--port",
        "qdrant=26333",
        "--port",
        "redis=26379",
    ]
    subprocess.run(
        [exe, "init", "--yes", str(root), "--with", FULL, "--ca-bundle", CA, *flags, *ports],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    down = ["docker", "compose", "down", "--timeout", "5"]
    try:
        subprocess.run(
            [exe, "-C", str(root), "up", "--timeout", "600"], check=True, stdout=subprocess.DEVNULL
        )  # builds the images once
        ours, theirs, status = [], [], []
        for _ in range(runs):
            timed(down, root)
            ours.append(timed([exe, "-C", str(root), "up", "--timeout", "300"], root))
            status.append(timed([exe, "-C", str(root), "status"], root))
            timed(down, root)
            theirs.append(
                timed(["docker", "compose", "up", "-d", "--wait", "--wait-timeout", "300"], root)
            )
        ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        print(f"runs: {runs} (pairs, same files, stack stopped before each)")
        print(f"mlstack up                    median {statistics.median(ours):6.2f} s")
        print(f"docker compose up -d --wait   median {statistics.median(theirs):6.2f} s")
        print(
            f"ratio mlstack/compose         median {statistics.median(ratios):6.3f} "
            f"(min {min(ratios):.3f}, max {max(ratios):.3f})"
        )
        print(f"mlstack status                median {statistics.median(status):6.2f} s")
    finally:
        subprocess.run(
            ["docker", "compose", "down", "--volumes", "--timeout", "5"],
            cwd=root,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


if __name__ == "__main__":
    main()
