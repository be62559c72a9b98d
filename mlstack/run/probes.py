"""Probes from the host, as a user reaches each service: HTTP, Redis PING, a Postgres start-up."""

from __future__ import annotations

import socket
import struct
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    """How to reach one service from the host."""

    kind: str  # http, redis, postgres, tcp
    host: str
    port: int
    path: str = ""
    secret: str = ""  # Redis password

    @property
    def url(self) -> str:
        """Where the probe goes, for messages."""
        scheme = "http" if self.kind == "http" else self.kind
        return f"{scheme}://{self.host}:{self.port}{self.path}"


def run_probe(probe: Probe, timeout: float = 3.0) -> str | None:
    """None when the service answered as it should; otherwise what went wrong."""
    try:
        return {"http": _http, "redis": _redis, "postgres": _postgres, "tcp": _tcp}[probe.kind](
            probe, timeout
        )
    except OSError as exc:
        return f"{probe.url}: {exc.strerror or exc}"


def _http(probe: Probe, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(probe.url, timeout=timeout) as response:
            return None if response.status == 200 else f"{probe.url}: HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode(errors="replace")
        return f"{probe.url}: HTTP {exc.code} {body}".strip()
    except urllib.error.URLError as exc:
        return f"{probe.url}: {exc.reason}"


def _redis(probe: Probe, timeout: float) -> str | None:
    with socket.create_connection((probe.host, probe.port), timeout=timeout) as sock:
        if probe.secret:
            sock.sendall(_resp("AUTH", probe.secret))
            reply = sock.recv(256)
            if not reply.startswith(b"+OK"):
                return f"{probe.url}: AUTH refused: {reply.decode(errors='replace').strip()}"
        sock.sendall(_resp("PING"))
        reply = sock.recv(256)
    return (
        None
        if reply.startswith(b"+PONG")
        else f"{probe.url}: {reply.decode(errors='replace').strip()}"
    )


def _resp(*words: str) -> bytes:
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _postgres(probe: Probe, timeout: float) -> str | None:
    """A real protocol start-up: the server must ask for authentication (``R``), not refuse."""
    params = b"user\0postgres\0database\0postgres\0\0"
    startup = struct.pack("!ii", 8 + len(params), 196608) + params
    with socket.create_connection((probe.host, probe.port), timeout=timeout) as sock:
        sock.sendall(startup)
        reply = sock.recv(1024)
    if reply[:1] == b"R":
        return None
    if reply[:1] == b"E":
        message = reply[5:].replace(b"\0", b" ").decode(errors="replace").strip()
        if "starting up" in message or "shutting down" in message:
            return f"{probe.url}: {message}"
        return None  # a server that answers with an error about the user is accepting connections
    return f"{probe.url}: unexpected reply {reply[:20]!r}"


def _tcp(probe: Probe, timeout: float) -> str | None:
    with socket.create_connection((probe.host, probe.port), timeout=timeout):
        return None
