"""Benchmark: the face complex and the certificate against enumeration, and against relucent.

Part 1 (issue 18 goal: the f-vector of 3-16-16-16 in R^3 in < 2x the enumeration time).
PyTorch-default-init networks (``polyrank.train.mlp``, seed 0): 3-16-16-16 over all of R^3
and over [-1, 1]^3, 2-32-32-32 over all of R^2 and over [-1, 1]^2. In the same run,
interleaved and best of ``--repeat``: the (warm) subdivision enumeration, then
``dec.f_vector()`` on the fresh decomposition (everything it needs; it counts the
engine's incidences as ``verify()`` does, and builds no Region object and no face complex), and the face tables ``dec.faces(k)`` for every k. Prints the ratios. On the
3-16-16-16 box also ``dec.verify()`` and ``dec.verify(exact=True)`` per region, with the
exact re-check's float filter and without it (every region in rational arithmetic).

Part 2 (issue 18 goal: >= 30x relucent). relucent 1.0 (``pip install relucent``; it
needs Gurobi: the pip ``gurobipy`` carries a size-limited licence that is enough for
these small nets) runs in a separate interpreter given by ``--relucent-python`` (or
``$RELUCENT_PYTHON``), in the same run, on the same torch models (2-8-8-1, 2-16-16-1,
3-8-8-1). Function against function:

* enumeration: relucent ``Complex.bfs`` vs ``enumerate_regions(net, None)``;
* certificate: relucent ``certify`` (after bfs) vs ``dec.verify()`` over all of R^d
  (faces, facet neighbours, dual graph, Euler characteristic (-1)^d);
* face poset: relucent ``meta_graph`` vs ``dec.f_vector()`` over all of R^d (the counts
  are checked equal: two independent implementations);
* Betti numbers: relucent ``betti_numbers`` (after meta_graph; unbounded cells truncated)
  vs ``dec.complex().betti()`` (the complex cut by its box, faces, triangulation and the
  GUDHI simplex tree included);
* PL Morse critical points: relucent ``critical_points`` vs ``morse_data(dec)`` on the
  decomposition (and, in a second row, ``morse_data(net, None)``, its enumeration
  included), the interior critical vertices compared by index (those
  whose value another vertex shares left out: on a region where f is constant they are
  critical or not by the tie-break of the vertex order, and relucent leaves such
  degenerate points out).

Every polyrank function is timed on a fresh decomposition (best of 5), its enumeration
not counted (relucent's run on its explored complex); each polyrank step follows a
pause of ``PAUSE`` seconds (on a loaded machine a process that has just computed is
scheduled behind the others for a moment). relucent's steps run back to back, as
before: with the same pause its ``certify`` came out 2-6x slower on the loaded
development machine, so the pause is left out on its side (its ``certify`` runs right
after its ``bfs``).

The certificate ``verify()`` (from the subdivision engine's vertex-hyperplane incidences,
rows and dual graph alone: vertices identified by sign vector, the regions cut by the
engine's box, no face complex built) is timed four ways in the same run: after the pause;
right after its enumeration, as relucent's ``certify`` runs (after the pause a step of
under a millisecond runs on cold caches: 1.5-2x as long on that machine); through the
face complex (``through_face_complex``: the certificate before the incidence path, the
engine's arrays still read); and without the arrays (``without_engine_arrays``: the path
of a decomposition that has none, every vertex found by the search over d-subsets of
rows, the cutting box chosen from the vertices). relucent's ``certify`` reuses the facet
LPs of its search, so the certificate is also compared as part of a certified
enumeration (bfs + certify vs enumerate_regions + verify).

Run: ``python benchmarks/faces.py [--repeat 5] [--quick] [--relucent-python /path/to/python]``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

import numpy as np

import polyrank as pr
from polyrank.train import mlp

#: Seconds of pause between an enumeration and the polyrank step timed after it: on a shared,
#: loaded machine a process that has just computed for a while is scheduled behind the
#: others for a moment, which would be counted against the step that follows.
PAUSE = 0.2

RELUCENT_SCRIPT = r"""
import json, sys, time, torch, relucent
from collections import Counter
model = torch.load(sys.argv[1], weights_only=False).double()
C = relucent.Complex(model)
t0 = time.perf_counter(); C.bfs(verbose=0); t1 = time.perf_counter()
C.certify(verbose=0); t2 = time.perf_counter()
G = C.meta_graph(verbose=0); t3 = time.perf_counter()
betti = C.betti_numbers(verbose=0); t4 = time.perf_counter()
crit = C.critical_points(verbose=0); t5 = time.perf_counter()
dims = Counter(int(d["dim"]) for _, d in G.nodes(data=True))
print(json.dumps(dict(n_regions=len(C), complete=bool(C.complete), verified=bool(C.verified),
                      f_vector=[dims.get(k, 0) for k in range(max(dims) + 1)],
                      betti={str(k): int(v) for k, v in betti.items()},
                      critical=dict(Counter(str(int(c.index)) for c in crit)),
                      bfs=t1 - t0, certify=t2 - t1, meta_graph=t3 - t2, betti_s=t4 - t3, critical_s=t5 - t4)))
"""


def part1(repeat, quick):
    cases = [("3-16-16-16", 3, [16, 16, 16], None), ("3-16-16-16", 3, [16, 16, 16], 1.0),
             ("2-32-32-32", 2, [32, 32, 32], None), ("2-32-32-32", 2, [32, 32, 32], 1.0)]
    if quick:
        cases = cases[1:2]
    print("Part 1: faces vs enumeration (best of", repeat, "interleaved; f_vector includes all it needs of the fresh decomposition)")
    for name, d, widths, box in cases:
        net = pr.ReLUNetwork.from_torch(mlp(d, widths, seed=0))
        dom = None if box is None else pr.Box(-box, box, dim=d)
        pr.enumerate_regions(net, dom).f_vector()  # numba compile / warm caches
        T = []
        for _ in range(repeat if box is not None else max(2, repeat // 2)):
            t0 = time.perf_counter()
            dec = pr.enumerate_regions(net, dom)
            t1 = time.perf_counter()
            fv = dec.f_vector()
            t2 = time.perf_counter()
            for k in range(d + 1):
                dec.faces(k)
            t3 = time.perf_counter()
            T.append((t1 - t0, t2 - t1, t3 - t2))
        te, tf, tt = np.min(T, axis=0)
        where = "R^%d" % d if box is None else f"[-{box:g}, {box:g}]^{d}"
        chi = sum((-1) ** k * n for k, n in enumerate(fv))
        print(f"  {name} over {where}: {len(dec)} regions, f-vector {fv} (Euler characteristic {chi})")
        print(f"    enumerate {te * 1e3:8.1f} ms | f_vector {tf * 1e3:8.1f} ms = {tf / te:.2f}x enumeration "
              f"(goal < 2x) | faces(0..{d}) tables {tt * 1e3:.1f} ms")
    # certificate and exact re-check on the box
    net = pr.ReLUNetwork.from_torch(mlp(3, [16, 16, 16], seed=0))
    dom = pr.Box(-1.0, 1.0, dim=3)
    te = min(_timed(lambda: pr.enumerate_regions(net, dom))[0] for _ in range(repeat))
    tv, cert = min((_fresh_verify(net, dom) for _ in range(max(1, repeat // 2))), key=lambda x: x[0])
    tv0 = min(_fresh_verify(net, dom, arrays=False)[0] for _ in range(max(1, repeat // 2)))
    tvf = min(_fresh_verify(net, dom, face_complex=True)[0] for _ in range(max(1, repeat // 2)))
    dec = pr.enumerate_regions(net, dom)
    from polyrank.faces import exact_check

    ex = exact_check(dec)
    ex_all = exact_check(dec, filter=False)
    print(f"  3-16-16-16 over [-1, 1]^3: verify() from a fresh decomposition {tv * 1e3:.1f} ms "
          f"({tv / te:.2f}x enumeration {te * 1e3:.1f} ms), complete={cert.complete}; through the face complex "
          f"{tvf * 1e3:.1f} ms ({tvf / tv:.1f}x as long); without the engine's arrays {tv0 * 1e3:.1f} ms "
          f"({tv0 / tv:.1f}x)")
    print(f"    verify(exact=True) re-check: {ex['seconds_per_region'] * 1e3:.3f} ms per region with the float "
          f"filter ({ex['n_exact']} of {ex['n_regions']} regions needed rationals), "
          f"{ex_all['seconds_per_region'] * 1e3:.3f} ms per region all in rationals ({ex_all['backend']}): "
          f"{ex_all['seconds'] / ex['seconds']:.0f}x; enumeration {te / len(dec) * 1e3:.4f} ms per region; "
          f"{len(ex['disagreements'])} disagreements")


def _fresh_verify(net, dom, arrays=True, face_complex=False):
    dec = pr.enumerate_regions(net, dom)
    if not arrays:
        dec = without_engine_arrays(dec)
    time.sleep(PAUSE)
    if face_complex:
        return _timed(lambda: through_face_complex(dec.verify))
    return _timed(dec.verify)


def _timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def _best(f, n=5):
    """(best time of n runs of f(), its result)."""
    runs = [_timed(f) for _ in range(n)]
    return min(t for t, _ in runs), runs[-1][1]


def without_engine_arrays(dec):
    """The decomposition as the faces see it without the subdivision engine's arrays (only
    the patterns and ranks kept) and without its box: the path before the hand-off."""
    dec._arrays = {k: v for k, v in dec._arrays.items() if k in ("patterns", "ranks")}
    dec.stats.pop("box_halfwidth", None)
    return dec


def through_face_complex(f):
    """f() with the certificate's incidence path switched off: every check through the face
    complex (the engine's arrays still read), as verify() ran before that path."""
    from polyrank import faces

    real = faces._engine_certificate
    faces._engine_certificate = lambda *a, **k: None
    try:
        return f()
    finally:
        faces._engine_certificate = real


def ours(model, d):
    """polyrank on one model, over all of R^d like relucent: the timings and results that
    part 2 compares (best of 5). Each function is timed on a fresh decomposition, its
    enumeration not counted, as relucent's functions run on its explored complex."""
    net = pr.ReLUNetwork.from_torch(model)
    pr.enumerate_regions(net, None).verify()  # warm (numba caches, lazy imports)
    pr.enumerate_regions(net, None).complex().betti()
    pr.morse_data(net, None)

    def fresh_then(attr):
        dec = pr.enumerate_regions(net, None)
        time.sleep(PAUSE)
        return _timed(lambda: attr(dec))

    def best_fresh(attr):
        runs = [fresh_then(attr) for _ in range(5)]
        return min(t for t, _ in runs), runs[-1][1]

    t_enum, whole = _best(lambda: pr.enumerate_regions(net, None))
    t_faces, fv = best_fresh(lambda dec: dec.f_vector())
    t_verify, cert = best_fresh(lambda dec: dec.verify())
    t_verify_rows, cert_rows = best_fresh(lambda dec: without_engine_arrays(dec).verify())
    assert cert_rows.checks == cert.checks and cert_rows.f_vector == cert.f_vector
    t_verify_b2b = min(_timed(pr.enumerate_regions(net, None).verify)[0] for _ in range(5))  # no pause
    t_verify_fc, cert_fc = best_fresh(lambda dec: through_face_complex(dec.verify))
    assert cert_fc.checks == cert.checks and cert_fc.f_vector == cert.f_vector
    t_betti, betti = best_fresh(lambda dec: dec.complex().betti())
    t_morse, df = best_fresh(lambda dec: pr.morse_data(dec))
    t_morse_enum, df_enum = _best(lambda: pr.morse_data(net, None))
    assert df.equals(df_enum)
    # a vertex whose value another vertex shares (f constant on a region) is critical or not
    # by the tie-break of the vertex order; relucent leaves such degenerate points out
    vals = net.forward(whole.complex().truncated().vertices)[:, 0]
    tied = np.array([np.isclose(vals, v, rtol=1e-12, atol=0.0).sum() > 1 for v in df.value], dtype=bool)
    crit = Counter(str(int(i)) for i in df.loc[df.interior.to_numpy() & ~tied, "index"])
    return dict(n_regions=len(whole), f_vector=list(fv), complete=cert.complete, betti=betti, critical=dict(crit),
                enum=t_enum, faces=t_faces, certify=t_verify, certify_rows=t_verify_rows, certify_fc=t_verify_fc,
                certify_b2b=t_verify_b2b, betti_s=t_betti, critical_s=t_morse, critical_enum_s=t_morse_enum)


def part2(python, quick):
    print("Part 2: polyrank vs relucent (same torch models, same run; relucent in a subprocess)")
    if not python:
        try:
            import relucent  # noqa: F401

            python = sys.executable
        except ImportError:
            print("  relucent: not run (pass --relucent-python, an interpreter with relucent and torch)")
            return
    nets = [("2-8-8-1", 2, [8, 8])] if quick else [("2-8-8-1", 2, [8, 8]), ("2-16-16-1", 2, [16, 16]),
                                                  ("3-8-8-1", 3, [8, 8])]
    import torch

    for name, d, widths in nets:
        model = mlp(d, widths, 1, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.pt")
            torch.save(model, path)
            script = os.path.join(tmp, "run.py")
            with open(script, "w") as fh:
                fh.write(RELUCENT_SCRIPT)
            res = subprocess.run([python, script, path], capture_output=True, text=True, timeout=3600)
        p = ours(model, d)
        print(f"  {name}: polyrank {p['n_regions']} regions, face poset {tuple(p['f_vector'])}, "
              f"certificate complete={p['complete']}, Betti {p['betti']}, interior critical vertices by index "
              f"{p['critical']}")
        if res.returncode != 0:
            tail = res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode
            print("    relucent failed:", tail)
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"           relucent {r['n_regions']} regions, face poset {tuple(r['f_vector'])}, "
              f"complete={r['complete']} verified={r['verified']}, Betti {r['betti']}, critical points by index "
              f"{r['critical']}")
        print(f"    same regions: {r['n_regions'] == p['n_regions']}, same face poset: "
              f"{r['f_vector'] == p['f_vector']}, same critical indices: {r['critical'] == p['critical']}")
        rows = [("enumeration (bfs vs enumerate_regions)", r["bfs"], p["enum"]),
                ("certificate (certify vs verify)", r["certify"], p["certify"]),
                ("  verify() right after its enumeration (no pause)", r["certify"], p["certify_b2b"]),
                ("  the same through the face complex (before)", r["certify"], p["certify_fc"]),
                ("  the same without the engine's arrays", r["certify"], p["certify_rows"]),
                ("certified enumeration (bfs + certify vs + verify)", r["bfs"] + r["certify"], p["enum"] + p["certify"]),
                ("face poset (meta_graph vs f_vector)", r["meta_graph"], p["faces"]),
                ("Betti numbers (betti_numbers vs complex().betti())", r["betti_s"], p["betti_s"]),
                ("critical points (critical_points vs morse_data(dec))", r["critical_s"], p["critical_s"]),
                ("  morse_data(net, None), its enumeration included", r["critical_s"], p["critical_enum_s"])]
        for label, a, b in rows:
            print(f"    {label:50s} relucent {a * 1e3:9.1f} ms  polyrank {b * 1e3:8.1f} ms  {a / b:7.1f}x")
        ta = sum(r[k] for k in ("bfs", "certify", "meta_graph", "betti_s", "critical_s"))
        tb = sum(p[k] for k in ("enum", "certify", "faces", "betti_s", "critical_s"))
        print(f"    {'all of the above':50s} relucent {ta * 1e3:9.1f} ms  polyrank {tb * 1e3:8.1f} ms  "
              f"{ta / tb:7.1f}x (goal >= 30x)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="one case per part")
    ap.add_argument("--relucent-python", default=os.environ.get("RELUCENT_PYTHON"))
    ap.add_argument("--part", type=int, choices=(1, 2), default=None, help="run only this part")
    args = ap.parse_args(argv)
    np.random.seed(0)
    if args.part in (None, 1):
        part1(args.repeat, args.quick)
    if args.part in (None, 2):
        part2(args.relucent_python, args.quick)


if __name__ == "__main__":
    main()
