"""``.env`` merges by key, and only adds: a secret the user holds is never changed or removed.

A key the new render has and the user's file lacks (a new component's secret, or one the user
deleted to get a fresh value) is appended with the render's value. Keys the render no longer has
stay, and are reported as unused so the CLI can say so.
"""

from __future__ import annotations

from mlstack.render.merge_records import MergeResult


def env_keys(text: str) -> dict[str, str]:
    """``KEY=VALUE`` assignments in file order (``export`` allowed; comments and blanks skipped).

    A key assigned an empty value counts: the user may have emptied it on purpose.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() and not key.startswith("#"):
            values[key.strip()] = value
    return values


def merge_env(ours: str, theirs: str) -> MergeResult:
    """The user's ``.env`` with the render's new keys appended; unused keys listed."""
    have = env_keys(ours)
    want = env_keys(theirs)
    missing = [f"{key}={value}\n" for key, value in want.items() if key not in have]
    unused = tuple(key for key in have if key not in want)
    if not missing:
        return MergeResult(ours, unused=unused)
    text = ours if not ours or ours.endswith("\n") else ours + "\n"
    return MergeResult(text + "".join(missing), unused=unused)
