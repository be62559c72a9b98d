#!/usr/bin/env python
"""Stand-in for the official image's start-notebook.py: exec JupyterLab on 0.0.0.0:$JUPYTER_PORT.

The server reads its token from JUPYTER_TOKEN by itself. NOTEBOOK_ARGS and command-line arguments
are passed on, as in the official script.
"""

import os
import shlex
import sys

command = [
    "jupyter",
    os.environ.get("DOCKER_STACKS_JUPYTER_CMD", "lab"),
    "--ip=0.0.0.0",
    f"--port={os.environ.get('JUPYTER_PORT', '8888')}",
    "--no-browser",
    *shlex.split(os.environ.get("NOTEBOOK_ARGS", "")),
    *sys.argv[1:],
]
print("Executing:", shlex.join(command), flush=True)
os.execvp(command[0], command)
