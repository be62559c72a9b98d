"""``mlstack.local.yaml``: settings that belong to this machine only (git-ignored, never rendered).

This version reads ``gpu.mode``: a CPU laptop may run a stack whose committed mlstack.yaml says
``required`` on CPU (``optional``), or a GPU box may insist. It decides per host what ``up``,
``status`` and ``doctor`` do; it never changes a generated file, so ``render --check`` and the
manifest never see it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlstack.errors import InputError
from mlstack.layout import LOCAL_FILE
from mlstack.spec import contain
from mlstack.spec.stack_spec import StackSpec
from mlstack.spec.yamlio import load_file

MODES = ("optional", "required")
FIX = f"edit {LOCAL_FILE}: it holds only gpu: {{mode: optional | required}} (README: One repo)"


def load_local(root: Path) -> dict[str, Any]:
    """The machine-local settings: ``{}`` when there is no file; bounded, contained reads."""
    if not os.path.lexists(contain.checked(root, LOCAL_FILE)):
        return {}
    data = load_file(root / LOCAL_FILE, LOCAL_FILE, root=root)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(LOCAL_FILE, "", "must be a YAML mapping", FIX)
    for key in data:
        if key != "gpu":
            raise InputError(LOCAL_FILE, str(key)[:40], "not a machine-local setting", FIX)
    gpu = data.get("gpu")
    if not isinstance(gpu, dict) or set(gpu) - {"mode"}:
        raise InputError(LOCAL_FILE, "gpu", "expected a mapping with mode only", FIX)
    if gpu.get("mode") not in MODES:
        shown = repr(gpu.get("mode"))[:40]
        raise InputError(LOCAL_FILE, "gpu.mode", f"expected optional or required, got {shown}", FIX)
    return data


def with_local(spec: StackSpec, root: Path) -> StackSpec:
    """``spec`` with this machine's settings over the committed ones."""
    mode = load_local(root).get("gpu", {}).get("mode")
    return replace(spec, gpu_mode=mode) if mode else spec
