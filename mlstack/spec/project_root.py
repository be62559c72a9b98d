"""Which stack a command run without ``-C`` means: the nearest ``mlstack.yaml`` upward.

As Compose finds ``compose.yaml`` and git finds ``.git``: from the working directory up to the
filesystem root, the first directory that holds the file. Nothing found: the working directory
(the command then says that mlstack.yaml is missing there, and how to create it).
"""

from __future__ import annotations

from pathlib import Path

from mlstack.layout import SPEC_FILE


def find_project(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` with an ``mlstack.yaml`` file, if any."""
    here = start.absolute()
    for folder in (here, *here.parents):
        if (folder / SPEC_FILE).is_file():
            return folder
    return None
