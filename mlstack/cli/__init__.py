"""The command line: the typer app, the wizard and the console. The only package that prints."""

from mlstack.cli.app import app, main

__all__ = ["app", "main"]
