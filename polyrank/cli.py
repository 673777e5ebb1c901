"""The ``polyrank`` command: ``enumerate``, ``analyze`` and ``reproduce FIGURE``.

``enumerate`` and ``analyze`` parse their arguments here and call
:func:`polyrank.enumerate_regions` and :func:`polyrank.analyze`; each figure of
``reproduce`` is a module of :mod:`polyrank.experiments`. Every subcommand imports
its work lazily, so that ``polyrank --help`` stays fast. Random networks come from
:func:`polyrank.train.mlp` (PyTorch's default initialisation, seeded).
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
    "fig3c": "fig3c_cli", "appendix": "fig3c_cli",
    "flow": "flow",
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
    p.add_argument("--verify", action="store_true", help="certify completeness (faces, volumes, Euler "
                                                         "characteristic, facet neighbours; needs --box > 0)")
    p.add_argument("--out", help="stream the regions to this Parquet directory, tile by tile (polyrank.write_regions)")
    p.add_argument("--tiles", default="auto", help="with --out: 'auto', a number of tiles, or cells per axis like 4,4")
    p.add_argument("--scheduler", help="with --out: address of a Dask scheduler that runs the tiles")
    p.add_argument("--overwrite", action="store_true", help="with --out: replace a region store at that path")
    return p


def _load_network(args):
    import torch

    from .network import ReLUNetwork
    from .train import mlp

    if args.model:
        try:
            obj = torch.load(args.model, map_location="cpu", weights_only=False)
        except FileNotFoundError:
            raise SystemExit(f"polyrank: no such model file: {args.model}")
        if isinstance(obj, dict):
            m = mlp(args.input_dim, args.widths, seed=0)
            try:
                m.load_state_dict(obj)
            except RuntimeError as exc:
                raise SystemExit(f"polyrank: the state_dict does not fit --input-dim/--widths: {exc}")
            obj = m
        try:
            return ReLUNetwork.from_torch(obj)
        except (TypeError, ValueError) as exc:
            raise SystemExit(f"polyrank: cannot use {args.model}: {exc}")
    m = mlp(args.input_dim, args.widths, seed=args.seed)
    return ReLUNetwork.from_torch(m)


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
    if args.verify:
        from .faces import certificate_line

        print(certificate_line(dec))
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


# ---------------------------------------------------------------------------- analyze
#: The manifolds of ``polyrank analyze``.
MANIFOLDS = ("circle", "torus", "sphere", "klein")
#: Radius of the circle and major radius of the torus and Klein bottle meshes.
MESH_RADIUS = 2.0
#: Minor radius of the torus and Klein bottle meshes.
MESH_TUBE_RADIUS = 1.0
#: Smallest mesh resolution accepted by ``polyrank analyze``.
MIN_RESOLUTION = 3


def _make_manifold(name, resolution, seed):
    from . import manifolds

    n = resolution
    if name == "circle":
        return manifolds.circle(n, radius=MESH_RADIUS)
    if name == "torus":
        return manifolds.torus(n, max(MIN_RESOLUTION, n // 2), R=MESH_RADIUS, r=MESH_TUBE_RADIUS)
    if name == "sphere":
        return manifolds.sphere(max(4, n * n // 2), seed=seed)
    return manifolds.klein_bottle(n, max(MIN_RESOLUTION, n // 2), R=MESH_RADIUS, r=MESH_TUBE_RADIUS)


def _analyze_parser():
    from .analysis import GLUE_MODES

    p = argparse.ArgumentParser(
        prog="polyrank analyze",
        description="Cut a meshed manifold exactly along the linear regions of a random ReLU network "
                    "(PyTorch default init) and report ranks, the low-rank part and Betti numbers.")
    p.add_argument("--manifold", choices=MANIFOLDS, default="torus", help="default torus")
    p.add_argument("--embed-dim", type=int, default=3, help="input dimension of the network (default 3)")
    p.add_argument("--widths", default="8,8", help="hidden widths, e.g. 8,8 (default)")
    p.add_argument("--seed", type=int, default=0, help="seed of the network and the embedding (default 0)")
    p.add_argument("--layer", type=int, default=None, help="analyse layer K (default: last)")
    p.add_argument("--threshold", type=int, default=None,
                   help="rank below which pieces are low rank (default: minimal embedding dimension)")
    p.add_argument("--resolution", type=int, default=24, help="mesh resolution N (default 24)")
    p.add_argument("--glue", choices=GLUE_MODES, default="cell")
    p.add_argument("--scale", type=float, default=None,
                   help="also report Betti numbers of the Rips complex of the image f(X) at this scale "
                        "(approximate; slow for large scales)")
    p.add_argument("--plot", help="write a figure of the refined manifold coloured by rank")
    p.add_argument("--csv", help="write one row per region met to this CSV file")
    return p


def _run_analyze(argv):
    """``polyrank analyze``: a random network (:func:`polyrank.train.mlp` with ``--seed``),
    a meshed manifold embedded isometrically in ``R^embed_dim``, and the printed
    :meth:`polyrank.AnalysisReport.summary`."""
    from .analysis import analyze
    from .manifolds import embed
    from .network import ReLUNetwork
    from .train import mlp

    p = _analyze_parser()
    args = p.parse_args(argv)
    try:
        widths = _widths(args.widths)
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    if args.resolution < MIN_RESOLUTION:
        p.error(f"--resolution must be >= {MIN_RESOLUTION}")
    base = _make_manifold(args.manifold, args.resolution, args.seed)
    if args.embed_dim < base.ambient_dim:
        p.error(f"--embed-dim must be >= {base.ambient_dim} for the {args.manifold}")
    K = embed(base, args.embed_dim, seed=args.seed)
    net = ReLUNetwork.from_torch(mlp(args.embed_dim, widths, seed=args.seed))
    if args.layer is not None and not 1 <= args.layer <= net.n_layers:
        p.error(f"--layer must be in 1..{net.n_layers}")
    rep = analyze(net, K, layer=args.layer, threshold=args.threshold, glue=args.glue,
                  scale=args.scale, name=args.manifold)
    print(rep.summary())
    if args.csv:
        rep.to_frame().to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    if args.plot:
        rep.plot(args.plot)
        print(f"wrote {args.plot}")
    return 0


# ---------------------------------------------------------------------------- dispatch
def main(argv=None):
    """Entry point of the ``polyrank`` console script; returns the exit status.

    Examples
    --------
    >>> from polyrank.cli import main
    >>> main(["analyze", "--manifold", "circle", "--embed-dim", "2", "--widths", "4",
    ...       "--resolution", "12"])  # doctest: +ELLIPSIS
    polyrank analyze: circle in R^2 through 2-4, layer 1
    ...
    0
    """
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
        return _run_analyze(argv[1:])
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
