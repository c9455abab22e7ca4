"""The package's modules import in one direction only (no circle, not even through an import
inside a function or under ``TYPE_CHECKING``), and the harness and the principals use only
public names of other packages."""

import ast
from pathlib import Path

import mermaide

ROOT = "mermaide"
FOLDER = Path(mermaide.__file__).resolve().parent
# The subpackages whose modules must not reach into another package's private names.
PUBLIC_ONLY = ("mermaide.bench", "mermaide.principal")


def module_name(path: Path) -> str:
    parts = path.relative_to(FOLDER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): ast.parse(path.read_text(), str(path))
           for path in sorted(FOLDER.rglob("*.py"))}


def package_of(module: str) -> str:
    """The subpackage a module belongs to (``mermaide.bench.job`` -> ``mermaide.bench``)."""
    return module if module in MODULES and (FOLDER.parent / module.replace(".", "/")
                                            / "__init__.py").exists() else \
        module.rpartition(".")[0]


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


def edges(tree: ast.Module) -> set[str]:
    """The package's modules this one imports. ``from mermaide.x import y`` is the module
    ``mermaide.x.y`` when there is one, else a name of ``mermaide.x``."""
    found = set()
    for module, names in imported(tree):
        if module != ROOT and not module.startswith(f"{ROOT}."):
            continue
        found |= {f"{module}.{n}" if f"{module}.{n}" in MODULES else module for n in names}
        if not names:
            found.add(module)
    return found & set(MODULES)


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
    assert {"mermaide.bench.plan", "mermaide.bench.store", "mermaide.principal.toolkit",
            "mermaide.envs.bandit"} <= set(MODULES)
    graph = {name: edges(tree) for name, tree in MODULES.items()}
    assert find_cycle(graph) is None, f"import circle: {' -> '.join(find_cycle(graph) or [])}"


def test_no_module_uses_a_private_name_of_another_package():
    used = []
    for name, tree in MODULES.items():
        if not name.startswith(PUBLIC_ONLY):
            continue
        own = package_of(name)
        for module, names in imported(tree):
            if module == own or module.startswith(f"{own}."):
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
