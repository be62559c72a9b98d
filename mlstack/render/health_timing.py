"""How often Docker runs a health check: rarely at rest, often where another service waits on it.

A check runs inside its container every interval, forever: at rest that is most of an idle
stack's CPU. The fragments' steady interval is long (10 s) because ``mlstack up`` checks each
starting service itself. Compose's ``depends_on: service_healthy`` waits on Docker's own check,
though, so a service that another one waits for (``waits_for``) is checked every 2 s, with its
retries scaled so that it turns unhealthy after as long as before.
"""

from __future__ import annotations

import math
import re
from typing import Any

GATE_SECONDS = 2
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def duration_seconds(text: Any, default: float) -> float:
    """A Compose duration (``10s``, ``1m30s``, ``500ms``) in seconds; ``default`` if unreadable."""
    value = str(text).strip() if text is not None else ""
    parts = _PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return default
    return sum(float(number) * _UNIT[unit] for number, unit in parts)


def as_gate(healthcheck: dict[str, Any]) -> dict[str, Any]:
    """The health check of a service others wait for: every 2 s, failing after as long."""
    interval = duration_seconds(healthcheck.get("interval"), 30.0)  # Docker's default
    if interval <= GATE_SECONDS:
        return healthcheck
    retries = int(healthcheck.get("retries", 3))
    return {
        **healthcheck,
        "interval": f"{GATE_SECONDS}s",
        "retries": math.ceil(retries * interval / GATE_SECONDS),
    }
