"""Benchmark: the classifying space of a 32 x 16 torus, and how the table grows with max_pieces.

``pr.classifying_space`` finds curves of every class on a covering graph, places up to
``max_pieces`` generators in minimal position and computes three GUDHI quotients (over
Z/11, Z/2, Z/3) per configuration. The baseline is the homology alone: plain GUDHI on
the same torus with one cone apex, timed once and multiplied by the number of quotients
the enumeration computed (3 per configuration, the ``realizations`` column summed).
The ratio ``total / baseline`` is the cost of the curve search and the placement.

    python benchmarks/classifying.py [--n 32] [--m 16] [--max-pieces 3] [--repeat 1]

Goal (issue 16): max_pieces=3 on the 32 x 16 torus in under 30 s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _one_quotient(K, piece, field):
    """Plain GUDHI: the torus plus a cone over one piece, reduced Betti numbers."""
    import gudhi

    st = gudhi.SimplexTree()
    st.insert_batch(np.ascontiguousarray(K.simplices.T), np.zeros(len(K)))
    cone = np.hstack([piece, np.full((len(piece), 1), K.n_vertices)])
    st.insert_batch(np.ascontiguousarray(cone.T), np.zeros(len(cone)))
    st.compute_persistence(homology_coeff_field=field, persistence_dim_max=True)
    return st.betti_numbers()


def bench(n=32, m=16, max_pieces=3, repeat=1):
    import polyrank as pr

    K = pr.torus(n, m)
    meridian = np.array([(j, (j + 1) % m) for j in range(m)])
    t0 = time.perf_counter()
    for _ in range(20):
        _one_quotient(K, meridian, 11)
    per_quotient = (time.perf_counter() - t0) / 20
    print(f"torus {n}x{m}: {len(K)} triangles; plain GUDHI quotient {1e3 * per_quotient:.2f} ms")
    print(f"{'max_pieces':>10}  {'types':>5}  {'configs':>7}  {'seconds':>8}  {'baseline s':>10}  {'ratio':>6}")
    rows = []
    for k in range(1, max_pieces + 1):
        best = np.inf
        for _ in range(repeat):
            t = time.perf_counter()
            df = pr.classifying_space(K, max_pieces=k)
            best = min(best, time.perf_counter() - t)
        configs = int(df["realizations"].sum())
        base = 3 * configs * per_quotient
        rows.append((k, len(df), configs, best, base))
        print(f"{k:>10}  {len(df):>5}  {configs:>7}  {best:>8.2f}  {base:>10.2f}  {best / base:>6.2f}")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--max-pieces", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args(argv)
    rows = bench(a.n, a.m, a.max_pieces, a.repeat)
    k, _, _, secs, _ = rows[-1]
    print(f"max_pieces={k}: {secs:.1f} s ({'under' if secs < 30 else 'OVER'} the 30 s goal)")


if __name__ == "__main__":
    main()
