"""The pip index of builds: its URL belongs in mlstack.yaml, its credential only in ``.env``.

``mlstack.yaml`` is committed, so a credential in it would reach git, ``compose.yaml`` and image
history. The file holds a reference instead, ``https://${PIP_INDEX_CREDENTIALS}@host/simple``:
the variable names the ``.env`` key holding ``user:token``, and builds receive that value as a
BuildKit secret. ``init --pip-index-url https://user:token@host/simple`` makes the split itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlstack.errors import InputError

CREDENTIALS_VAR = "PIP_INDEX_CREDENTIALS"
FIELD = "build.pip_index_url"
REFERENCE = re.compile(
    r"^(?P<head>(?:[A-Za-z][A-Za-z0-9+.-]*://)?)\$\{(?P<var>[A-Z_][A-Z0-9_]*)\}@"
)
AUTHORITY_END = re.compile(r"[/?#]")
# What a URL may hold and stay a plain word inside double quotes in a Dockerfile's RUN line.
URL_CHARS = re.compile(r"^[A-Za-z0-9._~:/?#\[\]@!&'()*+,;=%-]+$")
MOVE_IT = (
    f"write the URL as https://${{{CREDENTIALS_VAR}}}@HOST/PATH and put "
    f"{CREDENTIALS_VAR}=user:token in .env (mode 0600, not in git); "
    "`mlstack init --pip-index-url https://user:token@HOST/PATH` does this split"
)


@dataclass(frozen=True)
class IndexUrl:
    """A pip index as builds use it: the URL without credentials, and where they come from."""

    url: str  # no user, no token: safe in committed files and image history
    credentials_var: str | None = None  # the .env key holding user:token, if the index needs one


def split_credentials(url: str) -> tuple[str, str | None]:
    """``https://user:token@host/simple`` -> the reference form for mlstack.yaml, and user:token.

    A URL without a credential (or already a reference) comes back as it is, with None.
    """
    if REFERENCE.match(url):
        return url, None
    head, rest = _authority(url)
    authority = AUTHORITY_END.split(rest, maxsplit=1)[0]
    if "@" not in authority:
        return url, None
    userinfo, _, host = authority.rpartition("@")
    return f"{head}${{{CREDENTIALS_VAR}}}@{host}{rest[len(authority) :]}", userinfo


def _authority(url: str) -> tuple[str, str]:
    """``("https://", "host/simple")``; a URL without a scheme is all rest."""
    scheme, sep, rest = url.partition("://")
    return (scheme + sep, rest) if sep else ("", url)


def parse_index_url(value: str, source: str) -> IndexUrl:
    """Read ``build.pip_index_url``; a literal credential is refused without echoing it."""
    match = REFERENCE.match(value)
    url = match["head"] + value[match.end() :] if match else value
    if "@" in AUTHORITY_END.split(_authority(url)[1], maxsplit=1)[0]:
        raise InputError(
            source, FIELD, "holds a user or token, and mlstack.yaml is committed", MOVE_IT
        )
    if not URL_CHARS.match(url):
        raise InputError(
            source,
            FIELD,
            "has a character that must be percent-encoded here (space, quote, $, backslash or `)",
            "percent-encode it, e.g. a space as %20",
        )
    return IndexUrl(url, match["var"] if match else None)
