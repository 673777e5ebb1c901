"""The command line of Fig. 3C and appendix 7.3: ``polyrank reproduce fig3c|appendix``.

Parses the options, runs :func:`polyrank.experiments.fig3c.run_fig3c` or
:func:`~polyrank.experiments.fig3c.run_appendix`, and writes the CSVs, the table and the
figures; the experiment itself is in :mod:`polyrank.experiments.fig3c`.
"""

from __future__ import annotations

import argparse
import os
import time

from ..data.functions import APPENDIX_FUNCTIONS
from .fig3c import (FIG3C_LEVELS, PAPER_EPOCHS, PAPER_SETTINGS, QUICK_SETTINGS, plot_fig3c, plot_fig3c_illustration,
                    run_appendix, run_fig3c, wilcoxon_table)

__all__ = ["cli_main", "build_parser"]


def _levels(text):
    out = []
    for t in text.split(","):
        t = t.strip().lower()
        if not t:
            continue
        if t in ("continuous", "c", "none"):
            out.append(None)
            continue
        try:
            v = int(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected levels that are ints >= 2 or 'continuous'; got {t!r}") from None
        if v < 2:
            raise argparse.ArgumentTypeError(f"expected levels that are ints >= 2 or 'continuous'; got {t!r}")
        out.append(v)
    if not out:
        raise argparse.ArgumentTypeError(f"expected at least one level; got {text!r}")
    return out


def build_parser(figure):
    """The argument parser of ``polyrank reproduce fig3c|appendix``; the options of the
    experiment default to None (the paper's value, :data:`~polyrank.experiments.fig3c.PAPER_SETTINGS`).

    Examples
    --------
    >>> from polyrank.experiments.fig3c_cli import build_parser
    >>> build_parser("fig3c").parse_args(["--widths", "8,4"]).widths
    [8, 4]
    """
    from .._cliutil import HelpFormatter, int_type, widths_type

    p = argparse.ArgumentParser(
        prog=f"polyrank reproduce {figure}", formatter_class=HelpFormatter,
        description=("Paper Fig. 3C: networks trained on the discretised sphere function"
                     if figure == "fig3c" else
                     "Paper appendix 7.3: regression and f>mean classification of optimisation functions")
        + "; codeword sizes and ranks before/after training, Wilcoxon rank-sum + Bonferroni. "
          "Defaults are the paper's parameters.")
    p.add_argument("--networks", type=int_type(1), default=None, help="networks per condition (default: the "
                                                                      "paper's 10; --quick: 3)")
    p.add_argument("--epochs", type=int_type(0), default=None,
                   help=f"epochs per network (default {PAPER_EPOCHS}; the paper does not state it; --quick: 3)")
    p.add_argument("--n", type=int_type(2), default=None, help="training points (default: the paper's 10000; "
                                                               "--quick: 1000)")
    p.add_argument("--n-test", type=int_type(1), default=None,
                   help="held-out points for the measurements (default: as many as --n)")
    p.add_argument("--dim", type=int_type(1), default=None, help="input dimension (default: the paper's 20)")
    p.add_argument("--widths", type=widths_type, default=None,
                   help="hidden widths (default: the paper's 160,80,40; --quick: 40,20,10)")
    if figure == "fig3c":
        p.add_argument("--levels", type=_levels, default=None,
                       help="discretisation levels (default: 2,3,4,5,6,continuous)")
    else:
        p.add_argument("--functions", default=None,
                       help="comma-separated names (default: " + ",".join(APPENDIX_FUNCTIONS) + ")")
    p.add_argument("--seed", type=int_type(0), default=0, help="root seed of data, networks and training")
    p.add_argument("--scheduler", default=None, help="Dask scheduler ADDRESS (default: a local process pool)")
    p.add_argument("--workers", type=int_type(1), default=None, help="local worker processes (default: all cores)")
    p.add_argument("--device", default=None, help="torch device for training, e.g. cuda (default: cpu)")
    p.add_argument("--out", default=f"polyrank-{figure}", help="output folder")
    p.add_argument("--quick", action="store_true",
                   help="a small run: 3 networks, 3 epochs, 1000 points, widths 40,20,10 "
                        "(explicit options still win)")
    p.add_argument("--no-plot", action="store_true", help="skip the figures")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    return p


def cli_main(figure, argv):
    """``polyrank reproduce fig3c|appendix [options]``: run, save CSVs and figures, print the table.

    Writes ``FIGURE.csv`` (tidy, one row per condition, network, layer and phase),
    ``FIGURE_stats.csv`` (:func:`wilcoxon_table`), ``FIGURE.png`` (:func:`plot_fig3c`) and,
    for fig3c, ``fig3c_illustration.png`` (:func:`plot_fig3c_illustration`) into ``--out``,
    which is checked (and created) before any work.

    Parameters
    ----------
    figure : {"fig3c", "appendix"}
    argv : list of str

    Returns
    -------
    int
        The exit status: 0, or 1 when some output could not be written (the others are).

    Raises
    ------
    SystemExit
        For bad options (argparse's usual message) or an unusable output folder.

    Examples
    --------
    >>> pr.experiments.fig3c_cli.cli_main("fig3c", ["--help"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    SystemExit: 0
    """
    from .._cliutil import Outputs, output_dir, parse, user_errors

    if figure not in ("fig3c", "appendix"):
        raise ValueError(f"cli_main of polyrank.experiments.fig3c_cli reproduces 'fig3c' or 'appendix'; "
                         f"got {figure!r}.")
    prog = f"polyrank reproduce {figure}"
    p = build_parser(figure)
    args = parse(p, argv)
    fns = APPENDIX_FUNCTIONS
    if figure == "appendix" and args.functions:
        fns = [f.strip() for f in args.functions.split(",") if f.strip()]
        bad = [f for f in fns if f not in APPENDIX_FUNCTIONS]
        if bad or not fns:
            p.error(f"argument --functions: expected comma-separated names from {','.join(APPENDIX_FUNCTIONS)}; "
                    f"got {args.functions!r}")
    output_dir(args.out, "--out", prog)
    base = dict(PAPER_SETTINGS)
    if args.quick:
        base.update(QUICK_SETTINGS)
    for opt, key in (("networks", "n_networks"), ("epochs", "epochs"), ("n", "n"), ("dim", "dim"),
                     ("widths", "widths")):
        v = getattr(args, opt)
        if v is not None:
            base[key] = tuple(v) if key == "widths" else v
    common = dict(n_test=args.n_test, seed=args.seed, scheduler=args.scheduler, n_workers=args.workers, device=args.device,
                  progress=args.progress, **base)
    t0 = time.perf_counter()
    with user_errors(prog):
        if figure == "fig3c":
            df = run_fig3c(levels=tuple(args.levels) if args.levels else FIG3C_LEVELS, **common)
        else:
            df = run_appendix(functions=fns, **common)
    dt = time.perf_counter() - t0
    out = Outputs(prog)
    csv = os.path.join(args.out, f"{figure}.csv")
    with out.write(csv):
        df.to_csv(csv, index=False)
    stats = wilcoxon_table(df)
    scsv = os.path.join(args.out, f"{figure}_stats.csv")
    with out.write(scsv):
        stats.to_csv(scsv, index=False)
    K = int(df.layer.max())
    show = stats[(stats.layer == K)].pivot_table(
        index=["function", "condition"], columns="metric", values=["mean_before", "mean_after", "p_bonferroni"],
        sort=False)
    print(f"{figure}: {df.network.nunique()} networks x {df.groupby(['function', 'condition']).ngroups} "
          f"conditions, {int(df.epochs.iloc[0])} epochs, widths {base['widths']}, {dt:.1f} s")
    print(f"last hidden layer ({K}): means over networks of the mean over test points; "
          "Bonferroni-corrected Wilcoxon rank-sum p-values")
    with _pd_options():
        print(show.round(4).to_string())
    if not args.no_plot:
        png = os.path.join(args.out, f"{figure}.png")
        with out.write(png):
            plot_fig3c(df, png)
        if figure == "fig3c":
            ill = os.path.join(args.out, "fig3c_illustration.png")
            with out.write(ill):
                plot_fig3c_illustration(ill, seed=args.seed, epochs=5 if args.quick else 30)
    return out.finish()


def _pd_options():
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_columns", 20)
