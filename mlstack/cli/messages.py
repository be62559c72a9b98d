"""How errors read on the terminal, and the one place that maps them to exit codes.

The core raises error records (problem, fix, file, field); the CLI formats them. The core names
files and mlstack.yaml fields; only the CLI knows which flag the user typed, so it rewrites the
fields of ``init``'s answers into flags here.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import IO, Any

import typer

from mlstack.errors import ExitCode, InputError, MlstackError, PreflightError

# mlstack.yaml field -> the init flag that sets it, so errors name what the user typed
INIT_FLAGS = {
    "name": "--name",
    "components": "--with",
    "gpu.services": "--gpu-services / --gpu SERVICE=SPEC",
    "gpu": "--gpu",
    "shm_size": "--shm-size",
    "ports": "--port",
    "images": "--image",
    "python": "--python",
    "cuda": "--cuda",
    "build.ca_bundle": "--ca-bundle",
    "build.pip_index_url": "--pip-index-url",
    "build": "--ca-bundle / --pip-index-url",
}
# mlstack.yaml field -> the wizard's question that set it (the answers the flags left open)
WIZARD_QUESTIONS = {
    "name": "Project name",
    "components": "Components",
    "gpu": "GPUs for the GPU services",
    "shm_size": "/dev/shm size",
    "python": "Python version",
    "cuda": "CUDA version",
}


def _owner(field: str, table: dict[str, str]) -> str | None:
    """The longest key of ``table`` that ``field`` (``gpu.services.trainer``) starts with."""
    plain = field.split("[")[0]
    keys = [k for k in table if plain == k or plain.startswith(f"{k}.")]
    return max(keys, key=len) if keys else None


def error_text(error: MlstackError) -> str:
    """``error: file: field: problem`` and ``  fix: ...``; a failed preflight lists its checks."""
    if isinstance(error, PreflightError):
        lines = [f"{c.id}: {c.found}\n  fix: {c.fix}" for c in error.failed]
        return f"error: {error.message}:\n" + "\n".join(lines)
    return f"error: {error}"


def painted(text: str, stream: IO[str]) -> str:
    """``error:`` in bold red on a terminal; plain where ``NO_COLOR`` is set or not a terminal."""
    if os.environ.get("NO_COLOR") or not stream.isatty():
        return text
    head, sep, rest = text.partition(":")
    return typer.style(head + sep, fg="red", bold=True) + rest


def as_flag_error(error: InputError, asked: frozenset[str] = frozenset()) -> InputError:
    """An error in a field of ``init``'s answers, said as the flag (or question) that set it.

    ``mlstack init: components[0]: ...`` becomes ``mlstack init: --with (components[0]): ...``;
    a field in ``asked`` (answered in the wizard) names its question; any other error is
    returned as it is. mlstack.yaml does not exist yet, so its fix is never "edit mlstack.yaml".
    """
    from mlstack.spec.answers import INIT_SOURCE  # not at start-up: it loads the spec stage
    from mlstack.spec.stack_spec import FIX as EDIT_THE_FILE

    key = _owner(error.field, INIT_FLAGS)
    if error.source != INIT_SOURCE or key is None:
        return error
    if key in asked and key in WIZARD_QUESTIONS:
        fix = error.fix if error.fix != EDIT_THE_FILE else "run `mlstack init` and answer again"
        where = f'the answer to "{WIZARD_QUESTIONS[key]}" ({error.field})'
        return InputError(INIT_SOURCE, where, error.problem, fix)
    flag = INIT_FLAGS[key]
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
            typer.echo(painted(error_text(exc), sys.stderr), err=True, color=True)
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
