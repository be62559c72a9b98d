"""The command line: the typer app, the wizard and the console. The only package that prints."""

from mlstack.cli.app import app, main
from mlstack.cli.diff_cmd import register as _register_diff
from mlstack.cli.export_cmds import register as _register_exports

_register_exports(app)
_register_diff(app)

__all__ = ["app", "main"]
