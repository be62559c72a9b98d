"""One exception family, and the exit code each member maps to.

Expected errors print one message (ending with the fix) and exit with their code; anything
else is a bug and shows a traceback only with ``--debug``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of every mlstack command."""

    OK = 0
    FAILURE = 1  # the stack or the machine is not in the wanted state (unhealthy, drift, fail)
    BAD_INPUT = 2  # the user's input or files are wrong; nothing was changed
    INTERRUPTED = 130  # Ctrl-C


class MlstackError(Exception):
    """Base of every expected error; carries its exit code."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


class InputError(MlstackError):
    """A file, flag or value is wrong: names the file, the field and the fix."""

    def __init__(self, source: str, field: str, problem: str, fix: str = "") -> None:
        self.source, self.field, self.problem, self.fix = source, field, problem, fix
        where = f"{source}: {field}: " if field else f"{source}: "
        super().__init__(f"{where}{problem}" + (f"\n  fix: {fix}" if fix else ""))


class ConflictError(MlstackError):
    """Generated files were edited by hand; rendering would overwrite them."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        listed = "\n".join(f"  - {p}" for p in paths)
        super().__init__(
            "these generated files were edited since mlstack last wrote them:\n"
            f"{listed}\n  fix: move your change into mlstack.yaml or a fragment, or run with "
            "--force to overwrite them (a .bak copy of each is kept)"
        )


class WriteError(MlstackError):
    """The target directory cannot be written; nothing was changed."""


class EngineError(MlstackError):
    """Docker or Compose is missing, stopped or refused a command."""

    exit_code = ExitCode.FAILURE


class PreflightError(MlstackError):
    """A check before ``up`` failed; nothing was started."""

    exit_code = ExitCode.FAILURE


class UnhealthyError(MlstackError):
    """One or more services did not become healthy in time."""

    exit_code = ExitCode.FAILURE
