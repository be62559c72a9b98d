"""What Swarm cannot carry (per service and key) and what mlstack did instead; how to deploy."""

from __future__ import annotations

from mlstack.errors import InputError
from mlstack.export.carry import OUT, Note, unknown_keys
from mlstack.export.images import local_name, push_commands
from mlstack.export.model import ExportService
from mlstack.export.swarm_entry import Wrapper
from mlstack.spec.catalog import Catalog
from mlstack.spec.stack_spec import REGISTRY, StackSpec

TARGET = "Swarm"
PUBLISH_MODES = ("ingress", "host")


def secret_name(spec: StackSpec, key: str) -> str:
    """The Swarm secret holding one key of ``.env``."""
    return f"{spec.name}_{key.lower()}"


def check_publish(publish: str) -> None:
    """``--publish``: the routing mesh (ingress) or the node's own port (host)."""
    if publish not in PUBLISH_MODES:
        raise InputError(
            "mlstack export swarm",
            "--publish",
            f"expected ingress or host, got {publish!r}",
            "use --publish ingress (the routing mesh) or --publish host",
        )


def notes(
    spec: StackSpec, svc: ExportService, wrap: Wrapper | None, publish: str, generated: set[str]
) -> list[Note]:
    """The notes of one service."""
    out = _order_and_entry(svc, wrap)
    if svc.built and not spec.images.get(REGISTRY):
        out.append(
            Note(
                svc.name,
                "build",
                "Swarm does not build images",
                f"runs {local_name(spec, svc.name)} as built by compose: it must be on every "
                "node (deploy with --resolve-image never), or set images.registry",
            )
        )
    out += [
        Note(
            svc.name, f"volumes: {b.source}:{b.target}", "a host folder of this machine", "left out"
        )
        for b in svc.binds
        if b.source not in generated
    ]
    if svc.volumes and not svc.is_job:
        out.append(
            Note(
                svc.name,
                "volumes",
                "a Swarm volume lives on the node that created it",
                "local volumes: on more than one node, pin the service with "
                "deploy.placement.constraints",
            )
        )
    out += _ports(svc, publish)
    out += [
        Note(
            svc.name,
            f"security_opt: {o}",
            "Swarm ignores security_opt",
            "left out (cap_drop, user kept)",
        )
        for o in (
            [*svc.security_opt, "no-new-privileges:true"]
            if svc.no_new_privileges
            else svc.security_opt
        )
    ]
    if svc.is_job:
        out.append(
            Note(
                svc.name,
                "profiles",
                "the 20.10 CLI has no jobs and no profiles",
                f"a service with 0 replicas and restart_policy none: run it with "
                f"`docker service scale {spec.name}_{svc.name}=1`",
            )
        )
    return out + unknown_keys(svc.name, svc.extra, TARGET)


def _order_and_entry(svc: ExportService, wrap: Wrapper | None) -> list[Note]:
    out = []
    if svc.depends:
        waited = wrap is not None and bool(wrap.waits)
        out.append(
            Note(
                svc.name,
                "depends_on",
                "Swarm starts every service at once",
                f"its entrypoint waits until {', '.join(svc.depends)} answer their health "
                "checks (mlstack-wait.py); restart_policy any"
                if waited
                else "restart_policy any only (the image may have no Python for the wait)",
            )
        )
    if wrap:
        names = ", ".join(name for name, _ in wrap.exports) or "nothing"
        out.append(
            Note(
                svc.name,
                "entrypoint",
                "Swarm gives secrets as files only, and this image reads them from variables",
                f"a /bin/sh wrapper exports {names} from /run/secrets, then runs the "
                f"{wrap.start_from}'s command `{' '.join(wrap.start)}` (init: true reaps)",
            )
        )
    return out


def _ports(svc: ExportService, publish: str) -> list[Note]:
    if svc.published and not svc.frag.publish_in_prod:
        return [
            Note(
                svc.name,
                "ports",
                "Swarm publishes on every interface (127.0.0.1: is ignored)",
                f"not published; reach it from a task: `docker exec` into the {svc.name} task",
            )
        ]
    if svc.frag.publish_in_prod and publish == "host":
        return [
            Note(
                svc.name,
                "ports",
                "the routing mesh is off (--publish host)",
                "published on the node that runs the task only",
            )
        ]
    return []


def secret_commands(spec: StackSpec, keys: list[str]) -> list[str]:
    """Swarm secrets from ``.env``, the value on stdin (never on a command line)."""
    return [
        f"grep -m1 '^{key}=' .env | cut -d= -f2- | tr -d '\\n' | "
        f"docker secret create {secret_name(spec, key)} -"
        for key in keys
    ]


def next_steps(spec: StackSpec, catalog: Catalog, keys: list[str], tag: str) -> list[str]:
    """What to run, in the stack's folder, to deploy by hand (`mlstack deploy swarm` does it)."""
    built = any(catalog[c].build for c in spec.components)
    registry = spec.images.get(REGISTRY)
    steps = push_commands(spec, catalog, tag) if registry else []
    if built and not registry:
        steps.append("docker compose -f compose.yaml -f compose.prod.yaml build")
    steps += secret_commands(spec, keys)
    resolve = "--with-registry-auth" if registry else "--resolve-image never"
    steps.append(f"docker stack deploy {resolve} -c {OUT}/stack.yaml {spec.name}")
    return steps


def readme(spec: StackSpec, keys: list[str], steps: list[str]) -> str:
    """README.md of the export folder: deploy, GPUs, what differs from compose."""
    lines = [
        f"# {spec.name} on Docker Swarm (generated by `mlstack export swarm`)",
        "",
        "`mlstack deploy swarm` does all of this. By hand, in the stack's folder (where `.env`",
        "is), OUT being this folder:",
        "",
        *[f"    {step.replace(OUT, 'OUT')}" for step in steps],
        "",
        "Secrets are Swarm secrets (files under /run/secrets), created from `.env`; none is in",
        "these files. A secret cannot change: to rotate one, `docker stack rm`, then",
        "`docker secret rm`, then deploy again.",
        "",
        "GPUs are `generic_resources` (kind GPU). Each GPU node needs, in /etc/docker/daemon.json,",
        '`"node-generic-resources": ["GPU=<uuid from nvidia-smi -L>", ...]` and',
        '`"default-runtime": "nvidia"`, and in /etc/nvidia-container-runtime/config.toml the line',
        '`swarm-resource = "DOCKER_RESOURCE_GPU"`; then restart dockerd.',
        "",
        "Services resolve each other with `endpoint_mode: dnsrr` (no IPVS needed); the API is",
        "published through the routing mesh (`--publish ingress`, needs IPVS in the kernel) or on",
        "the node running it (`--publish host`).",
    ]
    return "\n".join(lines) + "\n"
