"""Health on Kubernetes: probes from the compose health check, and waits for dependencies.

- startupProbe: the health check, given the start period plus its retries to pass once;
- readinessProbe: HTTP where mlstack probes the service over HTTP (``probe.kind: http``), the
  health check otherwise;
- livenessProbe: the health check (the process answers), never the readiness endpoint, so a
  failing dependency does not restart a healthy API;
- ``depends_on: service_healthy``: an initContainer per dependency that runs the dependency's
  own check, in the dependency's image and environment, against its Service.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mlstack.errors import InputError
from mlstack.export.model import ExportService, Health

LOOPBACK = re.compile(r"\b127\.0\.0\.1\b")
WAIT_SECONDS = 2


def _exec(health: Health) -> dict[str, Any]:
    return {"exec": {"command": list(health.test)}}


def _timing(health: Health, failures: int) -> dict[str, Any]:
    return {
        "periodSeconds": health.interval,
        "timeoutSeconds": health.timeout,
        "failureThreshold": failures,
    }


def startup_failures(health: Health) -> int:
    """Checks a starting container may fail: its start period, then its retries (as Docker)."""
    return math.ceil(health.start_period / health.interval) + health.retries


def probes(svc: ExportService) -> dict[str, Any]:
    """startupProbe, readinessProbe and livenessProbe of a long-running container."""
    health = svc.health
    if health is None:
        return _tcp_probes(svc) if svc.port else {}
    if svc.frag.probe.get("kind") == "http" and svc.port:
        path = svc.frag.probe.get("path", "/")
        ready: dict[str, Any] = {"httpGet": {"path": path, "port": svc.port}}
    else:
        ready = _exec(health)
    return {
        "startupProbe": {**_exec(health), **_timing(health, startup_failures(health))},
        "readinessProbe": {**ready, **_timing(health, health.retries)},
        "livenessProbe": {**_exec(health), **_timing(health, health.retries)},
    }


def _tcp_probes(svc: ExportService) -> dict[str, Any]:
    """A service without a health check: its port must accept connections."""
    tcp = {"tcpSocket": {"port": svc.port}, "periodSeconds": 5, "timeoutSeconds": 3}
    return {
        "startupProbe": {**tcp, "failureThreshold": 60},
        "readinessProbe": {**tcp, "failureThreshold": 3},
        "livenessProbe": {**tcp, "failureThreshold": 6},
    }


def check_against(dep: ExportService, host: str) -> str:
    """The dependency's own health check, pointed at ``host`` instead of 127.0.0.1."""
    if dep.health is None:
        if dep.port is None:
            raise _no_check(dep, "has no health check and no port")
        return f"bash -c ':> /dev/tcp/{host}/{dep.port}'"
    text = dep.health.shell
    if not LOOPBACK.search(text):
        raise _no_check(dep, "names no address (127.0.0.1) mlstack can point at its Service")
    return LOOPBACK.sub(host, text)


def _no_check(dep: ExportService, why: str) -> InputError:
    return InputError(
        dep.frag.source,
        "service.healthcheck.test",
        f"other services wait for {dep.name}, but its health check {why}",
        "write the check against 127.0.0.1 (e.g. `redis-cli -h 127.0.0.1 ping`), so the same "
        "check can run from a dependant against the Service",
    )


def wait_script(dep: ExportService, host: str | None = None) -> str:
    """A shell loop that returns once the dependency's check passes against its Service."""
    check = check_against(dep, host or dep.name)
    return (
        f"until {check}; do echo 'waiting for {dep.name}'; sleep {WAIT_SECONDS}; done; "
        f"echo '{dep.name} is healthy'"
    )


def wait_container(dep: ExportService, env: list[dict[str, Any]]) -> dict[str, Any]:
    """The initContainer that holds a pod until ``dep`` is healthy (its image, its env)."""
    container: dict[str, Any] = {
        "name": f"wait-for-{dep.name}",
        "image": dep.image,
        "command": ["/bin/sh", "-c", wait_script(dep)],
    }
    if env:
        container["env"] = env
    return container
