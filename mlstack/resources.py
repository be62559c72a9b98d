"""Where the data that ships with mlstack lives: fragments, override rules, schemas, templates.

In a wheel ``stacks/`` and ``overrides/`` are packaged inside ``mlstack/``; in a source checkout
they sit at the top of the repository.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The shipped ``stacks`` or ``overrides`` directory."""
    packaged = PACKAGE / name
    return packaged if packaged.is_dir() else PACKAGE.parent / name


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in ``mlstack/schemas``."""
    return json.loads((PACKAGE / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))


def template(relpath: str) -> str:
    """A file template shipped in ``mlstack/templates``."""
    return (PACKAGE / "templates" / relpath).read_text(encoding="utf-8")
