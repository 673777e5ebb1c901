"""Benchmark of tiled enumeration to Parquet (``pr.write_regions``) against untiled enumeration.

Networks: the trained classifiers of the follow-up paper (KBeshkov/QuotientHomology, MIT;
3 inputs), over [-1, 1]^3: ``--model D-III`` (a shipped model 0, ``pr.data.load_naitzat_model``;
D-II and D-III are the 3-15x9 ones) or the path of a PyTorch ``state_dict`` file.
Every configuration runs in a forked child, so each peak RSS is its own.

Default mode, per model, side by side (``--repeat R`` rounds), each run in a forked child
with its wall and CPU seconds (user + system, pool workers included) and the load average:

* ``untiled``: ``enumerate_regions`` alone (the engine, with its adjacency pass; no Python
  Region objects), pinned to one core;
* ``untiled-no-edges``: the engine without the adjacency pass (``edges=False``, what a
  tile runs), pinned to one core;
* ``tiled1``: ``write_regions(tiles=T, n_workers=1)`` (enumerate, volumes, Parquet,
  hash-partitioned merge) pinned to one core, and its ratio to both untiled runs;
* ``tiled2``: the same on a local pool of 2 workers (a thread of this process and a
  worker process; unpinned), and the speed-up over ``tiled1``; since the machine may be
  shared, also the CPU seconds of both processes and the speed-up they imply on 2 idle
  cores (``tiled1``'s CPU over the larger of the two; and over half their sum, the bound
  of a perfect balance: the tiles go to whichever process is free first, so on a loaded
  machine the process that gets more of the cores runs more of them);
* ``tiled2-spawn``: ``tiled2`` with its worker process spawned
  (``store.POOL_START_METHOD = "spawn"``: it imports polyrank and loads the compiled
  kernels itself, as before the pool forked it); not in the default ``--configs``.

``--d2``: one run of ``write_regions`` on a 2-worker ``LocalCluster`` with a memory limit
per worker (default 4 GiB; ``--pool`` uses the local process pool instead), for the D-II-2
model (3-25x9, more than 10 million regions); it reports regions, wall time, tiles split
for memory, peak RSS per worker and on the client.

``--check-layer K``: the tiled store of layers 1..K, with a small ``--max-memory`` so that
tiles are split, against the untiled engine (count, rank histograms, pattern sets).

``--balance``: pieces per tile of ``tiles="auto"`` against a k-d split into as many tiles
balanced by distinct sampled patterns (the planner before the density estimate).

``--piece-memory``: one tile's piece table (``polyrank.tiling._pieces``) of layers 1..K
(``--layers``), read off the engine's arrays and read off the ``Region`` objects (built for
it): ``tracemalloc`` peak above the finished Decomposition, per piece, and the seconds; and
the peak RSS of the whole tile (engine and pieces) over the process's start, per piece.

``--bytes-per-cell``: the subdivision engine alone on layers 1..K (``--layers``), peak RSS
minus the RSS before the run, divided by the cells after layer K (the widest layer);
``--random 3-16-16-16`` adds a PyTorch default-init network over [-10, 10]^d (all layers).

    python benchmarks/tiling.py --model D-III --model D-II --repeat 3
    python benchmarks/tiling.py --model D-II --tiles 8 --configs tiled1,tiled2
    python benchmarks/tiling.py --d2 --model DATA/models/D-II-2_model_0.pth --max-memory 1.5
    python benchmarks/tiling.py --bytes-per-cell --model D-II-2 --layers 4,5,6 --random 3-16-16-16
    python benchmarks/tiling.py --piece-memory --model D-III --layers 5,9
    python benchmarks/tiling.py --balance --max-memory 0.1 --model DATA/models/D-III_model_0.pth
    python benchmarks/tiling.py --check-layer 5 --max-memory 0.25 --model DATA/models/D-II-2_model_0.pth

(``DATA``: a copy of the paper's data; nothing is read unless given.)
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


def load(path):
    if path in pr.data.NAITZAT_FAMILIES:  # a shipped model: "D-II-2", ...
        return pr.data.load_naitzat_model(path)
    import torch

    sd = torch.load(path, map_location="cpu")
    W = [v.double().numpy() for k, v in sd.items() if k.endswith("weight")]
    b = [v.double().numpy() for k, v in sd.items() if k.endswith("bias")]
    return pr.ReLUNetwork.from_weights(W[:-1], b[:-1], readout=(W[-1], b[-1]))


def _rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _cpu_seconds():
    """User + system seconds of this process and its waited-for children (pool workers)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def _child(conn, what, path, tiles, out, layer, cpu=None):
    if cpu is not None:  # one core: the engine's threads (n_threads reads the affinity) and all
        os.sched_setaffinity(0, {cpu})
    if path.startswith("random:"):  # a PyTorch default-init network over [-10, 10]^d
        dims = [int(w) for w in path[7:].split("-")]
        net = pr.ReLUNetwork.from_torch(pr.train.mlp(dims[0], dims[1:], seed=0))
        dom = pr.Box(-10.0, 10.0, dim=dims[0])
    else:
        net = load(path)
        dom = pr.Box(-1.0, 1.0, dim=3)
    if what == "cells":  # warm the engine's compiled kernels, then measure one run
        pr.enumerate_regions(net, dom, layer=1, method="subdivision")
        base = _rss()
        t0 = time.perf_counter()
        n = len(pr.enumerate_regions(net, dom, layer=layer, method="subdivision", max_regions=10**9))
        dt = time.perf_counter() - t0
        conn.send((n, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, base))
        return
    def call(K, where):  # the configuration's work, on layers 1..K (None: all)
        if what == "untiled":
            return len(pr.enumerate_regions(net, dom, layer=K, max_regions=10**9)), None
        if what == "untiled-no-edges":  # the engine without its neighbour pass, as a tile runs it
            return len(pr.subdivision.enumerate_subdivision(net, dom, layer=K, edges=False, max_regions=10**9)), None
        if what == "untiled+regions":
            dec = pr.enumerate_regions(net, dom, layer=K, max_regions=10**9)
            pr.tiling.region_volumes(dec.regions)
            return len(dec.regions), None
        workers = 1 if what == "tiled1" or K is not None else 2
        if what == "tiled2-spawn":  # the pool's worker process spawned (imports polyrank), as before
            pr.store.POOL_START_METHOD = "spawn"
        st = pr.write_regions(net, dom, where, tiles=tiles, n_workers=workers, layer=K, progress=False,
                              overwrite=True)
        return st.n_regions, dict(tile_seconds=st.stats["tile_seconds"], merge_seconds=st.stats["merge_seconds"],
                                  split=st.stats["tiles_split"], pieces=st.stats["n_pieces"],
                                  start=st.stats.get("start_method"))

    call(2, (out or "") + "-warm")  # warm this process (compiled kernels, imports); a pool's workers start cold
    t0 = time.perf_counter()
    s0 = resource.getrusage(resource.RUSAGE_SELF)
    c0 = _cpu_seconds()
    n, extra = call(None, out)
    dt = time.perf_counter() - t0
    cpu_s = _cpu_seconds() - c0
    s1 = resource.getrusage(resource.RUSAGE_SELF)
    if extra is not None:
        extra["self_cpu"] = s1.ru_utime + s1.ru_stime - s0.ru_utime - s0.ru_stime
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    conn.send((n, dt, rss, kids, cpu_s, extra))


def run(what, path, tiles=None, out=None, layer=None, cpu=None):
    a, b = mp.Pipe()
    p = mp.get_context("fork").Process(target=_child, args=(b, what, path, tiles, out, layer, cpu))
    p.start()
    b.close()
    try:
        res = a.recv()
    except EOFError:
        raise SystemExit(f"the {what} run failed (see its traceback above)") from None
    p.join()
    return res


def bench_model(path, tiles, out, repeat=1, whats=("untiled", "untiled-no-edges", "tiled1", "tiled2")):
    """Side by side, each run in its own forked process: the untiled engine and the tiled
    store pinned to one core (``sched_setaffinity``: the engine's threads follow it), and
    the store on a local pool of 2 workers (unpinned: one engine thread each)."""
    cpu = sorted(os.sched_getaffinity(0))[-1]
    print(f"\n{Path(path).stem}: [-1, 1]^3, {tiles} tiles, one core = cpu {cpu} "
          f"(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")
    run("untiled", path, cpu=cpu)  # warm numba caches and the page cache
    rows = {w: [] for w in whats}
    cpu_t = {}
    for r in range(repeat):
        for what in whats:
            load = os.getloadavg()[0]
            n, dt, rss, kids, cpu_s, extra = run(what, path, tiles, out, cpu=None if what.startswith("tiled2") else cpu)
            rows[what].append(dt)
            cpu_t[what] = cpu_s
            more = ""
            if extra:
                more = (f"  [tiles {extra['tile_seconds']:.2f} s, merge {extra['merge_seconds']:.2f} s, "
                        f"{extra['pieces']} pieces, {extra['split']} split")
                if what.startswith("tiled2"):  # this process (a thread of the pool) and the worker process
                    w = cpu_s - extra["self_cpu"]
                    more += f"; CPU here {extra['self_cpu']:.2f} s, worker process ({extra['start']}) {w:.2f} s"
                    cpu_t[what + "-ideal"] = max(extra["self_cpu"], w)
                more += "]"
            print(f"  {what:16s} {n:>9d} regions  {dt:7.2f} s wall  {cpu_s:7.2f} s CPU  load {load:4.1f}  "
                  f"peak RSS {rss / 2**20:5.0f} MiB"
                  + (f" (workers {kids / 2**20:.0f} MiB)" if what.startswith("tiled2") else "")
                  + more, flush=True)
        t = {w: v[-1] for w, v in rows.items()}
        if "untiled" not in t or "untiled-no-edges" not in t:  # --configs without both: fewer ratios
            if "untiled" in t and "tiled1" in t:
                print(f"  round {r + 1}: tiled 1 core / untiled engine {t['tiled1'] / t['untiled']:.2f}x wall, "
                      f"{cpu_t['tiled1'] / cpu_t['untiled']:.2f}x CPU", flush=True)
            for w2 in ("tiled2", "tiled2-spawn"):
                if "tiled1" in t and w2 in t:
                    print(f"  round {r + 1}: {w2}: 2 workers speed-up over 1 core {t['tiled1'] / t[w2]:.2f}x; CPU: "
                          f"{cpu_t[w2] / cpu_t['tiled1']:.2f}x the CPU of 1, speed-up on 2 idle cores "
                          f"{cpu_t['tiled1'] / cpu_t[w2 + '-ideal']:.2f}x (the CPU split evenly: "
                          f"{2 * cpu_t['tiled1'] / cpu_t[w2]:.2f}x)", flush=True)
            continue
        print(f"  round {r + 1}: tiled 1 core / untiled engine {t['tiled1'] / t['untiled']:.2f}x, "
              f"/ engine without adjacency {t['tiled1'] / t['untiled-no-edges']:.2f}x; "
              f"2 workers speed-up over 1 core {t['tiled1'] / t['tiled2']:.2f}x", flush=True)
        print(f"  round {r + 1}, CPU seconds: tiled 1 core / untiled engine {cpu_t['tiled1'] / cpu_t['untiled']:.2f}x, "
              f"/ engine without adjacency {cpu_t['tiled1'] / cpu_t['untiled-no-edges']:.2f}x; 2 workers: "
              f"{cpu_t['tiled2'] / cpu_t['tiled1']:.2f}x the CPU of 1, speed-up on 2 idle cores (tiled1's CPU over "
              f"the larger CPU of the 2 processes) {cpu_t['tiled1'] / cpu_t['tiled2-ideal']:.2f}x", flush=True)
    if repeat > 1 and "untiled" in rows and "untiled-no-edges" in rows:
        med = {w: float(np.median(v)) for w, v in rows.items()}
        print(f"  median of {repeat}: tiled 1 core / untiled engine {med['tiled1'] / med['untiled']:.2f}x, "
              f"/ engine without adjacency {med['tiled1'] / med['untiled-no-edges']:.2f}x; "
              f"2 workers speed-up {med['tiled1'] / med['tiled2']:.2f}x")


def bench_bytes_per_cell(path, layers):
    where = "[-10, 10]^d, all layers" if path.startswith("random:") else "[-1, 1]^3"
    print(f"\n{Path(path).stem}: subdivision engine alone over {where} (load average {os.getloadavg()[0]:.1f})")
    for K in ([None] if path.startswith("random:") else layers):
        n, dt, peak, base = run("cells", path, layer=K)
        print(f"  layers 1..{K or 'all'}: {n:>9d} cells  {dt:7.1f} s  peak RSS {peak / 2**20:7.0f} MiB "
              f"(before the run {base / 2**20:.0f} MiB)  {(peak - base) / n:7.0f} bytes per cell")


def bench_check(path, out, K, max_memory):
    """write_regions(layer=K) on the local pool of 2 workers with a small max_memory (tiles are
    split for memory) against the untiled engine: counts, rank histograms, pattern sets."""
    net = load(path)
    dom = pr.Box(-1.0, 1.0, dim=3)
    print(f"\n{Path(path).stem}, layers 1..{K}: tiled (pool of 2, max_memory {max_memory / 2**20:.0f} MiB) "
          f"against untiled (load average {os.getloadavg()[0]:.1f})", flush=True)
    t0 = time.perf_counter()
    st = pr.write_regions(net, dom, out, layer=K, n_workers=2, max_memory=max_memory, progress=False)
    t_tiled = time.perf_counter() - t0
    reasons = {}
    for v in st._meta["split"].values():
        r = "estimate" if v["reason"].startswith("estimated") else v["reason"].split(":")[0].split(" (")[0]
        reasons[r] = reasons.get(r, 0) + 1
    t0 = time.perf_counter()
    dec = pr.enumerate_regions(net, dom, layer=K, method="subdivision", max_regions=10**9)
    t_untiled = time.perf_counter() - t0
    same_hist = all(st.rank_histogram(k) == dec.rank_histogram(k) for k in range(1, K + 1))
    a = np.unique(pr.pack_patterns(st.patterns()), axis=0)
    b = np.unique(pr.pack_patterns(dec.patterns), axis=0)
    same_patterns = a.shape == b.shape and bool(np.all(a == b))
    print(f"  tiled   {st.n_regions} regions, {st._meta['n_tiles']} tiles (split {st.stats['tiles_split']}: {reasons}),"
          f" {t_tiled:.0f} s, worker peak RSS {max(st.stats['peak_rss_workers'].values()) / 2**20:.0f} MiB")
    print(f"  untiled {len(dec)} regions, {t_untiled:.0f} s")
    print(f"  same count: {st.n_regions == len(dec)}, same rank histograms (layers 1..{K}): {same_hist}, "
          f"same pattern sets: {same_patterns}, total volume {st.total_volume():.12f} (domain 8)")


def _piece_child(conn, path, K, how, traced):
    import tracemalloc

    net = load(path)
    dom = pr.Box(-1.0, 1.0, dim=3)
    tile = pr.tile_domain(net, dom, tiles=1)[0]
    pr.tiling._pieces(net, pr.enumerate_regions(net, dom, layer=1, method="subdivision"), tile, 1)  # warm
    dec = pr.enumerate_regions(net, dom, layer=K, method="subdivision", max_regions=10**9)
    if traced:
        tracemalloc.start()
    t0 = time.perf_counter()
    if how == "regions":  # what a tile did before: the Region objects, then read them
        dec.regions = list(dec.regions)  # (reassigning drops the engine's arrays)
    p = pr.tiling._pieces(net, dec, tile, K)
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    conn.send((len(p["volume"]), dt, peak))


def _tile_rss_child(conn, path, K, how):
    net = load(path)
    dom = pr.Box(-1.0, 1.0, dim=3)
    tile = pr.tile_domain(net, dom, tiles=1)[0]
    list(pr.tiling.iter_tile_pieces(net, tile, layer=1))  # warm
    if how == "regions":  # the engine arrays unused: the Region path
        pr.tiling._PIECE_ARRAYS = pr.tiling._PIECE_ARRAYS + ("(none)",)
    base = _rss()
    n = sum(len(p["volume"]) for p in pr.tiling.iter_tile_pieces(net, tile, layer=K))
    conn.send((n, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base) / n))


def bench_piece_memory(path, layers):
    print(f"\n{Path(path).stem}: one tile's piece table over [-1, 1]^3 (load average {os.getloadavg()[0]:.1f}; "
          "seconds untraced, memory the tracemalloc peak in a second run)")
    for K in layers:
        res = {}
        for how in ("arrays", "regions"):
            out = []
            for traced in (False, True):
                a, b = mp.Pipe()
                p = mp.get_context("fork").Process(target=_piece_child, args=(b, path, K, how, traced))
                p.start()
                b.close()
                out.append(a.recv())
                p.join()
            res[how] = (out[0][0], out[0][1], out[1][2])
        for how in ("arrays", "regions"):
            a, b = mp.Pipe()
            p = mp.get_context("fork").Process(target=_tile_rss_child, args=(b, path, K, how))
            p.start()
            b.close()
            res[how] += (a.recv()[1],)
            p.join()
        n = res["arrays"][0]
        print(f"  layers 1..{K}: whole tile (iter_tile_pieces: engine, pieces) peak RSS over the start, per piece: "
              + ", ".join(f"{how} {r[3]:.0f} B" for how, r in res.items()))
        print(f"  layers 1..{K}: {n:>8d} pieces   "
              + "   ".join(f"{how}: {r[1]:6.2f} s, {r[2] / n:6.0f} B per piece" for how, r in res.items())
              + f"   time ratio {res['regions'][1] / res['arrays'][1]:.1f}x")


def bench_balance(path, max_memory):
    """Pieces per tile of tiles="auto" (adaptive k-d on the inverse-volume density estimate)
    against a k-d split into as many tiles balanced by distinct sampled patterns (the
    previous planner, still used for tiles=n)."""
    net = load(path)
    dom = pr.Box(-1.0, 1.0, dim=3)
    t0 = time.perf_counter()
    auto = pr.tile_domain(net, dom, tiles="auto", max_memory=max_memory, n_workers=2)
    t_plan = time.perf_counter() - t0
    old = pr.tile_domain(net, dom, tiles=len(auto))
    print(f"\n{Path(path).stem}: pieces per tile, max_memory {max_memory / 2**20:.0f} MiB "
          f"(budget {max_memory // pr.BYTES_PER_REGION} regions per tile; load average {os.getloadavg()[0]:.1f})")
    for name, tl in (("auto (density estimate)", auto), ("k-d by distinct patterns", old)):
        n = np.array([len(pr.enumerate_tile(net, t)["volume"]) for t in tl])
        print(f"  {name:26s} {len(tl):4d} tiles  pieces: total {n.sum()}, largest {n.max()}, "
              f"median {int(np.median(n))}, largest / mean {n.max() / n.mean():.2f}"
              + (f"  (planned in {t_plan:.1f} s)" if tl is auto else ""))


def bench_d2(path, out, max_memory, memory_limit, pool):
    net = load(path)
    dom = pr.Box(-1.0, 1.0, dim=3)
    where = "the local process pool (2 workers)" if pool else f"a LocalCluster of 2 workers x {memory_limit}"
    print(f"\n{Path(path).stem} ({net.input_dim}-{'x'.join(map(str, net.widths))}), [-1, 1]^3 on {where}, "
          f"max_memory {max_memory / 2**30:.2f} GiB (load average {os.getloadavg()[0]:.1f})", flush=True)
    t0 = time.perf_counter()
    if pool:
        st = pr.write_regions(net, dom, out, n_workers=2, max_memory=max_memory, progress=True)
    else:
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=memory_limit,
                          dashboard_address=None) as c, Client(c) as client:
            st = pr.write_regions(net, dom, out, client=client, max_memory=max_memory, progress=True)
    dt = time.perf_counter() - t0
    s = st.stats
    reasons = {}
    for v in st._meta["split"].values():
        r = v["reason"].split(":")[0].split(" (")[0]
        r = "estimate over the budget" if r.startswith("estimated") else r
        reasons[r] = reasons.get(r, 0) + 1
    print(f"  regions {st.n_regions}  pieces {s['n_pieces']} (largest tile {s['max_tile_pieces']})  "
          f"tiles {st._meta['n_tiles']} (split {s['tiles_split']}: {reasons}; skipped {s['tiles_skipped']})")
    print(f"  wall {dt:.0f} s (tiles {s['tile_seconds']:.0f} s, merge {s['merge_seconds']:.0f} s, "
          f"load average now {os.getloadavg()[0]:.1f})")
    per = ", ".join(f"{w}: {v / 2**20:.0f} MiB" for w, v in sorted(s["peak_rss_workers"].items()))
    print(f"  peak RSS per worker process (tiles): {per}")
    print(f"  peak RSS merge {s['peak_rss_merge'] / 2**20:.0f} MiB, client {s['peak_rss_client'] / 2**20:.0f} MiB")
    print(f"  rank histogram (layer {st.layer}): {st.rank_histogram()}")
    print(f"  total volume {st.total_volume():.12f} (domain 8)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", default=[],
                    help="path of a model state_dict (.pth), or the name of a shipped one (D-II-2, D-III, ...: "
                         "pr.data.load_naitzat_model); repeatable")
    ap.add_argument("--random", action="append", default=[],
                    help="with --bytes-per-cell: a PyTorch default-init network like 3-16-16-16 over "
                         "[-10, 10]^d (seed 0); repeatable")
    ap.add_argument("--tiles", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=1, help="rounds of the side-by-side runs (default mode)")
    ap.add_argument("--configs", default="untiled,untiled-no-edges,tiled1,tiled2",
                    help="the runs of the default mode (tiled1,tiled2: the speed-up only)")
    ap.add_argument("--d2", action="store_true", help="the LocalCluster run on the (first) --model")
    ap.add_argument("--pool", action="store_true", help="with --d2: the local process pool instead of Dask")
    ap.add_argument("--max-memory", type=float, default=1.5, help="GiB per tile in --d2 (default 1.5)")
    ap.add_argument("--memory-limit", default="4GiB", help="memory limit per Dask worker in --d2")
    ap.add_argument("--bytes-per-cell", action="store_true")
    ap.add_argument("--piece-memory", action="store_true",
                    help="one tile's piece table from the engine arrays against the Region objects (--layers)")
    ap.add_argument("--balance", action="store_true",
                    help="pieces per tile of tiles='auto' against the previous planner (--max-memory in GiB)")
    ap.add_argument("--check-layer", type=int, default=None,
                    help="compare a split-heavy tiled run of layers 1..K with the untiled engine "
                         "(--max-memory in GiB, e.g. 0.25)")
    ap.add_argument("--layers", default="4,5,6", help="layers K for --bytes-per-cell")
    ap.add_argument("--out", default=None, help="where the stores go (default a temporary directory); "
                                                "an unfinished --d2 run there is resumed")
    args = ap.parse_args()
    if not args.model and not (args.bytes_per_cell and args.random):
        ap.error("give at least one --model PATH (a .pth state_dict of the paper's classifiers, or D-II-2 ...)")
    for m in args.model:
        if not Path(m).is_file() and m not in pr.data.NAITZAT_FAMILIES:
            ap.error(f"--model {m!r}: no such file, and not one of {sorted(pr.data.NAITZAT_FAMILIES)}")
    base = args.out or tempfile.mkdtemp(prefix="polyrank-tiling-")
    try:
        if args.balance:
            for m in args.model:
                bench_balance(m, int(args.max_memory * 2**30))
        elif args.check_layer:
            bench_check(args.model[0], os.path.join(base, "check"), args.check_layer, int(args.max_memory * 2**30))
        elif args.piece_memory:
            for m in args.model:
                bench_piece_memory(m, [int(k) for k in args.layers.split(",")])
        elif args.bytes_per_cell:
            for m in args.model + ["random:" + r for r in args.random]:
                bench_bytes_per_cell(m, [int(k) for k in args.layers.split(",")])
        elif args.d2:
            bench_d2(args.model[0], os.path.join(base, "d2"), int(args.max_memory * 2**30), args.memory_limit,
                     args.pool)
        else:
            for m in args.model:
                bench_model(m, args.tiles, os.path.join(base, Path(m).stem), args.repeat,
                            tuple(args.configs.split(",")))
    finally:
        if args.out is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
