"""Benchmark: exact refinement of a 64x32 torus mesh in R^3 through a 3-32-32-3 network.

Times ``pr.refine`` (vectorised numpy, neuron by neuron) against a straightforward
per-simplex Python implementation of the same algorithm in the same run, checks that
both give the same refined mesh (number of pieces, patterns met, area per pattern)
and prints the ratio. Goal (issue 4): under 2 s.

Network: ``polyrank.train.mlp(3, [32, 32], 3, seed=0)`` (PyTorch
default init; the read-out has no ReLU, so 64 hidden units cut the mesh).
Run: ``python benchmarks/refine.py [--repeat 5] [--baseline-repeat 1]``.
"""

import argparse
import time

import numpy as np

import polyrank as pr
from polyrank.train import mlp


def baseline_refine(net, V, S):
    """Per-simplex Python loops: the straightforward prototype of the same algorithm."""
    V = [tuple(map(float, v)) for v in V]
    S = [tuple(map(int, s)) for s in S]
    P = [[] for _ in S]
    zs = None
    tol = pr.intersect.REFINE_TOL
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        Wl, bl = W.tolist(), b.tolist()
        if l == 0:
            zs = [[sum(w * x for w, x in zip(row, v)) + c for row, c in zip(Wl, bl)] for v in V]
        else:
            zs = [[sum(w * max(x, 0.0) for w, x in zip(row, z)) + c for row, c in zip(Wl, bl)] for z in zs]
        for i in range(len(Wl)):
            scale = max(abs(z[i]) for z in zs)
            for z in zs:
                if abs(z[i]) <= tol * scale:
                    z[i] = 0.0
            cache = {}

            def cut(u, v):
                key = (u, v) if u < v else (v, u)
                if key not in cache:
                    a, c = key
                    t = zs[a][i] / (zs[a][i] - zs[c][i])
                    V.append(tuple(p + t * (q - p) for p, q in zip(V[a], V[c])))
                    nz = [p + t * (q - p) for p, q in zip(zs[a], zs[c])]
                    nz[i] = 0.0
                    zs.append(nz)
                    cache[key] = len(V) - 1
                return cache[key]

            newS, newP = [], []
            for s, p in zip(S, P):
                sg = [(zs[v][i] > 0) - (zs[v][i] < 0) for v in s]
                if max(sg) > 0 and min(sg) < 0:
                    if 0 in sg:
                        r = sg.index(0)
                    else:
                        r = [k for k in range(3) if sg.count(sg[k]) == 1][0]
                    a, b_, c = s[r], s[(r + 1) % 3], s[(r + 2) % 3]
                    if 0 in sg:
                        m = cut(b_, c)
                        kids = [(a, b_, m), (a, m, c)]
                    else:
                        m1, m2 = cut(a, b_), cut(a, c)
                        kids = [(a, m1, m2), (m1, b_, c), (m1, c, m2)]
                    for kid in kids:
                        newS.append(kid)
                        newP.append(p + [any(zs[v][i] > 0 for v in kid)])
                else:
                    newS.append(s)
                    newP.append(p + [max(sg) > 0])
            S, P = newS, newP
    return np.array(V), np.array(S), np.array(P, dtype=bool)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline-repeat", type=int, default=1)
    args = ap.parse_args(argv)
    K = pr.embed(pr.torus(64, 32, R=2.0, r=1.0), 3, seed=0)
    net = pr.ReLUNetwork.from_torch(mlp(3, [32, 32], 3, seed=0))
    t_pr = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ref = pr.refine(net, K)
        t_pr.append(time.perf_counter() - t0)
    t_base = []
    for _ in range(args.baseline_repeat):
        t0 = time.perf_counter()
        Vb, Sb, Pb = baseline_refine(net, K.vertices, K.simplices)
        t_base.append(time.perf_counter() - t0)
    # same answer: pieces, patterns met, area per pattern
    area_b = pr.intersect.simplex_measures(Vb, Sb)
    Ub, inv_b = np.unique(Pb, axis=0, return_inverse=True)
    same = (len(Sb) == len(ref) and np.array_equal(Ub, ref.region_patterns)
            and np.allclose(np.bincount(inv_b.ravel(), weights=area_b),
                            np.bincount(ref.region, weights=ref.measures()), rtol=1e-9, atol=1e-12))
    print(f"torus 64x32 ({len(K)} triangles) in R^3, network 3-32-32-3 (64 hidden units)")
    print(f"refined: {len(ref)} triangles, {ref.complex.n_vertices} vertices, {ref.n_regions} regions met")
    print(f"pr.refine           best {min(t_pr):.3f} s  (of {args.repeat}: "
          + ", ".join(f"{t:.2f}" for t in t_pr) + ")")
    print(f"per-simplex Python  best {min(t_base):.3f} s  (of {args.baseline_repeat})")
    print(f"speed-up            {min(t_base) / min(t_pr):.1f}x   same result: {same}   goal < 2 s: "
          f"{'met' if min(t_pr) < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
