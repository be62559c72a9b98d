"""Answers (wizard, flags) -> StackSpec: mlstack.yaml, JSON Schemas, the fragment catalog.

Pure: a function of the files and answers it is given; no Docker, no terminal.
"""
