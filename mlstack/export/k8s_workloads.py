"""Kubernetes objects per service: the workload that fits it, its Service, its claims.

- a data store run from an upstream image with named volumes (Postgres, Qdrant, Redis): a
  StatefulSet with volumeClaimTemplates and a headless Service;
- a service mlstack builds that keeps data (MLflow, Jupyter): a Deployment with a
  ReadWriteOnce claim and ``strategy: Recreate`` (two pods never hold the claim at once);
- any other long-running service (the API): a Deployment and a Service;
- a job (the trainer): a Job, created suspended (``up`` does not start it either).
"""

from __future__ import annotations

from typing import Any

from mlstack.export.k8s_pod import PodOptions, config_name, pod_spec
from mlstack.export.model import ExportService

NAME_LABEL = "app.kubernetes.io/name"
PART_OF = "app.kubernetes.io/part-of"
VOLUME_SIZE = "10Gi"


def labels(project: str, svc: ExportService) -> dict[str, str]:
    """The labels of every object of a service."""
    return {NAME_LABEL: svc.name, PART_OF: project}


def is_stateful(svc: ExportService) -> bool:
    """Upstream image with data: a StatefulSet."""
    return bool(svc.volumes) and not svc.built and not svc.is_job


def workload_kind(svc: ExportService) -> str:
    """The kind of the object that runs the service."""
    if svc.is_job:
        return "Job"
    return "StatefulSet" if is_stateful(svc) else "Deployment"


def api_version(kind: str) -> str:
    """The API group/version of a workload kind."""
    return "batch/v1" if kind == "Job" else "apps/v1"


def _meta(project: str, svc: ExportService, name: str | None = None) -> dict[str, Any]:
    return {"name": name or svc.name, "labels": labels(project, svc)}


def _claim() -> dict[str, Any]:
    return {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": VOLUME_SIZE}},
    }


def base_objects(
    project: str, svc: ExportService, deps: list[ExportService], options: PodOptions
) -> list[dict[str, Any]]:
    """Every object of one service in the base: config maps, claims, workload, Service."""
    objects = [_config_map(project, svc, source, options) for source in _generated(svc, options)]
    kind = workload_kind(svc)
    template = {
        "metadata": {"labels": labels(project, svc)},
        "spec": pod_spec(svc, deps, options, claims=kind != "StatefulSet"),
    }
    if kind != "StatefulSet":
        objects += [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": _meta(project, svc, vol),
                "spec": _claim(),
            }
            for vol, _ in svc.volumes
        ]
    objects.append(
        {
            "apiVersion": api_version(kind),
            "kind": kind,
            "metadata": _meta(project, svc),
            "spec": _workload_spec(kind, svc, template),
        }
    )
    if svc.container_ports and not svc.is_job:
        objects.append(_service(project, svc, headless=kind == "StatefulSet"))
    return objects


def _workload_spec(kind: str, svc: ExportService, template: dict[str, Any]) -> dict[str, Any]:
    if kind == "Job":
        return {"suspend": True, "backoffLimit": 0, "template": template}
    spec: dict[str, Any] = {"replicas": 1, "selector": {"matchLabels": {NAME_LABEL: svc.name}}}
    if kind == "StatefulSet":
        spec["serviceName"] = svc.name
    elif svc.volumes:
        spec["strategy"] = {"type": "Recreate"}
    spec["template"] = template
    if kind == "StatefulSet":
        spec["volumeClaimTemplates"] = [
            {"metadata": {"name": vol}, "spec": _claim()} for vol, _ in svc.volumes
        ]
    return spec


def _service(project: str, svc: ExportService, headless: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {NAME_LABEL: svc.name},
        "ports": [
            {"name": name, "port": port, "targetPort": port} for name, port in svc.container_ports
        ],
    }
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(project, svc), "spec": spec}


def _generated(svc: ExportService, options: PodOptions) -> list[str]:
    return [b.source for b in svc.binds if b.source in options.generated]


def _config_map(
    project: str, svc: ExportService, source: str, options: PodOptions
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(project, svc, config_name(svc, source)),
        "data": dict(sorted(options.generated[source].items())),
    }


def ingress(project: str, svc: ExportService) -> dict[str, Any]:
    """The prod entry for a published service (the API): every host, path ``/``."""
    backend = {"service": {"name": svc.name, "port": {"number": svc.port}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(project, svc),
        "spec": {
            "rules": [
                {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
            ]
        },
    }
