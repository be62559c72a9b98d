"""How errors read on the terminal, and the one place that maps them to exit codes.

The core raises error records (problem, fix, file, field); the CLI formats them. The core names
files and mlstack.yaml fields; only the CLI knows which flag the user typed, so it rewrites the
fields of ``init``'s answers into flags here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from mlstack.errors import ExitCode, InputError, MlstackError, PreflightError

# mlstack.yaml field -> the init flag that sets it, so errors name what the user typed
INIT_FLAGS = {
    "name": "--name",
    "components": "--with",
    "gpu": "--gpu",
    "shm_size": "--shm-size",
    "ports": "--port",
    "images": "--image",
    "python": "--python",
    "cuda": "--cuda",
    "build": "--ca-bundle / --pip-index-url",
}


def error_text(error: MlstackError) -> str:
    """``error: file: field: problem`` and ``  fix: ...``; a failed preflight lists its checks."""
    if isinstance(error, PreflightError):
        lines = [f"{c.id}: {c.found}\n  fix: {c.fix}" for c in error.failed]
        return f"error: {error.message}:\n" + "\n".join(lines)
    return f"error: {error}"


def as_flag_error(error: InputError) -> InputError:
    """An error in a field of ``init``'s answers, said as the flag that set it.

    ``mlstack init: components[0]: ...`` becomes ``mlstack init: --with (components[0]): ...``;
    any other error is returned as it is.
    """
    from mlstack.spec.answers import INIT_SOURCE  # not at start-up: it loads the spec stage
    from mlstack.spec.stack_spec import FIX as EDIT_THE_FILE

    top = error.field.split(".")[0].split("[")[0]
    if error.source != INIT_SOURCE or top not in INIT_FLAGS:
        return error
    flag = INIT_FLAGS[top]
    # mlstack.yaml does not exist yet: the fix is the flag, not an edit of the file
    fix = f"change {flag} (`mlstack init --help`)" if error.fix == EDIT_THE_FILE else error.fix
    return InputError(INIT_SOURCE, f"{flag} ({error.field})", error.problem, fix)


def handled(func: Callable[..., Any], debug: Callable[[], bool]) -> Callable[..., Any]:
    """Map expected errors to one message and their exit code; Ctrl-C to 130.

    Anything else is a bug: one line asking for a report, the traceback only with ``--debug``.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except MlstackError as exc:
            typer.echo(error_text(exc), err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except Exception as exc:
            if debug():
                raise
            typer.echo(
                f"internal error: {exc!r}\n  run with --debug for the traceback, "
                "and please report it",
                err=True,
            )
            raise typer.Exit(ExitCode.FAILURE) from None

    return wrapper
