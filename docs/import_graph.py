"""The import graph of the polyrank package, read from the source with ``ast``.

Every ``import`` / ``from ... import`` statement counts, at module level or inside a
function, since a function-level import that closes a cycle only hides it. Relative and
absolute imports of ``polyrank`` are resolved to module names; ``from . import x`` is
an edge to the submodule ``x`` when there is one, else to the package.

    python docs/import_graph.py            # print the graph (the block of docs/architecture.md)
    python docs/import_graph.py --check    # exit 1 if there is a cycle
    python docs/import_graph.py --write    # refresh the graph block of docs/architecture.md
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PACKAGE = "polyrank"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
PAGE = Path(__file__).resolve().parent / "architecture.md"
#: The generated block of the architecture page sits between these lines.
BEGIN, END = "<!-- import graph: begin (python docs/import_graph.py --write) -->", "<!-- import graph: end -->"


def _module_name(path, root):
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(root=ROOT):
    """``{module name: path}`` for every ``.py`` file of the package."""
    return {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _resolve(mod, is_pkg, node, known):
    """Module names imported by one ``Import`` / ``ImportFrom`` node of module ``mod``."""
    out = []
    if isinstance(node, ast.Import):
        for a in node.names:
            if a.name == PACKAGE or a.name.startswith(PACKAGE + "."):
                out.append(a.name)
        return out
    if node.level:
        base = mod.split(".") if is_pkg else mod.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
        if not (target == PACKAGE or target.startswith(PACKAGE + ".")):
            return out
    for a in node.names:
        sub = f"{target}.{a.name}"
        out.append(sub if sub in known else target)
    return out


def import_graph(root=ROOT):
    """``{module: sorted list of package modules it imports}`` (self-edges dropped)."""
    mods = modules(root)
    graph = {}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps.update(d for d in _resolve(mod, path.name == "__init__.py", node, mods) if d in mods)
        deps.discard(mod)
        graph[mod] = sorted(deps)
    return graph


def find_cycles(graph, *, ignore_package_init=True):
    """Strongly connected components with more than one module (each one holds a cycle).

    With ``ignore_package_init`` the edges *from* a package's ``__init__`` (its
    re-exports) are left out: importing ``polyrank.x`` runs ``polyrank/__init__.py`` first
    in any case, so they do not order the submodules; edges *to* it still count."""
    g = {m: [d for d in ds if not (ignore_package_init and d.startswith(m + "."))]
         for m, ds in graph.items()}
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return comps


def render(graph):
    """One line per module: ``module -> its package imports`` (package prefix dropped)."""
    short = {m: m[len(PACKAGE) + 1:] if m != PACKAGE else "__init__" for m in graph}
    width = max(len(s) for s in short.values())
    lines = []
    for m in sorted(graph, key=lambda m: short[m]):
        deps = [short[d] for d in graph[m] if not d.startswith(m + ".") or m != PACKAGE]
        if m == PACKAGE:
            deps = ["(re-exports the public modules)"]
        lines.append(f"{short[m]:<{width}} -> {', '.join(deps) if deps else '-'}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the graph has a cycle")
    ap.add_argument("--write", action="store_true", help=f"rewrite the graph block of {PAGE.name}")
    args = ap.parse_args(argv)
    graph = import_graph()
    cycles = find_cycles(graph)
    if args.write:
        text = PAGE.read_text()
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        PAGE.write_text(f"{head}{BEGIN}\n```\n{render(graph)}\n```\n{END}{tail}")
    elif not args.check:
        print(render(graph))
    for c in cycles:
        print("cycle among: " + ", ".join(c), file=sys.stderr)
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
