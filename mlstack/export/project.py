"""The export use cases: read the stack's spec, build its compose model, export it to a target."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlstack.errors import InputError
from mlstack.export.carry import OUT, ExportResult
from mlstack.export.output import plan_export, write_export
from mlstack.render.compose_model import ComposeModel, build_compose
from mlstack.render.plan import Step
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


@dataclass(frozen=True)
class Written:
    """An export on disk: where, what each file's write did, and the next steps to show."""

    result: ExportResult
    folder: Path
    steps: list[Step]
    next_steps: list[str]


def write_stack_export(
    root: Path, target: str, out: Path | None, options: ExportOptions, force: bool
) -> Written:
    """Export and write the folder (all files or none, never over a hand edit without force)."""
    result = export_stack(root, target, options)
    folder = out_dir(root, target, out)
    steps = plan_export(folder, result.files)
    write_export(folder, steps, force)
    try:  # the next steps run in the stack's folder
        shown = str(folder.resolve().relative_to(root.resolve()))
    except ValueError:
        shown = str(folder.resolve())
    return Written(result, folder, steps, [s.replace(OUT, shown) for s in result.next_steps])
