"""Benchmark: exact homology of f_l(X), fast paths against the reference path and against
the sampled overlap computation.

Three measurements in one run:

1. ``pr.topology_flow`` (exact Betti numbers of ``f_l(T)`` at every hidden layer) of a
   torus mesh through ``polyrank.train.mlp(3, [32, 32], 3, seed=0)`` (PyTorch default
   init; the read-out has no ReLU, so the hidden layers 1 and 2 are analysed). Goal of
   issue 17: a 64 x 32 torus, all layers, in under 5 s. Timed twice, side by side: with
   the fast paths for curves and surfaces (``polyrank.image.FAST_PATHS = True``, the
   default: geometric certificates before any LP, cones for dirty cells) and with the
   reference path (``False``: every undecided intersection by LP, full simplices, as
   before the fast paths); the Betti numbers must agree.
2. A torus folded many times by a 3-unit layer (a random 3-8-3 network, layer 2, 10 x 5
   torus, ``--fold-n``): both paths, the reference one under ``--max-reference-lps``.
3. The baseline of the sampled approach (the overlap relation on a point cloud, one LP per
   sample point and candidate piece, as a point-cloud pipeline does): ``m`` uniform points
   in every refined piece; for each, every piece sharing no vertex with the sample's piece
   whose image's bounding box contains the sample's image gets one scipy LP deciding
   whether it contains it. It finds overlaps only at its samples (not exact) and is
   already pruned by bounding boxes. Printed for several ``m``: time (extrapolated past
   ``--max-baseline-lps``), overlapping piece pairs found, and the ratios sampled / exact
   for both paths (goal >= 100), on a network whose last layer makes the torus meet itself
   (``mlp(3, [16, 16, 8], seed=0)``; with an injective image the pruned baseline has
   nothing to test).

Run: ``python benchmarks/image_homology.py [--n 64] [--baseline-n 32] [--max-baseline-lps 20000]``.
The baseline is extrapolated from its first ``--max-baseline-lps`` LPs when it needs more
(printed as such).
"""

import argparse
import time
import warnings

import numpy as np
from scipy.optimize import linprog

import polyrank as pr
import polyrank.image as pr_image
from polyrank.train import mlp


def point_in_hull_lp(y, P):
    """One LP: is y a convex combination of the rows of P (scipy's HiGHS)?"""
    m = len(P)
    res = linprog(np.zeros(m), A_eq=np.vstack([P.T, np.ones((1, m))]), b_eq=np.r_[y, 1.0],
                  bounds=[(0, None)] * m, method="highs")
    return res.status == 0


def sampled_overlaps(net, K, layer, per_piece, max_lps, seed=0):
    """The overlap relation at sample points: ``per_piece`` uniform points in every refined
    piece (plus the mesh vertices), one LP per (sample, candidate piece) pair, candidates
    pruned by bounding boxes. Returns (seconds, LPs run, candidates, overlapping pairs of
    pieces found among the LPs run)."""
    ref = pr.refine(net, K, layer=layer)
    V, S = ref.complex.vertices, ref.complex.simplices
    Y = net.forward(V, layer=layer)
    P = Y[S]
    lo, hi = P.min(1), P.max(1)
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(S.shape[1]), size=(len(S), per_piece))
    X = np.einsum("kpj,kjd->kpd", w, V[S]).reshape(-1, V.shape[1])
    src = np.repeat(np.arange(len(S)), per_piece)
    Ys = net.forward(X, layer=layer) if len(X) else np.zeros((0, Y.shape[1]))
    eps = 1e-9 * np.ptp(Y, axis=0).max()
    t0 = time.perf_counter()
    n_lps = n_cand = 0
    found = set()
    for y, k in zip(Ys, src):
        cand = np.flatnonzero(((lo <= y + eps) & (hi >= y - eps)).all(1))
        cand = cand[~np.isin(S[cand], S[k]).any(1)]  # pieces sharing no vertex with the sample's
        n_cand += len(cand)
        for c in cand:
            if n_lps >= max_lps:
                continue
            n_lps += 1
            if point_in_hull_lp(y, P[c]):
                found.add((min(k, c), max(k, c)))
    return time.perf_counter() - t0, n_lps, n_cand, len(found)


def _both(call):
    """(fast result, seconds), (reference result or error, seconds): the same call with the
    fast paths on and off."""
    out = []
    for fast in (True, False):
        pr_image.FAST_PATHS = fast
        t0 = time.perf_counter()
        try:
            res = call()
        except pr.PolyrankError as exc:
            res = exc
        finally:
            pr_image.FAST_PATHS = True
        out.append((res, time.perf_counter() - t0))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="torus resolution n x n/2 (default 64)")
    ap.add_argument("--baseline-n", type=int, default=32,
                    help="torus resolution of the side-by-side comparison (default 32)")
    ap.add_argument("--samples", type=int, nargs="+", default=[1, 4, 16],
                    help="sample points per refined piece for the baseline (default 1 4 16)")
    ap.add_argument("--max-baseline-lps", type=int, default=20000,
                    help="LPs the baseline runs before extrapolating (default 20000)")
    ap.add_argument("--fold-n", type=int, default=10,
                    help="torus resolution n x n/2 of the folded case (default 10)")
    ap.add_argument("--max-reference-lps", type=int, default=40000,
                    help="LP budget of the reference path on the folded torus (default 40000)")
    args = ap.parse_args()
    warnings.simplefilter("ignore", pr.ImageToleranceWarning)

    net = pr.ReLUNetwork.from_torch(mlp(3, [32, 32], 3, seed=0))
    T = pr.torus(args.n, args.n // 2)
    (df, t_flow), (df_ref, t_ref) = _both(lambda: pr.topology_flow(net, T))
    print(f"torus {args.n}x{args.n // 2} ({len(T)} triangles) through 3-32-32(-3), all hidden layers:")
    cols = ["layer", "betti", "n_pieces", "n_rank_pieces", "n_overlaps", "n_lps", "seconds"]
    both = df[cols].merge(df_ref[["layer", "betti", "n_lps", "seconds"]], on="layer", suffixes=("", "_reference"))
    print(both.to_string(index=False))
    assert (df["betti"] == df_ref["betti"]).all(), "fast and reference paths disagree"
    print(f"exact topology_flow: fast paths {t_flow:.2f} s, reference path {t_ref:.2f} s "
          f"(ratio {t_ref / t_flow:.1f}x; goal < 5 s)")

    # a torus folded onto itself many times by a 3-unit layer
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(8, 3)), rng.normal(size=(3, 8))]
    bs = [rng.normal(size=8) * 0.5, rng.normal(size=3) * 0.5]
    fold = pr.ReLUNetwork.from_weights(Ws, bs)
    Tf = pr.torus(args.fold_n, args.fold_n // 2)
    (rf, t_f), (rr, t_r) = _both(lambda: pr.image_homology(fold, Tf, 2, max_candidates=None,
                                                            max_lps=args.max_reference_lps))
    print(f"\nfolded: {args.fold_n}x{args.fold_n // 2} torus through a random 3-8-3 network, layer 2 ({rf.n_pieces} pieces, "
          f"{rf.n_dirty} dirty, {rf.n_overlaps} overlap sets):")
    print(f"  fast paths: {t_f:.2f} s, betti {rf.betti}, {rf.stats['n_lps']} LPs, "
          f"{rf.stats['n_geometric']} geometric decisions, {rf.stats['n_complex_simplices']} simplices")
    if isinstance(rr, Exception):
        print(f"  reference path: refused after {t_r:.2f} s (more than {args.max_reference_lps} LPs); "
              f"ratio > {t_r / t_f:.1f}x")
    else:
        assert rr.betti == rf.betti, "fast and reference paths disagree"
        print(f"  reference path: {t_r:.2f} s, betti {rr.betti}, {rr.stats['n_lps']} LPs, "
              f"{rr.stats['n_complex_simplices']} simplices; ratio {t_r / t_f:.1f}x")

    # side by side where the image does overlap itself (the docs example: a 3-16-16-8
    # network whose third layer glues the torus in 40 places)
    net = pr.ReLUNetwork.from_torch(mlp(3, [16, 16, 8], seed=0))
    Tb = pr.torus(args.baseline_n, args.baseline_n // 2)
    print(f"\nside by side on a {args.baseline_n}x{args.baseline_n // 2} torus through 3-16-16-8, layer 3:")
    (res, t_exact), (res_ref, t_exact_ref) = _both(lambda: pr.image_homology(net, Tb))
    assert res.betti == res_ref.betti, "fast and reference paths disagree"
    print(f"exact image_homology: fast paths {t_exact:.2f} s ({res.stats.get('n_lps', 0)} LPs), reference "
          f"path {t_exact_ref:.2f} s ({res_ref.stats.get('n_lps', 0)} LPs), betti {res.betti}, "
          f"{res.n_overlaps} overlap sets")
    for m in args.samples:
        t_base, n_lps, n_cand, found = sampled_overlaps(net, Tb, net.n_layers, m, args.max_baseline_lps)
        est = t_base * n_cand / max(n_lps, 1)
        note = "" if n_lps == n_cand else f" (extrapolated from {n_lps} of {n_cand} LPs)"
        print(f"sampled, {m} points per piece: {est:.2f} s{note}, {found} overlapping piece pairs "
              f"found by the LPs run; ratio sampled / exact {est / t_exact:.1f}x "
              f"(reference path: {est / t_exact_ref:.1f}x)")


if __name__ == "__main__":
    main()
