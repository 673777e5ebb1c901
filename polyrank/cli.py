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
import os
import sys
import time

from ._cliutil import (HelpFormatter, Outputs, float_type, int_type, memory_budget, memory_type, network_bytes,
                       output_file, output_parent, parse, user_errors, widths_type)

__all__ = ["main"]

#: figure name -> module of polyrank.experiments that reproduces it
FIGURES = {
    "fig2a": "fig2", "fig2b": "fig2", "fig2c": "fig2", "fig2d": "fig2", "fig2": "fig2",
    "fig3ab": "fig3_mnist",
    "fig3c": "fig3c_cli", "appendix": "fig3c_cli",
    "flow": "flow",
}
#: One line per figure for ``polyrank reproduce --help``.
FIGURE_HELP = {
    "fig2a": "minimum rank of default-init one-layer networks vs input and output width",
    "fig2b": "minimum rank vs the mean of N(mean, 0.1) weights",
    "fig2c": "minimum rank of rank-selection networks vs negated rows",
    "fig2d": "minimum and maximum rank of Dale's-principle networks vs inhibitory inputs",
    "fig2": "all four panels of Fig. 2",
    "fig3ab": "rank histograms of an MNIST MLP before/after training, mean rank per epoch",
    "fig3c": "codeword sizes and ranks of networks trained on the discretised sphere function",
    "appendix": "appendix 7.3: regression vs f>mean classification of optimisation functions",
    "flow": "Naitzat et al.'s topological flow: exact Betti numbers of every class at every layer",
}
#: Smallest ``--max-memory`` of ``polyrank enumerate --out`` (a smaller one is almost surely a
#: slip: no tile fits in it).
MIN_TILE_MEMORY = 2 ** 20
#: Default output folder of ``polyrank reproduce FIGURE``: ``polyrank-FIGURE``.
DEFAULT_OUT = "polyrank-{figure}"


def _enumerate_parser(sub):
    p = sub.add_parser("enumerate", help="enumerate the linear regions of a network", formatter_class=HelpFormatter,
                       description="Enumerate every linear region of a random (PyTorch default init) "
                                   "network or of a saved model, and print the rank decomposition.")
    p.add_argument("--input-dim", type=int_type(1), default=2, help="input dimension d of the random network")
    p.add_argument("--widths", type=widths_type, default=[16, 16, 16], help="hidden widths, comma-separated")
    p.add_argument("--seed", type=int_type(0), default=0, help="torch seed of the random network")
    p.add_argument("--model", help="a .pt file holding a saved model (torch.save(model)) of Linear/Conv/ReLU "
                                   "layers, or the state_dict of an MLP with --input-dim/--widths "
                                   "(default: none, a random network)")
    p.add_argument("--box", type=float_type(0, strict=True, allow_zero=True, zero_means="all of R^d"), default=10.0,
                   help="the domain is [-BOX, BOX]^d; 0 means all of R^d")
    p.add_argument("--method", choices=["auto", "lp", "subdivision"], default="auto",
                   help="engine: lp (exact LP traversal, any d), subdivision (layer-by-layer cutting, "
                        "d = 2..4), auto (subdivision where it applies and is faster)")
    p.add_argument("--layer", type=int_type(1), default=None,
                   help="decompose by hidden layers 1..LAYER (default: all layers)")
    p.add_argument("--max-regions", type=int_type(1), default=1_000_000,
                   help="stop with an error after this many regions")
    p.add_argument("--plot", help="write a PNG of the 2-D decomposition coloured by rank (d = 2, --box > 0; "
                                  "default: none)")
    p.add_argument("--csv", help="write one row per region to this CSV file (default: none)")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.add_argument("--verify", action="store_true", help="certify completeness (faces, volumes, Euler "
                                                         "characteristic, facet neighbours; needs --box > 0)")
    p.add_argument("--out", help="stream the regions to this Parquet directory, tile by tile "
                                 "(polyrank.write_regions; default: none, in memory)")
    p.add_argument("--tiles", default="auto", help="with --out: 'auto', a number of tiles, or cells per axis like 4,4")
    p.add_argument("--scheduler", help="with --out: address of a Dask scheduler that runs the tiles "
                                       "(default: a local process pool)")
    p.add_argument("--overwrite", action="store_true", help="with --out: replace a region store at that path")
    p.add_argument("--max-memory", type=memory_type, default=None,
                   help="memory budget in GiB, or a size like 4GiB, 512MiB, 1.5G: the network's weights "
                        "must fit in it, and with --out each tile may use this much (write_regions' "
                        "max_memory; default: half of this machine's memory for the weights, 2 GiB per tile)")
    return p


def _load_network(args, prog="polyrank enumerate"):
    import os

    import torch

    from .network import ReLUNetwork
    from .train import mlp

    if not args.model:
        need = network_bytes(args.input_dim, args.widths)
        budget = memory_budget(args.max_memory)
        if need > budget:
            raise SystemExit(f"{prog}: error: --widths/--input-dim: a {args.input_dim}-"
                             + "-".join(map(str, args.widths)) + f" network needs {need / 2**30:.1f} GiB for its "
                             f"weights, more than --max-memory {budget / 2**30:.1f} GiB.")
        return ReLUNetwork.from_torch(mlp(args.input_dim, args.widths, seed=args.seed))
    path = args.model
    if not os.path.exists(path):
        raise SystemExit(f"{prog}: error: --model: no such model file: {path}")
    if os.path.isdir(path):
        raise SystemExit(f"{prog}: error: --model: expected a .pt file; got {path!r}, which is a folder.")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # UnpicklingError, EOFError, RuntimeError, ...: all mean "not a torch file"
        raise SystemExit(f"{prog}: error: --model: cannot read {path!r} as a saved torch model (expected a file "
                         f"written by torch.save(model) or torch.save(model.state_dict())): "
                         f"{type(exc).__name__}: {exc}") from None
    if isinstance(obj, dict):
        m = mlp(args.input_dim, args.widths, seed=0)
        try:
            m.load_state_dict(obj)
        except Exception as exc:
            raise SystemExit(f"{prog}: error: --model: the state_dict in {path!r} does not fit an MLP "
                             f"{args.input_dim}-" + "-".join(map(str, args.widths)) + " (--input-dim/--widths): "
                             f"{exc}") from None
        obj = m
    if not isinstance(obj, torch.nn.Module):
        raise SystemExit(f"{prog}: error: --model: {path!r} holds a {type(obj).__name__}; expected a saved "
                         "torch.nn.Module or a state_dict.")
    try:
        return ReLUNetwork.from_torch(obj)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"{prog}: error: --model: cannot use {path}: {exc}") from None


def _run_enumerate(args):
    from .domain import Box
    from .enumerate import enumerate_regions

    prog = "polyrank enumerate"
    bounded = args.box > 0
    if args.out and (args.csv or args.plot or args.verify):
        raise SystemExit(f"{prog}: error: --out streams the regions to a store; --csv, --plot and --verify work on "
                         "an in-memory enumeration: drop --out or them.")
    if args.out and not bounded:
        raise SystemExit(f"{prog}: error: --out needs a bounded domain (--box > 0); got --box 0 (all of R^d).")
    for flag, on in (("--plot", args.plot), ("--verify", args.verify)):
        if on and not bounded:
            raise SystemExit(f"{prog}: error: {flag} needs a bounded domain (--box > 0); got --box 0 (all of R^d).")
    output_file(args.csv, "--csv", prog)
    output_file(args.plot, "--plot", prog)
    if args.out:
        output_parent(args.out, "--out", prog)
        if args.max_memory is not None and args.max_memory < MIN_TILE_MEMORY:
            raise SystemExit(f"{prog}: error: --max-memory: with --out each tile needs at least {MIN_TILE_MEMORY} "
                             f"bytes (1 MiB); got {args.max_memory} bytes. A plain number is GiB; write e.g. "
                             "2, 2GiB or 512MiB.")
    net = _load_network(args, prog)
    if args.plot and net.input_dim != 2:
        raise SystemExit(f"{prog}: error: --plot draws 2-D decompositions only; the network has input dimension "
                         f"{net.input_dim}.")
    if args.layer is not None and args.layer > net.n_layers:
        raise SystemExit(f"{prog}: error: --layer: expected an integer from 1 to {net.n_layers} (the network's "
                         f"hidden layers); got {args.layer}.")
    domain = Box(-args.box, args.box, dim=net.input_dim) if bounded else None
    if args.out:
        from .store import cli_write

        with user_errors(prog):
            return cli_write(args, net, domain)
    t0 = time.perf_counter()
    with user_errors(prog):
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

        with user_errors(prog):
            print(certificate_line(dec))
    out = Outputs(prog)
    if args.csv:
        with out.write(args.csv):
            dec.to_frame().to_csv(args.csv, index=False)
    if args.plot:
        from .plot import plot_decomposition

        with out.write(args.plot):
            fig = plot_decomposition(dec).figure
            fig.savefig(args.plot, dpi=150, bbox_inches="tight")
    return out.finish()


# ---------------------------------------------------------------------------- analyze
#: The manifolds of ``polyrank analyze``.
MANIFOLDS = ("circle", "torus", "sphere", "klein", "ball", "solid_torus")
#: Radius of the circle and major radius of the torus and Klein bottle meshes.
MESH_RADIUS = 2.0
#: Minor radius of the torus and Klein bottle meshes.
MESH_TUBE_RADIUS = 1.0
#: Smallest mesh resolution accepted by ``polyrank analyze``.
MIN_RESOLUTION = 3
#: Names of the manifolds in messages.
MANIFOLD_NAMES = {"circle": "circle", "torus": "torus", "sphere": "sphere", "klein": "Klein bottle",
                  "ball": "ball", "solid_torus": "solid torus"}
#: Smallest dimension each mesh of ``polyrank analyze`` is built in (the default ``--embed-dim``).
MIN_EMBED_DIM = {"circle": 2, "torus": 3, "sphere": 3, "klein": 4, "ball": 3, "solid_torus": 3}
#: Memory model of ``polyrank analyze`` for the estimate made before any work, per manifold:
#: (bytes per simplex at ``n0`` simplices, ``n0``, growth exponent p); the estimate for T
#: simplices is ``bytes * T * max(1, T / n0) ** (p - 1)``. Measured as peak RSS above the
#: interpreter's through 8-8 networks, exact Betti numbers of f(X) included: circle 1.4 kB
#: per edge at 10^6 edges; torus and sphere 8.3-8.9 kB per triangle at 4*10^4-3.6*10^5
#: triangles; Klein bottle 16 kB at 10^4 and 22 kB at 4*10^4 triangles, and more than 47 kB
#: at 3.6*10^5 (killed at 17 GB), hence its exponent. With headroom. Solids (per
#: tetrahedron; a tetrahedron is cut into many more pieces than a triangle): SOLID_BYTES.
ANALYZE_MEMORY = {"circle": (2000, 10**6, 1.0), "torus": (12000, 4 * 10**4, 1.0),
                  "sphere": (12000, 4 * 10**4, 1.0), "klein": (24000, 4 * 10**4, 1.4)}
#: Bytes per input tetrahedron of ``polyrank analyze`` on the ball and solid torus meshes:
#: measured 1.1 GB peak RSS for the default ball (320 tetrahedra, 72 861 pieces through 8-8,
#: f(X) stopped at the LP budget), interpreter included; with headroom.
SOLID_BYTES = 4_000_000
ANALYZE_MEMORY.update(ball=(SOLID_BYTES, 10**3, 1.0), solid_torus=(SOLID_BYTES, 10**3, 1.0))


def _solid_sizes(name, n):
    """Grid parameters of the solid meshes of ``polyrank analyze`` at resolution ``n``:
    ``ball(max(2, n // 6))`` and ``solid_torus(2 max(2, n // 4), max(1, n // 12))``."""
    if name == "ball":
        return (max(2, n // 6),)
    return 2 * max(2, n // 4), max(1, n // 12)


def _analyze_bytes(name, n_simplices):
    """Estimated peak memory (bytes) of ``polyrank analyze`` on a mesh of ``n_simplices``."""
    per, n0, p = ANALYZE_MEMORY[name]
    return per * n_simplices * max(1.0, n_simplices / n0) ** (p - 1)


def _mesh_size(name, n):
    """(vertices, top simplices) of the mesh ``_make_manifold(name, n)`` builds, without building it."""
    if name == "circle":
        return n, n
    if name == "sphere":
        v = max(4, n * n // 2)
        return v, 2 * v - 4
    if name == "ball":
        (k,) = _solid_sizes(name, n)
        return (k + 1) ** 3, 5 * k ** 3
    if name == "solid_torus":
        k, m = _solid_sizes(name, n)
        return k * (m + 1) ** 2, 5 * k * m * m
    m = max(MIN_RESOLUTION, n // 2)
    return n * m, 2 * n * m


def _make_manifold(name, resolution, seed):
    from . import manifolds

    n = resolution
    if name == "circle":
        return manifolds.circle(n, radius=MESH_RADIUS)
    if name == "torus":
        return manifolds.torus(n, max(MIN_RESOLUTION, n // 2), R=MESH_RADIUS, r=MESH_TUBE_RADIUS)
    if name == "sphere":
        return manifolds.sphere(max(4, n * n // 2), seed=seed)
    if name == "ball":
        return manifolds.ball(*_solid_sizes(name, n), radius=MESH_RADIUS)
    if name == "solid_torus":
        return manifolds.solid_torus(*_solid_sizes(name, n), R=MESH_RADIUS, r=MESH_TUBE_RADIUS)
    return manifolds.klein_bottle(n, max(MIN_RESOLUTION, n // 2), R=MESH_RADIUS, r=MESH_TUBE_RADIUS)


def _analyze_parser():
    from .analysis import GLUE_MODES

    p = argparse.ArgumentParser(
        prog="polyrank analyze", formatter_class=HelpFormatter,
        description="Cut a meshed manifold exactly along the linear regions of a random ReLU network "
                    "(PyTorch default init) and report ranks, the low-rank part and Betti numbers.\n\n"
                    f"manifolds: circle of radius {MESH_RADIUS:g} in R^2 (N vertices); torus with radii "
                    f"R={MESH_RADIUS:g}, r={MESH_TUBE_RADIUS:g} in R^3 (N x N/2 grid); sphere: the unit sphere "
                    f"in R^3 (hull of N^2/2 random points); klein: Klein bottle with R={MESH_RADIUS:g}, "
                    f"r={MESH_TUBE_RADIUS:g} in R^4 (N x N/2 grid; it does not embed in R^3); ball: the solid ball "
                    f"of radius {MESH_RADIUS:g} in R^3 (5 (N/6)^3 tetrahedra); solid_torus: R={MESH_RADIUS:g}, "
                    f"r={MESH_TUBE_RADIUS:g} in R^3 (2 (N/4) steps around, (N/12)^2 voxels across, 5 "
                    "tetrahedra each). Each is then "
                    "embedded isometrically in R^EMBED_DIM by a random rotation.")
    p.add_argument("--manifold", choices=MANIFOLDS, default="torus",
                   help="the mesh (see above): circle (radius 2, needs --embed-dim >= 2), torus (>= 3), "
                        "sphere (>= 3), klein (>= 4), ball (>= 3), solid_torus (>= 3)")
    p.add_argument("--embed-dim", type=int_type(1), default=None,
                   help="input dimension of the network (default: the manifold's minimum: circle 2, torus 3, "
                        "sphere 3, klein 4, ball 3, solid_torus 3)")
    p.add_argument("--widths", type=widths_type, default=[8, 8], help="hidden widths, comma-separated")
    p.add_argument("--seed", type=int_type(0), default=0, help="seed of the network and the embedding")
    p.add_argument("--layer", type=int_type(1), default=None, help="analyse layer K (default: the last)")
    p.add_argument("--threshold", type=int_type(0), default=None,
                   help="rank below which pieces are low rank (default: the manifold's minimal embedding "
                        "dimension)")
    p.add_argument("--resolution", type=int_type(MIN_RESOLUTION), default=24,
                   help="mesh resolution N (see above)")
    p.add_argument("--glue", choices=GLUE_MODES, default="cell",
                   help="how rank-0 pieces are grouped before gluing: cell (same region or touching), "
                        "image (same image point), component (touching)")
    p.add_argument("--scale", type=float_type(0, strict=True), default=None,
                   help="also report Betti numbers of the Rips complex of the image f(X) at this scale "
                        "(approximate; slow for large scales; default: not computed)")
    p.add_argument("--plot", help="write a figure of the refined manifold coloured by rank (default: none)")
    p.add_argument("--csv", help="write one row per region met to this CSV file (default: none)")
    p.add_argument("--max-memory", type=memory_type, default=None,
                   help="GiB (or a size like 512MiB, 4GiB) the analysis may use; a mesh that needs more is "
                        "refused before any work (default: half of this machine's memory)")
    return p


def _run_analyze(argv):
    """``polyrank analyze``: a random network (:func:`polyrank.train.mlp` with ``--seed``),
    a meshed manifold embedded isometrically in ``R^embed_dim``, and the printed
    :meth:`polyrank.AnalysisReport.summary`."""
    prog = "polyrank analyze"
    p = _analyze_parser()
    args = parse(p, argv)
    need_dim = MIN_EMBED_DIM[args.manifold]
    embed_dim = need_dim if args.embed_dim is None else args.embed_dim
    if embed_dim < need_dim:
        p.error(f"argument --embed-dim: expected an integer >= {need_dim} for the {MANIFOLD_NAMES[args.manifold]} "
                f"(the smallest dimension its mesh is built in); got {embed_dim}")
    if args.layer is not None and args.layer > len(args.widths):
        p.error(f"argument --layer: expected an integer from 1 to {len(args.widths)} (the hidden layers of "
                f"--widths {','.join(map(str, args.widths))}); got {args.layer}")
    n_vert, n_simp = _mesh_size(args.manifold, args.resolution)
    need = _analyze_bytes(args.manifold, n_simp) + n_vert * 8 * embed_dim + network_bytes(embed_dim, args.widths)
    budget = memory_budget(args.max_memory)
    if need > budget:
        raise SystemExit(f"{prog}: error: --resolution {args.resolution}: the {MANIFOLD_NAMES[args.manifold]} mesh would have "
                         f"{n_vert:.3g} vertices and {n_simp:.3g} simplices; the analysis would need about "
                         f"{need / 2**30:.3g} GiB (estimate from measured runs), more than "
                         f"--max-memory {budget / 2**30:.1f} GiB. Lower --resolution or raise --max-memory.")
    output_file(args.csv, "--csv", prog)
    output_file(args.plot, "--plot", prog)
    from .analysis import analyze
    from .manifolds import embed
    from .network import ReLUNetwork
    from .train import mlp

    with user_errors(prog):
        base = _make_manifold(args.manifold, args.resolution, args.seed)
        K = embed(base, embed_dim, seed=args.seed)
        net = ReLUNetwork.from_torch(mlp(embed_dim, args.widths, seed=args.seed))
        rep = analyze(net, K, layer=args.layer, threshold=args.threshold, glue=args.glue,
                      scale=args.scale, name=args.manifold)
    print(rep.summary())
    out = Outputs(prog)
    if args.csv:
        with out.write(args.csv):
            rep.to_frame().to_csv(args.csv, index=False)
    if args.plot:
        with out.write(args.plot):
            rep.plot(args.plot)
    return out.finish()


# ---------------------------------------------------------------------------- reproduce
def _figure_parsers():
    """(figure names, their argparse parser) per figure module, for ``reproduce --help``."""
    out = []
    for fig, mod_name in FIGURES.items():
        parser = importlib.import_module(f"polyrank.experiments.{mod_name}").build_parser(fig)
        opts = [a.option_strings for a in parser._actions]
        if out and out[-1][2] == opts and out[-1][3] == mod_name:
            out[-1][0].append(fig)
        else:
            out.append(([fig], parser, opts, mod_name))
    return [(figs, parser) for figs, parser, _, _ in out]


def _reproduce_usage():
    lines = ["usage: polyrank reproduce FIGURE [options]", "", "figures:"]
    lines += [f"  {f:<10} {FIGURE_HELP[f]}" for f in FIGURES]
    lines += ["", f"Each figure writes its CSVs and PNGs into --out (default: {DEFAULT_OUT.format(figure='FIGURE')}).",
              "polyrank reproduce FIGURE --help shows one figure's options in full."]
    return "\n".join(lines)


def _reproduce_help():
    text = [_reproduce_usage(), ""]
    for figs, parser in _figure_parsers():
        text.append(f"options of {', '.join(figs)}:")
        for a in parser._actions:
            if not a.option_strings or "-h" in a.option_strings:
                continue
            metavar = "" if a.nargs == 0 else " " + (a.metavar or a.dest.upper())
            help_text = parser.formatter_class("x")._get_help_string(a) or ""
            help_text = help_text % {"default": a.default} if "%(default)" in help_text else help_text
            text.append(f"  {', '.join(a.option_strings)}{metavar}")
            text.append(f"      {help_text}")
        text.append("")
    return "\n".join(text)


def _run_reproduce(argv):
    if not argv:
        print(_reproduce_usage(), file=sys.stderr)
        print("polyrank reproduce: error: name a figure", file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(_reproduce_help())
        return 0
    fig = argv[0]
    if fig not in FIGURES:
        print(f"polyrank reproduce: error: unknown figure {fig!r}; choose one of: {', '.join(FIGURES)}",
              file=sys.stderr)
        return 2
    mod = importlib.import_module(f"polyrank.experiments.{FIGURES[fig]}")
    return mod.cli_main(fig, argv[1:]) or 0


#: ``OMP_WAIT_POLICY`` the command sets for torch's OpenMP threads when the environment does not
#: (it must be set before torch loads; the command loads torch lazily). With the default policy a
#: thread that reaches a barrier first spins: on the shared 2-core machine at load 3-6,
#: ``benchmarks/sampling.py --threads 2`` took 22.8 CPU s and 30.7 s wall for ``ranks_at`` with it
#: and 13.4 CPU s and 21.4 s wall with PASSIVE (threads sleep at barriers), back to back.
CLI_OMP_WAIT_POLICY = "PASSIVE"


# ---------------------------------------------------------------------------- dispatch
def main(argv=None):
    """Entry point of the ``polyrank`` console script; returns the exit status.

    Errors of the user's making (a bad option value, an unusable file, a budget) end the
    command with ``polyrank CMD: error: ...`` and no traceback (``POLYRANK_TRACEBACK=1``
    shows it); outputs are checked before any work, and a partial set of outputs is
    reported as such (exit status 1).

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
    if "torch" not in sys.modules:  # see CLI_OMP_WAIT_POLICY (no effect once torch is loaded)
        os.environ.setdefault("OMP_WAIT_POLICY", CLI_OMP_WAIT_POLICY)
    parser = argparse.ArgumentParser(prog="polyrank", description=__doc__.split("\n")[0],
                                     formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command")
    enum_parser = _enumerate_parser(sub)
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
        return _run_reproduce(argv[1:])
    if cmd == "enumerate":
        return _run_enumerate(parse(enum_parser, argv[1:]))
    parser.parse_args(argv)  # argparse's message for an unknown command
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
