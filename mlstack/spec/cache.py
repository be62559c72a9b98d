"""A small content-addressed cache of work that only depends on bytes: parsing and validation.

Keys are digests of the exact input (and of mlstack's cache version), so a changed file is
always parsed and validated again; a cache that cannot be read or written is simply not used.
It keeps YAML parsing and jsonschema (~100 ms to import) off the start of every command.

A cached value must be what computing it again would give, types included: only values made
of JSON's own types (dict with str keys, list, str, int, float, bool, None) are stored, since
exactly those come back from JSON unchanged. Anything else (a YAML date, say) is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

# 2: parse results bounded (spec/limits.py), exact keys and values; 3: a pattern ends at its $
VERSION = "3"
JSON_SCALARS = (str, int, float, bool, type(None))
# entries this process has read or written, as JSON text: one command loads the catalog several
# times (render, then ports, probes), and text decoded afresh cannot be mutated by a caller
_IN_PROCESS: dict[str, str] = {}
IN_PROCESS_ENTRIES = 256


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mlstack`` (default ``~/.cache/mlstack``); ``MLSTACK_NO_CACHE`` disables."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlstack"


def key(*parts: str) -> str:
    """The digest of every input a cached result depends on."""
    return hashlib.sha256("\0".join((VERSION, *parts)).encode()).hexdigest()


def is_json_exact(value: Any) -> bool:
    """Whether ``json.loads(json.dumps(value))`` gives back ``value`` with the very same types.

    Iterative (no recursion limit) and strict about types: ``type(x) is int``, so ruamel's
    scalar subclasses, ``bool`` posing as ``int`` keys and the like do not pass for plain data.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            if any(type(k) is not str for k in item):
                return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind not in JSON_SCALARS:
            return False
    return True


def remembered(kind: str, digest: str, compute: Callable[[], Any]) -> Any:
    """``compute()``'s result, stored under ``kind/digest`` when it survives JSON exactly."""
    if os.environ.get("MLSTACK_NO_CACHE"):
        return compute()
    path = cache_dir() / kind / digest[:2] / f"{digest}.json"
    try:
        text = _IN_PROCESS.get(str(path)) or path.read_text(encoding="utf-8")
        value = json.loads(text)
    except (OSError, ValueError):
        pass
    else:
        _keep(str(path), text)
        return value
    value = compute()
    if not is_json_exact(value):
        return value
    try:
        text = json.dumps(value)
        _keep(str(path), text)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(text, encoding="utf-8")
        temp.replace(path)
    except (OSError, ValueError):
        pass
    return value


def _keep(path: str, text: str) -> None:
    """Remember an entry for this process (the oldest goes beyond IN_PROCESS_ENTRIES)."""
    _IN_PROCESS[path] = text
    if len(_IN_PROCESS) > IN_PROCESS_ENTRIES:
        del _IN_PROCESS[next(iter(_IN_PROCESS))]
