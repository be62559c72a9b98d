"""A service's pod on Kubernetes: container, environment from the Secret, volumes, GPU, shm.

Secrets never enter a file: a variable that is a secret reads it with ``secretKeyRef``; a value
that embeds one (``DATABASE_URL``) uses Kubernetes' dependent variables, ``$(POSTGRES_PASSWORD)``,
with the secret defined first in the list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlstack.export import k8s_probes
from mlstack.export.model import ExportService
from mlstack.export.values import Secret, Text, only_secret, quantity, secrets_in

GPU_RESOURCE = "nvidia.com/gpu"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
SHM_VOLUME = "dshm"


@dataclass(frozen=True)
class PodOptions:
    """Stack-wide choices: the Secret's name, the GPU runtime class, generated folders."""

    secret: str
    runtime_class: str | None = None
    # bind-mounted folders whose files mlstack generates (./postgres/initdb): name -> content
    generated: dict[str, dict[str, str]] = field(default_factory=dict)


def k8s_text(text: Text) -> str:
    """A value for ``env``/``args``: secrets as ``$(NAME)``, a literal ``$(`` escaped."""
    out = []
    for part in text:
        out.append(f"$({part.name})" if isinstance(part, Secret) else part.replace("$(", "$$("))
    return "".join(out)


def _secret_ref(name: str, key: str, secret: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def env_list(svc: ExportService, secret: str) -> list[dict[str, Any]]:
    """The container's env: secrets first (so later values may refer to them), then the rest."""
    direct = {name: only_secret(text) for name, text in svc.env}
    texts = [text for _, text in svc.env if not only_secret(text)] + list(svc.command or ())
    needed = [s for text in texts for s in secrets_in(text)]
    env = [_secret_ref(s, s, secret) for s in dict.fromkeys(needed) if s not in direct]
    for name, text in svc.env:
        key = direct[name]
        env.append(
            _secret_ref(name, key, secret) if key else {"name": name, "value": k8s_text(text)}
        )
    if svc.frag.probe.get("kind") == "postgres" and svc.volumes and not svc.env_value("PGDATA"):
        # a fresh volume may hold lost+found: initdb wants an empty directory
        env.append({"name": "PGDATA", "value": f"{svc.volumes[0][1]}/pgdata"})
    return env


def container(svc: ExportService, options: PodOptions) -> dict[str, Any]:
    """The service's main container, as the base (every profile) has it."""
    secret = options.secret
    spec: dict[str, Any] = {"name": svc.name, "image": svc.image}
    if svc.command:
        spec["args"] = [k8s_text(word) for word in svc.command]
    if svc.container_ports:
        spec["ports"] = [{"name": n, "containerPort": port} for n, port in svc.container_ports]
    env = env_list(svc, secret)
    if env:
        spec["env"] = env
    if not svc.is_job:
        spec.update(k8s_probes.probes(svc))
    if isinstance(svc.gpu, int):
        spec["resources"] = {"limits": {GPU_RESOURCE: svc.gpu}}
    mounts = [{"name": vol, "mountPath": path} for vol, path in svc.volumes]
    mounts += [
        {"name": config_name(svc, b.source), "mountPath": b.target, "readOnly": True}
        for b in svc.binds
        if b.source in options.generated
    ]
    if svc.shm:
        mounts.append({"name": SHM_VOLUME, "mountPath": "/dev/shm"})
    if mounts:
        spec["volumeMounts"] = mounts
    return spec


def pod_spec(
    svc: ExportService, deps: list[ExportService], options: PodOptions, claims: bool
) -> dict[str, Any]:
    """The pod template's spec. ``claims``: named volumes are PVCs (a StatefulSet has templates)."""
    spec: dict[str, Any] = {}
    if svc.frag.run_as:
        spec["securityContext"] = {
            "runAsUser": svc.frag.run_as["user"],
            "runAsGroup": svc.frag.run_as["group"],
            "fsGroup": svc.frag.run_as["group"],
        }
    if deps:
        spec["initContainers"] = [
            k8s_probes.wait_container(dep, env_list(dep, options.secret)) for dep in deps
        ]
    spec["containers"] = [container(svc, options)]
    volumes = _volumes(svc, claims, options)
    if volumes:
        spec["volumes"] = volumes
    if isinstance(svc.gpu, int):
        spec["tolerations"] = [dict(GPU_TOLERATION)]
        if options.runtime_class:
            spec["runtimeClassName"] = options.runtime_class
    if svc.is_job:
        spec["restartPolicy"] = "Never"
    return spec


def _volumes(svc: ExportService, claims: bool, options: PodOptions) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = []
    if claims:
        volumes += [
            {"name": vol, "persistentVolumeClaim": {"claimName": vol}} for vol, _ in svc.volumes
        ]
    for bind in svc.binds:
        if bind.source in options.generated:
            name = config_name(svc, bind.source)
            volumes.append({"name": name, "configMap": {"name": name, "defaultMode": 0o555}})
    if svc.shm:
        memory = {"medium": "Memory", "sizeLimit": quantity(svc.shm)}
        volumes.append({"name": SHM_VOLUME, "emptyDir": memory})
    return volumes


def config_name(svc: ExportService, source: str) -> str:
    """The ConfigMap that carries a generated folder (``./postgres/initdb``: postgres-initdb)."""
    folder = source.rstrip("/").rsplit("/", 1)[-1]
    return folder if folder.startswith(f"{svc.name}-") else f"{svc.name}-{folder}"
