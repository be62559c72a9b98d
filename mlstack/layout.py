"""The names of a stack's files, shared by every stage (a leaf: it imports nothing)."""

from __future__ import annotations

SPEC_FILE = "mlstack.yaml"
BASE, DEV, PROD = "compose.yaml", "compose.override.yaml", "compose.prod.yaml"
ENV_FILE = ".env"
ENV_EXAMPLE = ".env.example"
STATE_DIR = ".mlstack"
MANIFEST = f"{STATE_DIR}/manifest.json"
