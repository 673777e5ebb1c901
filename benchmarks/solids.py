"""Benchmark: a solid torus through an untrained 3-16-16 network, refinement and exact
image homology at every layer, against its own boundary surface in the same run.

The solid is ``pr.solid_torus(n, m)`` (``5 n m^2`` tetrahedra); the baseline is its boundary
torus (the triangles of the solid's boundary, same vertices), which the surface code
handled before solids were supported. Both go through ``polyrank.train.mlp(3, [16, 16],
seed=0)``: ``pr.refine`` (all layers) and ``pr.topology_flow``. Prints the pieces, the
Betti numbers per layer (solid: (1, 1, 0, 0) while the layers keep it; surface:
(1, 2, 1)), the LPs, the times and the ratios solid / surface.
Run: ``python benchmarks/solids.py [--n 8] [--m 2]``.
"""

import argparse
import time

import numpy as np

import polyrank as pr
from polyrank.train import mlp


def run(net, K):
    t0 = time.perf_counter()
    ref = pr.refine(net, K)
    t1 = time.perf_counter()
    df = pr.topology_flow(net, K)
    t2 = time.perf_counter()
    return len(ref), t1 - t0, df, t2 - t1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="steps around the axis (even, default 8)")
    ap.add_argument("--m", type=int, default=2, help="voxels across the tube (default 2)")
    args = ap.parse_args(argv)
    net = pr.ReLUNetwork.from_torch(mlp(3, [16, 16], seed=0))
    solid = pr.solid_torus(args.n, args.m)
    F = solid.boundary()
    used, inv = np.unique(F, return_inverse=True)
    surface = pr.SimplicialComplex(solid.vertices[used], inv.reshape(F.shape))
    rows = {}
    for name, K in (("solid", solid), ("surface", surface)):
        pieces, t_ref, df, t_flow = run(net, K)
        rows[name] = (t_ref, t_flow)
        print(f"{name}: {len(K)} simplices -> {pieces} pieces; refine {t_ref:.2f} s, topology_flow {t_flow:.2f} s")
        print(df[["layer", "betti", "n_pieces", "n_dirty", "n_lps", "seconds"]].to_string(index=False))
    print(f"ratio solid / surface: refine {rows['solid'][0] / rows['surface'][0]:.1f}x, "
          f"topology_flow {rows['solid'][1] / rows['surface'][1]:.1f}x")


if __name__ == "__main__":
    main()
