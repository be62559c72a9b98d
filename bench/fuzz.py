"""Fuzz mlstack's input stage with mutated mlstack.yaml documents, user fragments and .env files.

Each case starts from a real document (an ``init`` spec, a shipped fragment), mutates it
(types changed, keys deleted, odd values inserted, deep nesting, unicode, huge numbers,
anchors and aliases, truncation, stray characters), writes it into a project directory and
runs the core in-process as ``mlstack render --dry-run`` and ``mlstack up`` would before
Docker: catalog, spec, compose model, every planned file, published ports, URLs.

The only acceptable outcomes are ``ok`` and an MlstackError (an InputError naming its file
and problem, exit 2). Anything else is a crash: a bug. Usage:

    python bench/fuzz.py [--cases 20000] [--seed 1] [--judge N]

``--judge N`` needs Docker's Compose (``docker compose config`` reads files only, no engine).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import io
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from mlstack.errors import InputError, MlstackError
from mlstack.render.generate import change_components, render_project
from mlstack.render.published import published_ports
from mlstack.resources import data_dir
from mlstack.spec.answers import Answers, spec_document
from mlstack.spec.catalog import load_catalog
from mlstack.spec.gpu_choice import ALL_GPUS, GpuChoice
from mlstack.spec.placeholders import fill
from mlstack.spec.yamlio import load_file

ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    65536,
    70000,
    8080.0,
    1.5,
    10**9,
    2**64,
    -(2**63),
    float("inf"),
    float("nan"),
    "",
    " ",
    "x" * 5000,
    "ünïcødé ✓ 漢字",
    "\u202eevil",
    "line\nbreak",
    "\x1b[31mred",
    "{python.__class__}",
    "{0}",
    "{}",
    "{port}",
    "{cuda_tag}",
    "${HOME}",
    "$(id)",
    "../../etc/passwd",
    "/var/run/docker.sock:/var/run/docker.sock",
    "2024-01-01",
    "0x10",
    "1e3",
    "yes",
    "null",
    "~",
    "all",
    "none",
    "8gb",
    "0g",
    "99999999999999999999g",
    "-1",
    "api",
    "redis",
    "trainer",
    "python",
    "nope",
    "a" * 64,
    datetime.date(2024, 1, 1),
    [],
    {},
    [1, 2, 3],
    ["api", "api"],
    {"a": 1},
    {"image": "x"},
    {"environment": ["A=1"]},
    {"deploy": "x"},
    {"volumes": {"a": 1}},
]
TEXT_INSERTS = [
    "{",
    "}",
    "[",
    ":",
    "&a ",
    "*a ",
    "!!python/object:os.system ",
    "!!binary ",
    "\t",
    "%YAML 1.2\n",
    '"',
    "'",
    "\x07",
    "\ufeff",
    "<<: *a\n",
    "? ",
    "- ",
    "\n---\n",
    "#",
    "9" * 40,
    "2024-13-45",
]


def emit(data: Any) -> str:
    """Block-style YAML of ``data``: libyaml's emitter when PyYAML has it (10x ruamel's)."""
    try:
        import yaml

        return yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False)
    except (ImportError, AttributeError):
        buf = io.StringIO()
        YAML(typ="safe", pure=True).dump(data, buf)
        return buf.getvalue()


BOMB = "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9 if i else ['lol'] * 9)}]\n" for i in range(9)
)


def base_documents() -> list[tuple[str, Any]]:
    """Real documents to start from: specs ``init`` writes, and every shipped fragment."""
    specs = [
        spec_document(Answers(name="demo")),
        spec_document(
            Answers(
                name="full",
                components=("api", "jupyter", "mlflow", "postgres", "qdrant", "redis", "trainer"),
                gpu=ALL_GPUS,
                shm_size="16g",
                ports={"api": 8080},
                images={"redis": "mirror.example.com/redis:8"},
                ca_bundle="certs/ca.pem",
                pip_index_url="https://pypi.example.com/simple",
            )
        ),
        spec_document(
            Answers(
                name="gpu-ids",
                components=("api", "trainer", "redis"),
                gpu=GpuChoice.parse(["0", "1"]),
                gpu_per_service={"trainer": GpuChoice.parse(2)},
            )
        ),
    ]
    docs: list[tuple[str, Any]] = [("spec", d) for d in specs]
    for path in sorted(data_dir("stacks").glob("*.yaml")):
        docs.append((f"fragment:{path.stem}", load_file(path)))
    return docs


def paths_of(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys and indexes) into ``data``, the root included."""
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += paths_of(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += paths_of(value, (*prefix, i))
    return out


def nested(rng: random.Random) -> Any:
    """A value nested 10 to 60 levels deep (lists or mappings)."""
    value: Any = rng.choice(["x", 1, None])
    for _ in range(rng.randint(10, 60)):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


def odd_value(rng: random.Random) -> Any:
    """A value of a surprising type or size."""
    roll = rng.random()
    if roll < 0.1:
        return nested(rng)
    if roll < 0.15:
        return rng.randint(-(10**30), 10**30)
    return copy.deepcopy(rng.choice(ODD_VALUES))


def set_at(data: Any, path: tuple, value: Any) -> Any:
    """``data`` with the value at ``path`` replaced (the root when ``path`` is empty)."""
    if not path:
        return value
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return data


def mutate(data: Any, rng: random.Random) -> Any:
    """One to three structural mutations of a copy of ``data``."""
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = paths_of(data)
        path = rng.choice(paths)
        roll = rng.random()
        target = data
        for key in path:
            target = target[key]
        if roll < 0.45:
            data = set_at(data, path, odd_value(rng))
        elif roll < 0.65 and path:
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
        elif roll < 0.85 and isinstance(target, dict):
            key = rng.choice([*ODD_KEYS, *map(str, target)])
            target[key] = odd_value(rng)
        elif isinstance(target, list):
            target.append(odd_value(rng) if rng.random() < 0.5 else copy.deepcopy(target))
        else:
            data = set_at(data, path, odd_value(rng))
    return data


ODD_KEYS = [
    "name",
    "components",
    "gpu",
    "devices",
    "services",
    "ports",
    "images",
    "shm_size",
    "build",
    "cuda",
    "python",
    "image",
    "port",
    "url",
    "service",
    "dev",
    "prod",
    "with",
    "volumes",
    "secrets",
    "provides",
    "environment",
    "deploy",
    "healthcheck",
    "x-extra",
    "ünï",
    "1",
    "",
]


def to_text(data: Any, rng: random.Random) -> str:
    """YAML text of ``data``, sometimes damaged or given anchors and aliases."""
    try:
        text = emit(data)
    except Exception:  # a value the emitter cannot write: its repr, YAML flow mostly
        text = repr(data)
    roll = rng.random()
    if roll < 0.08:
        return BOMB + text
    if roll < 0.16:
        lines = text.splitlines(keepends=True)
        at = rng.randrange(len(lines) + 1)
        anchor = "x-common: &a {restart: always}\n" if rng.random() < 0.5 else "x-a: &a [1, 2]\n"
        return anchor + "".join(lines[:at]) + rng.choice(TEXT_INSERTS) + "".join(lines[at:])
    if roll < 0.3:
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice(TEXT_INSERTS) + text[at:]
    if roll < 0.36:
        return text[: rng.randrange(len(text) + 1)]
    return text


def env_text(rng: random.Random) -> str | None:
    """A .env to go with the case, or None (most cases: a fresh clone has none)."""
    if rng.random() < 0.8:
        return None
    lines = [
        "REDIS_PASSWORD=pw",
        f"API_HOST_PORT={rng.choice(['8001', 'abc', '0', '70000', '9' * 5000, '', ' 80'])}",
        "=novalue",
        "# comment",
        "JUST_A_KEY",
        rng.choice(["ünï=1", "X='quoted'", 'Y="x', "Z=" + "v" * 10000]),
    ]
    rng.shuffle(lines)
    return "\n".join(lines[: rng.randint(1, len(lines))])


def write_case(root: Path, kind: str, text: str, env: str | None, rng: random.Random) -> None:
    """Lay out a project: mlstack.yaml, maybe stacks/NAME.yaml and .env."""
    (root / "stacks").mkdir(parents=True, exist_ok=True)
    for old in [*(root / "stacks").iterdir(), root / ".env"]:
        old.unlink(missing_ok=True)
    if kind == "spec":
        (root / "mlstack.yaml").write_text(text, encoding="utf-8")
    else:
        name = kind.split(":")[1] if rng.random() < 0.7 else "extra"
        (root / "stacks" / f"{name}.yaml").write_text(text, encoding="utf-8")
        components = "[api, redis, postgres, mlflow, trainer, jupyter, qdrant]"
        extra = ", extra" if name == "extra" else ""
        (root / "mlstack.yaml").write_text(f"name: demo\ncomponents: {components[:-1]}{extra}]\n")
    if env is not None:
        (root / ".env").write_text(env, encoding="utf-8")


def run_core(root: Path, edit: bool = False) -> None:
    """What `render --dry-run`, `up` and `status` (`add`/`remove` if ``edit``) do before Docker."""
    if edit:
        change_components(root, add=["redis"], dry_run=True)
        change_components(root, remove=["api"], dry_run=True)
    result = render_project(root, dry_run=True)
    catalog = load_catalog(root)
    for profile in ("dev", "prod"):
        for item in published_ports(root, result.spec, catalog, profile):
            frag = catalog[item.service]
            if frag.url:
                fill(frag.url, {"port": item.port})


def outcome(root: Path, edit: bool = False) -> tuple[str, str]:
    """(``ok`` | ``input`` | ``<ErrorClass>`` | ``CRASH ...``, the message) for one project."""
    try:
        run_core(root, edit)
    except InputError as exc:
        if not (exc.file and exc.problem):
            return f"CRASH InputError without file or problem: {exc!r}", str(exc)
        return "input", str(exc)
    except MlstackError as exc:
        return type(exc).__name__, str(exc)
    except Exception as exc:
        where = traceback.format_exc()[-1500:]
        return f"CRASH {type(exc).__name__}: {str(exc)[:200]}\n{where}", ""
    return "ok", ""


def fresh_outcome(root: Path, edit: bool = False) -> tuple[str, str]:
    """The outcome with mlstack's cache off: a cached verdict must equal this one."""
    os.environ["MLSTACK_NO_CACHE"] = "1"
    try:
        return outcome(root, edit)
    finally:
        del os.environ["MLSTACK_NO_CACHE"]


def judged(root: Path) -> str:
    """``docker compose config`` on what render would write (``mlstack validate``)."""
    from mlstack.run.validate import validate_project

    try:
        validate_project(root)
    except InputError as exc:
        return f"ok, but compose refuses: {exc.problem[:160]}"
    return "ok, compose agrees"


def fuzz(cases: int, seed: int, root: Path, recheck_every: int = 10, judge: int = 0) -> Counter:
    """Run ``cases`` mutated projects; the count of each outcome (crashes keep their text).

    Every ``recheck_every``-th case runs again without the cache (``cache`` counts a verdict
    that differs from the cached one: a bug too). The first ``judge`` accepted cases are also
    given to ``docker compose config``: how often mlstack accepts what Compose refuses.
    """
    rng = random.Random(seed)
    docs = base_documents()
    counts: Counter = Counter()
    for i in range(cases):
        kind, data = docs[i % len(docs)]
        text = to_text(mutate(data, rng), rng)
        write_case(root, kind, text, env_text(rng), rng)
        edit = kind == "spec" and rng.random() < 0.5
        result, message = outcome(root, edit)
        counts[result] += 1
        if result == "ok" and judge > sum(v for k, v in counts.items() if k.startswith("ok,")):
            counts[judged(root)] += 1
        if recheck_every and i % recheck_every == 0 and not result.startswith("CRASH"):
            again = fresh_outcome(root, edit)
            if again != (result, message) and "secret" not in message:
                counts[f"CRASH cache: {result} {message!r} but fresh: {again!r}"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--judge",
        type=int,
        default=0,
        metavar="N",
        help="also run `docker compose config` on the first N accepted cases",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlstack-fuzz-"))
    start = time.perf_counter()
    try:
        counts = fuzz(args.cases, args.seed, work / "project", judge=args.judge)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - start
    crashes = {k: v for k, v in counts.items() if k.startswith("CRASH")}
    print(f"{args.cases} cases, seed {args.seed}, {seconds:.1f} s")
    for name, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        if not name.startswith("CRASH"):
            print(f"  {name:<20} {count}")
    print(f"  {'crash':<20} {sum(crashes.values())}")
    for text in list(crashes)[:5]:
        print(text)
    sys.exit(1 if crashes else 0)


if __name__ == "__main__":
    main()
