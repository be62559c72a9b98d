#!/usr/bin/env python
"""Stand-in for the official /etc/jupyter/docker_healthcheck.py: GET <server url>api.

As the official script, it reads the URL from the server's runtime file (so base_url, port and
TLS are honoured); it uses urllib where the official one uses requests.
"""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

runtime_dir = Path(subprocess.check_output(["jupyter", "--runtime-dir"], text=True).strip())
server = json.loads(next(runtime_dir.glob("*server-*.json")).read_text())
with urllib.request.urlopen(server["url"] + "api", timeout=1) as reply:
    sys.exit(0 if reply.status == 200 else 1)
