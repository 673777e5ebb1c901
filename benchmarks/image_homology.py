"""Benchmark: exact homology of f_l(X) against the sampled overlap computation.

Two measurements in one run:

1. ``pr.topology_flow`` (exact Betti numbers of ``f_l(T)`` at every hidden layer) of a
   torus mesh through ``polyrank.train.mlp(3, [32, 32], 3, seed=0)`` (PyTorch default
   init; the read-out has no ReLU, so the hidden layers 1 and 2 are analysed). Goal of
   issue 17: a 64 x 32 torus, all layers, in under 5 s.
2. The baseline of the sampled approach (a quotient by the overlap relation, computed on
   sample points with one LP per sample point and candidate piece, as a point-cloud
   pipeline does): for every mesh vertex ``v`` and every refined piece ``c`` not
   containing ``v`` whose image's bounding box contains ``f(v)``, one scipy LP decides
   whether ``f(v)`` lies in ``f(c)``. This only finds overlaps *at the sample points*
   (it is not exact), and it is already pruned by bounding boxes. The ratio printed is
   baseline time / exact time on the same mesh and network (goal >= 100).

Run: ``python benchmarks/image_homology.py [--n 64] [--baseline-n 32] [--max-baseline-lps 20000]``.
The baseline is extrapolated from its first ``--max-baseline-lps`` LPs when it needs more
(printed as such).
"""

import argparse
import time

import numpy as np
from scipy.optimize import linprog

import polyrank as pr
from polyrank.train import mlp


def point_in_hull_lp(y, P):
    """One LP: is y a convex combination of the rows of P (scipy's HiGHS)?"""
    m = len(P)
    res = linprog(np.zeros(m), A_eq=np.vstack([P.T, np.ones((1, m))]), b_eq=np.r_[y, 1.0],
                  bounds=[(0, None)] * m, method="highs")
    return res.status == 0


def sampled_overlaps(net, K, layer, max_lps):
    """The overlap relation on the mesh vertices, one LP per (vertex, candidate piece)."""
    ref = pr.refine(net, K, layer=layer)
    V, S = ref.complex.vertices, ref.complex.simplices
    Y = net.forward(V, layer=layer)
    P = Y[S]
    lo, hi = P.min(1), P.max(1)
    Yk = net.forward(K.vertices, layer=layer)
    eps = 1e-9 * np.ptp(Y, axis=0).max()
    idx = {tuple(v): i for i, v in enumerate(np.round(V, 12))}
    own = [idx.get(tuple(v)) for v in np.round(K.vertices, 12)]
    t0 = time.perf_counter()
    n_lps = n_cand = 0
    pairs = 0
    for k, y in enumerate(Yk):
        cand = np.flatnonzero(((lo <= y + eps) & (hi >= y - eps)).all(1))
        cand = cand[~(S[cand] == own[k]).any(1)]
        n_cand += len(cand)
        for c in cand:
            if n_lps >= max_lps:
                continue
            n_lps += 1
            pairs += point_in_hull_lp(y, P[c])
    elapsed = time.perf_counter() - t0
    return elapsed, n_lps, n_cand, pairs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="torus resolution n x n/2 (default 64)")
    ap.add_argument("--baseline-n", type=int, default=32,
                    help="torus resolution of the side-by-side comparison (default 32)")
    ap.add_argument("--max-baseline-lps", type=int, default=20000,
                    help="LPs the baseline runs before extrapolating (default 20000)")
    args = ap.parse_args()

    net = pr.ReLUNetwork.from_torch(mlp(3, [32, 32], 3, seed=0))
    T = pr.torus(args.n, args.n // 2)
    t0 = time.perf_counter()
    df = pr.topology_flow(net, T)
    t_flow = time.perf_counter() - t0
    print(f"torus {args.n}x{args.n // 2} ({len(T)} triangles) through 3-32-32(-3), all hidden layers:")
    print(df[["layer", "betti", "n_pieces", "n_rank_pieces", "n_overlaps", "n_lps", "seconds"]]
          .to_string(index=False))
    print(f"exact topology_flow: {t_flow:.2f} s (goal < 5 s)")

    Tb = pr.torus(args.baseline_n, args.baseline_n // 2)
    print(f"\nside by side on a {args.baseline_n}x{args.baseline_n // 2} torus, last hidden layer:")
    t0 = time.perf_counter()
    res = pr.image_homology(net, Tb)
    t_exact = time.perf_counter() - t0
    t_base, n_lps, n_cand, found = sampled_overlaps(net, Tb, net.n_layers, args.max_baseline_lps)
    est = t_base * n_cand / max(n_lps, 1)
    note = "" if n_lps == n_cand else f" (extrapolated from {n_lps} of {n_cand} LPs)"
    print(f"exact image_homology: {t_exact:.2f} s, betti {res.betti}, {res.stats.get('n_lps', 0)} LPs")
    print(f"sampled overlaps at the vertices: {est:.2f} s{note}, {found} overlaps found "
          f"among the first {n_lps} candidates (no homology, not exact)")
    print(f"ratio baseline / exact: {est / t_exact:.1f}x (goal >= 100x)")


if __name__ == "__main__":
    main()
