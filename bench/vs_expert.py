"""The generated dev stack against a hand-written expert stack (bench/expert/compose.yaml).

Prints, with the baseline beside each figure: time to healthy (median of alternating pairs,
each side from nothing: containers and volumes removed), `mlstack up` against
`docker compose up -d --wait` on the same generated files, idle CPU of the two healthy stacks
side by side over the same 60 s (container cgroup CPU time, read from /sys/fs/cgroup),
`mlstack status` time and the time of a second `up` on the unchanged, running stack. Public
tools only: python and docker. Needs the e2e stand-in images (built on first use, see
tests/e2e/images). Usage:
    python bench/vs_expert.py [--pairs 3] [--idle 60] [--lock FILE]
--lock: a file to flock around each engine phase, so that other users of a shared engine wait.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
from images import ensure_images  # noqa: E402 (the e2e images package, by path)
from phases import AS_INSTALLED, QUIET, locked, timed  # noqa: E402 (bench/, beside this file)

FULL = "api,jupyter,mlflow,postgres,qdrant,redis"
PROJECT = "benchfast"
CA = "/etc/ssl/certs/ca-certificates.crt"
PORTS = {"api": 28000, "jupyter": 28888, "mlflow": 25000, "postgres": 25432}
PORTS |= {"qdrant": 26333, "redis": 26379}
EXPERT = ["docker", "compose", "-f", str(HERE / "expert" / "compose.yaml")]
CGROUP = Path("/sys/fs/cgroup")


def cpu_seconds(container_ids: list[str]) -> float:
    """The CPU time the containers used so far: cgroup v1 cpuacct.usage, else v2 cpu.stat."""
    total = 0.0
    for cid in container_ids:
        direct = CGROUP / "cpuacct" / "docker" / cid / "cpuacct.usage"  # cgroupfs driver
        v1 = [direct] if direct.exists() else list(CGROUP.glob(f"cpuacct/**/*{cid}*/cpuacct.usage"))
        if v1:
            total += int(Path(v1[0]).read_text()) / 1e9
            continue
        v2 = list(CGROUP.glob(f"**/*{cid}*/cpu.stat"))
        if not v2:
            sys.exit(f"no cgroup CPU accounting found for container {cid[:12]}")
        stat = dict(line.split() for line in Path(v2[0]).read_text().splitlines())
        total += int(stat["usage_usec"]) / 1e6
    return total


def idle_cpu(projects: list[str], seconds: float) -> list[dict[str, float]]:
    """CPU seconds each service of each running project uses in the same ``seconds`` of idling.

    Both stacks run side by side and are measured over one window: whatever else the machine
    does in that minute weighs on both alike.
    """
    fmt = '{{.ID}} {{.Label "com.docker.compose.service"}}'
    found = []
    for project in projects:
        label = f"label=com.docker.compose.project={project}"
        rows = subprocess.run(
            ["docker", "ps", "--no-trunc", "--filter", label, "--format", fmt],
            capture_output=True, text=True, check=True,
        ).stdout.split("\n")  # fmt: skip
        found.append(dict(row.split() for row in rows if row.strip()))
    before = [{cid: cpu_seconds([cid]) for cid in services} for services in found]
    time.sleep(seconds)
    return [
        {services[cid]: cpu_seconds([cid]) - used for cid, used in start.items()}
        for services, start in zip(found, before, strict=True)
    ]


def init(root: Path, exe: str) -> dict[str, str]:
    """A six-service dev stack on the stand-in images; the environment of the expert stack."""
    images = ensure_images()
    flags = [a for slot, ref in images.items() for a in ("--image", f"{slot}={ref}")]
    flags += [a for svc, port in PORTS.items() for a in ("--port", f"{svc}={port}")]
    cmd = [exe, "init", "--yes", str(root), "--name", PROJECT, "--with", FULL, "--ca-bundle", CA]
    subprocess.run([*cmd, *flags], check=True, stdout=subprocess.DEVNULL)
    return {
        **os.environ,
        "BENCH_API_IMAGE": f"{PROJECT}-api",
        "BENCH_API_CODE": str(root / "api" / "app"),
        "BENCH_MLFLOW_IMAGE": f"{PROJECT}-mlflow",
        "BENCH_JUPYTER_IMAGE": f"{PROJECT}-jupyter",
        "BENCH_POSTGRES_IMAGE": images["postgres"],
        "BENCH_REDIS_IMAGE": images["redis"],
        "BENCH_QDRANT_IMAGE": images["qdrant"],
    }


def report(label: str, ours: list[float], theirs: list[float], unit: str = "s") -> None:
    """One line: both medians and the median of the pairwise ratios."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    print(
        f"{label:<34} mlstack {statistics.median(ours):7.2f} {unit}   "
        f"baseline {statistics.median(theirs):7.2f} {unit}   "
        f"ratio {statistics.median(ratios):5.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--lock", default=None)
    args = parser.parse_args()
    exe = shutil.which("mlstack") or sys.exit("mlstack is not on PATH: pip install . first")
    root = Path(tempfile.mkdtemp(prefix="mlstack-bench-")) / PROJECT
    up = [exe, "-C", str(root), "up", "--timeout", "300"]
    down = ["docker", "compose", "down", "--volumes", "--timeout", "5"]
    wait = ["docker", "compose", "up", "-d", "--wait", "--wait-timeout", "300"]
    with locked(args.lock):
        env = init(root, exe)
        subprocess.run([*up[:-2], "--timeout", "900"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(down, cwd=root, check=True, **QUIET)
    ours, theirs, compose_ours, compose_same = [], [], [], []
    try:
        for pair in range(args.pairs):
            with locked(args.lock):
                sides = [("ours", up, root), ("expert", [*EXPERT, *wait[2:]], root)]
                for side, cmd, cwd in sides if pair % 2 == 0 else sides[::-1]:
                    seconds = timed(cmd, cwd, env)
                    (ours if side == "ours" else theirs).append(seconds)
                    timed(down if side == "ours" else [*EXPERT, *down[2:]], cwd, env)
            with locked(args.lock):
                compose_ours.append(timed(up, root))
                timed(down, root)
                compose_same.append(timed(wait, root))
                timed(down, root)
        if args.pairs:  # --pairs 0: only the idle, status and second-up figures
            print(f"pairs: {args.pairs} (alternating; each side from nothing: volumes removed)")
            report("time to healthy (6 services)", ours, theirs)
            report("mlstack up vs compose up --wait", compose_ours, compose_same)
        with locked(args.lock):
            timed(up, root)
            status = [exe, "-C", str(root), "status"]
            timed(status, root, AS_INSTALLED)  # the first run writes the bytecode, as pip does
            statuses = [timed(status, root, AS_INSTALLED) for _ in range(7)]
            seconds_up = [timed(up, root) for _ in range(3)]
            timed([*EXPERT, *wait[2:]], root, env)
            time.sleep(5)
            idle_ours, idle_expert = idle_cpu([PROJECT, "benchexpert"], args.idle)
            timed(down, root)
            timed([*EXPERT, *down[2:]], root, env)
        ours_total, expert_total = sum(idle_ours.values()), sum(idle_expert.values())
        print(
            f"idle CPU over {args.idle:.0f} s (CPU-s)       mlstack {ours_total:7.2f}     "
            f"baseline {expert_total:7.2f}     ratio {ours_total / expert_total:5.2f}"
        )
        for service in sorted(idle_ours):
            print(
                f"  {service:<32} mlstack {idle_ours[service]:7.2f}     "
                f"baseline {idle_expert.get(service, 0.0):7.2f}"
            )
        print(f"mlstack status (median of 7)       {statistics.median(statuses):7.2f} s (goal 0.3)")
        print(f"second up, unchanged (median of 3) {statistics.median(seconds_up):7.2f} s (goal 2)")
    finally:
        with locked(args.lock):
            subprocess.run(down, cwd=root, check=False, **QUIET)
            subprocess.run([*EXPERT, *down[2:]], cwd=root, env=env, check=False, **QUIET)


if __name__ == "__main__":
    main()
