"""The export use cases: read the stack's spec, build its compose model, export it to a target."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlstack.errors import InputError
from mlstack.export.carry import ExportResult
from mlstack.render.compose_model import ComposeModel, build_compose
from mlstack.spec.catalog import Catalog, load_catalog, load_rules
from mlstack.spec.stack_spec import StackSpec, load_spec

TARGETS = ("k8s", "swarm")
DEFAULT_OUT = {"k8s": "deploy/k8s", "swarm": "deploy/swarm"}


@dataclass(frozen=True)
class ExportOptions:
    """What the user chose on the command line."""

    profile: str = "prod"
    tag: str = "latest"
    runtime_class: str | None = None  # Kubernetes: the GPU runtime class
    publish: str = "ingress"  # Swarm: ingress (routing mesh) or host


def load_stack(root: Path) -> tuple[StackSpec, Catalog, ComposeModel]:
    """The stack's spec, catalog and compose model (pure once mlstack.yaml is read)."""
    catalog = load_catalog(root)
    spec = load_spec(root, catalog)
    return spec, catalog, build_compose(spec, catalog, load_rules("dev"), load_rules("prod"))


def export_stack(root: Path, target: str, options: ExportOptions) -> ExportResult:
    """Export the stack in ``root`` to ``target``: files, notes and next steps, nothing written."""
    if options.profile not in ("dev", "prod"):
        raise InputError(
            f"mlstack export {target}",
            "--profile",
            f"expected dev or prod, got {options.profile!r}",
            "use --profile dev or --profile prod",
        )
    spec, catalog, model = load_stack(root)
    if target == "k8s":
        from mlstack.export.k8s import export_k8s

        return export_k8s(spec, catalog, model, options.profile, options.tag, options.runtime_class)
    from mlstack.export.swarm import export_swarm

    return export_swarm(spec, catalog, model, options.profile, options.tag, options.publish)


def out_dir(root: Path, target: str, out: Path | None) -> Path:
    """Where the export goes: ``--out``, else ``deploy/<target>`` in the stack's folder."""
    return out if out is not None else root / DEFAULT_OUT[target]
