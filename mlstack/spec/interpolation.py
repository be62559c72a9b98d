"""Compose's ``${VAR}`` syntax in a fragment's strings, checked when the fragment is loaded.

Compose refuses a whole file for one ``${...}`` it cannot read (``${A{B}``, ``${A:=x}``),
long after mlstack accepted the fragment. So every string a fragment gives to a compose file
is read here the way Compose 2.x reads it: ``$$`` (a literal ``$``), ``$NAME``, ``${NAME}``
and ``${NAME<op>WORD}`` with op one of ``:-``, ``-``, ``:?``, ``?``, ``:+``, ``+`` (WORD may
itself hold ``${...}``, up to a small depth); any other ``$`` is kept as it is.
"""

from __future__ import annotations

import re
from typing import Any

from mlstack.errors import InputError

NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
BRACED = re.compile(r"([_A-Za-z][_A-Za-z0-9]*)(?:(:?[-?+])(.*))?", re.DOTALL)
MAX_NESTING = 8


def interpolation_problem(text: str, depth: int = 0) -> str | None:
    """What Compose would refuse in ``text``, or None."""
    if depth > MAX_NESTING:
        return f"${{...}} nested deeper than {MAX_NESTING} levels"
    at = text.find("$")
    while at != -1:
        after = text[at + 1 : at + 2]
        if after == "$":
            at = text.find("$", at + 2)
            continue
        name = NAME.match(text, at + 1)
        if name:
            at = text.find("$", name.end())
            continue
        if after != "{":  # "$5", "a $ b": Compose keeps such a $ as it is
            at = text.find("$", at + 1)
            continue
        end = _closing(text, at + 1)
        if end is None:
            return f"${{ without its }} at {text[at : at + 24]!r}"
        problem = _braced_problem(text[at + 2 : end], depth)
        if problem:
            return problem
        at = text.find("$", end + 1)
    return None


def _braced_problem(inner: str, depth: int) -> str | None:
    match = BRACED.fullmatch(inner)
    if not match:
        return f"${{{inner[:24]}}} is not a variable (NAME, NAME:-default, NAME:?error)"
    return interpolation_problem(match.group(3), depth + 1) if match.group(3) else None


def _closing(text: str, start: int) -> int | None:
    """The index of the ``}`` closing the ``{`` at ``start`` (nested braces counted)."""
    level = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            level += 1
        elif text[index] == "}":
            level -= 1
            if level == 0:
                return index
    return None


def check_interpolation(data: Any, source: str, field: str) -> None:
    """Refuse the first string in ``data`` (walked iteratively) that Compose could not read."""
    stack = [(field, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{where}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str):
            problem = interpolation_problem(value)
            if problem:
                raise InputError(
                    source,
                    where,
                    problem,
                    "write ${NAME}, ${NAME:-default} or $$ for a literal $ (Compose's syntax)",
                )
