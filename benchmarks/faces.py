"""Benchmark: the face complex and the certificate against enumeration, and against relucent.

Part 1 (issue 18 goal: faces in < 2x the enumeration time): a 3-16-16-16 network (PyTorch
default init, ``polyrank.train.mlp(3, [16, 16, 16], seed=0)``) over the box
[-B, B]^3. Times the enumeration (warm, best of ``--repeat``) and, in the same run, building
the whole face complex (``FaceComplex``: every face with its incidences, i.e. what
``dec.f_vector()`` needs), the certificate ``dec.verify()``, and the exact rational re-check
``dec.verify(exact=True)`` per region. Prints the ratios.

Part 2 (issue 18 goal: >= 30x relucent): relucent 1.0 (``pip install relucent``; it needs
Gurobi: the pip ``gurobipy`` carries a size-limited licence that is enough for these small
nets) on a 2-8-8-1 network, in a separate interpreter given by ``--relucent-python`` (or
``$RELUCENT_PYTHON``), as the two packages are never installed together here. relucent:
``Complex.bfs`` + ``certify`` + ``betti_numbers`` over R^2. polyrank: ``enumerate_regions``
over a box holding every vertex (same regions, each unbounded region cut by the box) +
``verify`` + ``complex().betti()``. The region counts are checked equal.

Run: ``python benchmarks/faces.py [--repeat 5] [--box 1] [--relucent-python /path/to/python]``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import polyrank as pr
from polyrank.train import mlp
from polyrank.faces import FaceComplex

RELUCENT_SCRIPT = r"""
import json, sys, time, torch, relucent
model = torch.load(sys.argv[1], weights_only=False).double()
C = relucent.Complex(model)
t0 = time.perf_counter(); C.bfs(verbose=0); t1 = time.perf_counter()
C.certify(verbose=0); t2 = time.perf_counter()
betti = C.betti_numbers(verbose=0); t3 = time.perf_counter()
print(json.dumps(dict(n_regions=len(C), complete=bool(C.complete), verified=bool(C.verified),
                      betti={str(k): int(v) for k, v in betti.items()},
                      bfs=t1 - t0, certify=t2 - t1, betti_s=t3 - t2)))
"""


def best(f, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def part1(repeat, box):
    net = pr.ReLUNetwork.from_torch(mlp(3, [16, 16, 16], seed=0))
    dom = pr.Box(-box, box, dim=3)
    pr.enumerate_regions(net, dom)  # numba compile / warm caches
    t_enum, dec = best(lambda: pr.enumerate_regions(net, dom), repeat)
    dec.regions  # the Region objects (built lazily by the subdivision engine) count as enumeration
    t_obj, _ = best(lambda: pr.enumerate_regions(net, dom).regions, repeat)
    t_faces, K = best(lambda: FaceComplex(dec), repeat)
    t_verify, cert = best(lambda: dec.verify(), 1)
    exact = dec.verify(exact=True).exact
    print(f"3-16-16-16 over [-{box:g}, {box:g}]^3: {len(dec)} regions, f-vector {K.f_vector()}, "
          f"certificate complete={cert.complete}")
    print(f"  enumerate (subdivision, warm)        {t_enum * 1e3:8.1f} ms")
    print(f"  enumerate + Region objects          {t_obj * 1e3:8.1f} ms")
    print(f"  face complex (all faces)            {t_faces * 1e3:8.1f} ms   ratio to enumeration "
          f"{t_faces / t_enum:.1f}x (goal < 2x), to enumeration + objects {t_faces / t_obj:.1f}x")
    print(f"  verify() (faces cached)             {t_verify * 1e3:8.1f} ms")
    print(f"  verify(exact=True), {exact['backend']}: {exact['seconds_per_region'] * 1e3:.3f} ms per region, "
          f"{len(exact['disagreements'])} disagreements")


def part2(python):
    model = mlp(2, [8, 8], 1, seed=0)
    net = pr.ReLUNetwork.from_torch(model)
    t0 = time.perf_counter()
    whole = pr.enumerate_regions(net, None, method="subdivision")
    R = 2.0 * whole.stats["box_halfwidth"]
    dec = pr.enumerate_regions(net, pr.Box(-R, R, dim=2))
    cert = dec.verify()
    betti = dec.complex().betti()
    t_ours = time.perf_counter() - t0
    print(f"2-8-8-1: polyrank {len(dec)} regions (R^2: {len(whole)}), certificate complete={cert.complete}, "
          f"Betti {betti}, {t_ours * 1e3:.1f} ms (enumerate R^2 + box, verify, Betti)")
    if not python:
        try:
            import relucent  # noqa: F401

            python = sys.executable
        except ImportError:
            print("relucent: not run (pass --relucent-python, an interpreter with relucent and torch)")
            return
    with tempfile.TemporaryDirectory() as tmp:
        import torch

        path = os.path.join(tmp, "model.pt")
        torch.save(model, path)
        script = os.path.join(tmp, "run.py")
        with open(script, "w") as fh:
            fh.write(RELUCENT_SCRIPT)
        res = subprocess.run([python, script, path], capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        print("relucent failed:", res.stderr.strip().splitlines()[-1] if res.stderr else res.returncode)
        return
    out = json.loads(res.stdout.strip().splitlines()[-1])
    t_rel = out["bfs"] + out["certify"] + out["betti_s"]
    print(f"         relucent {out['n_regions']} regions, complete={out['complete']} verified={out['verified']}, "
          f"Betti {out['betti']}, {t_rel * 1e3:.1f} ms (bfs {out['bfs']:.2f} s, certify {out['certify']:.2f} s, "
          f"betti {out['betti_s']:.2f} s)")
    print(f"  same number of regions: {out['n_regions'] == len(whole)};  speed-up {t_rel / t_ours:.0f}x (goal >= 30x)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--box", type=float, default=1.0)
    ap.add_argument("--relucent-python", default=os.environ.get("RELUCENT_PYTHON"))
    args = ap.parse_args(argv)
    np.random.seed(0)
    part1(args.repeat, args.box)
    part2(args.relucent_python)


if __name__ == "__main__":
    main()
