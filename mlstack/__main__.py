"""``python -m mlstack``."""

from mlstack.cli.app import main

main()
