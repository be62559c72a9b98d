"""The stack and the fragments it uses, for commands that operate it (status, down, logs).

A user fragment in ``stacks/`` that does not load breaks every command that renders, as it
should; but a stack that does not use it can still be looked at and stopped.
"""

from __future__ import annotations

from pathlib import Path

from mlstack.errors import InputError
from mlstack.layout import SPEC_FILE
from mlstack.spec.catalog import Catalog, check_references, load_catalog
from mlstack.spec.stack_spec import StackSpec, spec_from_document
from mlstack.spec.yamlio import load_file


def load_in_use(root: Path) -> tuple[StackSpec, Catalog]:
    """mlstack.yaml and the catalog; a broken fragment raises only if the stack needs it."""
    broken: dict[str, InputError] = {}
    catalog = load_catalog(root, broken)
    data = load_file(root / SPEC_FILE, SPEC_FILE, root=root)
    named = data.get("components") if isinstance(data, dict) else None
    for name, error in broken.items():
        if not isinstance(named, list) or name in named:
            raise error
    try:
        check_references(catalog)
        return spec_from_document(data, catalog, root=root), catalog
    except InputError:
        if broken:  # a fragment the stack uses names the broken one: that one is the cause
            raise next(iter(broken.values())) from None
        raise
