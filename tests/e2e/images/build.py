#!/usr/bin/env python3
"""Build the e2e stand-in images: python tests/e2e/images/build.py [--force]

First a Debian bookworm base from debootstrap (no registry to pull one from), then one image per
directory here, in catalog order; each Dockerfile starts FROM the base or an image built before it.
Every image is labelled with a hash of what it is built from (its files and its parent's hash);
an image whose label matches is kept, so a second run builds nothing.
"""

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from functools import partial
from pathlib import Path

from catalog import E2E_IMAGES  # this directory is sys.path[0] when run as a script

HERE = Path(__file__).resolve().parent
LABEL = "mlstack.e2e.hash"
BASE = "mlstack-e2e/debian:bookworm"
MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP = ["--variant=minbase", "--include=ca-certificates", "bookworm"]
# Written into (or removed from) the debootstrap tree before it is imported.
BASE_FILES = {
    "etc/apt/sources.list": f"deb {MIRROR} bookworm main\n"
    f"deb {MIRROR} bookworm-updates main\n"
    "deb http://deb.debian.org/debian-security bookworm-security main\n",
    "etc/apt/apt.conf.d/docker-clean": 'APT::Keep-Downloaded-Packages "false";\n'
    'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n',
    "etc/dpkg/dpkg.cfg.d/docker-excludes": "".join(
        f"path-exclude /usr/share/{d}/*\n" for d in ("doc", "man", "info", "locale")
    ),
}
BASE_REMOVE = [
    "etc/hostname",
    "etc/resolv.conf",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/log/bootstrap.log",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
]
BASE_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    'CMD ["bash"]',
]
# Files a context gets besides its directory's own. HTTPS may go through a TLS-inspecting proxy:
# the images that pip install at their own build get the host's CA bundle for that one step,
# and delete it, so that no stand-in trusts more than its official image (whose pip trusts no
# proxy CA): a stack's build must bring the CA itself, as a user's does.
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
EXTRA_FILES = {"mlflow": {"build-ca.crt": HOST_CA}, "jupyter": {"build-ca.crt": HOST_CA}}


class BuildError(Exception):
    pass


def run(cmd, **kwargs):
    """Run cmd; on failure raise BuildError with the tail of its output."""
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.decode(errors="replace").splitlines()[-40:])
        raise BuildError(f"`{' '.join(map(str, cmd[:3]))} ...` exited {proc.returncode}:\n{tail}")
    return proc.stdout.decode(errors="replace")


def current_hash(tag):
    """The hash label of a local image, or None if there is no such image."""
    fmt = f'{{{{index .Config.Labels "{LABEL}"}}}}'
    proc = subprocess.run(
        ["docker", "image", "inspect", "-f", fmt, tag], capture_output=True, text=True
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def context_files(slot):
    """Relative name -> path of every file in a slot's build context."""
    files = {
        str(p.relative_to(HERE / slot)): p
        for p in sorted((HERE / slot).rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    for name, path in EXTRA_FILES.get(slot, {}).items():
        if not path.is_file():
            raise BuildError(f"{slot}: {path} is missing")
        files[name] = path
    return files


def parent_of(slot):
    for line in (HERE / slot / "Dockerfile").read_text().splitlines():
        if line.upper().startswith("FROM "):
            return line.split()[1]
    raise BuildError(f"{slot}/Dockerfile has no FROM line")


def executable(path):
    return bool(path.stat().st_mode & 0o111)


def context_hash(files, parent_hash):
    h = hashlib.sha256(parent_hash.encode())
    for name, path in sorted(files.items()):
        h.update(f"\0{name}\0{executable(path)}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def context_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, path in sorted(files.items()):
            info = tarfile.TarInfo(name)
            data = path.read_bytes()
            info.size, info.mode = len(data), 0o755 if executable(path) else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_base(digest):
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        raise BuildError(
            "building the Debian base needs root and debootstrap "
            "(run .ci/provision-docker.sh as root)"
        )
    with tempfile.TemporaryDirectory(prefix="mlstack-e2e-") as tmp:
        root = Path(tmp, "rootfs")
        run(["debootstrap", *DEBOOTSTRAP, root, MIRROR])
        for rel in BASE_REMOVE:
            path = root / rel
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        (root / "var/lib/apt/lists/partial").mkdir(parents=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True)
        for rel, text in BASE_FILES.items():
            (root / rel).write_text(text)
        changes = [a for c in [f"LABEL {LABEL}={digest}", *BASE_CHANGES] for a in ("-c", c)]
        tar_cmd = ["tar", "-C", root, "--numeric-owner", "--exclude=./dev/*", "-c", "."]
        with subprocess.Popen(tar_cmd, stdout=subprocess.PIPE) as tar:
            run(["docker", "import", *changes, "-", BASE], stdin=tar.stdout)
        if tar.returncode != 0:
            raise BuildError("tar of the debootstrap tree failed")


def build_slot(tag, files, digest):
    run(
        ["docker", "build", "--force-rm", "--label", f"{LABEL}={digest}", "-t", tag, "-"],
        input=context_tar(files),
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild every image")
    force = parser.parse_args().force
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise BuildError("no Docker engine answers `docker info` (run .ci/provision-docker.sh)")

    params = (DEBOOTSTRAP, MIRROR, BASE_FILES, BASE_REMOVE, BASE_CHANGES)
    hashes = {BASE: hashlib.sha256(repr(params).encode()).hexdigest()}
    jobs = [(BASE, partial(build_base, hashes[BASE]))]
    for slot, tag in E2E_IMAGES.items():
        parent = parent_of(slot)
        if parent not in hashes:
            raise BuildError(f"{slot}/Dockerfile starts FROM {parent}, not built before it")
        files = context_files(slot)
        hashes[tag] = context_hash(files, hashes[parent])
        jobs.append((tag, partial(build_slot, tag, files, hashes[tag])))

    for tag, build in jobs:
        start = time.monotonic()
        cached = not force and current_hash(tag) == hashes[tag]
        if not cached:
            try:
                build()
            except BuildError as e:
                raise BuildError(f"building {tag} failed: {e}") from None
        seconds = time.monotonic() - start
        print(f"{'cached' if cached else 'built '} {tag:34} {seconds:6.1f}s", flush=True)


if __name__ == "__main__":
    try:
        main()
    except BuildError as e:
        sys.exit(f"build.py: {e}")
