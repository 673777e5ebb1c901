"""Benchmark: the paper's Fig. 2A sweep (6 x 6 widths x N networks), sampled and exact.

Prints seconds for
  1. the sampled sweep on a local process pool (polyrank: unique patterns + batched SVD),
  2. the same sampled estimate with a naive per-point loop (np.linalg.matrix_rank per point),
     on a subset of networks, serially, with polyrank timed on that same subset for the ratio,
  3. the exact MILP sweep (polyrank.min_rank), on a subset of networks per cell.

Usage: python benchmarks/fig2.py [--networks 100] [--baseline-networks 2] [--milp-networks 2]
       [--workers 2] [--repeat 2]      (--milp-networks 0 skips the exact sweep)
"""

import argparse
import time

import numpy as np

from polyrank.experiments import fig2
from polyrank.experiments._sweep import spawn_seeds
from polyrank import init
from polyrank.domain import Box


def naive_min_rank(net, X):
    """The paper's method written plainly: one forward pass and one SVD per point."""
    W, b = net.weights[0], net.biases[0]
    best = None
    for x in X:
        active = (W @ x + b) > 0
        r = np.linalg.matrix_rank(W[active]) if active.any() else 0
        best = r if best is None else min(best, r)
    return best


def baseline_sweep(n_networks, n_samples, seed):
    out = []
    for (d, n), ss in zip([(d, n) for d in fig2.WIDTHS for n in fig2.WIDTHS for _ in range(n_networks)],
                          spawn_seeds(seed, 36 * n_networks)):
        rng = np.random.default_rng(ss)
        net = init.default(d, n, seed=rng)
        out.append(naive_min_rank(net, Box(-5.0, 5.0, dim=d).sample(n_samples, seed=rng)))
    return out


def best_of(repeat, f):
    times, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = f()
        times.append(time.perf_counter() - t0)
    return min(times), res


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--networks", type=int, default=100)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--baseline-networks", type=int, default=2)
    p.add_argument("--milp-networks", type=int, default=2)
    p.add_argument("--milp-time-limit", type=float, default=60.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args()
    for name in ("networks", "samples", "baseline_networks", "workers", "repeat"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")

    t, df = best_of(a.repeat, lambda: fig2.panel_a(a.networks, a.samples, exact=False, n_workers=a.workers))
    print(f"sampled Fig 2A sweep, 36 x {a.networks} networks x {a.samples} points, {a.workers} workers: "
          f"{t:.1f} s (best of {a.repeat})")

    nb = a.baseline_networks
    tb, base = best_of(1, lambda: baseline_sweep(nb, a.samples, 1))
    tp, ours = best_of(a.repeat, lambda: fig2.panel_a(nb, a.samples, exact=False, n_workers=1, seed=1))
    assert list(ours.sampled_min_rank) == base, "polyrank and the naive loop disagree"
    print(f"sampled, 36 x {nb} networks, 1 process: naive per-point loop {tb:.2f} s, polyrank {tp:.2f} s, "
          f"ratio {tb / tp:.1f}x (identical minimum ranks)")

    nm = a.milp_networks
    if nm <= 0:  # --milp-networks 0: skip the exact sweep
        return
    t0 = time.perf_counter()
    dm = fig2.panel_a(nm, a.samples, exact=True, n_workers=a.workers, seed=2, time_limit=a.milp_time_limit)
    tm = time.perf_counter() - t0
    per = dm.groupby(["input_dim", "width"]).seconds_exact.mean().unstack()
    print(f"exact MILP Fig 2A sweep, 36 x {nm} networks, {a.workers} workers: {tm:.1f} s "
          f"(extrapolated to 36 x {a.networks}: {tm * a.networks / nm / 60:.0f} min)")
    print("mean MILP seconds per network (rows: input dim d, columns: width n):")
    print(per.round(2).to_string())
    print(f"proven exact: {int(dm.min_exact.sum())} of {len(dm)}; statuses: "
          f"{dm.min_status.value_counts().to_dict()}; sampling overestimated the exact minimum rank for "
          f"{int(dm.sampled_over.sum())} of {len(dm)} networks")
    s = fig2.overestimate_summary(dm)
    print(s[s.over > 0][["input_dim", "width", "networks", "over", "sampled_mean", "exact_mean"]].to_string())


if __name__ == "__main__":
    main()
