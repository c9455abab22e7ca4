"""The harness's modules import in one direction only (no circle, not even through an import
inside a function or under ``TYPE_CHECKING``), and use only public names of other packages."""

import ast
from pathlib import Path

import mermaide.bench

PACKAGE = "mermaide.bench"
FOLDER = Path(mermaide.bench.__file__).resolve().parent


def module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


MODULES = {module_name(path): ast.parse(path.read_text(), str(path))
           for path in sorted(FOLDER.glob("*.py"))}


def imported(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """Every import anywhere in the module: (module, names taken from it)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import of {node.module!r}"
            found.append((node.module or "", [alias.name for alias in node.names]))
    return found


def bench_edges(tree: ast.Module) -> set[str]:
    """The harness modules this one imports. ``from mermaide.bench import x`` is the module
    ``x`` when there is one, else a name of the package's ``__init__``."""
    edges = set()
    for module, names in imported(tree):
        if module == PACKAGE:
            edges |= {f"{PACKAGE}.{n}" if f"{PACKAGE}.{n}" in MODULES else PACKAGE for n in names}
        elif module.startswith(f"{PACKAGE}."):
            edges.add(module)
    return edges


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle of the graph as a list of nodes (first == last), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    return next((c for node in sorted(graph) if node not in state and (c := visit(node))), None)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_modules_form_no_import_circle():
    assert {f"{PACKAGE}.plan", f"{PACKAGE}.store", f"{PACKAGE}.job",
            f"{PACKAGE}.backends"} <= set(MODULES)
    graph = {name: bench_edges(tree) for name, tree in MODULES.items()}
    assert find_cycle(graph) is None, f"import circle: {' -> '.join(find_cycle(graph) or [])}"


def test_no_module_uses_a_private_name_of_another_package():
    used = []
    for name, tree in MODULES.items():
        for module, names in imported(tree):
            if module == PACKAGE or module.startswith(f"{PACKAGE}."):
                continue
            private = [n for n in [*module.split("."), *names]
                       if n.startswith("_") and not n.startswith("__")]
            used += [f"{name}: from {module} import {', '.join(names)}"] if private else []
        # Private attributes reached on another object (not the module's own classes').
        used += [f"{name}: .{node.attr} (line {node.lineno})" for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute) and node.attr.startswith("_")
                 and not node.attr.startswith("__")
                 and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))]
    assert used == []
