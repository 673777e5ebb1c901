"""The ``polyrank`` command: ``enumerate``, ``analyze`` and ``reproduce FIGURE``.

``analyze`` is implemented in :mod:`polyrank.analysis` and each figure of
``reproduce`` in a module of :mod:`polyrank.experiments`; this module only
dispatches, so that ``polyrank --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

__all__ = ["main"]

#: figure name -> module of polyrank.experiments that reproduces it
FIGURES = {
    "fig2a": "fig2", "fig2b": "fig2", "fig2c": "fig2", "fig2d": "fig2", "fig2": "fig2",
    "fig3ab": "fig3_mnist",
    "fig3c": "fig3c", "appendix": "fig3c",
}


def _widths(text):
    try:
        ws = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"widths must be comma-separated integers like 16,16,16; got {text!r}")
    if not ws or min(ws) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive integers; got {text!r}")
    return ws


def _enumerate_parser(sub):
    p = sub.add_parser("enumerate", help="enumerate the linear regions of a network",
                       description="Enumerate every linear region of a random (PyTorch default init) "
                                   "network or of a saved nn.Sequential, and print the rank decomposition.")
    p.add_argument("--input-dim", type=int, default=2, help="input dimension d (default 2)")
    p.add_argument("--widths", type=_widths, default=[16, 16, 16], help="hidden widths, e.g. 16,16,16")
    p.add_argument("--seed", type=int, default=0, help="torch seed of the random network (default 0)")
    p.add_argument("--model", help="a .pt file holding a saved nn.Sequential (torch.save(model)) "
                                   "or its state_dict with --widths/--input-dim")
    p.add_argument("--box", type=float, default=10.0, help="domain [-box, box]^d (default 10); 0 = all of R^d")
    p.add_argument("--method", choices=["auto", "lp", "subdivision"], default="auto")
    p.add_argument("--layer", type=int, default=None, help="decompose by layers 1..LAYER (default all)")
    p.add_argument("--max-regions", type=int, default=1_000_000)
    p.add_argument("--plot", help="write a PNG of the 2-D decomposition coloured by rank")
    p.add_argument("--csv", help="write one row per region to this CSV file")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.add_argument("--out", help="stream the regions to this Parquet directory, tile by tile (polyrank.write_regions)")
    p.add_argument("--tiles", default="auto", help="with --out: 'auto', a number of tiles, or cells per axis like 4,4")
    p.add_argument("--scheduler", help="with --out: address of a Dask scheduler that runs the tiles")
    p.add_argument("--overwrite", action="store_true", help="with --out: replace a region store at that path")
    return p


def _load_network(args):
    import torch

    from .network import ReLUNetwork

    if args.model:
        try:
            obj = torch.load(args.model, map_location="cpu", weights_only=False)
        except FileNotFoundError:
            raise SystemExit(f"polyrank: no such model file: {args.model}")
        if isinstance(obj, dict):
            m = default_torch_mlp(args.input_dim, args.widths, seed=0)
            try:
                m.load_state_dict(obj)
            except RuntimeError as exc:
                raise SystemExit(f"polyrank: the state_dict does not fit --input-dim/--widths: {exc}")
            obj = m
        try:
            return ReLUNetwork.from_torch(obj)
        except (TypeError, ValueError) as exc:
            raise SystemExit(f"polyrank: cannot use {args.model}: {exc}")
    m = default_torch_mlp(args.input_dim, args.widths, seed=args.seed)
    return ReLUNetwork.from_torch(m)


def default_torch_mlp(input_dim, widths, *, seed=0, readout=None):
    """``nn.Sequential`` of Linear+ReLU layers with PyTorch's default initialisation,
    drawn after ``torch.manual_seed(seed)`` (the benchmark networks of the issues)."""
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    mods, prev = [], input_dim
    for w in widths:
        mods += [nn.Linear(prev, w), nn.ReLU()]
        prev = w
    if readout:
        mods.append(nn.Linear(prev, readout))
    return nn.Sequential(*mods)


def _run_enumerate(args):
    from .domain import Box
    from .enumerate import enumerate_regions

    net = _load_network(args)
    if args.input_dim < 1:
        raise SystemExit("polyrank: --input-dim must be >= 1")
    domain = Box(-args.box, args.box, dim=net.input_dim) if args.box > 0 else None
    if args.out:
        from .store import cli_write

        return cli_write(args, net, domain)
    t0 = time.perf_counter()
    dec = enumerate_regions(net, domain, layer=args.layer, method=args.method,
                            max_regions=args.max_regions, progress=args.progress)
    dt = time.perf_counter() - t0
    where = f"[-{args.box:g}, {args.box:g}]^{net.input_dim}" if domain is not None else f"R^{net.input_dim}"
    print(f"network   {net.input_dim}-" + "-".join(map(str, net.widths)) + f"  (domain {where})")
    print(f"regions   {len(dec)}   ({dt:.3f} s, method {dec.method})")
    print("rank histogram per layer (rank: number of regions)")
    for K in range(1, dec.layer + 1):
        hist = dec.rank_histogram(K)
        print(f"  layer {K} (width {net.widths[K - 1]}): " + ", ".join(f"{r}: {c}" for r, c in hist.items()))
    if args.csv:
        dec.to_frame().to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    if args.plot:
        if net.input_dim != 2:
            print("polyrank: --plot draws 2-D decompositions only; skipped", file=sys.stderr)
        else:
            from .plot import plot_decomposition

            fig = plot_decomposition(dec).figure
            fig.savefig(args.plot, dpi=150, bbox_inches="tight")
            print(f"wrote {args.plot}")
    return 0


def main(argv=None):
    """Entry point of the ``polyrank`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="polyrank", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    _enumerate_parser(sub)
    sub.add_parser("analyze", help="intersect a manifold with a network's regions and compute homology",
                   add_help=False)
    rp = sub.add_parser("reproduce", help="reproduce a figure of the paper", add_help=False)
    rp.add_argument("figure", nargs="?")
    if argv and argv[0] == "--version":
        from . import __version__

        print(f"polyrank {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        print("\nfigures: " + ", ".join(FIGURES))
        return 0
    cmd = argv[0]
    if cmd == "analyze":
        from . import analysis

        return analysis.cli_main(argv[1:]) or 0
    if cmd == "reproduce":
        if len(argv) < 2 or argv[1] in ("-h", "--help"):
            print("usage: polyrank reproduce FIGURE [options]\nfigures: " + ", ".join(FIGURES))
            return 0
        fig = argv[1]
        if fig not in FIGURES:
            print(f"polyrank: unknown figure {fig!r}; choose one of: {', '.join(FIGURES)}", file=sys.stderr)
            return 2
        mod = importlib.import_module(f"polyrank.experiments.{FIGURES[fig]}")
        return mod.cli_main(fig, argv[2:]) or 0
    args = parser.parse_args(argv)
    if args.command == "enumerate":
        return _run_enumerate(args)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
