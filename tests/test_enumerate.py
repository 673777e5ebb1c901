"""Verification of the exact LP enumerator against independent truths."""

from math import comb

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import polyrank as pr
from conftest import random_net, torch_net


# ----------------------------------------------------------------------------- counting formulas
@pytest.mark.parametrize("d, n", [(1, 4), (2, 3), (2, 7), (3, 5), (3, 8), (4, 6)])
def test_zaslavsky_one_layer_whole_space(d, n, global_random_seed):
    """A generic arrangement of n hyperplanes in R^d has sum_{i<=d} C(n, i) regions,
    C(n-1, d) of them bounded, and n * sum_{i<d} C(n-1, i) facets (= graph edges)."""
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, d, [n])
    dec = pr.enumerate_regions(net, method="lp")
    assert len(dec) == sum(comb(n, i) for i in range(d + 1))
    assert sum(r.bounded for r in dec) == comb(n - 1, d)
    assert len(dec.edges) == n * sum(comb(n - 1, i) for i in range(d))
    assert not dec.partial


@pytest.mark.parametrize("d, widths", [(2, [8, 6]), (2, [5, 5, 5]), (3, [6, 5])])
def test_box_volumes_sum_to_domain(d, widths, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, d, widths)
    box = pr.Box(-2.0, 3.0, dim=d)
    dec = pr.enumerate_regions(net, box, method="lp")
    vols = np.array([r.volume() for r in dec])
    assert np.all(vols > 0)
    assert abs(vols.sum() - box.volume()) <= 1e-9 * box.volume()


@pytest.mark.parametrize("d, widths", [(2, [6, 6]), (3, [5, 4]), (2, [3, 3, 3])])
def test_sampled_patterns_are_enumerated_and_witnesses_certified(d, widths, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, d, widths)
    box = pr.Box(-1.5, 1.5, dim=d)
    dec = pr.enumerate_regions(net, box, method="lp")
    found = {r.pattern for r in dec}
    assert len(found) == len(dec)  # every pattern once
    X = box.sample(20000, seed=rng)
    seen = {tuple(p) for p in net.patterns(X, flat=True)}
    assert seen <= found
    W = np.array([r.witness for r in dec])
    for r, p in zip(dec, net.patterns(W, flat=True)):
        assert tuple(p) == r.pattern
        # the inscribed ball is inside the region and the domain
        assert np.all(r.A @ r.witness + r.inradius <= r.b + 1e-9)
        assert box.contains(r.witness[None])[0]
    # locate() maps each witness back to its region
    np.testing.assert_array_equal(dec.locate(W), np.arange(len(dec)))


def test_polytope_domain_volumes():
    rng = np.random.default_rng(3)
    net = random_net(rng, 2, [6, 4])
    tri = pr.Polytope([[-1, 0], [0, -1], [1, 1]], [1, 1, 1])  # triangle with area 4.5
    dec = pr.enumerate_regions(net, tri, method="lp")
    assert abs(dec.total_volume() - 4.5) < 1e-9
    assert abs(tri.volume() - 4.5) < 1e-12


# ----------------------------------------------------------------------------- structure
def test_facets_and_graph_are_consistent(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 2, [6, 5])
    dec = pr.enumerate_regions(net, pr.Box(-2, 2, dim=2), method="lp")
    G = dec.graph
    assert G.number_of_nodes() == len(dec)
    assert nx.is_connected(G)
    for r in dec:
        unit_facets = [f for f in r.facets if f[0] > 0]
        # every unit facet leads to exactly one neighbour
        assert G.degree(r.index) == len(unit_facets)
        for j in G.neighbors(r.index):
            other = dec[j]
            diff = [k for k, (a, b) in enumerate(zip(r.pattern, other.pattern)) if a != b]
            unit = G.edges[r.index, j]["unit"]
            flat_index = net.neuron_ids().index(unit)
            assert flat_index in diff
    # rows are unit vectors, irredundant: each facet row is tight somewhere on the region
    for r in dec:
        np.testing.assert_allclose(np.linalg.norm(r.A, axis=1), 1.0)
        V = r.vertices()
        slack = r.b[None, :] - V @ r.A.T
        assert np.all((np.abs(slack) < 1e-8).sum(axis=0) >= 2)


def _rational_rank(rows):
    """Rank over Q of a matrix of Fractions (Gauss-Jordan, exact)."""
    rows = [list(r) for r in rows]
    rank, ncol = 0, len(rows[0]) if rows else 0
    for c in range(ncol):
        piv = next((i for i in range(rank, len(rows)) if rows[i][c] != 0), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][c] != 0:
                f = rows[i][c] / rows[rank][c]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[rank])]
        rank += 1
    return rank


def _exact_local_map(net, flat, K):
    """A_K = D_K W_K ... D_1 W_1 computed in exact rational arithmetic from the stored float64 weights."""
    from fractions import Fraction

    A = [[Fraction(float(v)) for v in row] for row in net.weights[0]]
    for l in range(K):
        if l > 0:
            W = [[Fraction(float(v)) for v in row] for row in net.weights[l]]
            A = [[sum((w * A[j][c] for j, w in enumerate(row)), Fraction(0)) for c in range(len(A[0]))]
                 for row in W]
        on = flat[net.layer_slice(l + 1)]
        A = [row if on[i] else [Fraction(0)] * len(row) for i, row in enumerate(A)]
    return A


def test_ranks_equal_exact_rational_rank(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 3, [4, 3, 2])
    dec = pr.enumerate_regions(net, pr.Box(-3, 3, dim=3), method="lp")
    for r in dec:
        flat = np.array(r.pattern)
        for K in range(1, 4):
            assert r.ranks[K - 1] == _rational_rank(_exact_local_map(net, flat, K))
            assert r.ranks[K - 1] <= min(3, *r.codeword_sizes[:K])
            assert r.codeword_sizes[K - 1] == sum(r.layer_pattern(K))


def test_rank_cells_partition_and_are_maximal(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    # narrow layers give low-rank regions
    net = random_net(rng, 2, [3, 2, 2])
    dec = pr.enumerate_regions(net, pr.Box(-4, 4, dim=2), method="lp")
    cells = dec.rank_cells()
    members = sorted(i for c in cells for i in c.regions)
    assert members == list(range(len(dec)))
    owner = {i: k for k, c in enumerate(cells) for i in c.regions}
    ranks = dec.ranks()
    for c in cells:
        assert all(ranks[i] == c.rank for i in c.regions)
        assert nx.is_connected(dec.graph.subgraph(c.regions))
    for i, j in dec.graph.edges:
        if owner[i] != owner[j]:
            assert ranks[i] != ranks[j]


def test_layer_option_equals_truncated_network():
    rng = np.random.default_rng(5)
    net = random_net(rng, 2, [5, 4, 3])
    box = pr.Box(-2, 2, dim=2)
    a = pr.enumerate_regions(net, box, layer=2, method="lp")
    b = pr.enumerate_regions(net.truncate(2), box, method="lp")
    assert {r.pattern for r in a} == {r.pattern for r in b}
    assert a.layer == 2 and all(len(r.ranks) == 2 for r in a)


def test_start_point_does_not_matter():
    net = torch_net(2, [8, 8, 8], seed=1)
    box = pr.Box(-5, 5, dim=2)
    a = pr.enumerate_regions(net, box, method="lp")
    b = pr.enumerate_regions(net, box, start=[4.0, -3.5], method="lp")
    assert {r.pattern for r in a} == {r.pattern for r in b}
    ga = nx.relabel_nodes(a.graph, {r.index: r.pattern for r in a})
    gb = nx.relabel_nodes(b.graph, {r.index: r.pattern for r in b})
    assert set(map(frozenset, ga.edges)) == set(map(frozenset, gb.edges))


def test_chebyshev_radii_agree_with_cvxpy():
    cp = pytest.importorskip("cvxpy")
    net = torch_net(2, [6, 6], seed=2)
    dec = pr.enumerate_regions(net, pr.Box(-3, 3, dim=2), method="lp")
    for r in dec.regions[:: max(1, len(dec) // 15)]:
        # rebuild the full (redundant) H-rep from the pattern, independently of the engine
        x = cp.Variable(2)
        rad = cp.Variable()
        cons = []
        flat = np.array(r.pattern)
        for K in (1, 2):
            M, m = net.affine_maps(flat, layer=K)[-1]
            s = np.where(flat[net.layer_slice(K)], 1.0, -1.0)
            for i in range(len(s)):
                a = -s[i] * M[i]
                cons.append(a @ x + np.linalg.norm(a) * rad <= s[i] * m[i])
        cons += [x <= 3 - rad, x >= -3 + rad]
        cp.Problem(cp.Maximize(rad), cons).solve()
        assert abs(rad.value - r.inradius) <= 1e-6 * max(1.0, r.inradius)


# ----------------------------------------------------------------------------- degenerate networks
def line_net(normals, offsets):
    W = np.asarray(normals, dtype=float)
    return pr.ReLUNetwork.from_weights([W], [np.asarray(offsets, dtype=float)])


def test_three_lines_through_one_point():
    # lines through the origin at 0, 60, 120 degrees: 6 sectors
    ang = np.deg2rad([0, 60, 120])
    net = line_net(np.c_[np.cos(ang), np.sin(ang)], [0, 0, 0])
    assert len(pr.enumerate_regions(net, pr.Box(-1, 1, dim=2), method="lp")) == 6
    assert len(pr.enumerate_regions(net, method="lp")) == 6


def test_duplicated_neuron_changes_nothing():
    rng = np.random.default_rng(7)
    W = rng.normal(size=(4, 2))
    b = rng.normal(size=4)
    base = line_net(W, b)
    dup = line_net(np.vstack([W, W[1]]), np.r_[b, b[1]])
    scaled = line_net(np.vstack([W, 3 * W[2]]), np.r_[b, 3 * b[2]])  # same hyperplane, same side
    box = pr.Box(-3, 3, dim=2)
    n = len(pr.enumerate_regions(base, box, method="lp"))
    for net in (dup, scaled):
        dec = pr.enumerate_regions(net, box, method="lp")
        assert len(dec) == n
        assert abs(dec.total_volume() - box.volume()) < 1e-9


def test_opposite_duplicate_neuron():
    # -w, -b: same hyperplane, opposite side; still the same cut
    net = line_net([[1.0, 0.5], [-1.0, -0.5], [0.0, 1.0]], [0.2, -0.2, 0.1])
    assert len(pr.enumerate_regions(net, pr.Box(-2, 2, dim=2), method="lp")) == 4


@pytest.mark.parametrize("bias", [0.0, 1.0, -1.0])
def test_zero_weight_row(bias):
    rng = np.random.default_rng(11)
    W = rng.normal(size=(3, 2))
    b = rng.normal(size=3)
    base = len(pr.enumerate_regions(line_net(W, b), pr.Box(-2, 2, dim=2), method="lp"))
    net = line_net(np.vstack([W, np.zeros(2)]), np.r_[b, bias])
    dec = pr.enumerate_regions(net, pr.Box(-2, 2, dim=2), method="lp")
    assert len(dec) == base
    assert all(r.pattern[3] == (bias > 0) for r in dec)
    W_ = np.array([r.witness for r in dec])
    assert all(tuple(p) == r.pattern for p, r in zip(net.patterns(W_, flat=True), dec))


def test_dead_neuron_and_plane_missing_the_box():
    rng = np.random.default_rng(12)
    W = rng.normal(size=(3, 2))
    b = rng.normal(size=3) * 0.3
    base = len(pr.enumerate_regions(line_net(W, b), pr.Box(-1, 1, dim=2), method="lp"))
    dead = line_net(np.vstack([W, [1.0, 1.0]]), np.r_[b, -100.0])  # never active in the box
    far = line_net(np.vstack([W, [1.0, -1.0]]), np.r_[b, 50.0])  # always active in the box
    for net in (dead, far):
        assert len(pr.enumerate_regions(net, pr.Box(-1, 1, dim=2), method="lp")) == base


def test_dead_layer_in_a_deep_network():
    # second layer has a unit that is identically zero where all its inputs are off
    net = pr.ReLUNetwork.from_weights([np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0], [0.0, 0.0]])],
                                      [np.array([0.0, 0.0]), np.array([-0.5, 0.0])])
    dec = pr.enumerate_regions(net, pr.Box(-2, 2, dim=1), method="lp")
    # breakpoints: x = 0 (layer 1), x = +-0.5 (unit (2,0)); unit (2,1) is identically zero
    assert len(dec) == 4
    assert abs(dec.total_volume() - 4.0) < 1e-12


def test_one_dimensional_breakpoints():
    # k distinct breakpoints inside an interval give k + 1 regions
    c = np.array([-0.7, -0.1, 0.3, 0.9])
    net = line_net(np.ones((4, 1)), -c)
    dec = pr.enumerate_regions(net, pr.Box(-1, 1, dim=1), method="lp")
    assert len(dec) == 5
    lengths = sorted(r.volume() for r in dec)
    np.testing.assert_allclose(sorted(np.diff(np.r_[-1, c, 1])), lengths)


# ----------------------------------------------------------------------------- guards and errors
def test_max_regions_raises_or_returns_partial():
    rng = np.random.default_rng(0)
    net = random_net(rng, 2, [8])
    with pytest.raises(pr.RegionLimitError, match="max_regions=5"):
        pr.enumerate_regions(net, max_regions=5, method="lp")
    dec = pr.enumerate_regions(net, max_regions=5, partial=True, method="lp")
    assert dec.partial and len(dec) == 5
    full = pr.enumerate_regions(net, method="lp")
    assert not full.partial and len(full) == 37


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(tol=-1.0), ValueError, "'tol' parameter of enumerate_regions"),
    (dict(max_regions=0), ValueError, "'max_regions'"),
    (dict(method="magic"), ValueError, "method must be"),
    (dict(layer=3), ValueError, "hidden layer in 1..1"),
    (dict(domain=pr.Box(-1, 1, dim=3)), ValueError, "dimension 3"),
    (dict(domain="box"), TypeError, "domain must be"),
    (dict(start=[5.0, 5.0], domain=pr.Box(-1, 1, dim=2)), ValueError, "inside the domain"),
])
def test_bad_arguments(kwargs, err, match):
    net = line_net([[1.0, 0.0]], [0.0])
    with pytest.raises(err, match=match):
        pr.enumerate_regions(net, **kwargs)


def test_to_frame_columns():
    net = torch_net(2, [4, 3], seed=0)
    dec = pr.enumerate_regions(net, pr.Box(-2, 2, dim=2), method="lp")
    df = dec.to_frame(volumes=True)
    assert len(df) == len(dec)
    for col in ["pattern", "x0", "x1", "rank_1", "rank_2", "codeword_size_2", "inradius", "volume"]:
        assert col in df.columns
    assert abs(df["volume"].sum() - 16.0) < 1e-9
    assert df["pattern"].str.len().eq(2 + 7).all() and df["pattern"].str.startswith("0b").all()


# ----------------------------------------------------------------------------- property tests
@settings(max_examples=15, deadline=None)
@given(widths=st.lists(st.integers(1, 5), min_size=1, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_property_partition_of_the_square(widths, seed):
    rng = np.random.default_rng(seed)
    net = random_net(rng, 2, widths)
    box = pr.Box(-2, 2, dim=2)
    dec = pr.enumerate_regions(net, box, method="lp")
    assert abs(dec.total_volume() - 16.0) < 1e-8
    X = box.sample(2000, seed=rng)
    assert {tuple(p) for p in net.patterns(X, flat=True)} <= {r.pattern for r in dec}
