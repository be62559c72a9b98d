"""What a three-way merge of one file gives: the merged text and the conflicts to list."""

from __future__ import annotations

from dataclasses import dataclass

#: Markers written around a text conflict (diff3 style, as git's ``merge.conflictStyle=diff3``).
START_MARKER = "<<<<<<<"
BASE_MARKER = "|||||||"
MID_MARKER = "======="
END_MARKER = ">>>>>>>"
OURS_LABEL = "yours"
BASE_LABEL = "generated before"
THEIRS_LABEL = "mlstack (new render)"


@dataclass(frozen=True)
class Conflict:
    """One place where the user and the new render changed the same thing differently.

    ``where`` is a YAML key path (``services.redis.image``) or ``line N`` (the line of the
    ``<<<<<<<`` marker in the merged text); ``ours`` and ``theirs`` show both sides as text.
    """

    file: str
    where: str
    ours: str
    theirs: str


@dataclass(frozen=True)
class MergeResult:
    """The merged content of a file, its conflicts, and (``.env``) keys the stack no longer uses.

    ``text`` is always complete and parseable where the inputs were: YAML conflicts keep the
    user's value, text conflicts are written between standard conflict markers.
    """

    text: str
    conflicts: tuple[Conflict, ...] = ()
    unused: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        """True when nothing needs the user's decision."""
        return not self.conflicts
