"""The subdivision engine of two revisions of polyrank, timed side by side.

An engine change is judged here on whole ``enumerate_regions`` calls over many networks
(``polyrank.train.mlp(dim, widths, seed=s)`` for s = 0..``--nets``-1, over the box
``[-BOX, BOX]^dim``), not on one call's captured inputs replayed in a loop: a replay lets
the branch predictor learn that one input and has misled (``docs/subdivision.md``). Each revision's ``polyrank`` package is exported
(``git archive``) to a temporary folder; ``--head`` defaults to the working tree, so an
uncommitted change is compared with ``BASE`` as it stands. The two revisions run in
alternating fresh processes, ``--reps`` each; a process builds the networks, compiles
(numba caches them in its tree's folder, warmed once before timing), then times
``--rounds`` passes over all networks and reports the best and the median per network.
The script prints every process's line, the mean over processes of the medians, and the
ratio head / base (below 1: the head is faster).

``--keep-heap`` runs both with glibc keeping freed memory mapped (``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_TOP_PAD_``, ``MALLOC_MMAP_MAX_``): without it a change in how much the engine allocates
can move the time through page faults alone (memory handed back to the OS and touched again,
about a microsecond per 4 KiB page), which says nothing about the engine's work.

    python benchmarks/revisions.py 74ea45d                    # the working tree against 74ea45d
    python benchmarks/revisions.py 74ea45d --head HEAD --widths 32 32 32 --nets 10 --keep-heap
    python benchmarks/revisions.py 8bfb2c0 --dim 8 --widths 16 16 --box 0.1 --nets 3 --n-jobs 2

Same answers are not checked here (the tests do that); this is a stopwatch.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from polyrank._cliutil import int_type

REPO = Path(__file__).resolve().parent.parent
_POSITIVE = int_type(minimum=1)
#: glibc's tunables for ``--keep-heap``: never trim the heap, never serve a block by mmap.
KEEP_HEAP_ENV = {"MALLOC_TRIM_THRESHOLD_": "2000000000", "MALLOC_TOP_PAD_": "67108864", "MALLOC_MMAP_MAX_": "0"}

_CHILD = r"""
import json, sys, time
tree, dim, widths, nets, rounds, n_jobs, half = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
sys.path.insert(0, tree)
import polyrank as pr
from polyrank.train import mlp
if not pr.__file__.startswith(tree):
    raise SystemExit(f"imported polyrank from {pr.__file__}, not from {tree}")
box = pr.Box(-half, half, dim=dim)
ns = [pr.as_network(mlp(dim, widths, seed=s)) for s in range(nets)]
for n in ns:
    pr.enumerate_regions(n, box, method="subdivision", n_jobs=n_jobs)
per = []
for r in range(rounds):
    t = time.perf_counter()
    for n in ns:
        pr.enumerate_regions(n, box, method="subdivision", n_jobs=n_jobs)
    per.append((time.perf_counter() - t) / nets)
per.sort()
print(json.dumps({"best": per[0], "median": per[len(per) // 2]}))
"""


def export(rev, dest):
    """``polyrank/`` of git revision ``rev`` (None: the working tree) written under ``dest``."""
    dest.mkdir(parents=True)
    if rev is None:
        shutil.copytree(REPO / "polyrank", dest / "polyrank", ignore=shutil.ignore_patterns("__pycache__"))
        return
    try:
        tar = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev, "polyrank"],
                             check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"revisions.py: git cannot export {rev!r}: {e.stderr.decode().strip()}") from None
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(dest, filter="data") if hasattr(tarfile, "data_filter") else t.extractall(dest)


def run_child(tree, args, env):
    """One timing process on ``tree``: its best and median seconds per network."""
    cmd = [sys.executable, "-c", _CHILD, str(tree), str(args.dim), json.dumps(args.widths), str(args.nets),
           str(args.rounds), str(args.n_jobs), repr(args.box)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode:
        raise SystemExit(f"revisions.py: the timing process on {tree} failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="git revision to compare against (e.g. a commit, a branch, HEAD~1)")
    ap.add_argument("--head", default=None, help="git revision to time against BASE (default: the working tree)")
    ap.add_argument("--dim", type=_POSITIVE, default=2, help="input dimension (default 2)")
    ap.add_argument("--widths", type=_POSITIVE, nargs="+", default=[16, 16, 16], help="hidden widths (default 16 16 16)")
    ap.add_argument("--nets", type=_POSITIVE, default=20, help="networks, seeds 0..NETS-1 (default 20)")
    ap.add_argument("--box", type=float, default=10.0,
                    help="half-width of the box [-BOX, BOX]^dim (default 10; e.g. 0.1 for 8-16-16)")
    ap.add_argument("--rounds", type=_POSITIVE, default=15, help="timed passes over the networks per process (default 15)")
    ap.add_argument("--reps", type=_POSITIVE, default=3, help="processes per revision, alternating (default 3)")
    ap.add_argument("--n-jobs", type=_POSITIVE, default=1, help="threads of the engine (default 1)")
    ap.add_argument("--keep-heap", action="store_true", help="glibc keeps freed memory mapped, for both revisions")
    args = ap.parse_args(argv)
    if not (args.box > 0 and args.box < float("inf")):
        ap.error(f"--box must be a positive finite half-width, got {args.box}")
    env = dict(os.environ, **(KEEP_HEAP_ENV if args.keep_heap else {}))
    env.pop("PYTHONPATH", None)
    label = {"base": args.base, "head": args.head or "working tree"}
    with tempfile.TemporaryDirectory(prefix="polyrank-revisions-") as tmp:
        trees = {}
        for key, rev in (("base", args.base), ("head", args.head)):
            trees[key] = Path(tmp) / key
            export(rev, trees[key])
        net = f"{args.dim}-" + "-".join(map(str, args.widths))
        print(f"{net} in [-{args.box:g}, {args.box:g}]^{args.dim}, {args.nets} networks, {args.rounds} rounds, n_jobs={args.n_jobs}"
              f"{', heap kept' if args.keep_heap else ''}; ms per network")
        for key in trees:  # compile into each tree's numba cache before anything is timed
            args_warm = argparse.Namespace(**{**vars(args), "rounds": 1, "nets": 1})
            run_child(trees[key], args_warm, env)
        med = {"base": [], "head": []}
        for r in range(args.reps):
            for key in ("base", "head"):
                res = run_child(trees[key], args, env)
                med[key].append(res["median"])
                print(f"  {key:4s} ({label[key]}): best {res['best'] * 1e3:8.3f}  median {res['median'] * 1e3:8.3f}")
    mb, mh = (sum(med[k]) / len(med[k]) for k in ("base", "head"))
    print(f"mean of medians: base {mb * 1e3:.3f} ms, head {mh * 1e3:.3f} ms; head / base = {mh / mb:.3f}")


if __name__ == "__main__":
    main()
