"""A small content-addressed cache of work that only depends on bytes: parsing and validation.

Keys are digests of the exact input (and of mlstack's version), so a changed file is always
parsed and validated again; a cache that cannot be read or written is simply not used. It keeps
YAML parsing and jsonschema (~100 ms to import) off the start of every command.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

VERSION = "1"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mlstack`` (default ``~/.cache/mlstack``); ``MLSTACK_NO_CACHE`` disables."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlstack"


def key(*parts: str) -> str:
    """The digest of every input a cached result depends on."""
    return hashlib.sha256("\0".join((VERSION, *parts)).encode()).hexdigest()


def remembered(kind: str, digest: str, compute: Callable[[], Any]) -> Any:
    """``compute()``'s JSON-able result, stored under ``kind/digest``."""
    if os.environ.get("MLSTACK_NO_CACHE"):
        return compute()
    path = cache_dir() / kind / digest[:2] / f"{digest}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(value), encoding="utf-8")
        temp.replace(path)
    except (OSError, TypeError, ValueError):  # e.g. a YAML date: fine, just not cached
        pass
    return value
