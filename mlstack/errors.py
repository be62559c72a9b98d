"""One exception family, and the exit code each member maps to.

Every error is a record: ``problem``, ``fix`` and, where known, ``file`` and ``field``. The CLI
formats them (``file: field: problem`` then ``fix: ...``); nothing parses a message back into
parts. Expected errors print one message and exit with their code; anything else is a bug and
shows a traceback only with ``--debug``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Protocol


class ExitCode(IntEnum):
    """Process exit codes of every mlstack command."""

    OK = 0
    FAILURE = 1  # the stack or the machine is not in the wanted state (unhealthy, drift, fail)
    BAD_INPUT = 2  # the user's input or files are wrong; nothing was changed
    INTERRUPTED = 130  # Ctrl-C


class MlstackError(Exception):
    """Base of every expected error: a problem, its fix, and where (file, field) when known."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, problem: str, fix: str = "", file: str = "", field: str = "") -> None:
        self.problem, self.fix, self.file, self.field = problem, fix, file, field
        super().__init__(self.message)

    @property
    def where(self) -> str:
        """``file: field: `` (either part may be missing)."""
        return "".join(f"{part}: " for part in (self.file, self.field) if part)

    @property
    def message(self) -> str:
        """The one-line form without the fix: ``file: field: problem``."""
        return f"{self.where}{self.problem}"

    def __str__(self) -> str:
        return self.message + (f"\n  fix: {self.fix}" if self.fix else "")


class InputError(MlstackError):
    """A file, flag or value is wrong: names the file (``source``), the field and the fix."""

    def __init__(self, source: str, field: str, problem: str, fix: str = "") -> None:
        super().__init__(problem, fix, source, field)

    @property
    def source(self) -> str:
        """The file, flag or command the input came from."""
        return self.file


class ConflictError(MlstackError):
    """Generated files were edited by hand; rendering would overwrite them."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        listed = "\n".join(f"  - {p}" for p in paths)
        super().__init__(
            f"these generated files were edited since mlstack last wrote them:\n{listed}",
            "move your change into mlstack.yaml or a fragment, or run with --force to "
            "overwrite them (a .bak copy of each is kept)",
        )


class MergeConflictError(MlstackError):
    """A re-render merged into hand-edited files, but some changes need the user's choice.

    Everything else was written; the user's value is still in each YAML file, text conflicts
    are between markers.
    """

    exit_code = ExitCode.FAILURE

    def __init__(self, places: list[str], yaml_keys: bool) -> None:
        self.places = places
        listed = "\n".join(f"  - {p}" for p in places)
        how = (
            "keep yours with `mlstack render --ours KEY`, take mlstack's with "
            "`mlstack render --theirs KEY`, or edit the file and run `mlstack render`"
            if yaml_keys
            else "edit the file between the <<<<<<< and >>>>>>> markers, then `mlstack render`"
        )
        super().__init__(
            "your edits and the new render changed the same places (the rest was merged "
            f"and written; your values are kept):\n{listed}",
            how,
        )


class WriteError(MlstackError):
    """The target directory cannot be written; nothing was changed."""


class EngineError(MlstackError):
    """Docker or Compose is missing, stopped or refused a command."""

    exit_code = ExitCode.FAILURE


class Finding(Protocol):
    """A check's record (``mlstack.run.checks.Check``): what it found, and the fix."""

    @property
    def id(self) -> str:
        """The check's stable id, e.g. ``ports``."""

    @property
    def status(self) -> str:
        """ok, warn or fail."""

    @property
    def found(self) -> str:
        """What the check saw."""

    @property
    def fix(self) -> str:
        """What to do when it is not ok."""


class PreflightError(MlstackError):
    """A check before ``up`` failed; nothing was started. Carries the checks, as records."""

    exit_code = ExitCode.FAILURE

    def __init__(self, checks: Sequence[Finding]) -> None:
        self.checks = tuple(checks)
        super().__init__("preflight failed, nothing was started")

    @property
    def failed(self) -> tuple[Finding, ...]:
        """The checks that stopped ``up``."""
        return tuple(c for c in self.checks if c.status == "fail")


class UnhealthyError(MlstackError):
    """One or more services did not become healthy in time; carries every service's report."""

    exit_code = ExitCode.FAILURE

    def __init__(self, problem: str, reports: Sequence[object] = ()) -> None:
        self.reports = tuple(reports)
        super().__init__(problem)


class BusyError(MlstackError):
    """Another mlstack process is writing this project; this one waited, then gave up."""

    exit_code = ExitCode.FAILURE
