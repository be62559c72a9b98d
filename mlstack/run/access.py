"""How a user gets into each published service: its URL with the credential it needs.

The fragment's ``url`` is the address; the credential is the fragment's one secret, placed where
its kind of URL carries it: a ``*_TOKEN`` as ``?token=`` of an HTTP URL (Jupyter's login link),
a ``*_PASSWORD`` as the password of a ``postgresql://`` or ``redis://`` URL. Unless asked, the
value is not shown: ``${VAR}`` says which line of ``.env`` holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

from mlstack.layout import ENV_FILE
from mlstack.render.envfile import parse_env
from mlstack.render.published import published_ports
from mlstack.run.stack import Stack
from mlstack.spec import contain
from mlstack.spec.catalog import Fragment
from mlstack.spec.placeholders import fill


def with_credential(url: str, frag: Fragment, values: Mapping[str, str] | None) -> str:
    """``url`` carrying the fragment's token or password (from ``values``; None: ``${VAR}``)."""
    parts = urlsplit(url)
    for var in frag.secrets:
        shown = "${" + var + "}" if values is None else quote(values.get(var, ""), safe="")
        if var.endswith("_TOKEN") and parts.scheme in ("http", "https"):
            query = f"{parts.query}&token={shown}" if parts.query else f"token={shown}"
            return urlunsplit(parts._replace(query=query))
        if var.endswith("_PASSWORD") and parts.scheme in ("postgresql", "redis"):
            user, _, host = parts.netloc.rpartition("@")
            return urlunsplit(parts._replace(netloc=f"{user}:{shown}@{host}"))
    return url


def access_urls(stack: Stack, show_secrets: bool) -> dict[str, str]:
    """Each published service's URL with its credential (the value only if ``show_secrets``)."""
    env = parse_env(contain.read_text(stack.root, ENV_FILE) or "")
    urls = {}
    for item in published_ports(stack.root, stack.spec, stack.catalog, stack.profile):
        frag = stack.catalog[item.service]
        if frag.url and item.container is None:  # an extra port (services.<name>.ports): no URL
            url = fill(frag.url, {"port": item.port})
            urls[item.service] = with_credential(url, frag, env if show_secrets else None)
    return urls


def extra_addresses(stack: Stack) -> dict[str, str]:
    """Each extra published port (``services.<name>.ports``): ``api:9001`` -> ``127.0.0.1:19001``.

    An address, not a URL: what speaks on a console port is the service's business.
    """
    return {
        f"{item.service}:{item.container}": f"{item.address or '127.0.0.1'}:{item.port}"
        for item in published_ports(stack.root, stack.spec, stack.catalog, stack.profile)
        if item.container is not None
    }
