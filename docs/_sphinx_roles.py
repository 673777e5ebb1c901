"""Griffe extension: render the docstrings' Sphinx cross-references as links on the site.

polyrank's docstrings are numpydoc and cross-reference the Sphinx way: roles
(``:func:`name` ``, ``:meth:``, ``:class:``, ``:attr:``, ``:data:``, ``:mod:``, ``:exc:``,
``:obj:``; ``~``-prefixed or written ``title <target>``), names in "See Also" sections, and
constants documented by ``#:`` comments above them. mkdocstrings renders docstrings as
Markdown and reads only string docstrings, so roles would show up raw and the constants would
be missing. When griffe has loaded the package, this extension rewrites the loaded docstrings
(the source files are untouched):

* a ``#:`` comment block right above an attribute becomes that attribute's docstring;
* a role or "See Also" name whose target resolves, in the docstring's scope (the object, its
  parents, the module's imports, then ``polyrank.<name>``), to an object the site renders
  becomes an autorefs cross-reference to its canonical path, ``[`name`][polyrank.module.name]``
  (an attribute documented only in its class's Attributes section links to the class);
* anything else (private names, modules not on the site, other packages) becomes plain code;
* a role on a numpydoc item line (``name : type, default :data:`X` ``), which mkdocstrings
  shows as code where Markdown does not render, becomes the bare target.

"Rendered" follows the handler options in mkdocs.yml (``filters: ["!^_"]``, objects without
docstrings hidden): the target lies under one of the ``::: identifier`` blocks of the docs
pages, no part of its path below that block starts with ``_``, and it and every parent below
the block have docstrings. A wrong guess is not silent: autorefs reports a link to an
unrendered target as a warning, and ``mkdocs build --strict`` fails on it.

Wired in mkdocs.yml under ``plugins: mkdocstrings: handlers: python: options: extensions``.
"""

from __future__ import annotations

import re
from pathlib import Path

import griffe

#: One Sphinx role: ``:kind:`target` `` or ``:kind:`title <target>` ``, kind optionally ``py:``.
ROLE = re.compile(r":(?:py:)?(?:func|meth|class|attr|data|const|mod|exc|obj):`(?P<body>[^`]+)`")
#: A numpydoc item line, ``name : type`` or ``a, *b : type``.
ITEM_LINE = re.compile(r"^[ \t]*\**\w+(?:[ \t]*,[ \t]*\**\w+)*[ \t]+:[ \t].*$", re.MULTILINE)
#: A numpydoc "See Also" section: its header and the lines up to the first blank one.
SEE_ALSO = re.compile(r"^(?P<indent>[ \t]*)See Also[ \t]*\n[ \t]*-{3,}[ \t]*\n(?P<body>(?:[ \t]*\S.*(?:\n|$))+)",
                      re.MULTILINE)
#: ``::: identifier`` lines of the docs pages (the objects mkdocstrings renders).
DIRECTIVE = re.compile(r"^:::\s+(?P<identifier>[\w.]+)\s*$", re.MULTILINE)

DOCS_DIR = Path(__file__).resolve().parent


def rendered_roots(docs_dir=DOCS_DIR):
    """The identifiers of the ``:::`` blocks in every Markdown page under ``docs_dir``."""
    return {m["identifier"] for page in docs_dir.rglob("*.md") for m in DIRECTIVE.finditer(page.read_text())}


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx cross-references in the docstrings of a loaded package (module docstring).

    ``links`` and ``plain`` count the references made links and plain code.
    """

    def __init__(self, docs_dir: str | None = None) -> None:
        super().__init__()
        self.roots = rendered_roots(Path(docs_dir) if docs_dir else DOCS_DIR)
        self.links = 0
        self.plain = 0

    # griffe >= 1.14 calls on_package, older 1.x on_package_loaded. The rewrite is idempotent.
    def on_package(self, *, pkg: griffe.Module, loader=None, **kwargs) -> None:
        objects = list(_walk(pkg))
        for obj in objects:  # every docstring first, so that _is_rendered sees them all
            if obj.is_attribute and obj.docstring is None:
                _comment_docstring(obj, loader)
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = self.rewrite(obj.docstring.value, obj, pkg)

    on_package_loaded = on_package

    def rewrite(self, text: str, obj, pkg) -> str:
        """``text`` (the docstring of ``obj`` in package ``pkg``) with its references rewritten."""
        text = ITEM_LINE.sub(lambda m: ROLE.sub(_bare, m.group(0)), text)
        text = ROLE.sub(lambda m: self.reference(m["body"], obj, pkg), text)
        return SEE_ALSO.sub(lambda m: self._see_also(m, obj, pkg), text)

    def reference(self, body: str, obj, pkg) -> str:
        """Markdown for the role body ``body`` (``name``, ``~a.b`` or ``title <a.b>``)."""
        body = body.strip()
        title = None
        explicit = re.fullmatch(r"(?P<title>.*?)\s*<(?P<target>[^<>]+)>", body)
        if explicit:
            title, body = explicit["title"], explicit["target"].strip()
        short = body.startswith("~")
        target = body.lstrip("~.").removesuffix("()")
        if title is None:
            title = target.rsplit(".", 1)[-1] if short else target
        found = _lookup_in_scope(target, obj, pkg)
        while found is not None and not self._is_rendered(found) and found.parent.is_class:
            found = found.parent
        if found is not None and self._is_rendered(found):
            self.links += 1
            return f"[`{title}`][{found.path}]"
        self.plain += 1
        return f"`{title}`"

    def _see_also(self, match: re.Match, obj, pkg) -> str:
        indent = match["indent"]
        lines = []
        for line in match["body"].splitlines(keepends=True):
            head = re.match(rf"{re.escape(indent)}(?P<names>[\w.~]+(?:\s*,\s*[\w.~]+)*)(?P<rest>\s*(?::.*)?\n?)$", line)
            if head:  # an item line: names, optionally `: description`
                names = [self.reference(n, obj, pkg) for n in re.split(r"\s*,\s*", head["names"])]
                line = indent + ", ".join(names) + head["rest"]
            lines.append(line)
        return match.group(0)[: match.start("body") - match.start()] + "".join(lines)

    def _is_rendered(self, obj) -> bool:
        path = obj.path
        for root in self.roots:
            if path == root:
                return True
            if path.startswith(root + "."):
                node = obj
                while node.path != root:
                    if node.name.startswith("_") or not node.has_docstrings:
                        return False
                    node = node.parent
                return True
        return False


def _bare(match: re.Match) -> str:
    """The target of a role as written, without markup (for places that are not Markdown)."""
    body = match["body"].strip()
    explicit = re.fullmatch(r"(?P<title>.*?)\s*<(?P<target>[^<>]+)>", body)
    return explicit["title"] if explicit else body.lstrip("~")


def _walk(obj):
    """``obj`` and every object defined (not imported) inside it."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


def _comment_docstring(attribute, loader) -> None:
    """Give an attribute documented by ``#:`` comment lines right above its assignment that
    text as its docstring (griffe reads only string literals below an assignment)."""
    if attribute.filepath is None or not attribute.lineno:
        return
    try:
        lines = attribute.lines_collection[attribute.filepath]
    except KeyError:
        return
    comment = []
    i = attribute.lineno - 2
    while i >= 0 and lines[i].lstrip().startswith("#:"):
        comment.insert(0, lines[i].lstrip()[2:].strip())
        i -= 1
    if comment:
        attribute.docstring = griffe.Docstring(
            "\n".join(comment), lineno=i + 2, endlineno=attribute.lineno - 1, parent=attribute,
            parser=getattr(loader, "docstring_parser", None),
            parser_options=getattr(loader, "docstring_options", None))


def _lookup_in_scope(target, obj, pkg):
    """The canonical object ``target`` names in ``obj``'s scope, or None."""
    head, _, rest = target.partition(".")
    candidates = []
    try:
        candidates.append(obj.resolve(head))
    except (griffe.NameResolutionError, KeyError):
        pass
    candidates.append(f"{pkg.name}.{head}")
    candidates.append(head)
    for path in candidates:
        found = _get(pkg, f"{path}.{rest}" if rest else path)
        if found is not None:
            return found
    return None


def _get(pkg, path, _depth=0):
    """The object at dotted ``path`` inside ``pkg``, following aliases (imports) by their
    target paths; None when the path leaves the package or does not exist."""
    parts = path.split(".")
    if parts[0] != pkg.name or _depth > 20:
        return None
    node = pkg
    for i, name in enumerate(parts[1:], start=1):
        member = node.members.get(name)
        if member is None:
            return None
        if member.is_alias:
            return _get(pkg, ".".join([member.target_path, *parts[i + 1:]]), _depth + 1)
        node = member
    return node
