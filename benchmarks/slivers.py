"""Slivers and constant units on a real trained network (issue 19, item 8).

Network: a trained classifier of the follow-up paper (KBeshkov/QuotientHomology, MIT), read from
``$POLYRANK_NAITZAT/models`` (default: a sibling checkout of the shared data; the script skips
when it is absent), over its data box ([-10, 10]^2 for D-I, [-1, 1]^3 otherwise). It prints

* the subdivision engine at the default ``tol`` (1e-9): regions, cells of the final complex,
  regions dropped as thinner than ``tol`` (``dec.n_dropped``), the smallest dropped radius and
  the precision notes;
* the same at ``tol=1e-10`` (the engines' float64 floor): the dropped cells come back as regions
  (``regions(1e-10) == regions(1e-9) + n_dropped(1e-9)`` when nothing is thinner than 1e-10);
* the convention for the bits of constant units, checked on every region: a unit whose
  pre-activation is constant on a region (its gradient row ``G_l`` is below the engines'
  threshold, e.g. every input unit of the layer is off) has bit ``[constant > zc_l]``, its
  constant read off the pattern (``c_l = W_l D_{l-1} c_{l-1} + b_l``): an identically zero
  unit (within the rounding ``zc_l`` of ``_numerics.zero_thresholds``) has bit 0. The script
  counts the regions that have such units (the bits another tool may set differently: at a
  sample point, or only for units that cut a cell), checks that every reported bit follows the
  rule, and that units behind an all-off layer (an exactly zero gradient, their constant
  computed as the forward pass does) have the forward pass's bit.

    python benchmarks/slivers.py                        # D-II model 0: 1.2 million regions
    python benchmarks/slivers.py --model D-I_model_0    # 8 468 regions, seconds
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import warnings
from pathlib import Path

import numpy as np

import polyrank as pr
from polyrank._numerics import local_network, zero_thresholds

MODELS = Path(os.environ.get("POLYRANK_NAITZAT", Path(__file__).resolve().parents[2] / "shared" / "data" / "naitzat")) / "models"


def load(name):
    import torch

    sd = torch.load(MODELS / f"{name}.pth", map_location="cpu")
    W = [v.double().numpy() for k, v in sd.items() if k.endswith("weight")]
    b = [v.double().numpy() for k, v in sd.items() if k.endswith("bias")]
    return pr.ReLUNetwork.from_weights(W[:-1], b[:-1], readout=(W[-1], b[-1]))


def run(net, box, tol):
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dec = pr.enumerate_regions(net, box, method="subdivision", tol=tol, max_regions=10 ** 7)
    sec = time.perf_counter() - t0
    n_warn = sum(issubclass(w.category, pr.PrecisionWarning) for w in caught)
    print(f"tol={tol:g}: {len(dec)} regions, {dec.stats['n_cells']} cells, n_dropped={dec.n_dropped}, "
          f"precision_limited={dec.precision_limited}, PrecisionWarnings={n_warn}, {sec:.1f} s")
    for note in dec.stats["precision_notes"]:
        print("   note:", note)
    return dec


def constant_units(net, box, P, chunk=100_000):
    """Per region: the number of constant units, of identically zero units, of bits that break
    the rule ``[constant > zc]``, and of bits of units with an exactly zero gradient (behind an
    all-off layer) that differ from the forward pass's ``[constant > 0]``."""
    lo, hi = box.bounding_box()
    # the network the engines enumerate (local frame, scaled units) and their thresholds
    sn = local_network(net, net.n_layers, box.center, float(np.max(hi - lo)))
    zg, zc = zero_thresholds(sn, sn.n_layers)
    off = sn.offsets
    n_const = np.zeros(len(P), np.int64)
    n_zero = np.zeros(len(P), np.int64)
    n_bad = np.zeros(len(P), np.int64)
    n_fwd = np.zeros(len(P), np.int64)
    for s in range(0, len(P), chunk):
        p = P[s: s + chunk]
        G = np.broadcast_to(sn.weights[0], (len(p),) + sn.weights[0].shape)
        c = np.broadcast_to(sn.biases[0], (len(p), len(sn.biases[0])))
        for l in range(sn.n_layers):
            if l:
                D = p[:, off[l - 1]: off[l]]
                G = np.einsum("ij,njk->nik", sn.weights[l], G * D[..., None])
                c = (c * D) @ sn.weights[l].T + sn.biases[l]
            bits = p[:, off[l]: off[l + 1]]
            const = np.linalg.norm(G, axis=2) <= zg[l]
            zero = const & (np.abs(c) <= zc[l])
            rule = np.where(zero, False, c > 0)
            n_const[s: s + chunk] += const.sum(1)
            n_zero[s: s + chunk] += zero.sum(1)
            n_bad[s: s + chunk] += (const & (bits != rule)).sum(1)
            exact = np.all(G == 0, axis=2)  # then c is what the forward pass computes
            n_fwd[s: s + chunk] += (exact & (bits != (c > 0)) & (np.abs(c) > zc[l])).sum(1)
    return n_const, n_zero, n_bad, n_fwd


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="D-II_model_0")
    args = ap.parse_args()
    if not (MODELS / f"{args.model}.pth").exists():
        print(f"skipped: {MODELS / args.model}.pth is absent (set POLYRANK_NAITZAT)")
        return
    net = load(args.model)
    box = pr.Box(-10.0, 10.0, dim=2) if net.input_dim == 2 else pr.Box(-1.0, 1.0, dim=3)
    print(f"{args.model}: {net}, {box}")
    a = run(net, box, pr.DEFAULT_TOL)
    P = a.patterns
    del a
    b = run(net, box, 1e-10)
    print(f"regions(1e-10) - regions(1e-9) = {len(b)} - {len(P)} = {len(b) - len(P)}")
    kb = {p.tobytes() for p in np.packbits(b.patterns, axis=1)}
    ka = {p.tobytes() for p in np.packbits(P, axis=1)}
    print(f"patterns at 1e-9 missing at 1e-10: {len(ka - kb)}; new at 1e-10: {len(kb - ka)}")
    del b
    n_const, n_zero, n_bad, n_fwd = constant_units(net, box, P)
    print(f"constant units: {int(n_const.sum())} in {int((n_const > 0).sum())} of {len(P)} regions; "
          f"identically zero: {int(n_zero.sum())} in {int((n_zero > 0).sum())} regions; "
          f"bits breaking the rule [constant > zc]: {int(n_bad.sum())}; bits of units behind an all-off "
          f"layer that differ from the forward pass: {int(n_fwd.sum())} in {int((n_fwd > 0).sum())} regions")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
