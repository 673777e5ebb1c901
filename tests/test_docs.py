"""The documentation: the site builds as a user builds it, without a single warning; the API
reference shows links, not raw Sphinx roles; every page is in the nav; no file in the repository
points at documents that are not in it."""

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: A Sphinx role as it appears in the docstrings (and, unrendered, in HTML).
ROLE = re.compile(r":(?:py:)?(?:func|meth|class|attr|data|const|mod|exc|obj):`(?P<body>[^`]+)`")
#: A log line of level WARNING or ERROR in MkDocs' output (plugins log through it too).
LOG_PROBLEM = re.compile(r"^(?:WARNING|ERROR)\b", re.MULTILINE)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built by ``mkdocs build --strict`` exactly as the README's user runs it (no
    ``-q``: nothing is hidden), into a temporary directory so the checkout stays clean."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    out = tmp_path_factory.mktemp("docs") / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    return proc, out


def test_mkdocs_builds_strict_without_warnings(site):
    proc, out = site
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert not LOG_PROBLEM.search(log), log
    assert (out / "api" / "index.html").exists()


def _html_pages(out):
    assert (out / "api" / "index.html").exists(), "the site was not built"
    return {p: p.read_text() for p in out.rglob("*.html")}


def test_site_shows_no_raw_sphinx_roles(site):
    _, out = site
    raw = {str(p.relative_to(out)): len(ROLE.findall(html.unescape(text)))
           for p, text in _html_pages(out).items()}
    assert not {p: n for p, n in raw.items() if n}
    # nor unrendered Markdown cross-references (e.g. in a table cell shown as code)
    leftovers = {str(p.relative_to(out)) for p, text in _html_pages(out).items() if "][polyrank." in text}
    assert not leftovers


def _role_targets():
    """Names the package's sources cross-reference with a role, with the file that does."""
    for path in sorted((ROOT / "polyrank").rglob("*.py")):
        for m in ROLE.finditer(path.read_text()):
            body = m["body"]
            body = re.sub(r"^.*<(.+)>$", r"\1", body).lstrip("~").removesuffix("()")
            yield body, path.relative_to(ROOT)


def test_roles_to_public_names_render_as_working_links(site):
    """Every role naming a public function or class of ``polyrank`` (``:func:`min_rank` ``,
    ``:class:`~polyrank.SimplicialComplex` ``, ...) is a link on the API page, and every link of the
    page lands on an anchor that exists."""
    import polyrank

    _, out = site
    page = _html_pages(out)[out / "api" / "index.html"]
    anchors = set(re.findall(r'\bid="([^"]+)"', page))
    links = re.findall(r'<a class="autorefs autorefs-internal"[^>]*href="([^"]*)"[^>]*>\s*<code>([^<]*)</code>', page)
    broken = [href for href, _ in links if href.startswith("#") and href[1:] not in anchors]
    assert not broken
    linked = {href.lstrip("#") for href, _ in links}
    public = set(getattr(polyrank, "__all__", None) or [n for n in dir(polyrank) if not n.startswith("_")])
    expected = {}
    for target, path in _role_targets():
        name = target.rsplit(".", 1)[-1]
        if target not in (name, f"polyrank.{name}") or name not in public:
            continue
        obj = getattr(polyrank, name)
        if callable(obj) and getattr(obj, "__module__", "").startswith("polyrank.") and obj.__doc__:
            expected[f"{obj.__module__}.{obj.__qualname__}"] = path
    assert len(expected) >= 10  # the docstrings do cross-reference (the check is not vacuous)
    missing = {anchor: str(path) for anchor, path in expected.items() if anchor not in linked}
    assert not missing


def _nav_pages(nav):
    for item in nav:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for value in item.values():
                yield from _nav_pages([value] if isinstance(value, str) else value)


def test_every_docs_page_is_in_the_nav_and_every_nav_page_exists():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs = ROOT / config.get("docs_dir", "docs")
    nav = [p for p in _nav_pages(config["nav"]) if not re.match(r"^[a-z]+://", p)]
    pages = {str(p.relative_to(docs)) for p in docs.rglob("*.md")}
    assert len(nav) == len(set(nav)), "a page is in the nav twice"
    assert not set(nav) - pages, "nav entries without a page"
    assert not pages - set(nav), "pages missing from the nav"


def _tracked_text_files():
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True,
                               timeout=60).stdout.decode().split("\0")
        files = [ROOT / n for n in names if n]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. an sdist)
        skip = {".git", "site", "build", "dist", "results", "__pycache__", ".pytest_cache", ".hypothesis"}
        files = [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    for path in files:
        if not path.is_file():
            continue
        try:
            yield path, path.read_text()
        except UnicodeDecodeError:  # images
            continue


#: What no file may mention: the project's background notes, which live outside the repository,
#: and paths of one machine (the data loaders' optional user paths, like ``~/data``, are fine).
#: Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile("|".join([r"\b" + "DESIGN" + r"\.md\b", r"\b" + "STYLE" + r"\.md\b",
                               r"\.\./" + "shared" + r"\b", r"(?<![\w.~])/(?:work|root|home)/"]))
#: A path to a document (Markdown, reStructuredText, notebook, PDF, TeX, text).
DOCUMENT = re.compile(r"(?<![\w/.~-])(?:\.{1,2}/)*[\w-]+(?:/[\w.-]+)*\.(?:md|rst|ipynb|pdf|tex|txt)\b")


def test_no_file_points_at_documents_outside_the_repository():
    """Every document a tracked file names exists in the repository (relative to that file, to
    the root or to docs/), and nothing names the background notes or a machine's paths."""
    outside, dangling = [], []
    for path, text in _tracked_text_files():
        rel = path.relative_to(ROOT)
        for lineno, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                outside.append(f"{rel}:{lineno}: {line.strip()}")
            for m in DOCUMENT.finditer(line):
                candidates = [path.parent / m.group(0), ROOT / m.group(0), ROOT / "docs" / m.group(0)]
                if not any(c.resolve().is_file() and ROOT in c.resolve().parents for c in candidates):
                    dangling.append(f"{rel}:{lineno}: {m.group(0)}")
    assert not outside + dangling, "\n".join(outside + dangling)


def test_readme_commands_are_the_ci_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = 'pip install torch==2.13.0 && pip install -e ".[test]" && pytest -q'
    assert test_cmd in readme and test_cmd in ci
    assert "polyrank analyze" in readme
