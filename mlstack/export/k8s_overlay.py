"""The dev and prod overlays: what a profile changes, as strategic-merge patches, and its notes.

A patch holds only what the profile's compose variant changes on top of the base (a command,
environment values, prod hardening: read-only root with emptyDirs for the tmpfs paths,
``runAsNonRoot``, dropped capabilities, ``allowPrivilegeEscalation: false``, limits).
"""

from __future__ import annotations

from typing import Any

from mlstack.export.carry import Note, unknown_keys
from mlstack.export.k8s_pod import PodOptions, env_list, k8s_text
from mlstack.export.k8s_workloads import api_version, workload_kind
from mlstack.export.model import ExportService
from mlstack.export.values import cpu_quantity, quantity
from mlstack.spec.stack_spec import size_in_bytes

TARGET = "Kubernetes"


def _security(svc: ExportService) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if svc.read_only:
        context["readOnlyRootFilesystem"] = True
    if svc.no_new_privileges:
        context["allowPrivilegeEscalation"] = False
    if svc.cap_drop:
        context["capabilities"] = {"drop": list(svc.cap_drop)}
    return context


def resources(limits: dict[str, str]) -> dict[str, Any]:
    """Compose limits as limits; requests a quarter of them (else they would equal the limits)."""
    out: dict[str, Any] = {"limits": {}, "requests": {}}
    if "cpus" in limits:
        out["limits"]["cpu"] = cpu_quantity(limits["cpus"])
        out["requests"]["cpu"] = cpu_quantity(float(limits["cpus"]) / 4)
    if "memory" in limits:
        out["limits"]["memory"] = quantity(limits["memory"])
        out["requests"]["memory"] = quantity(f"{size_in_bytes(limits['memory']) // 4 // 1024**2}m")
    return {k: v for k, v in out.items() if v}


def _container_patch(base: ExportService, svc: ExportService, secret: str) -> dict[str, Any]:
    patch: dict[str, Any] = {"name": svc.name}
    if svc.command and svc.command != base.command:
        patch["args"] = [k8s_text(word) for word in svc.command]
    before = env_list(base, secret)
    changed = [e for e in env_list(svc, secret) if e not in before]
    if changed:
        patch["env"] = changed
    if _security(svc):
        patch["securityContext"] = _security(svc)
    if svc.limits:
        patch["resources"] = resources(svc.limits)
    if svc.tmpfs:
        patch["volumeMounts"] = [
            {"name": tmpfs_volume(i), "mountPath": path} for i, path in enumerate(svc.tmpfs)
        ]
    return patch


def tmpfs_volume(index: int) -> str:
    """The emptyDir standing in for the index-th tmpfs path."""
    return f"tmpfs-{index}"


def patch(
    base: ExportService, svc: ExportService, deps: list[ExportService], options: PodOptions
) -> dict[str, Any] | None:
    """The strategic-merge patch of one workload for a profile, or None when nothing changes."""
    container = _container_patch(base, svc, options.secret)
    pod: dict[str, Any] = {}
    if svc.cap_drop and svc.frag.run_as:
        pod["securityContext"] = {"runAsNonRoot": True}
    if _security(svc) and deps:
        pod["initContainers"] = [
            {"name": f"wait-for-{dep.name}", "securityContext": _security(svc)} for dep in deps
        ]
    if len(container) > 1:
        pod["containers"] = [container]
    if svc.tmpfs:
        pod["volumes"] = [{"name": tmpfs_volume(i), "emptyDir": {}} for i in range(len(svc.tmpfs))]
    if not pod:
        return None
    kind = workload_kind(svc)
    return {
        "apiVersion": api_version(kind),
        "kind": kind,
        "metadata": {"name": svc.name},
        "spec": {"template": {"spec": pod}},
    }


def ingress_carries(svc: ExportService) -> bool:
    """A published HTTP service gets an Ingress in prod."""
    return not svc.is_job and svc.frag.probe.get("kind") == "http"


def notes(svc: ExportService, profile: str, namespace: str, generated: set[str]) -> list[Note]:
    """What Kubernetes cannot carry of one service in a profile, and what mlstack did instead."""
    out = [
        Note(
            svc.name,
            f"volumes: {b.source}:{b.target}",
            "a host folder cannot be mounted into a cluster's pods",
            "left out: the image's own files are used (build and push to change them)",
        )
        for b in svc.binds
        if b.source not in generated
    ]
    if svc.published and profile == "prod" and not ingress_carries(svc):
        out.append(
            Note(
                svc.name,
                "ports",
                "an Ingress carries HTTP only",
                "a ClusterIP Service; expose it with a LoadBalancer Service of your own",
            )
        )
    elif svc.published and profile != "prod":
        out.append(
            Note(
                svc.name,
                "ports",
                "a cluster publishes no host port",
                f"a ClusterIP Service; reach it with `kubectl -n {namespace} port-forward "
                f"svc/{svc.name} {svc.port}:{svc.port}`",
            )
        )
    if svc.logging:
        out.append(
            Note(
                svc.name,
                "logging",
                "log rotation is the kubelet's (containerLogMaxSize)",
                "left out",
            )
        )
    if svc.user and not svc.frag.run_as:
        out.append(
            Note(
                svc.name,
                "user",
                "Kubernetes needs a numeric uid",
                "left out: add run_as to the fragment",
            )
        )
    out += [
        Note(svc.name, f"security_opt: {o}", "no Kubernetes field", "left out")
        for o in svc.security_opt
    ]
    if svc.is_job:
        out.append(
            Note(
                svc.name,
                "profiles",
                "Kubernetes has no profiles: applying creates every object",
                f"a Job created suspended; start it: `kubectl -n {namespace} patch job {svc.name} "
                """-p '{"spec":{"suspend":false}}'`""",
            )
        )
    if svc.health is None and not svc.is_job:
        out.append(Note(svc.name, "healthcheck", "none is defined", "probes open the TCP port"))
    return out + unknown_keys(svc.name, svc.extra, TARGET)
