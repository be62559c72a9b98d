"""Builds through a CA bundle and a credentialed pip index, on the real engine.

One stack (api, jupyter, redis) is built by `mlstack up` from stand-ins that have none of the
stack's requirements, so every package really comes from the index: pip runs as root in the
API's build and as jovyan (uid 1000) in Jupyter's, and both must read the BuildKit secrets.

The index is a small HTTPS server started here. It demands HTTP basic auth, records what it got
and, once authorised, redirects each /simple/ page to PyPI, so the files still come from PyPI
(through the host's TLS-inspecting proxy where there is one: the CA bundle has the host's CAs).
Its certificate is made here and added to the CA bundle the stack is given. It listens on the
address of the engine's default bridge (docker0), the one the host has that build containers
reach: a build's 127.0.0.1 is its own, and `network: host` would have to be written into the
generated compose.yaml, which is not what a user gets.
"""

from __future__ import annotations

import base64
import fcntl
import json
import socket
import ssl
import stat
import struct
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import CA_BUNDLE, compose, destroy, mlstack

pytestmark = pytest.mark.engine

PROJECT = "e2esecure"
USER, TOKEN = "builder", "tok-3f9c1a7e5b2d4c6e8a0b"
PORTS = {"api": 27100, "jupyter": 27888, "redis": 27379}
SECRET_MOUNT = "/run/secrets/pip_index_credentials"


@dataclass
class Index:
    """The test index: its URL with the credential, the CA bundle that trusts it, its log."""

    url: str
    ca_bundle: Path
    requests: list[tuple[str, bool]] = field(default_factory=list)  # (path, authorised)


def bridge_gateway() -> str:
    """The host's address on the engine's default bridge (docker0), as the kernel has it.

    The engine's own record (IPAM ``Gateway``) is empty on Engine 20.10, so the interface is
    asked for its IPv4 address (SIOCGIFADDR).
    """
    template = '{{index .Options "com.docker.network.bridge.name"}}'
    name = subprocess.run(
        ["docker", "network", "inspect", "bridge", "-f", template],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("256s", name.encode()[:15])
        reply = fcntl.ioctl(probe.fileno(), 0x8915, request)  # SIOCGIFADDR
    return socket.inet_ntoa(reply[20:24])


def self_signed(where: Path, address: str) -> tuple[Path, Path]:
    """A certificate for ``address`` (an IP) and its key, made with openssl."""
    cert, key = where / "index.crt", where / "index.key"
    subject = ["-subj", "/CN=mlstack e2e index", "-addext", f"subjectAltName=IP:{address}"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            *subject,
            *files,
        ],
        capture_output=True,
        check=True,
    )
    return cert, key


def handler_for(index: Index) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            authorised = self.headers.get("Authorization") == expected
            index.requests.append((self.path, authorised))
            if not authorised:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="e2e"')
            elif self.path.startswith("/simple/"):
                self.send_response(302)
                self.send_header("Location", f"https://pypi.org{self.path}")
            else:
                self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:  # quiet: the log is index.requests
            pass

    return Handler


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, e2e_images: dict[str, str]) -> Iterator[Index]:
    where = tmp_path_factory.mktemp("index")
    address = bridge_gateway()
    cert, key = self_signed(where, address)
    bundle = where / "ca-bundle.pem"
    bundle.write_text(Path(CA_BUNDLE).read_text() + cert.read_text())
    server = ThreadingHTTPServer((address, 0), None)  # type: ignore[arg-type]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = f"https://{USER}:{TOKEN}@{address}:{server.server_address[1]}/simple"
    found = Index(url, bundle)
    server.RequestHandlerClass = handler_for(found)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, e2e_images, index):
    """The stack, initialised with the credentialed URL, and `mlstack up`'s result."""
    root = tmp_path_factory.mktemp("secure")
    args = ["init", "--yes", "--name", PROJECT, "--with", ",".join(PORTS)]
    args += ["--ca-bundle", str(index.ca_bundle), "--pip-index-url", index.url]
    args += [a for slot, ref in e2e_images.items() for a in ("--image", f"{slot}={ref}")]
    args += [a for name, port in PORTS.items() for a in ("--port", f"{name}={port}")]
    mlstack(root, *args, check=True)
    done = mlstack(root, "up", "--timeout", "300")
    yield root, done
    destroy(root, PROJECT)
    for service in ("api", "jupyter"):
        subprocess.run(["docker", "image", "rm", "-f", f"{PROJECT}-{service}"], capture_output=True)


def run_in(image: str, *code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "python", image, "-c", *code],
        capture_output=True,
        text=True,
        check=False,
    )


def exec_in(root: Path, service: str, *cmd: str) -> str:
    done = compose(root, "exec", "-T", service, *cmd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_stand_ins_hold_none_of_the_stacks_requirements(e2e_images):
    """The builds below fetch everything: the stand-ins, as the official images, have none."""
    for slot, module in (("jupyter", "redis"), ("python", "fastapi"), ("python", "redis")):
        done = run_in(e2e_images[slot], f"import {module}")
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, (slot, module)
    user = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Config.User}}", e2e_images["jupyter"]],
        capture_output=True,
        text=True,
        check=True,
    )
    assert user.stdout.strip() == "1000"


def test_jupyter_builds_as_jovyan_through_the_ca_and_imports_what_it_fetched(stack):
    root, up = stack
    assert up.returncode == 0, up.stdout + up.stderr
    where = exec_in(root, "jupyter", "python", "-c", "import redis; print(redis.__file__)")
    assert where.startswith("/opt/conda/")
    owner = exec_in(root, "jupyter", "stat", "-c", "%u:%g", where)
    assert owner == "1000:100"  # pip ran as jovyan, so it read both secrets as uid 1000
    exec_in(root, "api", "python", "-c", "import fastapi, uvicorn, redis")


def test_the_api_venv_holds_the_apps_packages_and_no_pip(stack):
    """The build stage's pip filled a pip-less venv: the runtime image carries only the app's
    packages, and their scripts run on the venv's interpreter."""
    root, up = stack
    assert up.returncode == 0, up.stdout + up.stderr
    exec_in(root, "api", "python", "-c", "import fastapi, uvicorn, redis")
    done = compose(root, "exec", "-T", "api", "python", "-m", "pip", "--version")
    assert done.returncode != 0 and "No module named pip" in done.stdout + done.stderr
    assert exec_in(root, "api", "head", "-1", "/opt/venv/bin/uvicorn") == "#!/opt/venv/bin/python"


def test_the_index_credential_reached_pip_and_only_through_the_secret(stack, index):
    _, up = stack
    assert up.returncode == 0, up.stdout + up.stderr
    asked = {path for path, _ in index.requests}
    assert {"/simple/redis/", "/simple/fastapi/"} <= asked, sorted(asked)
    refused = [path for path, ok in index.requests if not ok]
    assert refused == []


def test_no_credential_in_any_file_but_env_nor_in_any_image(stack):
    root, up = stack
    assert up.returncode == 0, up.stdout + up.stderr
    files = [p for p in root.rglob("*") if p.is_file()]
    holding = [p.relative_to(root).as_posix() for p in files if TOKEN.encode() in p.read_bytes()]
    assert holding == [".env"]
    assert stat.S_IMODE((root / ".env").stat().st_mode) == 0o600
    assert ".env" in (root / ".gitignore").read_text().splitlines()
    assert "${PIP_INDEX_CREDENTIALS}@" in (root / "mlstack.yaml").read_text()
    for service in ("api", "jupyter"):
        image = f"{PROJECT}-{service}"
        history = subprocess.run(
            ["docker", "history", "--no-trunc", image], capture_output=True, text=True, check=True
        ).stdout
        inspect = subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, text=True, check=True
        ).stdout
        assert TOKEN not in history and TOKEN not in inspect, image
        assert "PIP_INDEX" not in json.dumps(json.loads(inspect)[0]["Config"]), image
    jupyter_history = subprocess.run(
        ["docker", "history", "--no-trunc", f"{PROJECT}-jupyter"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"$(cat {SECRET_MOUNT})" in jupyter_history  # the step read the secret, not an ARG


def test_plain_compose_without_the_credential_says_where_it_goes(stack):
    """Compose reads build secrets from its environment, not from .env: the build says so."""
    root, up = stack
    assert up.returncode == 0, up.stdout + up.stderr
    done = compose(root, "build", "--no-cache", "jupyter")
    assert done.returncode != 0
    assert "needs PIP_INDEX_CREDENTIALS=user:token in .env" in done.stdout + done.stderr
    assert TOKEN not in done.stdout + done.stderr
