"""Regions on disk: :func:`write_regions` streams a tiled enumeration to a Parquet dataset,
:class:`RegionStore` (:func:`read_regions`) reads it back.

The run has two phases, both executed by workers (a local process pool or a Dask
cluster), so that no process ever holds more than one tile's regions:

1. every tile is enumerated and its pieces are written to ``_work/tile-NNNNNN.parquet``,
   one row group per hash bucket of the pattern bytes, followed by a small
   ``tile-NNNNNN.json`` that marks the tile as finished;
2. every bucket gathers its row groups from all tiles, merges the pieces by pattern
   (:func:`polyrank.tiling.merge_pieces`) and writes ``part-NNNNN.parquet``; a last
   pass numbers the regions.

The client only sees counts. A run that stops (killed, out of memory, Ctrl-C) leaves its
``_manifest.json`` and finished tiles behind; calling :func:`write_regions` again with
the same arguments skips those tiles.

A tile that runs out of memory is split (:func:`polyrank.split_tile`) and its halves are
queued as new tiles, recursively, up to ``tiling.MAX_SPLIT_DEPTH`` halvings: whether the
engine stopped at its budget (MemoryBudgetError), an allocation failed (MemoryError: the
workers of the local pool and Dask workers with a memory limit run their tiles under a soft
``RLIMIT_DATA``, so that a tile fails cleanly instead of being killed; a Dask worker's threads
share one limit, sized for all of them), the worker process
died (a local worker killed by the kernel, a Dask ``KilledWorker``), or the worker's own
estimate of the tile (:func:`polyrank.estimate_regions`) is over the budget. Splits are
recorded in the manifest, so a resumed run keeps them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections import deque

import numpy as np

from . import subdivision
from ._numerics import release_heap
from .domain import Polytope
from .network import ReLUNetwork, as_network
from .exceptions import MemoryBudgetError, RegionLimitError
from .tiling import (BYTES_PER_REGION, DEFAULT_TILE_MEMORY, ESTIMATE_SPLIT_FACTOR, MAX_SPLIT_DEPTH,
                     TILE_CHECK_SAMPLES, VOLUME_ESTIMATE_MAX_DIM, check_bounded_domain, check_tiles, concat_pieces,
                     estimate_regions, iter_tile_pieces, make_tile, merge_pieces, pattern_buckets,
                     region_upper_bound, split_tile, tile_domain, unpack_patterns)

__all__ = ["write_regions", "read_regions", "RegionStore", "STORE_FORMAT", "MAX_BUCKETS"]

#: Version of the on-disk layout written by :func:`write_regions`.
STORE_FORMAT = 1
#: Largest number of hash buckets (merge tasks) of one run; a bucket holds about
#: ``n_regions / n_buckets`` rows of a few hundred bytes while it is merged.
MAX_BUCKETS = 256
#: Regions per merge bucket aimed at when the number of buckets is chosen (at most
#: ``MAX_BUCKETS``, at least one per initial tile).
MERGE_ROWS_PER_BUCKET = 100_000
#: Seconds to wait for a Dask scheduler given by address.
CONNECT_TIMEOUT = 10
#: Two unit-normal constraint rows closer than this (normal and offset, local units) are
#: one hyperplane when a region is rebuilt from its pattern.
COINCIDENT_RTOL = 1e-10
#: A pre-activation whose gradient norm is below this, relative to the layer's weight
#: scale, is constant on the region (its row is dropped when a region is rebuilt).
ZERO_ROW_RTOL = 1e-12

_META = "_polyrank.json"
_MANIFEST = "_manifest.json"
_NETWORK = "_network.npz"
_WORK = "_work"

#: While a worker process (local pool, or a Dask worker with one thread) runs a tile, its
#: data segment may grow by the tile budget (``max_memory``, default
#: ``tiling.DEFAULT_TILE_MEMORY``) but by at least this much (the interpreter needs room).
GUARD_MIN_BYTES = 256 * 2 ** 20
#: On a Dask worker with a memory limit, a tile may grow the worker to at most this fraction
#: of the limit (the nanny pauses the worker at 0.8 and kills it at 0.95 by default).
DASK_MEMORY_FRACTION = 0.8
#: Seconds between checks of the local pool's worker processes.
POOL_POLL_SECONDS = 1.0
#: Seconds a new local worker process may take to import polyrank.
POOL_START_SECONDS = 300
#: The local pool of ``n`` workers runs ``n - 1`` worker processes and a thread of the
#: calling process (warm: no interpreter to start, nothing to import or load; a spawned
#: worker costs about a second of CPU before its first tile, a forked one next to nothing).
#: The thread's tiles are held to the engine's ``max_memory`` but not to the worker
#: processes' resident-memory guard, and a tile that the out-of-memory killer would stop
#: stops this process: set it to False to keep every tile out of the calling process.
POOL_LOCAL_WORKER = True
#: How the local pool starts its worker processes: ``"fork"``, ``"forkserver"``,
#: ``"spawn"``, or None (choose, :func:`_pool_start_method`): ``"fork"`` where the platform
#: has it and no thread of the calling process but polyrank's own runs (a forked worker
#: starts at once with everything this process has imported and compiled), else
#: ``"forkserver"`` with polyrank preloaded (imported once per session, then forked).
POOL_START_METHOD = None

#: Test hook: called as ``_TILE_HOOK(tile_index)`` after a tile's files are written (in the
#: process that ran the tile). Raising from it simulates a run killed after that tile.
_TILE_HOOK = None
#: Test hook (environment, so that worker processes see it): a worker process (never the
#: calling process) kills itself with SIGKILL before enumerating a tile whose box has a
#: volume above this number, as the kernel's out-of-memory killer would.
_KILL_ENV = "POLYRANK_TEST_KILL_TILES_ABOVE"
_IN_WORKER = False


# ---------------------------------------------------------------------------- validation
def _check_path(path, overwrite, fingerprint):
    """Return (path, resume). Refuse a non-empty path unless it is an unfinished run with the
    same arguments (resume) or ``overwrite`` is set and it is a polyrank store."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"The 'path' parameter of write_regions must be a str or os.PathLike; "
                        f"got {type(path).__name__}.")
    path = os.path.abspath(os.fspath(path))
    if os.path.isfile(path):
        raise FileExistsError(f"The 'path' parameter of write_regions ({path!r}) is a file; "
                              "a region store is a directory. Choose another path.")
    resume = False
    if os.path.isdir(path) and os.listdir(path):
        ours = os.path.exists(os.path.join(path, _META)) or os.path.exists(os.path.join(path, _MANIFEST))
        if overwrite and ours:
            shutil.rmtree(path)
        elif overwrite:
            raise FileExistsError(f"The 'path' parameter of write_regions ({path!r}) is a non-empty directory "
                                  "that is not a polyrank region store; refusing to delete it even with "
                                  "overwrite=True. Choose an empty or new directory.")
        else:
            man = os.path.join(path, _MANIFEST)
            if os.path.exists(man) and not os.path.exists(os.path.join(path, _META)):
                with open(man) as fh:
                    old = json.load(fh).get("fingerprint")
                if old != fingerprint:
                    raise FileExistsError(f"The 'path' parameter of write_regions ({path!r}) holds an unfinished "
                                          "run with different arguments (network, domain, tiles, layer, method "
                                          "or tol) or from an older polyrank; pass overwrite=True to discard it.")
                resume = True
            else:
                raise FileExistsError(f"The 'path' parameter of write_regions ({path!r}) is not empty; pass "
                                      "overwrite=True to replace a region store there.")
    try:
        os.makedirs(os.path.join(path, _WORK), exist_ok=True)
        probe = os.path.join(path, _WORK, ".probe")
        with open(probe, "w") as fh:
            fh.write("ok")
        os.remove(probe)
    except OSError as exc:
        raise PermissionError(f"The 'path' parameter of write_regions ({path!r}) is not writable: {exc}") from None
    return path, resume


def _check_client(client):
    """Return (client, own): a live Client, connected here when an address was given."""
    if client is None:
        return None, False
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover
        raise ImportError("client= needs dask.distributed: pip install 'polyrank[dask]'") from exc
    if isinstance(client, str):
        try:
            return Client(client, timeout=CONNECT_TIMEOUT), True
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"The 'client' parameter of write_regions: no Dask scheduler answers at "
                                  f"{client!r} within {CONNECT_TIMEOUT} s ({exc}). Start one with "
                                  "`dask scheduler` or pass a dask.distributed.Client.") from None
    if not isinstance(client, Client):
        raise TypeError("The 'client' parameter of write_regions must be None, a dask.distributed.Client or a "
                        f"scheduler address such as 'tcp://host:8786'; got {type(client).__name__}.")
    if client.status != "running":
        raise ConnectionError(f"The 'client' parameter of write_regions: the Dask client is {client.status!r}, "
                              "not connected to a running scheduler.")
    return client, False


def _fingerprint(net, domain, K, method, tiles, tol):
    h = hashlib.sha256()
    for a in list(net.weights) + list(net.biases) + [domain.A, domain.b]:
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        h.update(repr(np.shape(a)).encode())
    # "domain-frame": tiles run in the whole domain's frame; an unfinished run of an older
    # polyrank (one frame per tile) must not be resumed with tiles judged differently
    h.update(repr((STORE_FORMAT, K, method, tiles, tol, "domain-frame")).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------- tasks
def _pieces_table(p, K, d):
    import pyarrow as pa

    nb = p["pattern"].shape[1]
    cols = {"pattern": pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(nb), len(p["volume"]), [None, pa.py_buffer(np.ascontiguousarray(p["pattern"]).tobytes())])}
    for k in range(K):
        cols[f"rank_{k + 1}"] = pa.array(p["ranks"][:, k].astype(np.int16))
    for k in range(K):
        cols[f"codeword_size_{k + 1}"] = pa.array(p["sizes"][:, k].astype(np.int16))
    for j in range(d):
        cols[f"x{j}"] = pa.array(p["witness"][:, j])
    cols["inradius"] = pa.array(p["inradius"])
    cols["volume"] = pa.array(p["volume"])
    if "tile" in p:
        cols["tile"] = pa.array(p["tile"].astype(np.int32))
    else:
        cols["bounded"] = pa.array(np.ones(len(p["volume"]), bool))
        cols["n_facets"] = pa.array(np.diff(p["facet_ptr"]).astype(np.int32))
        cols["tiles"] = pa.ListArray.from_arrays(pa.array(p["tile_ptr"].astype(np.int32)),
                                                 pa.array(p["tile_ids"].astype(np.int32)))
    cols["facets"] = pa.ListArray.from_arrays(pa.array(p["facet_ptr"].astype(np.int32)),
                                              pa.array(p["facet_ids"].astype(np.int32)))
    return pa.table(cols)


def _write_options(schema):
    """Parquet writer options: dictionary encoding only for the small integer columns (ranks,
    codeword sizes, tile ids, flags), where it pays; the patterns, witnesses, radii and
    volumes are nearly all distinct, and trying a dictionary on them costs about a third
    of the write (D-III, 344 149 rows: 0.32 s against 0.23 s, files 4 % smaller)."""
    import pyarrow as pa

    small = [f.name for f in schema if pa.types.is_integer(f.type) and f.type.bit_width <= 16
             or pa.types.is_boolean(f.type) or f.name in ("tile", "n_facets")]
    return dict(use_dictionary=small)


def _table_pieces(t, K, d):
    n = t.num_rows
    nb = t.schema.field("pattern").type.byte_width
    col = t.column("pattern").combine_chunks()
    pat = np.frombuffer(col.buffers()[1], np.uint8, count=n * nb, offset=col.offset * nb).reshape(n, nb)
    fac = t.column("facets").combine_chunks()
    ptr = np.asarray(fac.offsets, np.int64)
    ids = np.asarray(fac.values, np.int32)[ptr[0]: ptr[-1]] if n else np.zeros(0, np.int32)
    return dict(pattern=pat.copy(),
                ranks=np.stack([t.column(f"rank_{k + 1}").to_numpy() for k in range(K)], axis=1).reshape(n, K),
                sizes=np.stack([t.column(f"codeword_size_{k + 1}").to_numpy() for k in range(K)], axis=1).reshape(n, K),
                witness=np.stack([t.column(f"x{j}").to_numpy() for j in range(d)], axis=1).reshape(n, d),
                inradius=t.column("inradius").to_numpy(), volume=t.column("volume").to_numpy(),
                tile=t.column("tile").to_numpy(), facet_ptr=ptr - ptr[0], facet_ids=ids)


def _peak_rss():
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except (ImportError, OSError):  # pragma: no cover
        return 0


def _vm_data():
    """The process's data segment (``VmData``, what ``RLIMIT_DATA`` limits), or None."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return None


def _rss():
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):  # pragma: no cover - not Linux
        return None


def _dask_worker():
    """The Dask worker running this task, or None (without importing dask)."""
    import sys

    if "distributed" not in sys.modules:  # a Dask worker has imported it
        return None
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _dask_room():
    """``(room, nthreads)``: the bytes this Dask worker may still grow (``DASK_MEMORY_FRACTION``
    of its limit) and its number of threads (tiles that may run at once); None when not on a
    Dask worker with a memory limit."""
    w = _dask_worker()
    if w is None:
        return None
    limit = getattr(getattr(w, "memory_manager", None), "memory_limit", None)
    nthreads = getattr(getattr(w, "state", None), "nthreads", getattr(w, "nthreads", None))
    rss = _rss()
    if not limit or not isinstance(nthreads, int) or nthreads < 1 or rss is None:
        return None
    return int(DASK_MEMORY_FRACTION * limit) - rss, nthreads


@contextlib.contextmanager
def memory_guard(nbytes):
    """Let this process's data segment grow by at most ``nbytes`` inside the block
    (soft ``RLIMIT_DATA``; Linux): an allocation beyond raises MemoryError instead of
    inviting the out-of-memory killer. No-op where the limit cannot be set.

    Examples
    --------
    >>> from polyrank.store import memory_guard
    >>> with memory_guard(2 ** 30):
    ...     x = np.ones(1000)
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    base = _vm_data()
    old = resource.getrlimit(resource.RLIMIT_DATA)
    new = None if base is None else base + max(int(nbytes), 0)
    if new is not None and old[1] != resource.RLIM_INFINITY:
        new = min(new, old[1])
    if new is not None and (old[0] == resource.RLIM_INFINITY or new < old[0]):
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (new, old[1]))
        except (ValueError, OSError):  # pragma: no cover
            new = None
    else:
        new = None
    try:
        yield
    finally:
        if new is not None:
            resource.setrlimit(resource.RLIMIT_DATA, old)


_GUARD_LOCK = threading.Lock()
_GUARD_STATE = {"n": 0, "guard": None}  # tiles inside the shared guard, and the guard itself


@contextlib.contextmanager
def _shared_guard(nbytes):
    """:func:`memory_guard` shared by the tiles that run at once on the threads of one process
    (a Dask worker with several threads): ``RLIMIT_DATA`` is per process, so the first tile
    in sets the limit (``nbytes`` above the data segment then; :func:`_guard_bytes` sizes it
    for all of the worker's threads) and the last one out lifts it. A tile that hits it gets
    MemoryError and is split, whichever tile grew the most: that costs work, never answers."""
    with _GUARD_LOCK:
        if _GUARD_STATE["n"] == 0:
            guard = memory_guard(nbytes)
            guard.__enter__()
            _GUARD_STATE["guard"] = guard
        _GUARD_STATE["n"] += 1
    try:
        yield
    finally:
        with _GUARD_LOCK:
            _GUARD_STATE["n"] -= 1
            if _GUARD_STATE["n"] == 0:
                guard, _GUARD_STATE["guard"] = _GUARD_STATE["guard"], None
                guard.__exit__(None, None, None)


def _guard_bytes(task):
    """How much a worker may grow while running this tile (and the other tiles running on
    its threads: ``nthreads`` budgets, at most the Dask worker's room); None in the calling
    process."""
    if not _IN_WORKER:
        info = _dask_room()
        if info is None:
            return None
        room, nthreads = info
        return max(GUARD_MIN_BYTES, min(nthreads * task["budget"], room))
    return max(GUARD_MIN_BYTES, task["budget"])


def _maybe_test_kill(tile, v):
    """The tests' out-of-memory stand-in: ``v`` is the caller's ``POLYRANK_TEST_KILL_TILES_ABOVE``
    (read where the tasks are made, as a forkserver's children keep the environment the
    forkserver started with)."""
    if v is None:
        return
    if (_IN_WORKER or _dask_worker() is not None) and float(np.prod(tile.hi - tile.lo)) > float(v):
        os.kill(os.getpid(), signal.SIGKILL)


_CANCELLED = set()  # idents of pool threads whose pool was closed: they stop before writing


class _Cancelled(Exception):
    """Raised in a pool thread whose pool was closed (an interrupted or failed run)."""


def _check_cancel():
    if _CANCELLED and threading.get_ident() in _CANCELLED:
        raise _Cancelled("write_regions was interrupted: this thread's pool is closed")


def _tile_task(task):
    """Enumerate one tile, write its pieces bucket by bucket, then its marker. Returns counts,
    or ``{"tile": index, "split": reason}`` when the tile must be split (over its budget)."""
    import pyarrow.parquet as pq

    t0, c0 = time.perf_counter(), time.process_time()
    tile, net, K, d, nbk, work = task["tile"], task["net"], task["K"], task["d"], task["n_buckets"], task["work"]
    name = os.path.join(work, f"tile-{tile.index:06d}")
    if os.path.exists(name + ".json"):  # done before (a worker that held the result died): reuse
        with open(name + ".json") as fh:
            return {k: v for k, v in json.load(fh).items() if k != "groups"}
    if task.get("check"):
        est = estimate_regions(net, tile.polytope, layer=K, n_samples=TILE_CHECK_SAMPLES, seed=tile.index)
        if est * BYTES_PER_REGION > ESTIMATE_SPLIT_FACTOR * task["budget"]:
            return dict(tile=tile.index, split=f"estimated {est:.0f} pieces, over {ESTIMATE_SPLIT_FACTOR:g} times "
                                               f"the budget of {task['budget'] // BYTES_PER_REGION} pieces")
    _maybe_test_kill(tile, task.get("kill_above"))
    groups, n_pieces, volume, g, w, reason = {}, 0, 0.0, 0, None, None
    guard = _guard_bytes(task)
    try:
        with _shared_guard(guard) if guard is not None else contextlib.nullcontext():
            for p in iter_tile_pieces(net, tile, layer=K, method=task["method"], max_memory=task["max_memory"],
                                      tol=task["tol"], split=False, n_jobs=task.get("n_jobs")):
                _check_cancel()
                bk = pattern_buckets(p["pattern"], nbk)
                order = np.argsort(bk, kind="stable")
                table = _pieces_table(_take(p, order), K, d)
                bk = bk[order]
                if w is None:
                    w = pq.ParquetWriter(name + ".parquet.tmp", table.schema, **_write_options(table.schema))
                starts = np.flatnonzero(np.r_[True, bk[1:] != bk[:-1]]) if len(bk) else []
                ends = list(starts[1:]) + [len(bk)]
                for s, e in zip(starts, ends):
                    w.write_table(table.slice(int(s), int(e - s)), row_group_size=int(e - s))
                    groups.setdefault(int(bk[s]), []).append(g)
                    g += 1
                n_pieces += len(bk)
                volume += float(p["volume"].sum())
                del p, table
    except (MemoryBudgetError, RegionLimitError, MemoryError) as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        if w is not None:
            w.close()
    _check_cancel()  # nothing of a closed pool's thread lands in the run's directory
    if reason is not None:  # outside the except block, so that the failed run's arrays are freed
        if w is not None:
            os.remove(name + ".parquet.tmp")
        release_heap()
        return dict(tile=tile.index, split=reason)
    if w is not None:
        os.replace(name + ".parquet.tmp", name + ".parquet")
    info = dict(tile=tile.index, n_pieces=int(n_pieces), groups=groups, seconds=time.perf_counter() - t0,
                cpu_seconds=time.process_time() - c0,
                peak_rss=_peak_rss(), volume=volume, worker=f"{os.uname().nodename}:{os.getpid()}")
    with open(name + ".json.tmp", "w") as fh:
        json.dump(info, fh)
    os.replace(name + ".json.tmp", name + ".json")
    release_heap()
    if _TILE_HOOK is not None:
        _TILE_HOOK(tile.index)
    return {k: v for k, v in info.items() if k != "groups"}


def _take(p, idx):
    out = {k: v[idx] for k, v in p.items() if k not in ("facet_ptr", "facet_ids")}
    counts = np.diff(p["facet_ptr"])[idx]
    ptr = np.zeros(len(idx) + 1, np.int64)
    ptr[1:] = np.cumsum(counts)
    starts = p["facet_ptr"][:-1][idx]
    sel = np.repeat(starts - ptr[:-1], counts) + np.arange(int(ptr[-1]))
    out["facet_ptr"], out["facet_ids"] = ptr, p["facet_ids"][sel]
    return out


def _merge_task(task):
    """Merge bucket ``b`` over all tiles and write the part ``task["file"]``, its regions
    numbered from ``task["offset"]``. Returns its row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    b, work, K, d = task["bucket"], task["work"], task["K"], task["d"]
    tables = []
    for i in task["tiles"]:
        with open(os.path.join(work, f"tile-{i:06d}.json")) as fh:
            gs = json.load(fh)["groups"].get(str(b), [])
        if gs:
            f = pq.ParquetFile(os.path.join(work, f"tile-{i:06d}.parquet"))
            tables.extend(_table_pieces(f.read_row_group(g), K, d) for g in gs)
    if not tables:
        return dict(bucket=b, n=0, peak_rss=_peak_rss())
    merged = merge_pieces(concat_pieces(tables))
    del tables
    table = _pieces_table(merged, K, d)
    n = int(len(merged["volume"]))
    table = table.add_column(0, "region", pa.array(np.arange(task["offset"], task["offset"] + n, dtype=np.int64)))
    out = os.path.join(task["path"], task["file"])
    _check_cancel()
    pq.write_table(table, out + ".tmp", **_write_options(table.schema))
    _check_cancel()
    os.replace(out + ".tmp", out)
    return dict(bucket=b, n=n, peak_rss=_peak_rss())


def _count_task(task):
    """The number of regions of bucket ``b``: distinct patterns over its pieces in all tiles
    (the pattern column only), so that the merges can write numbered parts at once."""
    import pyarrow.parquet as pq

    b, work = task["bucket"], task["work"]
    keys = []
    for i in task["tiles"]:
        with open(os.path.join(work, f"tile-{i:06d}.json")) as fh:
            gs = json.load(fh)["groups"].get(str(b), [])
        if gs:
            t = pq.ParquetFile(os.path.join(work, f"tile-{i:06d}.parquet")).read_row_groups(gs, columns=["pattern"])
            B = np.ascontiguousarray(_packed(t))
            keys.append(B.view(np.dtype((np.void, B.shape[1]))).ravel())  # one sortable key per pattern
    return dict(bucket=b, n=int(len(np.unique(np.concatenate(keys)))) if keys else 0)


def _run(func, tasks, client, n_workers, progress):
    from .experiments._sweep import run_tasks

    if not tasks:
        return []
    if client is not None:
        return run_tasks(func, tasks, scheduler=client, progress=progress)
    return run_tasks(func, tasks, n_workers=n_workers, progress=progress)


# ---------------------------------------------------------------------------- running tiles
def _pool_start_method():
    """The start method of the local pool's worker processes (``POOL_START_METHOD``, or the
    choice described there). Forking is safe when no other thread can hold a lock that the
    child would need: the only Python threads are the calling one and polyrank's own (the
    engine's pools, which a forked child forgets, and the pool's thread, started after the
    processes), and tqdm's monitor; the native pools of numpy's BLAS, pyarrow and its allocator reinitialise
    themselves in a forked child."""
    import multiprocessing as mp

    if POOL_START_METHOD is not None:
        return POOL_START_METHOD
    if "fork" in mp.get_all_start_methods():
        me = threading.current_thread()
        if all(t is me or (t.name.startswith("polyrank-") and t.name != "polyrank-local-worker")
               or _is_tqdm_monitor(t) for t in threading.enumerate()):
            return "fork"
    return _NO_FORK


def _is_tqdm_monitor(t):
    """Whether ``t`` is the monitor thread of the progress bars (left by an earlier call; it
    holds only tqdm's lock, which a worker never takes)."""
    mod = sys.modules.get("tqdm._monitor")
    return mod is not None and isinstance(t, mod.TMonitor)


_NO_FORK = "forkserver" if os.name == "posix" else "spawn"  # where forking is not safe


def _preload_polyrank():
    """Add polyrank to the forkserver's preload list (keeping what the user set there)."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    old = list(getattr(server, "_preload_modules", None) or [])
    if "polyrank" not in old:
        forkserver.set_forkserver_preload(old + ["polyrank"])


def _pool_main(conn, forked=False):
    """A local pool worker: one BLAS thread, then run the tasks sent over ``conn``."""
    global _IN_WORKER, _TILE_HOOK
    _IN_WORKER = True
    if forked:  # the hook of the calling process is its own (as in a spawned worker)
        _TILE_HOOK = None
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass
    _serve(conn)


def _serve(conn):
    """Run the tasks sent over ``conn`` until None (or a closed pipe), answering each."""
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        func, task = job
        try:
            msg = ("ok", func(task))
        except BaseException as exc:  # noqa: BLE001 - sent back and raised in the caller
            import traceback

            msg = ("error", (type(exc).__name__, str(exc), traceback.format_exc()))
        try:
            conn.send(msg)
        except (EOFError, OSError):  # pragma: no cover - the pool was closed meanwhile
            return


_STARTING = "starting"  # the task of a worker process that has not reported ready yet


class _ThreadWorker:
    """The calling process as one worker of the local pool: a thread serving a pipe like a
    worker process (same protocol, same tasks), shaped like a ``Process`` for the pool."""

    exitcode = None

    def __init__(self, conn):
        self._fds = os.pipe()  # never written: a sentinel that stays quiet while the thread lives
        self.sentinel = self._fds[0]
        self._thread = threading.Thread(target=_serve, args=(conn,), daemon=True, name="polyrank-local-worker")
        self._thread.start()

    def is_alive(self):
        return self._thread.is_alive()

    def join(self, timeout=None):
        self._thread.join(timeout)
        if not self._thread.is_alive() and self._fds:
            for fd in self._fds:
                os.close(fd)
            self._fds = ()

    def kill(self):
        """A thread cannot be killed: it is told to stop before it writes anything more (its
        task raises at the next piece), and its pipe is closed."""
        if self._thread.ident is not None:
            _CANCELLED.add(self._thread.ident)


class _LocalPool:
    """Workers that run one task at a time (the tiles, then the merge of a run): worker
    processes, and a thread of this process (``POOL_LOCAL_WORKER``); a worker process that
    dies (the kernel's out-of-memory killer) is reported with its task and replaced."""

    def __init__(self, n):
        import multiprocessing as mp

        self.start_method = _pool_start_method()
        self._ctx = mp.get_context(self.start_method)
        if self.start_method == "forkserver":  # (no effect once this session's server runs)
            _preload_polyrank()
        self._n = n
        self._deadline = {}  # pid of a starting worker process -> when it must be ready
        self._workers = []  # [process, connection, task or None]

    def _start(self, k):
        """Start ``k`` workers: processes, which are marked starting until they report that
        they are ready (the pool hands tasks to the ready workers meanwhile), then the thread
        (ready at once)."""
        import multiprocessing as mp

        thread = POOL_LOCAL_WORKER and k > 0 and not any(isinstance(w[0], _ThreadWorker) for w in self._workers)
        method = self.start_method
        if method == "fork" and any(isinstance(w[0], _ThreadWorker) and w[2] is not None for w in self._workers):
            method = _NO_FORK  # a replacement while the pool's thread runs a task (it may hold a lock)
        ctx = mp.get_context(method)
        for _ in range(k - thread):  # the processes first: none is forked while the thread runs
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_pool_main, args=(child, method == "fork"), daemon=True)
            proc.start()
            child.close()
            self._deadline[proc.pid] = time.monotonic() + POOL_START_SECONDS
            self._workers.append([proc, parent, _STARTING])
        if thread:
            parent, child = self._ctx.Pipe()
            self._workers.append([_ThreadWorker(child), parent, None])
            parent.recv()  # its "ready"

    def prestart(self):
        """Start every worker now (the processes in the background), not on the first tasks."""
        self._start(self._n - len(self._workers))

    def _started(self, w, msg):
        """Whether the starting worker ``w`` is ready now (``msg``: what it sent, or None);
        False while it may still start; RuntimeError when it cannot."""
        proc = w[0]
        if msg is not None and msg[0] == "ready":
            w[2] = None
            return True
        if msg is None and proc.is_alive() and time.monotonic() < self._deadline[proc.pid]:
            return False
        proc.join(timeout=1)
        raise RuntimeError(f"A local worker process of write_regions did not start (exit code "
                           f"{proc.exitcode}); see its error above. A script that calls write_regions "
                           "with n_workers > 1 must guard its top level with "
                           "`if __name__ == '__main__':` (unless they are forked, the workers import it).")

    def run(self, func, queue, handle, on_death=None):
        """Run ``func`` on the tasks of ``queue`` (a deque; ``handle(task, result)`` may append
        to it). A worker killed with SIGKILL while it runs a task gives
        ``handle(task, on_death(task, exitcode))``; any other death, a failed task, or a death
        without ``on_death`` is a RuntimeError (after which the pool is closed)."""
        from multiprocessing.connection import wait

        try:
            while queue or any(w[2] is not None and w[2] is not _STARTING for w in self._workers):
                while queue:
                    idle = [w for w in self._workers if w[2] is None]
                    if not idle and len(self._workers) < self._n:
                        self._start(min(self._n - len(self._workers), len(queue)))
                        continue
                    if not idle:
                        break
                    idle[0][2] = queue.popleft()
                    idle[0][1].send((func, idle[0][2]))
                busy = [w for w in self._workers if w[2] is not None]
                wait([w[1] for w in busy] + [w[0].sentinel for w in busy], timeout=POOL_POLL_SECONDS)
                for w in busy:
                    proc, conn, task = w
                    msg = None
                    try:
                        if conn.poll():
                            msg = conn.recv()
                    except (EOFError, OSError):
                        msg = None
                    if task is _STARTING:
                        self._started(w, msg)
                        continue
                    if msg is None and proc.is_alive():
                        continue
                    w[2] = None
                    if msg is None:  # died without an answer
                        proc.join(timeout=5)
                        conn.close()
                        self._workers.remove(w)
                        if proc.exitcode != -signal.SIGKILL or on_death is None:
                            raise RuntimeError(f"A local worker process of write_regions died with exit code "
                                               f"{proc.exitcode} while it ran {func.__name__}. (Only a tile "
                                               "whose worker is killed with SIGKILL, as by the out-of-memory "
                                               "killer, is split.) The finished tiles are kept.")
                        handle(task, on_death(task, proc.exitcode))
                    elif msg[0] == "ok":
                        handle(task, msg[1])
                    else:
                        name, text, tb = msg[1]
                        raise RuntimeError(f"{func.__name__} failed in a worker process: {name}: {text}\n{tb}")
            for w in [w for w in self._workers if w[2] is _STARTING]:  # one that could not start: say why
                self._started(w, w[1].recv() if w[1].poll() else None)
        except BaseException:
            self.close()
            raise

    def map(self, func, tasks, progress=False, desc="tasks"):
        """``[func(t) for t in tasks]`` on the pool."""
        tasks = list(tasks)
        out = [None] * len(tasks)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(tasks), desc=desc)

        def handle(i, res):
            out[i] = res
            if bar is not None:
                bar.update(1)

        try:
            self.run(_indexed, deque((i, func, t) for i, t in enumerate(tasks)), lambda t, r: handle(t[0], r))
        finally:
            if bar is not None:
                bar.close()
        return out

    def close(self):
        for proc, conn, task in self._workers:
            if task is _STARTING and not proc.is_alive() and proc.exitcode:  # the work was done without it
                import warnings

                warnings.warn(f"A local worker process of write_regions did not start (exit code {proc.exitcode}); "
                              "the other workers did its share. A script that calls write_regions with "
                              "n_workers > 1 must guard its top level with `if __name__ == '__main__':`.",
                              RuntimeWarning, stacklevel=3)
        for proc, conn, _ in self._workers:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        for proc, conn, _ in self._workers:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                if not isinstance(proc, _ThreadWorker):  # (the thread ends after its task: its pipe is closed)
                    proc.join()
            conn.close()
        self._workers = []


def _indexed(job):
    i, func, task = job
    return func(task)


def _killed_tile(task, exitcode):
    return dict(tile=task["tile"].index, split=f"worker process died (killed, exit code {exitcode})")


def _run_tiles(tasks, client, pool, progress, handle):
    """Run the tile tasks (on ``client``, else on ``pool``, else here); ``handle(task, result)``
    returns the tasks that replace a split tile."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), desc="tiles")

    def done(task, res):
        new = handle(task, res)
        if bar is not None:
            if new:
                bar.total += len(new) - 1
                bar.refresh()
            else:
                bar.update(1)
        return new

    try:
        if client is not None:
            _run_tiles_dask(tasks, client, done)
            return
        queue = deque(tasks)
        if pool is None:
            while queue:
                t = queue.popleft()
                queue.extend(done(t, _tile_task(t)))
            return
        pool.run(_tile_task, queue, lambda t, r: queue.extend(done(t, r)), on_death=_killed_tile)
    finally:
        if bar is not None:
            bar.close()


def _run_tiles_dask(tasks, client, done):
    from dask.distributed import as_completed

    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        from distributed import KilledWorker

    futs = {}

    def submit(t):
        f = client.submit(_tile_task, t, pure=False)
        futs[f.key] = t
        return f

    ac = as_completed([submit(t) for t in tasks])
    for f in ac:
        t = futs.pop(f.key)
        try:
            res = f.result()
        except KilledWorker as exc:
            res = dict(tile=t["tile"].index, split=f"KilledWorker: {str(exc)[:200]}")
        except MemoryError as exc:
            res = dict(tile=t["tile"].index, split=f"MemoryError: {str(exc)[:200]}")
        f.release()
        for c in done(t, res):
            ac.add(submit(c))


# ---------------------------------------------------------------------------- public
def write_regions(net, domain, path, *, tiles="auto", client=None, method="auto", layer=None, max_memory=None,
                  progress=True, overwrite=False, n_workers=None, tol=None, seed=0) -> RegionStore:
    """Enumerate the regions of ``net`` over a bounded domain, tile by tile, into a Parquet dataset.

    The domain is split into tiles (:func:`~polyrank.tile_domain`); each tile is enumerated
    on its own (``method`` picks the engine per tile) by a worker that writes its pieces to
    ``path``; the pieces of a region cut by tile walls are then merged by activation pattern
    (volumes summed, facets united without the walls, the witness with the largest inscribed
    ball kept), bucket by bucket. Memory is bounded by the largest tile, not by the total.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    domain : Box or Polytope
        Bounded (tiling needs a bounded domain).
    path : str or os.PathLike
        A new or empty directory; on a Dask cluster of several machines, a directory every
        worker can write (shared storage).
    tiles : "auto", int or tuple of int
        See :func:`~polyrank.tile_domain`. ``"auto"`` makes at least one tile per worker
        and enough tiles that each fits in ``max_memory``.
    client : dask.distributed.Client or str, optional
        Run the tiles on this Dask cluster (or on the scheduler at this address). Only counts
        come back to the client. Default: a local process pool.
    method : {"auto", "lp", "subdivision"}
        The engine of every tile (as in :func:`~polyrank.enumerate_regions`).
    layer : int, optional
        Decompose by the patterns of layers 1..layer (default all).
    max_memory : int, optional
        Bytes one tile may add to its worker's memory (default
        ``tiling.DEFAULT_TILE_MEMORY``). It sizes the tiles of ``tiles="auto"``, it is the
        engine's budget, and the workers of the local pool (and Dask workers, capped at
        ``DASK_MEMORY_FRACTION`` of their limit; the threads of a worker share one limit of
        ``nthreads`` budgets) enforce it with a soft ``RLIMIT_DATA``. A tile that runs out of it (or whose worker dies, or whose worker's
        estimate is over ``ESTIMATE_SPLIT_FACTOR`` times it) is split in two along its
        longest side (:func:`~polyrank.split_tile`) and the halves are queued, recursively,
        up to ``tiling.MAX_SPLIT_DEPTH`` halvings (then MemoryBudgetError).
    progress : bool
        Progress bars over the tiles and the merge.
    overwrite : bool
        Replace a region store at ``path``. Without it a non-empty ``path`` is refused, except
        an unfinished run with the same arguments, which is resumed.
    n_workers : int, optional
        Size of the local pool (default: the cores this process may use; 1 runs in this process): ``n - 1``
        worker processes (forked from this process when no thread but polyrank's runs in
        it, else started by a fork server; ``POOL_START_METHOD``) and a thread of this
        process (``POOL_LOCAL_WORKER``; its tiles are held to ``max_memory`` but run in
        this process), each running the engine on ``cores // n`` threads. Ignored with
        ``client``.
    tol : float, optional
        Minimum inscribed-ball radius of a region, absolute (default
        ``enumerate.DEFAULT_TOL`` times the domain's size, as an untiled run).
    seed : int
        The sample that balances the tiles.

    Returns
    -------
    RegionStore

    Raises
    ------
    ValueError
        Unbounded domain, bad ``tiles``, ``method`` or ``layer``.
    FileExistsError
        ``path`` is not empty (and not resumable) and ``overwrite`` is False.
    PermissionError
        ``path`` cannot be written.
    ConnectionError
        No Dask scheduler answers at ``client``.
    MemoryBudgetError
        A tile still runs out of memory after ``tiling.MAX_SPLIT_DEPTH`` halvings (the
        finished tiles are kept; call again to resume).

    Notes
    -----
    Columns of the dataset: ``region`` (0..n-1), ``pattern`` (packed bits, see
    :func:`~polyrank.unpack_patterns`), ``rank_K`` and ``codeword_size_K`` for every layer,
    the witness ``x0..x{d-1}``, ``inradius`` (of the largest piece: a lower bound on the
    region's), ``volume``, ``bounded``, ``n_facets`` and ``facets`` (hidden unit ``u >= 0``
    in flat pattern order; domain row ``i`` as ``-1 - i``), and ``tiles`` (the tiles the
    region meets; ids into ``store._meta["tiles"]``, whose entries split for memory are
    listed in ``store._meta["split"]`` with their halves and the reason). A piece thinner
    than ``tol`` is dropped by its tile's engine: it loses at most its own (negligible)
    volume; the region is still found in its other tiles.

    Examples
    --------
    >>> import tempfile, os
    >>> net = pr.ReLUNetwork.from_weights([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], [[0.0, 0.0, -1.0]])
    >>> out = os.path.join(tempfile.mkdtemp(), "regions")
    >>> store = pr.write_regions(net, pr.Box(-2.0, 2.0, dim=2), out, tiles=(3, 3), n_workers=1, progress=False)
    >>> store.n_regions, round(store.total_volume(), 9)
    (7, 16.0)
    """
    from ._validation import check_layer, check_positive_int, check_tol
    from .enumerate import DEFAULT_TOL

    net = as_network(net)
    domain = check_bounded_domain(domain, "write_regions")
    if domain.dim != net.input_dim:
        raise ValueError(f"The 'domain' parameter of write_regions has dimension {domain.dim}, but the network "
                         f"has input dimension {net.input_dim}.")
    if method not in ("auto", "lp", "subdivision"):
        raise ValueError(f"The 'method' parameter of write_regions must be 'auto', 'lp' or 'subdivision'; "
                         f"got {method!r}.")
    K = check_layer(layer, net.n_layers)
    max_memory = check_positive_int(max_memory, name="max_memory", func="write_regions", allow_none=True)
    n_workers = check_positive_int(n_workers, name="n_workers", func="write_regions", allow_none=True)
    dlo, dhi = domain.bounding_box()
    tol = DEFAULT_TOL * float(np.max(dhi - dlo)) if tol is None else check_tol(tol, func="write_regions")
    tiles = check_tiles(tiles, net.input_dim, func="write_regions")
    fp = _fingerprint(net, domain, K, method, tiles, tol)
    client, own = _check_client(client)
    try:
        path, resume = _check_path(path, overwrite, fp)
        return _write(net, domain, path, resume, fp, tiles, client, method, K, max_memory, progress, n_workers,
                      tol, seed)
    finally:
        if own:
            client.close()


def _save_manifest(path, man):
    with open(os.path.join(path, _MANIFEST) + ".tmp", "w") as fh:
        json.dump(man, fh)
    os.replace(os.path.join(path, _MANIFEST) + ".tmp", os.path.join(path, _MANIFEST))


def _write(net, domain, path, resume, fp, tiles, client, method, K, max_memory, progress, n_workers, tol, seed):
    t0 = time.perf_counter()
    nw = max(1, len(client.scheduler_info().get("workers", {}))) if client is not None else (
        n_workers or subdivision.n_threads())
    pool = _LocalPool(nw) if client is None and nw > 1 else None
    try:
        if pool is not None:
            pool.prestart()  # the worker processes start (import polyrank) while the tiles are planned
        return _write_with(pool, nw, t0, net, domain, path, resume, fp, tiles, client, method, K, max_memory,
                           progress, tol, seed)
    finally:
        if pool is not None:
            pool.close()


def _write_with(pool, nw, t0, net, domain, path, resume, fp, tiles, client, method, K, max_memory, progress, tol,
                seed):
    work = os.path.join(path, _WORK)
    dlo, dhi = domain.bounding_box()
    d = net.input_dim
    budget = DEFAULT_TILE_MEMORY if max_memory is None else int(max_memory)
    if resume:
        with open(os.path.join(path, _MANIFEST)) as fh:
            man = json.load(fh)
    else:
        tl0 = tile_domain(net, domain, tiles=tiles, layer=K, max_memory=max_memory, n_workers=nw, seed=seed)
        upper = min(region_upper_bound(net, K), len(tl0) * budget / BYTES_PER_REGION)
        nbk = int(min(MAX_BUCKETS, max(len(tl0), -(-upper // MERGE_ROWS_PER_BUCKET))))
        man = dict(fingerprint=fp, format=STORE_FORMAT, tiles=[[t.lo.tolist(), t.hi.tolist()] for t in tl0],
                   n_buckets=nbk, depth=[0] * len(tl0), split={})
        _save_network(os.path.join(path, _NETWORK), net, domain)
        _save_manifest(path, man)
    man.setdefault("depth", [0] * len(man["tiles"]))
    man.setdefault("split", {})
    tl = {}

    def tile(i):
        if i not in tl:
            lo, hi = man["tiles"][i]
            tl[i] = make_tile(domain, np.array(lo, float), np.array(hi, float), i, dlo, dhi)
        return tl[i]

    def leaves():
        return [i for i in range(len(man["tiles"])) if str(i) not in man["split"]]

    def finished(i):
        return os.path.exists(os.path.join(work, f"tile-{i:06d}.json"))

    nbk = man["n_buckets"]
    # the local pool's workers share the cores: the engine of each gets its share of threads
    n_jobs = max(1, subdivision.n_threads() // nw) if client is None and nw > 1 else None
    check = d <= VOLUME_ESTIMATE_MAX_DIM and region_upper_bound(net, K) * BYTES_PER_REGION > budget
    # the workers' estimate of their tile is not needed where the plan already knows: the
    # tiles of tiles="auto" were cut until their estimate fit, and when one estimate of the
    # whole domain fits in one tile's budget no tile is expected over twice its own
    planned = tiles == "auto"
    if check and not planned:
        est = estimate_regions(net, domain, layer=K, n_samples=TILE_CHECK_SAMPLES, seed=seed)
        check = est * BYTES_PER_REGION > budget

    def task(i):
        return dict(tile=tile(i), net=net, K=K, d=d, n_buckets=nbk, work=work, method=method,
                    max_memory=max_memory, tol=tol, budget=budget, n_jobs=n_jobs,
                    kill_above=os.environ.get(_KILL_ENV),
                    check=bool(check and man["depth"][i] < MAX_SPLIT_DEPTH and not (planned and man["depth"][i] == 0)))

    def handle(t, res):
        i = t["tile"].index
        if "split" not in res or finished(i):
            return []
        if man["depth"][i] >= MAX_SPLIT_DEPTH:
            lo, hi = man["tiles"][i]
            raise MemoryBudgetError(
                f"Tile {i} (box {np.round(lo, 6).tolist()} .. {np.round(hi, 6).tolist()}) still runs out of memory "
                f"after {MAX_SPLIT_DEPTH} halvings ({res['split']}). Raise max_memory (now {budget} bytes) or the "
                "workers' memory, or decompose fewer layers. The finished tiles are kept: call write_regions "
                "again with the same arguments to resume.")
        kids = split_tile(tile(i), domain, len(man["tiles"]))
        for c in kids:
            tl[c.index] = c
            man["tiles"].append([c.lo.tolist(), c.hi.tolist()])
            man["depth"].append(man["depth"][i] + 1)
        man["split"][str(i)] = dict(children=[c.index for c in kids], reason=res["split"])
        _save_manifest(path, man)
        return [task(c.index) for c in kids]

    todo = [i for i in leaves() if not finished(i)]
    skipped = len(leaves()) - len(todo)
    try:
        _run_tiles([task(i) for i in todo], client, pool, progress, handle)
        t1 = time.perf_counter()
        done = leaves()
        mtasks = [dict(bucket=b, work=work, K=K, d=d, tiles=done, path=path) for b in range(nbk)]
        if pool is None and client is None:  # one merge after another here: the offsets follow
            merged, offset = [], 0
            for t in _progress(mtasks, progress, "merge"):
                t.update(offset=offset, file=f"part-{t['bucket']:05d}.parquet")
                merged.append(_merge_task(t))
                offset += merged[-1]["n"]
        else:  # in parallel: count each bucket's regions first (patterns only), then merge
            if pool is not None:
                counted = pool.map(_count_task, mtasks)
            else:
                counted = _run(_count_task, mtasks, client, 1, False)
            offset = 0
            for t, c in zip(mtasks, counted):
                t.update(offset=offset, file=f"part-{t['bucket']:05d}.parquet")
                offset += c["n"]
            if pool is not None:
                merged = pool.map(_merge_task, mtasks, progress=progress, desc="merge")
            else:
                merged = _run(_merge_task, mtasks, client, 1, progress)
            if [m["n"] for m in merged] != [c["n"] for c in counted]:  # pragma: no cover - same keys, same unique
                raise RuntimeError("write_regions: a merged part does not have the counted number of regions.")
        counts = [m["n"] for m in merged]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        parts = [dict(file=f"part-{b:05d}.parquet", n=int(counts[b]), offset=int(offsets[b]))
                 for b in range(nbk) if counts[b] > 0]
    finally:
        if pool is not None:
            pool.close()
    infos = []
    for i in done:
        with open(os.path.join(work, f"tile-{i:06d}.json")) as fh:
            infos.append({k: v for k, v in json.load(fh).items() if k != "groups"})
    meta = dict(format=STORE_FORMAT, n_regions=int(offsets[-1]), input_dim=d, widths=list(net.widths[:K]),
                layer=K, n_units=int(sum(net.widths[:K])), method=method, tol=tol, parts=parts,
                n_tiles=len(done), tiles=man["tiles"], leaves=done, split=man["split"], n_buckets=nbk,
                stats=dict(seconds=time.perf_counter() - t0, tile_seconds=t1 - t0, merge_seconds=time.perf_counter() - t1,
                           tiles_skipped=skipped, tiles_split=len(man["split"]),
                           start_method=None if pool is None else pool.start_method,
                           n_pieces=int(sum(i["n_pieces"] for i in infos)),
                           max_tile_pieces=int(max((i["n_pieces"] for i in infos), default=0)),
                           peak_rss_tiles=int(max([i["peak_rss"] for i in infos] + [0])),
                           peak_rss_workers=_per_worker_peaks(infos),
                           peak_rss_merge=int(max([m["peak_rss"] for m in merged] + [0])),
                           peak_rss_client=_peak_rss()))
    with open(os.path.join(path, _META) + ".tmp", "w") as fh:
        json.dump(meta, fh)
    os.replace(os.path.join(path, _META) + ".tmp", os.path.join(path, _META))
    shutil.rmtree(work, ignore_errors=True)
    os.remove(os.path.join(path, _MANIFEST))
    return RegionStore(path)


def _progress(items, progress, desc):
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc)


def _per_worker_peaks(infos):
    """{worker (host:pid): its peak RSS over the tiles it ran} (tiles of a resumed run included)."""
    out = {}
    for i in infos:
        w = i.get("worker", "?")
        out[w] = max(out.get(w, 0), int(i["peak_rss"]))
    return out


def _save_network(file, net, domain):
    arrs = {f"W{i}": W for i, W in enumerate(net.weights)}
    arrs.update({f"b{i}": b for i, b in enumerate(net.biases)})
    if net.readout is not None:
        arrs["readout_W"], arrs["readout_b"] = net.readout
    arrs["domain_A"], arrs["domain_b"] = domain.A, domain.b
    np.savez(file + ".tmp.npz", **arrs)
    os.replace(file + ".tmp.npz", file)


def read_regions(path) -> RegionStore:
    """Open a region store written by :func:`write_regions`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    RegionStore

    Raises
    ------
    FileNotFoundError
        No finished store at ``path`` (an interrupted run is resumed by calling
        :func:`write_regions` again).

    Examples
    --------
    >>> import tempfile, os
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> out = os.path.join(tempfile.mkdtemp(), "regions")
    >>> _ = pr.write_regions(net, pr.Box(-1.0, 1.0, dim=2), out, tiles=2, n_workers=1, progress=False)
    >>> pr.read_regions(out).rank_histogram()
    {0: 1, 1: 2, 2: 1}
    """
    return RegionStore(path)


def _read_part(f, columns=None):
    """One part file of a store as a pyarrow Table; a damaged or missing file is named in a
    ValueError instead of pyarrow's own error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(f, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise _damaged_part(f, exc, columns) from None


def _damaged_part(f, exc, columns=None):
    """The error for a part file pyarrow could not read: unknown columns when the file's schema
    lacks some of ``columns``, else a damaged store."""
    import pyarrow.parquet as pq

    if columns is not None:
        try:
            names = pq.read_schema(f).names
        except Exception:  # the file itself is damaged: reported below
            names = None
        if names is not None:
            missing = [c for c in columns if c not in names]
            if missing:
                return ValueError(f"The region store has no column(s) {missing}; its columns are {names}.")
    return ValueError(f"The region store's part file {f!r} cannot be read ({type(exc).__name__}: {exc}); the "
                      f"store is damaged. Write it again (write_regions(..., overwrite=True)).")


class RegionStore:
    """The regions of a network over a domain, on disk (a Parquet dataset).

    Written by :func:`write_regions`; opened by :func:`read_regions`. Nothing is loaded
    until asked for: counts and histograms stream over the files, :meth:`regions`
    rebuilds full :class:`~polyrank.Region` objects (with facets) for chosen ids only.

    Attributes
    ----------
    path : str
    n_regions : int
    layer : int
        Patterns of hidden layers 1..layer.
    n_units : int
        Length of a pattern.
    files : list of str
        The part files, in region order.
    stats : dict
        Timings and peak memory of the run that wrote the store.
    """

    def __init__(self, path):
        path = os.path.abspath(os.fspath(path))
        meta = os.path.join(path, _META)
        if not os.path.exists(meta):
            extra = (" It holds an unfinished run: call write_regions again with the same arguments to resume it."
                     if os.path.exists(os.path.join(path, _MANIFEST)) else "")
            raise FileNotFoundError(f"No polyrank region store at {path!r} (no {_META}).{extra}")
        try:
            with open(meta) as fh:
                self._meta = json.load(fh)
            self.n_regions = int(self._meta["n_regions"])
            self.layer = int(self._meta["layer"])
            self.n_units = int(self._meta["n_units"])
            self.stats = dict(self._meta.get("stats", {}))
            self._parts = self._meta["parts"]
            self.files = [os.path.join(path, str(p["file"])) for p in self._parts]
            self._offsets = np.array([int(p["offset"]) for p in self._parts] + [self.n_regions], dtype=np.int64)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # JSONDecodeError is a ValueError
            raise ValueError(f"The region store at {path!r} is damaged: its {_META} is not a polyrank store "
                             f"description ({type(exc).__name__}: {exc}). Write the store again "
                             f"(write_regions(..., overwrite=True)).") from None
        self.path = path
        self._net = self._domain = None

    def __len__(self):
        return self.n_regions

    def __repr__(self):
        return (f"RegionStore(path={self.path!r}, n_regions={self.n_regions}, layers=1..{self.layer}, "
                f"n_tiles={self._meta['n_tiles']})")

    @property
    def net(self) -> ReLUNetwork:
        """The enumerated network (saved with the store)."""
        self._load_network()
        return self._net

    @property
    def domain(self) -> Polytope:
        self._load_network()
        return self._domain

    def _load_network(self):
        if self._net is None:
            with np.load(os.path.join(self.path, _NETWORK)) as z:
                n = sum(1 for k in z.files if k.startswith("W"))
                ro = (z["readout_W"], z["readout_b"]) if "readout_W" in z.files else None
                self._net = ReLUNetwork([z[f"W{i}"] for i in range(n)], [z[f"b{i}"] for i in range(n)], ro)
                self._domain = Polytope(z["domain_A"], z["domain_b"])

    # ------------------------------------------------------------------ streaming
    def iter_batches(self, *, columns=None, batch_size=65536):
        """Yield the rows as pandas DataFrames of at most ``batch_size`` rows, in region order.

        Parameters
        ----------
        columns : list of str, optional
            Default all (see :func:`write_regions` for the columns).
        batch_size : int
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        for f in self.files:
            try:
                pf = pq.ParquetFile(f)
                missing = [c for c in columns or [] if c not in pf.schema_arrow.names]
                if missing:  # pyarrow would skip unknown columns without a word
                    raise _damaged_part(f, pa.ArrowInvalid("missing columns"), columns)
                batches = pf.iter_batches(batch_size=batch_size, columns=columns)
                for batch in batches:
                    frame = batch.to_pandas()
                    yield frame
            except (pa.ArrowException, OSError) as exc:
                raise _damaged_part(f, exc, columns) from None

    def _column_chunks(self, name):
        for f in self.files:
            yield _read_part(f, [name]).column(name).to_numpy()

    def rank_histogram(self, layer=None) -> dict:
        """``{rank: number of regions}`` at one layer (default the last), as
        :meth:`Decomposition.rank_histogram <polyrank.Decomposition.rank_histogram>`."""
        from ._validation import check_layer

        k = check_layer(layer, self.layer)
        total = {}
        for v in self._column_chunks(f"rank_{k}"):
            vals, counts = np.unique(v, return_counts=True)
            for a, c in zip(vals.tolist(), counts.tolist()):
                total[int(a)] = total.get(int(a), 0) + int(c)
        return dict(sorted(total.items()))

    def total_volume(self) -> float:
        """Sum of the region volumes (the domain's volume, up to rounding and ``tol`` slivers)."""
        return float(sum(float(np.sum(v)) for v in self._column_chunks("volume")))

    def to_frame(self, *, columns=None, lazy=False):
        """All rows as one DataFrame.

        Parameters
        ----------
        columns : list of str, optional
        lazy : bool
            Return a dask DataFrame (one partition per part file) instead of loading
            everything into a pandas DataFrame.

        Returns
        -------
        pandas.DataFrame or dask.dataframe.DataFrame
        """
        if lazy:
            import dask.dataframe as dd

            return dd.read_parquet(self.files, columns=columns)
        import pandas as pd

        if not self.files:
            return pd.DataFrame(columns=columns or [])
        frames = [_read_part(f, columns).to_pandas() for f in self.files]
        return pd.concat(frames, ignore_index=True)

    def patterns(self, ids=None) -> np.ndarray:
        """Bool patterns of shape (n, n_units) of the regions ``ids`` (default all)."""
        t = self._rows(ids, ["pattern"]) if ids is not None else None
        if t is None:
            import pyarrow as pa

            if not self.files:
                return np.zeros((0, self.n_units), bool)
            t = pa.concat_tables([_read_part(f, ["pattern"]) for f in self.files])
        return unpack_patterns(_packed(t), self.n_units)

    def _rows(self, ids, columns):
        """The rows of the given region ids (in the order given), as a pyarrow Table."""
        import pyarrow as pa

        ids = np.atleast_1d(np.asarray(ids))
        if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= self.n_regions):
            raise IndexError(f"Region ids must be ints in 0..{self.n_regions - 1}; got {ids[:5].tolist()}...")
        part = np.searchsorted(self._offsets, ids, side="right") - 1
        pieces, where = [], np.empty(len(ids), np.int64)
        base = 0
        for p in np.unique(part):
            sel = np.flatnonzero(part == p)
            t = _read_part(self.files[p], columns).take(pa.array(ids[sel] - self._offsets[p]))
            pieces.append(t)
            where[sel] = base + np.arange(len(sel))
            base += len(sel)
        if not pieces:
            return pa.table({c: [] for c in columns})
        return pa.concat_tables(pieces).take(pa.array(where))

    def regions(self, ids) -> list:
        """Rebuild full :class:`~polyrank.Region` objects from their patterns.

        The H-representation is derived from the pattern with the network's local affine
        maps, made irredundant with one facet LP per row (:func:`polyrank.lp.facet_centers`);
        the witness is the Chebyshev centre. About a millisecond per candidate row.

        Parameters
        ----------
        ids : int or array-like of int

        Returns
        -------
        list of Region
        """
        ids = np.atleast_1d(np.asarray(ids))
        K = self.layer
        cols = ["pattern"] + [f"rank_{k}" for k in range(1, K + 1)] + [f"codeword_size_{k}" for k in range(1, K + 1)]
        t = self._rows(ids, cols)
        P = unpack_patterns(_packed(t), self.n_units)
        R = np.stack([t.column(f"rank_{k}").to_numpy() for k in range(1, K + 1)], axis=1)
        S = np.stack([t.column(f"codeword_size_{k}").to_numpy() for k in range(1, K + 1)], axis=1)
        return [rebuild_region(self.net, self.domain, P[i], index=int(ids[i]), ranks=R[i], codeword_sizes=S[i],
                               tol=float(self._meta["tol"]))
                for i in range(len(ids))]


def _packed(t):
    col = t.column("pattern").combine_chunks()
    nb = col.type.byte_width
    n = len(col)
    return np.frombuffer(col.buffers()[1], np.uint8, count=n * nb, offset=col.offset * nb).reshape(n, nb)


def rebuild_region(net, domain, pattern, *, index=0, ranks=None, codeword_sizes=None, tol=None):
    """The :class:`~polyrank.Region` of one activation pattern, from scratch.

    Every hidden unit gives the half-space of its sign on the pattern (its pre-activation
    is affine there, through the local maps of the earlier layers); constant units are
    dropped; with the domain's rows and coincident rows removed, one facet LP per row
    keeps the facets (:func:`polyrank.lp.facet_centers`, radius above ``tol``).
    """
    from .exceptions import InfeasibleError
    from .lp import chebyshev_center, facet_centers
    from .regions import Region

    pattern = np.asarray(pattern, dtype=bool)
    d = net.input_dim
    n = len(pattern)
    rowsA, rowsb, units = [], [], []
    Ah, ah = np.eye(d), np.zeros(d)
    off, gmag = 0, 1.0
    layer_of, index_of = [], []
    for l, (W, bias) in enumerate(zip(net.weights, net.biases)):
        if off >= n:
            break
        M, m = W @ Ah, W @ ah + bias
        gmag *= float(np.abs(W).sum(axis=1).max())
        on = pattern[off: off + W.shape[0]]
        nrm = np.linalg.norm(M, axis=1)
        keep = nrm > ZERO_ROW_RTOL * gmag
        s = np.where(on, 1.0, -1.0)
        rowsA.append((-s[:, None] * M)[keep])
        rowsb.append((s * m)[keep])
        units.append(off + np.flatnonzero(keep))
        layer_of += [l + 1] * W.shape[0]
        index_of += list(range(W.shape[0]))
        Ah, ah = M * on[:, None], m * on
        off += W.shape[0]
    A = np.vstack(rowsA + [domain.A])
    b = np.concatenate(rowsb + [domain.b])
    u = np.concatenate(units + [-1 - np.arange(len(domain.b))])
    nrm = np.linalg.norm(A, axis=1)
    A, b = A / nrm[:, None], b / nrm
    # local frame: centre and size of the domain's bounding box
    lo, hi = domain.bounding_box()
    c, sc = 0.5 * (lo + hi), float(np.max(hi - lo))
    bl = (b - A @ c) / sc
    # coincident hyperplanes: keep the first (hidden units in order, then domain rows)
    keep = np.ones(len(bl), bool)
    for i in range(len(bl)):
        if keep[i]:
            dup = (np.abs(A[i + 1:] - A[i]).max(axis=1) <= COINCIDENT_RTOL) & (np.abs(bl[i + 1:] - bl[i]) <= COINCIDENT_RTOL)
            keep[i + 1:][dup] = False
    A, bl, u = A[keep], bl[keep], u[keep]
    tol_l = (1e-9 if tol is None else tol) / sc
    try:
        y, r = chebyshev_center(A, bl)
    except InfeasibleError:
        raise ValueError("The pattern is not a region: its polyhedron is empty.") from None
    if r <= tol_l:
        raise ValueError(f"The pattern is not a full-dimensional region (inradius {r * sc:.3g}).")
    _, radii = facet_centers(A, bl, np.arange(len(bl)))
    irr = np.flatnonzero(radii > tol_l)
    labels = tuple((layer_of[int(k)], index_of[int(k)]) if k >= 0 else (0, -1 - int(k)) for k in u[irr])
    x = c + sc * y
    Ai = A[irr]
    bi = sc * bl[irr] + Ai @ c
    if ranks is None or codeword_sizes is None:
        from .rank import matrix_rank

        offs = np.concatenate([[0], np.cumsum(net.widths)])
        K = int(np.searchsorted(offs, n))
        ranks = tuple(int(matrix_rank(net.local_affine(pattern, k)[0])) for k in range(1, K + 1))
        codeword_sizes = tuple(int(pattern[offs[k]: offs[k + 1]].sum()) for k in range(K))
    return Region(index=int(index), pattern=tuple(bool(v) for v in pattern), witness=x, inradius=float(sc * r),
                  A=Ai, b=bi, facets=labels, bounded=True, ranks=tuple(int(v) for v in ranks),
                  codeword_sizes=tuple(int(v) for v in codeword_sizes), _net=net)


def cli_write(args, net, domain):
    """``polyrank enumerate --out PATH [--tiles N] [--scheduler ADDRESS]``: write a region store
    and print the same summary as an in-memory enumeration."""
    tiles = args.tiles
    try:
        if tiles != "auto":
            parts = [int(t) for t in str(tiles).split(",")]
            tiles = parts[0] if len(parts) == 1 else tuple(parts)
    except ValueError:
        raise SystemExit(f"polyrank: --tiles must be 'auto', an int or cells per axis like 4,4; got {args.tiles!r}")
    try:
        st = write_regions(net, domain, args.out, tiles=tiles, client=args.scheduler, method=args.method,
                           layer=args.layer, max_memory=args.max_memory, progress=True, overwrite=args.overwrite)
    except (ValueError, TypeError, OSError, MemoryBudgetError) as exc:  # OSError: FileExists, Permission, Connection
        raise SystemExit(f"polyrank: {exc}")
    lo, hi = domain.bounding_box()
    print(f"network   {net.input_dim}-" + "-".join(map(str, net.widths)) +
          f"  (domain [{lo.min():g}, {hi.max():g}]^{net.input_dim})")
    print(f"regions   {st.n_regions}   ({st.stats['seconds']:.3f} s, {st._meta['n_tiles']} tiles, "
          f"method {args.method})")
    print("rank histogram per layer (rank: number of regions)")
    for K in range(1, st.layer + 1):
        hist = st.rank_histogram(K)
        print(f"  layer {K} (width {net.widths[K - 1]}): " + ", ".join(f"{r}: {c}" for r, c in hist.items()))
    print(f"wrote {st.path}")
    return 0
