"""The import graph of ``codetrace`` has no cycle, and the runtime stands alone.

Every import statement counts, at module level, inside functions (lazy imports) and under
``if TYPE_CHECKING`` alike: a cycle hidden behind a lazy import is still a cycle. A package's
``__init__`` is not counted as imported by its own submodules (Python imports it first anyway;
what matters is what the modules name).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "codetrace"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The codetrace modules ``name`` imports, and the top-level names of the others."""
    tree = ast.parse(path.read_bytes(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(_known_prefix(alias.name, known))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = ".".join(p for p in (anchor, base) if p)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else _known_prefix(base, known))
    found.discard(name)
    return found


def _known_prefix(dotted: str, known: set[str]) -> str:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in known:
            return prefix
    return dotted


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root] & graph.keys())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child] & graph.keys()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_no_import_cycle() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_cycle_detection_sees_a_cycle() -> None:
    """The checker itself: a lazy import back is a cycle."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def _eager_imports(path: Path) -> set[str]:
    """Top-level names imported outside function bodies (what importing the module loads)."""
    found: set[str] = set()

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name.split(".", 1)[0] for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and not child.level and child.module:
                found.add(child.module.split(".", 1)[0])
            walk(child)

    walk(ast.parse(path.read_bytes(), str(path)))
    return found


def test_runtime_imports_only_the_standard_library() -> None:
    """``codetrace.runtime`` is installed alone in production: nothing of the engine, and no
    third-party package at import. A library being instrumented may be imported inside the
    function that instruments it (the application already loaded it), as may the optional
    OpenTelemetry API in the bridge."""
    graph = _graph()
    modules = _modules()
    stdlib = set(sys.stdlib_module_names)
    for name, imported in graph.items():
        if not name.startswith("codetrace.runtime"):
            continue
        for target in imported:
            if target.startswith("codetrace") and not target.startswith("codetrace.runtime"):
                pytest.fail(f"{name} imports {target}: the runtime must stand alone")
        eager = _eager_imports(modules[name]) - stdlib - {"codetrace"}
        if name == "codetrace.runtime._bridge":
            eager.discard("opentelemetry")
        assert not eager, f"{name} imports {sorted(eager)} at import time"


#: the engine's layers, foundations first (docs/architecture.md): a module may import modules of
#: its own layer or of layers before it, never of a later one
LAYERS: list[set[str]] = [
    {"codetrace.runtime"},  # the whole runtime package, every submodule
    {"codetrace", "codetrace._paths", "codetrace._toml", "codetrace._result",
     "codetrace._ruleset", "codetrace._directives", "codetrace._span_directive",
     "codetrace._tool_config", "codetrace._versions"},
    {"codetrace._model"},
    {"codetrace._format", "codetrace._options", "codetrace._source", "codetrace._snippets",
     "codetrace._import_settings", "codetrace._import_order"},
    {"codetrace._marker"},
    {"codetrace._advice._base", "codetrace._advice.*"},
    {"codetrace._advice"},
    {"codetrace._prefilter"},
    {"codetrace._collect", "codetrace._resolve", "codetrace._match"},
    {"codetrace._project"},
    {"codetrace._context", "codetrace._instrument", "codetrace._strip"},
    {"codetrace._engine"},
    {"codetrace._rules", "codetrace._config", "codetrace._discover", "codetrace._cache",
     "codetrace._write", "codetrace._report", "codetrace._progress", "codetrace._output",
     "codetrace._sarif", "codetrace._html_report"},
    {"codetrace._run"},
    {"codetrace.cli", "codetrace.__main__"},
]


def _layer(name: str) -> int:
    if name == "codetrace.runtime" or name.startswith("codetrace.runtime."):
        return 0
    for index, members in enumerate(LAYERS):
        if name in members:
            return index
    for index, members in enumerate(LAYERS):
        if any(m.endswith(".*") and name.startswith(m[:-1]) for m in members):
            return index
    raise AssertionError(f"{name} has no layer: add it to LAYERS and docs/architecture.md")


def test_engine_layers_point_down() -> None:
    """No module imports a module of a later layer (lazy and type-only imports included)."""
    graph = _graph()
    wrong = [
        f"{name} (layer {_layer(name)}) imports {target} (layer {_layer(target)})"
        for name, imported in sorted(graph.items())
        for target in sorted(imported)
        if target.startswith("codetrace") and _layer(target) > _layer(name)
    ]
    assert not wrong, "\n".join(wrong)
