"""Benchmark: exact refinement of a rotation orbit of a real MNIST "0" (a closed polygon in
R^784) through the paper's 784-2000-1000-500-100 network (issue 14: 360 vertices in < 5 s).

Times, in one run, ``pr.refine`` (for curves every layer is one GEMM over the pieces' slopes,
see docs/orbits.md) against the general kernel that refine uses for triangle meshes (forward
pass of every vertex per layer, tangent vectors pushed through the layers per piece), on the
same mesh; checks that both give the same refinement (pieces, patterns, parents, tangent
ranks, after sorting) and prints the ratio. With ``--ranks`` it also times the ranks of all
regions met (``ref.ranks``, computed on first access with ``pr.rank.pattern_ranks``, on
``--device``).

    python benchmarks/refine_orbit.py [--n 360] [--repeat 1] [--trained-net fig3ab_net.npz]
                                      [--ranks] [--device cpu|cuda]

Network: ``polyrank.train.mlp(784, (2000, 1000, 500, 100), 10, seed=0)`` (PyTorch default
init) unless ``--trained-net``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import polyrank as pr
from polyrank import intersect


def canonical(V, S, P, parent, tr):
    """Pieces sorted by parent and position (first vertex), as comparable arrays."""
    key = np.round(V[S].sum(1) @ np.random.default_rng(0).normal(size=V.shape[1]), 6)
    order = np.lexsort((key, parent))
    return len(S), P[order], parent[order], tr[order]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=360)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--trained-net", default=None)
    ap.add_argument("--ranks", action="store_true")
    ap.add_argument("--device", default=None)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    X, y = pr.data.load_mnist(args.data_dir, kind="test")
    img = X[np.flatnonzero(y == 0)[0]]
    C = pr.image_orbit(img, kind="rotation", n=args.n)
    if args.trained_net:
        from polyrank.experiments import fig3_mnist

        net, what = fig3_mnist.load_net(args.trained_net), f"trained ({args.trained_net})"
    else:
        net, what = pr.as_network(pr.train.mlp(784, (2000, 1000, 500, 100), 10, seed=0)), "PyTorch init, seed 0"
    V0, S0 = C.vertices, np.asarray(C.simplices, dtype=np.int64)
    K = net.n_layers
    pr.refine(net, pr.image_orbit(img, kind="rotation", n=3))  # warm-up
    t_pr, c_pr = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        ref = pr.refine(net, C)
        t_pr.append(time.perf_counter() - t0)
        c_pr.append(time.process_time() - c0)
    t0, c0 = time.perf_counter(), time.process_time()
    V, S, P, parent = intersect._cut(net, V0, S0, K, pr.intersect.REFINE_TOL)
    U, region = intersect._unique_rows(P)
    tr = intersect._tangent_ranks(net, V0, S0, V, S, parent, P, K, region, intersect._RegionRanks(net, U, K))
    t_gen, c_gen = time.perf_counter() - t0, time.process_time() - c0
    a = canonical(ref.complex.vertices, ref.complex.simplices, ref.patterns, ref.parent, ref.tangent_ranks)
    b = canonical(V, S, P, parent, tr)
    same = a[0] == b[0] and all(np.array_equal(x, y) for x, y in zip(a[1:], b[1:]))
    print(f"rotation orbit of a '0', {args.n} vertices in R^784; network 784-2000-1000-500-100 ({what})")
    print(f"refined: {len(ref)} pieces, {ref.n_regions} regions met; tangent rank 0 (collapsed) pieces per "
          f"layer: {(ref.tangent_ranks == 0).sum(0).tolist()}")
    print(f"pr.refine (curve kernel)   best {min(t_pr):.2f} s wall ({min(c_pr):.2f} s CPU)   goal < 5 s: "
          f"{'met' if min(t_pr) < 5 else 'NOT met'}")
    print(f"general kernel             {t_gen:.2f} s wall ({c_gen:.2f} s CPU)")
    print(f"ratio                      {t_gen / min(t_pr):.1f}x   same refinement: {same}")
    if args.ranks:
        t0 = time.perf_counter()
        R = ref._region_ranks.get() if args.device is None else pr.rank.pattern_ranks(
            net, ref.region_patterns, device=args.device)
        t_rank = time.perf_counter() - t0
        print(f"ranks of the {ref.n_regions} regions (pattern_ranks, device {args.device or 'default'}): "
              f"{t_rank:.1f} s; rank min/max per layer {R.min(0).tolist()} / {R.max(0).tolist()}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
