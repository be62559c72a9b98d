"""``python -m mlstack``."""

from mlstack.cli import main

main()
