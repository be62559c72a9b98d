"""Secrets out of everything mlstack repeats from Docker: errors, compose's complaints, logs.

Docker and Compose quote what they were given: an interpolated ``${POSTGRES_PASSWORD}`` in a
bad port, a URL with a password, an engine error. Every such text goes through :func:`mask`
before it becomes part of an error record, so no ``.env`` value reaches a terminal or a CI log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"
SHORT = 8  # shorter values are masked as whole words only, so "pw" does not shred every message
# user:password@ in a URL, and "password=..." / "token: ..." wherever they appear
URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@")
NAMED = re.compile(
    r"(?i)\b([A-Za-z0-9_]*(?:password|passwd|secret|token|api_?key)[A-Za-z0-9_]*"
    r"[\"']?\s*[=:]\s*[\"']?)([^\s\"',;}]+)"
)


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The values of ``.env`` to hide: all of them but the host-port knobs (plain numbers)."""
    return [
        value
        for key, value in env.items()
        if value and not (key.endswith("_HOST_PORT") and value.isdigit())
    ]


def mask(text: str, values: Iterable[str]) -> str:
    """``text`` with every value, every URL password and every ``password=...`` as ``***``."""
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) >= SHORT:
            text = text.replace(value, MASK)
        elif value:
            text = re.sub(rf"(?<![\w]){re.escape(value)}(?![\w])", MASK, text)
    text = URL_USERINFO.sub(rf"\g<1>{MASK}@", text)
    return NAMED.sub(rf"\g<1>{MASK}", text)
