"""What looks like a credential in mlstack.yaml, which is committed: names and values.

``services.<name>.env`` is for non-secret settings; a value that belongs in ``.env`` is refused
with a fix that says where it goes (``services.<name>.secrets``).
"""

from __future__ import annotations

import re

from mlstack.spec.index_url import CREDENTIALS_VAR

# read by compose itself or the docker CLI (from .env too)
TOOL_PREFIXES = ("COMPOSE_", "DOCKER_", "BUILDKIT_")
# words of a variable name that say "this is a credential" (TOKENIZERS_PARALLELISM is not)
SECRET_WORDS = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "CREDENTIALS"}
# scheme://user:password@host
URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^@\s/]+@")


def credential_name(name: str) -> bool:
    """Whether a variable's name says it holds a credential (``HF_TOKEN``, ``OPENAI_API_KEY``)."""
    upper = name.upper()
    return bool(SECRET_WORDS & set(upper.split("_"))) or "API_KEY" in upper


def credential_value(value: object) -> bool:
    """Whether a value carries a password: a URL with ``user:password@``."""
    return isinstance(value, str) and URL_PASSWORD.search(value) is not None


def reserved_secret(name: str) -> str:
    """Why ``name`` cannot be a ``services.<name>.secrets`` entry ("" when it can).

    Compose and the docker CLI read ``COMPOSE_*``, ``DOCKER_*``, ``BUILDKIT_*`` and the host
    ports from ``.env`` too (a random value there breaks them); the pip index's credential goes
    to builds as a BuildKit secret, never into a running service's environment.
    """
    if name.endswith("_HOST_PORT") or name.startswith(TOOL_PREFIXES):
        return f"{name} is a setting of compose, not a secret"
    if name == CREDENTIALS_VAR:
        return f"{name} is the pip index's credential: builds get it, a running service never"
    return ""
