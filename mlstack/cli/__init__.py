"""The command line: the typer app, the wizard and the console. The only package that prints."""

from mlstack.cli.app import app, main
from mlstack.cli.attach_cmds import register as _register_attach
from mlstack.cli.export_cmds import register as _register_exports
from mlstack.cli.look_cmds import register as _register_look

_register_look()
_register_attach()
_register_exports(app)

__all__ = ["app", "main"]
