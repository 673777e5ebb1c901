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
    current = graph_tool.render(graph_tool.import_graph(ROOT / "polyrank"))
    assert current in text, "the import graph changed: run python docs/import_graph.py --write"


def _private_uses(graph_tool, root):
    """(module, imported module, private name) for every ``from polyrank.x import _name`` and
    every ``x._name`` on an imported polyrank module ``x``, inside the package."""
    import ast

    mods = graph_tool.modules(root)
    out = []
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = graph_tool._resolve(mod, path.name == "__init__.py", node, mods)
                for a, t in zip(node.names, targets if len(targets) == len(node.names) else [None] * len(node.names)):
                    if t is None or t == mod:
                        continue
                    if isinstance(node, ast.ImportFrom) and t.endswith("." + a.name):  # a submodule
                        aliases[a.asname or a.name] = t
                    elif isinstance(node, ast.ImportFrom):
                        if a.name.startswith("_") and not a.name.startswith("__"):
                            out.append((mod, t, a.name))
                    else:
                        aliases[a.asname or a.name] = t
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                out.append((mod, aliases[node.value.id], node.attr))
    return sorted(set(out))


def test_no_module_uses_another_modules_private_names(graph_tool):
    # a package's own private submodules (``experiments._sweep``, ``_validation``) are
    # imported by name; what may not be used is a private *name* of another module
    assert _private_uses(graph_tool, ROOT / "polyrank") == []


def test_private_use_finder_finds_them(graph_tool, tmp_path):
    pkg = tmp_path / "polyrank"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def _f():\n    return 1\n")
    (pkg / "b.py").write_text("from .a import _f\nfrom . import a\n\ndef g():\n    return a._f() + _f()\n")
    assert _private_uses(graph_tool, pkg) == [("polyrank.b", "polyrank.a", "_f")]


def test_star_import_binds_the_public_names_and_no_module():
    import types

    import polyrank as pr

    ns = {}
    exec("from polyrank import *", ns)
    assert not [k for k, v in ns.items() if isinstance(v, types.ModuleType)]
    assert "enumerate" not in ns and "rank" not in ns
    assert len(set(pr.__all__)) == len(pr.__all__)
    for name in pr.__all__:
        assert ns[name] is getattr(pr, name)
    for mod in (pr.network, pr.regions, pr.enumerate, pr.rank, pr.topology, pr.complex, pr.manifolds):
        assert set(mod.__all__) <= set(pr.__all__)
