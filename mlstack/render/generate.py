"""The generator's use cases: init, render (and --check), add, remove.

Each takes the project lock (a dry run does not), first completes a write that a crash left
halfway, then reads the disk once, plans every file as data (the manifest included), checks
everything, and writes all at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlstack.errors import BusyError, InputError
from mlstack.layout import MANIFEST, SPEC_FILE
from mlstack.render.compose_model import ComposeModel, build_compose
from mlstack.render.disk import apply, snapshot
from mlstack.render.journal import TMP, recover
from mlstack.render.local_env import env_values_for
from mlstack.render.lock import project_lock
from mlstack.render.manifest import MAX_BYTES, parse_bases, parse_record, with_manifest
from mlstack.render.plan import SCAFFOLD, STATE, Action, PlannedFile, Step, plan
from mlstack.render.reconcile import Merge, known_bases, merge_edited, raise_conflicts
from mlstack.render.spec_header import SPEC_HEADER
from mlstack.render.stack_files import stack_files
from mlstack.render.upgrade import sources, upgrade_notes
from mlstack.spec import contain
from mlstack.spec.answers import INIT_SOURCE, Answers, index_credentials, spec_document
from mlstack.spec.catalog import USER_STACKS, Catalog, load_catalog, load_rules
from mlstack.spec.schema import validate
from mlstack.spec.stack_spec import FIX, StackSpec, spec_from_document
from mlstack.spec.yamlio import dump, dump_document, load_document, load_file


@dataclass(frozen=True)
class Result:
    """What a generator command did (or, for a dry run or a check, would do)."""

    steps: list[Step]
    spec: StackSpec
    model: ComposeModel
    already: tuple[str, ...] = ()  # ``add``: the components the stack had already
    notes: tuple[str, ...] = ()  # what an upgrade of mlstack changed (render/upgrade.py)

    @property
    def drift(self) -> list[Step]:
        """Files whose content on disk differs from what the spec gives."""
        return [
            s
            for s in self.steps
            if s.action not in (Action.IDENTICAL, Action.KEEP, Action.EDITED)
            and s.file.policy != STATE
        ]


@contextlib.contextmanager
def writing(root: Path, dry_run: bool) -> Iterator[None]:
    """Hold the project lock while a command reads what it writes back; a dry run only settles."""
    if dry_run:
        settle(root)
        yield
        return
    with project_lock(root):
        recover(root)
        yield


def settle(root: Path) -> None:
    """A read-only command completes a crashed write too, unless a writer is at work now."""
    if os.path.lexists(root / TMP):
        with contextlib.suppress(BusyError), project_lock(root, wait=0.5):
            recover(root)


def plan_stack(
    root: Path,
    spec: StackSpec,
    catalog: Catalog,
    spec_file: PlannedFile | None = None,
    spec_action: Action | None = None,
    given: Mapping[str, str] | None = None,
    merge: Merge | None = None,
) -> tuple[list[Step], ComposeModel]:
    """Plan every file of the stack, and the manifest, against what is on disk now.

    ``given``: .env values the caller sets (a credential split from a flag), kept over the file's.
    ``merge``: how hand-edited files are treated (merged unless ``overwrite``).
    """
    merge = merge or Merge()
    rules = {"dev": load_rules("dev"), "prod": load_rules("prod")}
    model = build_compose(spec, catalog, rules["dev"], rules["prod"])
    current_env, env = env_values_for(root, spec, catalog, given or {})  # + mlstack.local.yaml
    gitignore = contain.read_text(root, ".gitignore")
    files = [
        *([spec_file] if spec_file else []),
        *stack_files(spec, catalog, model, env, current_env, gitignore),
    ]
    manifest = contain.read_text(root, MANIFEST, MAX_BYTES)
    record = parse_record(manifest) if manifest is not None else {}
    content, modes = snapshot(root, [f.path for f in files] + list(record))
    bases = known_bases(parse_bases(manifest) if manifest else {}, record, content)
    steps = plan(files, content, record, modes)
    if not merge.overwrite:
        steps = merge_edited(steps, bases, record, merge.resolve)
    if spec_file and spec_action:
        steps[0] = Step(spec_file, spec_action, content.get(spec_file.path))
    used = sources(spec, catalog, rules)
    return with_manifest(steps, record, manifest, bases, used), model


def init_project(
    root: Path, answers: Answers, force: bool = False, dry_run: bool = False
) -> Result:
    """Create mlstack.yaml from the answers and render the stack beside it."""
    refuse_existing(root, force)
    catalog = _load_catalog(root)
    doc = spec_document(answers)
    spec = spec_from_document(doc, catalog, INIT_SOURCE, root)  # the CLI names the flag
    spec_file = PlannedFile(SPEC_FILE, dump(doc, SPEC_HEADER), SCAFFOLD)
    with writing(root, dry_run):
        refuse_existing(root, force)  # again: another init may have won the lock
        action = _spec_action(root, spec_file)
        steps, model = plan_stack(
            root, spec, catalog, spec_file, action, index_credentials(answers)
        )
        return _finish(root, Result(steps, spec, model), force, dry_run)


def refuse_existing(root: Path, force: bool) -> None:
    """Refuse to init over a stack: before the wizard's first question, again under the lock."""
    if os.path.lexists(root / SPEC_FILE) and not force:
        raise InputError(
            str(root / SPEC_FILE),
            "",
            "a stack already exists here",
            "run `mlstack render` to regenerate it, or `mlstack init --force` "
            "to start over (edited files are kept as .bak)",
        )


def _spec_action(root: Path, spec_file: PlannedFile) -> Action:
    """``init --force`` over an existing mlstack.yaml: a conflict, so it is kept as .bak."""
    current = contain.read_text(root, SPEC_FILE)
    if current is None:
        return Action.CREATE
    return Action.IDENTICAL if current == spec_file.content else Action.CONFLICT


def render_project(
    root: Path,
    force: bool = False,
    dry_run: bool = False,
    resolve: Mapping[str, str] | None = None,
) -> Result:
    """Regenerate every file from mlstack.yaml (``dry_run``: plan only, as ``--check`` does).

    Hand-edited files are merged (``resolve``: YAML key path -> side); ``force`` overwrites them.
    """
    _require_spec(root)
    merge = Merge(force, dict(resolve or {}))
    with writing(root, dry_run):
        catalog = _load_catalog(root)
        return _rerender(root, catalog, _load_doc(root, load_file), None, merge, dry_run)


def change_components(
    root: Path,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    force: bool = False,
    dry_run: bool = False,
) -> Result:
    """``mlstack add`` / ``remove``: edit the component list (comments kept) and re-render.

    The spec is read under the lock: two ``add`` at once each see the other's change.
    """
    _require_spec(root)
    with writing(root, dry_run):
        return _change(root, add, remove, Merge(force), dry_run)


def _change(
    root: Path, add: Sequence[str], remove: Sequence[str], merge: Merge, dry_run: bool
) -> Result:
    catalog = _load_catalog(root)
    doc = _load_doc(root, load_document)
    components = doc["components"]
    already = tuple(name for name in add if name in components)
    if already and len(set(already)) == len(set(add)) and not remove:  # nothing to change
        spec = spec_from_document(doc, catalog, root=root)
        return Result([], spec, plan_stack(root, spec, catalog)[1], already)
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
    result = _rerender(root, catalog, doc, PlannedFile(SPEC_FILE, text, SCAFFOLD), merge, dry_run)
    return replace(result, already=already)


def _rerender(
    root: Path,
    catalog: Catalog,
    doc: Any,
    spec_file: PlannedFile | None,
    merge: Merge,
    dry_run: bool,
) -> Result:
    spec = spec_from_document(doc, catalog, root=root)
    action = Action.UPDATE if spec_file else None
    steps, model = plan_stack(root, spec, catalog, spec_file, action, merge=merge)
    return _finish(root, Result(steps, spec, model), merge.overwrite, dry_run)


def _finish(root: Path, result: Result, force: bool, dry_run: bool) -> Result:
    """Write the plan; then, if a merge left conflicts, say where (exit 1: the rest is written)."""
    said = upgrade_notes(contain.read_text(root, MANIFEST, MAX_BYTES), result.steps)
    result = dataclasses.replace(result, notes=tuple(said))
    if dry_run:
        return result
    apply(root, result.steps, force)
    raise_conflicts(result.steps)
    return result


def _require_spec(root: Path) -> None:
    """No stack here: say so before taking the lock (which would create .mlstack/)."""
    if not os.path.lexists(contain.checked(root, SPEC_FILE)):
        raise InputError(SPEC_FILE, "", "file not found", "run `mlstack init` first")


def _load_catalog(root: Path) -> Catalog:
    """The catalog, once the user's fragments are known not to be links out of the project."""
    folder = root / USER_STACKS
    if folder.is_symlink() or folder.is_dir():
        contain.checked(root, f"{USER_STACKS}/x.yaml")  # the folder: a link only to inside
        for path in sorted(folder.glob("*.yaml")):
            contain.checked(root, f"{USER_STACKS}/{path.name}")
    return load_catalog(root)


def _load_doc(root: Path, loader: Callable[..., Any]) -> Any:
    doc = loader(contain.checked(root, SPEC_FILE), SPEC_FILE, root=root)
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
    """Forget per-component choices (ports, GPU services, allow, services, uses) of removed ones."""
    for section in ("ports", "allow", "services"):
        choices = doc.get(section)
        for name in removed & set(choices if isinstance(choices, dict) else ()):
            del choices[name]
    for settings in (doc.get("services") or {}).values():  # services.<name>.uses: [removed]
        uses = settings.get("uses") if isinstance(settings, dict) else None
        for name in removed & set(uses if isinstance(uses, list) else ()):
            uses.remove(name)
    services = doc.get("gpu", {}).get("services")
    if isinstance(services, list):
        for name in removed & set(services):
            services.remove(name)
    elif isinstance(services, dict):
        for name in removed & set(services):
            del services[name]
