"""The package's structure: no import loop (function-level imports included), the library importable without
Streamlit, and modules short enough to read (or saying at their top why not)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rnnmem"
MAX_LINES = 350
LONG_REASON = "Longer than"  # how a longer module's docstring says why it is long


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path, root: Path) -> set[str]:
    """The package's modules that ``path`` imports anywhere in it: at the top, inside functions and classes,
    relative or absolute. ``from . import x`` counts as importing module ``x`` when x is one."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == root.name and _is_module(target, root):
                found.add(target)
    return found - {name}


def _is_module(dotted: str, root: Path) -> bool:
    relative = Path(*dotted.split(".")[1:])
    return (root / relative).with_suffix(".py").is_file() or (root / relative / "__init__.py").is_file()


def import_graph(root: Path) -> dict[str, set[str]]:
    return {module_name(path, root): internal_imports(path, root) for path in sorted(root.rglob("*.py"))}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop of ``graph`` (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_package_has_no_import_loop():
    graph = import_graph(PACKAGE)
    assert len(graph) > 30 and graph["rnnmem.refs"] >= {"rnnmem.hub", "rnnmem.modelref"}  # the graph is real
    cycle = find_cycle(graph)
    assert cycle is None, "import loop: " + " -> ".join(cycle)


def test_the_check_sees_a_loop_hidden_in_a_function(tmp_path):
    """The check itself can fail: a package whose loop is closed by an import inside a function."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def f():\n    from .high import g\n    return g\n")
    (package / "high.py").write_text("from . import low\n\ndef g():\n    return low\n")
    (package / "side.py").write_text("import pkg.low\n")
    graph = import_graph(package)
    assert graph["pkg.side"] == {"pkg.low"}
    assert find_cycle(graph) in (["pkg.high", "pkg.low", "pkg.high"], ["pkg.low", "pkg.high", "pkg.low"])


def test_the_library_imports_without_streamlit():
    """Every module outside rnnmem.app imports in a fresh interpreter where Streamlit cannot be imported."""
    modules = [name for name in import_graph(PACKAGE) if not name.startswith("rnnmem.app")
               and name != "rnnmem.__main__"]
    code = ("import importlib, sys\n"
            "sys.modules['streamlit'] = None  # any 'import streamlit' now raises ImportError\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print(len([m for m in sys.modules if m.startswith('rnnmem')]))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) >= len(modules)
    blocked = subprocess.run([sys.executable, "-c", code.replace("for name in", "for name in ['rnnmem.app'] +")],
                             cwd=PACKAGE.parent, capture_output=True, text=True, timeout=300)
    assert blocked.returncode != 0 and "streamlit" in blocked.stderr  # the block does bite


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_is_short_or_says_why_not(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert lines <= MAX_LINES or LONG_REASON in docstring, \
        f"{path.name} has {lines} lines; split it, or say at its top why it is one module ({LONG_REASON} …)"
