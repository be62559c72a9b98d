"""``init``'s input that cannot be right, refused before anything is asked or written.

What may be right elsewhere (GPU ids this host lacks) is a warning instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlstack.errors import InputError
from mlstack.machine.host import GpuScan, missing_gpus
from mlstack.spec.answers import INIT_SOURCE, Answers, InitOptions


def check_target(root: Path, force: bool) -> None:
    """The stack's directory can be one (no file on its path) and holds no stack unless --force."""
    from mlstack.render.generate import refuse_existing

    for part in (root, *root.parents):
        if os.path.lexists(part) and not part.is_dir():
            raise InputError(
                INIT_SOURCE,
                "DIR",
                f"{part} is a file, so {root} cannot be the stack's directory",
                "give a directory path (one that does not exist yet is created)",
            )
    refuse_existing(root, force)


def check_options(root: Path, options: InitOptions) -> None:
    """Flags given empty or naming files that do not exist."""
    for flag, value in (("--with", options.components), ("--gpu-services", options.gpu_services)):
        if value == ():
            raise InputError(
                INIT_SOURCE, flag, "no component given", f"e.g. {flag} api,jupyter, or leave it out"
            )
    if options.ca_bundle is not None:
        path = root / Path(options.ca_bundle).expanduser()
        if not path.is_file():
            raise InputError(
                INIT_SOURCE,
                "--ca-bundle",
                f"{options.ca_bundle} is not a file"
                + ("" if Path(options.ca_bundle).is_absolute() else f" (read from {root})"),
                "give the path of a PEM file of CA certificates, e.g. /etc/ssl/certs/corp-ca.pem",
            )


def gpu_warnings(answers: Answers, scan: GpuScan) -> list[str]:
    """GPU ids the answers name that this host does not have: fine if the stack runs elsewhere."""
    chosen = [answers.gpu, *answers.gpu_per_service.values()]
    missing = sorted({i for choice in chosen for i in missing_gpus(choice.ids, scan)})
    if not missing:
        return []
    have = ", ".join(str(g.index) for g in scan.gpus) or "none"
    return [
        f"warning: this host has no GPU {', '.join(missing)} (it has: {have}); the stack will "
        "not start here, only on a host that has them (`mlstack doctor` checks)"
    ]
