"""The local images the e2e suite puts in mlstack's image slots (`mlstack.yaml` `images:`).

No registry is reachable in e2e, so build.py builds stand-ins that keep the official images'
contracts (ports, data paths, env vars, users, health-check binaries).
"""

import subprocess
import sys
from pathlib import Path

E2E_IMAGES = {
    "python": "mlstack-e2e/python:3.11",
    "redis": "mlstack-e2e/redis:7",
    "postgres": "mlstack-e2e/postgres:15",
    "mlflow": "mlstack-e2e/mlflow:3.17.0",
    "jupyter": "mlstack-e2e/jupyter:2026-07-28",
    "qdrant": "mlstack-e2e/qdrant:standin",
}


def ensure_images(force: bool = False) -> dict[str, str]:
    """Build each image that is missing or stale (seconds if none is); return E2E_IMAGES."""
    build = Path(__file__).with_name("build.py")
    cmd = [sys.executable, str(build)] + (["--force"] if force else [])
    if subprocess.run(cmd).returncode != 0:
        raise RuntimeError(f"building the e2e images failed: {' '.join(cmd)}")
    return dict(E2E_IMAGES)
