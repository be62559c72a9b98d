"""``{name}`` placeholders in fragment text (image defaults, the URL): a fixed set, no more.

Fragments may come from someone else's repository, so their text is never given to
``str.format`` (``{python.__class__}`` reaches attributes); a placeholder is a name from an
allow list, replaced as a whole, and anything else between braces is refused at load time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mlstack.errors import InputError

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
IMAGE_PLACEHOLDERS = ("python", "cuda_tag", "cuda_major")
URL_PLACEHOLDERS = ("port",)


def check_placeholders(text: str, allowed: tuple[str, ...], source: str, field: str) -> None:
    """Refuse ``text`` unless its only braces are ``{name}`` with ``name`` in ``allowed``."""
    unknown = [name for name in PLACEHOLDER.findall(text) if name not in allowed]
    stray = "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text)
    if unknown or stray:
        what = (
            f"unknown placeholder {{{unknown[0]}}}" if unknown else "a brace that is no placeholder"
        )
        raise InputError(
            source,
            field,
            f"{what} in {text!r}",
            f"use only {', '.join(f'{{{name}}}' for name in allowed)}",
        )


def fill(text: str, values: Mapping[str, object]) -> str:
    """``text`` with each ``{name}`` replaced by ``values[name]`` (checked text only)."""
    return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text)
