"""The package's layering (docs/design.md, "Layout and layering"): every
import of every module, those inside functions and under TYPE_CHECKING
too, is allowed by the rules, and no two modules import each other, even
through others."""

import ast
from pathlib import Path

from bannedbook.build.fingerprint import imported_modules, module_path

PACKAGE = Path(__file__).resolve().parent.parent / "bannedbook"

# Which parts of the package each part may import (its own modules always).
# errors and records are plain data below everything; cli and __main__ sit
# on top and may import anything.
MAY_IMPORT = {
    "errors": set(),
    "records": set(),
    "text": {"errors"},
    "search": {"text"},
    "research": {"text", "search", "errors", "db.schema"},  # the lexicon writes its tables by the one schema
    "db": {"text", "search", "research", "errors", "records"},
    "build": {"text", "search", "research", "db", "errors", "records"},
    "crawl": {"text", "errors"},
    "web": {"text", "search", "research", "db", "errors"},
}
TOP = {"cli", "__main__", "__init__"}
# Only the web layer (and what runs it) may import Datasette.
DATASETTE_FREE = {"errors", "records", "text", "search", "research", "db", "build", "crawl"}


def part(module: str) -> str:
    """bannedbook.db.store → db; bannedbook.errors → errors."""
    return module.split(".")[1] if module.count(".") else "__init__"


def modules() -> dict[str, bytes]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path.read_bytes()
    return found


def imports() -> dict[str, set[str]]:
    """{module: the package's modules it imports} (parent packages left out:
    an __init__.py here holds nothing)."""
    graph = {}
    for name, source in modules().items():
        is_package = module_path(name).name == "__init__.py"
        graph[name] = {m for m in imported_modules(name, source, is_package) if m != name and not empty_package(m)}
    return graph


def empty_package(module: str) -> bool:
    path = module_path(module)
    return path is not None and path.name == "__init__.py" and not path.read_text(encoding="utf-8").strip()


def allowed(importer: str, imported: str) -> bool:
    source, target = part(importer), part(imported)
    if source in TOP or source == target:
        return True
    rules = MAY_IMPORT[source]
    return target in rules or ".".join(imported.split(".")[1:3]) in rules


def datasette_imports(source: bytes) -> bool:
    for node in ast.walk(ast.parse(source)):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
        if any(name == "datasette" or name.startswith("datasette.") for name in names):
            return True
    return False


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle found by a depth-first walk, as the modules on it."""
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_every_part_is_known():
    assert {part(name) for name in modules()} <= set(MAY_IMPORT) | TOP


def test_every_import_follows_the_layering():
    graph = imports()
    assert sum(map(len, graph.values())) > 50  # the walk sees the package's imports at all
    wrong = [f"{importer} imports {imported}" for importer, targets in graph.items()
             for imported in sorted(targets) if not allowed(importer, imported)]
    assert wrong == []


def test_only_the_web_layer_imports_datasette():
    found = [name for name, source in modules().items() if part(name) in DATASETTE_FREE and datasette_imports(source)]
    assert found == []
    assert datasette_imports(modules()["bannedbook.web.search"])  # the check sees Datasette where it is


def test_no_import_cycles():
    assert cycles(imports()) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
