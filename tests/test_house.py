"""The house stays right: the package's shape, read from its source with ``ast``.

- Stages import only downward: cli > run > render > spec > machine; errors, layout and
  resources are leaves that import no other mlstack module. No import cycle between modules.
- Only mlstack/cli talks to the terminal: imports rich, typer, click or questionary, or calls
  print, typer.echo, click.echo or sys.stdout/stderr.write.
- No module over 300 lines.

Imports inside functions count too: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlstack"
RANK = {"machine": 0, "spec": 1, "render": 2, "export": 3, "run": 4, "cli": 5}
LEAVES = {"errors", "layout", "resources"}
TERMINAL_LIBRARIES = {"rich", "typer", "click", "questionary"}
MAX_LINES = 300


def modules() -> dict[str, Path]:
    """Every module of the package (``mlstack.run.operate`` -> its file), templates aside."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if "templates" in relative.parts:
            continue  # starter code written into users' stacks, not part of mlstack
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        found[".".join(parts)] = path
    return found


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of the package ``name`` imports (``from pkg import module`` included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in out if m in known}


def layer(module: str) -> str:
    """``mlstack.run.operate`` -> ``run``; ``mlstack.errors`` -> ``errors``; ``mlstack`` -> ""."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) - {name} for name, path in known.items()}


def test_every_module_belongs_to_a_stage_or_is_a_leaf():
    top = {"", "__main__"}
    strays = [m for m in modules() if layer(m) not in {*RANK, *LEAVES, *top}]
    assert strays == [], "put each module in a stage package (README: How the code is laid out)"


def test_no_upward_import_and_leaves_import_nothing():
    wrong = []
    for module, targets in graph().items():
        here = layer(module)
        for target in targets:
            there = layer(target)
            if there in LEAVES and here != there:
                continue
            if here in LEAVES or (here in RANK and (there not in RANK or RANK[there] > RANK[here])):
                wrong.append(f"{module} -> {target}")
    assert wrong == [], "imports that point up (cli > run > render > spec > machine)"


def test_no_import_cycle():
    edges = graph()
    cycles, state = [], dict.fromkeys(edges, 0)  # 0 new, 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if target.startswith(f"{module}."):
                continue  # a package importing its own submodule is no cycle
            if state[target] == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif state[target] == 0:
                visit(target, [*path, target])
        state[module] = 2

    for module in edges:
        if state[module] == 0:
            visit(module, [module])
    assert cycles == []


def terminal_use(path: Path) -> list[str]:
    """Lines of a module that import a terminal library or write to the terminal."""
    found = []
    for node in ast.walk(tree(path)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        if any(n.split(".")[0] in TERMINAL_LIBRARIES for n in names):
            found.append(f"{path.name}:{node.lineno}: import {', '.join(names)}")
        if isinstance(node, ast.Call) and _writes(node.func):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node.func)}(...)")
    return found


def _writes(func: ast.expr) -> bool:
    """print(...), typer.echo / click.echo / secho, sys.stdout.write, sys.stderr.write."""
    if isinstance(func, ast.Name):
        return func.id == "print"
    if not isinstance(func, ast.Attribute):
        return False
    text = ast.unparse(func)
    return text in {"typer.echo", "typer.secho", "click.echo", "click.secho"} or text in {
        "sys.stdout.write",
        "sys.stderr.write",
    }


def test_only_the_cli_talks_to_the_terminal():
    outside = [
        line
        for module, path in modules().items()
        if layer(module) not in {"cli", "__main__"}
        for line in terminal_use(path)
    ]
    assert outside == [], "the core returns results and emits events; mlstack/cli prints"


@pytest.mark.parametrize("module", sorted(modules()))
def test_no_module_over_300_lines(module: str):
    lines = len(modules()[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by what it holds"


def test_the_rules_catch_what_they_are_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The checks above can fail: a spec module importing the CLI, and one that prints."""
    fake = tmp_path / "mlstack"
    (fake / "spec").mkdir(parents=True)
    (fake / "cli").mkdir()
    for init in (fake / "__init__.py", fake / "spec" / "__init__.py", fake / "cli" / "__init__.py"):
        init.write_text("")
    (fake / "cli" / "app.py").write_text("from mlstack.spec import bad\n")
    (fake / "spec" / "bad.py").write_text(
        "def f():\n    from mlstack.cli import app\n    print(1)\n"
    )
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    with pytest.raises(AssertionError, match="point up"):
        test_no_upward_import_and_leaves_import_nothing()
    with pytest.raises(AssertionError, match=re.escape("mlstack.cli.app -> mlstack.spec.bad")):
        test_no_import_cycle()
    with pytest.raises(AssertionError, match="mlstack/cli prints"):
        test_only_the_cli_talks_to_the_terminal()
