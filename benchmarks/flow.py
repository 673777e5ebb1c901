"""Benchmark: one class manifold of D-II through a trained 15 x 9 classifier, all 9 layers.

The classifier is the follow-up paper's D-II model 0 (shipped, ``pr.data.load_naitzat_model``);
the class is D-II's class 0, nine core circles (``flow.class_manifold``). polyrank's
``flow.layer_flow`` runs ``pr.image_homology`` per layer and, once an image lies on a line,
the union of intervals and the deeper layers on that union of segments. The baseline is
``pr.image_homology`` on the mesh at every layer (``collapse=False``), each layer under the
same time limit: a layer over the limit is reported as such. The script prints, per layer,
both times, the candidate counts and where the baseline's time goes, and the ratio of the
totals over the layers both finished.

    python benchmarks/flow.py [--spacing 0.03] [--time-limit 120] [--family D-II] [--label 0]

Goal (issue 17): all 9 layers in under 60 s on the 2-core CI machine.
"""

from __future__ import annotations

import argparse
import time


def bench_flow(family="D-II", label=0, spacing=None, time_limit=120.0, rings="circle"):
    from polyrank.data import NAITZAT_FAMILIES, load_naitzat_model
    from polyrank.experiments import flow

    dataset = NAITZAT_FAMILIES[family][0]
    net = load_naitzat_model(family)
    K = flow.class_manifold(dataset, label, spacing=spacing, rings=rings)
    t0 = time.perf_counter()
    fast = flow.layer_flow(net, K, time_limit=time_limit, rips_sample=100)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = flow.layer_flow(net, K, time_limit=time_limit, rips_sample=100, collapse=False)
    t_base = time.perf_counter() - t0
    print(f"{family} model 0 ({'x'.join(map(str, net.widths[:1]))} x {net.n_layers}), {dataset} class {label}: "
          f"{K.n_vertices} vertices, {len(K)} simplices")
    q = K.dim
    both = 0.0, 0.0
    for (_, f), (_, b) in zip(fast.iterrows(), base.iterrows()):
        fb = tuple(f[f"b{k}"] for k in range(q + 1))
        bb = tuple(b[f"b{k}"] for k in range(q + 1))
        print(f"  layer {int(f['layer'])}: polyrank {fb} {f['seconds']:7.2f} s ({f['method']}, {f['status']})   "
              f"baseline {bb} {b['seconds']:7.2f} s ({b['status']}, LPs {b['n_lps']}, overlaps {b['n_overlaps']})")
        if f["status"] == b["status"] == "exact":
            assert fb == bb, "the two exact routes disagree"
            both = both[0] + f["seconds"], both[1] + b["seconds"]
    print(f"all layers: polyrank {fast['seconds'].sum():.1f} s (wall {t_fast:.1f} s incl. Rips), "
          f"baseline {base['seconds'].sum():.1f} s (wall {t_base:.1f} s), "
          f"{int((base['status'] != 'exact').sum())} baseline layer(s) over the {time_limit:g} s limit")
    if both[0] > 0:
        print(f"layers both finished: ratio baseline / polyrank = {both[1] / both[0]:.1f}x")
    return fast, base


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--family", default="D-II")
    p.add_argument("--label", type=int, default=0)
    p.add_argument("--spacing", type=float, default=None)
    p.add_argument("--time-limit", type=float, default=120.0)
    p.add_argument("--rings", default="circle", choices=("circle", "torus"))
    args = p.parse_args(argv)
    bench_flow(args.family, args.label, args.spacing, args.time_limit, args.rings)


if __name__ == "__main__":
    main()
