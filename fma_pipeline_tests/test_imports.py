"""Import structure of ``fma_pipeline``: no module imports another in a circle, and nothing
under ``core/`` imports Dagster.

Read statically (``ast``), without importing anything, so the test is fast and sees imports
that a run never reaches. Every import statement counts: module-level ones and those inside
functions (the project defers heavy imports such as mlflow into the functions that use
them, and a circle through a deferred import is still two modules that cannot be
understood, tested or moved apart), and those under ``if TYPE_CHECKING:`` too. An edge
goes to the module imported (``from a.b import c`` is an edge to ``a.b.c`` when that is a
module, else to ``a.b``); the parent packages it executes are not edges, as their
``__init__`` files import nothing of the project.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fma_pipeline"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imported(path: Path, name: str) -> list[tuple[str, int]]:
    """Every absolute module name ``path`` (module ``name``) imports, with its line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found += [(base, node.lineno)] + [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def import_graph() -> dict[str, dict[str, int]]:
    """The project's modules and, for each, the project modules it imports (with a line)."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        targets: dict[str, int] = {}
        for target, line in _imported(path, name):
            if target in modules and target != name:
                targets.setdefault(target, line)
        # ``from a import b``: an edge to the module ``a.b``, not also to the package ``a``.
        graph[name] = {t: line for t, line in targets.items()
                       if not (modules[t].name == "__init__.py" and any(o.startswith(t + ".") for o in targets))}
    return graph


def import_circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Circles of ``graph``, one per pass (graphlib reports one; its last edge is dropped and
    the search repeated), so every independent circle is named."""
    graph = {name: dict(targets) for name, targets in graph.items()}
    circles = []
    while True:
        try:
            graphlib.TopologicalSorter({n: set(t) for n, t in graph.items()}).prepare()
            return circles
        except graphlib.CycleError as exc:
            circle = exc.args[1]  # [a, b, ..., a]: each imported by the one before it... or after
            circles.append(circle)
            graph[circle[0]].pop(circle[1], None)
            graph[circle[1]].pop(circle[0], None)


def test_the_graph_sees_deferred_and_relative_imports(tmp_path):
    """The reader itself: an import inside a function and a relative import are both edges."""
    tree = _modules()
    assert "fma_pipeline.core.audio.extraction" in tree and "fma_pipeline.cli" in tree
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from fma_pipeline.core import storage\nfrom .x import y\n")
    names = [n for n, _ in _imported(source, "fma_pipeline.core.mod")]
    assert "fma_pipeline.core.storage" in names and "fma_pipeline.core.x.y" in names
    assert import_circles({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}})  # a -> b -> c -> a
    assert not import_circles({"a": {"b": 1}, "b": {}, "d": {"a": 4}})


def test_no_module_imports_another_in_a_circle():
    graph = import_graph()
    circles = import_circles(graph)
    described = ["  " + " <-> ".join(c) for c in circles]
    assert not circles, "import circles inside fma_pipeline/:\n" + "\n".join(described)


@pytest.mark.parametrize("name", sorted(n for n in _modules() if n.startswith("fma_pipeline.core")))
def test_the_core_does_not_import_dagster(name):
    path = _modules()[name]
    dagster = [(t, line) for t, line in _imported(path, name) if t.split(".")[0].startswith("dagster")]
    assert not dagster, f"{path} imports Dagster (the core stays Dagster-free): {dagster}"
