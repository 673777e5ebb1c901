"""Tiled enumeration and the Parquet region store against untiled enumeration.

Independent truths: the untiled engines (LP traversal and subdivision) give the set of
patterns, ranks and facets; qhull gives every region's volume; the volumes of a
decomposition add up to the domain's volume.
"""

import os

import numpy as np
import pytest

import polyrank as pr
from conftest import random_net
from polyrank import store as store_mod
from polyrank import tiling as tiling_mod

pytest.importorskip("pyarrow")



def _key(p):
    return bytes(np.packbits(np.asarray(p, bool)))


def _labels(net, ids):
    names = net.neuron_ids()
    return {names[u] if u >= 0 else (0, -1 - u) for u in ids}


def _by_pattern(store):
    """{pattern key: row} of a whole store (small stores only)."""
    df = store.to_frame()
    P = store.patterns()
    return {_key(p): row for p, (_, row) in zip(P, df.iterrows())}


def assert_store_equals(store, dec, domain):
    """The store has the decomposition's regions: patterns, ranks and codeword sizes per
    layer, facets, and volumes (qhull on the untiled regions), adding up to the domain."""
    net = dec.net
    assert store.n_regions == len(dec)
    rows = _by_pattern(store)
    assert set(rows) == {_key(r.pattern) for r in dec}
    for K in range(1, dec.layer + 1):
        assert store.rank_histogram(K) == dec.rank_histogram(K)
    for r in dec:
        row = rows[_key(r.pattern)]
        for K in range(1, dec.layer + 1):
            assert row[f"rank_{K}"] == r.ranks[K - 1]
            assert row[f"codeword_size_{K}"] == r.codeword_sizes[K - 1]
        assert _labels(net, row["facets"]) == set(r.facets), r
        assert row["n_facets"] == len(set(r.facets))
        assert row["volume"] == pytest.approx(r.volume(), rel=1e-7, abs=1e-12 * domain.volume())
        w = np.array([row[f"x{j}"] for j in range(net.input_dim)])
        assert r.contains(w[None, :], tol=1e-9)[0]  # the witness lies in the region
        assert row["inradius"] > 0
    assert store.total_volume() == pytest.approx(domain.volume(), rel=1e-9)
    assert sorted(store.to_frame(columns=["region"])["region"]) == list(range(len(dec)))


@pytest.mark.parametrize("tiles", [(1, 1), (3, 3), (7, 2), 5, "auto"])
def test_tiled_equals_untiled_2d(tmp_path, tiles, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 2, [8, 6, 5])
    dom = pr.Box(-3.0, 3.0, dim=2)
    dec = pr.enumerate_regions(net, dom, method="lp")
    st = pr.write_regions(net, dom, tmp_path / "r", tiles=tiles, n_workers=1, progress=False)
    assert_store_equals(st, dec, dom)


def test_fine_grid_cuts_through_many_regions(tmp_path, global_random_seed):
    """A 9x9 grid of a small network: most regions are cut into several pieces."""
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 2, [6, 6])
    dom = pr.Box(-2.0, 2.0, dim=2)
    dec = pr.enumerate_regions(net, dom, method="lp")
    st = pr.write_regions(net, dom, tmp_path / "r", tiles=(9, 9), n_workers=1, progress=False)
    assert st.stats["n_pieces"] > 2 * len(dec)  # the merge had real work to do
    assert_store_equals(st, dec, dom)
    multi = st.to_frame(columns=["tiles"])["tiles"].map(len)
    assert multi.max() >= 4


def test_tiles_without_any_hyperplane(tmp_path):
    """Three lines in one corner of the square: most grid tiles see a single region piece."""
    net = pr.ReLUNetwork.from_weights([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], [[0.8, 0.8, 1.5]])
    dom = pr.Box(-1.0, 1.0, dim=2)
    dec = pr.enumerate_regions(net, dom, method="lp")
    assert len(dec) == 7
    st = pr.write_regions(net, dom, tmp_path / "r", tiles=(4, 4), n_workers=1, progress=False)
    assert_store_equals(st, dec, dom)
    big = [r for r in st.to_frame().itertuples() if len(r.tiles) > 1]
    assert max(len(r.tiles) for r in big) >= 12  # the all-active region spans the empty tiles


def test_polytope_domain_3d_subdivision_and_layer(tmp_path, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 3, [7, 6, 5])
    dom = pr.Simplex(np.array([[-2.0, -2.0, -2.0], [3.0, -1.0, -1.0], [-1.0, 3.0, -1.0], [-1.0, -1.0, 3.0]]))
    for layer in (2, None):
        dec = pr.enumerate_regions(net, dom, method="lp", layer=layer)
        st = pr.write_regions(net, dom, tmp_path / f"r{layer}", tiles=6, layer=layer, method="subdivision",
                              n_workers=1, progress=False)
        assert st.layer == dec.layer
        assert_store_equals(st, dec, dom)
    # the adaptive split of tiles="auto" on a simplex (boxes cut by the domain's faces)
    budget = int(len(dec) / 5 * pr.BYTES_PER_REGION)
    st = pr.write_regions(net, dom, tmp_path / "auto", tiles="auto", max_memory=budget, n_workers=1, progress=False)
    assert st._meta["n_tiles"] >= 4
    assert_store_equals(st, dec, dom)


def test_rebuilt_regions_equal_the_lp_engine(tmp_path, global_random_seed):
    """Facets, H-rep, Chebyshev witness and ranks of regions rebuilt from stored patterns."""
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 3, [6, 5])
    dom = pr.Box(-2.0, 2.0, dim=3)
    dec = pr.enumerate_regions(net, dom, method="lp")
    st = pr.write_regions(net, dom, tmp_path / "r", tiles=(2, 2, 2), n_workers=1, progress=False)
    by = {_key(r.pattern): r for r in dec}
    ids = rng.choice(st.n_regions, size=min(12, st.n_regions), replace=False)
    rebuilt = st.regions(ids)
    for i, r in zip(ids, rebuilt):
        ref = by[_key(r.pattern)]
        assert r.index == i
        assert set(r.facets) == set(ref.facets)
        rows = {f: (a, b) for f, a, b in zip(r.facets, r.A, r.b)}
        for f, a, b in zip(ref.facets, ref.A, ref.b):
            np.testing.assert_allclose(rows[f][0], a, atol=1e-9)
            assert rows[f][1] == pytest.approx(b, abs=1e-9)
        assert r.inradius == pytest.approx(ref.inradius, rel=1e-6)
        assert r.ranks == ref.ranks and r.codeword_sizes == ref.codeword_sizes
        assert r.volume() == pytest.approx(ref.volume(), rel=1e-9)
    # the stored facets are the rebuilt ones
    df = st.to_frame(columns=["region", "facets"]).set_index("region")
    for i, r in zip(ids, rebuilt):
        assert _labels(net, df.loc[i, "facets"]) == set(r.facets)


def _kill_after_tiles(n_tiles, monkeypatch, write):
    """Run ``write()`` (a store run) killed by a KeyboardInterrupt after its ``n_tiles``-th tile,
    as an interrupted run would be."""
    done = []

    def killer(index):
        done.append(index)
        if len(done) == n_tiles:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(store_mod, "_TILE_HOOK", killer)
    with pytest.raises(KeyboardInterrupt):
        write()
    monkeypatch.setattr(store_mod, "_TILE_HOOK", None)


def test_interrupted_run_resumes_to_the_same_store(tmp_path, monkeypatch, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 2, [8, 8])
    dom = pr.Box(-3.0, 3.0, dim=2)
    ref = pr.write_regions(net, dom, tmp_path / "ref", tiles=6, n_workers=1, progress=False)
    out = tmp_path / "run"
    _kill_after_tiles(3, monkeypatch, lambda: pr.write_regions(net, dom, out, tiles=6, n_workers=1, progress=False))
    with pytest.raises(FileNotFoundError, match="resume"):
        pr.read_regions(out)
    with pytest.raises(FileExistsError, match="different arguments"):
        pr.write_regions(net, dom, out, tiles=5, n_workers=1, progress=False)
    st = pr.write_regions(net, dom, out, tiles=6, n_workers=1, progress=False)
    assert st.stats["tiles_skipped"] == 3
    a, b = ref.to_frame(), st.to_frame()
    assert a.drop(columns=["facets", "tiles"]).equals(b.drop(columns=["facets", "tiles"]))
    assert [list(x) for x in a["facets"]] == [list(x) for x in b["facets"]]
    assert [list(x) for x in a["tiles"]] == [list(x) for x in b["tiles"]]
    assert not os.path.exists(out / "_work")


def test_local_pool_lazy_frame_and_batches(tmp_path, monkeypatch):
    """The local pool gives the serial store, also when its worker processes are killed on
    the larger tiles (as by the out-of-memory killer): those tiles are split and re-run."""
    rng = np.random.default_rng(1)
    net = random_net(rng, 2, [8, 8])
    dom = pr.Box(-3.0, 3.0, dim=2)
    dec = pr.enumerate_regions(net, dom, method="lp")
    big = max(np.prod(t.hi - t.lo) for t in pr.tile_domain(net, dom, tiles=4))
    # the default pool: worker processes and a thread of this process (which takes the tiles
    # while the processes start: here it may well run them all)
    three = pr.write_regions(net, dom, tmp_path / "c", tiles=4, n_workers=3, progress=False)
    assert_store_equals(three, dec, dom)
    # the same region ids as the serial run (whose merges write numbered parts at once)
    one = pr.write_regions(net, dom, tmp_path / "d", tiles=4, n_workers=1, progress=False)
    cols = ["region", "pattern", "volume", "tiles"]
    assert one.to_frame(columns=cols).equals(three.to_frame(columns=cols))
    # worker processes only: the one running the largest tile is killed
    monkeypatch.setattr(store_mod, "POOL_LOCAL_WORKER", False)
    monkeypatch.setenv(store_mod._KILL_ENV, str(0.99 * big))  # the largest tile's worker dies
    two = pr.write_regions(net, dom, tmp_path / "b", tiles=4, n_workers=2, progress=False)
    monkeypatch.delenv(store_mod._KILL_ENV)
    assert any(r.startswith("worker process died") for r in (v["reason"] for v in two._meta["split"].values()))
    assert_store_equals(two, dec, dom)
    lazy = two.to_frame(columns=["region", "volume"], lazy=True)
    assert int(lazy["region"].count().compute()) == two.n_regions
    assert float(lazy["volume"].sum().compute()) == pytest.approx(36.0)
    rows = sum(len(b) for b in two.iter_batches(columns=["volume"], batch_size=7))
    assert rows == two.n_regions
    again = pr.read_regions(tmp_path / "b")
    assert again.n_regions == two.n_regions and again.net.widths == net.widths


def _parent_hook(pid):
    def hook(index):  # the calling process's hook: it must not run in a worker process
        if os.getpid() != pid:
            raise AssertionError(f"tile {index}: the calling process's _TILE_HOOK ran in a worker process")
    return hook


@pytest.mark.parametrize("method", ["fork", "forkserver", pytest.param("spawn", marks=pytest.mark.slow)])
def test_pool_start_methods_give_the_serial_store(tmp_path, monkeypatch, method):
    """Worker processes forked from this process (which has run the engine: its kernels are
    loaded, its test hook set), forked by a server, or spawned: each runs
    the tiles (no thread worker here) and gives the serial store, row for row."""
    if method not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip(f"no {method} here")
    rng = np.random.default_rng(4)
    net = random_net(rng, 2, [8, 8])
    dom = pr.Box(-3.0, 3.0, dim=2)
    pr.enumerate_regions(net, dom, method="subdivision", n_jobs=2)  # (may start the engine's threads)
    one = pr.write_regions(net, dom, tmp_path / "one", tiles=5, n_workers=1, progress=False)
    monkeypatch.setattr(store_mod, "POOL_LOCAL_WORKER", False)
    monkeypatch.setattr(store_mod, "POOL_START_METHOD", method)
    monkeypatch.setattr(store_mod, "_TILE_HOOK", _parent_hook(os.getpid()))
    two = pr.write_regions(net, dom, tmp_path / "two", tiles=5, n_workers=2, progress=False)
    assert two.stats["start_method"] == method
    workers = list(two.stats["peak_rss_workers"])  # "host:pid" of the processes that ran tiles
    assert workers and all(w.rsplit(":", 1)[1] != str(os.getpid()) for w in workers)
    a, b = one.to_frame(), two.to_frame()
    assert a.drop(columns=["facets", "tiles"]).equals(b.drop(columns=["facets", "tiles"]))
    assert [list(x) for x in a["facets"]] == [list(x) for x in b["facets"]]


def test_pool_forks_only_without_foreign_threads(monkeypatch):
    """The pool forks its workers only while no thread but the caller and polyrank's own
    runs (another thread could hold a lock the child needs); otherwise a fork server or
    spawn; ``POOL_START_METHOD`` overrides."""
    import threading

    if "fork" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("no fork here")
    stop = threading.Event()
    ours = threading.Thread(target=stop.wait, name="polyrank-test", daemon=True)
    theirs = threading.Thread(target=stop.wait, name="user-thread", daemon=True)
    me = threading.current_thread()
    try:
        for t in (ours, theirs):
            t.start()
        monkeypatch.setattr(threading, "enumerate", lambda: [me])
        assert store_mod._pool_start_method() == "fork"
        monkeypatch.setattr(threading, "enumerate", lambda: [me, ours])
        assert store_mod._pool_start_method() == "fork"
        from tqdm.auto import tqdm

        for _ in tqdm(range(2), disable=False, mininterval=0):  # starts (or keeps) tqdm's monitor thread
            pass
        if tqdm.monitor is not None:
            monkeypatch.setattr(threading, "enumerate", lambda: [me, tqdm.monitor])
            assert store_mod._pool_start_method() == "fork"
        monkeypatch.setattr(threading, "enumerate", lambda: [ours, me, theirs])
        assert store_mod._pool_start_method() == store_mod._NO_FORK != "fork"
        monkeypatch.setattr(store_mod, "POOL_START_METHOD", "spawn")
        assert store_mod._pool_start_method() == "spawn"
    finally:
        stop.set()
        ours.join()
        theirs.join()


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(2)
    net = random_net(rng, 2, [8, 8])
    dom = pr.Box(-3.0, 3.0, dim=2)
    serial = pr.write_regions(net, dom, tmp_path / "s", tiles=5, n_workers=1, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        st = pr.write_regions(net, dom, tmp_path / "d", tiles=5, client=client, progress=False)
        st2 = pr.write_regions(net, dom, tmp_path / "e", tiles=5, client=cluster.scheduler_address, progress=False)
    for s in (st, st2):
        assert s.to_frame().drop(columns=["facets", "tiles"]).equals(
            serial.to_frame().drop(columns=["facets", "tiles"]))


def test_bad_input_fails_before_any_work(tmp_path, monkeypatch):
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    dom = pr.Box(-1.0, 1.0, dim=2)
    with pytest.raises(ValueError, match="bounded domain"):
        pr.write_regions(net, None, tmp_path / "a")
    with pytest.raises(ValueError, match="unbounded"):
        pr.write_regions(net, pr.Polytope([[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0]), tmp_path / "a")
    with pytest.raises(ValueError, match="method"):
        pr.write_regions(net, dom, tmp_path / "a", method="magic")
    with pytest.raises(ValueError, match="tiles"):
        pr.write_regions(net, dom, tmp_path / "a", tiles=(2, 0), n_workers=1, progress=False)
    assert not (tmp_path / "a").exists()  # validation comes before any file is written
    # output paths
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        pr.write_regions(net, dom, tmp_path / "file")
    with pytest.raises(PermissionError, match="not writable"):
        pr.write_regions(net, dom, tmp_path / "file" / "sub")
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.dat").write_text("precious")
    with pytest.raises(FileExistsError, match="not empty"):
        pr.write_regions(net, dom, other)
    with pytest.raises(FileExistsError, match="refusing to delete"):
        pr.write_regions(net, dom, other, overwrite=True)
    assert (other / "keep.dat").read_text() == "precious"
    st = pr.write_regions(net, dom, tmp_path / "s", tiles=2, n_workers=1, progress=False)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        pr.write_regions(net, dom, tmp_path / "s", tiles=2, n_workers=1, progress=False)
    st = pr.write_regions(net, dom, tmp_path / "s", tiles=3, n_workers=1, progress=False, overwrite=True)
    assert st.n_regions == 4 and st.rank_histogram() == {0: 1, 1: 2, 2: 1}
    # a dead scheduler: a clear error, nothing written
    pytest.importorskip("distributed")
    monkeypatch.setattr(store_mod, "CONNECT_TIMEOUT", 1)
    with pytest.raises(ConnectionError, match="no Dask scheduler answers"):
        pr.write_regions(net, dom, tmp_path / "never", client="tcp://127.0.0.1:1")
    assert not (tmp_path / "never").exists()
    with pytest.raises(TypeError, match="client"):
        pr.write_regions(net, dom, tmp_path / "never", client=3)
    with pytest.raises(IndexError, match="Region ids"):
        st.regions([7])


def test_merge_pieces_unit():
    """Two pieces of one region and one of another: volumes add, facets unite, best witness."""
    p = dict(pattern=np.array([[1], [2], [1]], np.uint8), ranks=np.array([[1], [2], [1]], np.int16),
             sizes=np.array([[1], [1], [1]], np.int16), witness=np.array([[0.0], [5.0], [1.0]]),
             inradius=np.array([0.1, 0.3, 0.2]), volume=np.array([1.0, 2.0, 0.5]),
             tile=np.array([0, 0, 1], np.int32), facet_ptr=np.array([0, 2, 3, 5]),
             facet_ids=np.array([3, -1, 4, 3, 0], np.int32))
    m = pr.merge_pieces(p)
    assert m["volume"].tolist() == [1.5, 2.0]
    assert m["witness"][:, 0].tolist() == [1.0, 5.0] and m["inradius"].tolist() == [0.2, 0.3]
    assert m["facet_ids"][m["facet_ptr"][0]: m["facet_ptr"][1]].tolist() == [-1, 0, 3]
    assert m["tile_ids"].tolist() == [0, 1, 0] and m["tile_ptr"].tolist() == [0, 2, 3]


def test_buckets_are_a_function_of_the_pattern():
    rng = np.random.default_rng(0)
    B = rng.integers(0, 256, size=(500, 13), dtype=np.uint8)
    b1 = pr.tiling.pattern_buckets(B, 7)
    b2 = pr.tiling.pattern_buckets(np.vstack([B[::-1], B])[500:], 7)
    assert (b1 == b2).all() and set(b1.tolist()) == set(range(7))


def test_kd_tiles_cover_the_domain_and_balance():
    rng = np.random.default_rng(0)
    net = random_net(rng, 2, [10, 10])
    dom = pr.Box(-4.0, 4.0, dim=2)
    ts = pr.tile_domain(net, dom, tiles=8, seed=0)
    assert len(ts) == 8
    assert sum(t.polytope.volume() for t in ts) == pytest.approx(dom.volume())
    X = dom.sample(4000, seed=1)
    inside = np.array([[t.polytope.contains(x[None, :], tol=0)[0] for t in ts] for x in X[:400]])
    assert (inside.sum(axis=1) >= 1).all()  # covered


def _load_naitzat(name):
    """Model 0 of a follow-up paper family, shipped with polyrank (polyrank/data/naitzat_models)."""
    return pr.data.load_naitzat_model(name.replace("_model_0", ""))


@pytest.mark.slow
def test_trained_d1_model_tiled_equals_untiled(tmp_path):
    net = _load_naitzat("D-I_model_0")
    dom = pr.Box(-10.0, 10.0, dim=2)
    dec = pr.enumerate_regions(net, dom)
    st = pr.write_regions(net, dom, tmp_path / "r", tiles=6, n_workers=1, progress=False)
    assert st.n_regions == len(dec) == 8468
    for K in range(1, net.n_layers + 1):
        assert st.rank_histogram(K) == dec.rank_histogram(K)
    assert st.total_volume() == pytest.approx(400.0, rel=1e-9)
    assert {_key(p) for p in st.patterns()} == {_key(p) for p in dec.patterns}


def test_enumerate_tile_halves_a_tile_over_the_engine_budget(global_random_seed):
    """enumerate_tile halves in-process (the engine's MemoryBudgetError) and merges the halves
    back: the tile's regions are the untiled ones."""
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 2, [12, 12, 12])
    dom = pr.Box(-3.0, 3.0, dim=2)
    dec = pr.enumerate_regions(net, dom, method="lp")
    budget = 2 ** 18
    with pytest.raises(pr.MemoryBudgetError):
        pr.enumerate_regions(net, dom, method="subdivision", max_memory=budget)
    t = pr.tile_domain(net, dom, tiles=1)[0]
    p = pr.enumerate_tile(net, t, method="subdivision", max_memory=budget)
    assert {bytes(r) for r in p["pattern"]} == {_key(r.pattern) for r in dec}
    assert float(p["volume"].sum()) == pytest.approx(36.0, rel=1e-9)


def _split_reasons(store):
    return [v["reason"].split(":")[0].split(" ")[0] for v in store._meta["split"].values()]


def test_tiny_tile_budget_splits_tiles_until_they_fit(tmp_path, global_random_seed):
    """A per-tile budget of a few regions: each worker's estimate of its tile is over it, so
    tiles are halved and re-queued, recursively; the store is the untiled decomposition,
    and the split tree is in the metadata (children cover their parent)."""
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 2, [8, 8, 6])
    dom = pr.Box(-3.0, 3.0, dim=2)
    dec = pr.enumerate_regions(net, dom, method="lp")
    budget = 12 * pr.BYTES_PER_REGION  # a dozen regions per tile (split at twice that)
    st = pr.write_regions(net, dom, tmp_path / "r", tiles=(2, 1), max_memory=budget, n_workers=1, progress=False)
    assert_store_equals(st, dec, dom)
    meta = st._meta
    assert st.stats["tiles_split"] == len(meta["split"]) >= 3
    # (the engine gets the same tiny budget: a tile the estimate let through may still stop
    # on the engine's MemoryBudgetError, and is split all the same)
    assert "estimated" in _split_reasons(st) and set(_split_reasons(st)) <= {"estimated", "MemoryBudgetError"}
    boxes = [np.array(b, float) for b in meta["tiles"]]
    for parent, info in meta["split"].items():
        lo, hi = boxes[int(parent)]
        kids = info["children"]
        assert sum(np.prod(boxes[c][1] - boxes[c][0]) for c in kids) == pytest.approx(np.prod(hi - lo))
        assert str(parent) not in map(str, meta["leaves"])
    assert sorted(meta["leaves"]) == sorted(set(range(len(boxes))) - {int(k) for k in meta["split"]})
    assert meta["n_tiles"] == len(meta["leaves"]) > 2
    used = {int(i) for ts in st.to_frame(columns=["tiles"])["tiles"] for i in ts}
    assert used <= set(meta["leaves"])


def test_engine_budget_and_memory_errors_split_tiles(tmp_path, monkeypatch, global_random_seed):
    """With the estimate switched off, the engine's MemoryBudgetError and a MemoryError (an
    allocation refused under the worker's memory guard) split the tile; a tile that keeps
    failing down to MAX_SPLIT_DEPTH halvings is a clear error, and finished tiles are kept."""
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 2, [12, 12, 12])
    dom = pr.Box(-3.0, 3.0, dim=2)
    dec = pr.enumerate_regions(net, dom, method="lp")
    monkeypatch.setattr(store_mod, "estimate_regions", lambda *a, **k: 0.0)
    st = pr.write_regions(net, dom, tmp_path / "a", tiles=1, method="subdivision", max_memory=2 ** 18,
                          n_workers=1, progress=False)
    assert st.stats["tiles_split"] >= 1 and set(_split_reasons(st)) == {"MemoryBudgetError"}
    assert_store_equals(st, dec, dom)

    real = store_mod.iter_tile_pieces

    def allocation_fails_on_big_tiles(net, tile, **kw):
        if np.prod(tile.hi - tile.lo) > 10.0:  # the domain has volume 36
            raise MemoryError("simulated: allocation refused")
        return real(net, tile, **kw)

    monkeypatch.setattr(store_mod, "iter_tile_pieces", allocation_fails_on_big_tiles)
    st = pr.write_regions(net, dom, tmp_path / "b", tiles=(3, 1), n_workers=1, progress=False)
    assert set(_split_reasons(st)) == {"MemoryError"}
    assert all(np.prod(np.subtract(*st._meta["tiles"][i][::-1])) <= 10.0 for i in st._meta["leaves"])
    assert_store_equals(st, dec, dom)

    # a tile that never fits: clear error naming the remedy, after MAX_SPLIT_DEPTH halvings
    monkeypatch.setattr(tiling_mod, "MAX_SPLIT_DEPTH", 2)
    monkeypatch.setattr(store_mod, "MAX_SPLIT_DEPTH", 2)
    monkeypatch.setattr(store_mod, "iter_tile_pieces", lambda *a, **k: (_ for _ in ()).throw(MemoryError("x")))
    with pytest.raises(pr.MemoryBudgetError, match="after 2 halvings.*Raise max_memory"):
        pr.write_regions(net, dom, tmp_path / "c", tiles=1, n_workers=1, progress=False)


def test_split_tiles_survive_an_interrupted_run(tmp_path, monkeypatch):
    """Interrupted after a few tiles of a run that splits: the resumed run keeps the finished
    tiles and the splits (from the manifest) and gives the untiled decomposition."""
    rng = np.random.default_rng(5)
    net = random_net(rng, 2, [8, 8, 6])
    dom = pr.Box(-3.0, 3.0, dim=2)
    budget = 12 * pr.BYTES_PER_REGION
    dec = pr.enumerate_regions(net, dom, method="lp")
    out = tmp_path / "run"
    _kill_after_tiles(3, monkeypatch, lambda: pr.write_regions(net, dom, out, tiles=(2, 1), max_memory=budget,
                                                               n_workers=1, progress=False))
    import json

    man = json.loads((out / "_manifest.json").read_text())
    assert len(man["split"]) >= 1  # splits were recorded before the interruption
    st = pr.write_regions(net, dom, out, tiles=(2, 1), max_memory=budget, n_workers=1, progress=False)
    assert st.stats["tiles_skipped"] == 3
    assert {k: v["children"] for k, v in man["split"].items()}.items() <= \
        {k: v["children"] for k, v in st._meta["split"].items()}.items()  # the recorded splits were kept
    assert_store_equals(st, dec, dom)


def test_inverse_region_volumes_are_the_regions_volumes(global_random_seed):
    """The volume behind each sample's weight is its region's (qhull on the LP engine's
    region), and the estimate is near the count (fixed seed, many samples)."""
    rng = np.random.default_rng(global_random_seed)
    for d, widths in ((2, [6, 5, 4]), (3, [5, 4])):
        net = random_net(rng, d, widths)
        dom = pr.Box(-2.0, 2.0, dim=d)
        dec = pr.enumerate_regions(net, dom, method="lp")
        by = {_key(r.pattern): r for r in dec}
        X = dom.sample(60, seed=rng)
        w = pr.inverse_region_volumes(net, X, dom)
        P = net.patterns(X, flat=True)
        for x, wi, p in zip(X, w, P):
            assert wi == pytest.approx(1.0 / by[_key(p)].volume(), rel=1e-8)
        est = pr.estimate_regions(net, dom, n_samples=4000, seed=1)
        assert 0.6 * len(dec) < est < 1.6 * len(dec)
    # layer=1 of the 2-D network: the first layer's arrangement only
    w1 = pr.inverse_region_volumes(net, X, dom, layer=1)
    assert np.all(w1 <= w + 1e-12)  # a layer-1 region contains the region of every deeper layer


def test_auto_tiles_are_small_where_regions_are_dense(tmp_path):
    """Ten lines through a small disc near one corner, and one far away: the adaptive k-d split
    of tiles="auto" gives the corner small tiles and the rest one large one, and the store is
    the untiled decomposition."""
    ang = np.linspace(0.0, np.pi, 10, endpoint=False)
    c = np.array([2.0, 2.0])
    W1 = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    b1 = -(W1 @ c) + np.linspace(-0.2, 0.2, 10)
    W1 = np.vstack([W1, [[1.0, 0.0]]])
    b1 = np.append(b1, 2.5)
    net = pr.ReLUNetwork.from_weights([W1, np.random.default_rng(0).normal(size=(4, 11))],
                                      [b1, np.random.default_rng(1).normal(size=4)])
    dom = pr.Box(-3.0, 3.0, dim=2)
    dec = pr.enumerate_regions(net, dom, method="lp")
    budget = int(len(dec) / 3 * pr.BYTES_PER_REGION)  # tiles="auto" plans for half of it: ~6 tiles' worth
    tiles = pr.tile_domain(net, dom, tiles="auto", max_memory=budget, seed=0)
    assert len(tiles) >= 4
    assert sum(t.polytope.volume() for t in tiles) == pytest.approx(dom.volume())
    vol_at = {tuple(p): next(t.polytope.volume() for t in tiles if t.polytope.contains(np.array([p]), tol=0)[0])
              for p in [(2.0, 2.0), (-2.5, -2.5)]}
    assert vol_at[(2.0, 2.0)] * 8 < vol_at[(-2.5, -2.5)]
    st = pr.write_regions(net, dom, tmp_path / "r", tiles="auto", max_memory=budget, n_workers=1, progress=False)
    assert_store_equals(st, dec, dom)


def test_memory_guard_turns_an_allocation_into_memory_error():
    pytest.importorskip("resource")
    if store_mod._vm_data() is None:
        pytest.skip("no /proc/self/status")
    # 1 GiB of address space against a 16 MiB allowance: robust to other threads of the test
    # process freeing memory between the guard's reading of VmData and the allocation
    # (np.empty touches no pages, so the allocation is cheap where it would succeed)
    with pytest.raises(MemoryError):
        with store_mod.memory_guard(16 * 2 ** 20):
            np.empty(2 ** 30 // 8)
    x = np.ones(64 * 2 ** 20 // 8)  # the limit is lifted after the block
    assert x.sum() == x.size


@pytest.mark.slow
def test_killed_dask_worker_splits_the_tile(tmp_path, monkeypatch):
    """A Dask worker process killed while it runs a big tile (SIGKILL, as the out-of-memory
    killer does): the scheduler gives up on the tile (KilledWorker), the tile is split and
    its halves run; the store is the untiled decomposition."""
    distributed = pytest.importorskip("distributed")
    import dask

    rng = np.random.default_rng(3)
    net = random_net(rng, 2, [8, 8])
    dom = pr.Box(-3.0, 3.0, dim=2)
    dec = pr.enumerate_regions(net, dom, method="lp")
    monkeypatch.setenv(store_mod._KILL_ENV, "10.0")  # tiles of volume > 10 (of 36) die
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        st = pr.write_regions(net, dom, tmp_path / "r", tiles=(2, 1), client=client, progress=False)
    assert "KilledWorker" in _split_reasons(st)
    assert_store_equals(st, dec, dom)


def test_region_volumes_of_a_region_whose_witness_is_on_a_facet():
    """The fallback for degenerate geometry: qhull refuses a witness on a facet (as it does
    for slivers of a trained network); the Chebyshev centre is used instead."""
    import dataclasses

    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2), method="lp")
    r = next(r for r in dec if all(r.pattern))  # the quadrant [0, 1]^2
    on_facet = dataclasses.replace(r, witness=np.array([0.0, 0.5]))
    from scipy.spatial import QhullError

    with pytest.raises(QhullError):
        dataclasses.replace(r, witness=np.array([0.0, 0.5])).volume()
    assert pr.tiling.region_volumes([on_facet, r]).tolist() == pytest.approx([1.0, 1.0])


def test_dask_worker_threads_share_one_memory_guard(monkeypatch):
    """On a Dask worker with k threads, k tiles run at once in one process: the soft
    RLIMIT_DATA (per process) is sized for k budgets (capped at the worker's room), set by the
    first tile in and lifted by the last one out, not by whichever tile ends first."""
    import resource
    import threading
    from types import SimpleNamespace

    if store_mod._vm_data() is None:
        pytest.skip("no /proc/self/status")
    limit = 64 * 2 ** 30
    for k in (1, 3):
        worker = SimpleNamespace(memory_manager=SimpleNamespace(memory_limit=limit), state=SimpleNamespace(nthreads=k))
        monkeypatch.setattr(store_mod, "_dask_worker", lambda: worker)
        room = int(store_mod.DASK_MEMORY_FRACTION * limit) - store_mod._rss()
        for budget in (2 ** 20, 2 ** 30, 2 ** 40):
            want = max(store_mod.GUARD_MIN_BYTES, min(k * budget, room))
            assert store_mod._guard_bytes({"budget": budget}) == want
    old = resource.getrlimit(resource.RLIMIT_DATA)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def tile_a():
        with store_mod._shared_guard(32 * 2 ** 20):
            a_in.set()
            b_in.wait(10)
            seen["a"] = resource.getrlimit(resource.RLIMIT_DATA)
        a_out.set()

    def tile_b():
        a_in.wait(10)
        with store_mod._shared_guard(10 ** 15):  # a later tile does not move the shared limit
            b_in.set()
            a_out.wait(10)  # tile a has left: the limit must still hold
            seen["b"] = resource.getrlimit(resource.RLIMIT_DATA)
            try:
                np.ones(128 * 2 ** 20 // 8)
                seen["alloc"] = "ok"
            except MemoryError:
                seen["alloc"] = "MemoryError"

    ts = [threading.Thread(target=tile_a), threading.Thread(target=tile_b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert seen["a"] == seen["b"] != old and seen["a"][0] != resource.RLIM_INFINITY
    assert seen["alloc"] == "MemoryError"
    assert resource.getrlimit(resource.RLIMIT_DATA) == old  # lifted by the last one out
    assert store_mod._GUARD_STATE["n"] == 0


def _piece_tables_both_paths(net, dom, tiles, monkeypatch):
    """Per tile: the piece table read off the engine's arrays, and the one read off the
    Region objects of the same decomposition (regions reassigned: the arrays are dropped)."""
    used = []
    from_arrays = tiling_mod._piece_columns_from_arrays
    monkeypatch.setattr(tiling_mod, "_piece_columns_from_arrays",
                        lambda *a: used.append(1) or from_arrays(*a))
    K = net.n_layers
    out = []
    for tile in pr.tile_domain(net, dom, tiles=tiles):
        blo, bhi = tile.polytope.bounding_box()
        dec = pr.enumerate_regions(net, tile.polytope, method="subdivision",
                                   tol=pr.enumerate.DEFAULT_TOL * tile.scale / float(np.max(bhi - blo)))
        n_used = len(used)
        fast = tiling_mod._pieces(net, dec, tile, K)
        assert len(used) == n_used + (len(dec) > 0)  # the arrays path ran
        dec.regions = list(dec.regions)
        slow = tiling_mod._pieces(net, dec, tile, K)
        assert len(used) == n_used + (len(dec) > 0)  # and the Region path the second time
        out.append((fast, slow))
    return out


@pytest.mark.parametrize("d, tiles", [(2, (3, 2)), (3, (2, 2, 1))])
def test_pieces_from_engine_arrays_equal_the_region_path(d, tiles, monkeypatch, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, d, [7, 6])
    dom = pr.Box(-1.5, 1.5, dim=d)
    pairs = _piece_tables_both_paths(net, dom, tiles, monkeypatch)
    _assert_same_pieces(pairs, dom)


def test_pieces_from_engine_arrays_equal_the_region_path_trained_model(monkeypatch):
    net = _load_naitzat("D-I_model_0")
    dom = pr.Box(-2.0, 2.0, dim=2)
    pairs = _piece_tables_both_paths(net, dom, (3, 2), monkeypatch)
    _assert_same_pieces(pairs, dom)


def _assert_same_pieces(pairs, dom):
    for fast, slow in pairs:
        assert set(fast) == set(slow)
        for key in fast:
            assert fast[key].dtype == slow[key].dtype, key
            if key == "volume":
                np.testing.assert_allclose(fast[key], slow[key], rtol=1e-12, atol=0)
            else:
                np.testing.assert_array_equal(fast[key], slow[key], err_msg=key)
    merged = tiling_mod.merge_pieces(tiling_mod.concat_pieces([f for f, _ in pairs]))
    # tiles cut through regions: some region is made of pieces from several tiles
    assert (np.diff(merged["tile_ptr"]) > 1).any()
    # and the volumes, read without Region objects, still fill the domain
    assert merged["volume"].sum() == pytest.approx(dom.volume(), rel=1e-9)


def _constant_unit_net(c):
    """u1 = u2 = relu(x1 + 2) (on over [-1, 1]^2) and z = u1 - u2 + c: a unit whose
    gradient is exactly 0 and whose constant is c."""
    return pr.ReLUNetwork.from_weights([[[1.0, 0.0], [1.0, 0.0]], [[1.0, -1.0]]], [[2.0, 2.0], [c]])


@pytest.mark.parametrize("method", ["subdivision", "lp"])
def test_tiles_judge_a_tiny_constant_unit_as_the_untiled_run(tmp_path, method):
    # Issue 13 (D-II model 0 with 8 tiles gave 1 227 550 regions, untiled 1 227 549): the
    # engines call a unit constant below ZERO_ROW_RTOL of the layer's gradient bound and
    # zero below ZERO_ROW_RTOL of its gradient + constant bound, both in the local frame.
    # Here |z| = c lies near that of the whole square (8e-12) and those of the tiles (from
    # 5e-12 on the left of (3, 5) tiles to 1e-11 on the right of (2, 1)): each tiling gave
    # two patterns before, z on in some tiles and off in others.
    # Every tile now works in the domain's frame and decides as the untiled run.
    from polyrank._numerics import ZERO_ROW_RTOL, local_network, zero_thresholds

    dom = pr.Box(-1.0, 1.0, dim=2)
    for c in (4e-12, 7.5e-12):
        net = _constant_unit_net(c)
        lnet = local_network(net, 2, dom.center, 2.0)
        # the threshold of the whole square, by hand: row sums 2 (layer 1 in y) and 2,
        # constants 2 and c: ZERO_ROW_RTOL * (2 * 2 + 2 * 2 + c) in x units
        zc_whole = ZERO_ROW_RTOL * (8.0 + c)
        scale = lnet.biases[1][0] / c  # the scaled units' power of two
        assert zero_thresholds(lnet, 2)[1][1] == pytest.approx(zc_whole * scale, rel=1e-12)
        dec = pr.enumerate_regions(net, dom, method=method)
        want = {_key([1, 1, int(c > zc_whole)])}
        assert {_key(r.pattern) for r in dec} == want
        for tiles in [(2, 1), (3, 5)]:
            st = pr.write_regions(net, dom, tmp_path / f"{method}-{c}-{tiles}", tiles=tiles, method=method,
                                  n_workers=1, progress=False)
            assert st.n_regions == len(dec) == 1, (c, tiles)
            assert {_key(p) for p in st.patterns()} == want, (c, tiles)
            assert st.total_volume() == pytest.approx(4.0, rel=1e-12)


def test_frame_is_the_domains_and_is_checked(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 2, [6, 5])
    dom = pr.Box(-2.0, 1.0, dim=2)
    lo, hi = dom.bounding_box()
    tile = pr.tile_domain(net, dom, tiles=(3, 2))[4]
    x0, s = tile.frame
    assert np.array_equal(x0, (lo + hi) / 2) and s == 3.0
    # the default frame is the domain's own: passing it changes nothing
    for m in ("subdivision", "lp"):
        a = pr.enumerate_regions(net, dom, method=m)
        b = pr.enumerate_regions(net, dom, method=m, frame=(dom.center, 3.0))
        assert [_key(r.pattern) for r in a] == [_key(r.pattern) for r in b]
    for bad in ((np.zeros(3), 1.0), (np.zeros(2), 0.0), (np.zeros(2), -1.0), 5.0, (np.zeros(2), np.nan)):
        with pytest.raises(ValueError, match="frame"):
            pr.enumerate_regions(net, dom, frame=bad)
        with pytest.raises(ValueError, match="frame"):
            pr.subdivision.enumerate_subdivision(net, dom, frame=bad)


def test_closed_pool_thread_writes_nothing(tmp_path):
    """A tile or merge task of the pool's thread whose pool was closed (an interrupted run)
    stops before it writes: no tile file, no marker, no part lands in the directory (a later
    run there would take them for its own). An open pool's thread writes as usual."""
    import threading

    rng = np.random.default_rng(3)
    net = random_net(rng, 2, [6, 6])
    dom = pr.Box(-2.0, 2.0, dim=2)
    tile = pr.tile_domain(net, dom, tiles=2)[0]
    task = dict(tile=tile, net=net, K=net.n_layers, d=2, n_buckets=2, work=str(tmp_path), method="subdivision",
                max_memory=None, tol=None, budget=1 << 30, n_jobs=1, kill_above=None, check=False)
    ident = threading.get_ident()
    store_mod._CANCELLED.add(ident)
    try:
        with pytest.raises(store_mod._Cancelled, match="interrupted"):
            store_mod._tile_task(task)
        assert not [f for f in os.listdir(tmp_path) if not f.endswith(".tmp")]
    finally:
        store_mod._CANCELLED.discard(ident)
    info = store_mod._tile_task(task)  # the same task, not cancelled
    assert info["n_pieces"] > 0 and os.path.exists(tmp_path / f"tile-{tile.index:06d}.json")
