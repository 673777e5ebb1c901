"""Benchmark: ranks of all 4 hidden layers of the paper's MNIST MLP at many points.

polyrank.ranks_at versus a per-point loop (per point: walk the layers multiplying the
masked weight matrices ``D_K W_K ... D_1 W_1`` in float64, then
``torch.linalg.matrix_rank`` with the same threshold rule), in the same run. The
loop is timed on a subset of the points (it takes seconds per point) and its ranks are
checked against polyrank's on that subset. Prints points/s for both and the ratio.

    python benchmarks/ranks.py [--points 1000] [--baseline-points 8] [--layers 1,2,3,4] [--device cpu] [--repeats 1]

Network: 784-2000-1000-500-100(-10) with PyTorch's default initialisation (seed 0),
as in the paper's Fig. 3 before training. Inputs: uniform noise in [0, 1]^784 (the
pixel range) and, with --data-dir, MNIST test images.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import polyrank as pr
from polyrank.train import mlp

WIDTHS = (2000, 1000, 500, 100)


def baseline_ranks(net, X, layers, device="cpu"):
    """The per-point loop: masked products from the input end, then torch.linalg.matrix_rank
    at the requested layers (on ``device``)."""
    Ws = [torch.as_tensor(np.array(W), device=device) for W in net.weights]
    bs = [torch.as_tensor(np.array(b), device=device) for b in net.biases]
    d = net.input_dim
    eps = torch.finfo(torch.float64).eps
    out = np.zeros((len(X), len(layers)), dtype=np.int64)
    for i, x in enumerate(torch.as_tensor(X, device=device)):
        h, M, prev_mask = x, None, None
        for K, (W, b) in enumerate(zip(Ws, bs)):
            z = W @ h + b
            mask = z > 0
            h = torch.relu(z)
            M = W.clone() if M is None else W @ (prev_mask[:, None] * M)
            if K + 1 in layers:
                A = mask[:, None] * M
                c = int(mask.sum())
                out[i, layers.index(K + 1)] = int(torch.linalg.matrix_rank(A, rtol=max(c, d) * eps)) if c else 0
            prev_mask = mask
            if K + 1 == max(layers):
                break
    return out


def best_time(fn, repeats):
    best, res = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t)
    return best, res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=1000)
    p.add_argument("--baseline-points", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=1, help="repeat each timing, report the best")
    p.add_argument("--layers", default="1,2,3,4", help="hidden layers to rank (default all four)")
    p.add_argument("--data-dir", default=None, help="use MNIST test images from this folder instead of noise")
    args = p.parse_args(argv)
    layers = [int(k) for k in args.layers.split(",")]

    net = pr.as_network(mlp(784, WIDTHS, 10, seed=0))
    if args.data_dir:
        X = pr.data.load_mnist(args.data_dir, kind="test")[0][: args.points]
        what = "MNIST test images"
    else:
        X = np.random.default_rng(0).uniform(0.0, 1.0, size=(args.points, 784))
        what = "uniform noise in [0,1]^784"
    print(f"network 784-{'-'.join(map(str, WIDTHS))}-10 (PyTorch default init, seed 0); {len(X)} points, {what}; "
          f"torch threads {torch.get_num_threads()}, device {args.device}")

    print(f"layers {layers}")
    pr.ranks_at(net, X[:4], layers, device=args.device)  # warm-up (sketch, allocator)
    t_pr, R = best_time(lambda: pr.ranks_at(net, X, layers, device=args.device), args.repeats)
    nb = min(args.baseline_points, len(X))
    t_bl, Rb = best_time(lambda: baseline_ranks(net, X[:nb], layers, args.device), args.repeats)
    pps_pr, pps_bl = len(X) / t_pr, nb / t_bl
    agree = bool(np.array_equal(R[:nb], Rb))
    sizes = pr.codeword_sizes_at(net, X, layers)
    print(f"mean codeword sizes per layer: {np.round(sizes.mean(0), 2).tolist()}")
    print(f"mean ranks per layer:          {np.round(R.mean(0), 2).tolist()}")
    print(f"polyrank.ranks_at : {len(X):5d} points in {t_pr:8.2f} s  = {pps_pr:9.2f} points/s")
    print(f"per-point loop    : {nb:5d} points in {t_bl:8.2f} s  = {pps_bl:9.3f} points/s")
    print(f"ratio             : {pps_pr / pps_bl:.1f}x   (ranks agree on the {nb} loop points: {agree})")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
