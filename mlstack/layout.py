"""The names of a stack's files and profiles, shared by every stage (a leaf: it imports nothing)."""

from __future__ import annotations

from enum import Enum

SPEC_FILE = "mlstack.yaml"
BASE, DEV, PROD = "compose.yaml", "compose.override.yaml", "compose.prod.yaml"
ENV_FILE = ".env"
GPU_FILE = "compose.gpu.yaml"  # the GPU reservations: applied only on hosts with a usable GPU
LOCAL_FILE = "mlstack.local.yaml"  # this machine's settings (git-ignored)
LOCAL_COMPOSE = "compose.local.yaml"  # written by `up` from LOCAL_FILE: devices, images (ignored)
ENV_EXAMPLE = ".env.example"
STATE_DIR = ".mlstack"
MANIFEST = f"{STATE_DIR}/manifest.json"


class Profile(str, Enum):
    """Where a stack runs: dev (``compose.override.yaml``) or prod (``compose.prod.yaml``)."""

    DEV = "dev"
    PROD = "prod"

    def __str__(self) -> str:
        return self.value

    @property
    def compose_files(self) -> tuple[str, str]:
        """The compose files of the profile, base first (the order Compose merges them in)."""
        return (BASE, DEV if self is Profile.DEV else PROD)
