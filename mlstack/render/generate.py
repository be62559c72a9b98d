"""The generator's use cases: init, render (and --check), add, remove.

Each reads the disk once, plans every file as data, checks everything, then writes all at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.errors import InputError
from mlstack.layout import SPEC_FILE
from mlstack.render.compose_model import ComposeModel, build_compose
from mlstack.render.disk import apply, read_record, read_text, snapshot
from mlstack.render.envfile import check_env, fill_secrets, parse_env, read_env, secret_names
from mlstack.render.plan import SCAFFOLD, Action, PlannedFile, Step, plan
from mlstack.render.stack_files import stack_files
from mlstack.spec.answers import FLAGS, Answers, spec_document
from mlstack.spec.catalog import Catalog, load_catalog, load_rules
from mlstack.spec.schema import validate
from mlstack.spec.stack_spec import FIX, StackSpec, spec_from_document
from mlstack.spec.yamlio import dump, dump_document, load_document, load_file

SPEC_HEADER = (
    "mlstack.yaml: the source of truth of this stack. Edit it, then run `mlstack render`.\n"
    "Reference: README.md, section mlstack.yaml."
)


@dataclass(frozen=True)
class Result:
    """What a generator command did (or, for a dry run or a check, would do)."""

    steps: list[Step]
    spec: StackSpec
    model: ComposeModel

    @property
    def drift(self) -> list[Step]:
        """Files whose content on disk differs from what the spec gives."""
        return [s for s in self.steps if s.action not in (Action.IDENTICAL, Action.KEEP)]


def plan_stack(
    root: Path, spec: StackSpec, catalog: Catalog, extra: Sequence[PlannedFile] = ()
) -> tuple[list[Step], ComposeModel]:
    """Plan every file of the stack against what is on disk now."""
    model = build_compose(spec, catalog, load_rules("dev"), load_rules("prod"))
    current_env = read_env(root)
    check_env(current_env or "")
    env = fill_secrets(secret_names(spec, catalog), parse_env(current_env or ""))
    files = [
        *extra,
        *stack_files(spec, catalog, model, env, current_env, read_text(root / ".gitignore")),
    ]
    record = read_record(root)
    return plan(files, snapshot(root, [f.path for f in files] + list(record)), record), model


def init_project(
    root: Path, answers: Answers, force: bool = False, dry_run: bool = False
) -> Result:
    """Create mlstack.yaml from the answers and render the stack beside it."""
    if (root / SPEC_FILE).exists() and not force:
        raise InputError(
            str(root / SPEC_FILE),
            "",
            "a stack already exists here",
            "run `mlstack render` to regenerate it, or `mlstack init --force` "
            "to start over (edited files are kept as .bak)",
        )
    catalog = load_catalog(root)
    doc = spec_document(answers)
    try:
        spec = spec_from_document(doc, catalog, "mlstack init")
    except InputError as exc:
        field = exc.field.split(".")[0].split("[")[0]
        raise InputError(
            "mlstack init", f"{FLAGS.get(field, field)} ({exc.field})", exc.problem, exc.fix
        ) from exc
    spec_file = PlannedFile(SPEC_FILE, dump(doc, SPEC_HEADER), SCAFFOLD)
    steps, model = plan_stack(root, spec, catalog, [spec_file])
    steps[0] = Step(spec_file, _spec_action(root, spec_file))
    return _finish(root, Result(steps, spec, model), force, dry_run)


def _spec_action(root: Path, spec_file: PlannedFile) -> Action:
    """``init --force`` over an existing mlstack.yaml: a conflict, so it is kept as .bak."""
    current = read_text(root / SPEC_FILE)
    if current is None:
        return Action.CREATE
    return Action.IDENTICAL if current == spec_file.content else Action.CONFLICT


def render_project(root: Path, force: bool = False, dry_run: bool = False) -> Result:
    """Regenerate every file from mlstack.yaml (``dry_run``: plan only, as ``--check`` does)."""
    catalog = load_catalog(root)
    return _rerender(root, catalog, _load_doc(root, load_file), None, force, dry_run)


def change_components(
    root: Path,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    force: bool = False,
    dry_run: bool = False,
) -> Result:
    """``mlstack add`` / ``remove``: edit the component list (comments kept) and re-render."""
    catalog = load_catalog(root)
    doc = _load_doc(root, load_document)
    components = doc["components"]
    for name in add:
        if name not in components:
            components.append(name)
    for name in remove:
        if name not in components:
            raise InputError(
                SPEC_FILE,
                "components",
                f"{name!r} is not in this stack",
                f"the stack has: {', '.join(components)}",
            )
        components.remove(name)
    _drop_stale_choices(doc, set(remove))
    text = dump_document(doc)
    return _rerender(root, catalog, doc, PlannedFile(SPEC_FILE, text, SCAFFOLD), force, dry_run)


def _rerender(
    root: Path,
    catalog: Catalog,
    doc: Any,
    spec_file: PlannedFile | None,
    force: bool,
    dry_run: bool,
) -> Result:
    spec = spec_from_document(doc, catalog)
    extra = [spec_file] if spec_file else []
    steps, model = plan_stack(root, spec, catalog, extra)
    if spec_file:
        steps[0] = Step(spec_file, Action.UPDATE)
    return _finish(root, Result(steps, spec, model), force, dry_run)


def _finish(root: Path, result: Result, force: bool, dry_run: bool) -> Result:
    if not dry_run:
        apply(root, result.steps, read_record(root), force)
    return result


def _load_doc(root: Path, loader: Callable[..., Any]) -> Any:
    doc = loader(root / SPEC_FILE, SPEC_FILE, root=root)
    if not isinstance(doc, dict) or not isinstance(doc.get("components"), list):
        raise InputError(
            SPEC_FILE,
            "components",
            "missing: a list of components is required",
            "e.g. components: [api, redis]; see `mlstack components`",
        )
    validate(doc, "spec", SPEC_FILE, FIX)  # before `add`/`remove` edit it: the shapes are known
    return doc


def _drop_stale_choices(doc: Any, removed: set[str]) -> None:
    """Forget per-component choices (ports, GPU services) of removed components."""
    for name in removed & set(doc.get("ports", {})):
        del doc["ports"][name]
    services = doc.get("gpu", {}).get("services")
    if isinstance(services, list):
        for name in removed & set(services):
            services.remove(name)
    elif isinstance(services, dict):
        for name in removed & set(services):
            del services[name]
