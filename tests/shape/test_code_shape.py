"""The code's shape, checked so it cannot drift: short functions, short module docstrings, no module
named like the standard library's, no import cycle in either service, compute's routes independent of
each other, and no issue numbers in code or docs (history belongs in git)."""

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The import roots of the project's Python packages: (folder on sys.path, package).
PACKAGES = [
    (ROOT / "services/compute", "compute"),
    (ROOT / "services/orchestrator", "orchestrator"),
    (ROOT / "shared", "contracts"),
]
MAX_FUNCTION_LINES = 60
MAX_DOCSTRING_LINES = 8


def _modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for base, package in PACKAGES:
        for path in sorted((base / package).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _imported(name: str, tree: ast.Module) -> set[str]:
    """The project modules `name` imports: `from a.b import c` counts as a.b and, if a module, a.b.c."""
    is_package = MODULES[name].name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets.add(module)
            targets.update(f"{module}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in MODULES and t != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    graph = {name: _imported(name, tree) for name, tree in TREES.items()}
    assert _cycles(graph) == []


def test_no_compute_route_imports_another_route() -> None:
    routes = {name for name in MODULES if name.startswith("compute.routes.")}
    crossing = {name: _imported(name, TREES[name]) & (routes | {"compute.routes"}) for name in routes}
    assert {name: sorted(found) for name, found in crossing.items() if found} == {}


def test_no_function_over_the_limit() -> None:
    long = [
        f"{MODULES[name].relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for name, tree in TREES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_module_docstrings_are_short() -> None:
    long = [
        str(MODULES[name].relative_to(ROOT))
        for name, tree in TREES.items()
        if (doc := ast.get_docstring(tree, clean=True)) and len(doc.splitlines()) > MAX_DOCSTRING_LINES
    ]
    assert long == []


def test_no_module_named_like_the_standard_library() -> None:
    shadowing = [
        str(path.relative_to(ROOT)) for path in MODULES.values() if path.stem in sys.stdlib_module_names
    ]
    assert shadowing == []


ISSUE_NUMBER = re.compile(r"issue\s*#?\s*[0-9]+", re.IGNORECASE)


@pytest.mark.parametrize(
    "path",
    [*MODULES.values(), ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench/README.md"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_issue_numbers(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path.name} is absent")
    hits = [
        f"{n}: {line.strip()}"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if ISSUE_NUMBER.search(line)
    ]
    assert hits == []
