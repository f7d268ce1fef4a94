"""No import cycle among the apps' modules (billing, crm, dashboard, subsync).

A cycle hidden by an import inside a function still means two modules that cannot be read,
tested or moved apart; it only stops Python from failing at import time. So the graph is built
from every import statement in a module, at any depth (functions, `if TYPE_CHECKING:`), with
relative imports resolved, and must have no cycle. `emulator/` is a standalone tool outside
these apps and is not scanned; nor are tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("billing", "crm", "dashboard", "subsync")
SKIPPED_DIRS = {"emulator", "__pycache__"}

# A cycle that cannot reasonably be broken is listed here, as the set of its modules, with
# the reason. Empty: every cycle found so far has been broken.
ALLOWED_CYCLES: dict[frozenset[str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        if not (ROOT / app).is_dir():
            continue
        for path in (ROOT / app).rglob("*.py"):
            if SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts):
                continue
            found[module_name(path)] = path
    return found


def imported_names(path: Path, name: str) -> set[str]:
    """Every module name `path` (module `name`) imports, at any depth; for `from x import y`
    both `x` and `x.y` (whichever of them is a module is kept by the caller)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the app modules it imports (the most specific module an import names)."""
    modules = app_modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_names(path, name):
            # `import a.b.c` and `from a.b import c` name a.b.c; `from a.b import func`
            # names a.b. Keep the longest prefix that is one of the apps' modules.
            parts = imported.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in modules:
                    targets.add(candidate)
                    break
        targets.discard(name)
        graph[name] = targets
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative; components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module, for the failure message."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & component):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")


def test_the_apps_have_no_import_cycle():
    graph = import_graph()
    cycles = [component for component in strongly_connected(graph)
              if frozenset(component) not in ALLOWED_CYCLES]

    assert not cycles, "import cycles:\n" + "\n".join(
        " -> ".join(one_cycle(graph, component)) for component in cycles)


def test_every_allowed_cycle_still_exists():
    """An allowed cycle that was broken is removed from the list, so it cannot come back."""
    found = {frozenset(component) for component in strongly_connected(import_graph())}

    assert set(ALLOWED_CYCLES) <= found


# -- the graph itself: the check must be able to fail ------------------------------------------

def test_a_cycle_through_a_function_local_import_is_found(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from . import a\n    return a\n")
    modules = {"pkg": package / "__init__.py", "pkg.a": package / "a.py",
               "pkg.b": package / "b.py"}

    names = {name: imported_names(path, name) for name, path in modules.items()}

    assert "pkg.b" in names["pkg.a"]
    assert "pkg.a" in names["pkg.b"]  # relative, inside a function
    graph = {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert strongly_connected(graph) == [{"pkg.a", "pkg.b"}]
    assert one_cycle(graph, {"pkg.a", "pkg.b"}) == ["pkg.a", "pkg.b", "pkg.a"]


def test_relative_imports_resolve_from_a_package_and_from_a_module(tmp_path):
    package = tmp_path / "pkg" / "sub"
    package.mkdir(parents=True)
    init = package / "__init__.py"
    init.write_text("from .one import x\nfrom .. import top\n")
    one = package / "one.py"
    one.write_text("from ..other import y\nfrom . import two\n")

    assert {"pkg.sub.one", "pkg"} <= imported_names(init, "pkg.sub")
    assert {"pkg.other", "pkg.sub.two"} <= imported_names(one, "pkg.sub.one")


def test_the_graph_covers_the_apps_and_sees_their_imports():
    graph = import_graph()

    assert {"billing.services.batch", "crm.salesforce.client", "subsync.wsgi"} <= set(graph)
    assert not any("emulator" in name for name in graph)
    assert "billing.models" in graph["billing.services.batch"]
