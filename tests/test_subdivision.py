"""The subdivision engine against independent truths: the LP engine (a second method),
Zaslavsky's count, volumes summing to the domain's, forward-pass patterns at witnesses."""

from math import comb

import numpy as np
import pytest

import polyrank as pr
from conftest import int_net, random_net
from polyrank import subdivision
from polyrank.exceptions import MemoryBudgetError, RegionLimitError
from polyrank.regions import pattern_key


@pytest.fixture(autouse=True)
def _many_chunks(monkeypatch):
    """Every test here runs the threaded path: 3 threads, chunks of any size (so even
    small complexes are split), whatever the machine's cores."""
    monkeypatch.setattr(subdivision, "PARALLEL_MIN_CHUNK", 1)
    monkeypatch.setattr(subdivision, "DEFAULT_N_JOBS", 3)


def _net(rng, d, widths, *, integer=False, **kw):
    """Gaussian, or integers in -1..1, weights and biases (see conftest)."""
    return int_net(rng, d, widths, -1, 1, **kw) if integer else random_net(rng, d, widths, **kw)


def _graph(dec, labels=True):
    """Adjacency as a set of (pattern, pattern, label) independent of region numbering."""
    keys = [pattern_key(r.pattern) for r in dec.regions]
    return {(min(keys[i], keys[j]), max(keys[i], keys[j]), lab if labels else None)
            for i, j, lab in dec.edges}


def _rows(r):
    return {tuple(np.round(np.append(a, b), 7)) for a, b in zip(r.A, r.b)}


def _lp(net, domain):
    """The LP engine as the reference (a second, independent method)."""
    return pr.enumerate_regions(net, domain, method="lp")


def _assert_same(lp, sd, labels=True):
    """Same regions, ranks, facets and graph. ``labels=False`` (coincident hyperplanes):
    which of two coincident units names a facet is not compared (the LP engine's qhull
    path names either; on the domain's boundary the subdivision engine names the domain
    row, the LP engine the unit); the facet hyperplanes and the graph's edges still are."""
    assert sd.method == "subdivision"
    assert len(sd) == len(lp)
    by_lp = {pattern_key(r.pattern): r for r in lp.regions}
    by_sd = {pattern_key(r.pattern): r for r in sd.regions}
    assert by_lp.keys() == by_sd.keys()
    for k, r in by_sd.items():
        q = by_lp[k]
        assert r.ranks == q.ranks
        assert r.codeword_sizes == q.codeword_sizes
        assert r.bounded == q.bounded
        assert _rows(r) == _rows(q)
        if labels:
            assert set(r.facets) == set(q.facets)
    assert _graph(sd, labels) == _graph(lp, labels)


def _assert_certified(dec):
    net = dec.net.truncate(dec.layer)
    W = np.array([r.witness for r in dec.regions])
    P = net.patterns(W, flat=True)
    Z = np.concatenate(net.preactivations(W, layer=dec.layer), axis=1)
    for r, p, z in zip(dec.regions, P, Z):
        # a unit identically zero on the region is inactive (exactly z = 0); the float
        # forward pass may round it to +-1e-16 at the witness, and only there may differ
        differ = np.asarray(p) != np.asarray(r.pattern)
        assert np.all(np.abs(z[differ]) <= 1e-12)
        assert r.inradius > 0
        # the witness is at least inradius inside every facet (a certified lower bound)
        assert np.all(r.A @ r.witness + r.inradius <= r.b + 1e-9)
        assert np.allclose(np.linalg.norm(r.A, axis=1), 1.0)


@pytest.mark.parametrize("d, widths", [(2, (6, 5)), (2, (4, 4, 3)), (3, (5, 4)), (4, (4, 3))])
def test_same_as_lp_engine_random(d, widths, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, widths)
    box = pr.Box(-2.0, 2.0, dim=d)
    lp = _lp(net, box)
    sd = pr.enumerate_regions(net, box, method="subdivision")
    _assert_same(lp, sd)
    _assert_certified(sd)


@pytest.mark.parametrize("d, widths, kind", [
    (2, (5, 4), "integer"), (2, (5, 4), "zero_bias"), (2, (5, 4), "duplicate"),
    (3, (4, 4), "integer"), (3, (4, 3), "zero_bias"), (3, (4, 3), "duplicate"),
    (4, (4, 3), "zero_bias"),
])
def test_same_as_lp_engine_degenerate(d, widths, kind, global_random_seed):
    """Vertices exactly on hyperplanes (integer weights in an integer box), several
    hyperplanes through one point (zero biases), duplicated and dead neurons."""
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, widths, **{kind: True})
    box = pr.Box(-2.0, 2.0, dim=d)
    lp = _lp(net, box)
    sd = pr.enumerate_regions(net, box, method="subdivision")
    # coincident hyperplanes: both engines name the first unit, or the domain side
    _assert_same(lp, sd, labels=True)
    _assert_certified(sd)


def test_hyperplanes_through_a_box_corner():
    # x + y = 2 passes through the corner (1, 1) of [-1, 1]^2, x = y through two corners,
    # and the second layer repeats the first unit: 2 regions of the x = y cut only.
    net = pr.ReLUNetwork.from_weights([[[1.0, 1.0], [1.0, -1.0]], [[1.0, 0.0], [1.0, 0.0]]],
                                      [[-2.0, 0.0], [0.0, 0.0]])
    box = pr.Box(-1.0, 1.0, dim=2)
    sd = pr.enumerate_regions(net, box, method="subdivision")
    assert len(sd) == 2
    assert sorted(r.volume() for r in sd) == pytest.approx([2.0, 2.0])
    _assert_same(_lp(net, box), sd, labels=False)


@pytest.mark.parametrize("d", [2, 3, 4])
def test_volumes_sum_to_domain(d, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, (8, 6) if d < 4 else (6, 4))
    box = pr.Box(-1.5, 2.0, dim=d)
    sd = pr.enumerate_regions(net, box, method="subdivision")
    assert sd.total_volume() == pytest.approx(box.volume(), rel=1e-9)
    simplex = pr.Simplex(np.vstack([np.zeros(d), 3.0 * np.eye(d)]) - 1.0)
    sd = pr.enumerate_regions(net, simplex, method="subdivision")
    assert sd.total_volume() == pytest.approx(simplex.volume(), rel=1e-9)


def test_polytope_domain_same_as_lp(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, 2, (6, 5))
    hexagon = pr.Polytope(np.array([[np.cos(t), np.sin(t)] for t in np.arange(6) * np.pi / 3]), np.ones(6))
    lp = _lp(net, hexagon)
    sd = pr.enumerate_regions(net, hexagon, method="subdivision")
    _assert_same(lp, sd)
    assert sd.total_volume() == pytest.approx(hexagon.volume(), rel=1e-9)


@pytest.mark.parametrize("d, n", [(2, 7), (3, 8), (4, 8), (2, 1), (3, 2)])
def test_zaslavsky_one_layer_all_of_space(d, n, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, (n,))
    sd = pr.enumerate_regions(net, None, method="subdivision")
    assert len(sd) == sum(comb(n, i) for i in range(d + 1))
    # bounded regions of a generic arrangement: C(n - 1, d)
    assert sum(r.bounded for r in sd) == comb(n - 1, d)
    assert all(lab[0] == 1 for r in sd for lab in r.facets)  # no artificial box rows
    _assert_certified(sd)


@pytest.mark.parametrize("d, widths", [(2, (5, 4)), (3, (4, 3))])
def test_all_of_space_same_as_lp(d, widths, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, widths)
    lp = _lp(net, None)
    sd = pr.enumerate_regions(net, None, method="subdivision")
    _assert_same(lp, sd)


def test_sampled_patterns_are_found_and_layer_option(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, 3, (8, 8, 8))
    box = pr.Box(-1.0, 1.0, dim=3)
    sd = pr.enumerate_regions(net, box, method="subdivision")
    found = {r.pattern for r in sd}
    X = box.sample(4000, seed=rng)
    assert {tuple(p) for p in net.patterns(X, flat=True)} <= found
    sd1 = pr.enumerate_regions(net, box, layer=1, method="subdivision")
    assert {r.pattern for r in sd1} == {p[:8] for p in found}


def test_max_regions_and_partial():
    rng = np.random.default_rng(0)
    net = _net(rng, 2, (8, 8))
    box = pr.Box(-2.0, 2.0, dim=2)
    full = pr.enumerate_regions(net, box, method="subdivision")
    with pytest.raises(RegionLimitError, match="max_regions"):
        pr.enumerate_regions(net, box, method="subdivision", max_regions=len(full) - 1)
    part = pr.enumerate_regions(net, box, method="subdivision", max_regions=5, partial=True)
    assert part.partial and 0 < len(part) <= 5
    assert {r.pattern for r in part} <= {r.pattern for r in full}


def test_memory_budget():
    rng = np.random.default_rng(0)
    net = _net(rng, 3, (8, 8))
    with pytest.raises(MemoryBudgetError, match="max_memory"):
        subdivision.enumerate_subdivision(net, pr.Box(-2.0, 2.0, dim=3), max_memory=10_000)
    dec = subdivision.enumerate_subdivision(net, pr.Box(-2.0, 2.0, dim=3), max_memory=10 ** 8)
    assert len(dec) > 1
    # the public entry point forwards the budget
    with pytest.raises(MemoryBudgetError, match="max_memory"):
        pr.enumerate_regions(net, pr.Box(-2.0, 2.0, dim=3), method="subdivision", max_memory=10_000)


def test_bad_arguments_and_applies():
    net11 = pr.ReLUNetwork.from_weights([np.ones((2, 11))], [np.zeros(2)])
    with pytest.raises(ValueError, match="input dimension 1..10"):
        subdivision.enumerate_subdivision(net11)
    net2 = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    with pytest.raises(ValueError, match="'tol'"):
        subdivision.enumerate_subdivision(net2, tol=-1.0)
    with pytest.raises(ValueError, match="'max_memory'"):
        subdivision.enumerate_subdivision(net2, max_memory=0)
    assert subdivision.applies(net2, None)
    assert subdivision.applies(net2, pr.Box(-1.0, 1.0, dim=2))
    assert not subdivision.applies(net11, pr.Box(-1.0, 1.0, dim=11))
    assert not subdivision.applies(net2, pr.Polytope([[1.0, 0.0]], [1.0]))  # unbounded: LP engine
    assert pr.enumerate_regions(net2, pr.Box(-1.0, 1.0, dim=2)).method == "subdivision"


def test_ranks_never_increase_with_depth_seed_38():
    """rank A_l <= rank A_{l-1} (A_l = W_l D_{l-1} A_{l-1}). This network has a region
    whose layer-3 map has a second singular value rounded to just above the numpy
    threshold; all three rank paths must cap it by the layer-2 rank."""
    rng = np.random.default_rng(38)
    net = _net(rng, 2, (4, 4, 3))
    box = pr.Box(-2.0, 2.0, dim=2)
    for method in ("lp", "subdivision"):
        dec = pr.enumerate_regions(net, box, method=method)
        R = np.array([r.ranks for r in dec.regions])
        assert np.all(np.diff(R, axis=1) <= 0)
        W = np.array([r.witness for r in dec.regions])
        assert np.array_equal(pr.rank.ranks_at(net, W), R)


def test_objects_built_on_demand_agree_with_the_arrays():
    """len, patterns and ranks() read the engine's arrays; the Region objects built later
    (or by pickling) must hold the same values, and networkx sees the same edges."""
    import pickle

    rng = np.random.default_rng(3)
    net = _net(rng, 2, (6, 5))
    dec = pr.enumerate_regions(net, pr.Box(-2.0, 2.0, dim=2), method="subdivision")
    n, P, R = len(dec), dec.patterns, dec.ranks(2)
    assert dec._regions is None  # nothing built yet
    back = pickle.loads(pickle.dumps(dec))
    for d2 in (dec, back):
        assert len(d2.regions) == n
        assert np.array_equal(np.array([r.pattern for r in d2.regions]), P)
        assert np.array_equal(np.array([r.ranks[1] for r in d2.regions]), R)
        assert [r.index for r in d2.regions] == list(range(n))
        assert d2.graph.number_of_edges() == len(d2.edges) > 0



@pytest.mark.parametrize("domain", ["box", None])
def test_edges_false_gives_the_same_regions_without_adjacency(domain, global_random_seed):
    """edges=False (what write_regions' tiles use) skips only the neighbour pass: the same
    regions, rows, witnesses and ranks as the default run, and no edges to read."""
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, 3, (6, 5, 4))
    dom = pr.Box(-2.0, 2.0, dim=3) if domain else None
    full = subdivision.enumerate_subdivision(net, dom)
    bare = subdivision.enumerate_subdivision(net, dom, edges=False)
    assert len(bare) == len(full) and len(full.edges) > 0
    for key in ("patterns", "ranks", "A", "b", "witnesses", "row_offsets", "row_ids", "bounded", "inradius"):
        assert np.array_equal(bare._arrays[key], full._arrays[key]), key
    assert "edges" not in bare._arrays
    assert [r.volume() for r in bare.regions if r.bounded] == [r.volume() for r in full.regions if r.bounded]
    with pytest.raises(ValueError, match="edges=False"):
        bare.edges
    with pytest.raises(TypeError, match="'edges'"):
        subdivision.enumerate_subdivision(net, dom, edges="no")

def _assorted(seed):
    """A network and domain drawn from ``seed``: input dimension 2-4, 1-3 hidden layers of
    2-5 units, integer / zero-bias / duplicated / Gaussian weights, over all of R^d, a box
    or a random polytope."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 5))
    widths = [int(w) for w in rng.integers(2, 6, size=int(rng.integers(1, 4)))]
    kind = ["integer", "zero_bias", "duplicate", None][seed % 4]
    net = _net(rng, d, widths, **({kind: True} if kind else {}))
    if seed % 3 == 0:
        dom = None
    elif seed % 3 == 1:
        dom = pr.Box(-2.0, 2.0, dim=d)
    else:
        dom = pr.Polytope(rng.normal(size=(d + 2, d)), np.abs(rng.normal(size=d + 2)) + 0.5)
        if not dom.bounded:
            dom = pr.Box(-1.0, 1.5, dim=d)
    return net, dom


@pytest.mark.parametrize("case", range(12))
def test_engines_agree_on_assorted_networks(case, global_random_seed):
    """The two engines on an assortment of networks (see ``_assorted``). Run with
    POLYRANK_TEST_SEEDS=all for 1200 networks."""
    net, dom = _assorted(1000 * global_random_seed + case)
    _assert_same(_lp(net, dom), pr.enumerate_regions(net, dom, method="subdivision"), labels=False)


@pytest.mark.parametrize("seed", [381, 788])
def test_engines_agree_where_the_lp_engine_kept_a_weakly_redundant_row(seed):
    """Found by a 1500-network run of the comparison above: the LP engine reported a row
    touching a region only along a lower-dimensional face as a facet (and an edge across
    it). 788: three planes through one segment (qhull's triangulated duplicates of a
    vertex gave the segment a spread above the covariance-eigenvalue noise floor); 381: a
    cone over R^4 (vertices ~1e3 out in the artificial box, spread ~1e-10). The subdivision
    engine had them right."""
    net, dom = _assorted(seed)
    _assert_same(_lp(net, dom), pr.enumerate_regions(net, dom, method="subdivision"), labels=False)


@pytest.mark.parametrize("d, domain", [(2, "box"), (3, None)])
def test_every_threaded_pass_matches_one_thread_with_one_cell_chunks(d, domain, monkeypatch, global_random_seed):
    """Chunks of a single cell (facet row) in every pass that runs on threads (layer kernel,
    next maps, rank certificates, facet and neighbour passes): the same decomposition, bit
    for bit, as one thread."""
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, (6, 5, 4))
    dom = pr.Box(-3.0, 3.0, dim=d) if domain else None
    ref = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=1)
    bounds, pmap, pstream, chunked = subdivision._bounds, subdivision._pmap, subdivision._pstream, set()

    def seen(fn):  # which kernels ran on chunks
        chunked.update(fn.__code__.co_names)  # the kernel a chunk calls: a global, or a closure cell
        chunked.update(getattr(c.cell_contents, "__name__", "") for c in fn.__closure__ or ())
        for c in fn.__closure__ or ():  # or what the function in a cell calls (a layer's pieces)
            chunked.update(getattr(getattr(c.cell_contents, "__code__", None), "co_names", ()))

    def spy(fn, b, n_jobs):
        seen(fn)
        return pmap(fn, b, n_jobs)

    def spy_stream(fn, n, n_jobs, after=None):
        if n > 1:
            seen(fn)
        return pstream(fn, n, n_jobs, after)

    monkeypatch.setattr(subdivision, "_bounds", lambda n, n_jobs, min_chunk=1: bounds(n, n_jobs, 1))
    monkeypatch.setattr(subdivision, "_min_chunk", lambda kind, d: 1)
    monkeypatch.setattr(subdivision, "_pmap", spy)
    monkeypatch.setattr(subdivision, "_pstream", spy_stream)
    monkeypatch.setattr(subdivision, "_omp_threads", _no_numba_threads)  # the pool's chunks, not numba's threads
    dec = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=3)
    assert np.array_equal(dec.patterns, ref.patterns) and np.array_equal(dec.ranks(), ref.ranks())
    assert dec.edges == ref.edges
    for r, q in zip(dec.regions, ref.regions):
        assert np.array_equal(r.A, q.A) and np.array_equal(r.b, q.b) and r.facets == q.facets
        assert np.array_equal(r.witness, q.witness) and r.inradius == q.inradius and r.ranks == q.ranks
    assert {"_layer_kernel", "_next_maps", "_certified_ranks", "_finish_kernel", "_neighbor_kernel"} <= chunked, chunked


def _duplicate_net(seed):
    """random_net with duplicated units, its input dimension (2-4) and widths drawn first."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 5))
    widths = tuple(int(x) for x in rng.integers(3, 8, size=int(rng.integers(1, 4))))
    return random_net(rng, d, widths, duplicate=True)


@pytest.mark.parametrize("d, n_units", [(1, 0), (2, 48), (3, 61), (5, 7), (6, 130)])
def test_box_cell_is_the_box(d, n_units):
    """The initial cell of a box, from its corners: 2^d distinct corners, each on the d rows
    A x <= b that its bitset names (and off the others), d 2^(d-1) edges between corners
    one coordinate apart, and the candidate rows (a, c), a.x + c >= 0 inside, of the box."""
    rng = np.random.default_rng(d)
    lo, hi = -rng.uniform(0.5, 2, d), rng.uniform(0.5, 2, d)
    V, F, E, Cid, Crow, scale = subdivision._box_cell(hi, lo, n_units)
    assert len({tuple(v) for v in V}) == 2 ** d and scale == np.max(hi - lo)
    A, b = -Crow[:, :d], Crow[:, d]
    assert np.array_equal(A, np.vstack([np.eye(d), -np.eye(d)])) and np.array_equal(b, np.concatenate([hi, -lo]))
    on = np.isclose(V @ A.T, b, rtol=0, atol=1e-15)
    bits = np.array([[(int(F[i, int(g) >> 6]) >> (int(g) & 63)) & 1 for g in Cid] for i in range(len(V))], bool)
    assert np.array_equal(on, bits) and (bits.sum(axis=1) == d).all() and (V @ A.T <= b).all()
    assert len(E) == d * 2 ** (d - 1) and len({tuple(e) for e in E.tolist()}) == len(E)
    assert ((V[E[:, 0]] != V[E[:, 1]]).sum(axis=1) == 1).all()
    assert np.array_equal(Cid, n_units + np.arange(2 * d))


@pytest.mark.parametrize("off", [3e-10, -3e-10])
def test_a_cut_along_a_coincident_candidate_keeps_the_cell_whole(off):
    """A neuron whose hyperplane is one of a cell's candidate facets cuts nothing, even when
    the cell's vertices on that facet are off it by more than the snap (they were
    interpolated along long edges): the cell stays one cell, with its vertices, on the
    candidate's side. Before COINCIDENT_RTOL the cut put one vertex on each side and cut a
    flat sliver off the cell (two cells here), splitting the facet's vertices between the
    two ids. Independent truth: the square [0, 1] x [-1, 1] and the line x_0 = 0."""
    V, F, E, Cid, Crow, _ = subdivision._box_cell(np.array([1.0, 1.0]), np.array([0.0, -1.0]), 2)
    on = V[:, 0] == 0.0
    V = V.copy()
    V[np.flatnonzero(on)[0], 0] = off  # the vertices on the facet x_0 = 0, off by 3e-10
    V[np.flatnonzero(on)[1], 0] = -off
    H = np.array([[[0.0, 1.0, 1.5], [1.0, 0.0, 0.0]]])  # unit 0 does not cut; unit 1 is the facet
    vo, eo, co = (np.array([0, len(x)]) for x in (V, E, Cid))
    out = subdivision._layer_kernel(V, F, vo, E, eo, Cid, Crow, co, H, 0, 1e-300, 0.0, subdivision.VERTEX_SNAP,
                                    1.0, 1 << 40, np.zeros(1, np.int64), 1.0)
    oV, oB = out[0], out[8]
    assert len(oB) == 1 and oB[0].tolist() == [True, True]
    assert len(oV) == 4 and np.array_equal(np.sort(oV, axis=0), np.sort(V, axis=0))
    # a hyperplane next to the facet but not on it (1e-9 inside) still cuts the cell
    H[0, 1, 2] = -1e-9
    out = subdivision._layer_kernel(V, F, vo, E, eo, Cid, Crow, co, H, 0, 1e-300, 0.0, subdivision.VERTEX_SNAP,
                                    1.0, 1 << 40, np.zeros(1, np.int64), 1.0)
    assert len(out[8]) == 2


def test_scaled_copies_name_the_first_units_facet_as_the_lp_engine():
    """Found by comparing the engines on networks whose units copy others scaled by 2, -3,
    0.25, ... (seed 338 of that comparison: 4-5-7-7 over R^4, 932 regions): 12 regions
    named a facet by the copy (3, 3) where the LP engine names the first unit (3, 0), with
    the regions and the edges the same. The copy's cut split the facet's vertices between
    the two ids (COINCIDENT_RTOL)."""
    rng = np.random.default_rng(338)
    d = int(rng.integers(2, 6))
    widths = [int(x) for x in rng.integers(3, 8, size=int(rng.integers(1, 4)))]
    Ws, bs, prev = [], [], d
    for w in widths:
        W, b = rng.normal(size=(w, prev)), rng.normal(size=w)
        for _ in range(int(rng.integers(1, max(2, w // 2)))):
            i, j = rng.choice(w, 2, replace=False)
            f = float(rng.choice([-3.0, -1.0, -0.5, 0.25, 2.0, 7.0]))
            W[j], b[j] = f * W[i], f * b[i]
        Ws.append(W)
        bs.append(b)
        prev = w
    net = pr.ReLUNetwork(Ws, bs)
    _assert_same(pr.enumerate_regions(net, None, method="lp"), pr.enumerate_regions(net, None, method="subdivision"))


@pytest.mark.parametrize("seed", [181, 3, 11])
def test_no_flat_cell_between_duplicated_units_is_a_region(seed, monkeypatch):
    """Found by comparing the engines over R^d on networks with duplicated units (seed 181:
    4-7-5-7, the LP engine 726 regions, the subdivision engine 728). The two extra cells lay
    flat between a unit and its copy, on opposite sides of their common hyperplane, with
    one facet; the Chebyshev LP on that facet's row alone saw the half-space beyond it and
    kept them, witnesses far outside the box. Independent truths: a region contains its
    witness (the network gives it the region's pattern there), and a unit and its copy
    have the same pre-activation, so the same bit, everywhere. The copy's cut no longer
    makes such cells (COINCIDENT_RTOL): none reaches the certification's guard."""
    net = _duplicate_net(seed)
    flat = []
    certify = subdivision._certify_cells

    def spy(cells, g0, k0, isfac, co, lb, wit, tol_abs, d):
        cum = np.concatenate([[0], np.cumsum(isfac)])
        flat.append(int((cum[co[1:]] - cum[co[:-1]] < d + 1).sum()))
        return certify(cells, g0, k0, isfac, co, lb, wit, tol_abs, d)

    monkeypatch.setattr(subdivision, "_certify_cells", spy)
    dec = pr.enumerate_regions(net, None, method="subdivision")
    assert flat and not any(flat)
    P = dec.patterns
    assert np.array_equal(net.patterns(np.array([r.witness for r in dec.regions]), flat=True), P)
    for l in range(net.n_layers):  # the last unit of every layer copies the first
        o, w = int(net.offsets[l]), net.widths[l]
        assert np.array_equal(P[:, o], P[:, o + w - 1]), l
    assert all(len(r.facets) >= 1 for r in dec.regions)


@pytest.mark.slow
def test_duplicated_units_over_r_d_as_the_lp_engine():
    """The network of the test above against the LP engine, region for region."""
    net = _duplicate_net(181)
    _assert_same(pr.enumerate_regions(net, None, method="lp"),
                 pr.enumerate_regions(net, None, method="subdivision"), labels=False)


def _assert_one_threads_ranks(dec, ref, d):
    """``dec`` (several threads) has the ranks, patterns and edges of ``ref`` (one thread),
    and its ranks obey the cap rule rank A_l <= rank A_{l-1} <= d."""
    assert np.array_equal(dec.ranks(), ref.ranks()) and np.array_equal(dec.patterns, ref.patterns)
    assert [r.ranks for r in dec.regions] == [r.ranks for r in ref.regions]
    assert dec.edges == ref.edges
    R = np.array([r.ranks for r in dec.regions])
    assert (np.diff(R, axis=1) <= 0).all() and (R <= d).all() and (R > 0).any()


def _no_numba_threads(*args, **kwargs):
    """``_omp_threads`` where numba has no thread-safe layer: the small layers' ranks wait for a
    pool thread (the path the tests below check)."""
    return 0


@pytest.mark.parametrize("d, domain", [(2, "box"), (3, "box"), (2, None)])
def test_ranks_left_to_a_pool_thread_are_one_threads(d, domain, monkeypatch, global_random_seed):
    """With several threads the small layers' ranks are computed by a pool thread while
    the facets and neighbours are found (run(defer_ranks=True)): every region's ranks
    are those of one thread, and so is the rest, bit for bit; and the deferred path ran."""
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, (7, 6, 5))
    dom = pr.Box(-3.0, 3.0, dim=d) if domain else None
    ref = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=1)
    filled, fill = [], subdivision._fill_ranks

    def spy(pending, *args):
        filled.extend(p[0] for p in pending)
        return fill(pending, *args)

    monkeypatch.setattr(subdivision, "_fill_ranks", spy)
    monkeypatch.setattr(subdivision, "_omp_threads", _no_numba_threads)
    dec = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=2)
    # every layer of this small net waited (over R^d, once per box run: a box found too small
    # is run again, larger, and its waiting ranks are computed all the same)
    K = net.n_layers
    assert filled and filled == list(range(K)) * (len(filled) // K), filled
    _assert_one_threads_ranks(dec, ref, d)


def test_ranks_of_a_pool_thread_raise_in_the_caller(monkeypatch):
    """An error in the deferred ranks reaches the caller (no silent zero ranks)."""
    net = pr.as_network(pr.train.mlp(2, [6, 6], seed=0))

    def boom(*args):
        raise FloatingPointError("rank pass failed")

    monkeypatch.setattr(subdivision, "_fill_ranks", boom)
    monkeypatch.setattr(subdivision, "_omp_threads", _no_numba_threads)
    with pytest.raises(FloatingPointError, match="rank pass failed"):
        pr.enumerate_regions(net, pr.Box(-3.0, 3.0, dim=2), method="subdivision", n_jobs=2)


@pytest.mark.parametrize("d, domain, max_regions", [(2, "box", None), (2, None, None), (3, "box", 12)])
def test_waiting_ranks_are_resolved_in_order_when_a_later_layer_cannot_wait(d, domain, max_regions, monkeypatch,
                                                                             global_random_seed):
    """Only the first layer's maps fit KEEP_MAPS_BYTES, so only its ranks may wait: the second
    layer's rank cap needs them, and they are computed in the calling thread first (no pool
    thread left with work); with max_regions the truncated complex goes the same way. Every
    region's ranks, pattern and edges are those of one thread."""
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, (7, 6, 5))
    dom = pr.Box(-3.0, 3.0, dim=d) if domain else None
    kw = dict(method="subdivision", partial=max_regions is not None)
    if max_regions is not None:
        kw["max_regions"] = max_regions
    monkeypatch.setattr(subdivision, "KEEP_MAPS_BYTES", 8 * 7 * (d + 1))  # layer 1's maps: one cell
    ref = pr.enumerate_regions(net, dom, n_jobs=1, **kw)
    synced, pooled = [], []
    layer_ranks, fill = subdivision._layer_ranks, subdivision._fill_ranks

    def spy_layer_ranks(pending, *args, **kw):
        synced.append([p[0] for p in pending])
        return layer_ranks(pending, *args, **kw)

    def spy_fill(pending, *args):
        pooled.extend(p[0] for p in pending)
        return fill(pending, *args)

    monkeypatch.setattr(subdivision, "_layer_ranks", spy_layer_ranks)
    monkeypatch.setattr(subdivision, "_fill_ranks", spy_fill)
    monkeypatch.setattr(subdivision, "_omp_threads", _no_numba_threads)
    dec = pr.enumerate_regions(net, dom, n_jobs=2, **kw)
    assert [0] in synced and not pooled, (synced, pooled)  # layer 1 waited, then was resolved here
    assert dec.partial == ref.partial == (max_regions is not None)
    _assert_one_threads_ranks(dec, ref, d)


def test_ranks_of_a_box_found_too_small_are_not_left_running(monkeypatch):
    """Over R^d a box found too small is run again, larger: the ranks its run left to a pool
    thread are read by no one, and they must not still run when the enumeration returns
    (nor be lost silently while running: the caller may fork, or read the pool's state).
    Here the first box's rank pass is slowed down; every rank pass that started has ended
    by the time enumerate_regions returns, and the answer is one thread's."""
    import threading
    import time

    net = random_net(np.random.default_rng(2), 2, (7, 6, 5))  # R^d: two boxes (the first too small)
    ref = pr.enumerate_regions(net, None, method="subdivision", n_jobs=1)
    runs, started, ended = [], [], []
    run, fill = subdivision._Run.run, subdivision._fill_ranks

    def spy_run(self, defer_ranks=False):
        runs.append(defer_ranks)
        return run(self, defer_ranks)

    def slow_fill(*args):
        started.append(threading.get_ident())
        if len(started) == 1:
            time.sleep(0.3)
        try:
            return fill(*args)
        finally:
            ended.append(threading.get_ident())

    monkeypatch.setattr(subdivision._Run, "run", spy_run)
    monkeypatch.setattr(subdivision, "_fill_ranks", slow_fill)
    monkeypatch.setattr(subdivision, "_omp_threads", _no_numba_threads)
    dec = pr.enumerate_regions(net, None, method="subdivision", n_jobs=3)
    assert runs.count(True) >= 2  # the case: a box found too small
    assert len(ended) == len(started) >= 1, (started, ended)
    assert np.array_equal(dec.ranks(), ref.ranks()) and np.array_equal(dec.patterns, ref.patterns)
    assert dec.edges == ref.edges


@pytest.mark.parametrize("n_jobs", [1, 2, 5])
def test_thread_stream_keeps_item_order_and_raises_the_first_error(n_jobs):
    """The engine's thread runner (the calling thread and a pool claim items in order): the
    results come back in item order whatever the items' durations, ``after`` sees every
    item once, in order, only after the item and all before it finished; an exception in an
    item reaches the caller."""
    import threading
    import time

    finished, seen = set(), []
    lock = threading.Lock()

    def item(t):
        time.sleep(0.002 * ((7 * t) % 5))  # later items often finish first
        with lock:
            finished.add(t)
        return t * t

    def after(t):
        assert all(u in finished for u in range(t + 1))
        seen.append(t)

    assert subdivision._pstream(item, 23, n_jobs, after) == [t * t for t in range(23)]
    assert seen == list(range(23))

    def bad(t):
        if t == 5:
            raise ValueError("item 5")
        return t

    with pytest.raises(ValueError, match="item 5"):
        subdivision._pstream(bad, 12, n_jobs)


@pytest.mark.parametrize("n_jobs", [2, 3])
def test_thread_runner_stops_the_pool_when_the_caller_leaves_early(n_jobs):
    """An exception in the calling thread outside the items (in after(), or Ctrl-C while it
    waits) reaches the caller only once the items under way are done, and no item starts
    afterwards: the pool threads must not go on with the rest of the pass in the background."""
    import threading
    import time

    lock = threading.Lock()
    started, finished = [], []

    def item(t):
        with lock:
            started.append(time.perf_counter())
        time.sleep(0.002)
        with lock:
            finished.append(time.perf_counter())

    def after(t):
        if t == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        subdivision._pstream(item, 200, n_jobs, after)
    left = time.perf_counter()
    time.sleep(0.1)  # room for any thread still going
    with lock:
        assert len(started) < 200
        assert all(t <= left for t in started) and all(t <= left for t in finished)


@pytest.mark.parametrize("domain", ["box", None])
def test_same_answer_for_any_number_of_threads(domain, global_random_seed):
    """1, 2 and 5 threads, chunks of any size: the same regions in the same order, with
    bit-identical witnesses, H-representations and edges."""
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, 3, (7, 6, 5))
    dom = pr.Box(-2.0, 2.0, dim=3) if domain else None
    decs = [pr.enumerate_regions(net, dom, method="subdivision", n_jobs=n) for n in (1, 2, 5)]
    ref = decs[0]
    for dec in decs[1:]:
        assert np.array_equal(dec.patterns, ref.patterns)
        assert dec.edges == ref.edges
        for r, q in zip(dec.regions, ref.regions):
            assert np.array_equal(r.A, q.A) and np.array_equal(r.b, q.b)
            assert np.array_equal(r.witness, q.witness) and r.inradius == q.inradius
            assert r.ranks == q.ranks and r.facets == q.facets and r.bounded == q.bounded
    with pytest.raises(ValueError, match="'n_jobs'"):
        pr.enumerate_regions(net, dom, method="subdivision", n_jobs=0)


@pytest.mark.parametrize("d, widths, kind", [(2, (8, 8), None), (3, (8, 8), None), (3, (6, 6, 6), None),
                                             (4, (6, 6), None), (3, (6, 6), "zero_bias")])
def test_box_check_skips_only_polyhedra_without_outside_vertices(d, widths, kind, monkeypatch, global_random_seed):
    """Over R^d the box check skips qhull for cells certified (by rays along their edges)
    to have no vertex outside the box: qhull, run on every box-reaching cell, finds none
    outside the box for each skipped one, the certificate skips some, and the answer is
    the one of the check without skips (box, regions, witnesses)."""
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, d, widths, zero_bias=kind == "zero_bias")
    calls = []
    check = subdivision._outside_vertex_extent

    def spy(run, pat, centre, R, seen, floor=np.inf):
        # the box cells and their witnesses: those of the full facet pass
        _, _, _, wit, _, onbox = subdivision._facet_pass(list(run.cells), run.d, run.box_id0, run.n, 1, [])[:6]
        wit_b, onbox_b = subdivision._box_cells(run)
        assert np.array_equal(onbox_b, onbox) and np.array_equal(wit_b[onbox], wit[onbox])
        full, skipped = {}, {}
        check(run, pat, centre, R, full)  # qhull on every box-reaching cell
        check(run, pat, centre, R, skipped, np.inf if floor == np.inf else 1e300)  # skip every certified cell
        calls.append((R, full, skipped))
        return check(run, pat, centre, R, seen, floor)

    monkeypatch.setattr(subdivision, "_outside_vertex_extent", spy)
    dec = pr.enumerate_regions(net, None, method="subdivision")
    monkeypatch.setattr(subdivision, "_outside_vertex_extent", lambda run, pat, centre, R, seen, floor=np.inf:
                        check(run, pat, centre, R, seen))
    ref = pr.enumerate_regions(net, None, method="subdivision")
    n_skipped = 0
    for R, full, skipped in calls:
        assert set(skipped) <= set(full)
        for key in set(full) - set(skipped):
            assert full[key] <= R * (1 + 1e-9), (R, full[key])
            n_skipped += 1
    assert n_skipped > 0
    assert dec.stats["box_halfwidth"] == ref.stats["box_halfwidth"]
    assert np.array_equal(dec.patterns, ref.patterns) and dec.edges == ref.edges
    for r, q in zip(dec.regions, ref.regions):
        assert np.array_equal(r.witness, q.witness) and np.array_equal(r.A, q.A) and r.bounded == q.bounded


def test_first_layer_gap_certificate_never_hides_a_gap():
    """The compiled certificate that first_layer_gap is None (1-D and 2-D, issue 15) says so
    only where first_layer_gap itself finds nothing: random, integer, nearly parallel and
    nearly concurrent first layers, over boxes and R^d, at tolerances 1e-10..1e-4. It must
    also certify most general-position layers (else it saves nothing)."""
    from polyrank._numerics import first_layer_gap

    rng = np.random.default_rng(15)
    certified = found = 0
    for t in range(400):
        d, n = int(rng.integers(1, 3)), int(rng.integers(1, 30))
        W, b = rng.normal(size=(n, d)), rng.normal(size=n)
        if t % 4 == 1:
            W, b = rng.integers(-2, 3, size=(n, d)).astype(float), rng.integers(-2, 3, size=n).astype(float)
        elif t % 4 == 2 and n >= 2:  # two nearly parallel, nearly coincident hyperplanes
            W[1] = W[0] * rng.uniform(0.5, 2) + rng.normal(size=d) * 10.0 ** rng.uniform(-14, -3)
            b[1] = b[0] * np.linalg.norm(W[1]) / np.linalg.norm(W[0]) + 10.0 ** rng.uniform(-14, -5)
        elif t % 4 == 3 and n >= 3 and d == 2:  # three lines nearly through one point
            p = rng.normal(size=2)
            b[:3] = -(W[:3] @ p) + rng.normal(size=3) * 10.0 ** rng.uniform(-13, -6)
        if not np.any(W):
            continue
        net = pr.ReLUNetwork.from_weights([W], [b])
        limit = 10.0 ** rng.uniform(-10, -4)
        Ad = np.vstack([np.eye(d), -np.eye(d)]) if t % 3 else np.zeros((0, d))
        bd = np.full(2 * d, rng.uniform(0.5, 5)) if t % 3 else np.zeros(0)
        cert = subdivision._no_first_layer_gap(W, b, np.ascontiguousarray(Ad), bd, limit)
        gap = first_layer_gap(net, Ad, bd, limit)
        found += gap is not None
        certified += cert
        assert not (cert and gap is not None), (t, d, n, limit, gap)
    assert found > 40 and certified > 100


def _first_box(net):
    """The first box of the search over R^d (as enumerate_subdivision sizes it), the local
    network, its zero thresholds and its first box's subdivision."""
    from polyrank._numerics import local_frame, local_network, scaled_units, zero_thresholds

    d, K = net.input_dim, net.n_layers
    x0, s = local_frame(scaled_units(net, K), None, np.zeros(d))
    lnet = local_network(net, K, x0, s)
    zero = zero_thresholds(lnet, K)
    R = 2.0 * (1.0 + 1e-6) * max(1.0, subdivision._layer1_extent(lnet))
    eye = np.eye(d)
    run = subdivision._Run(lnet, K, np.vstack([eye, -eye]), np.full(2 * d, R), int(lnet.offsets[K]),
                           subdivision.VERTEX_SNAP, 1.0, zero, 2 ** 33, 10 ** 7, False, False, 1)
    pat, _ = run.run()
    return lnet, K, zero, R, run, pat


@pytest.mark.parametrize("d, widths, kind", [(2, (8, 8), None), (3, (8, 8), None), (3, (6, 6, 6), None),
                                             (4, (6, 6), None), (3, (6, 6), "zero_bias"), (3, (5, 5), "integer")])
def test_face_check_matches_the_first_box_subdivision(d, widths, kind, monkeypatch, global_random_seed):
    """Over R^d the first box is checked through its faces' subdivisions, without its own:
    the faces give exactly the patterns of the first box's cells that reach the box (read
    off that box's subdivision by the facet pass); a pattern certified by the faces' rays
    has no polyhedron vertex outside the box (qhull on its full polyhedron); the compiled
    cut that screens the others finds qhull's extents; the largest extent is the one of
    the check on the first box's own subdivision (qhull on every box-reaching cell)."""
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, widths, integer=kind == "integer", zero_bias=kind == "zero_bias")
    lnet, K, zero, R, run, pat = _first_box(net)
    _, _, _, wit, _, onbox = subdivision._facet_pass(list(run.cells), run.d, run.box_id0, run.n, 1, [])[:6]
    box_keys = {p.tobytes() for p in pat[onbox]}
    full = {}
    old = subdivision._outside_vertex_extent(run, pat, np.zeros(d), R, full)  # qhull on every one

    seen, clip = {}, {}
    cert = subdivision._face_ray_certificates
    clip_extents = subdivision._clip_extents

    def spy_cert(H, cell_pat, chunks, *a):
        ok, w = cert(H, cell_pat, chunks, *a)
        spy_cert.ok = ok
        return ok, w

    def spy_clip(H, live, big, lim, rtol, cap):
        ext, fail = clip_extents(H, live, big, lim, rtol, cap)
        clip.update(ext=ext, fail=fail)
        return ext, fail

    monkeypatch.setattr(subdivision, "_face_ray_certificates", spy_cert)
    monkeypatch.setattr(subdivision, "_clip_extents", spy_clip)
    far = subdivision._face_vertex_extent(lnet, K, R, zero, 2 ** 33, 10 ** 7, 1, seen)
    if far is None:  # first-layer weights of rank below d: the polyhedra are not pointed
        assert np.linalg.matrix_rank(np.asarray(net.weights[0])) < d and not seen
        return
    assert set(seen) == box_keys == set(full)
    certified = [k for k, v in seen.items() if v == R]
    assert len(certified) == spy_cert.ok.sum()
    assert spy_cert.ok.any() or kind == "integer"  # (integer weights: vertices on the box, nothing certified)
    for k in certified:
        assert full[k] <= R * (1 + 1e-9), (R, full[k])
    screened = [k for k in seen if seen[k] != R]
    assert len(screened) == len(clip.get("ext", ())) and not clip.get("fail", np.zeros(1, bool)).any()
    top = max(full.values(), default=0.0)  # (the screen matters when some extent is beyond R)
    for k, e in zip(screened, clip.get("ext", ())):  # to well within the screen's margin
        assert abs(e - full[k]) <= 0.1 * subdivision.CLIP_SCREEN_RTOL * max(top, R), (e, full[k], top)
    if old > R:
        assert far == pytest.approx(old, rel=1e-9)
    else:
        assert far <= R * (1 + 1e-9)


@pytest.mark.parametrize("d, widths", [(2, (8, 8, 8)), (3, (8, 8)), (3, (6, 6, 6)), (4, (6, 6))])
def test_face_check_gives_the_regions_of_the_full_box_search(d, widths, monkeypatch, global_random_seed):
    """The regions over R^d are those of the search that subdivides every box (the faces'
    check off): the same patterns, H-representations, facets, ranks and edges, and the box
    to rounding (the same largest vertex extent, through other qhull calls); the witnesses
    of bounded regions to rounding (their vertices are cut from edges that start on the box)."""
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, d, widths)
    dec = pr.enumerate_regions(net, None, method="subdivision")
    monkeypatch.setattr(subdivision, "FACE_MAX_DIM", 0)
    ref = pr.enumerate_regions(net, None, method="subdivision")
    assert dec.stats["box_halfwidth"] == pytest.approx(ref.stats["box_halfwidth"], rel=1e-6)
    assert np.array_equal(dec.patterns, ref.patterns) and dec.edges == ref.edges
    for r, q in zip(dec.regions, ref.regions):
        assert np.array_equal(r.A, q.A) and np.array_equal(r.b, q.b) and r.facets == q.facets
        assert r.bounded == q.bounded and r.ranks == q.ranks
        if r.bounded:  # (to the box's size: vertices from long cuts)
            assert np.allclose(r.witness, q.witness, rtol=0.0, atol=1e-9 * ref.stats["box_halfwidth"])


@pytest.mark.slow
def test_misplaced_regions_of_a_huge_box_are_flagged_by_their_witnesses(monkeypatch):
    """Found by comparing the engines over R^d: a 5-7-6-6 network with weights in -1..1 and
    duplicated units needs a box of half-width 1.2e7, where 97 of the subdivision engine's
    2679 regions do not exist (the LP engine: 2582): their witnesses give other patterns,
    and duplicated units get different bits. With the rounding rule switched off the
    witness check alone must flag the result."""
    rng = np.random.default_rng(709)
    d = int(rng.integers(2, 6))
    widths = tuple(int(x) for x in rng.integers(3, 8, size=int(rng.integers(1, 4))))
    net = int_net(rng, d, widths, -1, 1, duplicate=True)
    monkeypatch.setattr(subdivision, "BOX_ROUNDING_SAFETY", 0.0)
    with pytest.warns(pr.exceptions.PrecisionWarning, match="do not contain their witness"):
        dec = pr.enumerate_regions(net, None, method="subdivision")
    X = np.array([r.witness for r in dec.regions])
    wrong = int((net.patterns(X, flat=True) != dec.patterns).any(axis=1).sum())
    assert dec.precision_limited and wrong > 0
    # numpy's forward pass sums in another order than the engine's check: a witness within
    # rounding of a hyperplane may get either bit (here they are at 1e7 from the origin)
    Z = np.hstack(net.preactivations(X))
    off = net.patterns(X, flat=True) != dec.patterns
    near = np.abs(Z) <= 1e-12 * max(1.0, float(np.abs(X).max()))
    clear = int((off & ~near).any(axis=1).sum())  # a bit wrong at a unit far from 0 there
    note = next(n for n in dec.stats["precision_notes"] if "do not contain their witness" in n)
    k = int(note.split(" of ")[0])
    assert clear > 0 and clear <= k <= wrong and note.startswith(f"{k} of {len(dec)} regions")


@pytest.mark.slow
def test_duplicated_units_5d_adjacency_as_the_lp_engine():
    """Found by comparing the engines (seed 2625: 5-7-8-5-6 with duplicated units over R^5).
    The regions and their ranks agree (12 579); the LP engine's facet (2, 0) of two regions,
    on the hyperplane the unit shares with its copy (2, 7), has an inscribed radius of 0.0106
    and 0.0077 near the origin. The subdivision engine listed neither the facet nor the edge:
    the copy's cut saw the facet's vertices (interpolated along long edges, off by 1e-10)
    on both sides and split them between the two ids (COINCIDENT_RTOL)."""
    rng = np.random.default_rng(2625)
    d = int(rng.integers(2, 6))
    widths = tuple(int(x) for x in rng.integers(3, 9, size=int(rng.integers(1, 5))))
    net = random_net(rng, d, widths, duplicate=True)
    _assert_same(pr.enumerate_regions(net, None, method="lp"), pr.enumerate_regions(net, None, method="subdivision"),
                 labels=False)


def test_witness_check_carries_the_rounding_scale_through_cancelled_layers():
    """A layer-2 unit 3 h1 - h2 that is exactly 0 wherever h1 = relu(0.1 x - 1e6 + 1) and
    h2 = relu(0.3 x - 3e6 + 3) are active (h2 = 3 h1 there, in exact arithmetic). Near
    x = 1e7 the active values are ~1, cancelled from terms of 1e6, so float64 gives the
    unit up to ~5e-10: rounding, not a misplaced witness. The tolerance must scale with the
    terms behind h1, h2 (~1e7), not with |h1|, |h2| (~1): else over half of these points,
    each inside the region (1, 1, 0), count as misplaced (a false precision_limited)."""
    net = pr.ReLUNetwork([np.array([[0.1], [0.3]]), np.array([[3.0, -1.0]])],
                         [np.array([-1e6 + 1, -3e6 + 3]), np.array([0.0])])
    X = 1e7 + 0.37 * np.arange(1, 2000, dtype=float)[:, None]
    Z = np.concatenate(net.preactivations(X, layer=2), axis=1)
    assert np.all(Z[:, :2] > 0) and np.any(Z[:, 2] > 0)  # rounding does make the dead unit positive
    _, WT, woff, bflat = subdivision._transposed_layers(net, 2)
    P = np.tile(np.array([True, True, False]), (len(X), 1))
    offsets = np.asarray(net.offsets[:3], dtype=np.int64)
    assert subdivision._witness_kernel(X, WT, woff, bflat, offsets, P, subdivision.WITNESS_RTOL) == 0
    # and a real mismatch still counts: the same points against a pattern with h1 off
    P[:, 0] = False
    assert subdivision._witness_kernel(X, WT, woff, bflat, offsets, P, subdivision.WITNESS_RTOL) == len(X)


@pytest.mark.parametrize("widths, half, kind", [
    ((40, 30), 1.0, None), ((70, 70), 0.3, None), ((50, 40, 50), 0.3, None), ((40, 40), 0.5, "duplicate"),
])
def test_more_than_64_units_same_as_lp_engine(widths, half, kind, global_random_seed):
    """Patterns of 70-140 units are looked up as bitsets of 2-3 words (the neighbour pass's
    keys): the graph is the LP engine's."""
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, 2, widths, **({kind: True} if kind else {}))
    box = pr.Box(-half, half, dim=2)
    _assert_same(_lp(net, box), pr.enumerate_regions(net, box, method="subdivision"), labels=kind is None)


@pytest.mark.parametrize("n_units", [5, 64, 65, 150])
def test_key_table_finds_what_a_dict_finds(n_units, global_random_seed):
    """The neighbour pass's hash table of bitset keys (1-3 words) against a Python dict:
    the same first row for each key, the same misses, and a repeated key reported."""
    rng = np.random.default_rng(global_random_seed)
    P = rng.random((300, n_units)) < 0.5
    P[:, : n_units // 2] = False  # many keys that differ in one word only
    P[rng.integers(0, 300, 5)] = P[rng.integers(0, 300, 5)]  # repeats
    keys = subdivision._bit_keys(P)
    assert keys.shape == (300, max(1, -(-n_units // 64)))
    T, repeat = subdivision._key_table(keys, np.arange(300))
    first = {}
    for i, p in enumerate(map(bytes, np.packbits(P, axis=1))):
        first.setdefault(p, i)
    assert repeat == (len(first) < 300)
    Q = np.concatenate([P, rng.random((100, n_units)) < 0.5])  # the table's keys, and others
    src = rng.integers(0, 300, len(Q))
    si, ti, ui, mi = subdivision._match_keys(T, subdivision._bit_keys(Q), src, np.arange(len(Q)))
    want_hit = [(int(s), first[bytes(k)], f) for f, (k, s) in enumerate(zip(np.packbits(Q, axis=1), src))
                if bytes(k) in first and first[bytes(k)] != s]
    assert list(zip(si.tolist(), ti.tolist(), ui.tolist())) == want_hit
    assert mi.tolist() == [f for f, k in enumerate(np.packbits(Q, axis=1)) if bytes(k) not in first]


def _shoelace(P):
    """Absolute area of the polygon with vertices ``P`` in this order."""
    x, y = P[:, 0], P[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@pytest.mark.parametrize("widths, kind", [((8, 6, 5), None), ((6, 6), "integer"), ((6, 5), "duplicate"),
                                          ((90, 4), None)])
def test_polygon_kernel_against_the_general_kernel(widths, kind, monkeypatch, global_random_seed):
    """The 2-D layer kernel (polygons in cyclic order) and the general kernel on the same
    complex, layer by layer: the same children in the same order with the same bits,
    parents and candidate facets (ids and rows, bit for bit) and the same vertex bitsets;
    the vertices the same to rounding. Each child's vertices are in cyclic order: the
    polygon they make (its sides are the child's edges) has the area of their convex hull,
    and the children's areas add up to their parent's. 90 units: the box is cut into more
    pieces than the 2-D kernel's pools hold, and the general kernel takes it (the same cell,
    bit for bit)."""
    from scipy.spatial import ConvexHull

    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, 2, widths, integer=kind == "integer", **({kind: True} if kind == "duplicate" else {}))
    kernel2d, general, seen, general_cells = subdivision._layer_kernel_2d, subdivision._layer_kernel, [], []

    def spy(*args):
        out = kernel2d(*args)
        ref = general(*(args[:15] + (np.zeros(1, np.int64),) + args[16:]))
        V, F, vo, E, eo, C, R, co, B, P, over = out
        for k in (2, 4, 5, 7, 8, 9):
            assert np.array_equal(out[k], ref[k]), k
        assert np.asarray(R).tobytes() == np.asarray(ref[6]).tobytes() and over == ref[10]
        Vin, vin = args[0], args[2]
        area_in = [ConvexHull(Vin[vin[p]: vin[p + 1]]).volume for p in range(len(vin) - 1)]
        area_out = np.zeros(len(area_in))
        for c in range(len(vo) - 1):
            a, b = vo[c], vo[c + 1]
            mine = {bytes(f): v for f, v in zip(F[a:b], V[a:b])}
            theirs = {bytes(f): v for f, v in zip(ref[1][a:b], ref[0][a:b])}
            assert mine.keys() == theirs.keys() and len(mine) == b - a
            for f, v in mine.items():
                assert np.allclose(v, theirs[f], rtol=1e-12, atol=1e-12)
            sides = {tuple(sorted(e)) for e in E[eo[c]: eo[c + 1]].tolist()}
            k = b - a
            if sides != {tuple(sorted((i, (i + 1) % k))) for i in range(k)}:  # left to the general kernel
                assert V[a:b].tobytes() == ref[0][a:b].tobytes() and np.array_equal(E[eo[c]: eo[c + 1]],
                                                                                    ref[3][eo[c]: eo[c + 1]])
                general_cells.append(c)
                continue
            area = _shoelace(V[a:b])
            assert area == pytest.approx(ConvexHull(V[a:b]).volume, rel=1e-9, abs=1e-12)
            area_out[P[c]] += area
        if not general_cells:
            assert np.allclose(area_out, area_in, rtol=1e-9, atol=1e-12)
        seen.append(len(vo) - 1)
        return out

    monkeypatch.setattr(subdivision, "_layer_kernel_2d", spy)
    box = pr.Box(-2.0, 2.0, dim=2)
    dec = pr.enumerate_regions(net, box, method="subdivision", n_jobs=1)
    assert len(seen) == len(widths) and seen[-1] == len(dec)
    assert bool(general_cells) == (widths[0] > 64)


def test_polygon_kernel_leaves_a_cell_it_cannot_walk_to_the_general_kernel():
    """A cell whose edge cycle is not its boundary (the square's vertices joined as a bow
    tie) gives signs that alternate around the cycle under the cut x_0 = 1/2: the 2-D
    kernel hands that cell to the general kernel whole. Its children, spliced after those
    of a square cut on the 2-D path, are the general kernel's for that cell alone, bit for
    bit (vertices, edges, candidates, bits, offsets, parent)."""
    V, F, E, Cid, Crow, _ = subdivision._box_cell(np.array([1.0, 1.0]), np.array([0.0, 0.0]), 2)
    bow = np.array([[0, 1], [1, 2], [2, 3], [0, 3]], np.int32)  # corners 0 (0,0) 1 (1,0) 2 (0,1) 3 (1,1)
    H1 = np.array([[[1.0, 0.0, -0.5], [0.0, 1.0, -2.0]]])  # x_0 = 1/2 cuts; x_1 = 2 misses
    args = (0, 1e-300, 0.0, subdivision.VERTEX_SNAP, 1.0, 1 << 40)

    def run(kernel, cells, H):
        Es = np.concatenate(cells)
        vo = np.arange(len(cells) + 1) * len(V)
        eo = np.concatenate([[0], np.cumsum([len(e) for e in cells])])
        co = np.arange(len(cells) + 1) * len(Cid)
        return kernel(np.concatenate([V] * len(cells)), np.concatenate([F] * len(cells)), vo, Es, eo,
                      np.concatenate([Cid] * len(cells)), np.concatenate([Crow] * len(cells)), co, H, *args,
                      np.zeros(1, np.int64), 1.0)

    alone = run(subdivision._layer_kernel, [bow], H1)
    both = run(subdivision._layer_kernel_2d, [E, bow], np.concatenate([H1, H1]))
    first = run(subdivision._layer_kernel_2d, [E], H1)
    k = len(first[2]) - 1  # the children of the real square, cut on the 2-D path
    assert k == 2 and first[9].tolist() == [0, 0]
    vo, eo, co = both[2], both[4], both[7]
    assert np.array_equal(both[2][k:] - vo[k], alone[2]) and np.array_equal(both[4][k:] - eo[k], alone[4])
    assert np.array_equal(both[7][k:] - co[k], alone[7])
    for o, a in [(vo, 0), (vo, 1), (eo, 3), (co, 5), (co, 6)]:
        assert both[a][o[k]:].tobytes() == alone[a].tobytes(), a
    assert np.array_equal(both[8][k:], alone[8]) and both[9][k:].tolist() == [1] * (len(alone[2]) - 1)
    for a in range(8):  # and the real square's children are those of the 2-D kernel alone
        assert np.asarray(both[a])[: np.asarray(first[a]).shape[0]].tobytes() == np.asarray(first[a]).tobytes()


def _numba_threads_here():
    return subdivision._omp_threads(2, 10 ** 6, d=2) >= 2


@pytest.mark.parametrize("d, domain, widths", [(2, "box", (12, 10, 8)), (2, None, (9, 8)), (3, "box", (9, 8, 7)),
                                               (4, "box", (7, 6))])
def test_numba_threads_give_one_threads_answer(d, domain, widths, monkeypatch, global_random_seed):
    """Passes too small for the pool run on numba's threads (the prange drivers: layer cut,
    maps, ranks, facets, rows, neighbours and their matches), each thread a piece of consecutive cells or
    facets: every array of the decomposition, the vertex bitsets included, is one
    thread's bit for bit, and every driver ran."""
    if not _numba_threads_here():
        pytest.skip("numba has fewer than 2 threads or no thread-safe threading layer here")
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, widths)
    dom = pr.Box(-3.0, 3.0, dim=d) if domain else None
    ref = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=1)
    ran, run = [], subdivision._omp_run

    def spy(k, driver, *args):
        ran.append(getattr(driver, "py_func", driver).__name__)
        return run(k, driver, *args)

    monkeypatch.setattr(subdivision, "_omp_run", spy)
    monkeypatch.setattr(subdivision, "OMP_MIN_ITEMS", 2)  # small pieces: every pass splits
    monkeypatch.setattr(subdivision, "OMP_MIN_LAYER_CELLS", 2)
    monkeypatch.setattr(subdivision, "OMP_MAX_DIM", 10)  # (3-D, 4-D: the drivers, which the engine leaves there)
    dec = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=2)
    drivers = {"_layer_par", "_maps_par", "_ranks_par"}  # (3-D, 4-D: the pool takes the larger facet passes)
    assert drivers | ({"_finish_par", "_region_rows_par"} if d == 2 else set()) <= set(ran), ran
    assert d > 2 or {"_adjacency_par", "_neighbor_par"} & set(ran), ran  # (the latter with patterns, dead layers)
    a, b = dec._arrays, ref._arrays
    assert a.keys() == b.keys()
    for key in a:
        x, y = (a[key], b[key]) if key != "vertex_bits" else (a[key][:3], b[key][:3])
        for u, v in zip(x if isinstance(x, tuple) else (x,), y if isinstance(y, tuple) else (y,)):
            assert u.dtype == v.dtype and np.array_equal(u, v), key
    assert dec.edges == ref.edges and [r.ranks for r in dec.regions] == [r.ranks for r in ref.regions]


@pytest.mark.parametrize("d, widths", [(3, (9, 8, 7)), (5, (8, 6))])
def test_numba_threads_only_in_the_plane(d, widths, monkeypatch):
    """Above OMP_MAX_DIM inputs (where they were slower than the pool: views of shared
    inputs in the general layer kernel) no pass runs on numba's threads, however small;
    in 2-D the small passes do. The answer is one thread's either way."""
    if not _numba_threads_here():
        pytest.skip("numba has fewer than 2 threads or no thread-safe threading layer here")
    ran, run = [], subdivision._omp_run

    def spy(k, driver, *args):
        ran.append(getattr(driver, "py_func", driver).__name__)
        return run(k, driver, *args)

    monkeypatch.setattr(subdivision, "_omp_run", spy)
    monkeypatch.setattr(subdivision, "OMP_MIN_ITEMS", 2)
    monkeypatch.setattr(subdivision, "OMP_MIN_LAYER_CELLS", 2)
    rng = np.random.default_rng(7)
    net = _net(rng, d, widths)
    dom = pr.Box(-1.0, 1.0, dim=d)
    dec = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=2)
    assert ran == []
    assert dec.edges == pr.enumerate_regions(net, dom, method="subdivision", n_jobs=1).edges
    pr.enumerate_regions(_net(rng, 2, (9, 8)), pr.Box(-3.0, 3.0, dim=2), method="subdivision", n_jobs=2)
    assert "_layer_par" in ran


def test_a_forked_child_runs_no_numba_threads(monkeypatch):
    """GNU OpenMP cannot run in the child of a process that used it (numba ends such a child):
    after a fork the engine stops using numba's threads. The hook itself, then a real fork:
    the child, forked after this process ran numba's threads, enumerates with n_jobs=2 and
    sends back the same regions."""
    if not _numba_threads_here():
        pytest.skip("numba has fewer than 2 threads or no thread-safe threading layer here")
    monkeypatch.setitem(subdivision._OMP, "forked", False)
    subdivision._forget_pools()  # what os.fork runs in the child
    assert subdivision._omp_threads(2, 10 ** 6, d=2) == 0
    monkeypatch.setitem(subdivision._OMP, "forked", False)
    assert subdivision._omp_threads(2, 10 ** 6, d=2) == 2
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork here")
    net = random_net(np.random.default_rng(3), 2, (12, 10))
    dom = pr.Box(-3.0, 3.0, dim=2)
    monkeypatch.setattr(subdivision, "OMP_MIN_LAYER_CELLS", 2)
    ref = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=2)  # numba's threads, here
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_patterns, args=(net, dom, q))
    p.start()
    got = q.get(timeout=120)
    p.join(timeout=60)
    assert p.exitcode == 0 and np.array_equal(got, ref.patterns)


def _child_patterns(net, dom, q):
    assert subdivision._OMP["forked"]
    q.put(pr.enumerate_regions(net, dom, method="subdivision", n_jobs=2).patterns)


def test_no_threading_layer_means_one_thread(monkeypatch):
    """Where numba has no threading layer it can load (the first parallel launch fails), or
    only its workqueue (not thread-safe), the small passes stay on one thread: the same
    answer, no error."""
    if not subdivision.HAVE_NUMBA:
        pytest.skip("no numba")
    net = random_net(np.random.default_rng(5), 2, (9, 8))
    dom = pr.Box(-3.0, 3.0, dim=2)
    ref = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=1)

    def no_layer():
        raise ValueError("no threading layer has been initialized")

    def boom(x):
        raise RuntimeError("No threading layer could be loaded.")

    for probe, layer in ((boom, no_layer), (subdivision._omp_probe, lambda: "workqueue")):
        monkeypatch.setitem(subdivision._OMP, "ready", None)
        monkeypatch.setattr(subdivision._numba, "threading_layer", layer)
        monkeypatch.setattr(subdivision, "_omp_probe", probe)
        assert subdivision._omp_threads(2, 10 ** 6, d=2) == 0
        dec = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=2)
        assert np.array_equal(dec.patterns, ref.patterns) and dec.edges == ref.edges


@pytest.mark.parametrize("seed", range(5))
def test_compiled_bookkeeping_matches_numpy(seed):
    """The compiled loops that replaced numpy calls between the kernels give numpy's
    answers: the sliver check's candidates (bound not above tol, or fewer than d + 1
    facets), the alive cells with their row and unit-facet offsets and each cell's alive
    index, and the edges' id bound; on random inputs with empty cells and no alive cell."""
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(0, 60)), int(rng.integers(1, 6))
    sizes = rng.integers(0, 9, size=n)
    co = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    isfac = rng.random(int(co[-1])) < 0.6
    lb = rng.choice([0.0, 1e-9, 1e-3, np.nan], size=n)
    tol = 1e-9
    doubtful, flat = subdivision._doubtful_cells(isfac, co, lb, tol, d)
    cum = np.concatenate([[0], np.cumsum(isfac)])
    ref_flat = cum[co[1:]] - cum[co[:-1]] < d + 1
    assert np.array_equal(flat, ref_flat)
    assert np.array_equal(doubtful, np.flatnonzero(~(lb > tol) | ref_flat))

    alive = rng.random(n) < (0.0 if seed == 0 else 0.7)
    nkeep, nunit = rng.integers(0, 9, size=n), rng.integers(0, 5, size=n)
    kidx = np.empty(n, np.int32)
    live, bounds, fstart = subdivision._alive_index(alive, nkeep, nunit, kidx)
    ref_live = np.flatnonzero(alive)
    assert np.array_equal(live, ref_live)
    assert np.array_equal(bounds, np.concatenate([[0], np.cumsum(nkeep[ref_live])]))
    assert np.array_equal(fstart, np.concatenate([[0], np.cumsum(nunit[ref_live])]))
    ref_kidx = np.full(n, -1)
    ref_kidx[ref_live] = np.arange(len(ref_live))
    assert np.array_equal(kidx, ref_kidx)

    ei, ej, eu = (rng.integers(0, 1000, size=int(rng.integers(0, 30))) for _ in range(3))
    assert subdivision._id_bound(ei, ej, eu) == int(max(ei.max(initial=0), ej.max(initial=0), eu.max(initial=0))) + 1
