"""No import cycles in src/: every import counts, including those inside functions.

A cycle hidden by a function-level import still ties two modules into one unit (neither can be read,
tested or moved alone), so the graph here is built from the source text with `ast`, not from what
Python happens to have loaded.
"""

from __future__ import annotations

import ast
from pathlib import Path

import spatial_forcing

PACKAGE = "spatial_forcing"
ROOT = Path(spatial_forcing.__file__).parent


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package (packages are their __init__)."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Candidate module names one import statement refers to (resolved later against the real modules)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative: strip `level` parts from the importing package
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    # `from a.b import c` may import the submodule a.b.c, or the name c defined in a.b: try both
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest real module that `name` is or lies inside (importing a.b.c runs a.b.c, not only a.b)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges = set()
        for node in ast.walk(tree):  # walk reaches imports inside functions, classes and `if` blocks
            for name in _imported(node, module, path.name == "__init__.py"):
                if name.split(".")[0] != PACKAGE:
                    continue
                target = _resolve(name, modules)
                if target is None:
                    continue
                # importing a.b.c also runs the __init__ of a and a.b; a module's own packages are left out
                # (they always run first, and a package importing its own submodules is no cycle)
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    dep = ".".join(parts[:i])
                    if dep != module and not module.startswith(dep + "."):
                        edges.add(dep)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None; depth-first search with the current path kept on a stack."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_graph_sees_function_level_and_submodule_imports():
    graph = import_graph()
    assert "spatial_forcing.eval.rollout" in graph["spatial_forcing.cli.eval"]  # imported inside run()
    # `from spatial_forcing.sim.libero import geometry as geo` imports the submodule, not a name
    assert "spatial_forcing.sim.libero.geometry" in graph["spatial_forcing.sim.libero.expert"]
    assert len(graph) > 100  # every module of the package, not only those imported by a test


def test_find_cycle_reports_the_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
