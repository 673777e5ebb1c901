"""Benchmark of region enumeration: LP engine vs a plain scipy baseline vs subdivision.

Networks: ``polyrank.train.mlp(d, widths, seed=0)``, hidden layers only.
For each case it prints regions, best-of-``--repeat`` seconds (runs of a few milliseconds:
best of as many as take ``SHORT_RUN_TOTAL`` seconds, for every tool), peak memory (the
subdivision engine: resident memory added by one run, measured in a forked child, in
MiB and bytes per region; the LP runs: not measured, NaN) and the ratios LP engine /
baseline and LP engine / subdivision, next to the published reference timings of
issues 2 and 3. The subdivision engine runs on one thread and on all cores
(``n_jobs``); it computes every number of the Decomposition; its Python Region objects
and edge list are built on first access, timed separately. In 2-D the Rust library
regioncam (float32; ``pip install regioncam``) runs on the same network in the same
process when it is installed, and the ratio polyrank / regioncam is printed, in wall-clock
time and in CPU time (``time.process_time``, best of ``--repeat``: on a loaded machine the
wall clock also counts the time a process waits for a core).

    python benchmarks/enumerate.py            # every case (the LP runs take long in 7-8-D)
    python benchmarks/enumerate.py --quick    # skip the slow LP and baseline runs
    python benchmarks/enumerate.py --only 2   # only the cases of input dimension 2
    python benchmarks/enumerate.py --crossover  # method="auto"'s crossover: ms per region, both engines

``--edge-subdivision DIR`` times Berzins' edge subdivision (ICML 2023, torch) side by side
on the cases of input dimension 3 and up that run (issue 15's goal: ``--only 3 4``). The peer is imported from ``DIR``, a checkout
of https://github.com/arturs-berzins/relu_edge_subdivision that the user names (its code
is never copied into polyrank). It runs on a torch copy of the same network (the
``ReLUNetwork``'s float64 weights; ``--edge-subdivision-dtype float32`` is the peer's own
precision, ``float64`` its code unchanged on a float64 model), and only its vertex/edge
computation is timed (``skeletal_subdivision``: it has no region extraction). Its vertex
and edge counts are checked against polyrank's ``dec.f_vector()`` (f_0, f_1), and the
ratio polyrank / peer is printed in wall clock and in CPU time, 1 thread and all cores
(``torch.set_num_threads`` / ``n_jobs``), best of ``--repeat`` each, in the same run. Over
all of R^d the peer needs a box: it gets polyrank's final box ``[-R, R]^d``
(``dec.stats["box_halfwidth"]``, which contains every vertex), given to it for free (polyrank's time
includes finding it), and only its vertices and edges not on that box are compared; polyrank
on that box as a bounded domain (the same work as the peer's) is timed too. Also printed:
polyrank's cutting stage alone (``_Run.run``, one thread, CPU: the cells with their
vertices and edges, what the peer computes), and the ratios with each tool at its best
thread count (torch's threads spin while other jobs hold the cores).

    python benchmarks/enumerate.py --edge-subdivision ~/src/relu_edge_subdivision --only 3 4

Page faults. The 2-D lines against regioncam also give each tool's minor page faults per
timed run: memory that glibc's allocator handed back to the OS (the top of its heap trimmed, or a large block
unmapped) and that the next run touches again, at roughly a microsecond per 4 KiB page.
regioncam's 2-D times are dominated by them in some processes and not in others (2-16-16-16:
~430 faults and 2.5 ms, or ~2 faults and 1.0-1.6 ms, from one network or process to the
next), so a comparison of the engines themselves needs ``--keep-heap``: glibc is asked
(``mallopt``) to keep freed memory mapped, for every tool of the run alike. ``--seeds K`` times both 2-D
tools on the networks of seeds 0..K-1 too (one network is one sample) and prints the ratio's
geometric mean.

    python benchmarks/enumerate.py --only 2 --quick --no-baseline --seeds 10 --keep-heap

``--crossover`` times, per region, the subdivision engine (one thread, the whole
decomposition) against the LP engine (its first ``--lp-regions`` regions, partial=True)
on the networks of ``CROSSOVER_CASES``, over boxes and over all of R^d, and prints which
engine ``method="auto"`` picks for each (``polyrank.subdivision.applies``).
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from collections import deque

import numpy as np

import polyrank as pr
from polyrank.train import mlp

#: (d, widths, box half-width or None for all of R^d)
CASES = [(2, (16, 16, 16), 10.0), (2, (32, 32, 32), 10.0), (2, (128, 128, 128), 10.0),
         (3, (16, 16, 16), 10.0), (3, (16, 16, 16), None), (4, (16, 16, 16), 10.0),
         (5, (16, 16), 0.5), (6, (16, 16), 0.5), (7, (16, 16), 0.15), (8, (16, 16), 0.1)]
#: ``--crossover`` cases: (d, widths, box half-width or None for all of R^d).
CROSSOVER_CASES = [(5, (8, 8), None), (6, (8, 8), None), (7, (8, 8), None), (7, (16,), None),
                   (8, (8, 8), None), (8, (16,), None), (9, (8,), None), (9, (12,), None), (10, (8,), None),
                   (10, (12,), None)]
#: Published reference timings (issue 3; seconds, regions): edge-subdivision tools, and the
#: Rust 2-D arrangement library (vertices and edges only, no regions).
PUBLISHED = {
    (2, (16, 16, 16), 10.0): (0.04, 1202, 0.004),
    (2, (32, 32, 32), 10.0): (0.15, 4705, 0.023),
    (3, (16, 16, 16), 10.0): (None, 14377, None),
    (3, (16, 16, 16), None): (1.05, 20295, None),
    (4, (16, 16, 16), 10.0): (6.1, 141333, None),
}
#: Cases where the LP engine is not run at all (hours).
NO_LP = {(2, (128, 128, 128), 10.0)}
#: Cases whose LP runs (engine and baseline) are skipped by --quick.
SLOW_LP = {(3, (16, 16, 16), 10.0), (3, (16, 16, 16), None), (4, (16, 16, 16), 10.0),
           (2, (32, 32, 32), 10.0), (6, (16, 16), 0.5), (7, (16, 16), 0.15), (8, (16, 16), 0.1)}
#: Cases where the scipy baseline is not run (it would take hours).
NO_BASELINE = {(2, (32, 32, 32), 10.0), (5, (16, 16), 0.5), (6, (16, 16), 0.5), (7, (16, 16), 0.15),
               (8, (16, 16), 0.1)}


# ---------------------------------------------------------------------------- regioncam
def regioncam_count(net, box):
    """Faces of the 2-D Rust library regioncam on ``[-box, box]^2`` (float32), or None when it
    is not installed. Only what it computes: vertices, edges and faces of the partition."""
    try:
        import regioncam
    except ImportError:
        return None
    rc = regioncam.Regioncam(size=box)
    for W, b in zip(net.weights, net.biases):
        rc.linear(np.asarray(W, dtype=np.float32).T.copy(), np.asarray(b, dtype=np.float32))
        rc.relu()
    return rc.num_faces


# ---------------------------------------------------------------------------- edge subdivision
def load_edge_subdivision(path):
    """Berzins' edge subdivision (modules ``NN`` and ``edge_subdivision``) imported from the
    user's checkout ``path`` of https://github.com/arturs-berzins/relu_edge_subdivision."""
    import importlib
    import sys

    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(os.path.join(path, "edge_subdivision.py")):
        raise SystemExit(f"--edge-subdivision: expected a checkout of relu_edge_subdivision (a folder with "
                         f"edge_subdivision.py and NN.py); got {path!r}")
    sys.path.insert(0, path)
    try:
        return importlib.import_module("NN"), importlib.import_module("edge_subdivision")
    except ImportError as exc:
        raise SystemExit(f"--edge-subdivision: could not import the tool from {path!r} ({exc}); it needs torch") from exc
    finally:
        sys.path.remove(path)


def edge_subdivision_model(NN, net, dtype):
    """The peer's ``Net`` (hidden layers only: every layer's units cut) with the float64
    weights of ``net`` in ``dtype``. In float64 its ``eval_block`` gets the inputs cast to
    float64 (the peer builds its box corners in float32; every later vertex is float64)."""
    import torch

    ks = [net.input_dim] + [len(b) for b in net.biases]
    if dtype == torch.float32:
        f = NN.Net(ks)
    else:
        class Net64(NN.Net):
            def eval_block(self, x, device="cpu"):
                return super().eval_block(x.to(torch.float64), device=device)

        f = Net64(ks)
    f = f.to(dtype)
    with torch.no_grad():
        for fc, W, b in zip(f.fcs, net.weights, net.biases):
            fc.weight.copy_(torch.tensor(np.array(W, dtype=np.float64)))
            fc.bias.copy_(torch.tensor(np.array(b, dtype=np.float64)))
    return f


def edge_subdivision_run(es, f, box, dtype):
    """The peer's vertices and edges of the network ``f`` on ``[-box, box]^d`` (its
    ``skeletal_subdivision``, CPU, no region extraction: there is none in its code)."""
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # its work arrays (torch.empty) take the default dtype
    try:
        with torch.no_grad():
            return es.skeletal_subdivision(f, bbox=(-box, box), device=torch.device("cpu"), verbose=False)
    finally:
        torch.set_default_dtype(old)


def edge_subdivision_counts(out, d, interior):
    """(vertices, edges) of the peer's output; with ``interior``, only those not on its box
    (over R^d: the bounded complex's vertices, and its edges, unbounded ones cut by the box)."""
    import torch

    vs, edges, v_sv = out
    if not interior:
        return len(vs), len(edges)
    box_sv = v_sv[:, : 2 * d].to(dtype=torch.int16)  # 0: on that box facet
    on_v = (box_sv == 0).any(1)
    on_e = ((box_sv[edges[:, 0]] + box_sv[edges[:, 1]]) == 0).any(1)
    return int((~on_v).sum()), int((~on_e).sum())


def edge_subdivision_compare(es_mods, net, dom_box, dec_by_nj, cpu, wall, repeat, dtypes, name):
    """Time the peer next to polyrank's timings (``wall``/``cpu`` per n_jobs) and print the
    ratios and the count check. ``dom_box``: the box half-width, or None for all of R^d."""
    import torch

    NN, es = es_mods
    d = net.input_dim
    dec = next(iter(dec_by_nj.values()))
    box = dom_box if dom_box else float(dec.stats["box_halfwidth"])
    f0, f1 = dec.f_vector()[:2]
    threads0 = torch.get_num_threads()
    # polyrank's cutting stage alone (the cells with their vertices and edges, what the peer
    # computes; not the facets, H-representations, neighbours and witnesses), one thread, CPU
    Run, stage = pr.subdivision._Run, []
    run0 = Run.run

    def timed_run(self, **kw):
        t = time.thread_time()
        try:
            return run0(self, **kw)
        finally:
            stage[-1] += time.thread_time() - t

    Run.run = timed_run
    try:
        for _ in range(repeat):
            stage.append(0.0)
            pr.enumerate_regions(net, None if dom_box is None else pr.Box(-dom_box, dom_box, dim=d),
                                 method="subdivision", n_jobs=1)
    finally:
        Run.run = run0
    cut_cpu = min(stage)
    same_box = {}  # over R^d: polyrank on the peer's box, the same work as the peer's
    if dom_box is None:
        import warnings

        for nj in sorted(dec_by_nj):
            # tol relative to this huge box would drop thin regions (and certify them by LP): 1e-12 keeps them
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bdec, bs, _ = measure(lambda: pr.enumerate_regions(net, pr.Box(-box, box, dim=d), tol=1e-12,
                                                                   method="subdivision", n_jobs=nj),
                                      repeat, memory=False)
            same_box[nj] = (bs, LAST_CPU, len(bdec))
    for dt_name in dtypes:
        dt = getattr(torch, dt_name)
        f = edge_subdivision_model(NN, net, dt)
        peer = {}
        for nj in sorted(dec_by_nj):
            torch.set_num_threads(nj)
            edge_subdivision_run(es, f, box, dt)  # warm-up (allocator, threads)
            out, s, _ = measure(lambda: edge_subdivision_run(es, f, box, dt), repeat, memory=False)
            c = LAST_CPU
            peer[nj] = (s, c)
            nv, ne = edge_subdivision_counts(out, d, dom_box is None)
            same = (nv, ne) == (f0, f1)
            print(f"{name:<22}edge subdivision {dt_name}, {nj} thread{'s' if nj > 1 else ''} "
                  f"(box {box:.6g}): {s:.3f} s (CPU {c:.3f} s); polyrank n_jobs={nj}: {wall[nj]:.3f} s "
                  f"(CPU {cpu[nj]:.3f} s); polyrank / peer wall {wall[nj] / s:.2f}x, CPU {cpu[nj] / c:.2f}x; "
                  f"vertices/edges peer {nv}/{ne}, polyrank f_0/f_1 {f0}/{f1}: "
                  f"{'identical' if same else 'DIFFER by %+d/%+d' % (nv - f0, ne - f1)}; "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
            if nj in same_box:
                bs, bc, bn = same_box[nj]
                print(f"{'':<22}  polyrank on the same box [-{box:.6g}, {box:.6g}]^{d} (tol=1e-12, {bn} regions), "
                      f"n_jobs={nj}: {bs:.3f} s (CPU {bc:.3f} s); / peer wall {bs / s:.2f}x, CPU {bc / c:.2f}x",
                      flush=True)
        print(f"{'':<22}  polyrank's cutting stage alone (_Run.run{', the box and the faces it was sized on' if dom_box is None else ''}), "
              f"1 thread: CPU {cut_cpu:.3f} s = {cut_cpu / peer[1][1]:.2f}x the peer's 1-thread CPU", flush=True)
        # each at its best thread count (torch's threads spin when the cores are busy)
        pw, pc = min(wall.values()), min(cpu.values())
        ew, ec = min(v[0] for v in peer.values()), min(v[1] for v in peer.values())
        print(f"{'':<22}  {dt_name}, each at its best thread count: polyrank / peer wall {pw / ew:.2f}x, "
              f"CPU {pc / ec:.2f}x", flush=True)
    torch.set_num_threads(threads0)


# ---------------------------------------------------------------------------- baseline
def baseline_lp(net, domain):
    """The straightforward LP traversal: BFS over patterns, one ``scipy.optimize.linprog``
    per Chebyshev centre and one per candidate facet (is the row's facet
    (d-1)-dimensional?), neighbour = the pattern with the facet's unit flipped."""
    from scipy.optimize import linprog

    d = net.input_dim
    Ad, bd = (np.asarray(domain.A), np.asarray(domain.b)) if domain is not None else (np.zeros((0, d)),
                                                                                        np.zeros(0))
    cap = 1e6

    def hrep(flat):
        rows, rhs = [], []
        for M, m in net.affine_maps(flat):
            rows.append(M)
            rhs.append(m)
        M, m = np.vstack(rows), np.concatenate(rhs)
        s = np.where(flat, 1.0, -1.0)
        A = np.vstack([-s[:, None] * M, Ad])
        b = np.concatenate([s * m, bd])
        nrm = np.linalg.norm(A, axis=1)
        ok = nrm > 1e-12
        return A[ok] / nrm[ok, None], b[ok] / nrm[ok], np.flatnonzero(ok)

    def cheb(A, b, eq=None):
        c = np.zeros(d + 1)
        c[-1] = -1.0
        Aub = np.hstack([A, np.ones((len(b), 1))])
        kw = {}
        if eq is not None:
            kw = dict(A_eq=np.append(A[eq], 0.0)[None, :], b_eq=[b[eq]])
            Aub = np.delete(Aub, eq, axis=0)
            b = np.delete(b, eq)
        res = linprog(c, A_ub=Aub, b_ub=b, bounds=[(None, None)] * d + [(0, cap)], method="highs", **kw)
        return (res.x[-1], res.x[:d]) if res.status == 0 else (0.0, None)

    x0 = domain.center if domain is not None else np.zeros(d)
    start = net.patterns(x0[None, :], flat=True)[0]
    seen = {start.tobytes()}
    queue, regions = deque([start]), 0
    n = net.n_neurons
    while queue:
        flat = queue.popleft()
        A, b, units = hrep(flat)
        r, _ = cheb(A, b)
        if r <= 1e-9:
            continue
        regions += 1
        for k, u in enumerate(units):
            if u >= n:
                continue
            rf, _ = cheb(A, b, eq=k)
            if rf <= 1e-9:
                continue
            nb = flat.copy()
            nb[u] = not nb[u]
            key = nb.tobytes()
            if key not in seen:
                seen.add(key)
                queue.append(nb)
    return regions


# ---------------------------------------------------------------------------- timing
#: Best CPU seconds (``time.process_time``, all threads of the process) of the last :func:`measure`.
LAST_CPU = float("nan")
#: Minor page faults per timed run of the last :func:`measure` (memory the allocator had handed
#: back to the OS and that the run touched again; NaN without the ``resource`` module).
LAST_FAULTS = float("nan")


def _minor_faults():
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def keep_heap():
    """Ask glibc's allocator to keep freed memory mapped (no trimming of the heap's top, no
    mmap for large blocks), so that no tool's timing counts page faults for memory a previous
    run freed. Both tools then run as they would in a process whose heap is already large.
    Returns whether glibc accepted it (False elsewhere)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
    return all(mallopt(k, v) == 1 for k, v in ((M_TRIM_THRESHOLD, 2 ** 31 - 1), (M_TOP_PAD, 64 << 20),
                                                (M_MMAP_MAX, 0)))


#: Runs shorter than this many seconds are repeated until they took about this long in all
#: (at most ``SHORT_RUNS_MAX`` runs), whatever ``--repeat`` says: the best of 5 runs of a few
#: milliseconds moves by 10 % from one invocation to the next. The same rule for every tool.
SHORT_RUN_TOTAL = 0.3
SHORT_RUNS_MAX = 300


def measure(fn, repeat, memory=True):
    """Best of ``repeat`` timed runs (wall clock; the best CPU time is kept in ``LAST_CPU``:
    on a shared machine a process waits for a core, and the CPU time is what it used),
    more for runs of a few milliseconds (``SHORT_RUN_TOTAL``); peak traced memory from one
    extra untimed run (tracemalloc slows pure-Python code several-fold, so it never runs
    while timing)."""
    global LAST_CPU, LAST_FAULTS
    best, out, peak = np.inf, None, float("nan")
    LAST_CPU = np.inf
    k = 0
    f0 = _minor_faults()
    while k < repeat:
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        LAST_CPU = min(LAST_CPU, time.process_time() - c0)
        if k == 0 and best * repeat < SHORT_RUN_TOTAL:
            repeat = min(SHORT_RUNS_MAX, max(repeat, int(SHORT_RUN_TOTAL / max(best, 1e-6))))
        k += 1
    LAST_FAULTS = (_minor_faults() - f0) / k
    if memory:
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out, best, peak


def _status_kib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def peak_rss_mib(fn):
    """Peak resident memory added by one run of ``fn``, measured in a forked child (the
    compiled kernels allocate outside Python's allocator, where tracemalloc cannot see).
    NaN where fork or /proc is unavailable."""
    import os

    if not hasattr(os, "fork") or not os.path.exists("/proc/self/status"):
        return float("nan")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            before = _status_kib("VmRSS")
            fn()
            os.write(w, str((_status_kib("VmHWM") - before) / 1024).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as fh:
        txt = fh.read()
    os.waitpid(pid, 0)
    return float(txt) if txt else float("nan")


def crossover(lp_regions, repeat, only=None):
    """Per-region time of both engines on CROSSOVER_CASES (the table behind ``applies``)."""
    import warnings

    hdr = (f"{'case':<20}{'regions':>9}{'subdiv s':>10}{'ms/region':>10}{'LP regions':>11}{'LP s':>9}"
           f"{'ms/region':>10}{'LP/subdiv':>11}  auto picks")
    print(hdr)
    print("-" * len(hdr))
    for d, widths, box in CROSSOVER_CASES:
        if only and d not in only:
            continue
        net = pr.as_network(mlp(d, list(widths), seed=0))
        dom = pr.Box(-box, box, dim=d) if box else None
        name = f"{d}-{'-'.join(map(str, widths))} {f'box {box:g}' if box else 'R^d'}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dec, s_sub, _ = measure(lambda: pr.enumerate_regions(net, dom, method="subdivision", n_jobs=1),
                                    repeat, memory=False)
            lp, s_lp, _ = measure(lambda: pr.enumerate_regions(net, dom, method="lp", max_regions=lp_regions,
                                                                partial=True), 1, memory=False)
        per_sub, per_lp = 1e3 * s_sub / len(dec), 1e3 * s_lp / len(lp)
        auto = "subdivision" if pr.subdivision.applies(net, dom) else "lp"
        print(f"{name:<20}{len(dec):>9}{s_sub:>10.3f}{per_sub:>10.3f}{len(lp):>11}{s_lp:>9.2f}{per_lp:>10.3f}"
              f"{per_lp / per_sub:>10.1f}x  {auto}; load average {os.getloadavg()[0]:.1f}", flush=True)


def seeds_compare(d, widths, box, seeds, cores):
    """polyrank / regioncam on the networks of seeds 0..``seeds``-1 (one case), each tool best of
    as many runs as take ``SHORT_RUN_TOTAL`` seconds (one run when it takes longer): one
    network is one sample, and both tools'
    times move with the network (regioncam's, from one network to the next, also with how many
    page faults its buffers take)."""
    rows = []
    for seed in range(seeds):
        net = pr.as_network(mlp(d, list(widths), seed=seed))
        dom = pr.Box(-box, box, dim=d)
        _, s_rc, _ = measure(lambda: regioncam_count(net, box), 1, memory=False)
        f_rc = LAST_FAULTS
        row = [seed, s_rc, f_rc]
        for nj in sorted({1, cores}):
            dec, s, _ = measure(lambda: pr.enumerate_regions(net, dom, method="subdivision", n_jobs=nj), 1,
                                memory=False)
            row += [s, LAST_FAULTS]
        rows.append(row)
        per = "; ".join(f"n_jobs={nj} {1e3 * row[3 + 2 * i]:.2f} ms ({row[3 + 2 * i] / s_rc:.2f}x,"
                        f" {row[4 + 2 * i]:.0f} faults)" for i, nj in enumerate(sorted({1, cores})))
        print(f"{'':<22}seed {seed}: {len(dec)} regions; regioncam {1e3 * s_rc:.2f} ms ({f_rc:.0f} faults); {per}")
    R = np.array(rows)
    for i, nj in enumerate(sorted({1, cores})):
        r = R[:, 3 + 2 * i] / R[:, 1]
        print(f"{'':<22}subdiv n_jobs={nj} / regioncam over {seeds} seeds: geometric mean {np.exp(np.log(r).mean()):.2f}x,"
              f" min {r.min():.2f}x, max {r.max():.2f}x", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the slow LP and baseline runs")
    ap.add_argument("--no-baseline", action="store_true", help="skip the scipy baseline")
    ap.add_argument("--repeat", type=int, default=5, help="timed repetitions (best is printed)")
    ap.add_argument("--only", type=int, nargs="*", help="only the cases of these input dimensions")
    ap.add_argument("--crossover", action="store_true", help="only the crossover table of method='auto'")
    ap.add_argument("--lp-regions", type=int, default=300, help="LP engine regions timed by --crossover")
    ap.add_argument("--edge-subdivision", metavar="DIR",
                    help="a checkout of arturs-berzins/relu_edge_subdivision: time it side by side (3-D and up)")
    ap.add_argument("--edge-subdivision-dtype", nargs="+", choices=["float32", "float64"],
                    default=["float32", "float64"], help="the peer's precision(s) (default both)")
    ap.add_argument("--seeds", type=int, default=1,
                    help="2-D: also time both tools on the networks of seeds 0..SEEDS-1 (ratio per seed)")
    ap.add_argument("--keep-heap", action="store_true",
                    help="keep freed memory mapped (glibc mallopt) so that no timing counts page faults")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.keep_heap:
        print(f"glibc asked to keep freed memory mapped: {'yes' if keep_heap() else 'NOT AVAILABLE'}")
    es_mods = load_edge_subdivision(args.edge_subdivision) if args.edge_subdivision else None

    # compile (or load from cache) the numba kernels outside the timings
    t0 = time.perf_counter()
    pr.enumerate_regions(pr.as_network(mlp(2, (3,), seed=0)), pr.Box(-1, 1, dim=2),
                         method="subdivision")
    print(f"subdivision warm-up (numba compile or cache load): {time.perf_counter() - t0:.2f} s")
    cores = pr.subdivision.n_threads()
    print(f"cores: {cores}; load average before: {os.getloadavg()[0]:.1f}")
    if args.crossover:
        return crossover(args.lp_regions, args.repeat, args.only)
    hdr = (f"{'case':<22}{'engine':<15}{'regions':>9}{'seconds':>10}{'peak MiB':>10}{'B/region':>10}"
           f"{'ratio':>26}  published")
    print(hdr)
    print("-" * len(hdr))
    for d, widths, box in CASES:
        if args.only and d not in args.only:
            continue
        net = pr.as_network(mlp(d, list(widths), seed=0))
        dom = pr.Box(-box, box, dim=d) if box else None
        name = f"{d}-{'-'.join(map(str, widths))} {f'box {box:g}' if box else 'R^d'}"
        pub_s, pub_n, rust = PUBLISHED.get((d, widths, box), (None, None, None))
        key = (d, widths, box)
        res, cpu, faults = {}, {}, {}
        if key not in NO_LP and not (args.quick and key in SLOW_LP):
            dec, s, pk = measure(lambda: pr.enumerate_regions(net, dom, method="lp"), 1, memory=False)
            res["lp"] = (len(dec), s, pk)
            if not args.no_baseline and key not in NO_BASELINE:
                nb, s, pk = measure(lambda: baseline_lp(net, dom), 1, memory=False)
                res["baseline"] = (nb, s, pk)
        if d == 2 and box:
            nrc = regioncam_count(net, box)
            if nrc is not None:
                _, s, _ = measure(lambda: regioncam_count(net, box), args.repeat, memory=False)
                res["regioncam"] = (nrc, s, float("nan"))
                cpu["regioncam"] = LAST_CPU
                faults["regioncam"] = LAST_FAULTS
        decs, walls, cpus = {}, {}, {}
        for nj in sorted({1, cores}):
            run = lambda: pr.enumerate_regions(net, dom, method="subdivision", n_jobs=nj)  # noqa: E731
            dec, s, _ = measure(run, args.repeat, memory=False)
            cpu[f"subdiv n_jobs={nj}"] = LAST_CPU
            faults[f"subdiv n_jobs={nj}"] = LAST_FAULTS
            decs[nj], walls[nj], cpus[nj] = dec, s, LAST_CPU
            pk = peak_rss_mib(run) * 2 ** 20
            res[f"subdiv n_jobs={nj}"] = (len(dec), s, pk)
        t0 = time.perf_counter()
        _ = dec.regions, dec.edges  # the Python objects, built on first access
        objects_s = time.perf_counter() - t0
        for eng, (nreg, s, pk) in res.items():
            ratio = ""
            if eng == "lp" and "baseline" in res:
                ratio = f"baseline/lp {res['baseline'][1] / s:8.1f}x"
            if eng.startswith("subdiv") and "lp" in res:
                ratio = f"lp/subdiv {res['lp'][1] / s:8.1f}x"
            if eng.startswith("subdiv") and "regioncam" in res:
                ratio = (f"subdiv/regioncam {s / res['regioncam'][1]:6.2f}x"
                         f" (CPU {1e3 * cpu[eng]:.1f} / {1e3 * cpu['regioncam']:.1f} ms = {cpu[eng] / cpu['regioncam']:.2f}x;"
                         f" page faults per run {faults[eng]:.0f} / {faults['regioncam']:.0f})")
            if eng.startswith("subdiv") and nj > 1 and eng.endswith(f"={nj}") and "subdiv n_jobs=1" in res:
                ratio += f" (1 thread/{nj}: {res['subdiv n_jobs=1'][1] / s:.2f}x)"
            pub = ""
            if eng.startswith("subdiv") and pub_s is not None:
                pub = (f"{pub_s:.3f} s, ours/published {s / pub_s:.2f}x"
                       + (f" (2-D lib {rust} s, ours/lib {s / rust:.1f}x)" if rust else ""))
            per = pk / nreg if nreg and pk == pk else float("nan")
            print(f"{name:<22}{eng:<15}{nreg:>9}{s:>10.3f}{pk / 2 ** 20:>10.1f}{per:>10.0f} {ratio:>26}  {pub}")
        counts = {v[0] for k, v in res.items() if k != "regioncam"}
        print(f"{'':<22}counts {'identical' if len(counts) == 1 else 'DIFFER: ' + str(counts)}"
              + (f" (published: {pub_n})" if pub_n else "")
              + f"; building the {len(dec)} Region objects and edge list on first access: {objects_s:.3f} s more;"
              f" load average {os.getloadavg()[0]:.1f}", flush=True)
        if d == 2 and box and args.seeds > 1:
            if "regioncam" in res:
                seeds_compare(d, widths, box, args.seeds, cores)
            else:
                print(f"{'':<22}--seeds: regioncam is not installed (pip install regioncam); nothing to compare")
        if es_mods is not None and d >= 3:
            edge_subdivision_compare(es_mods, net, box, decs, cpus, walls, args.repeat, args.edge_subdivision_dtype,
                                     name)


if __name__ == "__main__":
    main()
