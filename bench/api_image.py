"""The generated API image against a naive single-stage one, and a code-only change's cost.

Prints, with the baseline beside each figure:
- size (docker image inspect .Size) of the API image of a generated api+postgres+redis+mlflow
  stack against bench/naive-api/Dockerfile built from the same api/ folder (same
  requirements.txt and app): on the full python image (the usual naive choice; its stand-in is
  bench/naive-api/python-full, see there what it holds) and on the same slim base mlstack uses;
- a code-only change to api/app/main.py (median of --runs), until the running API serves it:
  dev (uvicorn --reload on the bind-mounted code) and prod, rebuilt and restarted with
  `docker compose build api && docker compose up -d api`; beside the latter, the naive image's
  rebuild after the same change (its `COPY . .` comes before `pip install`).
Public tools only: python and docker. Needs the e2e stand-in images (built on first use, see
tests/e2e/images). Usage:
    python bench/api_image.py [--runs 3] [--lock FILE]
--lock: a file to flock around each engine phase, so that other users of a shared engine wait.
"""

from __future__ import annotations

import argparse
import functools
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
from images import ensure_images  # noqa: E402 (the e2e images package, by path)
from phases import QUIET, locked, timed  # noqa: E402 (bench/, beside this file)

CA = "/etc/ssl/certs/ca-certificates.crt"
NAIVE = HERE / "naive-api"
FULL_BASE = "mlstack-bench/python:3.11"
NAIVE_COMPOSE = ["docker", "compose", "-f", str(NAIVE / "compose.yaml")]
NAIVE_IMAGES = ["mlstack-bench/naive-api:full", "mlstack-bench/naive-api:slim"]
SIZE_STACK, CODE_STACK = "benchimg", "benchcode"
API_PORT = 28100
PROD = ["docker", "compose", "-f", "compose.yaml", "-f", "compose.prod.yaml"]
DOWN = ["down", "--volumes", "--timeout", "5"]
RUN_ID = secrets.token_hex(4)
ROUTE = '\n\n@app.get("/bench-rev")\ndef bench_rev() -> dict:\n    return {{"rev": "{rev}"}}\n'


@functools.cache
def stand_ins() -> dict[str, str]:
    """The e2e stand-in images, built once if missing (their build prints one line each)."""
    return ensure_images()


def load() -> str:
    """The machine's load averages, as `uptime` prints them."""
    return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def size_mb(image: str) -> float:
    """An image's size as `docker image inspect` reports it (.Size), in MB."""
    out = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", image],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(out.strip()) / 1e6


def init(root: Path, exe: str, name: str, components: str) -> None:
    """A generated stack on the stand-in images (pip gets the host CA as a build secret)."""
    flags = [a for slot, ref in stand_ins().items() for a in ("--image", f"{slot}={ref}")]
    cmd = [exe, "init", "--yes", str(root), "--name", name, "--with", components]
    cmd += ["--ca-bundle", CA, "--port", f"api={API_PORT}", *flags]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def naive_env(context: Path) -> dict[str, str]:
    """The variables bench/naive-api/compose.yaml builds from."""
    return {
        **os.environ,
        "NAIVE_CONTEXT": str(context),
        "NAIVE_DOCKERFILE": str(NAIVE / "Dockerfile"),
        "NAIVE_FULL_BASE": FULL_BASE,
        "NAIVE_SLIM_BASE": stand_ins()["python"],
        "NAIVE_CA": CA,
    }


def sizes(root: Path) -> dict[str, float]:
    """Build the generated API image and both naive ones; their sizes and their bases'."""
    classic = {**os.environ, "DOCKER_BUILDKIT": "0"}  # no secret needed; no buildx here
    timed(["docker", "build", "-q", "-t", FULL_BASE, str(NAIVE / "python-full")], NAIVE, classic)
    timed(["docker", "compose", "build", "api"], root)
    timed([*NAIVE_COMPOSE, "build"], root, naive_env(root / "api"))
    return {
        "mlstack": size_mb(f"{SIZE_STACK}-api"),
        "full": size_mb(NAIVE_IMAGES[0]),
        "slim": size_mb(NAIVE_IMAGES[1]),
        "full base": size_mb(FULL_BASE),
        "slim base": size_mb(stand_ins()["python"]),
    }


def change_code(main: Path, original: str, rev: str) -> None:
    """A code-only change: one route added to the app, answering ``rev``.

    Callers put RUN_ID into ``rev``: no build cache of an earlier bench run can match it.
    """
    main.write_text(original + ROUTE.format(rev=rev))


def serves(rev: str, timeout: float = 120.0) -> float:
    """Seconds until the API on API_PORT answers /bench-rev with ``rev`` (the new code)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            url = f"http://127.0.0.1:{API_PORT}/bench-rev"
            with urllib.request.urlopen(url, timeout=1) as response:
                if f'"{rev}"' in response.read().decode():
                    return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"the API did not serve revision {rev} within {timeout:.0f} s")


def dev_reload(root: Path, exe: str, runs: int) -> list[float]:
    """Seconds from a code change to the dev API (uvicorn --reload) serving it."""
    timed([exe, "-C", str(root), "up", "--timeout", "600"], root)
    seconds = [rebuilt(root, [], f"dev-{run}-{RUN_ID}") for run in range(runs)]
    timed(["docker", "compose", *DOWN], root)
    return seconds


def rebuilt(root: Path, commands: list[list[str]], rev: str) -> float:
    """Seconds from a code change through ``commands`` to the API serving the new code."""
    main = root / "api" / "app" / "main.py"
    original = main.read_text()
    start = time.perf_counter()
    change_code(main, original, rev)
    for command in commands:
        subprocess.run(command, cwd=root, check=True, **QUIET)
    seconds = time.perf_counter() - start + serves(rev)
    main.write_text(original)
    time.sleep(2)  # untimed: a reloading dev server settles before the next change
    return seconds


def prod_rebuild(root: Path, exe: str, runs: int) -> tuple[list[float], list[float]]:
    """A code change reaching the prod API: by compose build + up, and by `mlstack up --build`."""
    timed([*PROD, "up", "-d", "--build", "--wait", "--wait-timeout", "300"], root)
    compose = [[*PROD, "build", "api"], [*PROD, "up", "-d", "api"]]
    ours = [[exe, "-C", str(root), "up", "-p", "prod", "--build", "--service", "api"]]
    by_compose = [rebuilt(root, compose, f"compose-{run}-{RUN_ID}") for run in range(runs)]
    by_mlstack = [rebuilt(root, ours, f"mlstack-{run}-{RUN_ID}") for run in range(runs)]
    timed([*PROD, *DOWN], root)
    return by_compose, by_mlstack


def naive_rebuild(root: Path, runs: int) -> list[float]:
    """Seconds the naive slim image takes to build again after the same code-only change."""
    main = root / "api" / "app" / "main.py"
    original, env = main.read_text(), naive_env(root / "api")
    seconds = []
    for run in range(runs):
        change_code(main, original, f"naive-{run}-{RUN_ID}")
        seconds.append(timed([*NAIVE_COMPOSE, "build", "slim"], root, env))
    main.write_text(original)
    return seconds


def print_sizes(found: dict[str, float]) -> None:
    ours = found["mlstack"]
    for base in ("full", "slim"):
        print(
            f"API image vs naive on {base:<4} python   mlstack {ours:7.1f} MB  "
            f"baseline {found[base]:7.1f} MB  ratio {ours / found[base]:5.2f} (goal 0.6)"
        )
    print(f"  bases: full python {found['full base']:.1f} MB, slim {found['slim base']:.1f} MB")


def print_times(label: str, ours: list[float], theirs: list[float] | None, goal: str) -> None:
    line = f"{label:<36} mlstack {statistics.median(ours):7.2f} s  "
    if theirs:
        line += f" baseline {statistics.median(theirs):7.2f} s  "
    runs = ", ".join(f"{s:.2f}" for s in ours)
    print(f"{line}(median of {len(ours)}: {runs}; goal {goal})")


def cleanup(roots: list[Path]) -> None:
    """Remove what the bench made: containers, volumes, the stacks' and naive images."""
    for root in roots:
        if root.exists():
            subprocess.run([*PROD, *DOWN], cwd=root, check=False, **QUIET)
    images = [f"{SIZE_STACK}-api", f"{CODE_STACK}-api", *NAIVE_IMAGES]
    subprocess.run(["docker", "image", "rm", *images], check=False, **QUIET)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lock", default=None)
    args = parser.parse_args()
    exe = shutil.which("mlstack") or sys.exit("mlstack is not on PATH: pip install . first")
    tmp = Path(tempfile.mkdtemp(prefix="mlstack-bench-"))
    size_root, code_root = tmp / SIZE_STACK, tmp / CODE_STACK
    try:
        with locked(args.lock):
            init(size_root, exe, SIZE_STACK, "api,postgres,redis,mlflow")
            print(load() + " (sizes)")
            print_sizes(sizes(size_root))
            naive = naive_rebuild(size_root, args.runs)
        with locked(args.lock):
            init(code_root, exe, CODE_STACK, "api,redis")
            print(load() + " (code-only change)")
            dev = dev_reload(code_root, exe, args.runs)
            prod, prod_mlstack = prod_rebuild(code_root, exe, args.runs)
        print_times("code change, dev (--reload)", dev, None, "5")
        print_times("code change, compose build + up", prod, naive, "5; baseline: naive build")
        print_times("code change, mlstack up --build", prod_mlstack, naive, "5")
        print(load() + " (end)")
    finally:
        with locked(args.lock):
            cleanup([size_root, code_root])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
