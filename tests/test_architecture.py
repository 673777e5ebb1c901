"""Architecture rules checked from the source: no import cycles (function-level imports
included), no reaching into another module's private names."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graph_tool():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "docs" / "import_graph.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_no_import_cycles_in_the_package(graph_tool):
    graph = graph_tool.import_graph(ROOT / "polyrank")
    assert "polyrank.enumerate" in graph and "polyrank.subdivision" in graph
    assert graph_tool.find_cycles(graph) == []


def test_cycle_finder_sees_function_level_imports(graph_tool, tmp_path):
    pkg = tmp_path / "polyrank"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .a import f\n")
    (pkg / "a.py").write_text("def f():\n    from .b import g\n    return g()\n")
    (pkg / "b.py").write_text("from . import c\n\ndef g():\n    return c.h()\n")
    (pkg / "c.py").write_text("import polyrank.a as a\n\ndef h():\n    return 1\n")
    graph = graph_tool.import_graph(pkg)
    assert graph["polyrank.a"] == ["polyrank.b"]
    assert graph_tool.find_cycles(graph) == [["polyrank.a", "polyrank.b", "polyrank.c"]]
    (pkg / "c.py").write_text("def h():\n    return 1\n")
    assert graph_tool.find_cycles(graph_tool.import_graph(pkg)) == []


def test_architecture_page_shows_the_current_graph(graph_tool):
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert graph_tool.render(graph_tool.import_graph(ROOT / "polyrank")) in text
