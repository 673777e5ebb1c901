"""Benchmark of tiled enumeration to Parquet (``pr.write_regions``) against untiled enumeration.

Networks: the trained classifiers of the follow-up paper (KBeshkov/QuotientHomology, MIT), read from ``$POLYRANK_NAITZAT/models`` (default: a sibling checkout of the shared data)
(3 inputs, 15 x 9 hidden units; the script skips when they are absent), over [-1, 1]^3.
Every configuration runs in a forked child, so each peak RSS is its own. Per model it prints

* ``untiled``: ``enumerate_regions`` alone (the engine; no Python Region objects);
* ``untiled+regions``: the same plus ``dec.regions`` and their volumes (the per-region
  data a store holds: witness, inradius, facets, volume), i.e. what the store replaces;
* ``tiled 1 core``: ``write_regions(tiles=T, n_workers=1)`` (enumerate, volumes, Parquet,
  hash-partitioned merge), and the ratio to both untiled runs;
* ``tiled 2 workers``: the same on a local pool of 2 processes, and the speed-up.

``--d2`` runs the D-II-2 model 0 (3-25x9, more than 7 million regions) on a 2-worker
``LocalCluster`` with a 4 GiB memory limit per worker and reports regions, wall time and
peak RSS of the workers and of the client.

    python benchmarks/tiling.py                         # D-III model 0
    python benchmarks/tiling.py --models D-II_model_0   # 1.2 million regions
    python benchmarks/tiling.py --d2 --no-models        # the D-II-2 run (long)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import polyrank as pr

MODELS = Path(os.environ.get("POLYRANK_NAITZAT", Path(__file__).resolve().parents[2] / "shared" / "data" / "naitzat")) / "models"


def load(name):
    import torch

    sd = torch.load(MODELS / f"{name}.pth", map_location="cpu")
    W = [v.double().numpy() for k, v in sd.items() if k.endswith("weight")]
    b = [v.double().numpy() for k, v in sd.items() if k.endswith("bias")]
    return pr.ReLUNetwork.from_weights(W[:-1], b[:-1], readout=(W[-1], b[-1]))


def _child(conn, what, name, tiles, out):
    net = load(name)
    dom = pr.Box(-1.0, 1.0, dim=3)
    t0 = time.perf_counter()
    if what == "untiled":
        n = len(pr.enumerate_regions(net, dom))
    elif what == "untiled+regions":
        dec = pr.enumerate_regions(net, dom)
        n = len(dec.regions)
        pr.tiling.region_volumes(dec.regions)
    else:
        workers = 1 if what == "tiled1" else 2
        n = pr.write_regions(net, dom, out, tiles=tiles, n_workers=workers, progress=False, overwrite=True).n_regions
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    conn.send((n, dt, rss, kids))


def run(what, name, tiles, out):
    a, b = mp.Pipe()
    p = mp.get_context("fork").Process(target=_child, args=(b, what, name, tiles, out))
    p.start()
    res = a.recv()
    p.join()
    return res


def bench_model(name, tiles, out):
    print(f"\n{name}: [-1, 1]^3, {tiles} tiles (load average {os.getloadavg()[0]:.1f})")
    run("untiled", name, tiles, out)  # warm numba caches and the page cache
    rows = {}
    for what in ("untiled", "untiled+regions", "tiled1", "tiled2"):
        n, dt, rss, kids = run(what, name, tiles, out)
        rows[what] = dt
        print(f"  {what:16s} {n:>9d} regions  {dt:8.2f} s   peak RSS {rss / 2**20:7.0f} MiB"
              + (f" (pool workers {kids / 2**20:.0f} MiB)" if what == "tiled2" else ""))
    print(f"  tiled 1 core / untiled engine:         {rows['tiled1'] / rows['untiled']:.2f}x")
    print(f"  tiled 1 core / untiled + Region data:  {rows['tiled1'] / rows['untiled+regions']:.2f}x")
    print(f"  speed-up of 2 workers over 1:          {rows['tiled1'] / rows['tiled2']:.2f}x")


def bench_d2(out, max_memory, memory_limit):
    from dask.distributed import Client, LocalCluster

    net = load("D-II-2_model_0")
    dom = pr.Box(-1.0, 1.0, dim=3)
    print(f"\nD-II-2 model 0 (3-25x9), [-1, 1]^3 on a LocalCluster of 2 workers x {memory_limit} "
          f"(load average {os.getloadavg()[0]:.1f})")
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=memory_limit, dashboard_address=None) as c, \
            Client(c) as client:
        st = pr.write_regions(net, dom, out, client=client, max_memory=max_memory, progress=True, overwrite=True)
    dt = time.perf_counter() - t0
    s = st.stats
    print(f"  regions {st.n_regions}  tiles {st._meta['n_tiles']}  pieces {s['n_pieces']}  wall {dt:.0f} s "
          f"(tiles {s['tile_seconds']:.0f} s, merge {s['merge_seconds']:.0f} s)")
    print(f"  peak RSS: worker (tiles) {s['peak_rss_tiles'] / 2**20:.0f} MiB, worker (merge) "
          f"{s['peak_rss_merge'] / 2**20:.0f} MiB, client {s['peak_rss_client'] / 2**20:.0f} MiB")
    print(f"  rank histogram (layer 9): {st.rank_histogram()}")
    print(f"  total volume {st.total_volume():.12f} (domain 8)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="*", default=["D-III_model_0"])
    ap.add_argument("--no-models", action="store_true")
    ap.add_argument("--tiles", type=int, default=4)
    ap.add_argument("--d2", action="store_true")
    ap.add_argument("--max-memory", type=float, default=0.75, help="GiB per tile in --d2 (default 0.75)")
    ap.add_argument("--out", default=None, help="where the stores go (default a temporary directory)")
    args = ap.parse_args()
    if not MODELS.exists():
        print(f"no models at {MODELS}; nothing to do")
        return
    base = args.out or tempfile.mkdtemp(prefix="polyrank-tiling-")
    try:
        if not args.no_models:
            for name in args.models:
                bench_model(name, args.tiles, os.path.join(base, name))
        if args.d2:
            bench_d2(os.path.join(base, "d2"), int(args.max_memory * 2**30), "4GiB")
    finally:
        if args.out is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
