"""Regenerate every figure of the documentation (nothing in docs/figures is drawn by hand).

    python docs/make_figures.py            # tour figures + reduced paper figures
    python docs/make_figures.py --tour     # tour figures only (seconds)

The paper figures use reduced parameters (fewer networks / epochs, digits instead of MNIST) so
the script runs in minutes on a laptop; each page of docs/paper*.md states the command that
reproduces the full-size figure.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")


import polyrank as pr  # noqa: E402

OUT = Path(__file__).resolve().parent / "figures"


def tour():
    from polyrank.train import mlp

    net = pr.ReLUNetwork.from_torch(mlp(2, [16, 16, 16], seed=0))
    dec = pr.enumerate_regions(net, pr.Box(-10, 10, dim=2))
    ax = pr.plot_decomposition(dec)
    ax.figure.savefig(OUT / "tour_decomposition.png", dpi=120, bbox_inches="tight")
    print("tour_decomposition.png:", len(dec), "regions")

    narrow = pr.init.default(2, [3, 2], seed=2)
    circle = pr.embed(pr.circle(200), 2, seed=1)
    rep = pr.analyze(narrow, circle)
    rep.plot(OUT / "tour_circle.png")
    print("tour_circle.png:\n" + str(rep))

    net3 = pr.init.default(3, [8, 8], seed=0)
    torus = pr.embed(pr.torus(48, 24), 3, seed=0)
    rep3 = pr.analyze(net3, torus)
    rep3.plot(OUT / "tour_torus.png")
    print("tour_torus.png:\n" + str(rep3))


def paper():
    """Reduced runs of the paper's experiments (see the reproduce pages for full size)."""
    import shutil
    import tempfile

    from polyrank.experiments import fig2, fig3_mnist, fig3c_cli

    with tempfile.TemporaryDirectory() as tmp:
        fig2.cli_main("fig2", ["--networks", "5", "--samples", "1000", "--time-limit", "5", "--out", tmp])
        fig3_mnist.cli_main("fig3ab", ["--dataset", "digits", "--epochs", "20", "--out", tmp])
        fig3c_cli.cli_main("fig3c", ["--quick", "--out", tmp])
        fig3c_cli.cli_main("appendix", ["--quick", "--out", tmp])
        # the topological flow of Naitzat et al. (docs/paper/flow.md): 10 CPU s per layer
        from polyrank.experiments import flow

        res = flow.run(n_train=4000, epochs=60, time_limit=10, spacing={"D-III": 0.12}, device="cpu")
        flow.plot(res, Path(tmp) / "flow.png")
        for png in sorted(Path(tmp).rglob("*.png")):
            shutil.copy(png, OUT / png.name)
            print("wrote", OUT / png.name)
        for csv in sorted(Path(tmp).rglob("*.csv")):
            shutil.copy(csv, OUT / csv.name)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tour", action="store_true", help="only the getting-started figures")
    args = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    tour()
    if not args.tour:
        paper()
    return 0


if __name__ == "__main__":
    sys.exit(main())
