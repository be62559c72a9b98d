"""The file plan: every file the stack consists of, and what writing it would do to the disk.

Pure: it takes the disk's current contents as input, so a dry run, ``render --check`` and the real
write all share one decision, and tests assert on its text form.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum

GENERATED = "generated"  # mlstack owns it; regenerated, but never over a hand edit
SCAFFOLD = "scaffold"  # starter code: written once, then it is the user's
SECRETS = "secrets"  # .env: existing values kept, missing keys appended
BLOCK = "block"  # .gitignore: only the block between mlstack's markers is managed
STATE = "state"  # .mlstack/manifest.json: mlstack's own record, not a file of the stack
MODED = (GENERATED, SECRETS)  # policies whose file mode mlstack restores (.env: 0600)


class Action(str, Enum):
    """What writing a planned file does."""

    CREATE = "create"
    UPDATE = "update"
    IDENTICAL = "identical"
    KEEP = "keep"  # a scaffold the user owns now
    CONFLICT = "conflict"  # edited by hand, cannot be merged: only --force overwrites it (.bak)
    MERGE = "merge"  # edited by hand; the new render merged in cleanly
    CONFLICTS = "conflicts"  # edited by hand; merged, but some changes need the user's choice
    EDITED = "edited"  # edited by hand; the render brings nothing new: the file stays as it is
    DELETE = "delete"  # generated earlier, no longer part of the stack, unedited
    CHMOD = "chmod"  # content identical, mode not (a .env made by hand, readable by all)


@dataclass(frozen=True)
class PlannedFile:
    """One file of the stack as mlstack would write it."""

    path: str
    content: str
    policy: str = GENERATED
    mode: int = 0o644


LABELS = {
    Action.CONFLICT: "conflict (edited)",
    Action.MERGE: "merge (edited)",
    Action.CONFLICTS: "conflict (merged)",
    Action.EDITED: "kept (edited)",
}
WRITES = (Action.CREATE, Action.UPDATE, Action.DELETE, Action.CHMOD, Action.MERGE, Action.CONFLICTS)


@dataclass(frozen=True)
class Step:
    """A planned file and what writing it would do.

    ``before`` is the file on disk (None: missing). For a merged file ``file.content`` is the
    merged text and ``base`` the render to record as the next merge base; ``base`` None keeps
    the recorded one (a YAML conflict: the next render must see it again until it is resolved).
    """

    file: PlannedFile
    action: Action
    before: str | None = None
    base: str | None = None
    conflicts: tuple = field(default=())

    def __str__(self) -> str:
        label = LABELS.get(self.action, self.action.value)
        if self.action is Action.CHMOD:
            label = f"chmod {self.file.mode:o}"
        return f"{label:<17} {self.file.path}"

    @property
    def writes(self) -> bool:
        """Whether the step changes the disk (a conflict seen again changes nothing)."""
        if self.action is Action.CONFLICTS:
            return self.file.content != self.before
        return self.action in WRITES


def digest(text: str) -> str:
    """The record kept of a generated file's content."""
    return hashlib.sha256(text.encode()).hexdigest()


def decide(file: PlannedFile, on_disk: str | None, recorded: str | None) -> Action:
    """What writing ``file`` does, given the disk and the digest mlstack recorded last time."""
    if on_disk is None:
        return Action.CREATE
    if on_disk == file.content:
        return Action.IDENTICAL
    if file.policy == SCAFFOLD:
        return Action.KEEP
    if file.policy == GENERATED and digest(on_disk) != recorded:
        return Action.CONFLICT
    return Action.UPDATE


def plan(
    files: list[PlannedFile],
    disk: dict[str, str | None],
    record: dict[str, str],
    modes: dict[str, int] | None = None,
) -> list[Step]:
    """Decide every file against the disk snapshot (content, and mode when given) and the record.

    A file mlstack generated before that the stack no longer has (a removed component's
    Dockerfile) is deleted when it is unedited, and left alone otherwise.
    """
    steps = [
        Step(f, decide(f, disk.get(f.path), record.get(f.path)), disk.get(f.path)) for f in files
    ]
    steps = [_mode_checked(s, (modes or {}).get(s.file.path)) for s in steps]
    planned = {f.path for f in files}
    for path, recorded in sorted(record.items()):
        content = disk.get(path)
        if path not in planned and content is not None and digest(content) == recorded:
            steps.append(Step(PlannedFile(path, content), Action.DELETE, content))
    return steps


def _mode_checked(step: Step, mode: int | None) -> Step:
    """An identical file with a wrong mode gets its mode back (only modes that matter).

    ``.env`` must not be readable by others; a script must stay executable. Other bits are
    left as a checkout made them (a umask of 002 gives 0664: not drift).
    """
    if step.action is not Action.IDENTICAL or step.file.policy not in MODED or mode is None:
        return step
    if step.file.policy == SECRETS:
        wrong = bool(mode & 0o077)
    else:
        wrong = bool(step.file.mode & 0o100) and not mode & 0o100
    return Step(step.file, Action.CHMOD, step.before) if wrong else step


MARK_BEGIN = "# >>> mlstack (managed block: edit outside it)"
MARK_END = "# <<< mlstack"


def with_block(current: str | None, lines: list[str]) -> str:
    """``current`` with mlstack's block set to ``lines``; the rest left as the user wrote it."""
    block = "\n".join([MARK_BEGIN, *lines, MARK_END]) + "\n"
    text = current or ""
    if MARK_BEGIN in text and MARK_END in text:
        head, _, rest = text.partition(MARK_BEGIN)
        _, _, tail = rest.partition(MARK_END)
        return head + block.rstrip("\n") + tail
    if text and not text.endswith("\n"):
        text += "\n"
    return text + ("\n" if text else "") + block
