"""A derandomized fuzz run of the input stage: 2,000 mutated specs, fragments and .env files.

Mutations of the real documents (``bench/fuzz.py``: types changed, keys deleted, odd values,
deep nesting, unicode, huge numbers, aliases and bombs, truncation) run through the core as
``render --dry-run``, ``add``/``remove`` and ``up`` would before Docker. The only outcomes
allowed are ``ok`` and an MlstackError; every InputError names its file and problem; a sample
runs again without the cache and must end the same way. ``python bench/fuzz.py`` runs longer.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("cpu_only_host")

BENCH = Path(__file__).resolve().parents[1] / "bench" / "fuzz.py"
CASES = 2000
SEED = 20260508


def load_fuzz() -> object:
    spec = importlib.util.spec_from_file_location("mlstack_bench_fuzz", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_thousand_mutated_inputs_end_in_ok_or_an_input_error(tmp_path: Path) -> None:
    fuzz = load_fuzz()
    start = time.perf_counter()
    counts = fuzz.fuzz(CASES, SEED, tmp_path / "project", recheck_every=50)  # type: ignore[attr-defined]
    seconds = time.perf_counter() - start
    crashes = [name for name in counts if name.startswith("CRASH")]
    assert not crashes, f"{len(crashes)} crashes; the first:\n{crashes[0]}"
    assert sum(counts.values()) == CASES
    # the mutations reach both sides: many refused, enough accepted to render
    assert counts["input"] > CASES // 2 and counts["ok"] > CASES // 50, counts
    print(f"fuzz: {CASES} cases in {seconds:.1f} s: {dict(counts)}")
