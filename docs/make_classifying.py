"""Regenerate the tables of docs/classifying.md (nothing in them is written by hand).

    python docs/make_classifying.py          # rewrite the tables in place (about 20 s)
    python docs/make_classifying.py --check  # exit 1 if the page is out of date

The tables sit between ``<!-- tables:start -->`` and ``<!-- tables:end -->`` markers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polyrank as pr

PAGE = Path(__file__).resolve().parent / "classifying.md"
START, END = "<!-- tables:start -->", "<!-- tables:end -->"

#: (heading, mesh expression shown on the page, mesh, max_pieces)
SURFACES = [
    ("Circle (appendix 7.2)", "pr.circle(24)", lambda: pr.circle(24), 3),
    ("Torus (appendix 7.2)", "pr.torus(16, 8)", lambda: pr.torus(16, 8), 2),
    ("Sphere", "pr.sphere(60, seed=0)", lambda: pr.sphere(60, seed=0), 2),
    ("Klein bottle", "pr.klein_bottle(16, 8)", lambda: pr.klein_bottle(16, 8), 2),
    ("Real projective plane", "pr.projective_plane(2)", lambda: pr.projective_plane(2), 2),
    ("Genus-2 surface", "pr.double_torus(8, 6)", lambda: pr.double_torus(8, 6), 2),
]


def _fmt(t):
    return "(" + ", ".join(map(str, t)) + ")"


def table(K, max_pieces):
    df = pr.classifying_space(K, max_pieces=max_pieces)
    lines = ["| reduced Betti (Z/11) | Z/2 | torsion | pieces | glued | configurations |",
             "|---|---|---|---|---|---|"]
    for r in df.itertuples():
        lines.append(f"| {_fmt(r.betti)} | {_fmt(r.betti_z2)} | {'yes' if r.torsion else ''} | {r.pieces} | "
                     f"{r.glued} | {r.realizations} |")
    return "\n".join(lines)


def render():
    parts = []
    for heading, expr, make, k in SURFACES:
        parts.append(f"### {heading}\n\n`pr.classifying_space({expr}, max_pieces={k})`:\n\n{table(make(), k)}\n")
    return "\n".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that the page is up to date")
    a = ap.parse_args(argv)
    text = PAGE.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n\n{render()}\n{END}{tail}"
    if a.check:
        if new != text:
            print(f"{PAGE} is out of date: run python docs/make_classifying.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(new)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
